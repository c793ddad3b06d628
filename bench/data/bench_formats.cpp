// Scan time of a dataset in any format (data::scan_dataset: every row parsed and checked, every
// file hashed and test-decoded, the fingerprint), best of REPEAT runs. The peers are measured by
// the Python drivers next to it (bench/data/fer2013_parse.py: pandas).
// With STREAM=SIZE in the environment it then streams every sample through ImageBatchStream at
// SIZE x SIZE (decode or row parse, resize, batch: the input side of an extraction) and prints
// images per second (bench/data/rows_vs_jpeg.py).
// Usage: bench_formats ROOT FORMAT [REPEAT=3] [THREADS=1] [SCAN_CACHE_DIR]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/preprocess.h"

static double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int main(int argc, char** argv) {
  using namespace fersweep;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s ROOT FORMAT [REPEAT] [THREADS]\n", argv[0]);
    return 2;
  }
  log::set_level(log::Level::warn);
  data::ScanOptions options;
  options.layout.format = argv[2];
  const int repeat = argc > 3 ? std::atoi(argv[3]) : 3;
  options.threads = argc > 4 ? std::atoi(argv[4]) : 1;
  if (argc > 5) options.cache_dir = argv[5];
  double best = 1e30, stream_best = 1e30;
  std::size_t samples = 0;
  const char* stream_size = std::getenv("STREAM");
  try {
    for (int r = 0; r < repeat; ++r) {
      const auto start = std::chrono::steady_clock::now();
      const data::Manifest m = data::scan_dataset(argv[1], options);
      const double s = seconds_since(start);
      best = s < best ? s : best;
      samples = m.images.size();
      if (!stream_size) continue;
      std::vector<std::size_t> all(m.images.size());
      for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
      const auto t0 = std::chrono::steady_clock::now();
      data::ImageBatchStream stream(m, all, std::atoi(stream_size), 64, options.threads);
      data::ImageBatch batch;
      while (stream.next(batch)) {
      }
      const double st = seconds_since(t0);
      stream_best = st < stream_best ? st : stream_best;
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::printf("samples %zu\nscan_seconds %.4f\n", samples, best);
  if (stream_size) std::printf("stream_images_per_s %.1f\n", samples / stream_best);
  return 0;
}
