// Portable instantiation of the training kernels: 16 scalar lanes with std::fma, the reference
// that the SIMD versions reproduce bit for bit.
#include <cmath>

namespace {
struct V {
  float x[16];
};
inline V vzero() {
  V r;
  for (float& e : r.x) e = 0.0f;
  return r;
}
inline V vload(const float* p) {
  V r;
  for (int l = 0; l < 16; ++l) r.x[l] = p[l];
  return r;
}
inline void vstore(float* p, const V& v) {
  for (int l = 0; l < 16; ++l) p[l] = v.x[l];
}
inline V vbroadcast(float s) {
  V r;
  for (float& e : r.x) e = s;
  return r;
}
inline V vfma(const V& a, const V& b, const V& c) {
  V r;
  for (int l = 0; l < 16; ++l) r.x[l] = std::fma(a.x[l], b.x[l], c.x[l]);
  return r;
}
inline float vreduce(const V& v) {
  float s8[8], s4[4], s2[2];
  for (int l = 0; l < 8; ++l) s8[l] = v.x[l] + v.x[l + 8];
  for (int l = 0; l < 4; ++l) s4[l] = s8[l] + s8[l + 4];
  for (int l = 0; l < 2; ++l) s2[l] = s4[l] + s4[l + 2];
  return s2[0] + s2[1];
}
inline void vreduce4(const V& a, const V& b, const V& c, const V& d, float* out) {
  out[0] = vreduce(a);
  out[1] = vreduce(b);
  out[2] = vreduce(c);
  out[3] = vreduce(d);
}
constexpr int kDotRA = 2, kDotRB = 4;
constexpr int kCombineRR = 4, kCombineRD = 2;
}  // namespace

#define FERSWEEP_KERNEL_NS generic
#include "train/kernels_impl.h"
