// The polynomial cores shared by detmath (scalar, used with libm-free guarantees) and the
// vectorised kernels. Free of the standard library and with internal linkage (static): the
// kernel translation units are compiled with ISA flags, and an inline function with external
// linkage could be merged by the linker into code that runs on older CPUs.
#pragma once

namespace fersweep::train::detmath_poly {

// ln 2 split so that k * kLn2Hi is exact for the k that occur (trailing zero bits).
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kInvLn2 = 1.44269504088896338700e+00;
constexpr double kRoundMagic = 0x1.8p52;  // adding and subtracting it rounds to an integer

/// e^r for |r| <= ln2 / 2: the degree-13 Taylor polynomial by Horner, one fixed rounding order.
[[gnu::always_inline]] static inline double exp_reduced(double r) {
  double p = 1.0 / 6227020800.0;  // 1/13!, then down to 1
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  return p * r + 1.0;
}

}  // namespace fersweep::train::detmath_poly
