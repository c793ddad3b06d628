// Sweep tasks and their execution: crop (face variants), extract (frozen backbone features) and
// train (heads on cached features, several folds at once).
#include "run/sweep_run.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <unordered_map>

#include "core/cancel.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/version.h"
#include "data/dataset.h"
#include "data/folds.h"
#include "data/preprocess.h"
#include "faces/config.h"
#include "faces/crop.h"
#include "model/arch.h"
#include "model/extractor.h"
#include "model/saved_model.h"
#include "model/weights.h"
#include "run/extract.h"
#include "run/models.h"
#include "store/feature_cache.h"
#include "train/augment.h"
#include "train/finetune.h"
#include "train/halving.h"
#include "train/head.h"
#include "train/stored_activations.h"

namespace fersweep::run {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Task costs in GFLOPs, so that the scheduler's ordering and the progress ETA can weigh crops,
// extractions and trainings against each other; the ETA then calibrates each kind's seconds per
// GFLOP from the tasks that finish (run/progress.h).

// Face detection and cropping: a rough figure per image (a Haar pass over an SFEW frame).
constexpr double kCropGflopsPerImage = 0.5;

// One forward pass per image: GFLOPs at 224×224, scaled by (S/224)².
double extract_cost(const sweep::ExtractTask& e, std::size_t images) {
  const double g = model::gflops_224(model::parse_arch(e.backbone));
  return g * images * (e.image_size / 224.0) * (e.image_size / 224.0);
}

// Whether a train task is trained by train::fine_tune (alone, at run.finetune_threads):
// unfrozen blocks (head tasks carry no `finetune` key) or augmented images (heads too).
bool fine_tunes(const json& params) {
  return params.contains("finetune") || params.contains("augment");
}

// Forward and backward passes of the head (about 6 FLOPs per weight and row) over the training
// rows of every epoch up to the last; a fine-tuning task adds its blocks' forward and backward
// passes (about 3 forward passes) per training row and epoch, and one forward pass of every row
// per evaluated epoch. With augmentation the frozen part, too, runs on every training row of every
// epoch (the naive per-epoch pass), and evaluation runs the whole network.
double train_cost(const sweep::TrainTask& t, const json& params, std::size_t images,
                  std::size_t classes) {
  const auto s = params.get<train::TrainSettings>();
  const auto tune = params.get<train::FineTuneSettings>();
  const double d = model::feature_dim(model::parse_arch(params.at("backbone")));
  const double c = static_cast<double>(classes);
  const double weights = s.head == "mlp" ? d * s.hidden + s.hidden * c : d * c;
  // An official split's training part is not known here; most hold about 80% of the samples.
  const double train_share = t.folds > 1 ? static_cast<double>(t.folds - 1) / t.folds : 0.8;
  const double rows = static_cast<double>(images) * train_share;
  double gflops = 6.0 * weights * rows * t.epochs.back() * 1e-9;
  const model::Cut cut = model::parse_cut(tune.finetune);
  const bool augment = params.contains("augment");
  if (fine_tunes(params)) {
    const double size = params.at("image_size").get<double>() / 224.0;
    const double full = model::gflops_224(model::parse_arch(params.at("backbone"))) * size * size;
    const double trained = full * model::trained_share(cut);
    const double frozen = augment ? full - trained : 0.0;
    gflops += (3.0 * trained + frozen) * rows * t.epochs.back() +
              (augment ? full : trained) * static_cast<double>(images) *
                  static_cast<double>(t.epochs.size());
  }
  return gflops;
}

// Activation stores stay on disk (store/rows.h): in the results directory, in the feature cache,
// and on a worker's spill directory while it trains on one. Their size is said up front, since it
// can be tens of GB; a disk without room for one is an error naming it when it is written.
void report_activation_stores(const sweep::Plan& plan, std::size_t images) {
  double bytes = 0;
  std::size_t stores = 0;
  for (const auto& e : plan.extracts) {
    if (e.cut == "head") continue;
    double per_image = 4;
    for (std::int64_t d : model::frozen_output_shape(model::parse_arch(e.backbone),
                                                     model::parse_cut(e.cut), e.image_size))
      per_image *= static_cast<double>(d);
    bytes += per_image * static_cast<double>(images);
    ++stores;
  }
  if (stores == 0) return;
  const bool gib = bytes >= (1 << 30);
  log::info(
      "activation stores: {} of {:.1f} {} in all, kept on disk (the results directory; a "
      "worker's spill directory, FERSWEEP_SCRATCH or TMPDIR, holds those it trains on)",
      stores, bytes / (gib ? (1 << 30) : (1 << 20)), gib ? "GiB" : "MiB");
}

// What every executor gets before its first task (RunSetup::context, sent once to each worker):
// the dataset as rank 0 scanned it, and what rank 0 worked out once for the whole run. One field
// list, JSON both ways. A task's own parameters stay what its id hashes.
struct SweepContext {
  std::string dataset_root;
  std::string base_dir = ".";  ///< relative paths of the sweep file (cascades, models, boxes)
  std::vector<std::string> classes;
  std::vector<data::ImageEntry> images;  ///< manifest order
  std::string fingerprint;
  std::string format = "folders";                 ///< the dataset's format (its split names)
  std::map<std::string, std::string> variants;    ///< crop/extract task id → variant name
  std::map<std::string, LocatedWeights> weights;  ///< extract task id → its weights
  int finetune_threads = sweep::RunSettings{}.finetune_threads;  ///< run.finetune_threads
  std::string keep_models = sweep::RunSettings{}.keep_models;    ///< run.keep_models
  /// run.checkpoint_every in seconds; < 0: off
  double checkpoint_seconds = *sweep::checkpoint_seconds(sweep::RunSettings{}.checkpoint_every);
  std::optional<sweep::EarlyStopSettings> early_stop;  ///< early_stop:; none: every task runs out
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(SweepContext, dataset_root, base_dir, classes,
                                                images, fingerprint, format, variants, weights,
                                                finetune_threads, keep_models, checkpoint_seconds,
                                                early_stop)

train::StopRule stop_rule(const sweep::EarlyStopSettings& es) {
  return {es.method == "median" ? train::StopRule::median : train::StopRule::halving, es.eta};
}

// The bracket of a head under early_stop (sweep::bracket_of) from its parameters: the executor
// groups the heads of a batch by it.
std::string head_bracket(const json& params) {
  return fmt::format("{}|{}|{}", params.at("extract").get<std::string>(),
                     params.at("fold").get<int>(), params.at("repeat").get<int>());
}

// The fold of each of `indices` (manifest indices, e.g. a feature set's rows) under a task's fold
// settings: stratified K-fold by label, subject-disjoint folds, or the dataset's own split. A pure
// function of the samples and the settings, so every rank computes the same folds.
std::vector<int> fold_assignment(const data::Manifest& m, const std::vector<std::size_t>& indices,
                                 const sweep::FoldSettings& f) {
  std::vector<int> labels;
  std::vector<std::string> keys;
  for (std::size_t i : indices) labels.push_back(m.images.at(i).label);
  if (!f.cv) return data::stratified_fold_assignment(labels, f.folds, f.cv_seed);
  const bool group = !f.cv->group.empty();
  for (std::size_t i : indices) keys.push_back(group ? m.images[i].subject : m.images[i].split);
  if (group) return data::stratified_group_fold_assignment(labels, keys, f.folds, f.cv_seed);
  return data::official_split_assignment(keys, data::format_traits(m.format).train_split,
                                         f.cv->test);
}

using SampleIndex = std::unordered_map<std::string, std::size_t>;  ///< identity → manifest index

SampleIndex index_samples(const data::Manifest& m) {
  SampleIndex index;
  index.reserve(m.images.size());
  for (std::size_t i = 0; i < m.images.size(); ++i) index.emplace(m.images[i].relative_path, i);
  return index;
}

// The manifest index of each row of a feature set (its rows are named by sample identity).
std::vector<std::size_t> rows_of(const SampleIndex& index, const FeatureSet& fs) {
  std::vector<std::size_t> rows;
  rows.reserve(fs.paths.size());
  for (const auto& path : fs.paths) {
    const auto it = index.find(path);
    if (it == index.end())
      throw DataError(
          fmt::format("feature set {} has a sample {} the dataset does not", fs.id, path));
    rows.push_back(it->second);
  }
  return rows;
}

// The training tasks' splits of one feature set: their FoldSettings without the fold.
std::string split_key(const sweep::FoldSettings& f) {
  return fmt::format("{}|{}|{}", f.folds, f.cv_seed, f.cv ? json(*f.cv).dump() : "");
}

// What rank 0 journals with each feature set: the fold of every sample under each split its
// training tasks use, so results.h5 says which samples every result was tested on.
class FoldRecorder {
 public:
  FoldRecorder(const data::Manifest& manifest, const std::vector<sweep::TrainTask>& trains)
      : manifest_(manifest) {
    for (const auto& tr : trains) {
      const json params = tr.params();
      auto f = params.get<sweep::FoldSettings>();
      f.fold = 0;
      // Named by the training tasks' own parameters (and their JSON of `cv`), so the rows of
      // /folds join /results on equal values.
      json scheme = {{"folds", f.folds}, {"cv_seed", f.cv_seed}};
      if (params.contains("cv") && !params["cv"].is_null()) scheme["cv"] = params["cv"];
      splits_[tr.extract].emplace(split_key(f), Split{f, scheme});
    }
  }

  json describe(const TaskSpec& extract, const FeatureSet& fs) {
    json folds = json::array();
    const auto it = splits_.find(extract.id);
    if (it == splits_.end()) return {{kFoldsKey, folds}};
    try {
      if (index_.empty()) index_ = index_samples(manifest_);
      const auto rows = rows_of(index_, fs);
      for (const auto& [key, split] : it->second) {
        const auto assignment = fold_assignment(manifest_, rows, split.settings);
        std::vector<std::int16_t> of_sample(manifest_.images.size(), -1);
        // cv.folds is at most 1000 (sweep/spec.cpp): every fold number fits.
        for (std::size_t r = 0; r < rows.size(); ++r) {
          FERSWEEP_ASSERT(assignment[r] <= INT16_MAX, "a fold number past int16");
          of_sample[rows[r]] = static_cast<std::int16_t>(assignment[r]);
        }
        folds.push_back(fold_record(split.scheme, of_sample));
      }
    } catch (const std::exception& e) {
      // The training tasks meet the same problem and fail with it; the record goes on.
      log::warn("feature set {}: no fold record: {}", extract.id, e.what());
    }
    return {{kFoldsKey, folds}};
  }

 private:
  struct Split {
    sweep::FoldSettings settings;
    json scheme;
  };
  data::Manifest manifest_;
  std::map<std::string, std::map<std::string, Split>> splits_;  // extract id → its splits
  SampleIndex index_;
};

SampleTable sample_table(const data::Manifest& m) {
  SampleTable t;
  for (const auto& e : m.images) {
    t.id.push_back(e.relative_path);
    t.label.push_back(e.label);
    t.subject.push_back(e.subject);
    t.split.push_back(e.split);
  }
  return t;
}

// The variant name of a crop or extract task ("" for one outside a sweep).
std::string variant_of(const SweepContext& context, const std::string& id) {
  const auto it = context.variants.find(id);
  return it == context.variants.end() ? std::string() : it->second;
}

SweepContext context_of(const data::Manifest& manifest, const fs::path& base_dir) {
  SweepContext c;
  c.dataset_root = manifest.root.string();
  c.base_dir = base_dir.string();
  c.classes = manifest.classes;
  c.images = manifest.images;
  c.format = data::format_name(manifest.format);
  c.fingerprint = manifest.fingerprint;
  return c;
}

TaskSpec make_task(const std::string& id, TaskKind kind, const json& params,
                   std::vector<std::string> deps, double cost) {
  TaskSpec t;
  t.id = id;
  t.kind = kind;
  t.params = params;
  t.deps = std::move(deps);
  t.cost = cost;
  return t;
}

// The variant part of a feature-cache key: the crop settings with every file they name (cascade,
// model, boxes, eye cascade) replaced by its sha256, so moving a file does not matter but
// editing it does. The dataset is keyed by its fingerprint instead of its root.
json variant_cache_key(const faces::CropSettings& settings, const fs::path& base_dir,
                       std::map<fs::path, std::string>& file_hashes) {
  const faces::CropConfig config = faces::resolve_crop_config(settings, base_dir);
  json key = settings;
  json files = json::object();
  for (const auto& [name, path] :
       {std::pair{"cascade", config.cascade_file}, std::pair{"model", config.model_file},
        std::pair{"boxes", config.boxes_file}, std::pair{"eye_cascade", config.eye_cascade_file}}) {
    key.erase(name);
    if (path.empty()) continue;
    auto it = file_hashes.find(path);
    if (it == file_hashes.end()) it = file_hashes.emplace(path, sha256_file(path)).first;
    files[name] = it->second;
  }
  key["files"] = files;
  return key;
}

// The coordinator's view of the shared feature cache: one key per extract task, computed on
// rank 0 before anything is dispatched.
struct CacheLink {
  // Keeps what the hooks read of the run context (not its image list).
  CacheLink(fs::path dir, const SweepContext& run) : cache(std::move(dir)) {
    context.fingerprint = run.fingerprint;
    context.variants = run.variants;
    context.weights = run.weights;
    const store::SweptTemps swept = cache.sweep_stale_temps();
    if (swept.files > 0)
      log::info(
          "feature cache '{}': removed {} unfinished temp file(s) of killed runs ({:.1f} MiB)",
          cache.dir().string(), swept.files, static_cast<double>(swept.bytes) / (1 << 20));
  }
  store::FeatureCache cache;
  std::map<std::string, std::string> keys;  // extract task id -> canonical key
  SweepContext context;                     // variant names and weights of the tasks
};

// The cache key of extract task `id` with parameters `params` (variant: variant_cache_key, or
// null for whole images).
std::string extract_cache_key(const std::string& id, const json& params,
                              const SweepContext& context, json variant) {
  const auto s = params.get<sweep::ExtractSettings>();
  FeatureKey key;
  key.arch = model::parse_arch(s.backbone);
  key.weights = weights_cache_key(context.weights.at(id), key.arch);
  key.dataset_fingerprint = context.fingerprint;
  key.variant = std::move(variant);
  key.image_size = s.image_size;
  key.normalize = s.normalize;
  key.cut = s.cut;
  if (data::parse_normalization(s.normalize) == data::Normalization::dataset) {
    key.fold = params.get<sweep::FoldSettings>();
    // Plain K-fold keys stay those of versions without cv schemes (their cached features hit).
    if (key.fold["cv"].is_null()) key.fold.erase("cv");
    // Statistics come from the whole training fold, whatever select: sets aside within it.
    key.fold.erase("val_fraction");
  }
  return canonical_feature_key(key);
}

// The cache key of every extract task of `plan`.
void add_plan_keys(CacheLink& link, const sweep::Plan& plan) {
  std::map<std::string, const sweep::CropTask*> crops;
  for (const auto& c : plan.crops) crops[c.id] = &c;
  std::map<fs::path, std::string> file_hashes;
  for (const auto& e : plan.extracts) {
    try {
      json variant;
      if (e.crop)
        variant = variant_cache_key(crops.at(*e.crop)->params.get<faces::CropSettings>(),
                                    plan.spec.base_dir, file_hashes);
      link.keys[e.id] = extract_cache_key(e.id, e.params, link.context, std::move(variant));
    } catch (const Error& err) {
      log::warn("feature cache: not used for feature set {} ({})", e.id, err.what());
    }
  }
}

FeatureCacheHooks make_cache_hooks(std::shared_ptr<CacheLink> link) {
  log::info("feature cache: '{}'", link->cache.dir().string());
  FeatureCacheHooks hooks;
  hooks.fetch = [link](const TaskSpec& t) -> std::optional<TaskOutcome> {
    const auto key = link->keys.find(t.id);
    if (key == link->keys.end()) return std::nullopt;
    auto hit = link->cache.load(key->second);
    if (!hit) return std::nullopt;
    const std::string variant = variant_of(link->context, t.id);
    TaskOutcome o;
    o.id = t.id;
    o.ok = true;
    o.result = hit->result;
    o.result["variant"] = variant;
    o.result["from_cache"] = true;
    o.result["feature_cache"] = hit->file.string();
    const LocatedWeights& w = link->context.weights.at(t.id);
    if (!w.file.empty()) o.result["weights_origin"] = w.file;
    o.features = std::make_shared<FeatureSet>(std::move(hit->set));
    log::info("feature set {} ({}, {} px, variant '{}'): reused from '{}'", t.id,
              t.params.value("backbone", ""), t.params.value("image_size", 0), variant,
              hit->file.string());
    return o;
  };
  hooks.store = [link](const TaskSpec& t, const TaskOutcome& o) {
    const auto key = link->keys.find(t.id);
    if (key == link->keys.end() || !o.features) return;
    if (auto file = link->cache.store(key->second, *o.features, o.result))
      log::debug("feature set {} stored in the feature cache as '{}'", t.id, file->string());
  };
  return hooks;
}

// Every extraction's weights (extract task id → weights), each distinct (backbone, weights)
// located, hashed and checked once.
std::map<std::string, LocatedWeights> locate_plan_weights(const sweep::Plan& plan) {
  std::map<std::string, LocatedWeights> located, of_task;
  for (const auto& e : plan.extracts) {
    const std::string key = e.backbone + "|" + e.weights;
    auto it = located.find(key);
    if (it == located.end())
      it = located.emplace(key, locate_and_check_weights(e.weights, model::parse_arch(e.backbone)))
               .first;
    of_task[e.id] = it->second;
  }
  return of_task;
}

// Splits the whole dataset the way the sweep's tasks will, so that a split that cannot work (too
// few images in a class or subjects for the folds, an empty official part) is an error now,
// naming the cv key, instead of a run of failed tasks.
void check_folds(const sweep::SweepSpec& spec, const data::Manifest& manifest) {
  const auto counts = manifest.class_counts();
  const std::size_t smallest = counts.empty() ? 0 : *std::min_element(counts.begin(), counts.end());
  if (spec.cv.group.empty() && spec.cv.split.empty() &&
      static_cast<std::size_t>(spec.cv.folds) > smallest) {
    throw ConfigError(
        fmt::format("{}: cv.folds: {} folds need at least {} images in every class, but the "
                    "smallest class of '{}' has {}",
                    spec.location("cv.folds"), spec.cv.folds, spec.cv.folds,
                    spec.dataset_root.string(), smallest));
  }
  sweep::FoldSettings f;
  f.folds = spec.cv.folds;
  f.cv_seed = spec.cv.seed;
  if (auto scheme = sweep::cv_scheme_params(spec.cv); !scheme.is_null()) f.cv = spec.cv;
  std::vector<std::size_t> all(manifest.images.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  try {
    (void)fold_assignment(manifest, all, f);
  } catch (const DataError& e) {
    const std::string key = !spec.cv.group.empty() ? "cv.group" : "cv.split";
    throw ConfigError(fmt::format("{}: {}: {} ('{}')", spec.location(key), key, e.what(),
                                  spec.dataset_root.string()));
  }
}

// The scan keeps what it learnt about each image in the feature cache's folder (scans/), so the
// next run over an unchanged dataset reads no image again.
data::Manifest scan_sweep_dataset(const sweep::SweepSpec& spec, int threads,
                                  const std::optional<fs::path>& feature_cache) {
  data::ScanOptions scan;
  scan.classes = spec.dataset.classes.value_or(std::vector<std::string>{});
  scan.skip_bad_images = spec.dataset.skip_bad_images;
  scan.threads = threads;
  scan.layout = spec.dataset;
  if (feature_cache) scan.cache_dir = *feature_cache / "scans";
  log::info("scanning dataset '{}' (format {})", spec.dataset_root.string(), spec.dataset.format);
  data::Manifest manifest = data::scan_dataset(spec.dataset_root, scan);
  log_left_out(manifest);
  return manifest;
}

// early_stop as the coordinator applies it to the tasks that run alone (run/staged.h): a task's
// score at a rung is its validation metric there, as the executor's to_json writes it.
StagedStop staged_stop(const sweep::EarlyStopSettings& es) {
  StagedStop s;
  s.rungs = es.rungs;
  s.rule = stop_rule(es);
  s.metric = es.metric;
  const std::string field = es.metric == "val_macro_f1" ? "macro_f1" : "accuracy";
  s.score = [field](const json& result, int epoch) {
    for (const auto& e : result.value("val_evals", json::array()))
      if (e.value("epoch", 0) == epoch && e.at(field).is_number()) return e.at(field).get<double>();
    return std::numeric_limits<double>::quiet_NaN();
  };
  return s;
}

}  // namespace

void log_left_out(const data::Manifest& manifest) {
  for (const auto& [what, n] : manifest.left_out)
    log::info("dataset: left out {} sample{} of {}", n, n > 1 ? "s" : "", what);
}

RunSetup make_sweep_setup(const sweep::Plan& plan, int scan_threads,
                          const std::optional<fs::path>& feature_cache) {
  const sweep::SweepSpec& spec = plan.spec;
  // A weights file that is unreadable or does not fit its backbone would fail every extraction
  // the same way (retried, then exit 4, with a results directory of failures): each is checked
  // once here, before the results directory is touched, so it is a plain error naming the file.
  auto weights = locate_plan_weights(plan);
  const data::Manifest manifest = scan_sweep_dataset(spec, scan_threads, feature_cache);
  check_folds(spec, manifest);
  report_activation_stores(plan, manifest.images.size());
  if (!manifest.bad_images.empty()) {
    log::warn("{} unreadable image(s) skipped (skip_bad_images), e.g. {}",
              manifest.bad_images.size(), manifest.bad_images.front());
  }
  log::info("dataset: {} images in {} classes, fingerprint {}", manifest.images.size(),
            manifest.classes.size(), manifest.fingerprint.substr(0, 16));

  RunSetup setup;
  setup.sweep_text = spec.source_text;
  const std::size_t n = manifest.images.size();
  SweepContext context = context_of(manifest, spec.base_dir);
  context.weights = std::move(weights);
  context.finetune_threads = spec.run.finetune_threads;
  context.keep_models = spec.run.keep_models;
  context.checkpoint_seconds = sweep::checkpoint_seconds(spec.run.checkpoint_every).value();
  context.early_stop = spec.early_stop;
  for (const auto& c : plan.crops) {
    setup.tasks.push_back(make_task(c.id, TaskKind::crop, c.params, {}, kCropGflopsPerImage * n));
    context.variants[c.id] = c.variant;
  }
  for (const auto& e : plan.extracts) {
    std::vector<std::string> deps;
    if (e.crop) deps.push_back(*e.crop);
    setup.tasks.push_back(
        make_task(e.id, TaskKind::extract, e.params, std::move(deps), extract_cost(e, n)));
    context.variants[e.id] = e.variant;
  }
  for (const auto& tr : plan.trains) {
    const json params = tr.params();
    setup.tasks.push_back(make_task(tr.id, TaskKind::train, params, {tr.extract},
                                    train_cost(tr, params, n, manifest.classes.size())));
    setup.tasks.back().features = tr.extract;
    setup.tasks.back().epochs = tr.epochs;
    setup.tasks.back().alone = fine_tunes(params);
    if (spec.early_stop) setup.tasks.back().bracket = sweep::bracket_of(plan, tr);
  }
  if (spec.early_stop) setup.staged_stop = staged_stop(*spec.early_stop);
  setup.samples = sample_table(manifest);
  auto recorder = std::make_shared<FoldRecorder>(manifest, plan.trains);
  setup.describe_features = [recorder](const TaskSpec& t, const FeatureSet& fs) {
    return recorder->describe(t, fs);
  };
  if (feature_cache) {
    auto link = std::make_shared<CacheLink>(*feature_cache, context);
    add_plan_keys(*link, plan);
    setup.feature_cache = make_cache_hooks(link);
  }
  setup.identity = {{"sweep_hash", spec.source_hash},
                    {"dataset_fingerprint", manifest.fingerprint}};
  setup.context = context;
  setup.provenance = {{"sweep_name", spec.name},
                      {"sweep_file", spec.file},
                      {"sweep_text", spec.source_text},
                      {"sweep_hash", spec.source_hash},
                      {"dataset_root", manifest.root.string()},
                      {"dataset_fingerprint", manifest.fingerprint},
                      {"dataset_images", manifest.images.size()},
                      {"dataset_bad_images", manifest.bad_images.size()},
                      {"dataset_format", data::format_name(manifest.format)},
                      {"dataset_left_out", json(manifest.left_out).dump()},
                      {"classes", json(manifest.classes).dump()},
                      {"feature_cache", feature_cache ? feature_cache->string() : ""},
                      {"fersweep_version", version()},
                      {"libtorch_version", torch_version()}};
  // What fersweep report chooses configurations by (select.metric); absent without select:.
  if (spec.select) setup.provenance["select_metric"] = spec.select->metric;
  // The sampled keys and their distributions (search:), for the report's scatter plots.
  if (!spec.canonical["space"].empty())
    setup.provenance["search_space"] = spec.canonical["space"].dump();
  // The rungs the report's halving table counts (early_stop:), as JSON text.
  if (spec.early_stop) setup.provenance["early_stop"] = json(*spec.early_stop).dump();
  return setup;
}

namespace {

class SweepExecutor : public Executor {
 public:
  SweepExecutor(const comm::Placement& placement, const ExecutorSettings& settings)
      : placement_(placement),
        settings_(settings),
        device_(model::pick_device(placement.local_rank, settings.device)) {}

  void setup(const json& context) override {
    context_ = context.get<SweepContext>();
    manifest_.root = context_.dataset_root;
    manifest_.classes = context_.classes;
    manifest_.fingerprint = context_.fingerprint;
    manifest_.images = std::move(context_.images);  // kept once, in manifest_
    context_.images.clear();
    manifest_.format = data::format_named(context_.format).value_or(data::Format::folders);
    index_of_.clear();
  }

  std::vector<TaskOutcome> execute(const std::vector<TaskSpec>& tasks,
                                   const TaskInputs& inputs) override {
    if (tasks.empty()) return {};
    if (tasks.front().kind == TaskKind::train) return train_tasks(tasks, inputs);
    std::vector<TaskOutcome> out;
    for (const auto& t : tasks) {
      out.push_back(guarded(t, [&](TaskOutcome& o) {
        if (t.kind == TaskKind::extract) return extract(t, inputs, o);
        if (t.kind == TaskKind::crop) return crop(t, o);
        throw InternalError(
            fmt::format("task kind {} reached the sweep executor", to_string(t.kind)));
      }));
    }
    return out;
  }

 private:
  template <class Body>
  TaskOutcome guarded(const TaskSpec& t, Body&& body) {
    TaskOutcome o;
    o.id = t.id;
    const auto start = Clock::now();
    try {
      if (should_inject_failure(t))
        throw Error(fmt::format("injected failure (FERSWEEP_INJECT_FAILURE)"));
      body(o);
      o.ok = true;
    } catch (const CancelledError& e) {
      o.cancelled = true;
      o.error = e.what();
      o.features.reset();
    } catch (...) {
      o.ok = false;
      o.error = current_exception_message();
      o.features.reset();
    }
    o.seconds = seconds_since(start);
    return o;
  }

  void crop(const TaskSpec& t, TaskOutcome& o) {
    const faces::CropConfig config =
        faces::resolve_crop_config(t.params.get<faces::CropSettings>(), context_.base_dir);
    const faces::CropOutcome outcome = faces::crop_faces(manifest_, config, settings_.threads);
    json crops = json::array();
    std::size_t kept = 0;
    for (const auto& c : outcome.crops) {
      crops.push_back(c ? faces::to_json(*c) : json(nullptr));
      kept += c.has_value();
    }
    const std::string variant = variant_of(context_, t.id);
    const std::string summary = faces::format_qc_summary(outcome.qc);
    o.result = {{"crops", crops},
                {"images", outcome.crops.size()},
                {"kept", kept},
                {"variant", variant},
                {"summary", summary}};
    o.artifacts["qc.json"] = outcome.qc.dump(2);
    o.artifacts["contact_sheet.png"].assign(outcome.contact_sheet_png.begin(),
                                            outcome.contact_sheet_png.end());
    log::info("variant '{}': {}", variant, summary);
  }

  // The extractor of (arch, weights, cut), kept for the next extraction; none for Cut::all
  // (the rows are the normalised images).
  model::FeatureExtractor* extractor_for(model::Arch arch, const LocatedWeights& weights,
                                         model::Cut cut, json& provenance) {
    const std::string key = fmt::format("{}|{}|{}|{}", model::arch_name(arch), weights.spec,
                                        weights.sha256, model::cut_name(cut));
    if (extractor_key_ != key) {
      extractor_.reset();
      const model::ResolvedWeights w = load_weights(weights, arch);
      if (cut != model::Cut::all)
        extractor_ = std::make_unique<model::FeatureExtractor>(
            arch, w.state, device_, model::ExtractorOptions{settings_.threads, true, cut});
      extractor_key_ = key;
      weights_info_ = {
          {"weights_origin", w.origin}, {"weights_sha256", w.sha256}, {"random_weights", w.random}};
    }
    for (const auto& [k, v] : weights_info_.items()) provenance[k] = v;
    return extractor_.get();
  }

  void extract(const TaskSpec& t, const TaskInputs& inputs, TaskOutcome& o) {
    const auto p = t.params.get<sweep::ExtractSettings>();
    const auto weights = context_.weights.find(t.id);
    if (weights == context_.weights.end())
      throw InternalError("extract task " + t.id + " has no weights in the run context");
    const std::string variant = variant_of(context_, t.id);
    // A face variant reads the crops its crop task decided; dropped images are left out.
    std::vector<std::optional<faces::Crop>> crops;
    if (p.crop) {
      const std::string& crop_id = *p.crop;
      const auto it = inputs.dep_results.find(crop_id);
      if (it == inputs.dep_results.end())
        throw InternalError("extract task arrived without its crop result " + crop_id);
      for (const auto& c : it->second.at("crops")) {
        crops.push_back(c.is_null() ? std::nullopt
                                    : std::optional<faces::Crop>(faces::crop_from_json(c)));
      }
      if (crops.size() != manifest_.images.size()) {
        throw DataError(fmt::format("crop result {} has {} entries for {} images", crop_id,
                                    crops.size(), manifest_.images.size()));
      }
    }
    data::ImageTransform transform;
    if (!crops.empty()) {
      transform = [&crops](std::size_t i, const cv::Mat& rgb) {
        return faces::apply_crop(rgb, *crops[i]);
      };
    }
    const auto arch = model::parse_arch(p.backbone);
    const auto cut = model::parse_cut(p.cut);
    json provenance;
    model::FeatureExtractor* fx = extractor_for(arch, weights->second, cut, provenance);
    const int size = p.image_size;
    const auto norm = data::parse_normalization(p.normalize);

    std::vector<std::size_t> indices;
    for (std::size_t i = 0; i < manifest_.images.size(); ++i) {
      if (crops.empty() || crops[i]) indices.push_back(i);
    }
    if (indices.empty()) throw DataError(fmt::format("variant '{}' kept no images", variant));
    data::ChannelStats stats = data::imagenet_stats();
    if (norm == data::Normalization::dataset) {
      // Statistics of this fold's training images only: the test fold never leaks into them. The
      // folds are those the training tasks compute from this feature set's labels.
      const auto f = t.params.get<sweep::FoldSettings>();
      const auto assignment = fold_assignment(manifest_, indices, f);
      std::vector<std::size_t> train;
      for (std::size_t k : data::fold_split(assignment, f.fold).train) train.push_back(indices[k]);
      stats = data::compute_channel_stats(manifest_, train, size, settings_.threads, transform);
    }
    ExtractOptions options;
    options.image_size = size;
    options.normalize = norm;
    options.stats = stats;
    options.batch_size = settings_.extract_batch;
    options.threads = settings_.threads;
    options.transform = transform;
    options.spill = cut != model::Cut::head;
    options.spill_name = t.id;
    auto set = std::make_shared<FeatureSet>(extract_feature_set(fx, manifest_, indices, options));
    set->id = t.id;  // rank 0 receives an activation store's rows into the file of that name
    provenance["backbone"] = model::arch_name(arch);
    provenance["variant"] = variant;
    provenance["image_size"] = size;
    provenance["normalize"] = data::to_string(norm);
    if (cut != model::Cut::head) {
      provenance["cut"] = model::cut_name(cut);
      provenance["shape"] = model::frozen_output_shape(arch, cut, size);
    }
    provenance["dataset_fingerprint"] = manifest_.fingerprint;
    provenance["device"] = fx ? fx->device().str() : "cpu";
    provenance["images_per_second"] = set->attributes["images_per_second"];
    provenance["from_cache"] = false;
    set->attributes = provenance;
    o.result = provenance;
    o.features = set;
  }

  // Heads train together (train_heads stacks them); each fine-tuning task alone, with the run's
  // fixed thread count. Outcomes in task order.
  std::vector<TaskOutcome> train_tasks(const std::vector<TaskSpec>& tasks,
                                       const TaskInputs& inputs) {
    std::vector<TaskSpec> heads;
    for (const auto& t : tasks)
      if (!fine_tunes(t.params)) heads.push_back(t);
    std::vector<TaskOutcome> head_outcomes = train_batch(heads, inputs);
    std::vector<TaskOutcome> out;
    std::size_t h = 0;
    for (const auto& t : tasks) {
      if (!fine_tunes(t.params)) {
        out.push_back(std::move(head_outcomes[h++]));
        continue;
      }
      out.push_back(guarded(t, [&](TaskOutcome& o) {
        if (!inputs.features) throw InternalError("a fine-tuning task arrived without its inputs");
        fine_tune(t, *inputs.features, inputs, o);
      }));
    }
    return out;
  }

  // Restores the rank's torch thread count when a fine-tuning task ends.
  struct ThreadCount {
    int saved = at::get_num_threads();
    explicit ThreadCount(int n) { at::set_num_threads(n); }
    ~ThreadCount() { at::set_num_threads(saved); }
    ThreadCount(const ThreadCount&) = delete;
    ThreadCount& operator=(const ThreadCount&) = delete;
  };

  // The checked weights of the whole network (the tail's initial blocks), loaded once per
  // (arch, weights) on this rank.
  const model::StateDict& tail_weights(model::Arch arch, const LocatedWeights& weights) {
    const std::string key =
        fmt::format("{}|{}|{}", model::arch_name(arch), weights.spec, weights.sha256);
    if (tail_weights_key_ != key) {
      tail_weights_ = load_weights(weights, arch).state;
      tail_weights_key_ = key;
    }
    return tail_weights_;
  }

  void fine_tune(const TaskSpec& t, const FeatureSet& fs, const TaskInputs& inputs,
                 TaskOutcome& o) {
    const json& p = t.params;
    const TaskRows split = task_rows(fs, p.get<sweep::FoldSettings>());
    train::FineTuneConfig config;
    static_cast<train::TrainSettings&>(config) = p.get<train::TrainSettings>();
    static_cast<train::FineTuneSettings&>(config) = p.get<train::FineTuneSettings>();
    config.augment = p.value("augment", json::object()).get<train::AugmentSettings>();
    config.eval_epochs = t.epochs;
    config.rng_seed = sweep::seed_from_id(t.id);
    train::validate(config);
    const auto arch = model::parse_arch(p.at("backbone").get<std::string>());
    const auto cut = model::parse_cut(config.finetune);
    const auto weights = context_.weights.find(t.features);
    if (weights == context_.weights.end())
      throw InternalError("fine-tuning task " + t.id + " has no weights in the run context");
    // With augmentation the feature set holds the images (cut all) and the frozen part runs here.
    const bool augment = config.augment.active();
    const model::Cut stored = augment ? model::Cut::all : cut;
    std::vector<std::int64_t> shape =
        model::frozen_output_shape(arch, stored, p.at("image_size").get<int>());
    std::int64_t per_row = 1;
    for (std::int64_t d : shape) per_row *= d;
    if (per_row != fs.dim)
      throw DataError(
          fmt::format("feature set {} holds {} values per sample, not the {} of {}'s "
                      "{} input",
                      fs.id, fs.dim, per_row, model::arch_name(arch), model::cut_name(stored)));
    const model::StateDict& state = tail_weights(arch, weights->second);
    std::unique_ptr<train::ActivationSource> stored_rows;
    if (fs.on_disk) {
      stored_rows = std::make_unique<train::StoredActivations>(fs, shape);
    } else {
      shape.insert(shape.begin(), fs.n);
      stored_rows = std::make_unique<train::TensorActivations>(
          torch::from_blob(const_cast<float*>(fs.values.data()), shape, torch::kFloat32));
    }
    std::optional<train::AugmentedImages> augmented;
    if (augment) {
      // Built before the task's thread count is set: building an extractor sets the rank's.
      json provenance;
      model::FeatureExtractor* fx = extractor_for(arch, weights->second, cut, provenance);
      train::AugmentedImages::Frozen frozen;
      if (fx) frozen = [fx](const at::Tensor& images) { return fx->extract(images); };
      augmented.emplace(*stored_rows, config.augment, config.rng_seed, std::move(frozen));
    }
    const train::ActivationSource& rows =
        augmented ? static_cast<const train::ActivationSource&>(*augmented) : *stored_rows;
    ThreadCount threads(context_.finetune_threads);
    train::FineTuneControl control;
    model::SavedModel kept;
    if (keeps_models()) control.final_state = &kept.state;
    train::Checkpointing checkpoints = checkpointing(t, inputs);
    if (auto it = inputs.pause_at.find(t.id); it != inputs.pause_at.end())
      checkpoints.pause_at = it->second;
    control.checkpoints = &checkpoints;
    control.val_idx = &split.val;
    auto run = [&] {
      return train::fine_tune(arch, state, rows, fs.labels, split.train, split.test,
                              static_cast<int>(manifest_.classes.size()), config, device_, control);
    };
    std::optional<train::TrainResult> r;
    try {
      r = run();
    } catch (const train::CheckpointError& e) {
      log::warn("task {}: its checkpoint is not used ({}); it starts from scratch", t.id, e.what());
      checkpoints.resume = nullptr;
      r = run();
      o.result["checkpoint_refused"] = e.what();
    }
    o.result.update(to_json(*r, split.train.size(), split.val.size(), split.test.size()));
    if (checkpoints.resumed_from > 0) o.result["resumed_from_epoch"] = checkpoints.resumed_from;
    o.result["threads"] = context_.finetune_threads;
    o.result["device"] = device_.str();
    o.paused_at = checkpoints.pause_at;
    // Paused at a rung: the model as it is there (it is the task's last if the rung stops it).
    if (keeps_models())
      o.artifacts[kModelFile] =
          model_bytes(t, fs, std::move(kept), o.paused_at > 0 ? o.paused_at : t.epochs.back());
  }

  bool keeps_models() const { return context_.keep_models != "none"; }

  // A head's last epoch, or the rung early_stop stopped it at.
  static int last_epoch_trained(const TaskSpec& t, const json& result) {
    const json stopped =
        result.contains("early_stop") ? result["early_stop"].value("stopped_at", json()) : json();
    return stopped.is_number_integer() ? stopped.get<int>() : t.epochs.back();
  }

  // The task's checkpoints: continued from the one rank 0 sent, new ones sent to rank 0 every
  // run.checkpoint_every.
  train::Checkpointing checkpointing(const TaskSpec& t, const TaskInputs& inputs) const {
    train::Checkpointing c;
    if (auto it = inputs.checkpoints.find(t.id); it != inputs.checkpoints.end())
      c.resume = &it->second;
    if (inputs.save_checkpoint) {
      c.every_seconds = context_.checkpoint_seconds;
      c.save = [&inputs, id = t.id](int epoch, std::string state) {
        inputs.save_checkpoint(id, epoch, std::move(state));
      };
    }
    return c;
  }

  // A kept model's file: the task, its classes and the frozen part's provenance around the
  // trained tensors (model/saved_model.h).
  std::string model_bytes(const TaskSpec& t, const FeatureSet& fs, model::SavedModel m,
                          int epoch) const {
    m.task_id = t.id;
    m.params = t.params;
    m.classes = manifest_.classes;
    m.epoch = epoch;
    m.frozen = {{"extract", fs.id}, {"cut", t.params.value("finetune", std::string("head"))}};
    for (const char* key : {"backbone", "weights", "image_size", "normalize", "variant"})
      m.frozen[key] = t.params.at(key);
    for (const char* key : {"weights_origin", "weights_sha256", "random_weights"})
      if (fs.attributes.contains(key)) m.frozen[key] = fs.attributes[key];
    // Read back from a feature file a flag is 0/1: the same model file either way.
    if (auto r = m.frozen.find("random_weights"); r != m.frozen.end() && r->is_number())
      *r = r->get<double>() != 0;
    return model::saved_model_bytes(m);
  }

  // A head's final parameters under torchvision's names for the fc it replaces.
  static model::SavedModel head_model(const train::HeadParams& p, const train::HeadJob& job,
                                      std::int64_t dim, std::int64_t classes) {
    auto tensor = [](const std::vector<float>& v, std::vector<std::int64_t> shape) {
      return torch::tensor(v, torch::kFloat32).reshape(shape);
    };
    model::SavedModel m;
    if (job.config.head == "mlp") {
      const std::int64_t h = job.config.hidden;
      m.state = {{"fc.0.weight", tensor(p.w1, {h, dim})},
                 {"fc.0.bias", tensor(p.b1, {h})},
                 {"fc.2.weight", tensor(p.w2, {classes, h})},
                 {"fc.2.bias", tensor(p.b2, {classes})}};
    } else {
      m.state = {{"fc.weight", tensor(p.w1, {classes, dim})}, {"fc.bias", tensor(p.b1, {classes})}};
    }
    if (!p.mean.empty()) {
      m.mean = torch::tensor(p.mean, torch::kFloat64);
      m.inv_std = torch::tensor(p.inv_std, torch::kFloat64);
    }
    return m;
  }

  std::vector<TaskOutcome> train_batch(const std::vector<TaskSpec>& tasks,
                                       const TaskInputs& inputs) {
    if (tasks.empty()) return {};
    std::vector<TaskOutcome> out(tasks.size());
    const auto start = Clock::now();
    std::vector<train::HeadJob> jobs;
    std::vector<std::size_t> job_task;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      out[i].id = tasks[i].id;
      try {
        if (!inputs.features) throw InternalError("training tasks arrived without features");
        if (should_inject_failure(tasks[i]))
          throw Error("injected failure (FERSWEEP_INJECT_FAILURE)");
        jobs.push_back(make_job(tasks[i], *inputs.features));
        job_task.push_back(i);
      } catch (...) {
        out[i].error = current_exception_message();
      }
    }
    if (!jobs.empty()) {
      try {
        const FeatureSet& fs = *inputs.features;
        const at::Tensor features =
            torch::from_blob(const_cast<float*>(fs.values.data()), {fs.n, fs.dim}, torch::kFloat32);
        const at::Tensor labels =
            torch::from_blob(const_cast<std::int64_t*>(fs.labels.data()), {fs.n}, torch::kInt64);
        const int classes = static_cast<int>(manifest_.classes.size());
        // Kept models need each head's final parameters: the heads then train one by one
        // (train_head gives the same results as the stacked train_heads).
        std::vector<train::HeadParams> finals(keeps_models() ? jobs.size() : 0);
        std::vector<train::TrainResult> results;
        std::vector<json> stops(jobs.size());
        if (context_.early_stop) {
          results = train_brackets(tasks, job_task, jobs, features, labels, classes, finals, stops);
        } else if (keeps_models()) {
          for (std::size_t j = 0; j < jobs.size(); ++j) {
            train::RunControl control;
            control.final_params = &finals[j];
            results.push_back(train::train_head(features, labels, jobs[j].train_idx,
                                                jobs[j].test_idx, classes, jobs[j].config, control,
                                                jobs[j].val_idx));
          }
        } else {
          results = train::train_heads(features, labels, jobs, classes);
        }
        for (std::size_t j = 0; j < results.size(); ++j) {
          TaskOutcome& o = out[job_task[j]];
          o.result = to_json(results[j], jobs[j].train_idx.size(), jobs[j].val_idx.size(),
                             jobs[j].test_idx.size());
          if (!stops[j].is_null()) o.result["early_stop"] = std::move(stops[j]);
          if (keeps_models())
            o.artifacts[kModelFile] =
                model_bytes(tasks[job_task[j]], fs, head_model(finals[j], jobs[j], fs.dim, classes),
                            last_epoch_trained(tasks[job_task[j]], o.result));
          o.ok = true;
        }
      } catch (const CancelledError& e) {
        for (std::size_t i : job_task) {
          out[i].error = e.what();
          out[i].cancelled = true;
        }
      } catch (...) {
        const std::string message = current_exception_message();
        for (std::size_t i : job_task) out[i].error = message;
      }
    }
    const double per_task = seconds_since(start) / static_cast<double>(tasks.size());
    for (auto& o : out) o.seconds = per_task;
    return out;
  }

  // early_stop: the heads of each bracket in the batch (the scheduler sends a bracket whole)
  // trained with successive halving; `stops` gets each head's rung records and where it stopped.
  std::vector<train::TrainResult> train_brackets(
      const std::vector<TaskSpec>& tasks, const std::vector<std::size_t>& job_task,
      const std::vector<train::HeadJob>& jobs, const at::Tensor& features, const at::Tensor& labels,
      int classes, std::vector<train::HeadParams>& finals, std::vector<json>& stops) {
    const sweep::EarlyStopSettings& es = *context_.early_stop;
    std::map<std::string, std::vector<std::size_t>> brackets;
    for (std::size_t j = 0; j < jobs.size(); ++j)
      brackets[head_bracket(tasks[job_task[j]].params)].push_back(j);
    const train::StopRule rule = stop_rule(es);
    std::vector<train::TrainResult> results(jobs.size());
    for (const auto& [key, members] : brackets) {
      std::vector<train::BracketJob> bracket;
      for (std::size_t j : members) bracket.push_back({tasks[job_task[j]].id, jobs[j]});
      auto outcomes = train::train_bracket(features, labels, bracket, classes, es.rungs, rule,
                                           es.metric == "val_macro_f1", keeps_models());
      for (std::size_t k = 0; k < members.size(); ++k) {
        const std::size_t j = members[k];
        json rungs = json::array();
        for (const auto& r : outcomes[k].rungs)
          rungs.push_back({{"epoch", r.epoch},
                           {"rank", r.rank},
                           {"of", r.of},
                           {"kept", r.kept},
                           {"score", r.score}});
        stops[j] = {{"stopped_at",
                     outcomes[k].stopped_at > 0 ? json(outcomes[k].stopped_at) : json(nullptr)},
                    {"metric", es.metric},
                    {"rungs", rungs}};
        results[j] = std::move(outcomes[k].result);
        if (keeps_models()) finals[j] = std::move(outcomes[k].final_params);
      }
    }
    return results;
  }

  // The folds of a feature set's rows, computed once per (feature set, fold settings).
  const std::vector<int>& assignment_for(const FeatureSet& fs, const sweep::FoldSettings& f) {
    const std::string key = fs.id + "|" + split_key(f);
    auto it = assignments_.find(key);
    if (it != assignments_.end()) return it->second;
    return assignments_[key] = fold_assignment(manifest_, rows_of(fs), f);
  }

  std::vector<std::size_t> rows_of(const FeatureSet& fs) {
    if (index_of_.empty()) index_of_ = index_samples(manifest_);
    return run::rows_of(index_of_, fs);
  }

  // A task's rows of a feature set: its training fold, less the validation part select: sets
  // aside (the same rows for every task of that fold, repeat and val_fraction), and its test fold.
  struct TaskRows {
    std::vector<std::size_t> train, val, test;
  };

  TaskRows task_rows(const FeatureSet& fs, const sweep::FoldSettings& f) {
    auto split = data::fold_split(assignment_for(fs, f), f.fold);
    TaskRows rows{std::move(split.train), {}, std::move(split.test)};
    if (!(f.val_fraction > 0)) return rows;
    std::vector<int> labels;
    std::vector<std::string> groups;
    const bool grouped = f.cv && !f.cv->group.empty();
    const auto manifest_rows = grouped ? rows_of(fs) : std::vector<std::size_t>();
    for (std::size_t r : rows.train) {
      labels.push_back(static_cast<int>(fs.labels.at(r)));
      if (grouped) groups.push_back(manifest_.images.at(manifest_rows.at(r)).subject);
    }
    const auto part = data::validation_part(labels, groups, f.val_fraction,
                                            data::validation_seed(f.cv_seed, f.fold));
    std::vector<std::size_t> fit;
    std::size_t next = 0;
    for (std::size_t k = 0; k < rows.train.size(); ++k) {
      if (next < part.size() && part[next] == k) {
        rows.val.push_back(rows.train[k]);
        ++next;
      } else {
        fit.push_back(rows.train[k]);
      }
    }
    rows.train = std::move(fit);
    return rows;
  }

  train::HeadJob make_job(const TaskSpec& t, const FeatureSet& fs) {
    const json& p = t.params;
    TaskRows rows = task_rows(fs, p.get<sweep::FoldSettings>());
    train::HeadJob job;
    job.train_idx = std::move(rows.train);
    job.test_idx = std::move(rows.test);
    job.val_idx = std::move(rows.val);
    // Typed once, with TrainSettings' defaults for the keys a task leaves out.
    static_cast<train::TrainSettings&>(job.config) = p.get<train::TrainSettings>();
    job.config.eval_epochs = t.epochs;
    job.config.rng_seed = sweep::seed_from_id(t.id);  // the plan's TrainTask::seed
    train::validate(job.config);
    return job;
  }

  // n_val 0: no validation part (no val_evals, no n_val).
  static json to_json(const train::TrainResult& r, std::size_t n_train, std::size_t n_val,
                      std::size_t n_test) {
    json evals = json::array();
    for (const auto& e : r.evals) {
      evals.push_back({{"epoch", e.epoch},
                       {"accuracy", e.accuracy},
                       {"macro_f1", e.macro_f1},
                       {"test_loss", e.test_loss},
                       {"per_class_recall", e.per_class_recall},
                       {"confusion", e.confusion}});
    }
    json out = {{"evals", evals},
                {"train_loss", r.train_loss},
                {"train_accuracy", r.train_accuracy},
                {"n_train", n_train},
                {"n_test", n_test}};
    if (n_val > 0) {
      json val = json::array();
      for (const auto& e : r.val_evals)
        val.push_back({{"epoch", e.epoch},
                       {"accuracy", e.accuracy},
                       {"macro_f1", e.macro_f1},
                       {"loss", e.test_loss}});
      out["val_evals"] = val;
      out["n_val"] = n_val;
    }
    return out;
  }

  comm::Placement placement_;
  ExecutorSettings settings_;
  c10::Device device_;
  SweepContext context_;  // its images are in manifest_
  data::Manifest manifest_;
  std::unique_ptr<model::FeatureExtractor> extractor_;
  std::string extractor_key_;
  json weights_info_;
  std::map<std::string, std::vector<int>> assignments_;
  model::StateDict tail_weights_;
  std::string tail_weights_key_;
  SampleIndex index_of_;
};

}  // namespace

std::unique_ptr<Executor> make_sweep_executor(const comm::Placement& placement,
                                              const ExecutorSettings& settings) {
  return std::make_unique<SweepExecutor>(placement, settings);
}

TaskOutcome extract_features(const data::Manifest& manifest, const sweep::ExtractSettings& settings,
                             const ExecutorSettings& executor_settings,
                             const std::optional<fs::path>& feature_cache) {
  FERSWEEP_ASSERT(settings.cut == "head", "fersweep extract computes pooled features");
  json params = settings;
  params.erase("cut");  // pooled features (a sweep's extract tasks write cut only for the others)
  const TaskSpec t = make_task(sweep::task_id(params), TaskKind::extract, params, {}, 0);
  SweepContext context = context_of(manifest, fs::current_path());
  context.weights[t.id] =
      locate_and_check_weights(settings.weights, model::parse_arch(settings.backbone));
  context.variants[t.id] = "";
  FeatureCacheHooks hooks;
  if (feature_cache) {
    auto link = std::make_shared<CacheLink>(*feature_cache, context);
    link->keys[t.id] = extract_cache_key(t.id, params, context, nullptr);
    hooks = make_cache_hooks(link);
    if (auto hit = hooks.fetch(t)) {
      hit->features->id = t.id;
      return std::move(*hit);
    }
  }
  SweepExecutor executor(comm::Placement{}, executor_settings);
  executor.setup(context);
  TaskOutcome o = std::move(executor.execute({t}, {}).front());
  if (!o.ok) throw Error(o.error);
  o.features->id = t.id;
  if (hooks.store) hooks.store(t, o);
  return o;
}

}  // namespace fersweep::run
