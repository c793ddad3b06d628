// Memory figures of this process from /proc (Linux), for benchmarks and `synthetic-run --stats`,
// and the process's malloc settings.
#pragma once

#include <string>

namespace fersweep::proc {

/// This machine's host name (gethostname); empty when it cannot be read.
std::string host_name();

/// The malloc thresholds tune_allocator() sets, in bytes.
inline constexpr int kMmapThresholdBytes = 256 << 20;
inline constexpr int kTrimThresholdBytes = 512 << 20;

/// What tune_allocator() did.
enum class AllocatorTuning { applied, left_to_user, unsupported };

/// Sets glibc malloc's mmap threshold (256 MiB; 32 MiB where an older glibc refuses more) and
/// trim threshold (512 MiB) so that a training step's tensors are reused from the heap instead
/// of being unmapped and faulted in again every step (see proc.cpp for the measurement). Leaves
/// malloc alone when the user set any of its thresholds (MALLOC_MMAP_THRESHOLD_,
/// MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_, or glibc.malloc tunables in GLIBC_TUNABLES), and where
/// malloc is not glibc's or refuses (a sanitizer's). Call once, first thing in main, before any
/// threads start.
AllocatorTuning tune_allocator();

/// Resident-set high-water mark (VmHWM) in MiB; 0 where /proc is not available.
double peak_rss_mib();
/// Current resident set (VmRSS) in MiB; 0 where /proc is not available.
double current_rss_mib();

}  // namespace fersweep::proc
