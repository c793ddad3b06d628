// One feature set computed from a dataset (shared by `fersweep extract` and the sweep's extract
// tasks), and the feature-cache key that names what its values depend on.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "model/arch.h"
#include "store/features_file.h"

namespace fersweep::model {
class FeatureExtractor;
}

namespace fersweep::run {

/// Bump whenever decoding, resizing or normalisation changes the pixels a backbone sees, so that
/// feature-cache entries made by older code stop matching.
inline constexpr int kPreprocessingVersion = 1;

/// How one feature set is computed.
struct ExtractOptions {
  int image_size = 224;
  data::Normalization normalize = data::Normalization::imagenet;
  data::ChannelStats stats = data::imagenet_stats();  ///< for imagenet / dataset
  int batch_size = 32;
  int threads = 1;                 ///< decoder threads
  data::ImageTransform transform;  ///< e.g. a face crop; empty: whole images
};

/// Runs `extractor` over images `indices` of `manifest` in streamed batches. Returns features
/// [n, D] float32 with labels and relative paths in `indices` order; attributes hold
/// `images_per_second`.
store::FeatureSet extract_feature_set(model::FeatureExtractor& extractor,
                                      const data::Manifest& manifest,
                                      const std::vector<std::size_t>& indices,
                                      const ExtractOptions& options);

/// Names weights in a cache key without loading them: {"sha256"} of the file for a path or for
/// the file `auto` resolves to (each file hashed once per object), {"random_seed", "arch",
/// "libtorch"} for random weights (their values come from LibTorch's generator). nullopt when
/// `auto` finds no file: the extraction itself then reports what is missing.
class WeightsKeys {
 public:
  std::optional<nlohmann::json> key(const std::string& weights, model::Arch arch);
  /// The file `weights` names for `arch` (a path, or what `auto` finds); empty for random.
  static std::filesystem::path file_of(const std::string& weights, model::Arch arch);

 private:
  std::map<std::filesystem::path, std::string> hashes_;
};

/// Everything a feature set's values depend on.
struct FeatureKey {
  model::Arch arch = model::Arch::resnet18;
  nlohmann::json weights;  ///< WeightsKeys::key
  std::string dataset_fingerprint;
  nlohmann::json variant;  ///< null for whole images; crop settings + file hashes
  int image_size = 224;
  std::string normalize;
  nlohmann::json fold;  ///< normalize: dataset: {fold, repeat, folds, cv_seed}; else null
};

/// The canonical JSON text of a key (sorted keys, no spaces), with the preprocessing version.
std::string canonical_feature_key(const FeatureKey& key);

}  // namespace fersweep::run
