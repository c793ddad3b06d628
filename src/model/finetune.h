// The trainable part of a partly frozen ResNet (train parameter `finetune`): the residual blocks
// from a cut point on, global average pooling and a linear head, as torch::nn modules whose
// parameter names are torchvision's state_dict keys (layer4.0.conv1.weight, ..., fc.weight), so
// LibTorch autograd trains them and Python's torch.load reads what they save.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/arch.h"
#include "model/checkpoint.h"

namespace fersweep::model {

/// BatchNorm in the trainable blocks: `frozen` keeps the running statistics of the weights (eval
/// mode, also while training) and trains only the affine parameters; `train` uses batch
/// statistics while training and updates the running ones (momentum 0.1), as torch does.
enum class BatchNormMode { frozen, train };
BatchNormMode parse_bn_mode(const std::string& name);

/// One torchvision BasicBlock or Bottleneck.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  explicit ResidualBlockImpl(const BlockSpec& spec);
  at::Tensor forward(const at::Tensor& x);

 private:
  bool bottleneck_;
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(ResidualBlock);

/// Blocks from the cut on, average pooling, flatten, fc [num_classes, D] (Cut::head: fc alone, on
/// pooled features; trained this way only on augmented images). Built from a checked
/// state dict (the blocks' weights and BatchNorm statistics are copied; fc is left to the caller:
/// set_head). Its parameters and buffers are named as torchvision names them.
class TrainableTailImpl : public torch::nn::Module {
 public:
  TrainableTailImpl(Arch arch, Cut cut, const StateDict& state, int num_classes, BatchNormMode bn);
  /// activations: [B, C, H, W] as frozen_output_shape gives them (the image for Cut::all, [B, D]
  /// for Cut::head).
  at::Tensor forward(const at::Tensor& activations);
  /// Training mode, except that frozen BatchNorm layers stay in eval mode.
  void train(bool on = true) override;
  /// fc's weight [C, D] and bias [C], row-major.
  void set_head(const std::vector<float>& weight, const std::vector<float>& bias);
  /// The blocks' (and the stem's) parameters; fc's.
  std::vector<at::Tensor> backbone_parameters() const;
  std::vector<at::Tensor> head_parameters() const;
  /// Every parameter and buffer under its torchvision name, detached copies on the CPU.
  StateDict state() const;
  Cut cut() const { return cut_; }

 private:
  Cut cut_;
  BatchNormMode bn_;
  torch::nn::Conv2d conv1_{nullptr};  // Cut::all only
  torch::nn::BatchNorm2d bn1_{nullptr};
  std::vector<torch::nn::Sequential> layers_;  // layer1..layer4, those that train
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(TrainableTail);

}  // namespace fersweep::model
