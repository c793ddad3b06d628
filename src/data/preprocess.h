// Preprocessing: decode + resize to S×S in [0, 1], normalisation (ImageNet, dataset statistics or
// the paper's min-max), and batched streaming decoding on several threads.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstddef>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "data/dataset.h"

namespace fersweep::data {

/// How images are normalised before the backbone.
enum class Normalization {
  imagenet,  ///< ImageNet mean/std (what torchvision's pretrained weights expect); the default
  dataset,   ///< per-channel mean/std of the training fold (the paper's standardisation)
  minmax,    ///< per image: (x - min) / (max - min) over all pixels and channels (paper, eq. 1)
};

/// Parses "imagenet", "dataset" or "minmax"; ConfigError naming the value otherwise.
Normalization parse_normalization(const std::string& name);
/// The name parse_normalization accepts.
std::string to_string(Normalization n);

/// Per-channel statistics in RGB order, for images scaled to [0, 1].
struct ChannelStats {
  std::array<float, 3> mean{};
  std::array<float, 3> std{};
};

/// ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
ChannelStats imagenet_stats();

/// Resizes an 8-bit RGB image straight to size×size (no aspect-preserving crop, like the paper):
/// cv::INTER_AREA when neither side grows (anti-aliased shrinking), cv::INTER_LINEAR otherwise.
cv::Mat resize_square(const cv::Mat& rgb, int size);

/// Mean and (population) standard deviation per channel of the images `indices` of `manifest`,
/// after resize_square and scaling to [0, 1], accumulated in double precision. Only the given
/// images are read: pass the training fold's indices so the test fold never leaks into them.
ChannelStats compute_channel_stats(const Manifest& manifest,
                                   const std::vector<std::size_t>& indices, int image_size,
                                   int threads);

/// One batch of decoded images.
struct ImageBatch {
  at::Tensor images;                 ///< [B, 3, S, S] float32, RGB, values in [0, 1]
  std::vector<std::size_t> indices;  ///< manifest index of each row
};

/// Streams images in batches: `threads` decoder threads fill each batch, and the next batch is
/// decoded while the caller works on the current one, so at most two batches are in memory.
/// The manifest must outlive the stream.
class ImageBatchStream {
 public:
  ImageBatchStream(const Manifest& manifest, std::vector<std::size_t> indices, int image_size,
                   int batch_size, int threads);
  ~ImageBatchStream();
  ImageBatchStream(const ImageBatchStream&) = delete;
  ImageBatchStream& operator=(const ImageBatchStream&) = delete;

  /// Fills `out` with the next batch; false when every image has been delivered. A DataError
  /// naming the file is thrown here when an image cannot be decoded.
  bool next(ImageBatch& out);
  /// Number of batches in total.
  std::size_t batch_count() const;

 private:
  void start(std::size_t batch);
  const Manifest& manifest_;
  std::vector<std::size_t> indices_;
  int image_size_, batch_size_, threads_;
  std::size_t next_batch_ = 0;
  std::future<ImageBatch> pending_;
};

/// Normalises [B, 3, S, S] (or [3, S, S]) images in [0, 1]: imagenet and dataset subtract `stats`'
/// mean and divide by its std per channel (pass imagenet_stats() or the training fold's
/// statistics); minmax ignores `stats` and maps each image to [0, 1] by its own minimum and maximum
/// (a constant image becomes all zeros).
at::Tensor normalize(const at::Tensor& images01, Normalization normalization,
                     const ChannelStats& stats);

}  // namespace fersweep::data
