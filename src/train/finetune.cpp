// Fine-tuning with LibTorch autograd: the model is torchvision's own layers (model/finetune.h)
// and the optimisers are torch::optim's, so a run matches PyTorch's step for step.
#include "train/finetune.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <sstream>

#include "core/cancel.h"
#include "core/error.h"
#include "model/finetune.h"
#include "train/augment.h"
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

// --- task checkpoints: one torch::serialize archive (LibTorch's own format for modules and
// optimisers, so their state round-trips exactly); curves as float64 tensors ---
constexpr std::int64_t kCheckpointFormat = 2;  // 2: validation evaluations ("vals")

at::Tensor doubles(const std::vector<double>& v) {
  return torch::tensor(v, torch::kFloat64).reshape({static_cast<std::int64_t>(v.size())});
}

std::vector<double> to_doubles(at::Tensor t) {
  t = t.to(torch::kCPU, torch::kFloat64).contiguous();
  return {t.data_ptr<double>(), t.data_ptr<double>() + t.numel()};
}

// Evaluations as `prefix`s (count) and `prefix`N/... entries.
void write_evals(torch::serialize::OutputArchive& a, const std::string& prefix,
                 const std::vector<EvalMetrics>& evals) {
  a.write(prefix + "s", static_cast<std::int64_t>(evals.size()));
  for (std::size_t i = 0; i < evals.size(); ++i) {
    const EvalMetrics& m = evals[i];
    const std::string key = fmt::format("{}{}/", prefix, i);
    a.write(key + "epoch", static_cast<std::int64_t>(m.epoch));
    a.write(key + "scores", doubles({m.accuracy, m.macro_f1, m.test_loss}));
    a.write(key + "recall", doubles(m.per_class_recall));
    a.write(key + "confusion", torch::tensor(m.confusion, torch::kLong)
                                   .reshape({static_cast<std::int64_t>(m.confusion.size())}));
  }
}

struct Progress {
  Rng rng;
  TrainResult result;
};

std::string checkpoint_bytes(int epoch, const model::TrainableTail& tail,
                             const optim::Optimizer& optimizer, const Progress& p) {
  torch::serialize::OutputArchive a, module, state;
  a.write("format", kCheckpointFormat);
  a.write("epoch", static_cast<std::int64_t>(epoch));
  a.write("rng", static_cast<std::int64_t>(p.rng.position()));
  tail->save(module);
  a.write("tail", module);
  optimizer.save(state);
  a.write("optimizer", state);
  a.write("train_loss", doubles(p.result.train_loss));
  a.write("train_accuracy", doubles(p.result.train_accuracy));
  write_evals(a, "eval", p.result.evals);
  write_evals(a, "val", p.result.val_evals);
  std::ostringstream out;
  a.save_to(out);
  return out.str();
}

// Reads of one archive's entries (LibTorch's c10::Error on a missing or mistyped key).
struct ArchiveReader {
  torch::serialize::InputArchive& a;
  std::int64_t integer(const std::string& key) const {
    c10::IValue v;
    a.read(key, v);
    return v.toInt();
  }
  at::Tensor tensor(const std::string& key) const {
    at::Tensor t;
    a.read(key, t);
    return t;
  }
};

std::vector<EvalMetrics> read_evals(const ArchiveReader& r, const std::string& prefix) {
  std::vector<EvalMetrics> evals(static_cast<std::size_t>(r.integer(prefix + "s")));
  for (std::size_t i = 0; i < evals.size(); ++i) {
    const std::string key = fmt::format("{}{}/", prefix, i);
    EvalMetrics& m = evals[i];
    m.epoch = static_cast<int>(r.integer(key + "epoch"));
    const auto scores = to_doubles(r.tensor(key + "scores"));
    if (scores.size() != 3) throw CheckpointError("checkpoint: damaged evaluation " + key);
    m.accuracy = scores[0], m.macro_f1 = scores[1], m.test_loss = scores[2];
    m.per_class_recall = to_doubles(r.tensor(key + "recall"));
    const at::Tensor conf = r.tensor(key + "confusion").to(torch::kCPU).contiguous();
    m.confusion.assign(conf.data_ptr<std::int64_t>(), conf.data_ptr<std::int64_t>() + conf.numel());
  }
  return evals;
}

// Whether curves and evaluations are those of a run stopped after `epoch`.
bool matches_epoch(const TrainResult& r, const FineTuneConfig& c, int epoch, bool validates) {
  std::size_t due = 0;
  while (due < c.eval_epochs.size() && c.eval_epochs[due] <= epoch) ++due;
  bool ok = r.evals.size() == due && r.train_loss.size() == static_cast<std::size_t>(epoch) &&
            r.train_accuracy.size() == static_cast<std::size_t>(epoch) &&
            r.val_evals.size() == (validates ? due : 0);
  for (std::size_t i = 0; ok && i < due; ++i) ok = r.evals[i].epoch == c.eval_epochs[i];
  return ok;
}

// Loads `bytes` into the freshly built tail, optimiser and progress; returns the epoch they hold.
int restore_checkpoint(const std::string& bytes, const FineTuneConfig& c,
                       model::TrainableTail& tail, optim::Optimizer& optimizer, Progress& p,
                       c10::Device device, bool validates) {
  auto fail = [](const std::string& why) { throw CheckpointError("checkpoint: " + why); };
  try {
    torch::serialize::InputArchive a;
    std::istringstream in(bytes);
    a.load_from(in, device);
    const ArchiveReader r{a};
    if (r.integer("format") != kCheckpointFormat) fail("written by another fersweep version");
    const auto epoch = static_cast<int>(r.integer("epoch"));
    if (epoch < 1 || epoch >= last_epoch(c))
      fail(fmt::format("holds epoch {} of a task of {} epochs", epoch, last_epoch(c)));
    p.rng = Rng::at_position(static_cast<std::uint64_t>(r.integer("rng")));
    torch::serialize::InputArchive module, state;
    a.read("tail", module);
    tail->load(module);
    a.read("optimizer", state);
    optimizer.load(state);
    p.result.train_loss = to_doubles(r.tensor("train_loss"));
    p.result.train_accuracy = to_doubles(r.tensor("train_accuracy"));
    p.result.evals = read_evals(r, "eval");
    p.result.val_evals = read_evals(r, "val");
    if (!matches_epoch(p.result, c, epoch, validates))
      fail(fmt::format("its curves or evaluations do not match epoch {}", epoch));
    return epoch;
  } catch (const CheckpointError&) {
    throw;
  } catch (...) {
    fail("does not load: " + current_exception_message());  // LibTorch's, without backtrace
  }
  return 0;
}

bool checkpoint_due(const Checkpointing* cp, int epoch, const FineTuneConfig& c,
                    std::chrono::steady_clock::time_point last_save) {
  if (!cp || !cp->save || cp->every_seconds < 0 || epoch >= last_epoch(c)) return false;
  const double since =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - last_save).count();
  return stop_requested() || since >= cp->every_seconds;
}

}  // namespace

void validate(const FineTuneConfig& c) {
  validate(static_cast<const HeadConfig&>(c));
  auto fail = [](const std::string& msg) { throw ConfigError("train: " + msg); };
  const model::Cut cut = model::parse_cut(c.finetune);
  if (cut == model::Cut::head && !c.augment.active())
    fail("finetune head without augment is the head path (train_head), not fine_tune");
  validate(c.augment);
  (void)model::parse_bn_mode(c.bn);
  const std::string what = cut == model::Cut::head ? "augment" : "finetune " + c.finetune;
  if (c.head != "linear") fail(what + " trains a linear head, not " + c.head);
  if (c.standardize)
    fail(what + ": standardize applies to frozen features without augmentation only");
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

namespace {

// One epoch's pass over the training rows in `order`; returns (loss sum, correct predictions).
std::pair<double, std::int64_t> train_epoch(model::TrainableTail& tail, optim::Optimizer& optimizer,
                                            const ActivationSource& x,
                                            const std::vector<std::int64_t>& labels,
                                            const std::vector<std::size_t>& train_idx,
                                            const std::vector<std::size_t>& order,
                                            const FineTuneConfig& config, int epoch,
                                            c10::Device device, std::vector<double>* step_losses) {
  const torch::nn::functional::CrossEntropyFuncOptions loss_options =
      torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(config.label_smoothing);
  const auto bs = static_cast<std::size_t>(config.batch_size);
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (std::size_t start = 0; start < order.size(); start += bs) {
    throw_if_cancelled("fine-tuning");
    std::vector<std::size_t> idx;
    for (std::size_t k = start; k < std::min(order.size(), start + bs); ++k)
      idx.push_back(train_idx[order[k]]);
    const at::Tensor y = labels_of(labels, idx).to(device);
    const at::Tensor logits = tail->forward(x.training_batch(idx, epoch).to(device));
    const at::Tensor loss = torch::nn::functional::cross_entropy(logits, y, loss_options);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    const double l = loss.item<double>();
    if (step_losses) step_losses->push_back(l);
    loss_sum += l * static_cast<double>(idx.size());
    correct += logits.argmax(1).eq(y).sum().item<std::int64_t>();
  }
  return {loss_sum, correct};
}

}  // namespace

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

  const bool validates = control.val_idx && !control.val_idx->empty();
  Progress p{Rng(config.rng_seed, kShuffleStream), {}};
  Checkpointing* cp = control.checkpoints;
  int first = 1;
  if (cp && cp->pause_at != 0 &&
      (!cp->save || cp->pause_at < 1 || cp->pause_at >= last_epoch(config)))
    throw InternalError(fmt::format("fine-tuning: cannot pause at epoch {} of {}", cp->pause_at,
                                    last_epoch(config)));
  if (cp && cp->resume) {
    first = restore_checkpoint(*cp->resume, config, tail, *optimizer, p, device, validates) + 1;
    cp->resumed_from = first - 1;
    if (cp->pause_at > 0 && cp->resumed_from >= cp->pause_at)
      throw CheckpointError(fmt::format("checkpoint: holds epoch {}, not before the rung {}",
                                        cp->resumed_from, cp->pause_at));
  }
  auto last_save = std::chrono::steady_clock::now();
  RunControl orders;
  orders.epoch_orders = control.epoch_orders;
  std::vector<std::size_t> order(train_idx.size());
  std::size_t next_eval = p.result.evals.size();
  for (int epoch = first; epoch <= last_epoch(config); ++epoch) {
    for (std::size_t g = 0; g < optimizer->param_groups().size(); ++g)
      optimizer->param_groups()[g].options().set_lr(scheduled_lr(config, base_lrs[g], epoch));
    epoch_order(order, p.rng, orders, epoch);
    const auto [loss_sum, correct] = train_epoch(tail, *optimizer, x, labels, train_idx, order,
                                                 config, epoch, device, control.step_losses);
    const auto n = static_cast<double>(train_idx.size());
    p.result.train_loss.push_back(loss_sum / n);
    p.result.train_accuracy.push_back(static_cast<double>(correct) / n);
    if (epoch == config.eval_epochs[next_eval]) {
      EvalMetrics m =
          evaluate_tail(tail, x, labels, test_idx, num_classes, config.batch_size, device);
      m.epoch = epoch;
      p.result.evals.push_back(std::move(m));
      if (validates) {
        EvalMetrics v = evaluate_tail(tail, x, labels, *control.val_idx, num_classes,
                                      config.batch_size, device);
        v.epoch = epoch;
        p.result.val_evals.push_back(std::move(v));
      }
      ++next_eval;
    }
    const bool pausing = cp && cp->pause_at == epoch;
    if (pausing || checkpoint_due(cp, epoch, config, last_save)) {
      cp->save(epoch, checkpoint_bytes(epoch, tail, *optimizer, p));
      last_save = std::chrono::steady_clock::now();
    }
    if (pausing) break;
  }
  if (control.final_state) *control.final_state = tail->state();
  return std::move(p.result);
}

}  // namespace fersweep::train
