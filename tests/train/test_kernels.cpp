// The training kernels: values against a double-precision reference, and bit-identical results
// from every instruction set this CPU supports.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
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
