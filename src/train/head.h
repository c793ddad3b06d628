// Training and evaluating classification heads (linear or small MLP) on cached, frozen features:
// hand-written softmax-regression gradients and fused optimiser updates, no autograd.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "train/metrics.h"
#include "train/settings.h"

namespace fersweep::train {

class Rng;  // train/rng.h

/// Everything that defines how one head is trained: its settings (the paper's by default:
/// linear, Adam, lr 0.01, wd 0.001, batch 256) plus what a run adds to them.
struct HeadConfig : TrainSettings {
  /// Strictly increasing, >= 1: one run to the last, evaluated at each (the paper: 50/100/200).
  std::vector<int> eval_epochs;
  std::uint64_t rng_seed = 0;  ///< initialisation and shuffling; must not depend on eval_epochs
};

/// Throws ConfigError naming the first invalid parameter.
void validate(const HeadConfig& config);

/// The learning curve and the evaluations of one training run.
struct TrainResult {
  std::vector<EvalMetrics> evals;  ///< one per HeadConfig::eval_epochs entry, same order
  std::vector<double> train_loss;  ///< per epoch 1..max: mean training loss (with smoothing)
  std::vector<double>
      train_accuracy;  ///< per epoch: accuracy of the predictions made while training
  /// With a validation part (HeadJob::val_idx): its evaluations at the same epochs as `evals`
  /// (test_loss is then the validation loss); empty otherwise.
  std::vector<EvalMetrics> val_evals;
};

/// One head to train: its fold and its configuration.
struct HeadJob {
  std::vector<std::size_t> train_idx;  ///< rows of the feature matrix to train on
  std::vector<std::size_t> test_idx;   ///< rows to evaluate on
  HeadConfig config;
  /// Rows set aside from the training fold (select:), evaluated like the test rows into
  /// TrainResult::val_evals; empty: none.
  std::vector<std::size_t> val_idx = {};
};

/// A head's parameters, unpadded and row-major as torch stores them. Linear: w1 [C, D], b1 [C].
/// MLP: w1 [H, D], b1 [H], w2 [C, H], b2 [C].
struct HeadParams {
  std::vector<float> w1, b1, w2, b2;
  /// With standardize (final parameters only): the inputs the head saw were
  /// float((x - mean) * inv_std), the training fold's statistics; empty otherwise.
  std::vector<double> mean, inv_std;
};

/// The parameters a run starts from: torch.nn.Linear's initialisation (kaiming-uniform weights
/// and uniform biases, both U(-1/sqrt(fan_in), 1/sqrt(fan_in))) drawn from `config.seed`.
HeadParams initial_params(int in_features, int num_classes, const HeadConfig& config);

/// A head's training state after some epochs: everything continuing it needs (parameters and
/// optimiser buffers in the trainer's own padded layout, the shuffle generator's position, the
/// curves and evaluations so far), so that a run continued from it is bit-identical to one that
/// never stopped (successive halving continues its survivors from their rungs). In-memory only.
struct HeadState {
  int epoch = 0;                            ///< epochs trained
  std::vector<std::vector<float>> buffers;  ///< per parameter: value, first and second moment
  std::uint64_t rng = 0;                    ///< the shuffle generator's position
  TrainResult result;                       ///< curves and evaluations up to `epoch`
};

/// Hooks for reference tests: start from given parameters, use given batch orders, read the
/// final parameters; and a run's state, saved at its end and continued from.
struct RunControl {
  const HeadParams* initial = nullptr;  ///< instead of initial_params()
  /// Per epoch, a permutation of 0..train_idx.size()-1 (positions in train_idx) instead of the
  /// seeded shuffle; needs one entry per epoch up to the last evaluation.
  const std::vector<std::vector<std::size_t>>* epoch_orders = nullptr;
  HeadParams* final_params = nullptr;  ///< receives the parameters after the last epoch
  /// Continue this state (of the same job, saved at an epoch before the last evaluation) instead
  /// of starting from initial_params(); train_head only. DataError when it does not fit the job.
  const HeadState* resume = nullptr;
  HeadState* final_state = nullptr;  ///< receives the state after the last epoch; train_head only
};

/// Epoch `epoch`'s order of the training positions 0..order.size()-1: control's epoch_orders
/// (checked to be a permutation; DataError otherwise), or the next seeded shuffle from `rng`.
void epoch_order(std::vector<std::size_t>& order, Rng& rng, const RunControl& control, int epoch);

/// Trains one head on `features` [N, D] (float32; copied to the CPU if elsewhere) with `labels`
/// [N] (int64 in [0, num_classes)), evaluating at each of config.eval_epochs. Deterministic: the
/// same inputs give bit-identical results on any CPU, thread count and call order.
TrainResult train_head(const at::Tensor& features, const at::Tensor& labels,
                       const std::vector<std::size_t>& train_idx,
                       const std::vector<std::size_t>& test_idx, int num_classes,
                       const HeadConfig& config, const RunControl& control = {},
                       const std::vector<std::size_t>& val_idx = {});

/// Trains several heads on the same features. Linear heads that share train_idx, batch_size,
/// standardize and seed are stacked into one computation (their samples and batch order are the
/// same); independent groups run in parallel on at::get_num_threads() threads. Each result is
/// bit-identical to train_head on that job alone.
std::vector<TrainResult> train_heads(const at::Tensor& features, const at::Tensor& labels,
                                     const std::vector<HeadJob>& jobs, int num_classes);

}  // namespace fersweep::train
