#include "core/proc.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unistd.h>

namespace fersweep::proc {
namespace {

// The value of a "Key:   1234 kB" line of /proc/self/status, in MiB.
double status_mib(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size())) / 1024.0;
  return 0;
}

}  // namespace

std::string host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "";
  return host;
}

double peak_rss_mib() {
  return status_mib("VmHWM:");
}
double current_rss_mib() {
  return status_mib("VmRSS:");
}

// glibc serves a request above M_MMAP_THRESHOLD with its own mmap and hands the top of the heap
// back to the kernel once more than M_TRIM_THRESHOLD of it is free. Its dynamic thresholds stop
// at 32 MiB and twice that, and a training step frees its activations and gradients (hundreds of
// MB) together at the end of every step, so they were handed back and faulted in, zeroed, again
// on the next. Training ResNet-50's layer4 + head on 128 activations (batch 32, 2 threads, 5
// epochs in all) took 1.03 M page faults and 2.77 s an epoch, against 0.23 M and 1.92 s with
// these settings (peak RSS +5%); the python3-torch peer shows the same, 2.29 s → 1.93 s
// (docs/training.md). Setting only one of the two fixes the other at its static default
// (128 KiB) and is much worse (6.7 M faults), so both or neither.
AllocatorTuning tune_allocator() {
#if defined(__GLIBC__)
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"})
    if (std::getenv(name)) return AllocatorTuning::left_to_user;
  if (const char* tunables = std::getenv("GLIBC_TUNABLES");
      tunables && std::strstr(tunables, "glibc.malloc."))
    return AllocatorTuning::left_to_user;
  // Older glibc refuses an mmap threshold above HEAP_MAX_SIZE / 2 (32 MiB); then 32 MiB, which
  // still keeps a batch-32 ResNet-50 layer4 step's tensors (25.7 MB at most) in the heap. A refusal
  // changes nothing, so the trim threshold is set only after one is accepted.
  if (mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes) != 1 &&
      mallopt(M_MMAP_THRESHOLD, 32 << 20) != 1)
    return AllocatorTuning::unsupported;
  if (mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes) != 1) return AllocatorTuning::unsupported;
  return AllocatorTuning::applied;
#else
  return AllocatorTuning::unsupported;
#endif
}

}  // namespace fersweep::proc
