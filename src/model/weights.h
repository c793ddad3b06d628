// Choosing backbone weights: torchvision's files found automatically, a given path, or seeded
// random weights; strict checking of a state dict against an architecture.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "model/arch.h"
#include "model/checkpoint.h"

namespace fersweep::model {

/// What the user asked for (`weights:` in a sweep, `--weights` on the command line).
struct WeightsSpec {
  enum Kind { automatic, random, file } kind = automatic;
  std::filesystem::path path;  ///< for `file`
  std::uint64_t seed = 0;      ///< for `random`
};

/// "auto", "random", "random:SEED" or a file path; ConfigError on an empty string or a bad seed.
WeightsSpec parse_weights(const std::string& text);

/// Loaded, checked weights and where they came from.
struct ResolvedWeights {
  std::string origin;  ///< the file path, or "random weights (seed N)"
  std::string sha256;  ///< of the file; for random weights, of the generated tensors
  bool random = false;
  StateDict state;
};

/// A weights file found and hashed, not yet loaded.
struct WeightsFile {
  std::filesystem::path path;
  std::string sha256;
};

/// The file `spec` names for `arch` and its sha256 (empty for random weights). For `automatic`
/// the file is torchvision's in torchvision_checkpoint_dir() and its sha256 must start with the
/// 8 hex digits torchvision puts in its name (ModelError "corrupt or incomplete" otherwise, and
/// when no file is there). Every path that names weights by their bytes (resolve_weights, the
/// feature-cache key) goes through here, so a damaged file gives the same answer whatever a
/// cache holds.
WeightsFile locate_weights(const WeightsSpec& spec, Arch arch);

/// Loads the weights `spec` names for `arch` and checks them strictly (check_state_dict).
/// `automatic` looks for torchvision's file names in $TORCH_HOME/hub/checkpoints (default
/// $XDG_CACHE_HOME/torch or ~/.cache/torch) and checks the sha256 prefix torchvision puts in
/// the name; ModelError saying which file to put where when none is there.
ResolvedWeights resolve_weights(const WeightsSpec& spec, Arch arch);

/// The folder `auto` searches.
std::filesystem::path torchvision_checkpoint_dir();

/// Seeded random weights initialised as torchvision initialises a fresh model (Kaiming-normal
/// fan-out convolutions, BatchNorm 1/0 with running statistics 0/1, default Linear fc).
StateDict random_state_dict(Arch arch, std::uint64_t seed);

/// Throws ModelError (starting with `origin`) listing every missing key, unexpected key, shape
/// mismatch and dtype mismatch of `state` against torchvision's layout for `arch`. fc.* may be
/// absent or have any number of classes; num_batches_tracked may be absent.
void check_state_dict(const StateDict& state, Arch arch, const std::string& origin);

/// SHA-256 over the keys, shapes, dtypes and bytes of a state dict.
std::string state_dict_sha256(const StateDict& state);

}  // namespace fersweep::model
