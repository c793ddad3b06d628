#include "core/proc.h"

#include <fstream>
#include <string>

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

double peak_rss_mib() {
  return status_mib("VmHWM:");
}
double current_rss_mib() {
  return status_mib("VmRSS:");
}

}  // namespace fersweep::proc
