// The trainable tail of a ResNet: torchvision's blocks (read, not copied) as torch::nn modules.
#include "model/finetune.h"

#include <fmt/format.h>
#include <torch/nn/functional/pooling.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "core/error.h"
#include "model/weights.h"

namespace fersweep::model {
namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int in, int out, int kernel, int stride, int padding) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false));
}

// The stage ("layer3") of a block prefix ("layer3.1").
std::string stage_of(const std::string& prefix) {
  return prefix.substr(0, prefix.find('.'));
}

}  // namespace

BatchNormMode parse_bn_mode(const std::string& name) {
  if (name == "frozen") return BatchNormMode::frozen;
  if (name == "train") return BatchNormMode::train;
  throw ConfigError(fmt::format("unknown bn '{}' (known: frozen, train)", name));
}

ResidualBlockImpl::ResidualBlockImpl(const BlockSpec& b) : bottleneck_(b.bottleneck) {
  if (b.bottleneck) {
    conv1_ = register_module("conv1", conv(b.in_channels, b.planes, 1, 1, 0));
    bn1_ = register_module("bn1", nn::BatchNorm2d(b.planes));
    conv2_ = register_module("conv2", conv(b.planes, b.planes, 3, b.stride, 1));
    bn2_ = register_module("bn2", nn::BatchNorm2d(b.planes));
    conv3_ = register_module("conv3", conv(b.planes, b.out_channels, 1, 1, 0));
    bn3_ = register_module("bn3", nn::BatchNorm2d(b.out_channels));
  } else {
    conv1_ = register_module("conv1", conv(b.in_channels, b.planes, 3, b.stride, 1));
    bn1_ = register_module("bn1", nn::BatchNorm2d(b.planes));
    conv2_ = register_module("conv2", conv(b.planes, b.planes, 3, 1, 1));
    bn2_ = register_module("bn2", nn::BatchNorm2d(b.planes));
  }
  if (b.downsample) {
    downsample_ = register_module(
        "downsample", nn::Sequential(conv(b.in_channels, b.out_channels, 1, b.stride, 0),
                                     nn::BatchNorm2d(b.out_channels)));
  }
}

// In-place ReLU and sum, as torchvision's blocks (ReLU(inplace=True), out += identity): about 10%
// of a ResNet-50 layer4 epoch (bench_finetune: 0.90x the torch peer out of place, see
// docs/training.md).
at::Tensor ResidualBlockImpl::forward(const at::Tensor& x) {
  at::Tensor y = bn1_(conv1_(x)).relu_();
  y = bn2_(conv2_(y));
  if (bottleneck_) y = bn3_(conv3_(y.relu_()));
  y += downsample_ ? downsample_->forward(x) : x;
  return y.relu_();
}

TrainableTailImpl::TrainableTailImpl(Arch arch, Cut cut, const StateDict& state, int num_classes,
                                     BatchNormMode bn)
    : cut_(cut), bn_(bn) {
  check_state_dict(state, arch, "weights");
  if (cut == Cut::all) {
    conv1_ = register_module("conv1", conv(3, 64, 7, 2, 3));
    bn1_ = register_module("bn1", nn::BatchNorm2d(64));
  }
  const auto blocks = block_specs(arch);
  std::map<std::string, nn::Sequential> stages;
  for (std::size_t i = first_trainable_block(arch, cut); i < blocks.size(); ++i) {
    const std::string stage = stage_of(blocks[i].prefix);
    auto it = stages.find(stage);
    if (it == stages.end()) {
      it = stages.emplace(stage, register_module(stage, nn::Sequential())).first;
      layers_.push_back(it->second);
    }
    it->second->push_back(ResidualBlock(blocks[i]));
  }
  fc_ = register_module("fc", nn::Linear(feature_dim(arch), num_classes));
  // The blocks start from the weights: every parameter and buffer but fc's by its name.
  torch::NoGradGuard no_grad;
  for (auto& item : named_parameters()) {
    if (item.key().rfind("fc.", 0) == 0) continue;
    item.value().copy_(find_tensor(state, item.key()));
  }
  for (auto& item : named_buffers()) {
    const at::Tensor t = find_tensor(state, item.key());
    if (t.defined()) item.value().copy_(t);  // num_batches_tracked is optional
  }
  train(false);
}

at::Tensor TrainableTailImpl::forward(const at::Tensor& activations) {
  if (cut_ == Cut::head) return fc_(activations);  // pooled features [B, D]
  at::Tensor x = activations;
  if (conv1_) {
    x = torch::max_pool2d(bn1_(conv1_(x)).relu_(), {3, 3}, {2, 2}, {1, 1});
  }
  for (auto& layer : layers_) x = layer->forward(x);
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc_(x);
}

void TrainableTailImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (!on || bn_ == BatchNormMode::train) return;
  for (auto& m : modules(/*include_self=*/false))
    if (m->as<nn::BatchNorm2d>()) m->eval();
}

void TrainableTailImpl::set_head(const std::vector<float>& weight, const std::vector<float>& bias) {
  torch::NoGradGuard no_grad;
  const auto c = fc_->weight.size(0), d = fc_->weight.size(1);
  FERSWEEP_ASSERT(static_cast<std::int64_t>(weight.size()) == c * d &&
                      static_cast<std::int64_t>(bias.size()) == c,
                  "head parameters of the wrong size");
  fc_->weight.copy_(torch::from_blob(const_cast<float*>(weight.data()), {c, d}, torch::kFloat));
  fc_->bias.copy_(torch::from_blob(const_cast<float*>(bias.data()), {c}, torch::kFloat));
}

std::vector<at::Tensor> TrainableTailImpl::backbone_parameters() const {
  std::vector<at::Tensor> out;
  for (const auto& item : named_parameters())
    if (item.key().rfind("fc.", 0) != 0) out.push_back(item.value());
  return out;
}

std::vector<at::Tensor> TrainableTailImpl::head_parameters() const {
  return {fc_->weight, fc_->bias};
}

StateDict TrainableTailImpl::state() const {
  StateDict out;
  for (const auto& item : named_parameters())
    out.emplace_back(item.key(), item.value().detach().to(torch::kCPU).clone());
  for (const auto& item : named_buffers())
    out.emplace_back(item.key(), item.value().detach().to(torch::kCPU).clone());
  return out;
}

}  // namespace fersweep::model
