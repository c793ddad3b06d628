// Shared helpers of the train tests: seeded synthetic features and exact fingerprints of results.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "train/head.h"
#include "train/rng.h"

namespace fersweep::train::testing {

/// `n` samples of `d` features in `c` classes: class-dependent means plus Gaussian noise (our own
/// generator, so the data are the same in every process).
struct Synthetic {
  at::Tensor x, y;
  std::vector<float> xv;
  std::vector<std::int64_t> yv;
};

inline Synthetic make_data(int n, int d, int c, double separation, std::uint64_t seed) {
  Rng rng(seed, 99);
  std::vector<double> means(static_cast<std::size_t>(c) * d);
  for (double& m : means) m = separation * (2 * rng.uniform() - 1);
  Synthetic s;
  s.xv.resize(static_cast<std::size_t>(n) * d);
  s.yv.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const int label = i % c;
    s.yv[i] = label;
    for (int j = 0; j < d; ++j) {
      const double u1 = 1 - rng.uniform(), u2 = rng.uniform();
      const double noise = std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
      s.xv[static_cast<std::size_t>(i) * d + j] =
          static_cast<float>(means[static_cast<std::size_t>(label) * d + j] + noise);
    }
  }
  s.x = torch::from_blob(s.xv.data(), {n, d}, torch::kFloat).clone();
  s.y = torch::from_blob(s.yv.data(), {n}, torch::kLong).clone();
  return s;
}

/// Fold `k` of `folds`: samples with i % folds == k are the test rows.
inline void fold(int n, int folds, int k, std::vector<std::size_t>& train,
                 std::vector<std::size_t>& test) {
  train.clear();
  test.clear();
  for (int i = 0; i < n; ++i)
    (i % folds == k ? test : train).push_back(static_cast<std::size_t>(i));
}

/// Every number of an evaluation in exact (hexadecimal) notation: equal strings, equal bits.
inline std::string fingerprint(const EvalMetrics& m) {
  std::string s;
  char buf[64];
  auto add = [&](double v) {
    std::snprintf(buf, sizeof buf, "%a ", v);
    s += buf;
  };
  s += "epoch " + std::to_string(m.epoch) + ": ";
  add(m.accuracy);
  add(m.macro_f1);
  add(m.test_loss);
  for (double r : m.per_class_recall) add(r);
  for (auto k : m.confusion) s += std::to_string(k) + " ";
  return s + "\n";
}

inline std::string fingerprint(const TrainResult& r) {
  std::string s;
  for (const auto& e : r.evals) s += fingerprint(e);
  char buf[64];
  for (std::size_t i = 0; i < r.train_loss.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%a %a\n", r.train_loss[i], r.train_accuracy[i]);
    s += buf;
  }
  return s;
}

}  // namespace fersweep::train::testing
