// ResNet-50 torchvision parity (about 30 s: a 100 MB state dict and a float64 reference run).
#include <gtest/gtest.h>

#include "parity_check.h"

namespace fersweep::model {
namespace {

TEST(Parity, ResNet50) {
  testing::check_parity(Arch::resnet50, 224, false);
}

}  // namespace
}  // namespace fersweep::model
