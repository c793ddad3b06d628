// Benchmark: decode + resize throughput of ImageBatchStream on the demo dataset, with 1 and 2
// decoder threads (and the scan's read+hash+check pass), printed as images/s and as ratios
// against the single-thread stream measured in the same run.
#include <torch/torch.h>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <numeric>

#include "data/dataset.h"
#include "data/demo.h"
#include "data/preprocess.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Best of `repeats` full passes over the dataset, in images per second.
double stream_rate(const fersweep::data::Manifest& m, int size, int threads, int repeats) {
  std::vector<std::size_t> idx(m.images.size());
  std::iota(idx.begin(), idx.end(), 0);
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    fersweep::data::ImageBatchStream stream(m, idx, size, 32, threads);
    fersweep::data::ImageBatch batch;
    double checksum = 0;
    while (stream.next(batch)) checksum += batch.images[0][0][0][0].item<float>();
    best = std::max(best, static_cast<double>(idx.size()) / seconds_since(start));
    if (checksum < 0) fmt::print("impossible\n");
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const fs::path dir =
      argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / "fersweep-bench-demo";
  auto start = Clock::now();
  if (!fs::exists(dir / fersweep::data::kDemoBoxesFile))
    fersweep::data::make_demo_dataset(dir, 0, 2);
  fmt::print("demo dataset ready in {:.2f} s ({})\n", seconds_since(start), dir.string());

  start = Clock::now();
  fersweep::data::ScanOptions opts;
  opts.threads = 2;
  const auto m = fersweep::data::scan_dataset(dir, opts);
  const double scan = static_cast<double>(m.images.size()) / seconds_since(start);

  const double one = stream_rate(m, 224, 1, 2);
  const double two = stream_rate(m, 224, 2, 2);
  fmt::print("images: {}\n", m.images.size());
  fmt::print("scan (read + sha256 + test decode, 2 threads): {:8.1f} img/s  ratio {:.2f}\n", scan,
             scan / one);
  fmt::print("stream 224px, 1 decoder thread:                {:8.1f} img/s  ratio 1.00\n", one);
  fmt::print("stream 224px, 2 decoder threads:               {:8.1f} img/s  ratio {:.2f}\n", two,
             two / one);
  return 0;
}
