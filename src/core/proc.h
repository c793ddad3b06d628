// Memory figures of this process from /proc (Linux), for benchmarks and `synthetic-run --stats`.
#pragma once

namespace fersweep::proc {

/// Resident-set high-water mark (VmHWM) in MiB; 0 where /proc is not available.
double peak_rss_mib();
/// Current resident set (VmRSS) in MiB; 0 where /proc is not available.
double current_rss_mib();

}  // namespace fersweep::proc
