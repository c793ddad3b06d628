// The frozen backbone: ResNet without its classifier, BatchNorm folded, compiled once for the
// fastest inference path of its device, mapping normalised images to pooled features.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>

#include "model/arch.h"
#include "model/checkpoint.h"

namespace fersweep::model {

/// How the extractor is built.
struct ExtractorOptions {
  int threads = 0;       ///< intra-op threads to set (at::set_num_threads); 0 = leave as is
  bool optimize = true;  ///< torch::jit::optimize_for_inference (oneDNN) on CPU, freeze on CUDA
  /// Where the frozen part ends: head gives the pooled features [B, D]; layer4 / layer3 the
  /// activations entering that stage [B, C, H, W] (frozen_output_shape), the input of a
  /// TrainableTail with the same cut. Cut::all has no frozen part (ConfigError).
  Cut cut = Cut::head;
};

/// Frozen, eval-mode ResNet without fc: images [B,3,H,W] float32, ImageNet-normalised →
/// features [B,D] float32 on the CPU. BatchNorm uses its running statistics (folded into the
/// convolutions at construction); no autograd graph is recorded.
class FeatureExtractor {
 public:
  /// Checks `state` (check_state_dict) and builds the network on `device`.
  FeatureExtractor(Arch arch, const StateDict& state, c10::Device device,
                   ExtractorOptions options = {});
  ~FeatureExtractor();
  FeatureExtractor(FeatureExtractor&&) noexcept;
  FeatureExtractor& operator=(FeatureExtractor&&) noexcept;

  /// Features of one batch; ModelError naming the expected layout on a bad input.
  at::Tensor extract(const at::Tensor& images);
  /// Feature width (512 or 2048) of the pooled features (Cut::head).
  int dim() const;
  Cut cut() const;
  Arch arch() const;
  c10::Device device() const;
  /// True when the oneDNN-optimised graph is in use.
  bool optimized() const;
  /// A one-line description of the compiled graph (node count, oneDNN ops), for logs.
  std::string summary() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// `device` "auto": cuda:(local_rank % device_count) when CUDA is available, else the CPU; "cpu":
/// the CPU; "cuda": cuda:(local_rank % device_count), ModelError when no CUDA device is visible.
c10::Device pick_device(int local_rank, const std::string& device = "auto");

}  // namespace fersweep::model
