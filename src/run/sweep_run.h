// The real sweep: turning a sweep plan and its dataset into orchestrator tasks, and the executor
// that runs crop, extract and train tasks with the data, model and train modules.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "comm/mpi.h"
#include "data/dataset.h"
#include "run/coordinator.h"
#include "sweep/plan.h"

namespace fersweep::run {

/// Rank 0: scans the dataset, checks the plan against it (folds vs. smallest class), and builds
/// the run: tasks, identity (sweep hash, dataset fingerprint), worker context, provenance. With
/// `feature_cache` (a directory), extract tasks whose features it holds are not dispatched, and
/// computed ones are stored there (keys: docs/feature-cache.md).
RunSetup make_sweep_setup(const sweep::Plan& plan, int scan_threads,
                          const std::optional<std::filesystem::path>& feature_cache = std::nullopt);

/// Logs the samples a scan left out, one line per class or reason (sweeps and `fersweep extract`).
void log_left_out(const data::Manifest& manifest);

/// Settings of the executor on one rank.
struct ExecutorSettings {
  int threads = 1;              ///< torch/decoder threads of this rank
  int extract_batch = 32;       ///< images per backbone forward pass
  std::string device = "auto";  ///< run.device: auto, cpu or cuda (model::pick_device)
};

/// Creates the executor for this rank (device from the local rank: CUDA when available).
std::unique_ptr<Executor> make_sweep_executor(const comm::Placement& placement,
                                              const ExecutorSettings& settings);

/// One feature set of `manifest` outside a sweep (`fersweep extract`), by a sweep's own extract
/// task: the same weights check, feature-cache key, lookup and store, extraction and provenance.
/// The outcome's result is the provenance (`from_cache` says whether `feature_cache` held the
/// features). Weights problems throw as for a sweep (ModelError, IoError); a failed extraction
/// throws Error with its message.
TaskOutcome extract_features(const data::Manifest& manifest, const sweep::ExtractSettings& settings,
                             const ExecutorSettings& executor_settings,
                             const std::optional<std::filesystem::path>& feature_cache);

}  // namespace fersweep::run
