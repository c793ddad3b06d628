// Reading weight files: torch.save state dicts (zip + pickle, as torchvision ships them) and
// TorchScript archives, into a plain list of named tensors.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fersweep::model {

/// Named tensors in the order the file stores them (torchvision's state_dict order).
using StateDict = std::vector<std::pair<std::string, at::Tensor>>;

/// Reads a `torch.save(model.state_dict(), path)` file (zip archive with a pickled OrderedDict)
/// or a `torch.jit.save` TorchScript archive; tensors come back on the CPU. Any unreadable,
/// truncated, legacy-format or unsupported content is a ModelError naming the file.
StateDict read_checkpoint(const std::filesystem::path& path);

/// read_checkpoint for a file already in memory (`label` names it in messages); the buffer must
/// outlive the call only (tensors are copied out of it or own their records).
StateDict read_checkpoint_bytes(std::string_view bytes, const std::string& label);

/// The tensor stored under `key`, or an undefined tensor.
at::Tensor find_tensor(const StateDict& state, const std::string& key);

}  // namespace fersweep::model
