// Progress reporting on rank 0: a live one-line bar on a terminal, plain periodic lines in batch
// logs (stderr not a TTY), nothing with --quiet.
#pragma once

#include <chrono>
#include <string>

#include "run/scheduler.h"

namespace fersweep::run {

class ProgressReporter {
 public:
  /// `enabled` false prints nothing; the bar is used when stderr is a terminal.
  explicit ProgressReporter(bool enabled);
  /// Redraws the bar (at most 4 times a second) or prints a line (every 30 s); `force` prints now.
  void update(const Scheduler& scheduler, bool force = false);
  /// Ends the bar's line.
  void finish(const Scheduler& scheduler);
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
};

}  // namespace fersweep::run
