// The coordinator's task DAG: dependency tracking, a dynamic ready queue (heavy stages first,
// training tasks batched by feature set and steered to workers that hold the features), retries
// on another worker, and failure propagation to dependents. Pure bookkeeping: no I/O, no MPI.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "run/task.h"

namespace fersweep::run {

class Scheduler {
 public:
  enum class State { waiting, ready, running, done, failed };

  /// `retries`: extra attempts after a failure before the task fails for good.
  Scheduler(std::vector<TaskSpec> tasks, int retries);
  /// The same over tasks owned by the caller, which must outlive the scheduler and stay unchanged
  /// (the coordinator's 100,000-task runs: no second copy of every spec).
  Scheduler(const std::vector<TaskSpec>* tasks, int retries);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Marks a task done before the run starts (found in the journal when resuming).
  void mark_done(const std::string& id);

  /// Next tasks for `worker`: one crop/extract/synthetic task, or up to `max_batch` training tasks
  /// that share a feature set (preferring one the worker `holds`), or every ready task of one
  /// bracket (TaskSpec::bracket). Empty when nothing is ready.
  std::vector<const TaskSpec*> next_for(int worker, const std::set<std::string>& holds,
                                        std::size_t max_batch);

  /// Records a finished attempt. Returns true when a failed task will be retried.
  bool complete(const std::string& id, bool ok, int worker);

  /// Puts a running task back in the queue without counting an attempt (its worker went away, or
  /// it continues after an early_stop rung).
  void requeue(const std::string& id);
  /// Takes a ready task out of the queue as if it were running (an early_stop task waiting at a
  /// rung when a run resumes: it is completed or requeued when the rung is decided).
  void hold(const std::string& id);

  bool contains(const std::string& id) const { return index_.count(id) > 0; }
  /// True when other tasks depend on `id` (its result is then kept for them).
  bool has_dependents(const std::string& id) const;
  const TaskSpec& task(const std::string& id) const;
  State state(const std::string& id) const;
  int attempts(const std::string& id) const;
  bool finished() const { return done_ + failed_ == tasks_.size(); }
  bool has_ready() const { return ready_count_ > 0; }
  std::size_t ready_count() const { return ready_count_; }
  std::size_t total() const { return tasks_.size(); }
  std::size_t done_count() const { return done_; }
  std::size_t failed_count() const { return failed_; }
  std::size_t running_count() const { return running_; }
  /// Per kind: {done, total}.
  std::map<TaskKind, std::pair<std::size_t, std::size_t>> progress() const;
  /// Per kind: the summed TaskSpec::cost of the tasks neither done nor failed for good.
  std::map<TaskKind, double> cost_left() const;
  /// Ids of tasks that failed for good (after retries, or because a dependency failed).
  std::vector<std::string> failed_ids() const;

 private:
  struct Node {
    const TaskSpec* spec = nullptr;
    State state = State::waiting;
    int unmet = 0;
    int attempts = 0;
    std::vector<int> failed_on;
    std::vector<std::size_t> dependents;
    bool failed_on_worker(int worker) const;
  };
  void build(const std::vector<TaskSpec>& tasks);
  void make_ready(std::size_t index);
  void take_from_ready(std::size_t index);
  /// Takes the costliest task of `group` (train tasks with TaskSpec::alone), preferring one
  /// `worker` has not failed.
  const TaskSpec* take_costliest(const std::set<std::size_t>& group, int worker);
  void fail_dependents(std::size_t index);
  std::size_t index_of(const std::string& id) const;

  std::vector<TaskSpec> owned_;  // empty when the tasks are borrowed
  std::vector<Node> tasks_;
  std::unordered_map<std::string_view, std::size_t> index_;  // keys point into the specs
  int retries_;
  // Heavy tasks ordered by (cost desc, index asc); training tasks grouped by feature set.
  std::set<std::pair<double, std::size_t>> heavy_ready_;
  std::map<std::string, std::set<std::size_t>> train_ready_;
  std::size_t ready_count_ = 0;
  std::size_t done_ = 0, failed_ = 0, running_ = 0;
};

}  // namespace fersweep::run
