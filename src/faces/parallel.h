// A minimal work-sharing loop for the faces module: items handed out one at a time to a few
// threads, the first exception rethrown on the calling thread after all have stopped.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace fersweep::faces {

/// Calls `body(state, item)` for every item in [0, count) on `threads` threads (<= 0: every
/// core; the calling thread is one of them). `make_state(thread_index)` is called once per thread
/// first, on that thread, so per-thread objects (detectors) live on the thread that uses them.
template <class MakeState, class Body>
void parallel_items(std::size_t count, int threads, MakeState&& make_state, Body&& body) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(
      std::min<std::size_t>(static_cast<std::size_t>(threads), std::max<std::size_t>(count, 1)));
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
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (auto& th : pool) th.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace fersweep::faces
