// Signal handlers that only touch lock-free atomics.
#include "run/signals.h"

#include <atomic>
#include <csignal>
#include <cstdint>

#include "core/cancel.h"

namespace fersweep::run {
namespace {
std::atomic<int> g_requests{0};
std::atomic<int> g_signal{0};
std::atomic<std::int64_t> g_grace_ms{30'000};
static_assert(std::atomic<int>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

void on_signal(int sig) {
  g_signal.store(sig);
  const int before = g_requests.fetch_add(1);
  cancel_after(before == 0 ? static_cast<double>(g_grace_ms.load()) / 1000.0 : 0.0);
}
}  // namespace

void set_grace_period(double grace_seconds) {
  g_grace_ms = static_cast<std::int64_t>(grace_seconds * 1000.0);
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return so loops notice promptly
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // mpirun kills the whole job within a second of its own SIGTERM, but forwards SIGUSR1 to every
  // rank: job scripts that launch with mpirun ask for SIGUSR1 before the time limit.
  sigaction(SIGUSR1, &sa, nullptr);
}

int stop_requests() {
  return g_requests.load();
}
int last_stop_signal() {
  return g_signal.load();
}
void reset_stop_requests() {
  g_requests = 0;
  g_signal = 0;
  reset_cancel();
}

}  // namespace fersweep::run
