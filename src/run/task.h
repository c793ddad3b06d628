// The orchestrator's view of work: generic tasks with dependencies, their outcomes, and the
// executor interface that does the actual crop/extract/train work on a worker.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "store/features_file.h"

namespace fersweep::run {

/// Stages of the sweep DAG (synthetic: no-op/sleep tasks for benchmarks and tests).
enum class TaskKind { crop, extract, train, synthetic };
std::string to_string(TaskKind kind);
TaskKind parse_task_kind(const std::string& text);

/// One unit of work. Its id is a hash of its canonical parameters (stable across runs).
struct TaskSpec {
  std::string id;
  TaskKind kind = TaskKind::synthetic;
  nlohmann::json params;          ///< everything the executor needs besides bulk inputs
  std::vector<std::string> deps;  ///< tasks that must be done first
  std::string features;           ///< train tasks: id of the extract task whose features they use
  /// Train tasks: the epochs evaluated during one run to the last. Not a parameter: the id and
  /// the training seed do not depend on it (a 50-epoch result equals a separate 50-epoch run).
  std::vector<int> epochs;
  double cost = 1.0;  ///< relative cost estimate, for ordering and ETA
  /// Train tasks dispatched one at a time, costliest first (fine-tuning: minutes to hours each,
  /// where a batch would queue several on one worker while others wait). Rank 0 only: not sent.
  bool alone = false;
  /// Train tasks under early_stop: the tasks ranked together at each rung (run/sweep_run.cpp's
  /// bracket_of). A bracket is dispatched whole, to one worker, and resumed whole. Rank 0 only.
  std::string bracket;
};

using store::FeatureSet;

/// Takes a running task's checkpoint (task id, epoch, state; run/checkpoints.h) to rank 0.
using CheckpointSink =
    std::function<void(const std::string& task_id, int epoch, std::string state)>;

/// What a task needs besides its spec: results of its dependencies and, for training, features;
/// the checkpoints to continue from, and where to send new ones.
struct TaskInputs {
  std::map<std::string, nlohmann::json> dep_results;
  std::shared_ptr<const FeatureSet> features;
  std::map<std::string, std::string> checkpoints;  ///< task id → state of its latest checkpoint
  CheckpointSink save_checkpoint;                  ///< empty: checkpoints are not kept
  /// early_stop, fine-tuning tasks: task id → the rung (an epoch below its last) at which it
  /// pauses: its state goes to rank 0 as a checkpoint, its outcome has paused_at set.
  std::map<std::string, int> pause_at;
};

/// What running a task produced.
struct TaskOutcome {
  std::string id;
  bool ok = false;
  nlohmann::json result;  ///< small results (metrics, boxes, provenance)
  std::string error;      ///< message when !ok
  /// Stopped at a cancellation point after the grace period (core/cancel.h): not an attempt; the
  /// task is neither journaled nor retried, and runs again on resume. Implies !ok.
  bool cancelled = false;
  std::shared_ptr<FeatureSet> features;  ///< extract tasks: the features computed
  /// > 0: the task paused at this rung (TaskInputs::pause_at) after sending its checkpoint; the
  /// result holds its evaluations so far. Implies ok.
  int paused_at = 0;
  /// Files the task produced (QC report, contact sheet): name → bytes. Only rank 0 writes them,
  /// under cache/KIND/ID/, and lists their paths in the journaled result's "artifacts".
  std::map<std::string, std::string> artifacts;
  double seconds = 0;
  int rank = 0;
  std::string host;
};

/// Does the work of tasks on a worker. Implementations must not write the results directory.
class Executor {
 public:
  virtual ~Executor() = default;
  /// Called once with the run context (dataset, classes, settings) before any task.
  virtual void setup(const nlohmann::json& context) = 0;
  /// Runs tasks that share inputs (e.g. the folds of one configuration). Never throws: failures
  /// come back as outcomes with ok == false.
  virtual std::vector<TaskOutcome> execute(const std::vector<TaskSpec>& tasks,
                                           const TaskInputs& inputs) = 0;
};

/// Runs synthetic tasks: params {"sleep_ms": N} sleeps (a cancellation point every 10 ms),
/// {"fail": true} fails. For benchmarks and tests.
class SyntheticExecutor : public Executor {
 public:
  void setup(const nlohmann::json&) override {}
  std::vector<TaskOutcome> execute(const std::vector<TaskSpec>& tasks,
                                   const TaskInputs& inputs) override;
};

/// Failure injection for tests: FERSWEEP_INJECT_FAILURE="<kind or id prefix>[:<times>]" makes
/// matching tasks fail (the first <times> attempts in this process, default always).
bool should_inject_failure(const TaskSpec& task);

}  // namespace fersweep::run
