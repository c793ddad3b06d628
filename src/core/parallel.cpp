// The thread-count rule.
#include "core/parallel.h"

#include <sched.h>

namespace fersweep {

int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int default_threads(int requested) {
  return requested > 0 ? requested : available_cpus();
}

}  // namespace fersweep
