// How a rank waiting for a message polls: it yields the core for the first `spin` seconds (the next
// message is usually microseconds away, and a sleep costs 50+ us of timer slack), then sleeps
// `short_sleep` at a time until `settle` seconds, then `long_sleep`. MPI's blocking receive would
// spin a core that the node's other ranks need.
#pragma once

#include <chrono>
#include <thread>

namespace fersweep::run {

struct Backoff {
  double spin, settle;
  std::chrono::microseconds short_sleep, long_sleep;

  /// One wait step, `since` being when the wait began.
  void wait(std::chrono::steady_clock::time_point since) const {
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
    if (waited < spin)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(waited < settle ? short_sleep : long_sleep);
  }
};

/// The coordinator after its last message.
inline constexpr Backoff kCoordinatorBackoff{0.002, 0.05, std::chrono::microseconds(100),
                                             std::chrono::microseconds(1000)};
/// A worker waiting for its next tasks.
inline constexpr Backoff kWorkerBackoff{50e-6, 0.01, std::chrono::microseconds(20),
                                        std::chrono::microseconds(500)};

}  // namespace fersweep::run
