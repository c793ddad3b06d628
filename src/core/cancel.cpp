// The cancellation deadline: one atomic of monotonic-clock nanoseconds, written from signal
// handlers (clock_gettime is async-signal-safe) and read at cancellation points.
#include "core/cancel.h"

#include <fmt/format.h>
#include <time.h>

#include <atomic>
#include <cstdint>
#include <limits>

namespace fersweep {
namespace {
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
std::atomic<std::int64_t> g_deadline_ns{kNever};
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

std::int64_t now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

void cancel_after(double seconds_from_now) noexcept {
  const double ns = seconds_from_now > 0 ? seconds_from_now * 1e9 : 0.0;
  const std::int64_t wanted = ns >= 1e18 ? kNever - 1 : now_ns() + static_cast<std::int64_t>(ns);
  std::int64_t current = g_deadline_ns.load();
  while (wanted < current && !g_deadline_ns.compare_exchange_weak(current, wanted)) {
  }
}

bool cancel_due() noexcept {
  const std::int64_t deadline = g_deadline_ns.load(std::memory_order_relaxed);
  return deadline != kNever && now_ns() >= deadline;
}

bool stop_requested() noexcept {
  return g_deadline_ns.load(std::memory_order_relaxed) != kNever;
}

void throw_if_cancelled(std::string_view what) {
  if (cancel_due())
    throw CancelledError(
        fmt::format("{} cancelled: stop requested and the grace period is over", what));
}

void reset_cancel() noexcept {
  g_deadline_ns = kNever;
}

}  // namespace fersweep
