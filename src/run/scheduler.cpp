// Scheduler bookkeeping. Every operation is O(log n) in the number of tasks.
#include "run/scheduler.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace fersweep::run {

Scheduler::Scheduler(std::vector<TaskSpec> tasks, int retries)
    : owned_(std::move(tasks)), retries_(retries) {
  build(owned_);
}

Scheduler::Scheduler(const std::vector<TaskSpec>* tasks, int retries) : retries_(retries) {
  build(*tasks);
}

bool Scheduler::Node::failed_on_worker(int worker) const {
  return std::find(failed_on.begin(), failed_on.end(), worker) != failed_on.end();
}

void Scheduler::build(const std::vector<TaskSpec>& tasks) {
  tasks_.reserve(tasks.size());
  index_.reserve(tasks.size());
  for (const auto& t : tasks) {
    if (!index_.emplace(t.id, tasks_.size()).second) {
      throw InternalError(fmt::format("task id {} appears twice in the plan", t.id));
    }
    Node n;
    n.spec = &t;
    tasks_.push_back(std::move(n));
  }
  for (std::size_t i = 0; i < tasks_.size(); ++i) {
    for (const auto& dep : tasks_[i].spec->deps) {
      const auto it = index_.find(dep);
      if (it == index_.end()) {
        throw InternalError(
            fmt::format("task {} depends on unknown task {}", tasks_[i].spec->id, dep));
      }
      tasks_[it->second].dependents.push_back(i);
      ++tasks_[i].unmet;
    }
  }
  for (std::size_t i = 0; i < tasks_.size(); ++i) {
    if (tasks_[i].unmet == 0) make_ready(i);
  }
}

std::size_t Scheduler::index_of(const std::string& id) const {
  const auto it = index_.find(id);
  if (it == index_.end()) throw InternalError(fmt::format("unknown task id {}", id));
  return it->second;
}

void Scheduler::make_ready(std::size_t i) {
  Node& n = tasks_[i];
  n.state = State::ready;
  ++ready_count_;
  if (n.spec->kind == TaskKind::train) {
    train_ready_[n.spec->features].insert(i);
  } else {
    heavy_ready_.emplace(-n.spec->cost, i);
  }
}

void Scheduler::take_from_ready(std::size_t i) {
  Node& n = tasks_[i];
  if (n.spec->kind == TaskKind::train) {
    auto it = train_ready_.find(n.spec->features);
    it->second.erase(i);
    if (it->second.empty()) train_ready_.erase(it);
  } else {
    heavy_ready_.erase({-n.spec->cost, i});
  }
  --ready_count_;
  n.state = State::running;
  ++running_;
}

void Scheduler::mark_done(const std::string& id) {
  const std::size_t i = index_of(id);
  Node& n = tasks_[i];
  if (n.state == State::done) return;
  if (n.state == State::ready) {
    take_from_ready(i);
  } else if (n.state == State::waiting) {
    n.state = State::running;
    ++running_;
  }
  complete(id, true, -1);
}

std::vector<const TaskSpec*> Scheduler::next_for(int worker, const std::set<std::string>& holds,
                                                 std::size_t max_batch) {
  std::vector<const TaskSpec*> out;
  if (ready_count_ == 0) return out;
  // Heavy stages first: they unlock everything else. Prefer one this worker has not failed.
  if (!heavy_ready_.empty()) {
    auto pick = heavy_ready_.begin();
    for (auto it = heavy_ready_.begin(); it != heavy_ready_.end(); ++it) {
      if (!tasks_[it->second].failed_on_worker(worker)) {
        pick = it;
        break;
      }
    }
    const std::size_t i = pick->second;
    take_from_ready(i);
    out.push_back(tasks_[i].spec);
    // Synthetic tasks are tiny: batch them like training tasks so dispatch cost is amortised.
    while (tasks_[i].spec->kind == TaskKind::synthetic && out.size() < max_batch &&
           !heavy_ready_.empty()) {
      const std::size_t j = heavy_ready_.begin()->second;
      if (tasks_[j].spec->kind != TaskKind::synthetic) break;
      take_from_ready(j);
      out.push_back(tasks_[j].spec);
    }
    return out;
  }
  // Training: a feature set this worker already holds, else the largest group.
  auto group = train_ready_.end();
  for (const auto& h : holds) {
    auto it = train_ready_.find(h);
    if (it != train_ready_.end()) {
      group = it;
      break;
    }
  }
  if (group == train_ready_.end()) {
    std::size_t best = 0;
    for (auto it = train_ready_.begin(); it != train_ready_.end(); ++it) {
      if (it->second.size() > best) {
        best = it->second.size();
        group = it;
      }
    }
  }
  if (tasks_[*group->second.begin()].spec->alone) return {take_costliest(group->second, worker)};
  std::vector<std::size_t> picked;
  if (const std::string& bracket = tasks_[*group->second.begin()].spec->bracket; !bracket.empty()) {
    // A bracket goes whole (its halving decisions need every member), whatever max_batch says.
    for (std::size_t i : group->second)
      if (tasks_[i].spec->bracket == bracket) picked.push_back(i);
  } else {
    for (std::size_t i : group->second) {
      if (picked.size() >= max_batch) break;
      // A retry goes to another worker when possible.
      if (tasks_[i].failed_on_worker(worker) && group->second.size() > picked.size() + 1) continue;
      picked.push_back(i);
    }
  }
  if (picked.empty()) picked.push_back(*group->second.begin());
  for (std::size_t i : picked) {
    take_from_ready(i);
    out.push_back(tasks_[i].spec);
  }
  return out;
}

const TaskSpec* Scheduler::take_costliest(const std::set<std::size_t>& group, int worker) {
  std::size_t pick = *group.begin();
  bool pick_failed_here = tasks_[pick].failed_on_worker(worker);
  for (std::size_t i : group) {
    // A task this worker has not failed beats one it has; then the higher cost, then the index.
    const bool failed_here = tasks_[i].failed_on_worker(worker);
    if (failed_here != pick_failed_here ? !failed_here
                                        : tasks_[i].spec->cost > tasks_[pick].spec->cost) {
      pick = i;
      pick_failed_here = failed_here;
    }
  }
  take_from_ready(pick);
  return tasks_[pick].spec;
}

bool Scheduler::complete(const std::string& id, bool ok, int worker) {
  const std::size_t i = index_of(id);
  Node& n = tasks_[i];
  FERSWEEP_ASSERT(n.state == State::running, "completion of a task that is not running: " + id);
  --running_;
  ++n.attempts;
  if (ok) {
    n.state = State::done;
    ++done_;
    for (std::size_t d : n.dependents) {
      if (--tasks_[d].unmet == 0 && tasks_[d].state == State::waiting) make_ready(d);
    }
    return false;
  }
  if (!n.failed_on_worker(worker)) n.failed_on.push_back(worker);
  if (n.attempts <= retries_) {
    make_ready(i);
    return true;
  }
  n.state = State::failed;
  ++failed_;
  fail_dependents(i);
  return false;
}

void Scheduler::requeue(const std::string& id) {
  const std::size_t i = index_of(id);
  FERSWEEP_ASSERT(tasks_[i].state == State::running,
                  "requeue of a task that is not running: " + id);
  --running_;
  make_ready(i);
}

void Scheduler::hold(const std::string& id) {
  const std::size_t i = index_of(id);
  FERSWEEP_ASSERT(tasks_[i].state == State::ready, "hold of a task that is not ready: " + id);
  take_from_ready(i);
}

void Scheduler::fail_dependents(std::size_t i) {
  for (std::size_t d : tasks_[i].dependents) {
    Node& n = tasks_[d];
    if (n.state == State::waiting) {
      n.state = State::failed;
      ++failed_;
      fail_dependents(d);
    }
  }
}

bool Scheduler::has_dependents(const std::string& id) const {
  return !tasks_[index_of(id)].dependents.empty();
}

const TaskSpec& Scheduler::task(const std::string& id) const {
  return *tasks_[index_of(id)].spec;
}
Scheduler::State Scheduler::state(const std::string& id) const {
  return tasks_[index_of(id)].state;
}
int Scheduler::attempts(const std::string& id) const {
  return tasks_[index_of(id)].attempts;
}

std::map<TaskKind, std::pair<std::size_t, std::size_t>> Scheduler::progress() const {
  std::map<TaskKind, std::pair<std::size_t, std::size_t>> out;
  for (const auto& n : tasks_) {
    auto& p = out[n.spec->kind];
    ++p.second;
    if (n.state == State::done) ++p.first;
  }
  return out;
}

std::map<TaskKind, double> Scheduler::cost_left() const {
  std::map<TaskKind, double> out;
  for (const auto& n : tasks_) {
    if (n.state != State::done && n.state != State::failed) out[n.spec->kind] += n.spec->cost;
  }
  return out;
}

std::vector<std::string> Scheduler::failed_ids() const {
  std::vector<std::string> out;
  for (const auto& n : tasks_) {
    if (n.state == State::failed) out.push_back(n.spec->id);
  }
  return out;
}

}  // namespace fersweep::run
