// Preprocessing and batched decoding (see preprocess.h).
#include "data/preprocess.h"

#include <torch/torch.h>

#include <fmt/format.h>

#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "core/cancel.h"
#include "core/error.h"
#include "core/parallel.h"

namespace fersweep::data {

Normalization parse_normalization(const std::string& name) {
  if (name == "imagenet") return Normalization::imagenet;
  if (name == "dataset") return Normalization::dataset;
  if (name == "minmax") return Normalization::minmax;
  throw ConfigError(
      fmt::format("unknown normalization '{}' (expected imagenet, dataset or minmax)", name));
}

std::string to_string(Normalization n) {
  switch (n) {
    case Normalization::imagenet:
      return "imagenet";
    case Normalization::dataset:
      return "dataset";
    case Normalization::minmax:
      return "minmax";
  }
  return "?";
}

ChannelStats imagenet_stats() {
  return {{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
}

cv::Mat resize_square(const cv::Mat& rgb, int size) {
  FERSWEEP_ASSERT(size > 0, "image size must be positive");
  if (rgb.cols == size && rgb.rows == size) return rgb;
  const int interpolation =
      (rgb.cols >= size && rgb.rows >= size) ? cv::INTER_AREA : cv::INTER_LINEAR;
  cv::Mat out;
  cv::resize(rgb, out, cv::Size(size, size), 0, 0, interpolation);
  return out;
}

namespace {

// Decodes manifest image `index` into `dst` ([3, S, S] float32, contiguous) as RGB in [0, 1].
void decode_into(const Manifest& manifest, std::size_t index, int size,
                 const ImageTransform& transform, float* dst) {
  cv::Mat decoded = read_sample(manifest, index);
  if (transform) decoded = transform(index, decoded);
  const cv::Mat rgb = resize_square(decoded, size);
  cv::Mat scaled;
  rgb.convertTo(scaled, CV_32FC3, 1.0 / 255.0);
  const std::size_t plane = static_cast<std::size_t>(size) * static_cast<std::size_t>(size);
  std::vector<cv::Mat> planes;
  for (int c = 0; c < 3; ++c) planes.emplace_back(size, size, CV_32F, dst + c * plane);
  cv::split(scaled, planes);  // writes straight into the tensor's memory (HWC → CHW)
}

ImageBatch decode_batch(const Manifest& manifest, std::vector<std::size_t> indices, int size,
                        int threads, const ImageTransform& transform) {
  ImageBatch batch;
  batch.images = torch::empty({static_cast<long>(indices.size()), 3, size, size}, torch::kFloat32);
  batch.indices = std::move(indices);
  float* base = batch.images.data_ptr<float>();
  const std::size_t per_image = 3 * static_cast<std::size_t>(size) * static_cast<std::size_t>(size);
  parallel_for_each(batch.indices.size(), threads, [&](std::size_t i) {
    decode_into(manifest, batch.indices[i], size, transform, base + i * per_image);
  });
  return batch;
}

}  // namespace

ImageBatchStream::ImageBatchStream(const Manifest& manifest, std::vector<std::size_t> indices,
                                   int image_size, int batch_size, int threads,
                                   ImageTransform transform)
    : manifest_(manifest),
      indices_(std::move(indices)),
      image_size_(image_size),
      batch_size_(batch_size),
      threads_(default_threads(threads)),
      transform_(std::move(transform)) {
  if (image_size <= 0)
    throw ConfigError(fmt::format("image size must be positive, got {}", image_size));
  if (batch_size <= 0)
    throw ConfigError(fmt::format("batch size must be positive, got {}", batch_size));
  for (std::size_t i : indices_)
    FERSWEEP_ASSERT(i < manifest_.images.size(), "image index outside the manifest");
  if (!indices_.empty()) start(0);
}

ImageBatchStream::~ImageBatchStream() {
  if (pending_.valid()) pending_.wait();  // the decoder threads reference our members
}

std::size_t ImageBatchStream::batch_count() const {
  return (indices_.size() + static_cast<std::size_t>(batch_size_) - 1) /
         static_cast<std::size_t>(batch_size_);
}

void ImageBatchStream::start(std::size_t batch) {
  const std::size_t begin = batch * static_cast<std::size_t>(batch_size_);
  const std::size_t end = std::min(indices_.size(), begin + static_cast<std::size_t>(batch_size_));
  std::vector<std::size_t> slice(indices_.begin() + static_cast<std::ptrdiff_t>(begin),
                                 indices_.begin() + static_cast<std::ptrdiff_t>(end));
  pending_ = std::async(std::launch::async, [this, slice = std::move(slice)]() mutable {
    return decode_batch(manifest_, std::move(slice), image_size_, threads_, transform_);
  });
}

bool ImageBatchStream::next(ImageBatch& out) {
  if (next_batch_ >= batch_count()) return false;
  FERSWEEP_ASSERT(pending_.valid(), "ImageBatchStream::next called again after a failed batch");
  ImageBatch ready = pending_.get();  // rethrows a decoding DataError
  ++next_batch_;
  if (next_batch_ < batch_count()) start(next_batch_);  // prefetch while the caller works
  out = std::move(ready);
  return true;
}

ChannelStats compute_channel_stats(const Manifest& manifest,
                                   const std::vector<std::size_t>& indices, int image_size,
                                   int threads, const ImageTransform& transform) {
  if (indices.empty()) throw DataError("cannot compute channel statistics of an empty image set");
  ImageBatchStream stream(manifest, indices, image_size, 32, threads, transform);
  ImageBatch batch;
  at::Tensor sum = torch::zeros({3}, torch::kFloat64), sum_sq = torch::zeros({3}, torch::kFloat64);
  while (stream.next(batch)) {
    throw_if_cancelled("channel statistics");
    const at::Tensor x = batch.images.to(torch::kFloat64);
    sum += x.sum({0, 2, 3});
    sum_sq += (x * x).sum({0, 2, 3});
  }
  const double n = static_cast<double>(indices.size()) * image_size * image_size;
  const at::Tensor mean = sum / n;
  const at::Tensor var = (sum_sq / n - mean * mean).clamp_min(0);
  const at::Tensor std = var.sqrt();
  ChannelStats stats;
  for (int c = 0; c < 3; ++c) {
    stats.mean[c] = static_cast<float>(mean[c].item<double>());
    stats.std[c] = static_cast<float>(std[c].item<double>());
    if (stats.std[c] <= 0)
      throw DataError(
          fmt::format("channel {} of the training images is constant: cannot standardise", c));
  }
  return stats;
}

at::Tensor normalize(const at::Tensor& images01, Normalization normalization,
                     const ChannelStats& stats) {
  const bool single = images01.dim() == 3;
  at::Tensor x = single ? images01.unsqueeze(0) : images01;
  if (x.dim() != 4 || x.size(1) != 3)
    throw DataError(fmt::format("normalize expects [B, 3, S, S] images, got {}",
                                fmt::join(images01.sizes(), "x")));
  at::Tensor out;
  if (normalization == Normalization::minmax) {
    const at::Tensor flat = x.reshape({x.size(0), -1});
    const at::Tensor lo = std::get<0>(flat.min(1, true)), hi = std::get<0>(flat.max(1, true));
    const at::Tensor range = hi - lo;
    // A constant image has no range: it maps to zeros instead of dividing by zero.
    out = torch::where(range > 0, (flat - lo) / range.clamp_min(1e-12f), torch::zeros_like(flat))
              .reshape(x.sizes());
  } else {
    const auto opts = x.options();
    const at::Tensor mean =
        torch::tensor({stats.mean[0], stats.mean[1], stats.mean[2]}, opts).view({1, 3, 1, 1});
    const at::Tensor std =
        torch::tensor({stats.std[0], stats.std[1], stats.std[2]}, opts).view({1, 3, 1, 1});
    out = (x - mean) / std;
  }
  return single ? out.squeeze(0) : out;
}

}  // namespace fersweep::data
