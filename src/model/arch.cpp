// Layout tables of torchvision's ResNet-18/34/50 (torchvision/models/resnet.py, read, not copied).
#include "model/arch.h"

#include <fmt/format.h>

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

}  // namespace fersweep::model
