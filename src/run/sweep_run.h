// The real sweep: turning a sweep plan and its dataset into orchestrator tasks, and the executor
// that runs crop, extract and train tasks with the data, model and train modules.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "comm/mpi.h"
#include "run/coordinator.h"
#include "sweep/plan.h"

namespace fersweep::run {

/// Rank 0: scans the dataset, checks the plan against it (folds vs. smallest class), and builds
/// the run: tasks, identity (sweep hash, dataset fingerprint), worker context, provenance. With
/// `feature_cache` (a directory), extract tasks whose features it holds are not dispatched, and
/// computed ones are stored there (keys: docs/feature-cache.md).
RunSetup make_sweep_setup(const sweep::Plan& plan, int scan_threads,
                          const std::optional<std::filesystem::path>& feature_cache = std::nullopt);

/// Settings of the executor on one rank.
struct ExecutorSettings {
  int threads = 1;              ///< torch/decoder threads of this rank
  int extract_batch = 32;       ///< images per backbone forward pass
  std::string device = "auto";  ///< run.device: auto, cpu or cuda (model::pick_device)
};

/// Creates the executor for this rank (device from the local rank: CUDA when available).
std::unique_ptr<Executor> make_sweep_executor(const comm::Placement& placement,
                                              const ExecutorSettings& settings);

}  // namespace fersweep::run
