// The one work-sharing loop of the code base (dataset scans, image decoding, the demo dataset,
// face detection) and the one rule for "how many threads when not told".
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace fersweep {

/// CPUs in this process's affinity mask (a launcher's binding, a cgroup's cpuset), or every
/// core of the machine when that is unknown; at least 1.
int available_cpus();

/// `requested` when > 0, else available_cpus(): the thread count of work that may use the whole
/// machine unless told otherwise.
int default_threads(int requested);

/// Calls `body(state, item)` for every item in [0, count) on up to `threads` threads
/// (default_threads(threads); the calling thread is one of them). `make_state(thread_index)` runs
/// once per thread, on that thread, so per-thread objects (detectors, buffers) live where they
/// are used. Items are handed out one at a time, so uneven items balance. The first exception
/// stops the other threads after their current item and is rethrown on the calling thread once
/// every thread has stopped.
template <class MakeState, class Body>
void parallel_for_each(std::size_t count, int threads, MakeState&& make_state, Body&& body) {
  const auto n = static_cast<int>(std::min<std::size_t>(
      static_cast<std::size_t>(default_threads(threads)), std::max<std::size_t>(count, 1)));
  std::atomic<std::size_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr first_error;
  auto worker = [&](int t) {
    try {
      auto state = make_state(t);
      for (std::size_t i = next++; i < count; i = next++) body(state, i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      next = count;  // the others stop after their current item
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (auto& th : pool) th.join();
  if (first_error) std::rethrow_exception(first_error);
}

/// parallel_for_each without per-thread state: `body(item)`.
template <class Body>
void parallel_for_each(std::size_t count, int threads, Body&& body) {
  parallel_for_each(
      count, threads, [](int) { return 0; }, [&body](int, std::size_t i) { body(i); });
}

}  // namespace fersweep
