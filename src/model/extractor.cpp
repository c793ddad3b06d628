// FeatureExtractor: the network is a torch::jit::Module built in C++ (folded weights registered
// as parameters, forward given as TorchScript source), so torch::jit::optimize_for_inference can
// turn it into oneDNN prepacked convolutions: about twice eager speed on CPU (platform-notes).
#include "model/extractor.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include "core/error.h"
#include "core/log.h"
#include "model/weights.h"

namespace fersweep::model {
namespace {

constexpr double kBatchNormEps = 1e-5;  // torchvision's BatchNorm2d default

/// TorchScript attribute names cannot contain dots: "layer1.0.conv1" → "layer1_0_conv1".
std::string attr(const std::string& key) {
  std::string s = key;
  for (char& c : s)
    if (c == '.') c = '_';
  return s;
}

/// Builds the module: registers folded convolution weights and writes the forward source.
class NetworkBuilder {
 public:
  NetworkBuilder(const StateDict& state, c10::Device device)
      : state_(state), device_(device), module_("__torch__.fersweep.ResNetFeatures") {}

  // The network up to `cut`: pooled features (Cut::head), or the activations entering the first
  // block that trains.
  torch::jit::Module build(Arch arch, Cut cut) {
    // Without a "training" attribute, eval() silently does nothing and optimize_for_inference
    // takes the module for frozen already: it then skips freezing and the oneDNN conversion.
    module_.register_attribute("training", c10::BoolType::get(), false);
    src_ = "def forward(self, x: Tensor) -> Tensor:\n";
    conv("x", "x", "conv1", "bn1", 2, 3, true);
    line("x = torch.max_pool2d(x, [3, 3], [2, 2], [1, 1])");
    const auto blocks = block_specs(arch);
    const std::size_t end = first_trainable_block(arch, cut);
    for (std::size_t i = 0; i < end; ++i) {
      const BlockSpec& b = blocks[i];
      const std::string& p = b.prefix;
      if (b.downsample)
        conv("idn", "x", p + ".downsample.0", p + ".downsample.1", b.stride, 0, false);
      else
        line("idn = x");
      if (b.bottleneck) {
        conv("y", "x", p + ".conv1", p + ".bn1", 1, 0, true);
        conv("y", "y", p + ".conv2", p + ".bn2", b.stride, 1, true);
        conv("y", "y", p + ".conv3", p + ".bn3", 1, 0, false);
      } else {
        conv("y", "x", p + ".conv1", p + ".bn1", b.stride, 1, true);
        conv("y", "y", p + ".conv2", p + ".bn2", 1, 1, false);
      }
      line("x = torch.relu(y + idn)");
    }
    if (cut == Cut::head) {
      line("x = torch.adaptive_avg_pool2d(x, [1, 1])");
      line("x = torch.flatten(x, 1)");
    }
    line("return x");
    module_.define(src_);
    module_.eval();
    return module_;
  }

 private:
  void line(const std::string& s) { src_ += "    " + s + "\n"; }

  at::Tensor get(const std::string& key) {
    at::Tensor t = find_tensor(state_, key);
    FERSWEEP_ASSERT(t.defined(), "checked state dict lacks " + key);
    return t;
  }

  /// conv + eval-mode BatchNorm as one convolution with bias, folded in double precision:
  /// w' = w * g / sqrt(v + eps), b' = beta - mean * g / sqrt(v + eps).
  void conv(const std::string& out, const std::string& in, const std::string& conv_key,
            const std::string& bn_key, int stride, int padding, bool relu) {
    const at::Tensor w = get(conv_key + ".weight").to(at::kDouble);
    const at::Tensor scale = get(bn_key + ".weight").to(at::kDouble) /
                             at::sqrt(get(bn_key + ".running_var").to(at::kDouble) + kBatchNormEps);
    const at::Tensor folded_w = (w * scale.view({-1, 1, 1, 1})).to(at::kFloat).contiguous();
    const at::Tensor folded_b = (get(bn_key + ".bias").to(at::kDouble) -
                                 get(bn_key + ".running_mean").to(at::kDouble) * scale)
                                    .to(at::kFloat)
                                    .contiguous();
    const std::string name = attr(conv_key);
    module_.register_parameter(name + "_w", folded_w.to(device_), /*is_buffer=*/false);
    module_.register_parameter(name + "_b", folded_b.to(device_), /*is_buffer=*/false);
    const std::string call =
        fmt::format("torch.conv2d({}, self.{}_w, self.{}_b, [{}, {}], [{}, {}])", in, name, name,
                    stride, stride, padding, padding);
    line(fmt::format("{} = {}", out, relu ? "torch.relu(" + call + ")" : call));
  }

  const StateDict& state_;
  c10::Device device_;
  torch::jit::Module module_;
  std::string src_;
};

}  // namespace

struct FeatureExtractor::Impl {
  Arch arch;
  c10::Device device;
  torch::jit::Module module;
  bool optimized = false;
  Cut cut = Cut::head;
};

namespace {
/// "N nodes, M oneDNN/prepacked ops": shows whether optimize_for_inference converted the graph.
std::string summarise_graph(torch::jit::Module& m) {
  const auto graph = m.get_method("forward").graph();
  int nodes = 0, mkldnn = 0;
  for (const torch::jit::Node* n : graph->nodes()) {
    ++nodes;
    const std::string kind = n->kind().toQualString();
    if (kind.find("mkldnn") != std::string::npos || kind.find("prepacked") != std::string::npos)
      ++mkldnn;
  }
  return fmt::format("{} graph nodes, {} oneDNN", nodes, mkldnn);
}
}  // namespace

FeatureExtractor::FeatureExtractor(Arch arch, const StateDict& state, c10::Device device,
                                   ExtractorOptions options) {
  check_state_dict(state, arch, "weights");
  if (options.cut == Cut::all)
    throw ConfigError("finetune all trains the whole network: there is no frozen part to run");
  if (options.threads > 0) at::set_num_threads(options.threads);
  impl_ = std::make_unique<Impl>(Impl{arch, device, torch::jit::Module(), false, options.cut});
  with_context<ModelError>(
      fmt::format("building the {} feature extractor on {}", arch_name(arch), device.str()), [&] {
        torch::NoGradGuard no_grad;
        impl_->module = NetworkBuilder(state, device).build(arch, options.cut);
        if (!options.optimize) return;
        if (device.is_cpu()) {
          // On the unfrozen module: it freezes, folds and converts to
          // oneDNN itself (on a frozen one it skipped the conversion).
          impl_->module = torch::jit::optimize_for_inference(impl_->module);
        } else {
          impl_->module = torch::jit::freeze(impl_->module);
        }
        impl_->optimized = true;
      });
  log::debug("{} feature extractor on {} ({}: {}; {} threads)", arch_name(arch), device.str(),
             impl_->optimized ? "optimised graph" : "plain graph", summary(),
             at::get_num_threads());
}

FeatureExtractor::~FeatureExtractor() = default;
FeatureExtractor::FeatureExtractor(FeatureExtractor&&) noexcept = default;
FeatureExtractor& FeatureExtractor::operator=(FeatureExtractor&&) noexcept = default;

at::Tensor FeatureExtractor::extract(const at::Tensor& images) {
  if (!images.defined() || images.dim() != 4 || images.size(1) != 3)
    throw ModelError(fmt::format(
        "{} features: images must be [batch, 3, height, width], got {}", arch_name(impl_->arch),
        images.defined() ? fmt::format("[{}]", fmt::join(images.sizes(), ", ")) : "nothing"));
  if (images.scalar_type() != at::kFloat)
    throw ModelError(fmt::format("{} features: images must be float32, got {}",
                                 arch_name(impl_->arch), c10::toString(images.scalar_type())));
  if (images.size(2) < 32 || images.size(3) < 32)
    throw ModelError(fmt::format("{} features: images of {}x{} are too small (at least 32x32)",
                                 arch_name(impl_->arch), images.size(2), images.size(3)));
  return with_context<ModelError>(fmt::format("{} features", arch_name(impl_->arch)), [&] {
    // NoGradGuard rather than InferenceMode: the features feed autograd later (head training),
    // and inference tensors cannot be saved for backward.
    torch::NoGradGuard no_grad;
    const at::Tensor input = images.to(impl_->device).contiguous();
    at::Tensor out = impl_->module.forward({input}).toTensor();
    return out.to(c10::Device(c10::kCPU)).contiguous();
  });
}

int FeatureExtractor::dim() const {
  return feature_dim(impl_->arch);
}
Cut FeatureExtractor::cut() const {
  return impl_->cut;
}
Arch FeatureExtractor::arch() const {
  return impl_->arch;
}
c10::Device FeatureExtractor::device() const {
  return impl_->device;
}
bool FeatureExtractor::optimized() const {
  return impl_->optimized;
}
std::string FeatureExtractor::summary() const {
  return summarise_graph(impl_->module);
}

c10::Device pick_device(int local_rank, const std::string& device) {
  if (device == "cpu") return c10::Device(c10::kCPU);
  if (device != "auto" && device != "cuda")
    throw ConfigError(fmt::format("device '{}': expected auto, cpu or cuda", device));
  const int count = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
  if (count > 0)
    return c10::Device(c10::kCUDA,
                       static_cast<c10::DeviceIndex>((local_rank < 0 ? 0 : local_rank) % count));
  if (device == "cuda")
    throw ModelError(fmt::format(
        "device cuda was asked for (run.device / --device) but no CUDA device is visible to "
        "this process{}; use device auto or cpu",
        torch::cuda::is_available() ? "" : " (this LibTorch build has no CUDA or finds no GPU)"));
  return c10::Device(c10::kCPU);
}

}  // namespace fersweep::model
