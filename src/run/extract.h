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
#include "model/weights.h"
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
  /// Rows to a spill file (store/rows.h) as batches arrive, named after `spill_name`, instead of
  /// memory: activation stores.
  bool spill = false;
  std::string spill_name = "features";
};

/// Runs `extractor` over images `indices` of `manifest` in streamed batches. Returns features
/// [n, D] float32 with labels and relative paths in `indices` order (D: the pooled features, or
/// the flattened activations of an extractor stopped before a cut); attributes hold
/// `images_per_second`. Without an extractor the rows are the normalised images themselves
/// (the input of a network fine-tuned whole, finetune: all). With `options.spill` the rows are
/// on disk (`on_disk`).
store::FeatureSet extract_feature_set(model::FeatureExtractor* extractor,
                                      const data::Manifest& manifest,
                                      const std::vector<std::size_t>& indices,
                                      const ExtractOptions& options);

/// The weights of an extraction as rank 0 located them: each file found, hashed and its state
/// checked once per run (a bad file is then a plain error before anything is written); workers
/// load the file and take its hash from here. One field list, JSON both ways (the run context).
struct LocatedWeights {
  std::string spec;    ///< auto | random | random:SEED | an absolute path
  std::string file;    ///< the file (a path, or what `auto` found); "" for random weights
  std::string sha256;  ///< of the file; "" for random weights
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(LocatedWeights, spec, file, sha256)

/// Finds, hashes and checks the weights `spec` names for `arch` (model::locate_weights: `auto`
/// must be torchvision's file by its checksum; the state must fit `arch`). Random weights are
/// generated only by the extraction itself. ModelError/IoError naming the file.
LocatedWeights locate_and_check_weights(const std::string& spec, model::Arch arch);

/// Loads located weights for an extraction without hashing the file again.
model::ResolvedWeights load_weights(const LocatedWeights& weights, model::Arch arch);

/// Names weights in a cache key: {"sha256"} of the file; {"random_seed", "arch", "libtorch"} for
/// random weights (their values come from LibTorch's generator).
nlohmann::json weights_cache_key(const LocatedWeights& weights, model::Arch arch);

/// Everything a feature set's values depend on.
struct FeatureKey {
  model::Arch arch = model::Arch::resnet18;
  nlohmann::json weights;  ///< weights_cache_key
  std::string dataset_fingerprint;
  nlohmann::json variant;  ///< null for whole images; crop settings + file hashes
  int image_size = 224;
  std::string normalize;
  nlohmann::json fold;       ///< normalize: dataset: {fold, repeat, folds, cv_seed}; else null
  std::string cut = "head";  ///< what is stored (ExtractSettings::cut); in the key unless head
};

/// The canonical JSON text of a key (sorted keys, no spaces), with the preprocessing version.
std::string canonical_feature_key(const FeatureKey& key);

}  // namespace fersweep::run
