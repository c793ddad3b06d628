// Streaming feature extraction over a dataset, and feature-cache keys.
#include "run/extract.h"

#include <torch/torch.h>

#include <chrono>

#include "core/cancel.h"
#include "core/hash.h"
#include "core/version.h"
#include "model/extractor.h"
#include "model/weights.h"
#include "sweep/plan.h"

namespace fersweep::run {
namespace fs = std::filesystem;
using nlohmann::json;

store::FeatureSet extract_feature_set(model::FeatureExtractor& extractor,
                                      const data::Manifest& manifest,
                                      const std::vector<std::size_t>& indices,
                                      const ExtractOptions& options) {
  store::FeatureSet set;
  set.n = static_cast<std::int64_t>(indices.size());
  set.dim = extractor.dim();
  set.values.reserve(static_cast<std::size_t>(set.n * set.dim));
  const auto start = std::chrono::steady_clock::now();
  data::ImageBatchStream stream(manifest, indices, options.image_size, options.batch_size,
                                options.threads, options.transform);
  data::ImageBatch batch;
  while (stream.next(batch)) {
    throw_if_cancelled("feature extraction");  // between batches: within one forward pass
    torch::NoGradGuard no_grad;
    const at::Tensor x = data::normalize(batch.images, options.normalize, options.stats);
    const at::Tensor f = extractor.extract(x).to(torch::kCPU).contiguous();
    const float* v = f.data_ptr<float>();
    set.values.insert(set.values.end(), v, v + f.numel());
    for (std::size_t i : batch.indices) {
      set.labels.push_back(manifest.images[i].label);
      set.paths.push_back(manifest.images[i].relative_path);
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  set.attributes["images_per_second"] = secs > 0 ? set.n / secs : 0.0;
  return set;
}

fs::path WeightsKeys::file_of(const std::string& weights, model::Arch arch) {
  const model::WeightsSpec spec = model::parse_weights(weights);
  if (spec.kind == model::WeightsSpec::file) return spec.path;
  if (spec.kind == model::WeightsSpec::random) return {};
  for (const std::string& name : model::torchvision_file_names(arch)) {
    const fs::path p = model::torchvision_checkpoint_dir() / name;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p;
  }
  return {};
}

std::optional<json> WeightsKeys::key(const std::string& weights, model::Arch arch) {
  const model::WeightsSpec spec = model::parse_weights(weights);
  if (spec.kind == model::WeightsSpec::random) {
    return json{{"random_seed", spec.seed},
                {"arch", model::arch_name(arch)},
                {"libtorch", torch_version()}};
  }
  const fs::path file = file_of(weights, arch);
  std::error_code ec;
  if (file.empty() || !fs::is_regular_file(file, ec)) return std::nullopt;
  auto it = hashes_.find(file);
  if (it == hashes_.end()) {
    // locate_weights checks torchvision's checksum for `auto`: a damaged file is refused here
    // as it is by a cold extraction, whatever the cache holds.
    it = hashes_.emplace(file, model::locate_weights(spec, arch).sha256).first;
  }
  return json{{"sha256", it->second}};
}

std::string canonical_feature_key(const FeatureKey& key) {
  const json k = {{"format", "fersweep-feature-key-1"},
                  {"preprocessing", kPreprocessingVersion},
                  {"backbone", model::arch_name(key.arch)},
                  {"weights", key.weights},
                  {"dataset_fingerprint", key.dataset_fingerprint},
                  {"variant", key.variant},
                  {"image_size", key.image_size},
                  {"normalize", key.normalize},
                  {"fold", key.fold}};
  return sweep::canonical_json(k);
}

}  // namespace fersweep::run
