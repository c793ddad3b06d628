// Training-time augmentation (train parameter `augment`): random resized crop, horizontal flip and
// rotation of the normalised images, torchvision's transforms with our own seeded draws, so that a
// task repeats bit for bit on the CPU and continues from a checkpoint as if never stopped.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "train/finetune.h"
#include "train/settings.h"

namespace fersweep::train {

/// ConfigError naming the setting: random_resized_crop [lo, hi] with 0 < lo <= hi <= 1, rotate in
/// [0, 180].
void validate(const AugmentSettings& augment);

/// One image's draws: the crop box (the whole image without a crop), the flip, the angle (degrees,
/// counter-clockwise as torchvision's rotate).
struct AugmentDraw {
  int top = 0, left = 0, height = 0, width = 0;
  bool flip = false;
  double angle = 0;
};

/// The draws of image `row` in epoch `epoch` of the task seeded `seed`, for an image of
/// `height`×`width`: a pure function of its arguments (never of the batch or the rank). The crop
/// follows torchvision's RandomResizedCrop.get_params (ten tries at a scale in [lo, hi] and a
/// log-uniform aspect ratio in [3/4, 4/3], sides rounded half to even as Python's round, then the
/// centre crop), with fersweep's generator instead of torch's.
AugmentDraw draw_augment(const AugmentSettings& augment, std::uint64_t seed, int epoch,
                         std::size_t row, int height, int width);

/// `images` [B, 3, H, W] float32 with `draws` [B] applied: crop and bilinear resize back to H×W
/// (torchvision's resized_crop without antialiasing, as it does for tensors), flip, then rotation
/// about the centre, bilinear, 0 outside (torchvision's rotate on tensors).
at::Tensor apply_augment(const at::Tensor& images, const std::vector<AugmentDraw>& draws);

/// The frozen part's outputs of augmented images: training batches are drawn afresh per epoch and
/// image, then go through `frozen` (the network up to the cut; none for finetune: all); rows for
/// evaluation are the plain images through `frozen`.
class AugmentedImages : public ActivationSource {
 public:
  using Frozen = std::function<at::Tensor(const at::Tensor& images)>;
  /// `images`: the normalised images [N, 3, S, S]; kept by reference.
  AugmentedImages(const ActivationSource& images, AugmentSettings augment, std::uint64_t seed,
                  Frozen frozen);
  std::int64_t rows() const override;
  at::Tensor gather(const std::vector<std::size_t>& idx) const override;
  at::Tensor training_batch(const std::vector<std::size_t>& idx, int epoch) const override;

 private:
  const ActivationSource& images_;
  AugmentSettings augment_;
  std::uint64_t seed_;
  Frozen frozen_;
};

}  // namespace fersweep::train
