// Progress reporting on rank 0: a live one-line bar on a terminal, plain periodic lines in batch
// logs (stderr not a TTY), nothing with --quiet.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "run/scheduler.h"

namespace fersweep::run {

/// Measured work of one task kind in this run: summed TaskSpec::cost and task seconds.
struct KindRate {
  double cost = 0;
  double seconds = 0;
};

/// Seconds until the run ends: each kind's remaining cost at that kind's measured seconds per
/// unit of cost (a kind with nothing finished yet takes the rate of all finished work: costs are
/// GFLOP estimates for every kind), divided by the parallelism seen so far (task seconds
/// finished per second of wall time). Negative when nothing has finished yet.
double estimate_eta(const std::map<TaskKind, double>& cost_left,
                    const std::map<TaskKind, KindRate>& measured, double elapsed_seconds);

class ProgressReporter {
 public:
  /// `enabled` false prints nothing; the bar is used when stderr is a terminal.
  explicit ProgressReporter(bool enabled);
  /// Redraws the bar (at most 4 times a second) or prints a line (every 30 s); `force` prints now.
  void update(const Scheduler& scheduler, bool force = false);
  /// Ends the bar's line.
  void finish(const Scheduler& scheduler);
  /// A task finished successfully in this run: its cost and seconds calibrate the ETA.
  void task_finished(TaskKind kind, double cost, double seconds);
  /// One line: per-stage done/total, failures, throughput and ETA.
  static std::string summary_line(const Scheduler& scheduler, double elapsed_seconds, double rate,
                                  double eta_seconds);

 private:
  bool enabled_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
  std::size_t done_at_start_ = 0;
  bool started_ = false;
  std::map<TaskKind, KindRate> measured_;
};

}  // namespace fersweep::run
