// The three torchvision ResNets as data: names, widths, cost, block layout and the exact
// state_dict keys and shapes torchvision uses, shared by the loader, the checker and the network.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fersweep::model {

/// The supported backbones, exactly as torchvision builds them.
enum class Arch { resnet18, resnet34, resnet50 };

/// All architectures, in a stable order.
const std::vector<Arch>& all_archs();
/// "resnet18" → Arch::resnet18; ConfigError listing the known names otherwise.
Arch parse_arch(const std::string& name);
/// Arch::resnet18 → "resnet18".
std::string arch_name(Arch arch);
/// Width of the pooled features (512, 512, 2048).
int feature_dim(Arch arch);
/// torchvision's published cost at 224x224 in GFLOPS (1.81, 3.66, 4.09). torchvision counts one
/// multiply-add as one operation: the floating-point work is twice this figure.
double gflops_224(Arch arch);

/// One residual block of the network (torchvision's BasicBlock or Bottleneck).
struct BlockSpec {
  std::string prefix;       ///< "layer2.0"
  bool bottleneck = false;  ///< Bottleneck (1x1, 3x3, 1x1) rather than BasicBlock (3x3, 3x3)
  int in_channels = 0;
  int planes = 0;           ///< width of the inner convolutions
  int out_channels = 0;     ///< planes, or 4 * planes for a bottleneck
  int stride = 1;           ///< on the 3x3 convolution (torchvision's "ResNet v1.5")
  bool downsample = false;  ///< 1x1 convolution + BatchNorm on the shortcut
};

/// The residual blocks in order (8, 16 or 16).
std::vector<BlockSpec> block_specs(Arch arch);

/// What a state_dict entry is used for, which decides how strictly it is checked.
enum class EntryRole {
  parameter,  ///< float32 weight, bias or running statistic: required, exact shape
  counter,    ///< BatchNorm's num_batches_tracked: optional, unused in eval mode
  classifier  ///< fc.weight / fc.bias: optional (the head replaces it), any number of classes
};

/// One key of the state_dict torchvision saves for an architecture.
struct EntrySpec {
  std::string name;
  std::vector<std::int64_t> shape;  ///< for `classifier`, dimension 0 (classes) is free
  EntryRole role = EntryRole::parameter;
};

/// Every state_dict key in torchvision's order (122, 218 and 320 entries).
std::vector<EntrySpec> state_dict_layout(Arch arch);

/// Where training starts: only the head (today's frozen-feature path), layer4 (+ head), layer3
/// (layer3 + layer4 + head) or all (the whole network).
enum class Cut { head, layer4, layer3, all };
/// The spellings of Cut, in enum order ("head", "layer4", "layer3", "all").
const std::vector<std::string>& cut_names();
/// ConfigError listing the values for an unknown name.
Cut parse_cut(const std::string& name);
const std::string& cut_name(Cut cut);

/// The first block (index into block_specs) that trains; block_specs(arch).size() for head, 0 for
/// all (whose stem, conv1 and bn1, trains too).
std::size_t first_trainable_block(Arch arch, Cut cut);

/// The frozen part's output for one image of image_size x image_size: the pooled features [D]
/// (head), the activations entering the first trainable block [C, H, W] (layer4, layer3), or the
/// image itself [3, S, S] (all).
/// The share of a ResNet's forward FLOPs in the blocks a cut trains, for cost estimates
/// (torchvision's layer FLOPs at 224 px: layer4 is ~23% of ResNet-18/34's and ~20% of
/// ResNet-50's, layer3 + layer4 about half): 0.22, 0.5, 1 for all, 0 for head.
double trained_share(Cut cut);

std::vector<std::int64_t> frozen_output_shape(Arch arch, Cut cut, int image_size);

/// torchvision's checkpoint file names for an architecture, preferred first
/// (resnet50: the V1 weights the paper used, then V2).
std::vector<std::string> torchvision_file_names(Arch arch);

}  // namespace fersweep::model
