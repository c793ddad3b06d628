// The work-sharing loop: every item once, per-thread state, the first error rethrown after all
// threads stopped; the default thread count follows the CPUs this process may use.
#include "core/parallel.h"

#include <gtest/gtest.h>
#include <sched.h>

#include "common/test_support.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace fersweep {
namespace {

TEST(ParallelForEach, VisitsEveryItemOnceWithOneStatePerThread) {
  for (int threads : {1, 3, 8}) {
    std::vector<int> visits(1000, 0);
    std::mutex m;
    std::set<int> states;
    std::set<std::thread::id> ids;
    parallel_for_each(
        visits.size(), threads,
        [&](int t) {
          std::lock_guard<std::mutex> lock(m);
          EXPECT_TRUE(states.insert(t).second) << "state made twice for thread " << t;
          ids.insert(std::this_thread::get_id());
          return t;
        },
        [&](int& state, std::size_t i) {
          EXPECT_GE(state, 0);
          ++visits[i];  // each item is handed to one thread only
        });
    for (int v : visits) ASSERT_EQ(v, 1) << threads << " threads";
    EXPECT_EQ(states.size(), static_cast<std::size_t>(threads));
    EXPECT_EQ(ids.size(), static_cast<std::size_t>(threads));
  }
  int calls = 0;
  parallel_for_each(0, 4, [&](std::size_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ParallelForEach, FirstErrorIsRethrownAndStopsTheRest) {
  // One thread: nothing after the failing item runs.
  int done = 0;
  EXPECT_THROW(parallel_for_each(100, 1,
                                 [&](std::size_t i) {
                                   if (i == 10) throw std::runtime_error("item 10 is bad");
                                   ++done;
                                 }),
               std::runtime_error);
  EXPECT_EQ(done, 10);
  // Four threads on 2,000 items of 1 ms: the others stop after their current item.
  std::atomic<int> finished{0};
  try {
    parallel_for_each(2000, 4, [&](std::size_t i) {
      if (i == 10) throw std::runtime_error("item 10 is bad");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      ++finished;
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "item 10 is bad");
  }
  EXPECT_LT(finished.load(), 1000) << "the other threads went on after the error";
}

TEST(ParallelForEach, DefaultThreadsAreTheCpusThisProcessMayUse) {
  EXPECT_EQ(default_threads(5), 5);
  cpu_set_t all;
  ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
  EXPECT_EQ(default_threads(0), CPU_COUNT(&all));
  test_support::ScopedOneCpu bound;  // e.g. mpirun bound the rank to one core
  EXPECT_EQ(default_threads(0), 1);
  EXPECT_EQ(available_cpus(), 1);
}

}  // namespace
}  // namespace fersweep
