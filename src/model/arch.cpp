// Layout tables of torchvision's ResNet-18/34/50 (torchvision/models/resnet.py, read, not copied).
#include "model/arch.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace fersweep::model {
namespace {

struct ArchInfo {
  Arch arch;
  const char* name;
  int blocks[4];
  bool bottleneck;
  double gflops;
};

const ArchInfo kArchs[] = {
    {Arch::resnet18, "resnet18", {2, 2, 2, 2}, false, 1.81},
    {Arch::resnet34, "resnet34", {3, 4, 6, 3}, false, 3.66},
    {Arch::resnet50, "resnet50", {3, 4, 6, 3}, true, 4.09},
};

const ArchInfo& info(Arch arch) {
  for (const auto& a : kArchs)
    if (a.arch == arch) return a;
  FERSWEEP_ASSERT(false, "unknown Arch value");
  return kArchs[0];
}

void add_conv(std::vector<EntrySpec>& out, const std::string& name, int out_c, int in_c, int k) {
  out.push_back({name + ".weight", {out_c, in_c, k, k}, EntryRole::parameter});
}

void add_bn(std::vector<EntrySpec>& out, const std::string& name, int c) {
  for (const char* p : {"weight", "bias", "running_mean", "running_var"})
    out.push_back({name + "." + p, {c}, EntryRole::parameter});
  out.push_back({name + ".num_batches_tracked", {}, EntryRole::counter});
}

// The stage ("layer3") of a block prefix ("layer3.1").
std::string stage_of(const std::string& prefix) {
  return prefix.substr(0, prefix.find('.'));
}

// ResNet's stem halves the size twice (conv1 stride 2, max pool stride 2); layer2..4 halve it
// once each: (h - 1) / 2 + 1 for every 3x3/7x7 stride-2 step with torchvision's padding.
std::int64_t halve(std::int64_t h) {
  return (h - 1) / 2 + 1;
}

}  // namespace

const std::vector<Arch>& all_archs() {
  static const std::vector<Arch> archs{Arch::resnet18, Arch::resnet34, Arch::resnet50};
  return archs;
}

Arch parse_arch(const std::string& name) {
  for (const auto& a : kArchs)
    if (name == a.name) return a.arch;
  throw ConfigError(
      fmt::format("unknown backbone '{}' (known: resnet18, resnet34, resnet50)", name));
}

std::string arch_name(Arch arch) {
  return info(arch).name;
}

int feature_dim(Arch arch) {
  return info(arch).bottleneck ? 2048 : 512;
}

double gflops_224(Arch arch) {
  return info(arch).gflops;
}

std::vector<BlockSpec> block_specs(Arch arch) {
  const ArchInfo& a = info(arch);
  const int expansion = a.bottleneck ? 4 : 1;
  std::vector<BlockSpec> blocks;
  int in_channels = 64;
  for (int layer = 0; layer < 4; ++layer) {
    const int planes = 64 << layer;
    for (int i = 0; i < a.blocks[layer]; ++i) {
      BlockSpec b;
      b.prefix = fmt::format("layer{}.{}", layer + 1, i);
      b.bottleneck = a.bottleneck;
      b.in_channels = in_channels;
      b.planes = planes;
      b.out_channels = planes * expansion;
      b.stride = (layer > 0 && i == 0) ? 2 : 1;
      b.downsample = b.stride != 1 || in_channels != b.out_channels;
      blocks.push_back(b);
      in_channels = b.out_channels;
    }
  }
  return blocks;
}

std::vector<EntrySpec> state_dict_layout(Arch arch) {
  std::vector<EntrySpec> out;
  add_conv(out, "conv1", 64, 3, 7);
  add_bn(out, "bn1", 64);
  for (const BlockSpec& b : block_specs(arch)) {
    if (b.bottleneck) {
      add_conv(out, b.prefix + ".conv1", b.planes, b.in_channels, 1);
      add_bn(out, b.prefix + ".bn1", b.planes);
      add_conv(out, b.prefix + ".conv2", b.planes, b.planes, 3);
      add_bn(out, b.prefix + ".bn2", b.planes);
      add_conv(out, b.prefix + ".conv3", b.out_channels, b.planes, 1);
      add_bn(out, b.prefix + ".bn3", b.out_channels);
    } else {
      add_conv(out, b.prefix + ".conv1", b.planes, b.in_channels, 3);
      add_bn(out, b.prefix + ".bn1", b.planes);
      add_conv(out, b.prefix + ".conv2", b.planes, b.planes, 3);
      add_bn(out, b.prefix + ".bn2", b.planes);
    }
    if (b.downsample) {
      add_conv(out, b.prefix + ".downsample.0", b.out_channels, b.in_channels, 1);
      add_bn(out, b.prefix + ".downsample.1", b.out_channels);
    }
  }
  out.push_back({"fc.weight", {1000, feature_dim(arch)}, EntryRole::classifier});
  out.push_back({"fc.bias", {1000}, EntryRole::classifier});
  return out;
}

std::vector<std::string> torchvision_file_names(Arch arch) {
  switch (arch) {
    case Arch::resnet18:
      return {"resnet18-f37072fd.pth"};
    case Arch::resnet34:
      return {"resnet34-b627a593.pth"};
    case Arch::resnet50:
      return {"resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth"};
  }
  return {};
}

const std::vector<std::string>& cut_names() {
  static const std::vector<std::string> names{"head", "layer4", "layer3", "all"};
  return names;
}

Cut parse_cut(const std::string& name) {
  const auto& names = cut_names();
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end())
    throw ConfigError(
        fmt::format("unknown finetune '{}' (known: head, layer4, layer3, all)", name));
  return static_cast<Cut>(it - names.begin());
}

const std::string& cut_name(Cut cut) {
  return cut_names().at(static_cast<std::size_t>(cut));
}

std::size_t first_trainable_block(Arch arch, Cut cut) {
  const auto blocks = block_specs(arch);
  if (cut == Cut::head) return blocks.size();
  if (cut == Cut::all) return 0;
  const std::string stage = cut == Cut::layer4 ? "layer4" : "layer3";
  for (std::size_t i = 0; i < blocks.size(); ++i)
    if (stage_of(blocks[i].prefix) == stage) return i;
  FERSWEEP_ASSERT(false, "an architecture without " + stage);
  return blocks.size();
}

double trained_share(Cut cut) {
  switch (cut) {
    case Cut::layer4:
      return 0.22;
    case Cut::layer3:
      return 0.5;
    case Cut::all:
      return 1.0;
    case Cut::head:
      break;
  }
  return 0.0;
}

std::vector<std::int64_t> frozen_output_shape(Arch arch, Cut cut, int image_size) {
  if (cut == Cut::head) return {feature_dim(arch)};
  if (cut == Cut::all) return {3, image_size, image_size};
  const auto blocks = block_specs(arch);
  std::int64_t h = halve(halve(image_size));
  const std::size_t first = first_trainable_block(arch, cut);
  for (std::size_t i = 0; i < first; ++i)
    if (blocks[i].stride == 2) h = halve(h);
  return {blocks[first].in_channels, h, h};
}

}  // namespace fersweep::model
