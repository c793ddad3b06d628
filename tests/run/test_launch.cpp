// Torch threads per rank: cores shared by the working ranks on a node.
#include "run/launch.h"

#include <gtest/gtest.h>

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
  // Alone: every core.
  EXPECT_EQ(threads_for_rank(0, on_node(0, 1, 1, true)), cores);
  // Coordinator + 1 worker on one node: the worker gets every core (the coordinator waits).
  EXPECT_EQ(threads_for_rank(0, on_node(1, 2, 2, true)), cores);
  // Coordinator + 2 workers: half each.
  EXPECT_EQ(threads_for_rank(0, on_node(2, 3, 3, true)), std::max(1, cores / 2));
  // A node without the coordinator: its 2 ranks are both workers.
  EXPECT_EQ(threads_for_rank(0, on_node(3, 5, 2, false)), std::max(1, cores / 2));
  // More workers than cores: at least one thread each.
  EXPECT_EQ(threads_for_rank(0, on_node(5, 2 * cores + 2, 2 * cores + 2, true)), 1);
  // An explicit --threads wins.
  EXPECT_EQ(threads_for_rank(7, on_node(1, 3, 3, true)), 7);
}

}  // namespace
}  // namespace fersweep::run
