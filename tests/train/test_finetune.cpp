// Fine-tuning against python3-torch: the frozen part up to each cut (FeatureExtractor with
// ExtractorOptions::cut) and the trainable tail trained a few steps from the same initial
// weights, data and batch orders (ref_finetune.py) — losses and weights after them within 1e-4.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <numeric>

#include "core/cancel.h"
#include "core/error.h"
#include "model/extractor.h"
#include "model/finetune.h"
#include "model/model_test_util.h"
#include "model/weights.h"
#include "train/finetune.h"
#include "train/rng.h"

namespace fersweep::train {
namespace {

namespace fs = std::filesystem;
using model::testing::fresh_dir;
using model::testing::max_relative_error;
using model::testing::read_f32;
using nlohmann::json;

constexpr double kTolerance = 1e-4;
constexpr int kClasses = 7;

void run_reference(const std::string& args) {
  const std::string cmd =
      std::string(FERSWEEP_PYTHON) + " " + FERSWEEP_TESTS_DIR + "/train/ref_finetune.py " + args;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

struct Case {
  model::Arch arch;
  int size;
  std::string finetune, bn, optimizer, schedule;
};

FineTuneConfig config_of(const Case& c) {
  FineTuneConfig cfg;
  cfg.finetune = c.finetune;
  cfg.bn = c.bn;
  cfg.optimizer = c.optimizer;
  cfg.schedule = c.schedule;
  cfg.lr = 0.01;
  cfg.backbone_lr = 0.1;
  cfg.weight_decay = 0.001;
  cfg.label_smoothing = 0.1;
  cfg.batch_size = 8;
  cfg.eval_epochs = {1, 3};
  cfg.lr_horizon = 4;
  cfg.lr_step = 2;
  cfg.lr_gamma = 0.5;
  cfg.rng_seed = 11;
  return cfg;
}

// The reference's final tail state, by name.
std::map<std::string, at::Tensor> read_reference(const fs::path& dir, json& ref) {
  ref = json::parse(std::ifstream(dir / "ref.json"));
  std::int64_t total = 0;
  for (const auto& p : ref["params"]) {
    std::int64_t n = 1;
    for (std::int64_t d : p[1]) n *= d;
    total += n;
  }
  const at::Tensor flat = read_f32(dir / "ref_params.f32", {total});
  std::map<std::string, at::Tensor> out;
  std::int64_t at = 0;
  for (const auto& p : ref["params"]) {
    const std::vector<std::int64_t> shape = p[1];
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    out[p[0]] = flat.slice(0, at, at + n).reshape(shape);
    at += n;
  }
  return out;
}

void check_against_torch(const Case& c) {
  const std::string name = model::arch_name(c.arch);
  const fs::path dir = fresh_dir(fmt::format("finetune_{}_{}_{}", name, c.finetune, c.bn));
  constexpr int kN = 24;
  run_reference(fmt::format("make {} {} {} {} {}", dir.string(), name, c.finetune, c.size, kN));
  const model::StateDict weights = model::read_checkpoint(dir / "weights.pth");
  const auto shape = model::frozen_output_shape(c.arch, model::parse_cut(c.finetune), c.size);
  std::vector<std::int64_t> full = {kN};
  full.insert(full.end(), shape.begin(), shape.end());
  const at::Tensor ref_frozen = read_f32(dir / "frozen.f32", full);

  // The frozen part: torchvision's layers up to the cut.
  if (c.finetune != "all") {
    model::ExtractorOptions options;
    options.threads = 2;
    options.cut = model::parse_cut(c.finetune);
    model::FeatureExtractor fx(c.arch, weights, c10::Device(c10::kCPU), options);
    const at::Tensor input = read_f32(dir / "input.f32", {kN, 3, c.size, c.size});
    const at::Tensor ours = fx.extract(input);
    ASSERT_EQ(ours.sizes().vec(), full);
    EXPECT_LE(max_relative_error(ours, ref_frozen), kTolerance) << name << " " << c.finetune;
  }

  // The tail, trained on the reference's activations from the same head and batch orders.
  const FineTuneConfig cfg = config_of(c);
  std::vector<std::int64_t> labels;
  std::vector<std::size_t> train_idx, test_idx;
  for (int i = 0; i < kN; ++i) {
    labels.push_back(i % kClasses);
    (i % 4 == 0 ? test_idx : train_idx).push_back(static_cast<std::size_t>(i));
  }
  const HeadParams head = initial_params(model::feature_dim(c.arch), kClasses, cfg);
  std::vector<std::vector<std::size_t>> orders;
  Rng rng(5);
  for (int e = 0; e < cfg.eval_epochs.back(); ++e) {
    std::vector<std::size_t> order(train_idx.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    rng.shuffle(order);
    orders.push_back(order);
  }
  json run = {{"arch", name},
              {"num_classes", kClasses},
              {"config", json(static_cast<const FineTuneSettings&>(cfg))},
              {"shape", full},
              {"labels", labels},
              {"train_idx", train_idx},
              {"test_idx", test_idx},
              {"orders", orders},
              {"w1", head.w1},
              {"b1", head.b1}};
  for (const char* k :
       {"optimizer", "lr", "weight_decay", "momentum", "batch_size", "label_smoothing"})
    run["config"][k] = json(static_cast<const TrainSettings&>(cfg))[k];
  std::ofstream(dir / "run.json") << run.dump();
  run_reference("train " + dir.string());

  model::StateDict final_state;
  std::vector<double> losses;
  FineTuneControl control;
  control.initial_head = &head;
  control.epoch_orders = &orders;
  control.final_state = &final_state;
  control.step_losses = &losses;
  at::set_num_threads(1);
  const TrainResult result =
      fine_tune(c.arch, weights, TensorActivations(ref_frozen), labels, train_idx, test_idx,
                kClasses, cfg, c10::Device(c10::kCPU), control);
  json ref;
  const auto ref_state = read_reference(dir, ref);
  ASSERT_EQ(losses.size(), ref["step_losses"].size());
  for (std::size_t i = 0; i < losses.size(); ++i)
    EXPECT_NEAR(losses[i], ref["step_losses"][i].get<double>(), kTolerance) << "step " << i;
  std::size_t compared = 0;
  for (const auto& [key, tensor] : final_state) {
    if (!tensor.is_floating_point()) continue;
    const auto it = ref_state.find(key);
    ASSERT_NE(it, ref_state.end()) << key << " is not in the reference's tail";
    EXPECT_LE((tensor - it->second).abs().max().item<double>(), kTolerance) << key;
    ++compared;
  }
  EXPECT_EQ(compared, ref_state.size());
  ASSERT_EQ(result.evals.size(), 2u);
  EXPECT_EQ(result.evals[1].epoch, 3);
  // The evaluation after the last epoch: torch's loss and predictions.
  EXPECT_NEAR(result.evals[1].test_loss, ref["test_loss"].get<double>(), kTolerance);
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < test_idx.size(); ++i)
    correct += ref["predicted"][i].get<std::int64_t>() == labels[test_idx[i]];
  EXPECT_DOUBLE_EQ(result.evals[1].accuracy,
                   static_cast<double>(correct) / static_cast<double>(test_idx.size()));
  EXPECT_EQ(result.train_loss.size(), 3u);
}

TEST(FineTuneParity, Resnet18Layer4FrozenBatchNormAdam) {
  check_against_torch({model::Arch::resnet18, 64, "layer4", "frozen", "adam", "constant"});
}

TEST(FineTuneParity, Resnet18Layer3TrainedBatchNormSgdStepSchedule) {
  check_against_torch({model::Arch::resnet18, 64, "layer3", "train", "sgd", "step"});
}

TEST(FineTuneParity, Resnet50Layer4AdamwCosine) {
  check_against_torch({model::Arch::resnet50, 32, "layer4", "frozen", "adamw", "cosine"});
}

TEST(FineTuneParity, Resnet18AllLayers) {
  check_against_torch({model::Arch::resnet18, 32, "all", "frozen", "adam", "constant"});
}

TEST(FineTune, FrozenShapesFollowTheStrides) {
  using model::Arch;
  using model::Cut;
  EXPECT_EQ(model::frozen_output_shape(Arch::resnet50, Cut::layer4, 224),
            (std::vector<std::int64_t>{1024, 14, 14}));
  EXPECT_EQ(model::frozen_output_shape(Arch::resnet18, Cut::layer3, 224),
            (std::vector<std::int64_t>{128, 28, 28}));
  EXPECT_EQ(model::frozen_output_shape(Arch::resnet34, Cut::layer4, 48),
            (std::vector<std::int64_t>{256, 3, 3}));
  EXPECT_EQ(model::frozen_output_shape(Arch::resnet18, Cut::all, 64),
            (std::vector<std::int64_t>{3, 64, 64}));
  EXPECT_EQ(model::frozen_output_shape(Arch::resnet18, Cut::head, 64),
            (std::vector<std::int64_t>{512}));
}

TEST(FineTune, RefusesBadSettingsByName) {
  FineTuneConfig cfg;
  cfg.eval_epochs = {5};
  cfg.finetune = "layer4";
  auto message = [&] {
    try {
      validate(cfg);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(), "no error");
  cfg.finetune = "layer5";
  EXPECT_EQ(message(), "unknown finetune 'layer5' (known: head, layer4, layer3, all)");
  cfg.finetune = "layer4";
  cfg.backbone_lr = 0;
  EXPECT_EQ(message(), "train: backbone_lr must be > 0, got 0");
  cfg.backbone_lr = 0.1;
  cfg.schedule = "cosine";
  cfg.lr_horizon = 4;
  EXPECT_EQ(message(), "train: schedule cosine: lr_horizon 4 is shorter than the last epoch 5");
  cfg.schedule = "constant";
  cfg.bn = "running";
  EXPECT_EQ(message(), "unknown bn 'running' (known: frozen, train)");
}

TEST(FineTune, SameRunTwiceIsBitIdentical) {
  const auto weights = model::random_state_dict(model::Arch::resnet18, 3);
  const at::Tensor x = torch::randn({16, 256, 2, 2}, torch::TensorOptions().dtype(torch::kFloat));
  std::vector<std::int64_t> labels;
  std::vector<std::size_t> train_idx, test_idx;
  for (int i = 0; i < 16; ++i) {
    labels.push_back(i % 3);
    (i < 12 ? train_idx : test_idx).push_back(static_cast<std::size_t>(i));
  }
  FineTuneConfig cfg;
  cfg.finetune = "layer4";
  cfg.batch_size = 5;
  cfg.eval_epochs = {2};
  cfg.rng_seed = 9;
  at::set_num_threads(2);
  const TensorActivations source(x);
  const auto a =
      fine_tune(model::Arch::resnet18, weights, source, labels, train_idx, test_idx, 3, cfg);
  const auto b =
      fine_tune(model::Arch::resnet18, weights, source, labels, train_idx, test_idx, 3, cfg);
  EXPECT_EQ(a.train_loss, b.train_loss);
  EXPECT_EQ(a.evals[0].test_loss, b.evals[0].test_loss);
  EXPECT_EQ(a.evals[0].confusion, b.evals[0].confusion);
}

// A small layer4 task whose every piece of state matters on resume: BatchNorm statistics (bn:
// train), Adam's moments and step count, a cosine schedule, evaluations before and after.
struct CheckpointCase {
  model::StateDict weights = model::random_state_dict(model::Arch::resnet18, 5);
  at::Tensor x = torch::randn({16, 256, 1, 1}, torch::TensorOptions().dtype(torch::kFloat));
  std::vector<std::int64_t> labels;
  std::vector<std::size_t> train_idx, test_idx, val_idx;  // val: select:'s part, checkpointed too
  FineTuneConfig cfg;
  CheckpointCase() {
    for (int i = 0; i < 16; ++i) {
      labels.push_back(i % 3);
      (i < 10 ? train_idx : i < 12 ? val_idx : test_idx).push_back(static_cast<std::size_t>(i));
    }
    cfg.finetune = "layer4";
    cfg.bn = "train";
    cfg.schedule = "cosine";
    cfg.lr_horizon = 4;
    cfg.batch_size = 6;
    cfg.eval_epochs = {1, 3};
    cfg.rng_seed = 21;
    at::set_num_threads(2);
  }
  TrainResult run(Checkpointing* cp, model::StateDict* final_state,
                  const std::vector<std::size_t>* test = nullptr, bool validate = true) const {
    FineTuneControl control;
    control.checkpoints = cp;
    control.final_state = final_state;
    if (validate) control.val_idx = &val_idx;
    return fine_tune(model::Arch::resnet18, weights, TensorActivations(x), labels, train_idx,
                     test ? *test : test_idx, 3, cfg, c10::Device(c10::kCPU), control);
  }
};

void expect_same(const TrainResult& a, const model::StateDict& sa, const TrainResult& b,
                 const model::StateDict& sb, const std::string& what) {
  EXPECT_EQ(a.train_loss, b.train_loss) << what;
  EXPECT_EQ(a.train_accuracy, b.train_accuracy) << what;
  ASSERT_EQ(a.evals.size(), b.evals.size()) << what;
  for (std::size_t i = 0; i < a.evals.size(); ++i) {
    EXPECT_EQ(a.evals[i].epoch, b.evals[i].epoch) << what;
    EXPECT_EQ(a.evals[i].test_loss, b.evals[i].test_loss) << what;
    EXPECT_EQ(a.evals[i].confusion, b.evals[i].confusion) << what;
  }
  ASSERT_EQ(a.val_evals.size(), b.val_evals.size()) << what;
  for (std::size_t i = 0; i < a.val_evals.size(); ++i) {
    EXPECT_EQ(a.val_evals[i].epoch, b.val_evals[i].epoch) << what;
    EXPECT_EQ(a.val_evals[i].test_loss, b.val_evals[i].test_loss) << what;
    EXPECT_EQ(a.val_evals[i].confusion, b.val_evals[i].confusion) << what;
  }
  ASSERT_EQ(sa.size(), sb.size()) << what;
  for (std::size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first) << what;
    EXPECT_TRUE(sa[i].second.equal(sb[i].second)) << what << ": " << sa[i].first;
  }
}

TEST(FineTuneCheckpoint, ContinuingFromAnyEpochIsBitIdentical) {
  const CheckpointCase c;
  model::StateDict whole_state;
  const TrainResult whole = c.run(nullptr, &whole_state);
  std::map<int, std::string> saved;
  Checkpointing every_epoch;
  every_epoch.every_seconds = 0;
  every_epoch.save = [&](int epoch, std::string bytes) { saved[epoch] = std::move(bytes); };
  model::StateDict saving_state;
  const TrainResult saving = c.run(&every_epoch, &saving_state);
  expect_same(whole, whole_state, saving, saving_state, "saving checkpoints");
  ASSERT_EQ(saved.size(), 2u);  // epochs 1 and 2, never after the last
  for (const auto& [epoch, bytes] : saved) {
    Checkpointing resume;
    resume.resume = &bytes;
    model::StateDict state;
    const TrainResult continued = c.run(&resume, &state);
    EXPECT_EQ(resume.resumed_from, epoch);
    expect_same(whole, whole_state, continued, state, fmt::format("from epoch {}", epoch));
  }
}

// early_stop: a task paused at a rung returns what it has and saves its state there, whatever
// checkpoint_every says; continued from that state it ends as an uninterrupted run.
TEST(FineTuneCheckpoint, PausingAtARungAndContinuingIsBitIdentical) {
  const CheckpointCase c;
  model::StateDict whole_state;
  const TrainResult whole = c.run(nullptr, &whole_state);
  std::map<int, std::string> saved;
  Checkpointing pause;
  pause.pause_at = 2;  // every_seconds < 0: no periodic checkpoints
  pause.save = [&](int epoch, std::string bytes) { saved[epoch] = std::move(bytes); };
  const TrainResult paused = c.run(&pause, nullptr);
  ASSERT_EQ(saved.size(), 1u);
  ASSERT_EQ(saved.begin()->first, 2);
  EXPECT_EQ(paused.train_loss,
            std::vector<double>(whole.train_loss.begin(), whole.train_loss.begin() + 2));
  ASSERT_EQ(paused.evals.size(), 1u);  // epoch 1 of {1, 3}
  EXPECT_EQ(paused.evals[0].confusion, whole.evals[0].confusion);
  EXPECT_EQ(paused.val_evals.size(), 1u);
  Checkpointing resume;
  resume.resume = &saved[2];
  model::StateDict state;
  const TrainResult continued = c.run(&resume, &state);
  expect_same(whole, whole_state, continued, state, "continued from the rung");
  // A checkpoint at or past the rung it is asked to pause at is refused, not run past the rung.
  Checkpointing again;
  again.resume = &saved[2];
  again.pause_at = 2;
  again.save = [](int, std::string) {};
  try {
    c.run(&again, nullptr);
    ADD_FAILURE() << "no error";
  } catch (const CheckpointError& e) {
    EXPECT_STREQ(e.what(), "checkpoint: holds epoch 2, not before the rung 2");
  }
}

// select:'s validation rows are evaluated as test rows would be, and change nothing else.
TEST(FineTuneCheckpoint, ValidationRowsAreEvaluatedLikeTestRows) {
  const CheckpointCase c;
  model::StateDict with_state, without_state, on_val_state;
  const TrainResult with = c.run(nullptr, &with_state);
  ASSERT_EQ(with.val_evals.size(), 2u);
  const TrainResult without = c.run(nullptr, &without_state, nullptr, false);
  EXPECT_TRUE(without.val_evals.empty());
  TrainResult stripped = with;
  stripped.val_evals.clear();
  expect_same(stripped, with_state, without, without_state, "without validation rows");
  const TrainResult on_val = c.run(nullptr, &on_val_state, &c.val_idx, false);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(with.val_evals[i].epoch, on_val.evals[i].epoch);
    EXPECT_EQ(with.val_evals[i].test_loss, on_val.evals[i].test_loss);
    EXPECT_EQ(with.val_evals[i].confusion, on_val.evals[i].confusion);
  }
}

TEST(FineTuneCheckpoint, SavesAtEveryEpochOnceAStopIsRequested) {
  const CheckpointCase c;
  std::vector<int> epochs;
  Checkpointing hourly;
  hourly.every_seconds = 3600;
  hourly.save = [&](int epoch, std::string) { epochs.push_back(epoch); };
  c.run(&hourly, nullptr);
  EXPECT_TRUE(epochs.empty());
  cancel_after(3600);  // a stop with an hour's grace: not cancelled, but saving
  c.run(&hourly, nullptr);
  reset_cancel();
  EXPECT_EQ(epochs, (std::vector<int>{1, 2}));
}

TEST(FineTuneCheckpoint, RefusesWhatItCannotContinueFrom) {
  CheckpointCase c;
  std::string bytes;
  Checkpointing save;
  save.every_seconds = 0;
  save.save = [&](int epoch, std::string b) {
    if (epoch == 2) bytes = std::move(b);
  };
  c.run(&save, nullptr);
  auto refusal = [&](const std::string& given) {
    Checkpointing resume;
    resume.resume = &given;
    try {
      c.run(&resume, nullptr);
    } catch (const CheckpointError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(refusal(bytes), "no error");
  EXPECT_EQ(refusal(bytes.substr(0, bytes.size() / 2)).rfind("checkpoint: does not load: ", 0), 0u);
  EXPECT_EQ(refusal("not a checkpoint").rfind("checkpoint: does not load: ", 0), 0u);
  c.cfg.eval_epochs = {1, 2};  // the task now ends at the epoch the checkpoint holds
  EXPECT_EQ(refusal(bytes), "checkpoint: holds epoch 2 of a task of 2 epochs");
  c.cfg.eval_epochs = {1, 3};
  c.cfg.finetune = "layer3";  // other parameters: layer3's weights are not in it
  EXPECT_EQ(refusal(bytes).rfind("checkpoint: does not load: ", 0), 0u);
}

}  // namespace
}  // namespace fersweep::train
