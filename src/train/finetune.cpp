// Fine-tuning with LibTorch autograd: the model is torchvision's own layers (model/finetune.h)
// and the optimisers are torch::optim's, so a run matches PyTorch's step for step.
#include "train/finetune.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "core/cancel.h"
#include "core/error.h"
#include "model/finetune.h"
#include "train/rng.h"

namespace fersweep::train {
namespace {

namespace optim = torch::optim;

int last_epoch(const FineTuneConfig& c) {
  return c.eval_epochs.back();
}

// Two parameter groups: the unfrozen blocks at lr * backbone_lr, the head at lr.
std::unique_ptr<optim::Optimizer> make_optimizer(model::TrainableTail& tail,
                                                 const FineTuneConfig& c) {
  const double backbone = c.lr * c.backbone_lr;
  auto group = [&](std::vector<at::Tensor> params,
                   double lr) -> std::pair<std::vector<at::Tensor>, double> {
    return {std::move(params), lr};
  };
  const auto groups = {group(tail->backbone_parameters(), backbone),
                       group(tail->head_parameters(), c.lr)};
  if (c.optimizer == "sgd") {
    std::vector<optim::OptimizerParamGroup> g;
    for (const auto& [params, lr] : groups)
      g.emplace_back(params,
                     std::make_unique<optim::SGDOptions>(
                         optim::SGDOptions(lr).momentum(c.momentum).weight_decay(c.weight_decay)));
    return std::make_unique<optim::SGD>(std::move(g), optim::SGDOptions(c.lr));
  }
  if (c.optimizer == "adamw") {
    std::vector<optim::OptimizerParamGroup> g;
    for (const auto& [params, lr] : groups)
      g.emplace_back(params, std::make_unique<optim::AdamWOptions>(
                                 optim::AdamWOptions(lr).weight_decay(c.weight_decay)));
    return std::make_unique<optim::AdamW>(std::move(g), optim::AdamWOptions(c.lr));
  }
  std::vector<optim::OptimizerParamGroup> g;
  for (const auto& [params, lr] : groups)
    g.emplace_back(params, std::make_unique<optim::AdamOptions>(
                               optim::AdamOptions(lr).weight_decay(c.weight_decay)));
  return std::make_unique<optim::Adam>(std::move(g), optim::AdamOptions(c.lr));
}

at::Tensor labels_of(const std::vector<std::int64_t>& labels, const std::vector<std::size_t>& idx) {
  at::Tensor y = at::empty({static_cast<std::int64_t>(idx.size())}, at::kLong);
  auto* p = y.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < idx.size(); ++i) p[i] = labels.at(idx[i]);
  return y;
}

// The heads' evaluation on the test rows: eval mode (BatchNorm's running statistics), no
// gradients, mean cross-entropy without smoothing.
EvalMetrics evaluate_tail(model::TrainableTail& tail, const ActivationSource& x,
                          const std::vector<std::int64_t>& labels,
                          const std::vector<std::size_t>& test_idx, int num_classes, int batch_size,
                          c10::Device device) {
  torch::NoGradGuard no_grad;
  tail->eval();
  std::vector<std::int64_t> predicted, truth;
  double loss_sum = 0;
  for (std::size_t start = 0; start < test_idx.size(); start += batch_size) {
    const std::vector<std::size_t> idx(
        test_idx.begin() + static_cast<std::ptrdiff_t>(start),
        test_idx.begin() + static_cast<std::ptrdiff_t>(std::min(
                               test_idx.size(), start + static_cast<std::size_t>(batch_size))));
    const at::Tensor y = labels_of(labels, idx);
    const at::Tensor logits = tail->forward(x.gather(idx).to(device)).to(torch::kCPU);
    loss_sum +=
        torch::nn::functional::cross_entropy(
            logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
            .item<double>();
    const at::Tensor pred = logits.argmax(1);
    for (std::int64_t i = 0; i < pred.size(0); ++i) {
      predicted.push_back(pred[i].item<std::int64_t>());
      truth.push_back(y[i].item<std::int64_t>());
    }
  }
  EvalMetrics m = evaluate(predicted, truth, num_classes);
  m.test_loss = test_idx.empty() ? 0.0 : loss_sum / static_cast<double>(test_idx.size());
  tail->train(true);
  return m;
}

}  // namespace

void validate(const FineTuneConfig& c) {
  validate(static_cast<const HeadConfig&>(c));
  auto fail = [](const std::string& msg) { throw ConfigError("train: " + msg); };
  const model::Cut cut = model::parse_cut(c.finetune);
  if (cut == model::Cut::head) fail("finetune head is the head path (train_head), not fine_tune");
  (void)model::parse_bn_mode(c.bn);
  if (c.head != "linear") fail("finetune " + c.finetune + " trains a linear head, not " + c.head);
  if (c.standardize) fail("standardize applies to frozen features (finetune: head) only");
  if (!(c.backbone_lr > 0) || !std::isfinite(c.backbone_lr))
    fail(fmt::format("backbone_lr must be > 0, got {}", c.backbone_lr));
  if (c.schedule == "cosine") {
    if (c.lr_horizon < last_epoch(c))
      fail(fmt::format("schedule cosine: lr_horizon {} is shorter than the last epoch {}",
                       c.lr_horizon, last_epoch(c)));
  } else if (c.schedule == "step") {
    if (c.lr_step < 1) fail(fmt::format("lr_step must be >= 1, got {}", c.lr_step));
    if (!(c.lr_gamma > 0 && c.lr_gamma <= 1))
      fail(fmt::format("lr_gamma must be in (0, 1], got {}", c.lr_gamma));
  } else if (c.schedule != "constant") {
    fail("schedule must be 'constant', 'cosine' or 'step', got '" + c.schedule + "'");
  }
}

double scheduled_lr(const FineTuneConfig& c, double base, int epoch) {
  const int e = epoch - 1;  // epochs completed before this one, as torch's schedulers count
  if (c.schedule == "cosine")
    return base * (1 + std::cos(M_PI * e / static_cast<double>(c.lr_horizon))) / 2;
  if (c.schedule == "step") return base * std::pow(c.lr_gamma, e / c.lr_step);
  return base;
}

TensorActivations::TensorActivations(at::Tensor all) : all_(std::move(all)) {}

std::int64_t TensorActivations::rows() const {
  return all_.size(0);
}

at::Tensor TensorActivations::gather(const std::vector<std::size_t>& idx) const {
  std::vector<std::int64_t> i(idx.begin(), idx.end());
  return all_.index_select(0, torch::tensor(i, torch::kLong));
}

TrainResult fine_tune(model::Arch arch, const model::StateDict& weights, const ActivationSource& x,
                      const std::vector<std::int64_t>& labels,
                      const std::vector<std::size_t>& train_idx,
                      const std::vector<std::size_t>& test_idx, int num_classes,
                      const FineTuneConfig& config, c10::Device device,
                      const FineTuneControl& control) {
  validate(config);
  if (train_idx.empty()) throw DataError("fine-tuning: the training part is empty");
  model::TrainableTail tail(arch, model::parse_cut(config.finetune), weights, num_classes,
                            model::parse_bn_mode(config.bn));
  const HeadParams head = control.initial_head
                              ? *control.initial_head
                              : initial_params(model::feature_dim(arch), num_classes, config);
  tail->set_head(head.w1, head.b1);
  tail->to(device);
  tail->train(true);
  auto optimizer = make_optimizer(tail, config);
  const std::vector<double> base_lrs = {config.lr * config.backbone_lr, config.lr};
  const torch::nn::functional::CrossEntropyFuncOptions loss_options =
      torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(config.label_smoothing);

  TrainResult result;
  Rng rng(config.rng_seed, kShuffleStream);
  RunControl orders;
  orders.epoch_orders = control.epoch_orders;
  std::vector<std::size_t> order(train_idx.size());
  const auto bs = static_cast<std::size_t>(config.batch_size);
  std::size_t next_eval = 0;
  for (int epoch = 1; epoch <= last_epoch(config); ++epoch) {
    for (std::size_t g = 0; g < optimizer->param_groups().size(); ++g)
      optimizer->param_groups()[g].options().set_lr(scheduled_lr(config, base_lrs[g], epoch));
    epoch_order(order, rng, orders, epoch);
    double loss_sum = 0;
    std::int64_t correct = 0;
    for (std::size_t start = 0; start < order.size(); start += bs) {
      throw_if_cancelled("fine-tuning");
      std::vector<std::size_t> idx;
      for (std::size_t k = start; k < std::min(order.size(), start + bs); ++k)
        idx.push_back(train_idx[order[k]]);
      const at::Tensor y = labels_of(labels, idx).to(device);
      const at::Tensor logits = tail->forward(x.gather(idx).to(device));
      const at::Tensor loss = torch::nn::functional::cross_entropy(logits, y, loss_options);
      optimizer->zero_grad();
      loss.backward();
      optimizer->step();
      const double l = loss.item<double>();
      if (control.step_losses) control.step_losses->push_back(l);
      loss_sum += l * static_cast<double>(idx.size());
      correct += logits.argmax(1).eq(y).sum().item<std::int64_t>();
    }
    const auto n = static_cast<double>(train_idx.size());
    result.train_loss.push_back(loss_sum / n);
    result.train_accuracy.push_back(static_cast<double>(correct) / n);
    if (epoch == config.eval_epochs[next_eval]) {
      EvalMetrics m =
          evaluate_tail(tail, x, labels, test_idx, num_classes, config.batch_size, device);
      m.epoch = epoch;
      result.evals.push_back(std::move(m));
      ++next_eval;
    }
  }
  if (control.final_state) *control.final_state = tail->state();
  return result;
}

}  // namespace fersweep::train
