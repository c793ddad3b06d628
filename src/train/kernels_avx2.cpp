// AVX2+FMA instantiation of the training kernels (two 256-bit registers hold the 16 lanes).
#if defined(__x86_64__)
#include <immintrin.h>

namespace {
struct V {
  __m256 lo, hi;  // lanes 0-7 and 8-15
};
inline V vzero() {
  return {_mm256_setzero_ps(), _mm256_setzero_ps()};
}
inline V vload(const float* p) {
  return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)};
}
inline void vstore(float* p, V x) {
  _mm256_storeu_ps(p, x.lo);
  _mm256_storeu_ps(p + 8, x.hi);
}
inline V vbroadcast(float x) {
  return {_mm256_set1_ps(x), _mm256_set1_ps(x)};
}
inline V vfma(V a, V b, V c) {
  return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
}
// The canonical tree of kernels.h: lanes l and l+8 are exactly lo and hi.
inline float vreduce(V x) {
  const __m256 s8 = _mm256_add_ps(x.lo, x.hi);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  const __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
  return _mm_cvtss_f32(s1);
}
inline void vreduce4(V a, V b, V c, V d, float* out) {
  out[0] = vreduce(a);
  out[1] = vreduce(b);
  out[2] = vreduce(c);
  out[3] = vreduce(d);
}
constexpr int kDotRA = 2, kDotRB = 2;  // each V is two of the 16 ymm registers
constexpr int kCombineRR = 4, kCombineRD = 1;
}  // namespace

#define FERSWEEP_KERNEL_NS avx2
#include "train/kernels_impl.h"
#endif
