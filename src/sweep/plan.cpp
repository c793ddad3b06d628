// Grid expansion: Cartesian product of the axes (epochs innermost), exclude, include, epoch
// merging and de-duplication by task id, then the crop/extract/train DAG.
#include "sweep/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "core/error.h"
#include "core/hash.h"

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

std::size_t Plan::evaluations() const {
  std::size_t n = 0;
  for (const auto& t : trains) n += t.epochs.size();
  return n;
}

namespace {

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
  kFold,
  kEpochs,
  kKeyCount
};

using Axes = std::vector<std::vector<json>>;  // indexed by Key

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
    folds_ = c_["cv"]["folds"].get<int>();
    repeats_ = c_["cv"]["repeats"].get<int>();
    cv_seed_ = c_["cv"]["seed"].get<std::uint64_t>();
    dataset_ = {{"root", c_["dataset"]["root"]},
                {"classes", c_["dataset"]["classes"]},
                {"skip_bad_images", c_["dataset"]["skip_bad_images"]}};
    for (const auto& v : spec.variants) crop_of_variant_[v] = crop_for(v);
  }

  Axes defaults() const {
    Axes axes(kKeyCount);
    const json& train = c_["train"];
    axes[kBackbone] = {};
    for (const auto& v : spec_.variants) axes[kVariant].push_back(v);
    axes[kWeights] = {nullptr};  // from the weights section, per backbone
    axes[kImageSize] = {c_["dataset"]["image_size"]};
    axes[kNormalize] = {c_["dataset"]["normalize"]};
    for (std::size_t k : {kHead, kHidden, kOptimizer, kLr, kWeightDecay, kMomentum, kBatchSize,
                          kStandardize, kLabelSmoothing, kSeed})
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
  // many the exclusions removed.
  void expand(const Axes& axes, std::vector<Exclusion>* exclusions, std::size_t& produced,
              std::size_t& removed) {
    std::vector<std::size_t> at(kKeyCount, 0);
    for (std::size_t k = 0; k < kEpochs; ++k)
      if (axes[k].empty()) return;
    std::vector<const json*> row(kKeyCount, nullptr);
    std::vector<int> epochs;
    while (true) {
      for (std::size_t k = 0; k < kEpochs; ++k) row[k] = &axes[k][at[k]];
      const json* weights = row[kWeights];
      if (weights->is_null()) row[kWeights] = &c_["weights"][row[kBackbone]->get<std::string>()];
      epochs.clear();
      for (const auto& e : axes[kEpochs]) epochs.push_back(e.get<int>());
      produced += epochs.size();
      if (exclusions) {
        const std::size_t before = epochs.size();
        for (auto& ex : *exclusions) apply(ex, row, epochs);
        removed += before - epochs.size();
      }
      if (!epochs.empty())
        for (int r = 0; r < repeats_; ++r) add_train(row, epochs, r);
      // Next combination: the last axis varies fastest.
      std::size_t k = kEpochs;
      while (k > 0) {
        --k;
        if (++at[k] < axes[k].size()) break;
        at[k] = 0;
        if (k == 0) return;
      }
    }
  }

  void finish() {
    for (auto& t : plan_.trains) {
      std::sort(t.epochs.begin(), t.epochs.end());
      t.epochs.erase(std::unique(t.epochs.begin(), t.epochs.end()), t.epochs.end());
    }
  }

 private:
  static void apply(Exclusion& ex, const std::vector<const json*>& row, std::vector<int>& epochs) {
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

  std::size_t extract_for(const std::vector<const json*>& row, int repeat) {
    const bool per_fold = *row[kNormalize] == "dataset";
    const int fold = per_fold ? row[kFold]->get<int>() : -1;
    const int rep = per_fold ? repeat : -1;
    std::string key = fmt::format(
        "{}\n{}\n{}\n{}\n{}\n{}\n{}", row[kBackbone]->get_ref<const std::string&>(),
        row[kWeights]->get_ref<const std::string&>(), row[kVariant]->get_ref<const std::string&>(),
        row[kImageSize]->get<int>(), row[kNormalize]->get_ref<const std::string&>(), fold, rep);
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
    }
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

  void add_train(const std::vector<const json*>& row, const std::vector<int>& epochs, int repeat) {
    const std::size_t extract = extract_for(row, repeat);
    const int fold = row[kFold]->get<int>();
    json p = json::object();
    p["backbone"] = *row[kBackbone];
    p["weights"] = *row[kWeights];
    p["variant"] = *row[kVariant];
    p["image_size"] = *row[kImageSize];
    p["normalize"] = *row[kNormalize];
    p["head"] = *row[kHead];
    // Parameters a configuration does not use are left out, so that e.g. `hidden` in the grid
    // does not multiply linear-head runs.
    if (*row[kHead] == "mlp") p["hidden"] = *row[kHidden];
    p["optimizer"] = *row[kOptimizer];
    p["lr"] = *row[kLr];
    p["weight_decay"] = *row[kWeightDecay];
    if (*row[kOptimizer] == "sgd") p["momentum"] = *row[kMomentum];
    p["batch_size"] = *row[kBatchSize];
    p["standardize"] = *row[kStandardize];
    p["label_smoothing"] = *row[kLabelSmoothing];
    p["seed"] = *row[kSeed];
    p["fold"] = fold;
    p["repeat"] = repeat;
    p["folds"] = folds_;
    p["cv_seed"] = cv_seed_ + static_cast<std::uint64_t>(repeat);
    p["extract"] = plan_.extracts[extract].id;
    TaskId id = task_id(p);
    const std::uint64_t seed = seed_from_id(id);
    auto [it, fresh] = train_by_seed_.emplace(seed, plan_.trains.size());
    if (!fresh) {
      auto& existing = plan_.trains[it->second].epochs;
      existing.insert(existing.end(), epochs.begin(), epochs.end());
      return;
    }
    TrainTask t;
    t.id = std::move(id);
    t.extract = plan_.extracts[extract].id;
    t.params = std::move(p);
    t.epochs = epochs;
    t.fold = fold;
    t.repeat = repeat;
    t.seed = seed;
    t.extract_index = extract;
    plan_.trains.push_back(std::move(t));
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
  std::unordered_map<std::string, std::optional<std::size_t>> crop_of_variant_;
  std::unordered_map<std::string, std::size_t> extract_by_key_;
  std::unordered_map<TaskId, std::size_t> extract_by_id_;
  std::unordered_map<std::uint64_t, std::size_t> train_by_seed_;
};

}  // namespace

Plan plan_sweep(const SweepSpec& spec) {
  Plan plan;
  plan.spec = spec;
  const json& c = spec.canonical;
  plan.folds = c["cv"]["folds"].get<int>();
  for (int r = 0; r < c["cv"]["repeats"].get<int>(); ++r)
    plan.cv_seeds.push_back(c["cv"]["seed"].get<std::uint64_t>() + static_cast<std::uint64_t>(r));
  if (c["dataset"]["classes"].is_array())
    plan.classes = c["dataset"]["classes"].get<std::vector<std::string>>();
  plan.warnings = spec.warnings;

  Expander expander(spec, plan);
  const Axes main = Expander::overlay(expander.defaults(), c["grid"]);
  plan.combinations = 1;
  for (std::size_t k = 0; k < kKeyCount; ++k) {
    plan.combinations *= main[k].size();
    if (main[k].size() > 1) plan.axes.push_back({grid_keys()[k], main[k].size()});
  }

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

  std::size_t produced = 0;
  expander.expand(main, &exclusions, produced, plan.excluded);
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
    expander.expand(Expander::overlay(main, entry), nullptr, plan.included, removed);
  }
  expander.finish();
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
