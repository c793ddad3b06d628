// Benchmark: one epoch of fine-tuning (layer4 + head, or layer3 + layer4 + head) on cached
// activations, fersweep's fine_tune against the python3-torch peer (torchvision's blocks,
// torch.optim.Adam) on the same activations, batch size and thread count, in the same run; and the
// same epoch with the activations read from an on-disk store a batch at a time
// (train::StoredActivations, as a sweep's fine-tuning tasks read them) against the in-memory
// tensor. fersweep runs with its malloc settings (proc::tune_allocator, as `fersweep` does); the
// peer runs twice, as python3 starts and with the same settings through glibc's environment.
//
//   bench_finetune [ARCH resnet18] [CUT layer4] [N 256] [SIZE 224] [BATCH 32] [REPEATS 3] [THREADS
//   2]
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/proc.h"
#include "model/arch.h"
#include "model/weights.h"
#include "store/rows.h"
#include "train/finetune.h"
#include "train/stored_activations.h"

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fersweep;
  const bool tuned = proc::tune_allocator() == proc::AllocatorTuning::applied;
  auto arg = [&](int i, const char* fallback) {
    return std::string(argc > i ? argv[i] : fallback);
  };
  const model::Arch arch = model::parse_arch(arg(1, "resnet18"));
  const std::string cut = arg(2, "layer4");
  const int n = std::stoi(arg(3, "256")), size = std::stoi(arg(4, "224"));
  const int batch = std::stoi(arg(5, "32")), repeats = std::stoi(arg(6, "3"));
  const int threads = std::stoi(arg(7, "2"));
  at::set_num_threads(threads);

  const auto shape = model::frozen_output_shape(arch, model::parse_cut(cut), size);
  std::vector<std::int64_t> full = {n};
  full.insert(full.end(), shape.begin(), shape.end());
  torch::manual_seed(1);
  // Post-ReLU activations are non-negative.
  const at::Tensor x = torch::rand(full);
  std::vector<std::int64_t> labels;
  std::vector<std::size_t> rows;
  for (int i = 0; i < n; ++i) {
    labels.push_back(i % 7);
    rows.push_back(static_cast<std::size_t>(i));
  }
  train::FineTuneConfig cfg;
  cfg.finetune = cut;
  cfg.batch_size = batch;
  const auto weights = model::random_state_dict(arch, 1);
  const train::TensorActivations source(x);
  // Evaluation on 1 row only, and the time of one epoch as the difference between runs of 3
  // epochs and of 1: building the tail and its optimiser is not part of the epoch (the peer
  // times its epochs alone too).
  const std::vector<std::size_t> test = {0};
  auto best_run = [&](int epochs, const train::ActivationSource& from) {
    cfg.eval_epochs = {epochs};
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) {
      const double t0 = now();
      train::fine_tune(arch, weights, from, labels, rows, test, 7, cfg);
      best = std::min(best, now() - t0);
    }
    return best;
  };
  best_run(1, source);  // warm-up
  const double one = best_run(1, source);
  const double ours = (best_run(3, source) - one) / 2;
  // The same rows from a spill file (the page cache holds them after the first epoch, as it
  // does for a store a worker trains on).
  store::FeatureSet stored;
  stored.n = n;
  stored.dim = x.numel() / n;
  {
    store::RowWriter writer("bench", stored.dim);
    writer.append(x.data_ptr<float>(), n);
    stored.on_disk = writer.finish();
  }
  const train::StoredActivations from_disk(stored, shape);
  const double disk_one = best_run(1, from_disk);
  const double disk = (best_run(3, from_disk) - disk_one) / 2;

  const auto dir = std::filesystem::temp_directory_path() / "fersweep_bench_finetune";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "x.f32", std::ios::binary)
      .write(static_cast<const char*>(x.data_ptr()), static_cast<std::streamsize>(x.numel() * 4));
  std::ofstream(dir / "y.i64", std::ios::binary)
      .write(reinterpret_cast<const char*>(labels.data()),
             static_cast<std::streamsize>(labels.size() * 8));
  {
    std::ofstream s(dir / "shape.txt");
    for (auto v : full) s << v << " ";
  }
  const std::string args = std::string(FERSWEEP_BENCH_PEER) + " " + dir.string() + " " +
                           model::arch_name(arch) + " " + cut + " " + std::to_string(batch) + " " +
                           std::to_string(repeats) + " " + std::to_string(threads);
  auto run_peer = [&](const std::string& env) {
    const std::string cmd = env + std::string(FERSWEEP_PYTHON) + " " + args;
    double seconds = 0;
    if (FILE* p = popen(cmd.c_str(), "r")) {
      if (std::fscanf(p, "%lf", &seconds) != 1) seconds = 0;
      pclose(p);
    }
    if (seconds <= 0)
      std::fprintf(stderr, "bench_finetune: the python peer failed: %s\n", cmd.c_str());
    return seconds;
  };
  const double peer = run_peer("");
  // glibc reads these at start-up: the thresholds tune_allocator sets.
  const double peer_tuned =
      run_peer("MALLOC_MMAP_THRESHOLD_=" + std::to_string(proc::kMmapThresholdBytes) +
               " MALLOC_TRIM_THRESHOLD_=" + std::to_string(proc::kTrimThresholdBytes) + " ");
  std::filesystem::remove_all(dir);
  if (peer <= 0 || peer_tuned <= 0) return 1;
  std::printf("%s %s, %d samples [%s], batch %d, %d threads: one epoch\n",
              model::arch_name(arch).c_str(), cut.c_str(), n,
              (std::to_string(shape[0]) + "x" + std::to_string(shape.size() > 1 ? shape[1] : 1) +
               "x" + std::to_string(shape.size() > 2 ? shape[2] : 1))
                  .c_str(),
              batch, threads);
  std::printf(
      "  fersweep fine_tune  %8.3f s (%.1f samples/s; setup and 1 epoch: %.3f s; malloc "
      "settings %s)\n",
      ours, n / ours, one, tuned ? "applied" : "NOT applied");
  std::printf("  peer (torch)        %8.3f s (%.1f samples/s)\n", peer, n / peer);
  std::printf("  ratio peer/fersweep %8.2fx (goal >= 1.0)\n", peer / ours);
  std::printf("  peer with fersweep's malloc settings %8.3f s (ratio %.2fx)\n", peer_tuned,
              peer_tuned / ours);
  std::printf("  fersweep, rows read from an on-disk store %8.3f s (ratio memory/disk %.2fx)\n",
              disk, ours / disk);
  return 0;
}
