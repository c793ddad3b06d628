// Running a sweep: the coordinator (rank 0) owns the results directory and the task queue; workers
// (ranks >= 1) execute tasks. Alone (one rank), the coordinator executes tasks itself.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "comm/mpi.h"
#include "run/results_writer.h"
#include "run/staged.h"
#include "run/task.h"
#include "sweep/settings.h"

namespace fersweep::run {

/// A feature cache shared across runs, consulted by the coordinator (rank 0 only). Both
/// functions report cache problems as warnings and never throw for them.
struct FeatureCacheHooks {
  /// For an extract task that is not done: its features and result (with from_cache) when the
  /// cache holds them, nullopt on a miss. The task is then recorded as done, not dispatched.
  std::function<std::optional<TaskOutcome>(const TaskSpec&)> fetch;
  /// After a computed extract task was recorded: stores its features in the cache.
  std::function<void(const TaskSpec&, const TaskOutcome&)> store;
};

/// What to run and what identifies it (for resume checks and provenance).
struct RunSetup {
  std::vector<TaskSpec> tasks;
  /// Compared with the directory's run.json on resume; any difference is refused.
  nlohmann::json identity;
  /// Sent to every worker's Executor::setup (dataset root, manifest, classes, folds, ...).
  nlohmann::json context;
  /// Provenance written into results.h5 (sweep text and hash, versions, ...).
  nlohmann::json provenance;
  /// The exact sweep text that was run (saved as DIR/sweep.yaml).
  std::string sweep_text;
  /// Optional (empty functions: no cache).
  FeatureCacheHooks feature_cache;
  /// The samples feature sets are made of (sweeps; none for synthetic runs): rank 0 writes them
  /// as DIR/samples.h5 at the start, and results.h5 copies them.
  std::optional<SampleTable> samples;
  /// Optional. Rank 0, when an extract task's features are recorded (computed, or copied from
  /// the feature cache): fields added to its journaled result only — the feature cache and the
  /// dependent tasks get the result without them (a resume strips kFoldsKey). The sweep adds the
  /// fold assignments its training tasks will use (kFoldsKey). Must not throw.
  std::function<nlohmann::json(const TaskSpec&, const FeatureSet&)> describe_features;
  /// early_stop for the tasks that run alone in a bracket (run/staged.h); none: no such tasks.
  std::optional<StagedStop> staged_stop;
};

/// How to run it (a sweep file's `run:` section and the command line fill it; the defaults are
/// sweep::RunSettings').
struct RunOptions {
  std::filesystem::path out;                   ///< results directory
  int retries = sweep::RunSettings{}.retries;  ///< extra attempts per task after a failure
  /// After SIGTERM/SIGINT: how long running tasks may go on before they are abandoned.
  double grace_seconds = sweep::RunSettings{}.grace_period;
  std::size_t max_batch = 16;   ///< training tasks sent to a worker at once
  double rewrite_seconds = 10;  ///< results.h5 is rewritten at most this often during a run
  bool force_new = false;       ///< discard earlier results in `out` instead of resuming
  bool progress = true;         ///< show progress on stderr
};

/// What happened.
struct RunSummary {
  std::size_t total = 0, done = 0, failed = 0, resumed = 0;
  bool interrupted = false;
  /// Workers were still inside tasks when the coordinator gave up waiting for them (after the
  /// grace period and a margin, or on a second signal): the job must be ended.
  bool abandoned = false;
  double seconds = 0;
};

/// Rank 0: plans nothing, runs `setup.tasks` to completion (or interruption) over the workers of
/// `placement` (or alone with `local`), journaling every outcome and keeping results.h5 current.
RunSummary run_coordinator(const RunSetup& setup, const RunOptions& options,
                           const comm::Placement& placement, Executor& local);

/// Ranks >= 1: asks rank 0 for work until told to stop.
void run_worker(Executor& executor, const comm::Placement& placement);

/// Writes DIR/results.h5 (atomically) from the journal records and run.json. Used at intervals by
/// the coordinator and by `fersweep status --rewrite`.
void rewrite_results(const std::filesystem::path& dir);

/// {task id → the record that counts (see supersedes)} of parsed journal records.
std::map<std::string, nlohmann::json> last_records(const std::vector<nlohmann::json>& records);

}  // namespace fersweep::run
