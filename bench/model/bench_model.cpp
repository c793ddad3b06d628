// Backbone throughput: fersweep's FeatureExtractor against python3-torchvision (eager and
// torch.jit.optimize_for_inference) measured in the same run, as ratios; the machine's fp32
// matmul rate and the fraction of it reached; peak RSS of a 675-image ResNet-50 extraction.
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/extractor.h"
#include "model/weights.h"

namespace fm = fersweep::model;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

/// fp32 matmul rate of `device` with the current thread count (best of `reps`); reading one
/// element back waits for a GPU to finish.
double matmul_gflops(int n, int reps, c10::Device device) {
  const at::Tensor a = torch::randn({n, n}).to(device);
  const at::Tensor b = torch::randn({n, n}).to(device);
  at::Tensor c = torch::mm(a, b);
  c[0][0].item<float>();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    c = torch::mm(a, b);
    c[0][0].item<float>();
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * n * static_cast<double>(n) * n / best / 1e9;
}

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  if (::pclose(p) != 0) fmt::print(stderr, "warning: '{}' failed\n", cmd);
  return out;
}

/// Last JSON line of a peer's output (Python may print warnings first).
nlohmann::json last_json(const std::string& text) {
  const auto pos = text.rfind("\n{");
  const std::string line = pos == std::string::npos ? text : text.substr(pos + 1);
  return nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
}

struct Options {
  std::vector<std::string> archs{"resnet18", "resnet34", "resnet50"};
  int batch = 32;
  int size = 224;
  int threads = 2;
  int reps = 3;
  bool python = true;
  bool python_rss = false;
  int rss_images = 675;
  std::string device = "cpu";
  bool rss_child = false;
  bool compare_devices = false;
};

/// Extracts `images` synthetic images with ResNet-50 in batches and prints the peak RSS.
int rss_child(const Options& o, c10::Device device) {
  const double at_start = peak_rss_mb();
  double with_weights = 0;
  // As an extraction task does it: the state dict is dropped once the extractor is built.
  fm::FeatureExtractor fx = [&] {
    const auto w = fm::resolve_weights(fm::parse_weights("random:1"), fm::Arch::resnet50);
    with_weights = peak_rss_mb();
    return fm::FeatureExtractor(fm::Arch::resnet50, w.state, device, {o.threads, true});
  }();
  const double built = peak_rss_mb();
  torch::manual_seed(0);
  std::int64_t rows = 0;
  for (int done = 0; done < o.rss_images; done += o.batch) {
    const int n = std::min(o.batch, o.rss_images - done);
    rows += fx.extract(torch::randn({n, 3, o.size, o.size})).size(0);
  }
  fmt::print(
      "{{\"images\": {}, \"peak_rss_mb\": {:.1f}, \"start_mb\": {:.1f}, "
      "\"weights_mb\": {:.1f}, \"built_mb\": {:.1f}}}\n",
      rows, peak_rss_mb(), at_start, with_weights, built);
  return 0;
}

/// Same weights and images on the CPU and on cuda:0: prints the features' max relative error.
int compare_devices(const Options& o) {
  if (!fm::pick_device(0).is_cuda()) {
    fmt::print("compare-devices: no CUDA device\n");
    return 1;
  }
  for (const std::string& name : o.archs) {
    const fm::Arch arch = fm::parse_arch(name);
    const auto w = fm::resolve_weights(fm::parse_weights("random:1"), arch);
    fm::FeatureExtractor cpu(arch, w.state, c10::Device(c10::kCPU), {o.threads, true});
    fm::FeatureExtractor gpu(arch, w.state, fm::pick_device(0), {o.threads, true});
    torch::manual_seed(0);
    const at::Tensor x = torch::randn({4, 3, o.size, o.size});
    const at::Tensor a = cpu.extract(x);
    const at::Tensor b = gpu.extract(x);
    const double err = (a - b).abs().max().item<double>() / a.abs().max().item<double>();
    fmt::print("{}: cpu vs {}: max relative error {:.2e} (TF32 convolutions can reach ~1e-3)\n",
               name, gpu.device().str(), err);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Backbone throughput of fersweep against python3-torchvision, as ratios."};
  app.add_option("--archs", o.archs, "backbones to measure")->delimiter(',');
  app.add_option("--batch", o.batch, "images per batch");
  app.add_option("--size", o.size, "image side in pixels");
  app.add_option("--threads", o.threads, "intra-op threads for both sides");
  app.add_option("--reps", o.reps, "timed batches per configuration (after two warm-up batches)");
  app.add_flag("!--no-python", o.python, "skip the Python peer");
  app.add_flag("--python-rss", o.python_rss, "also measure the Python peer's peak RSS");
  app.add_option("--rss-images", o.rss_images, "images of the ResNet-50 RSS run (0: skip)");
  app.add_option("--device", o.device, "cpu, cuda or auto (cuda:0 when available)");
  app.add_flag("--rss-child", o.rss_child, "internal: run only the RSS extraction")->group("");
  app.add_flag("--compare-devices", o.compare_devices,
               "only compare CPU and CUDA features of the same weights");
  CLI11_PARSE(app, argc, argv);

  try {
    at::set_num_threads(o.threads);
    const c10::Device device = o.device == "auto" ? fm::pick_device(0) : c10::Device(o.device);
    if (o.rss_child) return rss_child(o, device);
    if (o.compare_devices) return compare_devices(o);

    const int mm_n = device.is_cpu() ? 2048 : 8192;
    const double peak = matmul_gflops(mm_n, 5, device);
    fmt::print(
        "machine: fp32 matmul {}x{} on {} ({} threads): {:.1f} GFLOP/s (\"of peak\" uses "
        "the higher of this and a re-measurement after each row)\n",
        mm_n, mm_n, device.str(), at::get_num_threads(), peak);
    fmt::print(
        "config: batch {}, {}x{}, {} threads, {} timed batches after two warm-ups, device {}\n",
        o.batch, o.size, o.size, o.threads, o.reps, device.str());
    fmt::print("{:<9} {:>14} {:>14} {:>14} {:>9} {:>9} {:>10} {:>9}\n", "backbone",
               "fersweep img/s", "py eager", "py optimised", "vs eager", "vs opt", "GFLOP/s",
               "of peak");
    for (const std::string& name : o.archs) {
      const fm::Arch arch = fm::parse_arch(name);
      const auto w = fm::resolve_weights(fm::parse_weights("random:1"), arch);
      fm::FeatureExtractor fx(arch, w.state, device, {o.threads, true});
      torch::manual_seed(0);
      const at::Tensor x = torch::randn({o.batch, 3, o.size, o.size});
      fmt::print("  ({}: {})\n", name, fx.summary());
      fx.extract(x);  // warm-up (twice: TorchScript profiles its first calls)
      fx.extract(x);
      std::vector<double> times;
      for (int r = 0; r < o.reps; ++r) {
        const auto t0 = Clock::now();
        fx.extract(x);
        times.push_back(seconds_since(t0));
      }
      const double ours = o.batch / median(times);
      // The matmul rate again, right after: on a shared machine the load changes between rows.
      const double row_peak = std::max(peak, matmul_gflops(mm_n, 3, device));
      double eager = 0, opt = 0;
      if (o.python) {
        const auto j = last_json(run_capture(fmt::format(
            "{} {}/torchvision_peer.py {} --batch {} --size {} --threads {} --reps {} --device {}",
            FERSWEEP_PYTHON, FERSWEEP_BENCH_DIR, name, o.batch, o.size, o.threads, o.reps,
            device.str())));
        if (j.is_object() && j.contains("eager")) {
          eager = o.batch / median(j["eager"].get<std::vector<double>>());
          opt = o.batch / median(j["optimized"].get<std::vector<double>>());
        }
      }
      // torchvision's GFLOPS count multiply-adds; the floating-point work is twice that.
      const double gflops = ours * 2.0 * fm::gflops_224(arch) * (o.size * o.size) / (224.0 * 224.0);
      auto ratio = [&](double peer) {
        return peer > 0 ? fmt::format("{:.2f}x", ours / peer) : "-";
      };
      auto rate = [](double v) { return v > 0 ? fmt::format("{:.1f}", v) : "-"; };
      fmt::print("{:<9} {:>14.1f} {:>14} {:>14} {:>9} {:>9} {:>10.1f} {:>8.0f}%\n", name, ours,
                 rate(eager), rate(opt), ratio(eager), ratio(opt), gflops,
                 100.0 * gflops / row_peak);
      std::fflush(stdout);
    }

    if (o.rss_images > 0) {
      // A fresh process, so the figure is the extraction's own peak.
      const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
      const auto ours = last_json(run_capture(fmt::format(
          "{} --rss-child --rss-images {} --batch {} --size {} --threads {} --device {}", self,
          o.rss_images, o.batch, o.size, o.threads, device.str())));
      fmt::print(
          "peak RSS, {} images through ResNet-50 in batches of {}: fersweep {:.0f} MB "
          "(process start {:.0f}, with weights {:.0f}, extractor built {:.0f})",
          o.rss_images, o.batch, ours.value("peak_rss_mb", 0.0), ours.value("start_mb", 0.0),
          ours.value("weights_mb", 0.0), ours.value("built_mb", 0.0));
      if (o.python_rss) {
        const auto py = last_json(run_capture(
            fmt::format("{} {}/torchvision_peer.py resnet50 --rss {} --batch {} --threads {}",
                        FERSWEEP_PYTHON, FERSWEEP_BENCH_DIR, o.rss_images, o.batch, o.threads)));
        fmt::print(", Python optimised {:.0f} MB", py.value("peak_rss_mb", 0.0));
      }
      fmt::print("\n");
    }
  } catch (const fersweep::Error& e) {
    fmt::print(stderr, "bench_model: {}\n", e.what());
    return 1;
  }
  return 0;
}
