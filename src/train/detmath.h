// exp, log and integer powers from IEEE-754 +, -, *, / only, so that losses and optimiser
// constants do not depend on which libm variant (FMA or not, glibc version) a machine runs.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "train/detmath_poly.h"

namespace fersweep::train::detmath {

/// e^x to about 1e-16 relative (Cody-Waite reduction, degree-13 Taylor polynomial).
inline double exp(double x) {
  if (x < -745.2) return 0.0;
  if (x > 709.7) return HUGE_VAL;
  using namespace detmath_poly;
  const double k = (x * kInvLn2 + kRoundMagic) - kRoundMagic;
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;  // |r| <= ln2 / 2 (+ rounding)
  const double p = exp_reduced(r);
  // 2^k from its bits (exact) in the normal range; ldexp rounds correctly into subnormals.
  if (k < -1022) return std::ldexp(p, static_cast<int>(k));
  const auto bits = static_cast<std::uint64_t>(static_cast<std::int64_t>(k) + 1023) << 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

/// Natural logarithm of x > 0 to about 1e-16 relative (2 atanh((m-1)/(m+1)) series).
inline double log(double x) {
  if (!(x > 0)) return x == 0 ? -HUGE_VAL : NAN;
  if (std::isinf(x)) return x;
  int e = 0;
  double m = std::frexp(x, &e);  // x = m 2^e, m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2;
    --e;
  }
  const double s = (m - 1) / (m + 1);  // |s| < 0.1716
  const double s2 = s * s;
  double series = 1.0 / 21;
  for (int k = 19; k >= 1; k -= 2) series = series * s2 + 1.0 / k;
  return e * detmath_poly::kLn2Hi + (e * detmath_poly::kLn2Lo + 2 * s * series);
}

/// base^n for n >= 0 by repeated squaring.
inline double pow(double base, long n) {
  double result = 1.0;
  while (n > 0) {
    if (n & 1) result *= base;
    base *= base;
    n >>= 1;
  }
  return result;
}

}  // namespace fersweep::train::detmath
