// `fersweep extract DATASET --backbone B --weights W --out FEATURES.h5`: one feature file from a
// dataset in any of the FER formats, without a sweep file.
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/error.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/version.h"
#include "data/dataset.h"
#include "data/preprocess.h"
#include "model/weights.h"
#include "run/sweep_run.h"
#include "store/feature_cache.h"
#include "sweep/settings.h"
#include "sweep/yaml_tree.h"

namespace fersweep::cli {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kManual = R"(
Reads DATASET (one folder per class, as for a sweep, or --format F: fer2013, ferplus, rafdb,
affectnet, ckplus, jaffe, expw; docs/datasets.md), runs the frozen backbone over every sample
and writes FEATURES.h5 (HDF5):
  /features [N, D] float32   (D = 512 for resnet18/34, 2048 for resnet50)
  /labels   [N] int64        (index into the `classes` attribute)
  /paths    [N] str          (the samples' identities, sorted: paths relative to DATASET, or
                              FILE:LINE for a row of fer2013.csv, FILE:LINE#FACE for ExpW)
and attributes: classes (JSON list), backbone, weights (as given), weights_origin,
weights_sha256, random_weights (0/1), dataset_root, dataset_fingerprint, image_size, normalize,
device, from_cache (0/1), fersweep_version, libtorch_version.

Weights: auto (torchvision's file in $TORCH_HOME/hub/checkpoints), a .pth/TorchScript path, or
random[:SEED] (no ImageNet knowledge; for tests and baselines).
Images are resized straight to SIZE x SIZE and normalised with ImageNet's mean/std (imagenet) or
per image to [0, 1] (minmax).

The file is written atomically: a failure leaves no FEATURES.h5. The features also go into the
feature cache shared with `fersweep run` (--feature-cache, $FERSWEEP_FEATURE_CACHE, or
~/.cache/fersweep/features), and are copied from there when they are already in it.

Samples of classes outside the format's eight (AffectNet None, FER+ unknown, ...) are left
out and counted in the log.

Examples:
  fersweep extract data/demo --backbone resnet18 --weights auto --out features/r18.h5
  fersweep extract data/fer2013 --format fer2013 --backbone resnet18 --weights auto \
      --image-size 48 --out features/fer2013-r18.h5)";

struct Options {
  std::string dataset;
  std::string backbone;
  std::string weights;
  int image_size = 224;
  std::string normalize = "imagenet";
  int batch_size = 32;
  int threads = 0;
  bool skip_bad_images = false;
  std::string out;
  std::string feature_cache;
  bool no_feature_cache = false;
  LayoutOptions layout;
};

model::Arch parse_backbone(const std::string& name) {
  try {
    return model::parse_arch(name);
  } catch (const ConfigError& e) {
    std::string msg = fmt::format("--backbone: {}", e.what());
    const std::string near = sweep::closest_match(name, {"resnet18", "resnet34", "resnet50"});
    if (!near.empty()) msg += fmt::format("; did you mean '{}'?", near);
    throw ConfigError(msg);
  }
}

// The output must be creatable before minutes of extraction are spent.
void check_output(const fs::path& out) {
  std::error_code ec;
  if (fs::is_directory(out, ec))
    throw ConfigError(fmt::format("--out '{}' is a directory; give a file name", out.string()));
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec))
    throw ConfigError(
        fmt::format("--out '{}': folder '{}' does not exist", out.string(), dir.string()));
  if (::access(dir.c_str(), W_OK) != 0)
    throw ConfigError(
        fmt::format("--out '{}': folder '{}' is not writable", out.string(), dir.string()));
}

void extract_command(const Options& o) {
  const model::Arch arch = parse_backbone(o.backbone);
  model::parse_weights(o.weights);  // a bad spelling is refused before the dataset is scanned
  const data::Normalization norm = data::parse_normalization(o.normalize);
  if (norm == data::Normalization::dataset)
    throw ConfigError(
        "--normalize dataset uses the statistics of each training fold and exists only inside a "
        "sweep (normalize: dataset); use imagenet or minmax here");
  const fs::path out = o.out;
  check_output(out);
  const int threads = default_threads(o.threads);
  at::set_num_threads(threads);

  data::ScanOptions scan;
  scan.skip_bad_images = o.skip_bad_images;
  scan.threads = threads;
  scan.layout = layout_of(o.layout);
  const data::Manifest manifest = data::scan_dataset(o.dataset, scan);
  log::info("dataset '{}' ({}): {} samples in {} classes, fingerprint {}", o.dataset,
            scan.layout.format, manifest.images.size(), manifest.classes.size(),
            manifest.fingerprint.substr(0, 16));
  run::log_left_out(manifest);

  sweep::ExtractSettings settings;
  settings.backbone = model::arch_name(arch);
  settings.weights = o.weights;
  settings.image_size = o.image_size;
  settings.normalize = data::to_string(norm);
  run::ExecutorSettings executor;
  executor.threads = threads;
  executor.extract_batch = o.batch_size;
  const auto start = std::chrono::steady_clock::now();
  run::TaskOutcome outcome = run::extract_features(
      manifest, settings, executor, store::feature_cache_dir(o.feature_cache, o.no_feature_cache));
  store::FeatureSet& set = *outcome.features;
  json provenance = std::move(outcome.result);
  const bool from_cache = provenance.value("from_cache", false);
  if (from_cache)
    log::info("features found in the feature cache: '{}'",
              provenance.value("feature_cache", std::string()));
  provenance.erase("variant");  // a sweep's face variant; here always the whole images
  provenance["weights"] = o.weights;
  provenance["dataset_root"] = fs::absolute(manifest.root).lexically_normal().string();
  provenance["classes"] = json(manifest.classes).dump();
  provenance["fersweep_version"] = version();
  provenance["libtorch_version"] = torch_version();
  set.attributes = provenance;
  store::write_features_file(out, set);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log::info(
      "wrote {} x {} features ({}{}) to '{}' in {:.1f} s", set.n, set.dim, model::arch_name(arch),
      provenance["random_weights"].get<bool>() ? ", random weights" : "", out.string(), seconds);
}

}  // namespace

void add_extract(CLI::App& app) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "extract", "Extract frozen-backbone features of a dataset into one HDF5 file (no sweep)");
  cmd->footer(kManual);
  cmd->add_option("DATASET", o->dataset, "Dataset root (one subfolder per class, or --format)")
      ->required();
  add_layout_options(*cmd, o->layout);
  cmd->add_option("--backbone", o->backbone, "resnet18, resnet34 or resnet50")->required();
  cmd->add_option("--weights", o->weights, "auto, random[:SEED] or a weights file")->required();
  cmd->add_option("--image-size", o->image_size, "Images are resized to SIZE x SIZE")
      ->check(CLI::Range(16, 4096))
      ->capture_default_str();
  cmd->add_option("--normalize", o->normalize, "imagenet or minmax")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "Images per forward pass")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Torch and decoder threads (default: every core)")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--skip-bad-images", o->skip_bad_images,
                "Leave unreadable images out instead of failing");
  cmd->add_option("--out", o->out, "The feature file to write (FEATURES.h5)")->required();
  add_feature_cache_options(*cmd, o->feature_cache, o->no_feature_cache);
  cmd->callback([o] { extract_command(*o); });
}

}  // namespace fersweep::cli
