// Torch threads per rank: cores shared by the working ranks on a node.
#include "common/test_support.h"
#include "core/parallel.h"
#include "run/launch.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <thread>

namespace fersweep::run {
namespace {

comm::Placement on_node(int rank, int size, int local_size, bool coordinator_local) {
  comm::Placement p;
  p.rank = rank;
  p.size = size;
  p.local_size = local_size;
  p.coordinator_local = coordinator_local;
  p.mpi = size > 1;
  return p;
}

TEST(Launch, ThreadsShareTheNodesCoresAmongWorkers) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // The test process may itself be bound to fewer CPUs (taskset): that caps every answer.
  const int allowed = available_cpus();
  ASSERT_GE(allowed, 1);
  const auto capped = [&](int n) { return std::min(n, allowed); };
  // Alone: every core.
  EXPECT_EQ(threads_for_rank(0, on_node(0, 1, 1, true)), capped(cores));
  // Coordinator + 1 worker on one node: the worker gets every core (the coordinator waits).
  EXPECT_EQ(threads_for_rank(0, on_node(1, 2, 2, true)), capped(cores));
  // Coordinator + 2 workers: half each.
  EXPECT_EQ(threads_for_rank(0, on_node(2, 3, 3, true)), capped(std::max(1, cores / 2)));
  // A node without the coordinator: its 2 ranks are both workers.
  EXPECT_EQ(threads_for_rank(0, on_node(3, 5, 2, false)), capped(std::max(1, cores / 2)));
  // More workers than cores: at least one thread each.
  EXPECT_EQ(threads_for_rank(0, on_node(5, 2 * cores + 2, 2 * cores + 2, true)), 1);
  // An explicit --threads wins.
  EXPECT_EQ(threads_for_rank(7, on_node(1, 3, 3, true)), 7);
}

// A rank the launcher bound to one CPU (mpirun's default for 2 ranks) gets one thread.
TEST(Launch, BindingCapsTheThreads) {
  test_support::ScopedOneCpu bound;
  EXPECT_EQ(available_cpus(), 1);
  EXPECT_EQ(threads_for_rank(0, on_node(1, 2, 2, true)), 1);
  EXPECT_EQ(threads_for_rank(0, on_node(0, 1, 1, true)), 1);
  EXPECT_EQ(threads_for_rank(3, on_node(1, 2, 2, true)), 3);  // --threads still wins
}

}  // namespace
}  // namespace fersweep::run
