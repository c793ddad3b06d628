// AVX-512F instantiation of the training kernels (one 512-bit register holds the 16 lanes).
#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics trip its own -Wuninitialized at -O3 (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

namespace {
struct V {
  __m512 v;
};
inline V vzero() {
  return {_mm512_setzero_ps()};
}
inline V vload(const float* p) {
  return {_mm512_loadu_ps(p)};
}
inline void vstore(float* p, V x) {
  _mm512_storeu_ps(p, x.v);
}
inline V vbroadcast(float x) {
  return {_mm512_set1_ps(x)};
}
inline V vfma(V a, V b, V c) {
  return {_mm512_fmadd_ps(a.v, b.v, c.v)};
}
// Lanes l and l+8, then l and l+4, l and l+2, l and l+1: the canonical tree of kernels.h.
inline float vreduce(V x) {
  const __m256 lo = _mm512_castps512_ps256(x.v);
  const __m256 hi = _mm512_castps512_ps256(_mm512_shuffle_f32x4(x.v, x.v, 0xEE));  // lanes 8-15
  const __m256 s8 = _mm256_add_ps(lo, hi);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  const __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
  return _mm_cvtss_f32(s1);
}
// Four vreduce at once: the same pairwise additions, with the shuffles shared between vectors.
inline void vreduce4(V a, V b, V c, V d, float* out) {
  // [a 0-7 | b 0-7] + [a 8-15 | b 8-15]: lanes l and l+8 of a and of b.
  const __m512 ab =
      _mm512_add_ps(_mm512_shuffle_f32x4(a.v, b.v, 0x44), _mm512_shuffle_f32x4(a.v, b.v, 0xEE));
  const __m512 cd =
      _mm512_add_ps(_mm512_shuffle_f32x4(c.v, d.v, 0x44), _mm512_shuffle_f32x4(c.v, d.v, 0xEE));
  // 128-bit block k now holds lanes 0-3 + lanes 4-7 of the k-th of a, b, c, d.
  const __m512 s4 =
      _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
  const __m512 s2 = _mm512_add_ps(s4, _mm512_shuffle_ps(s4, s4, _MM_SHUFFLE(1, 0, 3, 2)));
  const __m512 s1 = _mm512_add_ps(s2, _mm512_shuffle_ps(s2, s2, _MM_SHUFFLE(2, 3, 0, 1)));
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s1);
  out[0] = lanes[0];
  out[1] = lanes[4];
  out[2] = lanes[8];
  out[3] = lanes[12];
}
constexpr int kDotRA = 3, kDotRB = 8;  // 24 accumulators of 32 registers
constexpr int kCombineRR = 8, kCombineRD = 2;
}  // namespace

#define FERSWEEP_KERNEL_NS avx512
#include "train/kernels_impl.h"
#endif
