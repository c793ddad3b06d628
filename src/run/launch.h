// Entry point shared by `fersweep run` and the synthetic benchmark run: sets up MPI (or runs
// alone), picks the role by rank, sets the torch thread count, and turns the outcome into an exit
// status.
#pragma once

#include <functional>
#include <memory>

#include "run/coordinator.h"

namespace fersweep::run {

/// Torch threads for this rank: `requested` if > 0, else cores on the node / working ranks on
/// the node (every rank on it, less the coordinator when it has workers), at most the CPUs the
/// process may run on (a launcher's binding).
int threads_for_rank(int requested, const comm::Placement& placement);

/// Runs a sweep under mpirun/srun or alone. `make_setup` runs on rank 0 only (it may read the
/// dataset); `make_executor` on every rank that executes tasks. Returns normally when everything
/// succeeded; throws InterruptedError (exit 3) or TasksFailedError (exit 4) otherwise.
void launch_run(
    const std::function<RunSetup()>& make_setup, const RunOptions& options,
    const std::function<std::unique_ptr<Executor>(const comm::Placement&)>& make_executor,
    int threads, const std::function<void(const RunSummary&)>& on_finished = {});

}  // namespace fersweep::run
