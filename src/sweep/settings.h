// Typed settings of a sweep's stages, filled once by the sweep loader (sweep/spec.cpp validates the
// file and reports errors with their positions; these structs hold the result). Each struct has
// one field list — its NLOHMANN_DEFINE_TYPE line — that serves JSON in both directions, and its
// member initialisers are the one place each default is written. No LibTorch here.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace fersweep::sweep {

/// `run:` — how a sweep is run. `fersweep run` options (--retries, --threads, --device, --grace)
/// override each field; docs/sweep-files.md documents them.
struct RunSettings {
  int retries = 2;              ///< extra attempts per task after a failure
  int threads = 0;              ///< torch threads per rank; 0: cores / worker ranks on the node
  std::string device = "auto";  ///< auto (CUDA when available), cpu, cuda
  double grace_period = 30;     ///< seconds after SIGTERM/SIGINT until running tasks are abandoned
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RunSettings, retries, threads, device, grace_period)

/// The head-training parameters of one train task, read from its parameters (the task id is the
/// hash of those, so keys a task does not use — hidden without an mlp head, momentum without
/// sgd — are absent there and take these defaults). `train:` in a sweep file gives the same keys.
struct TrainSettings {
  std::string head = "linear";  ///< linear | mlp
  int hidden = 512;             ///< mlp hidden units
  std::string optimizer = "adam";
  double lr = 0.01;
  double weight_decay = 0.001;
  double momentum = 0.9;  ///< sgd only
  int batch_size = 256;
  bool standardize = false;
  double label_smoothing = 0.0;
  std::uint64_t seed = 0;  ///< the `seed:` parameter (part of the id)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrainSettings, head, hidden, optimizer, lr,
                                                weight_decay, momentum, batch_size, standardize,
                                                label_smoothing, seed)

}  // namespace fersweep::sweep
