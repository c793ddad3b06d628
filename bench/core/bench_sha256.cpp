// SHA-256 throughput on the two sizes fersweep hashes: journal records (~300 bytes, one per task)
// and weights files (MB), through fersweep's wrapper (core/hash.h: OpenSSL's EVP interface).
// Peer: Python's hashlib (the same libcrypto, without the wrapper) on the same sizes, same run.
// Usage: bench_core_sha256 [PYTHON]   (default /usr/bin/python3)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "core/hash.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// MB/s of sha256_hex over `count` messages of `size` bytes, best of 3.
double ours(std::size_t size, int count) {
  const std::string msg(size, 'x');
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t sink = 0;
    for (int i = 0; i < count; ++i)
      sink += static_cast<unsigned char>(fersweep::sha256_hex(msg)[0]);
    best = std::min(best, seconds_since(t0));
    if (sink == 1) std::puts("");  // keeps the loop
  }
  return double(size) * count / best / 1e6;
}

double python(const std::string& py, std::size_t size, int count) {
  const std::string cmd =
      py + " -c \"import hashlib,time\nm=b'x'*" + std::to_string(size) +
      "\nb=1e30\nfor r in range(3):\n t=time.perf_counter()\n for i in range(" +
      std::to_string(count) +
      "): hashlib.sha256(m).hexdigest()\n b=min(b,time.perf_counter()-t)\nprint(b)\"";
  FILE* p = popen(cmd.c_str(), "r");
  double s = 0;
  if (p == nullptr || std::fscanf(p, "%lf", &s) != 1) s = 0;
  if (p != nullptr) pclose(p);
  return s > 0 ? double(size) * count / s / 1e6 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string py = argc > 1 ? argv[1] : "/usr/bin/python3";
  std::printf("%-22s %12s %12s %8s\n", "message", "fersweep MB/s", "hashlib MB/s", "ratio");
  const struct {
    const char* name;
    std::size_t size;
    int count;
  } cases[] = {{"300 B (journal record)", 300, 200000}, {"64 MiB (weights file)", 64 << 20, 2}};
  for (const auto& c : cases) {
    const double a = ours(c.size, c.count), b = python(py, c.size, c.count);
    std::printf("%-22s %12.0f %12.0f %8.2f\n", c.name, a, b, b > 0 ? a / b : 0.0);
  }
}
