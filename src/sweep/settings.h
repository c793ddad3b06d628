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
#include "data/settings.h"
#include "train/settings.h"

namespace fersweep::sweep {

/// `run:` — how a sweep is run. `fersweep run` options (--retries, --threads, --device, --grace)
/// override each field; docs/sweep-files.md documents them.
struct RunSettings {
  int retries = 2;              ///< extra attempts per task after a failure
  int threads = 0;              ///< torch threads per rank; 0: cores / worker ranks on the node
  std::string device = "auto";  ///< auto (CUDA when available), cpu, cuda
  double grace_period = 30;     ///< seconds after SIGTERM/SIGINT until running tasks are abandoned
  /// Intra-op threads of a fine-tuning task, whatever the rank's share of the cores: LibTorch
  /// sums convolution gradients in an order that depends on the thread count, so a fixed count
  /// keeps a task's results the same on any number of ranks.
  int finetune_threads = 4;
  /// Trained networks kept as files torch.load reads (DIR/models/): none, all (every train
  /// task's), or best (the folds of the configuration fersweep report's best table names).
  std::string keep_models = "none";
  /// How often a long task (fine-tuning) sends its state to rank 0 (run/checkpoints.h): a
  /// duration (`90s`, `10min`, `2h`; `0` at every epoch end) or `off`. See checkpoint_seconds.
  std::string checkpoint_every = "10min";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RunSettings, retries, threads, device, grace_period,
                                                finetune_threads, keep_models, checkpoint_every)

/// run.checkpoint_every in seconds (-1 for `off`); nullopt when it is not a duration: a
/// non-negative number followed by s, min or h (a bare 0 too).
std::optional<double> checkpoint_seconds(const std::string& every);

/// `dataset:` (data/settings.h owns the struct: root, classes, format and its options, image
/// preparation).
using data::DatasetSettings;

/// How samples are split, beyond plain stratified K-fold: one field or none set.
struct CvScheme {
  std::string group;  ///< "subject": stratified group K-fold (no subject in two folds)
  std::string split;  ///< "official": the dataset's own train/test split, one "fold"
  std::string test;   ///< with split: official, the test part (the format's default when "")
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CvScheme, group, split, test)

/// `cv:` — stratified K-fold cross-validation, repeated with seeds seed, seed + 1, ...; or one
/// of the schemes in CvScheme.
struct CvSettings : CvScheme {
  int folds = 5;
  std::uint64_t seed = 0;
  int repeats = 1;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CvSettings, folds, seed, repeats, group, split,
                                                test)

/// The scheme's part of a task's parameters: null for plain stratified K-fold (task ids stay
/// those of fersweep versions without schemes), else {group} or {split, test}.
inline nlohmann::json cv_scheme_params(const CvScheme& scheme) {
  nlohmann::json out = nlohmann::json::object();
  if (!scheme.group.empty()) out["group"] = scheme.group;
  if (!scheme.split.empty()) out["split"] = scheme.split;
  if (!scheme.test.empty()) out["test"] = scheme.test;
  return out.empty() ? nlohmann::json() : out;
}

/// `train:` and the training grid keys (train/settings.h owns the struct).
using train::TrainSettings;

/// `select:` — unbiased model selection. Each training fold gives up a stratified, seeded
/// validation part (data::validation_split: the same rows for every configuration of that fold and
/// repeat); heads train on the rest and are evaluated on both parts. The report chooses a
/// configuration per outer fold by `metric` on the validation part and gives its test score
/// (nested cross-validation). `val_fraction` is a task parameter (it changes what a head trains
/// on); `metric` is not (it changes only what is chosen).
struct SelectSettings {
  std::string metric = "val_accuracy";  ///< val_accuracy | val_macro_f1 (higher is better)
  double val_fraction = 0.2;            ///< in (0, 0.5]: the training fold's share set aside
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SelectSettings, metric, val_fraction)
/// The values of SelectSettings::metric.
inline const std::vector<std::string>& select_metric_names() {
  static const std::vector<std::string> names = {"val_accuracy", "val_macro_f1"};
  return names;
}

/// `early_stop:` — synchronous successive halving of the head tasks of a bracket (the tasks
/// sharing a feature set, fold and repeat): when all of them have reached a rung, the best
/// max(1, n / eta) by the validation `metric` at that rung continue (ties: lower task id first),
/// the others stop there. Decisions depend on results only, never on timing or rank count.
struct EarlyStopSettings {
  std::string method = "halving";  ///< halving | median (at or above the bracket's median)
  std::vector<int> rungs;          ///< strictly increasing epochs, the last <= the sweep's last
  int eta = 3;                     ///< >= 2: 1/eta of a rung's configurations continue (halving)
  std::string metric = "val_accuracy";  ///< val_accuracy | val_macro_f1 (needs select:)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EarlyStopSettings, method, rungs, eta, metric)

/// An extract task's parameters as the executor reads them. sweep/plan.cpp writes them (their
/// JSON is what the task id hashes); the weights come located in the run's context
/// (run/sweep_run.cpp).
struct ExtractSettings {
  std::string backbone = "resnet18";
  std::string weights = "auto";  ///< as written in the sweep file
  int image_size = DatasetSettings{}.image_size;
  std::string normalize = DatasetSettings{}.normalize;
  std::optional<std::string> crop;  ///< the crop task whose crops are read; none: whole images
  /// head: pooled features; layer4 / layer3: the activations entering that stage, for
  /// fine-tuning tasks (model::Cut). Absent from a task's parameters when head, so feature
  /// sets keep the ids of versions without fine-tuning.
  std::string cut = "head";
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ExtractSettings, backbone, weights, image_size,
                                                normalize, crop, cut)

/// Which fold of which cross-validation split: a train task's, and an extract task's with
/// normalize: dataset (the fold whose training images give the statistics).
struct FoldSettings {
  int fold = 0;
  int repeat = 0;
  int folds = 5;               ///< cv.folds (1 with split: official)
  std::uint64_t cv_seed = 0;   ///< cv.seed + repeat
  std::optional<CvScheme> cv;  ///< none: stratified K-fold
  /// select.val_fraction: the training fold's share set aside for validation; 0 (absent from a
  /// task's parameters, so ids without select: stay as they were) for none.
  double val_fraction = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FoldSettings, fold, repeat, folds, cv_seed, cv,
                                                val_fraction)

}  // namespace fersweep::sweep
