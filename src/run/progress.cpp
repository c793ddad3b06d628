// Progress bar and batch-log lines.
#include "run/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "core/log.h"

namespace fersweep::run {
namespace {
std::string clock_text(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "--:--";
  const auto s = static_cast<long>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}
}  // namespace

double estimate_eta(const std::map<TaskKind, double>& cost_left,
                    const std::map<TaskKind, KindRate>& measured, double elapsed) {
  KindRate all;
  for (const auto& [kind, m] : measured) {
    all.cost += m.cost;
    all.seconds += m.seconds;
  }
  if (all.seconds <= 0 || all.cost <= 0 || elapsed <= 0) return -1;
  double task_seconds_left = 0;
  for (const auto& [kind, cost] : cost_left) {
    const auto m = measured.find(kind);
    const KindRate& rate = m != measured.end() && m->second.cost > 0 ? m->second : all;
    task_seconds_left += cost * rate.seconds / rate.cost;
  }
  const double parallelism = all.seconds / elapsed;
  return task_seconds_left / parallelism;
}

ProgressReporter::ProgressReporter(bool enabled)
    : enabled_(enabled && log::level() >= log::Level::info), tty_(::isatty(STDERR_FILENO) == 1) {}

std::string ProgressReporter::summary_line(const Scheduler& s, double elapsed, double rate,
                                           double eta) {
  std::string stages;
  for (const auto& [kind, p] : s.progress()) {
    stages += fmt::format("{} {}/{}  ", to_string(kind), p.first, p.second);
  }
  return fmt::format("{}failed {}  running {}  {:.1f} tasks/s  elapsed {}  ETA {}", stages,
                     s.failed_count(), s.running_count(), rate, clock_text(elapsed),
                     clock_text(eta));
}

void ProgressReporter::update(const Scheduler& s, bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!started_) {
    started_ = true;
    start_ = now;
    last_ = now - std::chrono::hours(1);
    done_at_start_ = s.done_count();
  }
  const double since_last = std::chrono::duration<double>(now - last_).count();
  if (!force && since_last < (tty_ ? 0.25 : 30.0)) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double done_here = static_cast<double>(s.done_count() - done_at_start_);
  const double rate = elapsed > 0 ? done_here / elapsed : 0;
  const double eta = estimate_eta(s.cost_left(), measured_, elapsed);
  const std::string line = summary_line(s, elapsed, rate, eta);
  if (tty_) {
    const double fraction =
        s.total() ? double(s.done_count() + s.failed_count()) / double(s.total()) : 1.0;
    const int width = 24;
    const int filled = static_cast<int>(fraction * width);
    std::fprintf(stderr, "\r\033[K[%s%s] %3.0f%% %s", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), fraction * 100, line.c_str());
    std::fflush(stderr);
    drawn_ = true;
  } else {
    log::info("progress: {}", line);
  }
}

void ProgressReporter::task_finished(TaskKind kind, double cost, double seconds) {
  if (!enabled_ || !(seconds >= 0) || !(cost >= 0)) return;
  KindRate& m = measured_[kind];
  m.cost += cost;
  m.seconds += seconds;
}

void ProgressReporter::finish(const Scheduler& s) {
  if (!enabled_) return;
  update(s, true);
  if (tty_ && drawn_) std::fputc('\n', stderr);
}

}  // namespace fersweep::run
