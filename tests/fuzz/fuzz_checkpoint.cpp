// libFuzzer target: the bytes of a weights file -> LibTorch's zip reader -> our strict pickle
// reader (state dict or TorchScript module tree). Any input must give a StateDict or a
// fersweep::Error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "model/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto state = fersweep::model::read_checkpoint_bytes(
        std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.pth");
    (void)state;
  } catch (const fersweep::Error&) {
  }
  return 0;
}
