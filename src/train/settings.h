// The parameters of one head training as a sweep file writes them (`train:` and the grid keys):
// one struct, one field list that serves JSON both ways, the defaults as member initialisers.
// No LibTorch here: the sweep loader uses it too.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace fersweep::train {

/// A train task's head parameters. The task id is the hash of a task's parameters, so keys a task
/// does not use (hidden without an mlp head, momentum without sgd) are absent there and read as
/// these defaults.
struct TrainSettings {
  std::string head = "linear";  ///< linear | mlp (Linear, ReLU, Linear)
  int hidden = 512;             ///< mlp hidden units
  /// adam (L2 decay added to the gradient, as torch.optim.Adam), adamw (decoupled decay) or sgd
  /// (with momentum)
  std::string optimizer = "adam";
  double lr = 0.01;              ///< learning rate (> 0)
  double weight_decay = 0.001;   ///< L2 / decoupled weight decay (>= 0), applied to biases too
  double momentum = 0.9;         ///< SGD momentum in [0, 1)
  int batch_size = 256;          ///< samples per step; the last partial batch is kept
  bool standardize = false;      ///< standardise inputs with the training fold's mean and std
  double label_smoothing = 0.0;  ///< in [0, 1), as torch.nn.CrossEntropyLoss(label_smoothing=...)
  /// The sweep's `seed:` parameter: part of the task id, so different seeds are different tasks;
  /// training itself draws from HeadConfig::rng_seed (the id read as a number).
  std::uint64_t seed = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(TrainSettings, head, hidden, optimizer, lr,
                                                weight_decay, momentum, batch_size, standardize,
                                                label_smoothing, seed)

/// The parameters of a fine-tuning task (train parameter `finetune` other than head): which
/// blocks train and how. Kept apart from TrainSettings so head tasks' parameters, and ids, stay
/// what they were.
struct FineTuneSettings {
  std::string finetune = "head";  ///< head | layer4 | layer3 | all (model::Cut)
  std::string bn = "frozen";      ///< frozen | train (model::BatchNormMode)
  double backbone_lr = 0.1;       ///< the unfrozen blocks' learning rate, as a multiple of lr
  /// Learning rate per epoch: constant; cosine (torch's CosineAnnealingLR to 0 over
  /// `lr_horizon` epochs); step (times lr_gamma every lr_step epochs, torch's StepLR).
  std::string schedule = "constant";
  int lr_horizon = 0;  ///< cosine: epochs to reach 0 (a parameter: results must not depend on
                       ///< which epochs are evaluated)
  int lr_step = 30;
  double lr_gamma = 0.1;
};
/// The values of FineTuneSettings::bn and ::schedule, for the sweep loader's messages.
inline const std::vector<std::string>& bn_mode_names() {
  static const std::vector<std::string> names = {"frozen", "train"};
  return names;
}
inline const std::vector<std::string>& schedule_names() {
  static const std::vector<std::string> names = {"constant", "cosine", "step"};
  return names;
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FineTuneSettings, finetune, bn, backbone_lr,
                                                schedule, lr_horizon, lr_step, lr_gamma)

/// Training-time augmentation (train parameter `augment`): each training image of each epoch is
/// randomly resized-cropped, flipped and rotated, in that order, with draws that are a pure
/// function of (task seed, epoch, image), before the whole network sees it. Off when every field
/// has its default. The images are the normalised ones at image_size, so what a crop or a rotation
/// uncovers is 0 there: the normalisation's mean colour, not black.
struct AugmentSettings {
  bool hflip = false;  ///< mirror left-right with probability 1/2
  /// [lo, hi] in (0, 1], lo <= hi: torchvision's RandomResizedCrop scale (the crop's share of the
  /// image's area; aspect ratio in [3/4, 4/3]), resized back to image_size. Empty: no crop.
  std::vector<double> random_resized_crop;
  double rotate = 0;  ///< degrees in [0, 180]: a uniform angle in [-rotate, rotate], bilinear

  bool active() const { return hflip || !random_resized_crop.empty() || rotate > 0; }
};
/// Only the transforms in use are written, so no augmentation is `{}` and a task's parameters name
/// exactly what it does.
inline void to_json(nlohmann::json& j, const AugmentSettings& a) {
  j = nlohmann::json::object();
  if (a.hflip) j["hflip"] = true;
  if (!a.random_resized_crop.empty()) j["random_resized_crop"] = a.random_resized_crop;
  if (a.rotate > 0) j["rotate"] = a.rotate;
}
inline void from_json(const nlohmann::json& j, AugmentSettings& a) {
  a = AugmentSettings{};
  a.hflip = j.value("hflip", false);
  a.random_resized_crop = j.value("random_resized_crop", std::vector<double>{});
  a.rotate = j.value("rotate", 0.0);
}

}  // namespace fersweep::train
