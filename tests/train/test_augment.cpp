// Augmentation (train parameter `augment`): the transforms against torchvision for the same draws
// (ref_augment.py), the draws' distributions and purity, and fine-tuning on augmented images —
// repeatable and continued from a checkpoint bit for bit.
#include "train/augment.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "core/error.h"
#include "model/extractor.h"
#include "model/model_test_util.h"
#include "model/weights.h"

namespace fersweep::train {
namespace {

using model::testing::fresh_dir;
using model::testing::read_f32;
using nlohmann::json;

std::string validation_error(const AugmentSettings& a) {
  try {
    validate(a);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Augment, MatchesTorchvisionForTheSameDraws) {
  const auto dir = fresh_dir("augment_reference");
  torch::manual_seed(4);
  const std::int64_t h = 40, w = 36;
  const at::Tensor images = torch::randn({5, 3, h, w});
  const std::vector<AugmentDraw> draws = {
      {3, 5, 20, 24, true, 17.5},     // crop, flip and rotation
      {0, 0, 40, 36, true, 0},        // flip alone
      {10, 2, 30, 21, false, 0},      // crop alone
      {0, 0, 40, 36, false, -90.25},  // rotation alone
      {1, 1, 7, 9, false, 179.0},     // a small crop blown up, nearly upside down
  };
  json spec = {{"shape", {5, 3, h, w}}, {"draws", json::array()}};
  for (const auto& d : draws)
    spec["draws"].push_back({{"top", d.top},
                             {"left", d.left},
                             {"height", d.height},
                             {"width", d.width},
                             {"flip", d.flip},
                             {"angle", d.angle}});
  std::ofstream(dir / "draws.json") << spec.dump();
  std::ofstream(dir / "input.f32", std::ios::binary)
      .write(static_cast<const char*>(images.data_ptr()),
             static_cast<std::streamsize>(images.numel() * 4));
  const std::string cmd = fmt::format("{} {}/train/ref_augment.py {}", FERSWEEP_PYTHON,
                                      FERSWEEP_TESTS_DIR, dir.string());
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const at::Tensor ref = read_f32(dir / "out.f32", {5, 3, h, w});
  const at::Tensor ours = apply_augment(images, draws);
  ASSERT_EQ(ours.sizes(), ref.sizes());
  for (std::int64_t b = 0; b < 5; ++b)
    EXPECT_LE((ours[b] - ref[b]).abs().max().item<double>(), 1e-5) << "image " << b;
  // A flip alone is exact, and the rotation leaves zeros in the corners it uncovers.
  EXPECT_TRUE(ours[1].equal(images[1].flip({2})));
  EXPECT_EQ(ours[3][0][0][0].item<float>(), ref[3][0][0][0].item<float>());
}

TEST(Augment, DrawsArePureAndFollowTheirDistributions) {
  AugmentSettings a;
  a.hflip = true;
  a.random_resized_crop = {0.25, 0.75};
  a.rotate = 15;
  constexpr int kN = 10000, kSide = 224;
  int flips = 0;
  std::vector<double> angles, areas;
  for (std::size_t row = 0; row < kN; ++row) {
    const AugmentDraw d = draw_augment(a, 42, 3, row, kSide, kSide);
    const AugmentDraw again = draw_augment(a, 42, 3, row, kSide, kSide);
    ASSERT_EQ(std::tie(d.top, d.left, d.height, d.width, d.flip, d.angle),
              std::tie(again.top, again.left, again.height, again.width, again.flip, again.angle));
    ASSERT_TRUE(d.top >= 0 && d.left >= 0 && d.top + d.height <= kSide && d.left + d.width <= kSide)
        << row;
    const double aspect = static_cast<double>(d.width) / d.height;
    // Sides are rounded to whole pixels: the ratio and the area may pass their bounds by that.
    EXPECT_TRUE(aspect > 0.75 * 0.99 && aspect < 4.0 / 3.0 * 1.01) << aspect;
    areas.push_back(static_cast<double>(d.width) * d.height / (kSide * kSide));
    EXPECT_TRUE(areas.back() > 0.25 * 0.98 && areas.back() < 0.75 * 1.02) << areas.back();
    flips += d.flip;
    angles.push_back(d.angle);
  }
  // 10,000 fair coins: 5,000 ± 200 is four standard deviations.
  EXPECT_NEAR(flips, kN / 2, 200);
  // Kolmogorov-Smirnov against uniform(-15, 15): D below the 1% critical value 1.63 / sqrt(n).
  std::sort(angles.begin(), angles.end());
  double ks = 0;
  for (std::size_t i = 0; i < angles.size(); ++i) {
    const double cdf = (angles[i] + 15) / 30;
    ks = std::max({ks, std::abs(cdf - static_cast<double>(i) / kN),
                   std::abs(cdf - static_cast<double>(i + 1) / kN)});
  }
  EXPECT_LT(ks, 1.63 / std::sqrt(kN));
  EXPECT_GE(angles.front(), -15);
  EXPECT_LE(angles.back(), 15);
  // The scale is uniform in [lo, hi] before rounding: the mean area share is near 0.5.
  double mean = 0;
  for (double x : areas) mean += x / kN;
  EXPECT_NEAR(mean, 0.5, 0.01);
  // Another epoch, row or seed draws differently; no setting draws nothing.
  const AugmentDraw base = draw_augment(a, 42, 3, 7, kSide, kSide);
  for (const AugmentDraw& other :
       {draw_augment(a, 42, 4, 7, kSide, kSide), draw_augment(a, 42, 3, 8, kSide, kSide),
        draw_augment(a, 43, 3, 7, kSide, kSide)})
    EXPECT_NE(base.angle, other.angle);
  const AugmentDraw none = draw_augment(AugmentSettings{}, 42, 3, 7, 32, 32);
  EXPECT_EQ(std::tie(none.top, none.left, none.height, none.width, none.flip, none.angle),
            std::make_tuple(0, 0, 32, 32, false, 0.0));
}

TEST(Augment, RefusesBadSettingsByName) {
  AugmentSettings a;
  EXPECT_EQ(validation_error(a), "no error");
  a.random_resized_crop = {0, 1};
  EXPECT_EQ(validation_error(a),
            "train: augment: random_resized_crop [0, 1] must lie in (0, 1] with lo <= hi");
  a.random_resized_crop = {0.5, 0.2};
  EXPECT_EQ(validation_error(a),
            "train: augment: random_resized_crop [0.5, 0.2] must lie in (0, 1] with lo <= hi");
  a.random_resized_crop = {0.5};
  EXPECT_EQ(validation_error(a),
            "train: augment: random_resized_crop takes [lo, hi], got 1 values");
  a.random_resized_crop = {};
  a.rotate = 200;
  EXPECT_EQ(validation_error(a), "train: augment: rotate must be in [0, 180] degrees, got 200");
}

// Rows of the images for training are augmented per epoch and image; for evaluation they are not.
TEST(Augment, TrainingBatchesAreAugmentedPerEpochAndImage) {
  torch::manual_seed(2);
  const at::Tensor images = torch::randn({6, 3, 32, 32});
  const TensorActivations plain(images);
  AugmentSettings a;
  a.hflip = true;
  a.rotate = 30;
  const AugmentedImages source(plain, a, 5, {});
  const std::vector<std::size_t> idx = {4, 1, 3};
  EXPECT_TRUE(source.gather(idx).equal(plain.gather(idx)));
  const at::Tensor epoch2 = source.training_batch(idx, 2);
  std::vector<AugmentDraw> draws;
  for (std::size_t row : idx) draws.push_back(draw_augment(a, 5, 2, row, 32, 32));
  EXPECT_TRUE(epoch2.equal(apply_augment(plain.gather(idx), draws)));
  // An image's draw does not depend on the batch it is in.
  EXPECT_TRUE(source.training_batch({3}, 2)[0].equal(epoch2[2]));
  EXPECT_FALSE(source.training_batch(idx, 3).equal(epoch2));
}

// A ResNet-18 task on 32 px images whose frozen part (up to layer4, or the whole network for a
// head) runs on augmented images every epoch.
struct AugmentedTask {
  model::StateDict weights = model::random_state_dict(model::Arch::resnet18, 6);
  at::Tensor images;
  std::vector<std::int64_t> labels;
  std::vector<std::size_t> train_idx, test_idx;
  FineTuneConfig cfg;
  std::unique_ptr<model::FeatureExtractor> fx;

  explicit AugmentedTask(const std::string& finetune) {
    torch::manual_seed(8);
    images = torch::randn({12, 3, 32, 32});
    for (int i = 0; i < 12; ++i) {
      labels.push_back(i % 3);
      (i < 9 ? train_idx : test_idx).push_back(static_cast<std::size_t>(i));
    }
    cfg.finetune = finetune;
    cfg.augment.hflip = true;
    cfg.augment.random_resized_crop = {0.5, 1};
    cfg.augment.rotate = 10;
    cfg.batch_size = 4;
    cfg.eval_epochs = {1, 2};
    cfg.rng_seed = 17;
    at::set_num_threads(2);
    model::ExtractorOptions options;
    options.threads = 2;
    options.cut = model::parse_cut(finetune);
    fx = std::make_unique<model::FeatureExtractor>(model::Arch::resnet18, weights,
                                                   c10::Device(c10::kCPU), options);
  }
  TrainResult run(Checkpointing* cp, model::StateDict* final_state,
                  const AugmentSettings* augment = nullptr) const {
    FineTuneConfig c = cfg;
    if (augment) c.augment = *augment;
    const TensorActivations plain(images);
    const AugmentedImages source(plain, c.augment, c.rng_seed,
                                 [this](const at::Tensor& x) { return fx->extract(x); });
    FineTuneControl control;
    control.checkpoints = cp;
    control.final_state = final_state;
    return fine_tune(model::Arch::resnet18, weights, source, labels, train_idx, test_idx, 3, c,
                     c10::Device(c10::kCPU), control);
  }
};

void expect_same(const TrainResult& a, const model::StateDict& sa, const TrainResult& b,
                 const model::StateDict& sb) {
  EXPECT_EQ(a.train_loss, b.train_loss);
  EXPECT_EQ(a.train_accuracy, b.train_accuracy);
  ASSERT_EQ(a.evals.size(), b.evals.size());
  for (std::size_t i = 0; i < a.evals.size(); ++i) {
    EXPECT_EQ(a.evals[i].test_loss, b.evals[i].test_loss);
    EXPECT_EQ(a.evals[i].confusion, b.evals[i].confusion);
  }
  ASSERT_EQ(sa.size(), sb.size());
  for (std::size_t i = 0; i < sa.size(); ++i)
    EXPECT_TRUE(sa[i].second.equal(sb[i].second)) << sa[i].first;
}

// Runs the task whole, again while checkpointing every epoch (the same run: bit-identical), and
// continued from its epoch-1 checkpoint (bit-identical too).
void check_repeatable_and_continuable(const AugmentedTask& task) {
  model::StateDict whole_state, saving_state, state;
  const TrainResult whole = task.run(nullptr, &whole_state);
  ASSERT_EQ(whole.train_loss.size(), 2u);
  for (double loss : whole.train_loss) EXPECT_TRUE(std::isfinite(loss));
  std::string at_epoch1;
  Checkpointing save;
  save.every_seconds = 0;
  save.save = [&](int epoch, std::string bytes) {
    if (epoch == 1) at_epoch1 = std::move(bytes);
  };
  const TrainResult saving = task.run(&save, &saving_state);
  expect_same(whole, whole_state, saving, saving_state);
  ASSERT_FALSE(at_epoch1.empty());
  Checkpointing resume;
  resume.resume = &at_epoch1;
  const TrainResult continued = task.run(&resume, &state);
  EXPECT_EQ(resume.resumed_from, 1);
  expect_same(whole, whole_state, continued, state);
}

TEST(FineTuneAugment, Layer4TaskRepeatsAndContinuesBitForBit) {
  check_repeatable_and_continuable(AugmentedTask("layer4"));
}

TEST(FineTuneAugment, HeadTaskRepeatsAndContinuesBitForBit) {
  const AugmentedTask task("head");
  check_repeatable_and_continuable(task);
  // The draws reach the network: other augmentation gives another first epoch.
  const AugmentSettings flip_only{true, {}, 0};
  EXPECT_NE(task.run(nullptr, nullptr, &flip_only).train_loss[0],
            task.run(nullptr, nullptr).train_loss[0]);
}

TEST(FineTuneAugment, HeadWithoutAugmentationIsNotAFineTuningTask) {
  FineTuneConfig cfg;
  cfg.eval_epochs = {1};
  cfg.finetune = "head";
  try {
    validate(cfg);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "train: finetune head without augment is the head path (train_head), not "
                 "fine_tune");
  }
  cfg.augment.hflip = true;
  cfg.head = "mlp";
  try {
    validate(cfg);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "train: augment trains a linear head, not mlp");
  }
}

}  // namespace
}  // namespace fersweep::train
