// libFuzzer target: sweep file text -> validated spec -> plan. Any input must end in a SweepSpec
// and a Plan, or in a fersweep::Error; anything else (a crash, a sanitizer report, another
// exception type) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "sweep/plan.h"
#include "sweep/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    // The label's directory is the base for relative paths; nothing is read from it.
    const fersweep::sweep::SweepSpec spec =
        fersweep::sweep::parse_sweep(text, "/nonexistent/fuzz.yaml");
    // Big grids are valid (up to 50 million combinations) and expand in linear time; a
    // several-second expansion per input would only slow the fuzzer down, so they stop here.
    double combinations = 1;
    for (const auto& [key, values] : spec.canonical.at("grid").items())
      if (values.is_array()) combinations *= static_cast<double>(values.size());
    const auto& search = spec.canonical.at("search");  // sampled points are one more axis
    if (search.at("method") != "grid") combinations *= search.at("samples").get<double>();
    if (combinations > 20000) return 0;
    const fersweep::sweep::Plan plan = fersweep::sweep::plan_sweep(spec);
    (void)plan;
  } catch (const fersweep::Error&) {
    // Rejected with a message: the expected outcome for most inputs.
  }
  return 0;
}
