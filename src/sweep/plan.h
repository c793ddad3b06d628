// Expansion of a validated sweep into the task DAG: crop → extract → train, with stable ids.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sweep/spec.h"

namespace fersweep::sweep {

/// 16 lowercase hex characters: the start of sha256(canonical JSON of the task's params).
using TaskId = std::string;

/// Crops the dataset's faces once per (dataset, detector configuration).
struct CropTask {
  TaskId id;
  std::string variant;  ///< the first variant (in file order) with this configuration
  /// The variant's settings, fully defaulted (detector, margin, square, select, align, fallback,
  /// min_size, qc, model, boxes, cascade — paths as written, see SweepSpec::resolve_path), plus
  /// `dataset` {root, classes, skip_bad_images}. The variant's name is not part of it.
  nlohmann::json params;
};

/// Computes frozen-backbone features once per (backbone, weights, images, preprocessing).
struct ExtractTask {
  TaskId id;
  std::string backbone;
  std::string weights;  ///< auto | random | random:SEED | an absolute path (resolved)
  std::string variant;  ///< the first variant (in file order) that uses these features
  int image_size = 224;
  std::string normalize;
  std::optional<int> fold;     ///< set only when normalize == dataset (statistics of the fold's
                               ///< training images)
  int repeat = 0;              ///< meaningful only together with fold
  std::optional<TaskId> crop;  ///< the crop task whose images are read; none for `{}` variants
  /// head: pooled features; layer4, layer3, all: the input of the blocks a fine-tuning task
  /// trains (the activations entering them; for all, the normalised images).
  std::string cut = "head";
  /// {backbone, weights (as written), image_size, normalize, crop (id or null), dataset, and
  /// fold, repeat, folds, cv_seed when normalize == dataset, and cut unless head}.
  nlohmann::json params;
};

/// Number of training parameters that come from the grid (backbone ... seed, see TrainValues).
inline constexpr std::size_t kTrainValueKeys = 23;

/// The distinct values of the grid-driven training parameters, shared by all train tasks of a
/// plan: a task stores one small index per parameter instead of its own JSON object (a 100,000-task
/// plan would otherwise hold ~2 KB of JSON per task).
struct TrainValues {
  /// Parameter names: backbone, variant, weights, image_size, normalize, head, hidden, optimizer,
  /// lr, weight_decay, momentum, batch_size, standardize, label_smoothing, seed, and the
  /// fine-tuning ones: finetune, bn, backbone_lr, schedule, lr_horizon, lr_step, lr_gamma; and
  /// augment.
  std::array<std::string, kTrainValueKeys> keys;
  std::array<std::vector<nlohmann::json>, kTrainValueKeys> values;  ///< distinct values per key
  /// The sweep's cv scheme (sweep::cv_scheme_params), the same for every task; null for
  /// stratified K-fold.
  nlohmann::json cv;
  /// select.val_fraction, the same for every task; null without `select:`.
  nlohmann::json val_fraction;
};

/// Trains one head on one fold; evaluated at each of `epochs` during a single run.
struct TrainTask {
  /// Marks a parameter the task does not use (hidden without an mlp head, momentum without sgd).
  static constexpr std::uint32_t kAbsent = 0xffffffffu;

  TaskId id;
  TaskId extract;
  std::vector<int> epochs;  ///< sorted, unique
  int fold = 0;
  int repeat = 0;
  int folds = 0;
  std::uint64_t cv_seed = 0;
  std::uint64_t seed = 0;  ///< the id read as a 64-bit number: depends on params, never on epochs
  std::size_t extract_index = 0;  ///< index of `extract` in Plan::extracts
  std::shared_ptr<const TrainValues> values;
  std::array<std::uint32_t, kTrainValueKeys> value_index{};  ///< into values->values, or kAbsent

  /// Every parameter except epochs, rebuilt on demand (the id is the hash of this object):
  /// backbone, weights, variant, image_size, normalize, head, hidden (mlp only), optimizer, lr,
  /// weight_decay, momentum (sgd only), batch_size, standardize, label_smoothing, seed, fold,
  /// repeat, folds, cv_seed, cv (the scheme, when not stratified K-fold) and extract (the
  /// feature set's id). Fine-tuning tasks (finetune other than head) add finetune, bn,
  /// backbone_lr, schedule, and lr_horizon (cosine) or lr_step and lr_gamma (step); head tasks
  /// carry none of them, so their ids are those of versions without fine-tuning. A task with
  /// augmentation adds augment (and the schedule's keys, also with finetune: head); its extract
  /// is the normalised images (cut all), which it augments and sends through the network itself.
  nlohmann::json params() const;
  /// One parameter of params() without building the object; null when the task lacks it.
  nlohmann::json param(std::string_view key) const;
};

/// One grid axis: its key and how many values it takes in the main grid.
struct GridAxis {
  std::string key;
  std::size_t values = 0;
};

/// The expanded sweep.
struct Plan {
  SweepSpec spec;
  std::vector<CropTask> crops;
  std::vector<ExtractTask> extracts;
  std::vector<TrainTask> trains;
  int folds = 5;
  std::vector<std::uint64_t> cv_seeds;  ///< one per repeat: cv.seed + repeat
  /// dataset.classes when the file lists them; empty means "every class folder, sorted".
  std::vector<std::string> classes;

  std::vector<GridAxis> axes;         ///< axes of the main grid with more than one value
  std::size_t combinations = 0;       ///< main-grid combinations (epochs included, repeats not)
  std::size_t excluded = 0;           ///< of those, removed by exclude
  std::size_t included = 0;           ///< combinations added by include entries
  std::vector<std::string> warnings;  ///< spec warnings plus excludes that match nothing

  /// Number of (train task, epoch) evaluations.
  std::size_t evaluations() const;
};

/// The largest grid plan_sweep expands (combinations x epochs x repeats), far above any real
/// sweep; beyond it the grid is almost certainly a mistake and would exhaust memory.
inline constexpr std::size_t kMaxGridSize = 50'000'000;

/// Expands the grid, applies exclude and include, merges epochs, builds the crop/extract/train
/// DAG. Throws ConfigError (naming the exclude section) when nothing is left to run.
Plan plan_sweep(const SweepSpec& spec);

/// The canonical text of a JSON value: sorted keys, no spaces, shortest round-trip numbers.
std::string canonical_json(const nlohmann::json& value);
/// First 16 hex characters of sha256(canonical_json(params)).
TaskId task_id(const nlohmann::json& params);
/// The 64-bit number spelled by a task id.
std::uint64_t seed_from_id(const TaskId& id);

/// Whether a train task runs alone on a worker: it fine-tunes blocks or augments its images.
bool runs_alone(const TrainTask& t);
/// early_stop's bracket of a train task: the tasks ranked together at each rung. Heads: those of
/// one feature set, fold and repeat (one worker trains them together). Tasks that run alone:
/// those on the same images (the feature set's parameters but its cut), fold and repeat, so
/// layer3, layer4 and augmented configurations compete; never in a bracket with heads.
std::string bracket_of(const Plan& plan, const TrainTask& t);

}  // namespace fersweep::sweep
