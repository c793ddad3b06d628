// proc::tune_allocator on glibc's real malloc (this test is built without the sanitizers, whose
// allocator replaces glibc's): a freed block of an activation's size is reused, not handed back
// to the kernel and faulted in again; the user's own malloc settings are left alone.
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "core/proc.h"

namespace fersweep::proc {
namespace {

void* volatile sink;  // keeps the compiler from eliding malloc, memset and free

// Minor page faults of `rounds` rounds of allocating, filling and freeing `bytes`.
long faults_of_rounds(std::size_t bytes, int rounds) {
  auto faults = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
  };
  const long before = faults();
  for (int r = 0; r < rounds; ++r) {
    void* p = std::malloc(bytes);
    sink = p;
    std::memset(p, r + 1, bytes);
    std::free(sink);
  }
  return faults() - before;
}

TEST(MallocTuning, AFreedBlockOfAnActivationsSizeIsReusedNotFaultedInAgain) {
  // Small pages throughout (with transparent huge pages a 64 MiB mapping takes only dozens of
  // faults, and the untuned case could not be told from the tuned one).
  ASSERT_EQ(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0), 0);
  // 64 MiB: a ResNet-50 layer4 input of 64 images at 224 px. glibc's dynamic thresholds stop
  // at 32 MiB, so untuned every round maps and faults in all its pages again.
  constexpr std::size_t kBytes = 64 << 20;
  const long pages = static_cast<long>(kBytes) / sysconf(_SC_PAGESIZE);
  EXPECT_GT(faults_of_rounds(kBytes, 3), 3 * pages * 9 / 10) << "untuned glibc malloc";
  if (tune_allocator() != AllocatorTuning::applied)
    GTEST_SKIP() << "malloc is not glibc's: nothing to tune";
  faults_of_rounds(kBytes, 1);  // the heap grows once
  EXPECT_LT(faults_of_rounds(kBytes, 3), pages / 10);
}

TEST(MallocTuning, LeavesMallocToTheUsersOwnSettings) {
  ASSERT_EQ(setenv("MALLOC_TRIM_THRESHOLD_", "1000000", 1), 0);
  EXPECT_EQ(tune_allocator(), AllocatorTuning::left_to_user);
  ASSERT_EQ(unsetenv("MALLOC_TRIM_THRESHOLD_"), 0);
  ASSERT_EQ(setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=1000000", 1), 0);
  EXPECT_EQ(tune_allocator(), AllocatorTuning::left_to_user);
  ASSERT_EQ(unsetenv("GLIBC_TUNABLES"), 0);
  ASSERT_EQ(setenv("MALLOC_MMAP_THRESHOLD_", "131072", 1), 0);
  EXPECT_EQ(tune_allocator(), AllocatorTuning::left_to_user);
  ASSERT_EQ(unsetenv("MALLOC_MMAP_THRESHOLD_"), 0);
}

}  // namespace
}  // namespace fersweep::proc
