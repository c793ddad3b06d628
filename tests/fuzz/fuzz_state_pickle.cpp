// libFuzzer target: data.pkl bytes straight into the strict pickle interpreter (skipping the zip
// layer, so the fuzzer spends its time on opcodes), read both as a state dict and as a
// TorchScript module tree. Every storage record is 64 bytes.
#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "model/state_pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto storage = [](const std::string&) { return at::zeros({64}, at::kByte); };
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (const auto read : {&fersweep::model::detail::unpickle_state_dict,
                          &fersweep::model::detail::unpickle_script_module}) {
    try {
      const auto state = read(bytes, "fuzz.pth", storage);
      (void)state;
    } catch (const fersweep::Error&) {
    }
  }
  return 0;
}
