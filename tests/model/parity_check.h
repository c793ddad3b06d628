// The torchvision parity check shared by the unit (ResNet-18/34) and slow (ResNet-50) tests.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <iostream>

#include "model/extractor.h"
#include "model/weights.h"
#include "model_test_util.h"

namespace fersweep::model::testing {

namespace fs = std::filesystem;

/// The tolerance: max |ours - torchvision| / max |torchvision| over a batch.
constexpr double kParityTolerance = 1e-4;
constexpr int kBatch = 2;

inline void check_parity(Arch arch, int size, bool script) {
  const std::string name = arch_name(arch);
  const fs::path dir = fresh_dir("parity_" + name);
  make_reference(fmt::format("parity {} {} {} {} {}", dir.string(), name, size, kBatch,
                             script ? "--script" : ""));
  const torch::Tensor input = read_f32(dir / "input.f32", {kBatch, 3, size, size});
  const torch::Tensor ref_features =
      read_f32(dir / (name + "_features.f32"), {kBatch, feature_dim(arch)});
  const torch::Tensor ref_logits = read_f32(dir / (name + "_logits.f32"), {kBatch, 1000});

  const ResolvedWeights w = resolve_weights(parse_weights((dir / (name + ".pth")).string()), arch);
  for (bool optimize : {true, false}) {
    FeatureExtractor fx(arch, w.state, c10::Device(c10::kCPU), {2, optimize});
    EXPECT_EQ(fx.optimized(), optimize);
    const torch::Tensor features = fx.extract(input);
    ASSERT_EQ(features.sizes().vec(), (std::vector<std::int64_t>{kBatch, feature_dim(arch)}));
    const double err = max_relative_error(features, ref_features);
    EXPECT_LE(err, kParityTolerance) << name << (optimize ? " optimised" : " plain");
    // Logits through the file's own classifier: the whole torchvision network agrees.
    const torch::Tensor logits = torch::addmm(find_tensor(w.state, "fc.bias"), features,
                                              find_tensor(w.state, "fc.weight").t());
    EXPECT_LE(max_relative_error(logits, ref_logits), kParityTolerance) << name;
    std::cout << name << (optimize ? " optimised" : " plain") << ": max relative error " << err
              << "\n";
  }
  if (script) {
    // The TorchScript archive of the same model holds the same tensors under the same keys.
    const StateDict from_script = read_checkpoint(dir / (name + "_script.pt"));
    ASSERT_EQ(from_script.size(), w.state.size());
    for (std::size_t i = 0; i < w.state.size(); ++i) {
      EXPECT_EQ(from_script[i].first, w.state[i].first);
      EXPECT_TRUE(torch::equal(from_script[i].second, w.state[i].second)) << w.state[i].first;
    }
    FeatureExtractor fx(arch, from_script, c10::Device(c10::kCPU), {2, true});
    EXPECT_LE(max_relative_error(fx.extract(input), ref_features), kParityTolerance);
  }
}

}  // namespace fersweep::model::testing
