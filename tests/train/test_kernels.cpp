// The training kernels: values against a double-precision reference, and bit-identical results
// from every instruction set this CPU supports.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "train/detmath.h"
#include "train/kernels.h"
#include "train/rng.h"

namespace fersweep::train {
namespace {

struct Rows {
  std::vector<float> data;
  std::vector<const float*> ptr;
  Rows(int n, int width, Rng& rng) : data(static_cast<std::size_t>(n) * width) {
    for (float& v : data) v = static_cast<float>(2 * rng.uniform() - 1);
    for (int i = 0; i < n; ++i) ptr.push_back(data.data() + static_cast<std::size_t>(i) * width);
  }
};

std::vector<std::string> supported_isas() {
  std::vector<std::string> out;
  for (const char* name : {"generic", "avx2", "avx512"}) {
    try {
      kernels::set_isa(name);
      out.push_back(name);
    } catch (const ConfigError&) {
    }
  }
  kernels::set_isa("auto");
  return out;
}

TEST(Kernels, DotRowsMatchesDoubleReferenceOnEveryIsa) {
  Rng rng(5);
  const int na = 7, nb = 11, width = 80;
  Rows a(na, width, rng), b(nb, width, rng);
  std::vector<float> first;
  for (const std::string& isa : supported_isas()) {
    kernels::set_isa(isa);
    std::vector<float> out(static_cast<std::size_t>(na) * 13, -1.0f);
    kernels::dot_rows(a.ptr.data(), na, b.ptr.data(), nb, width, out.data(), 13);
    for (int i = 0; i < na; ++i)
      for (int m = 0; m < nb; ++m) {
        double ref = 0;
        for (int d = 0; d < width; ++d) ref += double(a.ptr[i][d]) * b.ptr[m][d];
        EXPECT_NEAR(out[i * 13 + m], ref, 1e-5) << isa << " i=" << i << " m=" << m;
      }
    EXPECT_EQ(out[12], -1.0f) << "wrote past nb";
    if (first.empty()) {
      first = out;
    } else {
      EXPECT_EQ(std::memcmp(first.data(), out.data(), out.size() * sizeof(float)), 0)
          << isa << " differs from generic";
    }
  }
  kernels::set_isa("auto");
}

TEST(Kernels, CombineRowsMatchesDoubleReferenceOnEveryIsa) {
  Rng rng(6);
  const int nk = 37, nr = 9, width = 48;
  Rows src(nk, width, rng);
  std::vector<float> coef(static_cast<std::size_t>(nk) * nr);
  for (float& v : coef) v = static_cast<float>(2 * rng.uniform() - 1);
  std::vector<float> first;
  for (const std::string& isa : supported_isas()) {
    kernels::set_isa(isa);
    // coef laid out [k, r]: coef_r = 1, coef_k = nr (the weight-gradient layout).
    std::vector<float> out(static_cast<std::size_t>(nr) * width);
    kernels::combine_rows(coef.data(), 1, nr, nk, src.ptr.data(), nr, width, out.data(), width);
    for (int r = 0; r < nr; ++r)
      for (int d = 0; d < width; ++d) {
        double ref = 0;
        for (int k = 0; k < nk; ++k) ref += double(coef[k * nr + r]) * src.ptr[k][d];
        EXPECT_NEAR(out[r * width + d], ref, 1e-5) << isa;
      }
    if (first.empty()) {
      first = out;
    } else {
      EXPECT_EQ(std::memcmp(first.data(), out.data(), out.size() * sizeof(float)), 0)
          << isa << " differs from generic";
    }
  }
  kernels::set_isa("auto");
}

TEST(DetMath, ExpLogAndPowAgreeWithLibmToTheLastBits) {
  double worst_exp = 0, worst_log = 0;
  for (double x = -100; x <= 20; x += 0.0123) {
    worst_exp = std::max(worst_exp, std::abs(detmath::exp(x) - std::exp(x)) / std::exp(x));
  }
  for (double x = 1e-300; x < 1e300; x *= 1.37) {
    const double ref = std::log(x);
    worst_log =
        std::max(worst_log, std::abs(detmath::log(x) - ref) / std::max(1e-300, std::abs(ref)));
  }
  for (double x = 0.5; x < 8; x += 0.001) {
    const double ref = std::log(x);
    if (ref != 0) worst_log = std::max(worst_log, std::abs(detmath::log(x) - ref) / std::abs(ref));
  }
  EXPECT_LT(worst_exp, 1e-15);
  EXPECT_LT(worst_log, 1e-15);
  EXPECT_EQ(detmath::exp(0.0), 1.0);
  EXPECT_EQ(detmath::log(1.0), 0.0);
  EXPECT_EQ(detmath::exp(-800.0), 0.0);
  for (long n : {1L, 2L, 7L, 100L, 5000L})
    EXPECT_NEAR(detmath::pow(0.999, n), std::pow(0.999, static_cast<double>(n)), 1e-14);
}

TEST(Kernels, ExpClampedEqualsDetmathExpOnEveryIsa) {
  std::vector<double> x;
  for (double v = -750; v <= 1; v += 0.37) x.push_back(v);
  x.push_back(-0.0);
  x.push_back(-1e-300);
  for (const std::string& isa : supported_isas()) {
    kernels::set_isa(isa);
    std::vector<double> y = x;
    kernels::exp_clamped(y.data(), y.size());
    for (std::size_t j = 0; j < x.size(); ++j) {
      const double clamped = std::min(700.0, std::max(-700.0, x[j]));
      EXPECT_EQ(y[j], detmath::exp(clamped)) << isa << " x=" << x[j];
    }
  }
  kernels::set_isa("auto");
}

TEST(Kernels, LogNormalEqualsDetmathLogOnEveryIsa) {
  std::vector<double> x;
  for (double v = 1e-300; v < 1e300; v *= 1.913) x.push_back(v);
  for (double v = 1; v < 20; v += 0.0137) x.push_back(v);
  x.push_back(0.70710678118654752440);
  x.push_back(1.4142135623730951);
  x.push_back(std::nextafter(1.4142135623730951, 0.0));
  for (const std::string& isa : supported_isas()) {
    kernels::set_isa(isa);
    std::vector<double> y = x;
    kernels::log_normal(y.data(), y.size());
    for (std::size_t j = 0; j < x.size(); ++j)
      EXPECT_EQ(y[j], detmath::log(x[j])) << isa << " x=" << x[j];
  }
  kernels::set_isa("auto");
}

TEST(Kernels, UnknownIsaIsAConfigError) {
  try {
    kernels::set_isa("sse9");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "FERSWEEP_TRAIN_ISA: unknown instruction set 'sse9' (expected auto, avx512, avx2 "
                 "or generic)");
  }
}

}  // namespace
}  // namespace fersweep::train
