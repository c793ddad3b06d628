// Fine-tuning the last blocks of a ResNet with their head (train parameter `finetune`): the
// trainable tail (model/finetune.h) trains with LibTorch autograd and torch.optim's optimisers on
// the frozen part's outputs, and is evaluated at chosen epochs with the heads' metrics.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/arch.h"
#include "model/checkpoint.h"
#include "train/head.h"
#include "train/settings.h"

namespace fersweep::train {

/// A fine-tuning run: the head settings (linear head only; optimizer, lr, weight_decay, momentum,
/// batch_size, label_smoothing; eval_epochs, rng_seed), the fine-tuning ones and the augmentation
/// (with which finetune: head, too, trains here: the images then go through the whole network).
struct FineTuneConfig : HeadConfig, FineTuneSettings {
  AugmentSettings augment;
};

/// ConfigError naming the first invalid setting (the head's rules, and: finetune layer4, layer3
/// or all, or head with augmentation; bn frozen or train; backbone_lr > 0; schedule constant,
/// cosine (lr_horizon at least the last epoch) or step (lr_step >= 1, lr_gamma in (0, 1]); no mlp
/// head, no standardize; the augmentation's ranges).
void validate(const FineTuneConfig& config);

/// The learning rate of epoch `epoch` (1-based) for a group whose base rate is `base`.
double scheduled_lr(const FineTuneConfig& config, double base, int epoch);

/// The frozen part's outputs (model::frozen_output_shape per sample), fetched by row.
class ActivationSource {
 public:
  virtual ~ActivationSource() = default;
  virtual std::int64_t rows() const = 0;
  /// Rows `idx`, stacked: [idx.size(), ...] float32 on the CPU (evaluation).
  virtual at::Tensor gather(const std::vector<std::size_t>& idx) const = 0;
  /// Rows `idx` as epoch `epoch` (1-based) trains on them: the same rows, or augmented ones.
  virtual at::Tensor training_batch(const std::vector<std::size_t>& idx, int /*epoch*/) const {
    return gather(idx);
  }
};

/// Every row in one tensor (small datasets, tests).
class TensorActivations : public ActivationSource {
 public:
  explicit TensorActivations(at::Tensor all);
  std::int64_t rows() const override;
  at::Tensor gather(const std::vector<std::size_t>& idx) const override;

 private:
  at::Tensor all_;
};

/// A checkpoint that cannot be continued from (damaged, another task's or another LibTorch's): the
/// caller starts the task from scratch.
class CheckpointError : public DataError {
 public:
  using DataError::DataError;
};

/// Task checkpoints (run.checkpoint_every): the whole state at the end of an epoch — the tail's
/// parameters and buffers, the optimiser's state, the shuffle generator's position, the curves
/// and evaluations so far — as bytes from which a later run of the same task continues. On the
/// CPU with the same thread count the continued run's result is bit-identical to an
/// uninterrupted one. Only at epoch ends: a batch's position would also need the data order.
struct Checkpointing {
  const std::string* resume = nullptr;  ///< bytes `save` got: continue after their epoch
  /// Save at the end of the first epoch at least this long after the start or the last save
  /// (0: every epoch; < 0: never), and at every epoch end once a stop is requested (the grace
  /// period then ends the task with its latest state saved). Never after the last epoch.
  double every_seconds = -1;
  std::function<void(int epoch, std::string bytes)> save;
  /// > 0 (early_stop: a rung below the last epoch): stop after this epoch, save the state there
  /// whatever every_seconds says, and return the evaluations so far; the task continues later
  /// from that checkpoint.
  int pause_at = 0;
  int resumed_from = 0;  ///< set by fine_tune: the epoch continued from (0: from scratch)
};

/// Hooks for reference tests, as RunControl for heads, and the task's checkpoints.
struct FineTuneControl {
  const HeadParams* initial_head = nullptr;  ///< instead of initial_params() (linear: w1, b1)
  /// Per epoch, a permutation of the training positions instead of the seeded shuffle.
  const std::vector<std::vector<std::size_t>>* epoch_orders = nullptr;
  model::StateDict* final_state = nullptr;     ///< receives the tail's parameters and buffers
  std::vector<double>* step_losses = nullptr;  ///< receives every step's training loss
  Checkpointing* checkpoints = nullptr;
  /// Rows set aside from the training fold (select:), evaluated at the same epochs as the test
  /// rows into TrainResult::val_evals; null or empty: none.
  const std::vector<std::size_t>* val_idx = nullptr;
};

/// Fine-tunes the tail of `arch` from `weights` (the checked state dict of the whole network)
/// on `x` with `labels` [N] in [0, num_classes), evaluating at each of config.eval_epochs. The
/// head starts from initial_params(), the batch order from the heads' seeded shuffle. On the CPU
/// with a fixed thread count the result is the same on every run. Cancellation points between
/// batches. CheckpointError when control.checkpoints->resume cannot be continued from.
TrainResult fine_tune(model::Arch arch, const model::StateDict& weights, const ActivationSource& x,
                      const std::vector<std::int64_t>& labels,
                      const std::vector<std::size_t>& train_idx,
                      const std::vector<std::size_t>& test_idx, int num_classes,
                      const FineTuneConfig& config, c10::Device device = c10::Device(c10::kCPU),
                      const FineTuneControl& control = {});

}  // namespace fersweep::train
