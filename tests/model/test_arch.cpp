// Architecture tables: names, widths and the state_dict layout checked against torchvision.
#include "model/arch.h"

#include <gtest/gtest.h>

#include <set>

#include "core/error.h"
#include "model_test_util.h"

namespace fersweep::model {
namespace {

TEST(Arch, NamesRoundTripAndUnknownNamesListTheKnownOnes) {
  for (Arch a : all_archs()) EXPECT_EQ(parse_arch(arch_name(a)), a);
  try {
    parse_arch("resnet101");
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "unknown backbone 'resnet101' (known: resnet18, resnet34, resnet50)");
  }
}

TEST(Arch, WidthsAndCosts) {
  EXPECT_EQ(feature_dim(Arch::resnet18), 512);
  EXPECT_EQ(feature_dim(Arch::resnet34), 512);
  EXPECT_EQ(feature_dim(Arch::resnet50), 2048);
  EXPECT_DOUBLE_EQ(gflops_224(Arch::resnet18), 1.81);
  EXPECT_DOUBLE_EQ(gflops_224(Arch::resnet34), 3.66);
  EXPECT_DOUBLE_EQ(gflops_224(Arch::resnet50), 4.09);
  EXPECT_EQ(block_specs(Arch::resnet18).size(), 8u);
  EXPECT_EQ(block_specs(Arch::resnet50).size(), 16u);
}

// The layout must equal torchvision's state_dict key for key, shape for shape, in order.
TEST(Arch, LayoutEqualsTorchvisionStateDict) {
  const auto dir = testing::fresh_dir("layout");
  const std::string out = (dir / "layout.txt").string();
  const std::string cmd = std::string(FERSWEEP_PYTHON) + " -c \"import torchvision\nwith open('" +
                          out +
                          "','w') as f:\n for a in ['resnet18','resnet34','resnet50']:\n"
                          "  for k,v in getattr(torchvision.models,a)().state_dict().items():"
                          " print(a,k,*v.shape,file=f)\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(out);
  std::string expected((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string ours;
  std::size_t counts[3] = {0, 0, 0};
  for (std::size_t i = 0; i < all_archs().size(); ++i) {
    for (const EntrySpec& e : state_dict_layout(all_archs()[i])) {
      ours += arch_name(all_archs()[i]) + " " + e.name;
      for (auto d : e.shape) ours += " " + std::to_string(d);
      ours += "\n";
      ++counts[i];
    }
  }
  EXPECT_EQ(ours, expected);
  EXPECT_EQ(counts[0], 122u);
  EXPECT_EQ(counts[1], 218u);
  EXPECT_EQ(counts[2], 320u);
}

}  // namespace
}  // namespace fersweep::model
