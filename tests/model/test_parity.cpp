// Parity with torchvision: seeded random ResNet-18/34/50 saved by python3-torchvision exactly as
// the official files are saved, loaded here; features and logits must match torchvision's
// (computed in float64) with max relative error <= 1e-4. Plus the extractor's frozen behaviour.
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "core/error.h"
#include "model/extractor.h"
#include "model/weights.h"
#include "model_test_util.h"
#include "parity_check.h"

namespace fersweep::model {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(Parity, ResNet18AndItsTorchScriptArchive) {
  testing::check_parity(Arch::resnet18, 224, true);
}
TEST(Parity, ResNet34) {
  testing::check_parity(Arch::resnet34, 160, false);
}

TEST(Extractor, FrozenEvalModeFeaturesIndependentOfBatchAndRepeatable) {
  const ResolvedWeights w = resolve_weights(parse_weights("random:3"), Arch::resnet18);
  FeatureExtractor fx(Arch::resnet18, w.state, c10::Device(c10::kCPU), {2, true});
  EXPECT_EQ(at::get_num_threads(), 2);
  // The optimised CPU graph must really run oneDNN prepacked convolutions (it silently does not
  // when the module is not recognised as unfrozen and in eval mode).
  int nodes = 0, onednn = 0;
  ASSERT_EQ(std::sscanf(fx.summary().c_str(), "%d graph nodes, %d oneDNN", &nodes, &onednn), 2);
  if (at::hasMKLDNN()) {
    EXPECT_GE(onednn, 20) << fx.summary();  // one per convolution
  }
  EXPECT_EQ(fx.dim(), 512);
  EXPECT_TRUE(fx.device().is_cpu());
  torch::manual_seed(1);
  const torch::Tensor images = torch::randn({3, 3, 64, 64});
  const torch::Tensor all = fx.extract(images);
  EXPECT_EQ(all.scalar_type(), torch::kFloat);
  EXPECT_FALSE(all.requires_grad());
  EXPECT_TRUE(torch::isfinite(all).all().item<bool>());
  // Eval mode: an image's features do not depend on its batch-mates, nor on earlier calls.
  const torch::Tensor one = fx.extract(images.slice(0, 1, 2));
  EXPECT_LE(testing::max_relative_error(one, all.slice(0, 1, 2)), 1e-5);
  EXPECT_TRUE(torch::allclose(fx.extract(images), all, 1e-6, 1e-6));
  // The features can feed autograd afterwards (a head is trained on them).
  torch::Tensor head = torch::zeros({512, 7}, torch::requires_grad());
  torch::mm(all, head).sum().backward();
  EXPECT_TRUE(head.grad().defined());
}

TEST(Extractor, BadInputsAreNamed) {
  const ResolvedWeights w = resolve_weights(parse_weights("random"), Arch::resnet18);
  FeatureExtractor fx(Arch::resnet18, w.state, c10::Device(c10::kCPU), {0, false});
  try {
    fx.extract(torch::zeros({2, 1, 64, 64}));
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_STREQ(e.what(),
                 "resnet18 features: images must be [batch, 3, height, width], got [2, 1, 64, 64]");
  }
  EXPECT_THROW(fx.extract(torch::zeros({2, 3, 64, 64}, torch::kDouble)), ModelError);
  EXPECT_THROW(fx.extract(torch::zeros({2, 3, 16, 16})), ModelError);
}

TEST(Extractor, RefusesWeightsOfAnotherArchitecture) {
  const ResolvedWeights w = resolve_weights(parse_weights("random"), Arch::resnet34);
  try {
    FeatureExtractor fx(Arch::resnet18, w.state, c10::Device(c10::kCPU));
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr("do not fit resnet18 (they are resnet34 weights)"));
  }
}

TEST(Extractor, PickDeviceFallsBackToCpu) {
  const c10::Device d = pick_device(3);
  if (torch::cuda::is_available()) {
    EXPECT_EQ(d.index(), 3 % static_cast<int>(torch::cuda::device_count()));
  } else {
    EXPECT_TRUE(d.is_cpu());
  }
}

}  // namespace
}  // namespace fersweep::model
