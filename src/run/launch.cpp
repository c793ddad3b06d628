// Role selection and exit status of a run.
#include "run/launch.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "core/parallel.h"
#include "run/signals.h"

namespace fersweep::run {

int threads_for_rank(int requested, const comm::Placement& placement) {
  if (requested > 0) return requested;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Workers on a node share its cores. The coordinator does not count when it has workers: it
  // sleeps while it waits, and counting it would leave a core idle.
  const bool coordinator_here = placement.size > 1 && placement.coordinator_local;
  const int working_ranks = std::max(1, placement.local_size - (coordinator_here ? 1 : 0));
  int threads = std::max(1, cores / working_ranks);
  // A launcher that binds the rank (mpirun's default core binding for 2 ranks, srun
  // --cpus-per-task) has already given it its share: more threads would only contend.
  threads = std::min(threads, available_cpus());
  return threads;
}

void launch_run(
    const std::function<RunSetup()>& make_setup, const RunOptions& options,
    const std::function<std::unique_ptr<Executor>(const comm::Placement&)>& make_executor,
    int threads, const std::function<void(const RunSummary&)>& on_finished) {
  set_grace_period(options.grace_seconds);
  install_stop_handlers();  // before anything slow, so an early signal is not fatal
  comm::MpiSession session;
  const comm::Placement& placement = session.placement();
  log::set_rank(placement.rank, placement.size);
  const int n_threads = threads_for_rank(threads, placement);
  at::set_num_threads(n_threads);
  log::debug("rank {} of {} on {} (local {} of {}), {} torch threads ({} CPUs allowed)",
             placement.rank, placement.size, placement.host, placement.local_rank,
             placement.local_size, n_threads, available_cpus());

  // A rank that fails outside a task cannot tell the others; with several ranks the only clean
  // way out is to end the job (everything acknowledged is already in the journal).
  const auto fatal = [&](const std::exception_ptr& error) {
    if (placement.size <= 1) std::rethrow_exception(error);
    int code = static_cast<int>(ExitCode::runtime_failure);
    try {
      std::rethrow_exception(error);
    } catch (const Error& e) {
      code = static_cast<int>(e.exit_code());
      log::error("{}", e.what());
    } catch (...) {
      log::error("{}", current_exception_message());
    }
    session.abort(code);
  };

  if (placement.rank != 0) {
    try {
      auto executor = make_executor(placement);
      run_worker(*executor, placement);
    } catch (...) {
      fatal(std::current_exception());
    }
    return;
  }
  RunSummary summary;
  try {
    const RunSetup setup = make_setup();
    // Alone, the coordinator executes tasks itself.
    std::unique_ptr<Executor> local = placement.size <= 1 ? make_executor(placement) : nullptr;
    SyntheticExecutor unused;
    summary = run_coordinator(setup, options, placement, local ? *local : unused);
  } catch (...) {
    fatal(std::current_exception());
  }
  if (on_finished) on_finished(summary);
  log::info("{} of {} tasks done ({} from earlier runs), {} failed, in {:.1f} s", summary.done,
            summary.total, summary.resumed, summary.failed, summary.seconds);
  if (summary.interrupted) {
    const std::string msg = fmt::format(
        "interrupted: {} of {} tasks done and saved in '{}'; run the same command again to resume",
        summary.done, summary.total, options.out.string());
    if (summary.abandoned) {
      // Workers are still inside tasks they did not give up in time: everything finished is
      // saved, so end the job. Otherwise every worker was told to stop and MPI ends cleanly.
      log::error("{}", msg);
      session.abort(static_cast<int>(ExitCode::interrupted));
    }
    throw InterruptedError(msg);
  }
  if (summary.failed > 0) {
    throw TasksFailedError(
        fmt::format("{} of {} tasks failed after all retries; see `fersweep status {}`",
                    summary.failed, summary.total, options.out.string()));
  }
}

}  // namespace fersweep::run
