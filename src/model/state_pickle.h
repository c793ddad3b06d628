// A small, strict reader for the pickles torch.save writes for state dicts and torch.jit.save
// writes for modules (internal to model/).
#pragma once

#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "model/checkpoint.h"

namespace fersweep::model::detail {

/// Returns the bytes of storage record `data/<key>` as a 1-D uint8 CPU tensor.
using StorageLoader = std::function<at::Tensor(const std::string& key)>;

/// Interprets `pickle` (the archive's data.pkl) and returns its tensors in pickle order. Accepts
/// exactly what state dicts need: protocols 2-4, OrderedDict/dict, tuples, lists, ints, strings,
/// None, bools, torch storages as persistent ids and torch._utils tensor rebuild calls. A dict
/// holding the weights under "state_dict" or "model" is unwrapped. Everything else throws
/// ModelError starting with `file`.
StateDict unpickle_state_dict(std::string_view pickle, const std::string& file,
                              const StorageLoader& load_storage);

/// Interprets a TorchScript archive's data.pkl (torch.jit.save of a scripted or traced module):
/// a tree of `__torch__` module objects, each built from its attribute dict. Returns the tensor
/// attributes with nn.Module.state_dict's keys and order; other attributes are skipped. The
/// archive's code is never parsed or run (LibTorch's importer crashes on damaged archives).
StateDict unpickle_script_module(std::string_view pickle, const std::string& file,
                                 const StorageLoader& load_storage);

}  // namespace fersweep::model::detail
