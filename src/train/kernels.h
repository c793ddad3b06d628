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

/// One optimiser step's constants, computed by the caller as torch.optim does (float32 tensors,
/// double scalars rounded to float).
struct UpdateStep {
  enum Kind { adam, adamw, sgd } kind = adam;
  float weight_decay = 0;  ///< adam: added to the gradient; sgd: likewise
  float shrink = 1;        ///< adamw: parameters are first multiplied by 1 - lr * wd
  float beta1 = 0.9f, beta2 = 0.999f, one_minus_beta1 = 0.1f, one_minus_beta2 = 0.001f;
  float neg_step_size = 0;  ///< adam/adamw: -lr / (1 - beta1^t)
  float bias_correction2_sqrt = 1, eps = 1e-8f;
  float momentum = 0;      ///< sgd
  bool first_step = true;  ///< sgd: the momentum buffer starts as the first gradient
  float neg_lr = 0;        ///< sgd
};

/// Applies one optimiser step elementwise to `n` parameters `p` with gradients `g` and state
/// buffers `m` (exp_avg / momentum) and `v` (exp_avg_sq). Every operation is a single IEEE
/// rounding, so vectorised and scalar code agree bit for bit.
void update(const UpdateStep& step, float* p, const float* g, float* m, float* v, std::size_t n);

/// `v[j] = exp(max(v[j], -700))` in place, bit-identical to detmath::exp of the clamped value
/// (softmax only needs x <= 0, where e^-700 and anything smaller vanish against the e^0 term).
void exp_clamped(double* v, std::size_t n);

/// `v[j] = log(v[j])` in place for positive normal finite values (the softmax sums, >= 1),
/// bit-identical to detmath::log.
void log_normal(double* v, std::size_t n);

/// The instruction set in use: "avx512", "avx2" or "generic".
std::string isa();
/// Forces an instruction set ("avx512", "avx2", "generic" or "auto"); ConfigError if unknown or
/// not supported by this CPU. The environment variable FERSWEEP_TRAIN_ISA sets the initial choice.
void set_isa(const std::string& name);

}  // namespace fersweep::train::kernels
