// Typed settings of a sweep's stages, filled once by the sweep loader (sweep/spec.cpp validates the
// file and reports errors with their positions; these structs hold the result). The stages' own
// modules own theirs where they are used without a sweep: faces/settings.h (crop variants),
// train/settings.h (heads). Each struct has one field list — its NLOHMANN_DEFINE_TYPE line — that
// serves JSON in both directions, and its member initialisers are the one place each default is
// written. No LibTorch here.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/json_optional.h"
#include "train/settings.h"

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

/// `dataset:`, read from the validated file (dataset.root as written, normalised; the resolved
/// path is SweepSpec::dataset_root).
struct DatasetSettings {
  std::string root;
  /// The class folders studied, in label order; none: every class folder, sorted.
  std::optional<std::vector<std::string>> classes;
  int image_size = 224;
  std::string normalize = "imagenet";  ///< imagenet | dataset | minmax
  bool skip_bad_images = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DatasetSettings, root, classes, image_size,
                                                normalize, skip_bad_images)

/// `cv:` — stratified K-fold cross-validation, repeated with seeds seed, seed + 1, ...
struct CvSettings {
  int folds = 5;
  std::uint64_t seed = 0;
  int repeats = 1;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CvSettings, folds, seed, repeats)

/// `train:` and the training grid keys (train/settings.h owns the struct).
using train::TrainSettings;

/// An extract task's parameters as the executor reads them. sweep/plan.cpp writes them (their
/// JSON is what the task id hashes); the weights come located in the run's context
/// (run/sweep_run.cpp).
struct ExtractSettings {
  std::string backbone = "resnet18";
  std::string weights = "auto";  ///< as written in the sweep file
  int image_size = DatasetSettings{}.image_size;
  std::string normalize = DatasetSettings{}.normalize;
  std::optional<std::string> crop;  ///< the crop task whose crops are read; none: whole images
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ExtractSettings, backbone, weights, image_size,
                                                normalize, crop)

/// Which fold of which cross-validation split: a train task's, and an extract task's with
/// normalize: dataset (the fold whose training images give the statistics).
struct FoldSettings {
  int fold = 0;
  int repeat = 0;
  int folds = 5;              ///< cv.folds
  std::uint64_t cv_seed = 0;  ///< cv.seed + repeat
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FoldSettings, fold, repeat, folds, cv_seed)

}  // namespace fersweep::sweep
