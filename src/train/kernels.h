// Dense float kernels behind head training, with one fixed rounding order on every instruction set
// (AVX-512, AVX2+FMA, portable scalar), so results are bit-identical whichever one a machine runs.
#pragma once

#include <cstddef>
#include <string>

namespace fersweep::train::kernels {

/// Rows handed to the kernels are padded with zeros to a multiple of this many floats.
constexpr int kLanes = 16;

/// `out[i*ldo + m] = sum_d a[i][d] * b[m][d]` for i < na, m < nb, over `width` (a multiple of
/// kLanes) floats. Canonical order: lane l = d mod 16 accumulates with fused multiply-adds in
/// ascending d, then the 16 lanes are summed pairwise (l + 8, then + 4, + 2, + 1).
void dot_rows(const float* const* a, int na, const float* const* b, int nb, int width, float* out,
              std::ptrdiff_t ldo);

/// `out[r*ldo + d] = sum_k coef[r*coef_r + k*coef_k] * src[k][d]` for r < nr, d < width (a
/// multiple of kLanes). Canonical order: one fused multiply-add chain per element, k ascending,
/// starting from zero.
void combine_rows(const float* coef, std::ptrdiff_t coef_r, std::ptrdiff_t coef_k, int nk,
                  const float* const* src, int nr, int width, float* out, std::ptrdiff_t ldo);

/// The instruction set in use: "avx512", "avx2" or "generic".
std::string isa();
/// Forces an instruction set ("avx512", "avx2", "generic" or "auto"); ConfigError if unknown or
/// not supported by this CPU. The environment variable FERSWEEP_TRAIN_ISA sets the initial choice.
void set_isa(const std::string& name);

}  // namespace fersweep::train::kernels
