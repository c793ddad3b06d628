// Augmentation with LibTorch's own interpolation and grid sampling, the operations torchvision's
// tensor transforms call, so that the result matches torchvision for the same draws
// (tests/train/test_augment.cpp against tests/train/ref_augment.py).
#include "train/augment.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.h"
#include "train/detmath.h"
#include "train/rng.h"

namespace fersweep::train {
namespace {

// The generator of one image in one epoch: streams above 2^60 never meet the init and shuffle
// streams; epochs (< 2^28) and rows (< 2^32) give each image of each epoch its own stream.
Rng image_rng(std::uint64_t seed, int epoch, std::size_t row) {
  const std::uint64_t stream = (std::uint64_t{1} << 60) |
                               (static_cast<std::uint64_t>(epoch) << 32) |
                               static_cast<std::uint64_t>(row & 0xffffffffU);
  return Rng(seed, stream);
}

// torchvision's RandomResizedCrop.get_params with ratio (3/4, 4/3).
void draw_crop(const std::vector<double>& scale, Rng& rng, AugmentDraw& d, int height, int width) {
  const double area = static_cast<double>(height) * width;
  // libm-free log and exp (detmath.h): the crop boxes do not depend on the machine's libm.
  const double log_lo = detmath::log(3.0 / 4.0), log_hi = detmath::log(4.0 / 3.0);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * (scale[0] + (scale[1] - scale[0]) * rng.uniform());
    const double aspect = detmath::exp(log_lo + (log_hi - log_lo) * rng.uniform());
    const auto w = static_cast<int>(std::nearbyint(std::sqrt(target * aspect)));
    const auto h = static_cast<int>(std::nearbyint(std::sqrt(target / aspect)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      d.top = static_cast<int>(rng.below(static_cast<std::uint64_t>(height - h + 1)));
      d.left = static_cast<int>(rng.below(static_cast<std::uint64_t>(width - w + 1)));
      d.height = h, d.width = w;
      return;
    }
  }
  const double ratio = static_cast<double>(width) / height;
  d.width = width, d.height = height;
  if (ratio < 3.0 / 4.0) d.height = static_cast<int>(std::nearbyint(width / (3.0 / 4.0)));
  if (ratio > 4.0 / 3.0) d.width = static_cast<int>(std::nearbyint(height * (4.0 / 3.0)));
  d.top = (height - d.height) / 2;
  d.left = (width - d.width) / 2;
}

// torchvision's _gen_affine_grid for its rotate: output pixel centres mapped through the inverse
// rotation, in grid_sample's [-1, 1] coordinates (align_corners=False). float32 as torchvision's.
at::Tensor rotation_grid(double degrees, std::int64_t h, std::int64_t w) {
  const double rot = -degrees * M_PI / 180.0;  // rotate() inverts the angle
  const float m[6] = {static_cast<float>(std::cos(rot)),  static_cast<float>(std::sin(rot)), 0.0F,
                      static_cast<float>(-std::sin(rot)), static_cast<float>(std::cos(rot)), 0.0F};
  const at::Tensor theta = torch::from_blob(const_cast<float*>(m), {2, 3}, torch::kFloat).clone();
  at::Tensor base = torch::empty({h, w, 3}, torch::kFloat);
  const double wf = static_cast<double>(w), hf = static_cast<double>(h);
  base.select(2, 0).copy_(torch::linspace(-wf * 0.5 + 0.5, wf * 0.5 + 0.5 - 1, w, torch::kFloat));
  base.select(2, 1).copy_(
      torch::linspace(-hf * 0.5 + 0.5, hf * 0.5 + 0.5 - 1, h, torch::kFloat).unsqueeze(-1));
  base.select(2, 2).fill_(1);
  const at::Tensor rescaled =
      theta.t() / torch::tensor({0.5F * static_cast<float>(w), 0.5F * static_cast<float>(h)});
  return base.view({h * w, 3}).mm(rescaled).view({h, w, 2});
}

}  // namespace

void validate(const AugmentSettings& a) {
  auto fail = [](const std::string& msg) { throw ConfigError("train: augment: " + msg); };
  const auto& s = a.random_resized_crop;
  if (!s.empty()) {
    if (s.size() != 2)
      fail(fmt::format("random_resized_crop takes [lo, hi], got {} values", s.size()));
    if (!(s[0] > 0 && s[0] <= 1 && s[1] > 0 && s[1] <= 1 && s[0] <= s[1]))
      fail(
          fmt::format("random_resized_crop [{}, {}] must lie in (0, 1] with lo <= hi", s[0], s[1]));
  }
  if (!(a.rotate >= 0 && a.rotate <= 180))
    fail(fmt::format("rotate must be in [0, 180] degrees, got {}", a.rotate));
}

AugmentDraw draw_augment(const AugmentSettings& a, std::uint64_t seed, int epoch, std::size_t row,
                         int height, int width) {
  Rng rng = image_rng(seed, epoch, row);
  AugmentDraw d;
  d.height = height, d.width = width;
  if (!a.random_resized_crop.empty()) draw_crop(a.random_resized_crop, rng, d, height, width);
  if (a.hflip) d.flip = rng.uniform() < 0.5;
  if (a.rotate > 0) d.angle = a.rotate * (2 * rng.uniform() - 1);
  return d;
}

at::Tensor apply_augment(const at::Tensor& images, const std::vector<AugmentDraw>& draws) {
  FERSWEEP_ASSERT(images.dim() == 4 && images.size(0) == static_cast<std::int64_t>(draws.size()),
                  "augment: one draw per image of a [B, 3, H, W] batch");
  const std::int64_t h = images.size(2), w = images.size(3);
  namespace F = torch::nn::functional;
  std::vector<at::Tensor> out;
  out.reserve(draws.size());
  for (std::size_t b = 0; b < draws.size(); ++b) {
    const AugmentDraw& d = draws[b];
    at::Tensor x = images[static_cast<std::int64_t>(b)].unsqueeze(0);
    if (d.height != h || d.width != w || d.top != 0 || d.left != 0) {
      x = x.slice(2, d.top, d.top + d.height).slice(3, d.left, d.left + d.width);
      x = F::interpolate(x, F::InterpolateFuncOptions()
                                .size(std::vector<std::int64_t>{h, w})
                                .mode(torch::kBilinear)
                                .align_corners(false));
    }
    if (d.flip) x = x.flip({3});
    if (d.angle != 0)
      x = F::grid_sample(x, rotation_grid(d.angle, h, w).unsqueeze(0),
                         F::GridSampleFuncOptions()
                             .mode(torch::kBilinear)
                             .padding_mode(torch::kZeros)
                             .align_corners(false));
    out.push_back(x);
  }
  return torch::cat(out, 0).contiguous();
}

AugmentedImages::AugmentedImages(const ActivationSource& images, AugmentSettings augment,
                                 std::uint64_t seed, Frozen frozen)
    : images_(images), augment_(std::move(augment)), seed_(seed), frozen_(std::move(frozen)) {}

std::int64_t AugmentedImages::rows() const {
  return images_.rows();
}

at::Tensor AugmentedImages::gather(const std::vector<std::size_t>& idx) const {
  const at::Tensor x = images_.gather(idx);
  return frozen_ ? frozen_(x) : x;
}

at::Tensor AugmentedImages::training_batch(const std::vector<std::size_t>& idx, int epoch) const {
  const at::Tensor images = images_.gather(idx);
  std::vector<AugmentDraw> draws;
  draws.reserve(idx.size());
  const auto h = static_cast<int>(images.size(2)), w = static_cast<int>(images.size(3));
  for (std::size_t row : idx) draws.push_back(draw_augment(augment_, seed_, epoch, row, h, w));
  const at::Tensor x = apply_augment(images, draws);
  return frozen_ ? frozen_(x) : x;
}

}  // namespace fersweep::train
