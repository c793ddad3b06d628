// Streaming feature extraction over a dataset, and feature-cache keys.
#include "run/extract.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <optional>

#include "core/cancel.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/version.h"
#include "model/extractor.h"
#include "model/weights.h"
#include "sweep/plan.h"

namespace fersweep::run {
namespace fs = std::filesystem;
using nlohmann::json;

store::FeatureSet extract_feature_set(model::FeatureExtractor* extractor,
                                      const data::Manifest& manifest,
                                      const std::vector<std::size_t>& indices,
                                      const ExtractOptions& options) {
  store::FeatureSet set;
  set.n = static_cast<std::int64_t>(indices.size());
  set.dim = 1;
  const auto shape =
      extractor
          ? model::frozen_output_shape(extractor->arch(), extractor->cut(), options.image_size)
          : std::vector<std::int64_t>{3, options.image_size, options.image_size};
  for (std::int64_t d : shape) set.dim *= d;
  // Activation stores go to a spill file batch by batch: memory holds one batch, not the set.
  std::optional<store::RowWriter> spill;
  if (options.spill)
    spill.emplace(options.spill_name, set.dim);
  else
    set.values.reserve(static_cast<std::size_t>(set.n * set.dim));
  const auto start = std::chrono::steady_clock::now();
  data::ImageBatchStream stream(manifest, indices, options.image_size, options.batch_size,
                                options.threads, options.transform);
  data::ImageBatch batch;
  while (stream.next(batch)) {
    throw_if_cancelled("feature extraction");  // between batches: within one forward pass
    torch::NoGradGuard no_grad;
    const at::Tensor x = data::normalize(batch.images, options.normalize, options.stats);
    const at::Tensor f = (extractor ? extractor->extract(x) : x).to(torch::kCPU).contiguous();
    if (f.numel() != f.size(0) * set.dim)
      throw InternalError(fmt::format("extraction gave {} values per image, expected {}",
                                      f.numel() / std::max<std::int64_t>(1, f.size(0)), set.dim));
    const float* v = f.data_ptr<float>();
    if (spill)
      spill->append(v, f.size(0));
    else
      set.values.insert(set.values.end(), v, v + f.numel());
    for (std::size_t i : batch.indices) {
      set.labels.push_back(manifest.images[i].label);
      set.paths.push_back(manifest.images[i].relative_path);
    }
  }
  if (spill) {
    if (spill->rows() != set.n)
      throw InternalError(
          fmt::format("extraction gave {} rows for {} images", spill->rows(), set.n));
    set.on_disk = spill->finish();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  set.attributes["images_per_second"] = secs > 0 ? set.n / secs : 0.0;
  return set;
}

LocatedWeights locate_and_check_weights(const std::string& spec, model::Arch arch) {
  const model::WeightsSpec parsed = model::parse_weights(spec);
  LocatedWeights out{spec, "", ""};
  if (parsed.kind == model::WeightsSpec::random) return out;
  // resolve_weights reads a given path before hashing it (its messages say what is wrong with
  // the file) and checks `auto` against torchvision's checksum first.
  const model::ResolvedWeights w = model::resolve_weights(parsed, arch);
  out.file = w.origin;
  out.sha256 = w.sha256;
  return out;
}

model::ResolvedWeights load_weights(const LocatedWeights& weights, model::Arch arch) {
  const model::WeightsSpec parsed = model::parse_weights(weights.spec);
  if (parsed.kind == model::WeightsSpec::random) return model::resolve_weights(parsed, arch);
  model::ResolvedWeights w;
  w.origin = weights.file;
  w.sha256 = weights.sha256;
  w.state = model::read_checkpoint(weights.file);
  model::check_state_dict(w.state, arch, fmt::format("weights file '{}'", w.origin));
  return w;
}

json weights_cache_key(const LocatedWeights& weights, model::Arch arch) {
  const model::WeightsSpec parsed = model::parse_weights(weights.spec);
  if (parsed.kind == model::WeightsSpec::random)
    return {{"random_seed", parsed.seed},
            {"arch", model::arch_name(arch)},
            {"libtorch", torch_version()}};
  return {{"sha256", weights.sha256}};
}

std::string canonical_feature_key(const FeatureKey& key) {
  json k = {{"format", "fersweep-feature-key-1"},
            {"preprocessing", kPreprocessingVersion},
            {"backbone", model::arch_name(key.arch)},
            {"weights", key.weights},
            {"dataset_fingerprint", key.dataset_fingerprint},
            {"variant", key.variant},
            {"image_size", key.image_size},
            {"normalize", key.normalize},
            {"fold", key.fold}};
  if (key.cut != "head") k["cut"] = key.cut;  // head keys stay those of earlier versions
  return sweep::canonical_json(k);
}

}  // namespace fersweep::run
