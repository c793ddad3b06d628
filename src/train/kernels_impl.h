// The kernel bodies, included once per instruction set by kernels_<isa>.cpp after defining the
// 16-lane vector type V and its operations (vzero, vload, vbroadcast, vfma, vreduce).
// Deliberately free of the standard library: these translation units are compiled with ISA flags,
// and inline library functions emitted here could be merged into code that runs on older CPUs.
#include <cstddef>

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
#pragma GCC unroll 8
  for (int r = 0; r < RA; ++r)
#pragma GCC unroll 8
    for (int s = 0; s < RB; ++s) out[r * ldo + s] = vreduce(acc[r][s]);
}

template <int RA>
inline void dot_row_block(const float* const* a, const float* const* b, int nb, int chunks,
                          float* out, std::ptrdiff_t ldo) {
  int m = 0;
  for (; m + 4 <= nb; m += 4) dot_block<RA, 4>(a, b + m, chunks, out + m, ldo);
  switch (nb - m) {
    case 3:
      dot_block<RA, 3>(a, b + m, chunks, out + m, ldo);
      break;
    case 2:
      dot_block<RA, 2>(a, b + m, chunks, out + m, ldo);
      break;
    case 1:
      dot_block<RA, 1>(a, b + m, chunks, out + m, ldo);
      break;
    default:
      break;
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

template <int RR>
inline void combine_row_block(const float* coef, std::ptrdiff_t coef_r, std::ptrdiff_t coef_k,
                              int nk, const float* const* src, int chunks, float* out,
                              std::ptrdiff_t ldo) {
  int c = 0;
  for (; c + 2 <= chunks; c += 2)
    combine_block<RR, 2>(coef, coef_r, coef_k, nk, src, 16 * c, out, ldo);
  if (c < chunks) combine_block<RR, 1>(coef, coef_r, coef_k, nk, src, 16 * c, out, ldo);
}

}  // namespace

namespace fersweep::train::kernels::FERSWEEP_KERNEL_NS {

void dot_rows(const float* const* a, int na, const float* const* b, int nb, int width, float* out,
              std::ptrdiff_t ldo) {
  const int chunks = width / 16;
  int i = 0;
  for (; i + 2 <= na; i += 2) dot_row_block<2>(a + i, b, nb, chunks, out + i * ldo, ldo);
  if (i < na) dot_row_block<1>(a + i, b, nb, chunks, out + i * ldo, ldo);
}

void combine_rows(const float* coef, std::ptrdiff_t coef_r, std::ptrdiff_t coef_k, int nk,
                  const float* const* src, int nr, int width, float* out, std::ptrdiff_t ldo) {
  const int chunks = width / 16;
  int r = 0;
  for (; r + 4 <= nr; r += 4)
    combine_row_block<4>(coef + r * coef_r, coef_r, coef_k, nk, src, chunks, out + r * ldo, ldo);
  switch (nr - r) {
    case 3:
      combine_row_block<3>(coef + r * coef_r, coef_r, coef_k, nk, src, chunks, out + r * ldo, ldo);
      break;
    case 2:
      combine_row_block<2>(coef + r * coef_r, coef_r, coef_k, nk, src, chunks, out + r * ldo, ldo);
      break;
    case 1:
      combine_row_block<1>(coef + r * coef_r, coef_r, coef_k, nk, src, chunks, out + r * ldo, ldo);
      break;
    default:
      break;
  }
}

}  // namespace fersweep::train::kernels::FERSWEEP_KERNEL_NS
