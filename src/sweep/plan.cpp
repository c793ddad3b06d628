// Grid expansion: Cartesian product of the axes (epochs innermost), exclude, include, epoch
// merging and de-duplication by task id, then the crop/extract/train DAG.
#include "sweep/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <unordered_map>

#include "core/error.h"
#include "core/hash.h"
#include "model/arch.h"
#include "sweep/sampling.h"

namespace fersweep::sweep {

using nlohmann::json;

std::string canonical_json(const json& value) {
  // nlohmann::json objects are std::maps: keys come out sorted; numbers use the shortest text
  // that reads back to the same double.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

TaskId task_id(const json& params) {
  return sha256_hex(canonical_json(params)).substr(0, 16);
}

std::uint64_t seed_from_id(const TaskId& id) {
  return std::stoull(id, nullptr, 16);
}

json TrainTask::params() const {
  json p = json::object();
  for (std::size_t k = 0; k < kTrainValueKeys; ++k)
    if (value_index[k] != kAbsent) p[values->keys[k]] = values->values[k][value_index[k]];
  p["fold"] = fold;
  p["repeat"] = repeat;
  p["folds"] = folds;
  p["cv_seed"] = cv_seed;
  if (!values->cv.is_null()) p["cv"] = values->cv;
  if (!values->val_fraction.is_null()) p["val_fraction"] = values->val_fraction;
  p["extract"] = extract;
  return p;
}

bool runs_alone(const TrainTask& t) {
  return !t.param("finetune").is_null() || !t.param("augment").is_null();
}

std::string bracket_of(const Plan& plan, const TrainTask& t) {
  if (!runs_alone(t)) return fmt::format("{}|{}|{}", t.extract, t.fold, t.repeat);
  json images = plan.extracts[t.extract_index].params;
  images.erase("cut");
  return fmt::format("alone|{}|{}|{}", images.dump(), t.fold, t.repeat);
}

json TrainTask::param(std::string_view key) const {
  for (std::size_t k = 0; k < kTrainValueKeys; ++k)
    if (values->keys[k] == key)
      return value_index[k] == kAbsent ? json() : values->values[k][value_index[k]];
  if (key == "fold") return fold;
  if (key == "repeat") return repeat;
  if (key == "folds") return folds;
  if (key == "cv_seed") return cv_seed;
  if (key == "cv") return values->cv;
  if (key == "val_fraction") return values->val_fraction;
  if (key == "extract") return extract;
  return json();
}

std::size_t Plan::evaluations() const {
  std::size_t n = 0;
  for (const auto& t : trains) n += t.epochs.size();
  return n;
}

namespace {

// The first kTrainValueKeys keys are the grid-driven training parameters (TrainValues order).
enum Key : std::size_t {
  kBackbone,
  kVariant,
  kWeights,
  kImageSize,
  kNormalize,
  kHead,
  kHidden,
  kOptimizer,
  kLr,
  kWeightDecay,
  kMomentum,
  kBatchSize,
  kStandardize,
  kLabelSmoothing,
  kSeed,
  kFinetune,
  kBn,
  kBackboneLr,
  kSchedule,
  kLrHorizon,
  kLrStep,
  kLrGamma,
  kAugment,
  kFold,
  kEpochs,
  kKeyCount
};

using Axes = std::vector<std::vector<json>>;  // indexed by Key

// One combination: a pointer to each key's value and to its canonical text.
struct Row {
  std::array<const json*, kKeyCount> value{};
  std::array<const std::string*, kKeyCount> text{};
  std::array<std::uint32_t, kKeyCount> interned{};  ///< index in TrainValues (grid params only)
};

struct Exclusion {
  std::vector<std::pair<std::size_t, std::vector<json>>> match;  // keys other than epochs
  std::vector<int> epochs;                                       // empty: every epoch
  std::size_t hits = 0;
};

std::size_t key_index(const std::string& key) {
  const auto& keys = grid_keys();
  auto it = std::find(keys.begin(), keys.end(), key);
  FERSWEEP_ASSERT(it != keys.end(), "unknown grid key " + key);
  return static_cast<std::size_t>(it - keys.begin());
}

class Expander {
 public:
  Expander(const SweepSpec& spec, Plan& plan) : spec_(spec), c_(spec.canonical), plan_(plan) {
    FERSWEEP_ASSERT(grid_keys().size() == kKeyCount, "grid key table and enum disagree");
    folds_ = spec.cv.folds;
    repeats_ = spec.cv.repeats;
    cv_seed_ = spec.cv.seed;
    dataset_ = {{"root", c_["dataset"]["root"]},
                {"classes", c_["dataset"]["classes"]},
                {"skip_bad_images", c_["dataset"]["skip_bad_images"]}};
    dataset_.update(data::layout_params(spec.dataset));
    values_->cv = cv_scheme_params(spec.cv);
    if (!values_->cv.is_null()) cv_text_ = canonical_json(values_->cv);
    if (spec.select) {
      values_->val_fraction = spec.select->val_fraction;
      val_text_ = canonical_json(values_->val_fraction);
    }
    for (const auto& v : spec.variants) crop_of_variant_[v] = crop_for(v);
    auto see_epochs = [this](const json& list) {
      for (const auto& e : list) last_epoch_ = std::max(last_epoch_, e.get<int>());
    };
    // The main grid's epochs (train.epochs unless the grid lists its own), and any include's.
    see_epochs(c_["grid"].contains("epochs") ? c_["grid"]["epochs"] : c_["train"]["epochs"]);
    for (const auto& entry : c_["include"])
      if (entry.contains("epochs")) see_epochs(entry["epochs"]);
    last_epoch_text_ = std::to_string(last_epoch_);
    static_assert(kAugment + 1 == kTrainValueKeys, "TrainValues holds the keys before fold");
    for (std::size_t k = 0; k < kTrainValueKeys; ++k) values_->keys[k] = grid_keys()[k];
    for (const auto& [backbone, w] : c_["weights"].items()) {
      weights_text_[backbone] = canonical_json(w);
      weights_index_[backbone] = intern(kWeights, w, weights_text_[backbone]);
    }
  }

  Axes defaults() const {
    Axes axes(kKeyCount);
    const json& train = c_["train"];
    axes[kBackbone] = {};
    for (const auto& v : spec_.variants) axes[kVariant].push_back(v);
    axes[kWeights] = {nullptr};  // from the weights section, per backbone
    axes[kImageSize] = {json(spec_.dataset.image_size)};
    axes[kNormalize] = {json(spec_.dataset.normalize)};
    for (std::size_t k : {kHead, kHidden, kOptimizer, kLr, kWeightDecay, kMomentum, kBatchSize,
                          kStandardize, kLabelSmoothing, kSeed, kFinetune, kBn, kBackboneLr,
                          kSchedule, kLrHorizon, kLrStep, kLrGamma, kAugment})
      axes[k] = {train[grid_keys()[k]]};
    for (int f = 0; f < folds_; ++f) axes[kFold].push_back(f);
    for (const auto& e : train["epochs"]) axes[kEpochs].push_back(e);
    return axes;
  }

  static Axes overlay(Axes axes, const json& lists) {
    for (const auto& [key, values] : lists.items())
      axes[key_index(key)] = std::vector<json>(values.begin(), values.end());
    return axes;
  }

  // Visits every combination; returns how many (combination, epoch) pairs it produced and how
  // many the exclusions removed. The `linked` keys (a sampled space) are one axis: their i-th
  // values together are point i.
  void expand(const Axes& axes, std::vector<Exclusion>* exclusions, std::size_t& produced,
              std::size_t& removed, const std::vector<std::size_t>& linked = {}) {
    std::vector<bool> follows(kKeyCount, false);
    for (std::size_t j = 1; j < linked.size(); ++j) follows[linked[j]] = true;
    std::vector<std::size_t> at(kKeyCount, 0);
    for (std::size_t k = 0; k < kEpochs; ++k)
      if (axes[k].empty()) return;
    // Canonical text of every axis value, computed once: the train ids are built from these
    // pieces instead of serialising each task's params (the planner's hot loop).
    std::vector<std::vector<std::string>> texts(kKeyCount);
    std::vector<std::vector<std::uint32_t>> interned(kKeyCount);
    for (std::size_t k = 0; k < kEpochs; ++k)
      for (const auto& v : axes[k]) {
        texts[k].push_back(canonical_json(v));
        interned[k].push_back(k < kTrainValueKeys ? intern(k, v, texts[k].back())
                                                  : TrainTask::kAbsent);
      }
    Row row;
    std::vector<int> epochs;
    while (true) {
      for (std::size_t k = 0; k < kEpochs; ++k) {
        row.value[k] = &axes[k][at[k]];
        row.text[k] = &texts[k][at[k]];
        row.interned[k] = interned[k][at[k]];
      }
      if (row.value[kWeights]->is_null()) {
        const std::string& backbone = row.value[kBackbone]->get_ref<const std::string&>();
        row.value[kWeights] = &c_["weights"][backbone];
        row.text[kWeights] = &weights_text_.at(backbone);
        row.interned[kWeights] = weights_index_.at(backbone);
      }
      epochs.clear();
      for (const auto& e : axes[kEpochs]) epochs.push_back(e.get<int>());
      produced += epochs.size();
      if (exclusions) {
        const std::size_t before = epochs.size();
        for (auto& ex : *exclusions) apply(ex, row.value, epochs);
        removed += before - epochs.size();
      }
      if (!epochs.empty())
        for (int r = 0; r < repeats_; ++r) add_train(row, epochs, r);
      // Next combination: the last axis varies fastest; linked keys follow the first of them.
      bool wrapped = true;
      for (std::size_t k = kEpochs; k-- > 0;) {
        if (follows[k]) continue;
        if (++at[k] < axes[k].size()) {
          wrapped = false;
          break;
        }
        at[k] = 0;
      }
      if (wrapped) return;
      for (std::size_t j = 1; j < linked.size(); ++j) at[linked[j]] = at[linked[0]];
    }
  }

  std::shared_ptr<const TrainValues> values() const { return values_; }

  void finish() {
    for (auto& t : plan_.trains) {
      // early_stop: a task is evaluated at every rung it reaches (the decisions read those).
      if (spec_.early_stop) {
        const int last = *std::max_element(t.epochs.begin(), t.epochs.end());
        for (int r : spec_.early_stop->rungs)
          if (r <= last) t.epochs.push_back(r);
      }
      std::sort(t.epochs.begin(), t.epochs.end());
      t.epochs.erase(std::unique(t.epochs.begin(), t.epochs.end()), t.epochs.end());
    }
  }

 private:
  static void apply(Exclusion& ex, const std::array<const json*, kKeyCount>& row,
                    std::vector<int>& epochs) {
    for (const auto& [k, values] : ex.match)
      if (std::find(values.begin(), values.end(), *row[k]) == values.end()) return;
    const std::size_t before = epochs.size();
    if (ex.epochs.empty()) {
      epochs.clear();
    } else {
      epochs.erase(std::remove_if(epochs.begin(), epochs.end(),
                                  [&](int e) {
                                    return std::find(ex.epochs.begin(), ex.epochs.end(), e) !=
                                           ex.epochs.end();
                                  }),
                   epochs.end());
    }
    ex.hits += before - epochs.size();
  }

  // Index of `value` (whose canonical text is `text`) among the distinct values of `key`.
  std::uint32_t intern(std::size_t key, const json& value, const std::string& text) {
    auto [it, fresh] =
        interned_[key].emplace(text, static_cast<std::uint32_t>(values_->values[key].size()));
    if (fresh) values_->values[key].push_back(value);
    return it->second;
  }

  std::optional<std::size_t> crop_for(const std::string& variant) {
    const json& settings = c_["variants"][variant];
    if (settings.empty()) return std::nullopt;
    json params = settings;
    params["dataset"] = dataset_;
    TaskId id = task_id(params);
    for (std::size_t i = 0; i < plan_.crops.size(); ++i)
      if (plan_.crops[i].id == id) return i;
    plan_.crops.push_back({id, variant, std::move(params)});
    used_crops_.push_back(false);
    return plan_.crops.size() - 1;
  }

  std::size_t extract_for(const std::array<const json*, kKeyCount>& row, int repeat) {
    const bool per_fold = *row[kNormalize] == "dataset";
    const int fold = per_fold ? row[kFold]->get<int>() : -1;
    const int rep = per_fold ? repeat : -1;
    // Augmented images go through the whole network each epoch: the extract is the images.
    const std::string& cut = row[kAugment]->empty() ? row[kFinetune]->get_ref<const std::string&>()
                                                    : model::cut_name(model::Cut::all);
    std::string key =
        fmt::format("{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}", row[kBackbone]->get_ref<const std::string&>(),
                    row[kWeights]->get_ref<const std::string&>(),
                    row[kVariant]->get_ref<const std::string&>(), row[kImageSize]->get<int>(),
                    row[kNormalize]->get_ref<const std::string&>(), fold, rep, cut);
    auto it = extract_by_key_.find(key);
    if (it != extract_by_key_.end()) return it->second;

    const std::string& variant = row[kVariant]->get_ref<const std::string&>();
    const auto crop = crop_of_variant_.at(variant);
    json params = {{"backbone", *row[kBackbone]},
                   {"weights", *row[kWeights]},
                   {"image_size", *row[kImageSize]},
                   {"normalize", *row[kNormalize]},
                   {"crop", crop ? json(plan_.crops[*crop].id) : json(nullptr)},
                   {"dataset", dataset_}};
    if (per_fold) {
      params["fold"] = fold;
      params["repeat"] = repeat;
      params["folds"] = folds_;
      params["cv_seed"] = cv_seed_ + static_cast<std::uint64_t>(repeat);
      if (!values_->cv.is_null()) params["cv"] = values_->cv;
    }
    if (cut != "head") params["cut"] = cut;
    TaskId id = task_id(params);
    std::size_t index;
    auto by_id = extract_by_id_.find(id);
    if (by_id != extract_by_id_.end()) {
      index = by_id->second;  // another variant with the same crop settings
    } else {
      ExtractTask t;
      t.id = id;
      t.backbone = row[kBackbone]->get<std::string>();
      const std::string w = row[kWeights]->get<std::string>();
      const bool is_path = w != "auto" && w != "random" && w.rfind("random:", 0) != 0;
      t.weights = is_path ? spec_.resolve_path(w).string() : w;
      t.variant = variant;
      t.image_size = row[kImageSize]->get<int>();
      t.normalize = row[kNormalize]->get<std::string>();
      if (per_fold) t.fold = fold;
      t.repeat = per_fold ? repeat : 0;
      t.cut = cut;
      if (crop) {
        t.crop = plan_.crops[*crop].id;
        used_crops_[*crop] = true;
      }
      t.params = std::move(params);
      plan_.extracts.push_back(std::move(t));
      index = plan_.extracts.size() - 1;
      extract_by_id_.emplace(id, index);
    }
    extract_by_key_.emplace(std::move(key), index);
    return index;
  }

  // The train task of one combination and repeat. Its id is hashed from text assembled out of
  // the pre-serialised values, in sorted key order, exactly as canonical_json(params) would
  // print it (the tests check this against Python); new tasks keep indices, not params.
  void add_train(const Row& row, const std::vector<int>& epochs, int repeat) {
    const auto& v = row.value;
    const bool tune = *v[kFinetune] != "head";
    const bool augment = !v[kAugment]->empty();
    const bool scheduled = tune || augment;  // trained by fine_tune, which schedules the rate
    if (scheduled) check_fine_tuning(v, epochs);
    const std::size_t extract = extract_for(row.value, repeat);
    const auto& t = row.text;
    const int fold = v[kFold]->get<int>();
    const bool mlp = *v[kHead] == "mlp";
    const bool sgd = *v[kOptimizer] == "sgd";
    const bool cosine = scheduled && *v[kSchedule] == "cosine";
    const bool step = scheduled && *v[kSchedule] == "step";
    // lr_horizon 0 (the default) is the sweep's last epoch: a parameter, the same for every
    // task, so a task's result at an epoch does not depend on which epochs it evaluates.
    std::uint32_t horizon_index = row.interned[kLrHorizon];
    const std::string* horizon_text = t[kLrHorizon];
    if (cosine && *v[kLrHorizon] == 0) {
      horizon_index = intern(kLrHorizon, json(last_epoch_), last_epoch_text_);
      horizon_text = &last_epoch_text_;
    }
    const std::uint64_t cv_seed = cv_seed_ + static_cast<std::uint64_t>(repeat);
    const TaskId& extract_id = plan_.extracts[extract].id;
    std::string& text = scratch_;
    text.clear();
    auto put = [&text](const char* key, const std::string& value) {
      text += key;
      text += value;
    };
    text += "{";
    if (augment) put("\"augment\":", *t[kAugment] + ",");
    put("\"backbone\":", *t[kBackbone]);
    if (tune) put(",\"backbone_lr\":", *t[kBackboneLr]);
    put(",\"batch_size\":", *t[kBatchSize]);
    if (tune) put(",\"bn\":", *t[kBn]);
    if (!cv_text_.empty()) put(",\"cv\":", cv_text_);
    put(",\"cv_seed\":", std::to_string(cv_seed));
    put(",\"extract\":", "\"" + extract_id + "\"");
    if (tune) put(",\"finetune\":", *t[kFinetune]);
    put(",\"fold\":", std::to_string(fold));
    put(",\"folds\":", std::to_string(folds_));
    put(",\"head\":", *t[kHead]);
    if (mlp) put(",\"hidden\":", *t[kHidden]);
    put(",\"image_size\":", *t[kImageSize]);
    put(",\"label_smoothing\":", *t[kLabelSmoothing]);
    put(",\"lr\":", *t[kLr]);
    if (step) put(",\"lr_gamma\":", *t[kLrGamma]);
    if (cosine) put(",\"lr_horizon\":", *horizon_text);
    if (step) put(",\"lr_step\":", *t[kLrStep]);
    if (sgd) put(",\"momentum\":", *t[kMomentum]);
    put(",\"normalize\":", *t[kNormalize]);
    put(",\"optimizer\":", *t[kOptimizer]);
    put(",\"repeat\":", std::to_string(repeat));
    if (scheduled) put(",\"schedule\":", *t[kSchedule]);
    put(",\"seed\":", *t[kSeed]);
    put(",\"standardize\":", *t[kStandardize]);
    if (!val_text_.empty()) put(",\"val_fraction\":", val_text_);
    put(",\"variant\":", *t[kVariant]);
    put(",\"weight_decay\":", *t[kWeightDecay]);
    put(",\"weights\":", *t[kWeights]);
    text += "}";
    TaskId id = sha256_hex(text).substr(0, 16);
    const std::uint64_t seed = seed_from_id(id);
    auto [it, fresh] = train_by_seed_.emplace(seed, plan_.trains.size());
    if (!fresh) {
      auto& existing = plan_.trains[it->second].epochs;
      existing.insert(existing.end(), epochs.begin(), epochs.end());
      return;
    }
    // Only indices into the shared value table are kept; params() rebuilds the object. Keys a
    // configuration does not use are absent, so that e.g. `hidden` in the grid does not
    // multiply linear-head runs.
    TrainTask task;
    task.id = std::move(id);
    task.extract = extract_id;
    task.epochs = epochs;
    task.fold = fold;
    task.repeat = repeat;
    task.folds = folds_;
    task.cv_seed = cv_seed;
    task.seed = seed;
    task.extract_index = extract;
    task.values = values_;
    for (std::size_t k = 0; k < kTrainValueKeys; ++k) task.value_index[k] = row.interned[k];
    if (!mlp) task.value_index[kHidden] = TrainTask::kAbsent;
    if (!sgd) task.value_index[kMomentum] = TrainTask::kAbsent;
    task.value_index[kLrHorizon] = cosine ? horizon_index : TrainTask::kAbsent;
    if (!step) task.value_index[kLrStep] = task.value_index[kLrGamma] = TrainTask::kAbsent;
    if (!tune)
      for (std::size_t k : {kFinetune, kBn, kBackboneLr}) task.value_index[k] = TrainTask::kAbsent;
    if (!scheduled) task.value_index[kSchedule] = TrainTask::kAbsent;
    if (!augment) task.value_index[kAugment] = TrainTask::kAbsent;
    plan_.trains.push_back(std::move(task));
  }

  // A fine-tuning combination the trainer cannot run is an error of the sweep file, naming the
  // key that made it (an exclude entry can remove it from a grid).
  void check_fine_tuning(const std::array<const json*, kKeyCount>& v,
                         const std::vector<int>& epochs) const {
    const std::string tune = v[kFinetune]->get<std::string>();
    const std::string what = tune == "head" ? "augment" : "finetune: " + tune;
    auto fail = [&](const std::string& key, const std::string& message) {
      std::string at = spec_.file;
      for (const char* section : {"grid.", "train."})
        if (spec_.locations.count(section + key)) {
          at = spec_.location(section + key);
          break;
        }
      throw ConfigError(fmt::format("invalid sweep file {} (1 error):\n  {}: {}: {}", spec_.file,
                                    at, key, message));
    };
    if (*v[kHead] == "mlp")
      fail("head", fmt::format("{} trains a linear head; head: mlp works with finetune: head "
                               "without augment only (exclude the combination)",
                               what));
    if (*v[kStandardize] == true)
      fail("standardize",
           fmt::format("{} trains on activations, not features; standardize: true works with "
                       "finetune: head without augment only (exclude the combination)",
                       what));
    const int horizon = v[kLrHorizon]->get<int>();
    const int last = *std::max_element(epochs.begin(), epochs.end());
    if (*v[kSchedule] == "cosine" && horizon != 0 && horizon < last)
      fail("lr_horizon", fmt::format("schedule cosine reaches a learning rate of 0 at epoch {}, "
                                     "before the last epoch {}; give lr_horizon >= {} (or 0: the "
                                     "sweep's last epoch)",
                                     horizon, last, last));
  }

 public:
  std::vector<bool> used_crops_;

 private:
  const SweepSpec& spec_;
  const json& c_;
  Plan& plan_;
  int folds_ = 5;
  int repeats_ = 1;
  std::uint64_t cv_seed_ = 0;
  json dataset_;
  std::string cv_text_;   ///< canonical text of the cv scheme; "" for stratified K-fold
  std::string val_text_;  ///< canonical text of select.val_fraction; "" without select
  int last_epoch_ = 0;    ///< the largest epoch anywhere in the sweep (lr_horizon 0)
  std::string last_epoch_text_;
  std::unordered_map<std::string, std::optional<std::size_t>> crop_of_variant_;
  std::unordered_map<std::string, std::size_t> extract_by_key_;
  std::unordered_map<TaskId, std::size_t> extract_by_id_;
  std::unordered_map<std::uint64_t, std::size_t> train_by_seed_;
  std::unordered_map<std::string, std::string> weights_text_;
  std::unordered_map<std::string, std::uint32_t> weights_index_;
  std::shared_ptr<TrainValues> values_ = std::make_shared<TrainValues>();
  std::array<std::unordered_map<std::string, std::uint32_t>, kTrainValueKeys> interned_;
  std::string scratch_;
};

// A learning-rate schedule is a fine_tune setting: heads (finetune: head, no augment) train at a
// constant rate, which a sweep mixing both should say rather than leave the user to find out.
void warn_schedule_of_heads(Plan& plan) {
  const json& c = plan.spec.canonical;
  std::string key;
  if (c["grid"].contains("schedule")) {
    if (c["grid"]["schedule"] != json::array({"constant"})) key = "grid.schedule";
  } else if (c["train"]["schedule"] != "constant") {
    key = "train.schedule";
  }
  if (key.empty()) return;
  const bool heads = std::any_of(plan.trains.begin(), plan.trains.end(), [](const TrainTask& t) {
    return t.param("finetune").is_null() && t.param("augment").is_null();
  });
  if (heads)
    plan.warnings.push_back(
        fmt::format("{}: {}: applies to fine-tuning and augmented tasks only; the tasks "
                    "with finetune: head and no augment train at a constant learning rate",
                    plan.spec.location(key), key));
}

// The sampled space (search: random | sobol; `samples` points, 0 for a grid): for each space
// key, in alphabetical order (its dimension), the value of point 0 .. samples-1 in `axes`;
// returns those keys.
std::vector<std::size_t> sample_space(const json& c, std::size_t samples, Axes& axes) {
  if (samples == 0) return {};
  const json& search = c["search"];
  std::vector<std::size_t> keys;
  std::vector<const json*> choices;  // a choice's canonical values; null for the others
  std::vector<Distribution> numeric;
  for (const auto& [key, space] : c["space"].items()) {
    keys.push_back(key_index(key));
    const bool choice = space["kind"] == "choice";
    choices.push_back(choice ? &space["values"] : nullptr);
    // The text was checked when the sweep file was read.
    numeric.push_back(choice ? Distribution{}
                             : std::get<Distribution>(parse_distribution(space["text"])));
  }
  PointSampler sampler(search["method"] == "sobol" ? SearchMethod::sobol : SearchMethod::random,
                       search["seed"].get<std::uint64_t>(), keys.size());
  for (std::size_t k : keys) axes[k].assign(samples, json());
  for (std::uint64_t i = 0; i < samples; ++i) {
    const std::vector<double> u = sampler.point(i);
    for (std::size_t d = 0; d < keys.size(); ++d)
      axes[keys[d]][i] = choices[d] ? (*choices[d])[choice_index(u[d], choices[d]->size())]
                                    : value_at(numeric[d], u[d]);
  }
  return keys;
}

}  // namespace

Plan plan_sweep(const SweepSpec& spec) {
  Plan plan;
  plan.spec = spec;
  const json& c = spec.canonical;
  plan.folds = spec.cv.folds;
  for (int r = 0; r < spec.cv.repeats; ++r)
    plan.cv_seeds.push_back(spec.cv.seed + static_cast<std::uint64_t>(r));
  plan.classes = spec.dataset.classes.value_or(std::vector<std::string>{});
  plan.warnings = spec.warnings;

  Expander expander(spec, plan);
  const Axes grid = Expander::overlay(expander.defaults(), c["grid"]);
  // Sampled points are one more axis (the space's keys are not in the grid: one value there).
  const json& search = c["search"];
  const std::size_t samples = search["method"] == "grid" ? 0 : search["samples"].get<std::size_t>();
  plan.combinations = 1;
  double size = 1;  // in floating point: a runaway grid must not overflow before it is refused
  for (std::size_t k = 0; k < kKeyCount; ++k) {
    plan.combinations *= grid[k].size();
    size *= static_cast<double>(grid[k].size());
    if (grid[k].size() > 1) plan.axes.push_back({grid_keys()[k], grid[k].size()});
  }
  if (samples > 0) {
    plan.combinations *= samples;
    size *= static_cast<double>(samples);
    // Shown with the training parameters, before fold and epochs.
    auto at = std::find_if(plan.axes.begin(), plan.axes.end(),
                           [](const GridAxis& a) { return a.key == "fold" || a.key == "epochs"; });
    plan.axes.insert(at, {"samples", samples});
  }
  size *= static_cast<double>(plan.cv_seeds.size());
  if (size > static_cast<double>(kMaxGridSize))
    throw ConfigError(fmt::format(
        "invalid sweep file {} (1 error):\n  {}: grid: {:.3g} combinations (with epochs and "
        "repeats) is more than fersweep plans ({}); split the sweep or shrink an axis",
        spec.file, spec.location("grid"), size, kMaxGridSize));
  Axes main = grid;
  const std::vector<std::size_t> sampled = sample_space(c, samples, main);

  std::vector<Exclusion> exclusions;
  for (const auto& entry : c["exclude"]) {
    Exclusion ex;
    for (const auto& [key, values] : entry.items()) {
      if (key == "epochs")
        ex.epochs = values.get<std::vector<int>>();
      else
        ex.match.emplace_back(key_index(key), std::vector<json>(values.begin(), values.end()));
    }
    exclusions.push_back(std::move(ex));
  }

  // Room for the main grid's train tasks up front: no reallocation copies of a large vector.
  const std::size_t epoch_values = std::max<std::size_t>(1, main[kEpochs].size());
  plan.trains.reserve(plan.combinations / epoch_values * plan.cv_seeds.size());
  std::size_t produced = 0;
  expander.expand(main, &exclusions, produced, plan.excluded, sampled);
  for (std::size_t i = 0; i < exclusions.size(); ++i)
    if (exclusions[i].hits == 0)
      plan.warnings.push_back(fmt::format("{}: exclude[{}]: matches no combination of the grid",
                                          spec.location(fmt::format("exclude[{}]", i)), i));
  if (produced > 0 && plan.excluded == produced && c["include"].empty())
    throw ConfigError(fmt::format(
        "invalid sweep file {} (1 error):\n  {}: exclude: the exclude entries remove all {} "
        "combinations of the grid; nothing is left to run",
        spec.file, spec.location("exclude"), produced));

  for (const auto& entry : c["include"]) {
    std::size_t removed = 0;
    // An include entry is one explicit configuration: no sampled points (the space's keys take
    // train's values unless the entry gives them).
    expander.expand(Expander::overlay(grid, entry), nullptr, plan.included, removed);
  }
  expander.finish();
  warn_schedule_of_heads(plan);
  if (plan.trains.empty())
    throw ConfigError(fmt::format("invalid sweep file {} (1 error):\n  {}: grid: no task to run",
                                  spec.file, spec.location("grid")));

  // Crops no surviving extraction reads are dropped (their variants were excluded).
  std::vector<CropTask> crops;
  for (std::size_t i = 0; i < plan.crops.size(); ++i)
    if (expander.used_crops_[i]) crops.push_back(std::move(plan.crops[i]));
  plan.crops = std::move(crops);
  return plan;
}

}  // namespace fersweep::sweep
