// The coordinator and worker loops, the results directory (lock, run.json, journal, feature cache,
// events) and the message protocol between them.
#include "run/coordinator.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <deque>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "comm/wire.h"
#include "core/base64.h"
#include "core/error.h"
#include "core/log.h"
#include "run/progress.h"
#include "run/results_writer.h"
#include "run/scheduler.h"
#include "run/signals.h"
#include "store/h5.h"
#include "store/journal.h"
#include "store/lock_file.h"

namespace fersweep::run {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Message types (comm::WireWriter type field). Layouts are versioned by comm::kWireVersion.
enum MessageType : std::uint16_t { kRequest = 1, kResult = 2, kTasks = 3, kStop = 4, kSetup = 5 };
constexpr int kTag = 7;
constexpr std::size_t kWorkerFeatureSlots = 8;

std::string now_iso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void put_features(comm::WireWriter& w, const FeatureSet* set) {
  w.u64(set != nullptr);
  if (set == nullptr) return;
  w.str(set->id).i64(set->n).i64(set->dim).floats(set->values.data(), set->values.size());
  w.u64(set->labels.size());
  for (auto l : set->labels) w.i64(l);
  w.u64(set->paths.size());
  for (const auto& p : set->paths) w.str(p);
  w.str(set->attributes.dump());
}

std::shared_ptr<FeatureSet> get_features(comm::WireReader& r) {
  if (!r.u64()) return nullptr;
  auto set = std::make_shared<FeatureSet>();
  set->id = r.str();
  set->n = r.i64();
  set->dim = r.i64();
  set->values = r.floats();
  set->labels.resize(r.u64());
  for (auto& l : set->labels) l = r.i64();
  set->paths.resize(r.u64());
  for (auto& p : set->paths) p = r.str();
  set->attributes = json::parse(r.str());
  if (static_cast<std::int64_t>(set->values.size()) != set->n * set->dim) {
    throw CommError(fmt::format("feature set {} arrived with {} values for {}x{}", set->id,
                                set->values.size(), set->n, set->dim));
  }
  return set;
}

void put_holds(comm::WireWriter& w, const std::deque<std::string>& holds) {
  w.u64(holds.size());
  for (const auto& h : holds) w.str(h);
}

std::set<std::string> get_holds(comm::WireReader& r) {
  std::set<std::string> holds;
  const auto n = r.u64();
  for (std::uint64_t i = 0; i < n; ++i) holds.insert(r.str());
  return holds;
}

json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw IoError(fmt::format("cannot read '{}'", path.string()));
  std::stringstream s;
  s << in.rdbuf();
  json j = json::parse(s.str(), nullptr, false);
  if (j.is_discarded())
    throw IoError(fmt::format("'{}' is not valid JSON (damaged?)", path.string()));
  return j;
}

void write_text_atomically(const fs::path& path, const std::string& text) {
  const fs::path temp = path.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(fmt::format("cannot write '{}'", temp.string()));
    out << text;
    out.flush();
    if (!out) throw IoError(fmt::format("cannot write '{}' (disk full?)", temp.string()));
  }
  store::commit_temp_file(temp, path);
}

// Explains how two run identities differ, key by key.
std::string identity_difference(const json& old_id, const json& new_id) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : new_id.items()) {
    if (!old_id.contains(k) || old_id[k] != v) keys.push_back(k);
  }
  for (const auto& [k, v] : old_id.items()) {
    if (!new_id.contains(k)) keys.push_back(k);
  }
  std::string out;
  for (const auto& k : keys) {
    out +=
        fmt::format("\n  {}: was {}, now {}", k, old_id.contains(k) ? old_id[k].dump() : "(absent)",
                    new_id.contains(k) ? new_id[k].dump() : "(absent)");
  }
  return out;
}

// Everything the coordinator keeps about the results directory.
class ResultsDirectory {
 public:
  ResultsDirectory(const RunSetup& setup, const RunOptions& options) : dir_(options.out) {
    std::error_code ec;
    fs::create_directories(dir_ / "cache" / "features", ec);
    if (ec)
      throw IoError(
          fmt::format("cannot create results directory '{}': {}", dir_.string(), ec.message()));
    lock_ = std::make_unique<store::DirectoryLock>(dir_ / ".lock");
    const fs::path run_json = dir_ / "run.json";
    if (fs::exists(run_json) && !options.force_new) {
      const json old = read_json_file(run_json);
      if (old.value("identity", json()) != setup.identity) {
        throw ConfigError(fmt::format(
            "results directory '{}' holds a different sweep; refusing to mix results:{}\n"
            "Use another --out directory, or --force-new to discard the earlier results.",
            dir_.string(),
            identity_difference(old.value("identity", json::object()), setup.identity)));
      }
      created_ = old.value("created", now_iso());
    } else {
      if (options.force_new) {
        for (const char* name : {"journal.jsonl", "results.h5", "events.jsonl", "run.json"})
          fs::remove(dir_ / name, ec);
      }
      created_ = now_iso();
    }
    run_info_ = {{"format", 1},
                 {"identity", setup.identity},
                 {"provenance", setup.provenance},
                 {"created", created_},
                 {"updated", now_iso()}};
    write_text_atomically(dir_ / "sweep.yaml", setup.sweep_text);
    write_text_atomically(run_json, run_info_.dump(2));
    const auto contents = store::read_journal(dir_ / "journal.jsonl");
    if (!contents.corrupt_lines.empty()) {
      log::warn(
          "journal '{}': {} damaged record(s) skipped (first at line {}); those tasks run again",
          (dir_ / "journal.jsonl").string(), contents.corrupt_lines.size(),
          contents.corrupt_lines.front());
    }
    records_ = contents.records;
    journal_ = std::make_unique<store::JournalWriter>(dir_ / "journal.jsonl");
    events_.open(dir_ / "events.jsonl", std::ios::app);
  }

  const fs::path& dir() const { return dir_; }
  const std::vector<json>& records() const { return records_; }
  fs::path features_path(const std::string& id) const {
    return dir_ / "cache" / "features" / (id + ".h5");
  }

  void append(json record) {
    journal_->append(record);
    records_.push_back(std::move(record));
    dirty_ = true;
  }
  void event(json e) {
    e["time"] = now_iso();
    events_ << e.dump() << '\n';
  }
  void maybe_flush(double rewrite_seconds) {
    if (journal_->flush_due()) {
      journal_->flush();
      events_.flush();
    }
    const auto now = std::chrono::steady_clock::now();
    if (dirty_ && std::chrono::duration<double>(now - last_rewrite_).count() >= rewrite_seconds) {
      journal_->flush();
      rewrite();
    }
  }
  void flush_all() {
    journal_->flush();
    events_.flush();
    rewrite();
  }

 private:
  void rewrite() {
    run_info_["updated"] = now_iso();
    write_results_h5(dir_ / "results.h5", run_info_, records_);
    last_rewrite_ = std::chrono::steady_clock::now();
    dirty_ = false;
  }
  fs::path dir_;
  std::unique_ptr<store::DirectoryLock> lock_;
  std::unique_ptr<store::JournalWriter> journal_;
  std::ofstream events_;
  std::vector<json> records_;
  json run_info_;
  std::string created_;
  bool dirty_ = true;
  std::chrono::steady_clock::time_point last_rewrite_{};
};

class Coordinator {
 public:
  Coordinator(const RunSetup& setup, const RunOptions& options, const comm::Placement& placement)
      : setup_(setup),
        options_(options),
        placement_(placement),
        results_(setup, options),
        scheduler_(setup.tasks, options.retries),
        progress_(options.progress) {
    resume();
  }

  RunSummary run(Executor& local) {
    install_stop_handlers();
    const auto start = std::chrono::steady_clock::now();
    results_.event({{"event", "start"},
                    {"tasks", scheduler_.total()},
                    {"resumed", summary_.resumed},
                    {"ranks", placement_.size},
                    {"host", placement_.host}});
    if (summary_.resumed > 0) {
      log::info("resuming: {} of {} tasks already done in '{}'", summary_.resumed,
                scheduler_.total(), results_.dir().string());
    }
    if (placement_.size <= 1) {
      run_alone(local);
    } else {
      run_distributed();
    }
    progress_.finish(scheduler_);
    summary_.interrupted = stopping() && !scheduler_.finished();
    results_.event({{"event", summary_.interrupted ? "interrupted" : "finished"},
                    {"done", scheduler_.done_count()},
                    {"failed", scheduler_.failed_count()}});
    results_.flush_all();
    summary_.total = scheduler_.total();
    summary_.done = scheduler_.done_count();
    summary_.failed = scheduler_.failed_count();
    summary_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary_;
  }

 private:
  bool stopping() const { return stop_requests() > 0; }

  bool grace_expired() {
    if (!stopping()) return false;
    const auto now = std::chrono::steady_clock::now();
    if (!stop_seen_) {
      stop_seen_ = true;
      stop_time_ = now;
      // Make everything finished so far durable at once: a launcher may kill us any moment now.
      results_.flush_all();
      log::warn(
          "signal {} received: no new tasks; waiting up to {:.0f} s for {} running task(s) "
          "(signal again to stop at once)",
          last_stop_signal(), options_.grace_seconds, scheduler_.running_count());
    }
    return stop_requests() >= 2 ||
           std::chrono::duration<double>(now - stop_time_).count() > options_.grace_seconds;
  }

  // Marks tasks found in the journal as done (extract tasks only if their feature file is there).
  void resume() {
    std::set<std::string> done;
    for (const auto& r : results_.records()) {
      if (r.value("status", "") != "done") continue;
      const std::string id = r.value("id", "");
      if (!scheduler_.contains(id)) continue;
      if (r.value("kind", "") == "extract" && !fs::exists(results_.features_path(id))) continue;
      done.insert(id);
      finished_results_[id] = r.value("result", json());
    }
    if (setup_.feature_cache.fetch) {
      for (const auto& t : setup_.tasks) {
        if (t.kind == TaskKind::extract && !done.count(t.id)) adopt_cached(t);
      }
    }
    // Dependencies first, so marking never runs ahead of the DAG.
    bool progress = true;
    while (progress) {
      progress = false;
      for (auto it = done.begin(); it != done.end();) {
        const auto& spec = scheduler_.task(*it);
        bool deps_done = true;
        for (const auto& d : spec.deps) deps_done &= scheduler_.state(d) == Scheduler::State::done;
        if (deps_done) {
          scheduler_.mark_done(*it);
          ++summary_.resumed;
          it = done.erase(it);
          progress = true;
        } else {
          ++it;
        }
      }
    }
  }

  // An extract task whose features the shared feature cache holds: copied into the results
  // directory (which stays self-contained) and journaled as done, never dispatched. Its crop
  // task, if any, still runs for its QC artifacts.
  void adopt_cached(const TaskSpec& t) {
    const auto start = std::chrono::steady_clock::now();
    std::optional<TaskOutcome> hit = setup_.feature_cache.fetch(t);
    if (!hit || !hit->features) return;
    hit->features->id = t.id;
    store::write_features_file(results_.features_path(t.id), *hit->features);
    json result = hit->result;
    result["from_cache"] = true;
    result["features_file"] = fs::relative(results_.features_path(t.id), results_.dir()).string();
    result["n"] = hit->features->n;
    result["dim"] = hit->features->dim;
    features_[t.id] = hit->features;
    finished_results_[t.id] = result;
    scheduler_.mark_done(t.id);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    results_.event({{"event", "cached"}, {"id", t.id}, {"kind", to_string(t.kind)}});
    results_.append({{"v", 1},
                     {"id", t.id},
                     {"kind", to_string(t.kind)},
                     {"status", "done"},
                     {"attempt", scheduler_.attempts(t.id)},
                     {"final", true},
                     {"rank", 0},
                     {"host", placement_.host},
                     {"seconds", seconds},
                     {"finished", now_iso()},
                     {"params", t.params},
                     {"result", std::move(result)}});
  }

  std::shared_ptr<const FeatureSet> features_for(const std::string& id) {
    auto it = features_.find(id);
    if (it != features_.end()) return it->second;
    auto set = std::make_shared<FeatureSet>(store::read_features_file(results_.features_path(id)));
    features_[id] = set;
    return set;
  }

  TaskInputs inputs_for(const std::vector<const TaskSpec*>& tasks) {
    TaskInputs in;
    for (const auto* t : tasks) {
      for (const auto& d : t->deps) {
        auto it = finished_results_.find(d);
        if (it != finished_results_.end()) in.dep_results[d] = it->second;
      }
    }
    if (!tasks.empty() && tasks.front()->kind == TaskKind::train)
      in.features = features_for(tasks.front()->features);
    return in;
  }

  void record(const TaskOutcome& o, int worker) {
    const TaskSpec& spec = scheduler_.task(o.id);
    json result = o.result;
    if (o.ok && o.features) {
      o.features->id = o.id;
      store::write_features_file(results_.features_path(o.id), *o.features);
      result["features_file"] = fs::relative(results_.features_path(o.id), results_.dir()).string();
      result["n"] = o.features->n;
      result["dim"] = o.features->dim;
      features_[o.id] = o.features;
      if (setup_.feature_cache.store && spec.kind == TaskKind::extract)
        setup_.feature_cache.store(spec, o);
    }
    if (o.ok && result.contains("artifacts")) {
      // Files a task produced (QC reports, contact sheets) arrive base64-encoded; only rank 0
      // writes.
      json written = json::array();
      const fs::path dir = results_.dir() / "cache" / to_string(spec.kind) / o.id;
      fs::create_directories(dir);
      for (const auto& [name, data] : result["artifacts"].items()) {
        if (name.find('/') != std::string::npos || name.empty() || name[0] == '.') {
          throw CommError(
              fmt::format("task {} sent an artifact with an unsafe name '{}'", o.id, name));
        }
        write_text_atomically(dir / name, base64_decode(data.get<std::string>()));
        written.push_back(fs::relative(dir / name, results_.dir()).string());
      }
      result["artifacts"] = written;
    }
    const bool retry = scheduler_.complete(o.id, o.ok, worker);
    json rec = {{"v", 1},
                {"id", o.id},
                {"kind", to_string(spec.kind)},
                {"status", o.ok ? "done" : "failed"},
                {"attempt", scheduler_.attempts(o.id)},
                {"final", o.ok || !retry},
                {"rank", o.rank},
                {"host", o.host},
                {"seconds", o.seconds},
                {"finished", now_iso()},
                {"params", spec.params}};
    if (o.ok) {
      rec["result"] = result;
      finished_results_[o.id] = result;
    } else {
      rec["error"] = o.error;
      log::warn("task {} ({}) failed on rank {} (attempt {}): {}{}", o.id, to_string(spec.kind),
                o.rank, scheduler_.attempts(o.id), o.error, retry ? "; retrying" : "; giving up");
    }
    results_.event({{"event", o.ok ? "done" : "failed"},
                    {"id", o.id},
                    {"kind", to_string(spec.kind)},
                    {"rank", o.rank},
                    {"seconds", o.seconds}});
    results_.append(std::move(rec));
  }

  void housekeeping() {
    results_.maybe_flush(options_.rewrite_seconds);
    progress_.update(scheduler_);
  }

  void run_alone(Executor& local) {
    local.setup(setup_.context);
    std::deque<std::string> holds_order;
    while (!scheduler_.finished()) {
      if (stopping()) {
        grace_expired();
        break;
      }
      std::set<std::string> holds(holds_order.begin(), holds_order.end());
      const auto tasks = scheduler_.next_for(0, holds, options_.max_batch);
      FERSWEEP_ASSERT(!tasks.empty(), "nothing ready but the sweep is not finished");
      std::vector<TaskSpec> batch;
      for (const auto* t : tasks) batch.push_back(*t);
      const TaskInputs in = inputs_for(tasks);
      for (auto& o : local.execute(batch, in)) {
        o.rank = 0;
        o.host = placement_.host;
        record(o, 0);
      }
      if (batch.front().kind == TaskKind::train) holds_order.push_front(batch.front().features);
      housekeeping();
    }
  }

  void send_tasks(int worker, const std::vector<const TaskSpec*>& tasks,
                  const std::set<std::string>& holds) {
    comm::WireWriter w(kTasks);
    w.u64(tasks.size());
    for (const auto* t : tasks) {
      w.str(t->id).str(to_string(t->kind)).str(t->params.dump()).str(t->features).f64(t->cost);
      w.u64(t->deps.size());
      for (const auto& d : t->deps) w.str(d);
    }
    const TaskInputs in = inputs_for(tasks);
    w.str(json(in.dep_results).dump());
    const bool send_features = in.features && !holds.count(in.features->id);
    put_features(w, send_features ? in.features.get() : nullptr);
    comm_.send(worker, kTag, w.bytes());
    busy_[worker] = tasks.size();
  }

  void stop_worker(int worker) {
    comm_.send(worker, kTag, comm::WireWriter(kStop).bytes());
    stopped_.insert(worker);
  }

  // Nothing runs and nothing is ready: whatever is left failed for good (or is done).
  bool nothing_more() const {
    return scheduler_.finished() || (scheduler_.running_count() == 0 && !scheduler_.has_ready());
  }

  // Gives `worker` work if there is any; otherwise parks it, or stops it when no work can come.
  void serve(int worker, const std::set<std::string>& holds) {
    if (stopping()) return stop_worker(worker);
    const auto tasks = scheduler_.next_for(worker, holds, options_.max_batch);
    if (!tasks.empty()) return send_tasks(worker, tasks, holds);
    if (nothing_more()) return stop_worker(worker);
    idle_[worker] = holds;
  }

  void serve_idle() {
    auto parked = std::move(idle_);
    idle_.clear();
    for (const auto& [worker, holds] : parked) serve(worker, holds);
  }

  void handle(const comm::Message& m) {
    comm::WireReader r(m.payload, m.source);
    const int worker = m.source;
    if (r.type() == kResult) {
      const auto n = r.u64();
      for (std::uint64_t i = 0; i < n; ++i) {
        TaskOutcome o;
        o.id = r.str();
        o.ok = r.u64() != 0;
        o.result = json::parse(r.str());
        o.error = r.str();
        o.seconds = r.f64();
        o.rank = static_cast<int>(r.i64());
        o.host = r.str();
        o.features = get_features(r);
        record(o, worker);
      }
      busy_.erase(worker);
    } else if (r.type() != kRequest) {
      throw CommError(fmt::format("unexpected message type {} from rank {}", r.type(), worker));
    }
    const auto holds = get_holds(r);
    if (!setup_sent_.count(worker)) {
      comm_.send(worker, kTag, comm::WireWriter(kSetup).str(setup_.context.dump()).bytes());
      setup_sent_.insert(worker);
    }
    serve(worker, holds);
    serve_idle();
  }

  void run_distributed() {
    const int workers = placement_.size - 1;
    auto idle_since = std::chrono::steady_clock::now();
    while (static_cast<int>(stopped_.size()) < workers) {
      if (stopping()) {
        if (grace_expired()) {
          abandoned_ = !busy_.empty();
          break;
        }
        serve_idle();  // stops idle workers
      }
      auto m = comm_.try_recv(comm::Communicator::kAnySource, kTag);
      if (m) {
        handle(*m);
        idle_since = std::chrono::steady_clock::now();
      } else {
        housekeeping();
        // Poll gently when idle so an oversubscribed node keeps its cores for the workers.
        const double idle =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - idle_since).count();
        std::this_thread::sleep_for(std::chrono::microseconds(idle < 0.01 ? 20 : 1000));
      }
    }
  }

 public:
  bool abandoned() const { return abandoned_; }

 private:
  const RunSetup& setup_;
  const RunOptions& options_;
  comm::Placement placement_;
  ResultsDirectory results_;
  Scheduler scheduler_;
  ProgressReporter progress_;
  comm::Communicator comm_;
  RunSummary summary_;
  std::map<std::string, json> finished_results_;
  std::map<std::string, std::shared_ptr<const FeatureSet>> features_;
  std::map<int, std::set<std::string>> idle_;
  std::map<int, std::size_t> busy_;
  std::set<int> stopped_, setup_sent_;
  bool stop_seen_ = false;
  bool abandoned_ = false;
  std::chrono::steady_clock::time_point stop_time_;
};

}  // namespace

RunSummary run_coordinator(const RunSetup& setup, const RunOptions& options,
                           const comm::Placement& placement, Executor& local) {
  Coordinator c(setup, options, placement);
  RunSummary s = c.run(local);
  s.interrupted = s.interrupted || c.abandoned();
  return s;
}

void run_worker(Executor& executor, const comm::Placement& placement) {
  // The coordinator decides when to stop; workers only note signals (mpirun forwards them to all).
  install_stop_handlers();
  comm::Communicator comm;
  std::deque<std::string> holds;  // most recent first
  std::map<std::string, std::shared_ptr<const FeatureSet>> features;
  {
    comm::WireWriter w(kRequest);
    put_holds(w, holds);
    comm.send(0, kTag, w.bytes());
  }
  while (true) {
    const comm::Message m = comm.recv(0, kTag);
    comm::WireReader r(m.payload, 0);
    if (r.type() == kStop) return;
    if (r.type() == kSetup) {
      executor.setup(json::parse(r.str()));
      continue;
    }
    if (r.type() != kTasks)
      throw CommError(fmt::format("unexpected message type {} from rank 0", r.type()));
    std::vector<TaskSpec> tasks(r.u64());
    for (auto& t : tasks) {
      t.id = r.str();
      t.kind = parse_task_kind(r.str());
      t.params = json::parse(r.str());
      t.features = r.str();
      t.cost = r.f64();
      t.deps.resize(r.u64());
      for (auto& d : t.deps) d = r.str();
    }
    TaskInputs in;
    const json dep_results = json::parse(r.str());
    for (const auto& [k, v] : dep_results.items()) in.dep_results[k] = v;
    if (auto set = get_features(r)) {
      features[set->id] = set;
      holds.push_front(set->id);
      while (holds.size() > kWorkerFeatureSlots) {
        features.erase(holds.back());
        holds.pop_back();
      }
    }
    if (!tasks.empty() && tasks.front().kind == TaskKind::train) {
      auto it = features.find(tasks.front().features);
      if (it == features.end()) {
        throw CommError(fmt::format("rank {} was sent training tasks without their features {}",
                                    placement.rank, tasks.front().features));
      }
      in.features = it->second;
    }
    auto outcomes = executor.execute(tasks, in);
    comm::WireWriter w(kResult);
    w.u64(outcomes.size());
    for (auto& o : outcomes) {
      w.str(o.id)
          .u64(o.ok)
          .str(o.result.dump())
          .str(o.error)
          .f64(o.seconds)
          .i64(placement.rank)
          .str(placement.host);
      put_features(w, o.features.get());
    }
    put_holds(w, holds);
    comm.send(0, kTag, w.bytes());
  }
}

std::map<std::string, json> finished_tasks(const fs::path& dir) {
  std::map<std::string, json> out;
  for (auto& r : store::read_journal(dir / "journal.jsonl").records) {
    const std::string id = r.value("id", "");
    if (r.value("status", "") == "done" || !out.count(id) || out[id].value("status", "") != "done")
      out[id] = r;
  }
  return out;
}

void rewrite_results(const fs::path& dir) {
  const json run_info = read_json_file(dir / "run.json");
  const auto records = store::read_journal(dir / "journal.jsonl").records;
  write_results_h5(dir / "results.h5", run_info, records);
}

}  // namespace fersweep::run
