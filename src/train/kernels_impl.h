// The kernel bodies, included once per instruction set by kernels_<isa>.cpp after defining the
// 16-lane vector type V, its operations (vzero, vload, vstore, vbroadcast, vfma, vreduce,
// vreduce4: four vreduce at once, same additions) and the
// register-block sizes kDotRA x kDotRB and kCombineRR x kCombineRD that fit its register file.
// Block sizes change only which values are computed together, never how one value is rounded.
// Deliberately free of the standard library: these translation units are compiled with ISA flags,
// and inline library functions emitted here could be merged into code that runs on older CPUs.
#include <cstddef>

#include "train/detmath_poly.h"
#include "train/kernels.h"

namespace {

template <int RA, int RB>
inline void dot_block(const float* const* a, const float* const* b, int chunks, float* out,
                      std::ptrdiff_t ldo) {
  V acc[RA][RB];
#pragma GCC unroll 8
  for (int r = 0; r < RA; ++r)
#pragma GCC unroll 8
    for (int s = 0; s < RB; ++s) acc[r][s] = vzero();
  for (int k = 0; k < chunks; ++k) {
    V va[RA];
#pragma GCC unroll 8
    for (int r = 0; r < RA; ++r) va[r] = vload(a[r] + 16 * k);
#pragma GCC unroll 8
    for (int s = 0; s < RB; ++s) {
      const V vb = vload(b[s] + 16 * k);
#pragma GCC unroll 8
      for (int r = 0; r < RA; ++r) acc[r][s] = vfma(va[r], vb, acc[r][s]);
    }
  }
  // Horizontal sums four at a time where the instruction set can share the shuffles.
  constexpr int n = RA * RB;
  float sums[n];
#pragma GCC unroll 8
  for (int q = 0; q + 4 <= n; q += 4)
    vreduce4(acc[q / RB][q % RB], acc[(q + 1) / RB][(q + 1) % RB], acc[(q + 2) / RB][(q + 2) % RB],
             acc[(q + 3) / RB][(q + 3) % RB], sums + q);
#pragma GCC unroll 4
  for (int q = n / 4 * 4; q < n; ++q) sums[q] = vreduce(acc[q / RB][q % RB]);
#pragma GCC unroll 8
  for (int r = 0; r < RA; ++r)
#pragma GCC unroll 8
    for (int s = 0; s < RB; ++s) out[r * ldo + s] = sums[r * RB + s];
}

// Column blocks of RB rows of b, then one smaller block for the rest (templates up to RB - 1).
template <int RA, int R>
inline void dot_rest(const float* const* a, const float* const* b, int left, int chunks, float* out,
                     std::ptrdiff_t ldo) {
  if constexpr (R > 0) {
    if (left == R) {
      dot_block<RA, R>(a, b, chunks, out, ldo);
    } else {
      dot_rest<RA, R - 1>(a, b, left, chunks, out, ldo);
    }
  }
}

template <int RA>
inline void dot_row_block(const float* const* a, const float* const* b, int nb, int chunks,
                          float* out, std::ptrdiff_t ldo) {
  int m = 0;
  for (; m + kDotRB <= nb; m += kDotRB) dot_block<RA, kDotRB>(a, b + m, chunks, out + m, ldo);
  dot_rest<RA, kDotRB - 1>(a, b + m, nb - m, chunks, out + m, ldo);
}

template <int R>
inline void dot_rows_rest(const float* const* a, int left, const float* const* b, int nb,
                          int chunks, float* out, std::ptrdiff_t ldo) {
  if constexpr (R > 0) {
    if (left == R) {
      dot_row_block<R>(a, b, nb, chunks, out, ldo);
    } else {
      dot_rows_rest<R - 1>(a, left, b, nb, chunks, out, ldo);
    }
  }
}

template <int RR, int RD>
inline void combine_block(const float* coef, std::ptrdiff_t coef_r, std::ptrdiff_t coef_k, int nk,
                          const float* const* src, std::ptrdiff_t offset, float* out,
                          std::ptrdiff_t ldo) {
  V acc[RR][RD];
#pragma GCC unroll 8
  for (int r = 0; r < RR; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < RD; ++c) acc[r][c] = vzero();
  for (int k = 0; k < nk; ++k) {
    V vs[RD];
#pragma GCC unroll 8
    for (int c = 0; c < RD; ++c) vs[c] = vload(src[k] + offset + 16 * c);
#pragma GCC unroll 8
    for (int r = 0; r < RR; ++r) {
      const V w = vbroadcast(coef[r * coef_r + k * coef_k]);
#pragma GCC unroll 8
      for (int c = 0; c < RD; ++c) acc[r][c] = vfma(w, vs[c], acc[r][c]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < RR; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < RD; ++c) vstore(out + r * ldo + offset + 16 * c, acc[r][c]);
}

template <int RR, int R>
inline void combine_rest(const float* coef, std::ptrdiff_t coef_r, std::ptrdiff_t coef_k, int nk,
                         const float* const* src, int left, std::ptrdiff_t offset, float* out,
                         std::ptrdiff_t ldo) {
  if constexpr (R > 0) {
    if (left == R) {
      combine_block<RR, R>(coef, coef_r, coef_k, nk, src, offset, out, ldo);
    } else {
      combine_rest<RR, R - 1>(coef, coef_r, coef_k, nk, src, left, offset, out, ldo);
    }
  }
}

template <int RR>
inline void combine_row_block(const float* coef, std::ptrdiff_t coef_r, std::ptrdiff_t coef_k,
                              int nk, const float* const* src, int chunks, float* out,
                              std::ptrdiff_t ldo) {
  int c = 0;
  for (; c + kCombineRD <= chunks; c += kCombineRD)
    combine_block<RR, kCombineRD>(coef, coef_r, coef_k, nk, src, 16 * c, out, ldo);
  combine_rest<RR, kCombineRD - 1>(coef, coef_r, coef_k, nk, src, chunks - c, 16 * c, out, ldo);
}

template <int R>
inline void combine_rows_rest(const float* coef, std::ptrdiff_t coef_r, std::ptrdiff_t coef_k,
                              int nk, const float* const* src, int left, int chunks, float* out,
                              std::ptrdiff_t ldo) {
  if constexpr (R > 0) {
    if (left == R) {
      combine_row_block<R>(coef, coef_r, coef_k, nk, src, chunks, out, ldo);
    } else {
      combine_rows_rest<R - 1>(coef, coef_r, coef_k, nk, src, left, chunks, out, ldo);
    }
  }
}

}  // namespace

namespace fersweep::train::kernels::FERSWEEP_KERNEL_NS {

void dot_rows(const float* const* a, int na, const float* const* b, int nb, int width, float* out,
              std::ptrdiff_t ldo) {
  const int chunks = width / 16;
  int i = 0;
  for (; i + kDotRA <= na; i += kDotRA)
    dot_row_block<kDotRA>(a + i, b, nb, chunks, out + i * ldo, ldo);
  dot_rows_rest<kDotRA - 1>(a + i, na - i, b, nb, chunks, out + i * ldo, ldo);
}

void combine_rows(const float* coef, std::ptrdiff_t coef_r, std::ptrdiff_t coef_k, int nk,
                  const float* const* src, int nr, int width, float* out, std::ptrdiff_t ldo) {
  const int chunks = width / 16;
  int r = 0;
  for (; r + kCombineRR <= nr; r += kCombineRR)
    combine_row_block<kCombineRR>(coef + r * coef_r, coef_r, coef_k, nk, src, chunks, out + r * ldo,
                                  ldo);
  combine_rows_rest<kCombineRR - 1>(coef + r * coef_r, coef_r, coef_k, nk, src, nr - r, chunks,
                                    out + r * ldo, ldo);
}

void update(const UpdateStep& st, float* __restrict p, const float* __restrict g,
            float* __restrict m, float* __restrict v, std::size_t n) {
  if (st.kind == UpdateStep::sgd) {
    const bool use_momentum = st.momentum != 0.0f;
    for (std::size_t j = 0; j < n; ++j) {
      float d = g[j] + st.weight_decay * p[j];
      if (use_momentum) {
        m[j] = st.first_step ? d : m[j] * st.momentum + d;
        d = m[j];
      }
      p[j] = p[j] + st.neg_lr * d;
    }
    return;
  }
  const bool decoupled = st.kind == UpdateStep::adamw;
  for (std::size_t j = 0; j < n; ++j) {
    float gj = g[j];
    float pj = p[j];
    if (decoupled) {
      pj = pj * st.shrink;
    } else {
      gj = gj + st.weight_decay * pj;
    }
    const float mj = m[j] * st.beta1 + st.one_minus_beta1 * gj;
    const float vj = v[j] * st.beta2 + st.one_minus_beta2 * gj * gj;
    const float denom = __builtin_sqrtf(vj) / st.bias_correction2_sqrt + st.eps;
    m[j] = mj;
    v[j] = vj;
    p[j] = pj + st.neg_step_size * (mj / denom);
  }
}

void exp_clamped(double* __restrict v, std::size_t n) {
  // detmath::exp written as one loop the compiler vectorises; 2^k comes from the bits of
  // k + 1.5 * 2^52 (same exponent as the magic constant, so the integer difference is k).
  using namespace detmath_poly;
  long long magic_bits;
  __builtin_memcpy(&magic_bits, &kRoundMagic, sizeof magic_bits);
  for (std::size_t j = 0; j < n; ++j) {
    double x = v[j];
    x = x < -700.0 ? -700.0 : x;
    x = x > 700.0 ? 700.0 : x;
    const double shifted = x * kInvLn2 + kRoundMagic;
    const double k = shifted - kRoundMagic;
    const double r = (x - k * kLn2Hi) - k * kLn2Lo;
    const double p = exp_reduced(r);
    long long shifted_bits;
    __builtin_memcpy(&shifted_bits, &shifted, sizeof shifted_bits);
    const long long scale_bits = (shifted_bits - magic_bits + 1023) << 52;
    double scale;
    __builtin_memcpy(&scale, &scale_bits, sizeof scale);
    v[j] = p * scale;
  }
}

void log_normal(double* __restrict v, std::size_t n) {
  // detmath::log with frexp replaced by bit operations: x = m1 2^e1 with m1 in [1, 2), then
  // m in [sqrt(1/2), sqrt(2)) exactly as detmath picks it.
  using namespace detmath_poly;
  constexpr double sqrt2 = 2 * 0.70710678118654752440;
  for (std::size_t j = 0; j < n; ++j) {
    const double x = v[j];
    long long bits;
    __builtin_memcpy(&bits, &x, sizeof bits);
    const int e1 = static_cast<int>(bits >> 52) - 1023;
    const long long mbits = (bits & 0x000FFFFFFFFFFFFFLL) | 0x3FF0000000000000LL;
    double m1;
    __builtin_memcpy(&m1, &mbits, sizeof m1);
    const bool high = m1 >= sqrt2;
    const double m = high ? m1 * 0.5 : m1;
    const double e = static_cast<double>(high ? e1 + 1 : e1);
    const double s = (m - 1) / (m + 1);
    const double s2 = s * s;
    double series = 1.0 / 21;
    series = series * s2 + 1.0 / 19;
    series = series * s2 + 1.0 / 17;
    series = series * s2 + 1.0 / 15;
    series = series * s2 + 1.0 / 13;
    series = series * s2 + 1.0 / 11;
    series = series * s2 + 1.0 / 9;
    series = series * s2 + 1.0 / 7;
    series = series * s2 + 1.0 / 5;
    series = series * s2 + 1.0 / 3;
    series = series * s2 + 1.0 / 1;
    v[j] = e * kLn2Hi + (e * kLn2Lo + 2 * s * series);
  }
}

}  // namespace fersweep::train::kernels::FERSWEEP_KERNEL_NS
