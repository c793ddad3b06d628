// libFuzzer target: data.pkl bytes straight into the strict pickle interpreter (skipping the zip
// layer, so the fuzzer spends its time on opcodes). Every storage record is 64 bytes.
#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "model/state_pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto storage = [](const std::string&) { return at::zeros({64}, at::kByte); };
  try {
    const auto state = fersweep::model::detail::unpickle_state_dict(
        std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.pth", storage);
    (void)state;
  } catch (const fersweep::Error&) {
  }
  return 0;
}
