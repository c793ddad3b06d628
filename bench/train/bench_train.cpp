// Benchmark: per-run time of fersweep's head training against the python3-torch peer
// (torch.nn.Linear + torch.optim.Adam, plain loop, one thread) on the same 540x512 features.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "train/head.h"
#include "train/kernels.h"
#include "train/rng.h"

namespace {

using fersweep::train::HeadConfig;
using fersweep::train::HeadJob;
using fersweep::train::Rng;

double wall_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU time of the calling thread: single-threaded timings stay meaningful on a shared, busy
// machine (the peer reports its process CPU time the same way).
double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <class T>
void write_raw(const std::string& path, const std::vector<T>& v) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(v.data()),
             static_cast<std::streamsize>(v.size() * sizeof(T)));
}

// Best of `repeats` timings of `body`, in seconds.
template <class Body>
double best_of(int repeats, Body&& body, double (*clock)() = cpu_now) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = clock();
    body();
    best = std::min(best, clock() - t0);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 5;
  const int n = 540, d = 512, c = 7, folds = 5;
  const std::vector<int> epochs{50, 100, 200};

  // Features: class means plus Gaussian noise, like pooled CNN features in scale.
  Rng rng(2024);
  std::vector<double> means(static_cast<std::size_t>(c) * d);
  for (double& m : means) m = 0.3 * rng.uniform();
  std::vector<float> xv(static_cast<std::size_t>(n) * d);
  std::vector<std::int64_t> yv(n);
  for (int i = 0; i < n; ++i) {
    yv[i] = i % c;
    for (int j = 0; j < d; ++j) {
      const double u1 = 1 - rng.uniform(), u2 = rng.uniform();
      xv[static_cast<std::size_t>(i) * d + j] = static_cast<float>(
          std::max(0.0, means[static_cast<std::size_t>(yv[i]) * d + j] +
                            0.5 * std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2)));
    }
  }
  const at::Tensor x = torch::from_blob(xv.data(), {n, d}, torch::kFloat);
  const at::Tensor y = torch::from_blob(yv.data(), {n}, torch::kLong);
  std::vector<std::vector<std::size_t>> train(folds), test(folds);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < folds; ++k) (i % folds == k ? test : train)[k].push_back(i);

  at::set_num_threads(1);
  HeadConfig cfg;  // the paper's: linear, Adam, lr 0.01, wd 0.001, batch 256
  cfg.eval_epochs = epochs;
  const auto ntr = static_cast<double>(train[0].size());
  const double steps = epochs.back() * std::ceil(ntr / cfg.batch_size);
  // FLOP floor of one run: logits (2 N D C) and weight gradient (2 N D C) per epoch, plus the
  // evaluations; softmax, bias and optimiser work are O(N C + D C) and left out.
  const double flops =
      epochs.back() * 4.0 * ntr * d * c + epochs.size() * 2.0 * test[0].size() * d * c;

  // The peer, on the same features and fold.
  const std::string dir =
      (std::filesystem::temp_directory_path() / "fersweep_bench_train").string();
  std::filesystem::create_directories(dir);
  write_raw(dir + "/x.f32", xv);
  write_raw(dir + "/y.i64", yv);
  std::vector<std::int64_t> tr64(train[0].begin(), train[0].end()),
      te64(test[0].begin(), test[0].end());
  write_raw(dir + "/train.i64", tr64);
  write_raw(dir + "/test.i64", te64);
  const std::string cmd = std::string(FERSWEEP_PYTHON) + " " + FERSWEEP_BENCH_PEER + " " + dir +
                          " " + std::to_string(std::max(2, repeats / 2)) + " 50,100,200";
  double peer_s = 0, peer_acc = 0;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    if (std::fscanf(p, "%lf %lf", &peer_s, &peer_acc) != 2) peer_s = 0;
    pclose(p);
  }
  if (peer_s <= 0) {
    std::fprintf(stderr, "bench_train: the python peer failed: %s\n", cmd.c_str());
    return 1;
  }

  // Machine peak as the kernels see it: the best of dot_rows (3 x 8 rows of 512) and
  // combine_rows (8 outputs of 32 from 64 rows) on data that stay in L1.
  std::vector<float> l1(64 * 512);
  for (std::size_t i = 0; i < l1.size(); ++i) l1[i] = static_cast<float>(i % 7) * 0.01f;
  std::vector<const float*> l1a, l1b, l1src;
  for (int i = 0; i < 3; ++i) l1a.push_back(l1.data() + i * 512);
  for (int i = 3; i < 11; ++i) l1b.push_back(l1.data() + i * 512);
  for (int i = 0; i < 64; ++i) l1src.push_back(l1.data() + i * 32);
  std::vector<float> l1out(8 * 32);
  const int l1_calls = 20000;
  const double dot_s = best_of(3, [&] {
    for (int r = 0; r < l1_calls; ++r)
      fersweep::train::kernels::dot_rows(l1a.data(), 3, l1b.data(), 8, 512, l1out.data(), 8);
  });
  const double combine_s = best_of(3, [&] {
    for (int r = 0; r < l1_calls; ++r)
      fersweep::train::kernels::combine_rows(l1.data(), 64, 1, 64, l1src.data(), 8, 32,
                                             l1out.data(), 32);
  });
  const double peak =
      std::max(2.0 * 3 * 8 * 512 * l1_calls / dot_s, 2.0 * 8 * 64 * 32 * l1_calls / combine_s);

  // fersweep: one head alone, the 5 folds batched, 5 folds x 4 learning rates (stacked per fold).
  fersweep::train::TrainResult last;
  const double one_s = best_of(
      repeats, [&] { last = fersweep::train::train_head(x, y, train[0], test[0], c, cfg); });
  std::vector<HeadJob> fold_jobs, lr_jobs;
  for (int k = 0; k < folds; ++k) {
    HeadJob job{train[k], test[k], cfg};
    job.config.rng_seed = static_cast<std::uint64_t>(k);
    fold_jobs.push_back(job);
    for (double lr : {0.01, 0.003, 0.001, 0.03}) {
      job.config.lr = lr;
      lr_jobs.push_back(job);
    }
  }
  const double folds_s =
      best_of(repeats, [&] { fersweep::train::train_heads(x, y, fold_jobs, c); }) / folds;
  const double lrs_s =
      best_of(repeats, [&] { fersweep::train::train_heads(x, y, lr_jobs, c); }) / lr_jobs.size();
  at::set_num_threads(2);
  const double lrs2_s =
      best_of(
          repeats, [&] { fersweep::train::train_heads(x, y, lr_jobs, c); }, wall_now) /
      lr_jobs.size();
  at::set_num_threads(1);

  std::printf(
      "head training, %d x %d features, %d classes, train fold %d rows, batch %d, %d epochs "
      "(evaluated at 50/100/200), Adam lr 0.01 wd 0.001; kernels: %s\n",
      n, d, c, static_cast<int>(ntr), cfg.batch_size, epochs.back(),
      fersweep::train::kernels::isa().c_str());
  std::printf(
      "FLOP floor per run %.3f GFLOP; one-thread peak of the kernels on L1-resident rows: "
      "%.1f GFLOP/s\n",
      flops / 1e9, peak / 1e9);
  std::printf("times are the best of %d, CPU time of the one thread (wall time where 2 threads)\n",
              repeats);
  std::printf("%-50s %8s %8s %8s %8s %8s\n", "", "ms/run", "speedup", "us/step", "GFLOP/s",
              "%floor");
  auto row = [&](const char* name, double s) {
    std::printf("%-50s %8.2f %7.1fx %8.2f %8.2f %7.1f%%\n", name, s * 1e3, peer_s / s,
                s / steps * 1e6, flops / s / 1e9, 100.0 * flops / peak / s);
  };
  row("peer: torch.nn.Linear + torch.optim.Adam", peer_s);
  row("fersweep train_head (1 thread)", one_s);
  row("fersweep train_heads, 5 folds (1 thread)", folds_s);
  row("fersweep train_heads, 5 folds x 4 lrs (1 thread)", lrs_s);
  row("fersweep train_heads, 5 folds x 4 lrs (2 threads, wall)", lrs2_s);
  std::printf(
      "test accuracy at epoch 200: fersweep %.4f, peer %.4f (different init and shuffles)\n",
      last.evals.back().accuracy, peer_acc);
  std::printf("speedup (peer / fersweep, 1 thread, one head): %.1fx\n", peer_s / one_s);
  return 0;
}
