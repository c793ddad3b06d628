// exp, log and integer powers from IEEE-754 +, -, *, / only, so that losses and optimiser
// constants do not depend on which libm variant (FMA or not, glibc version) a machine runs.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace fersweep::train::detmath {

/// e^x to about 1e-16 relative (Cody-Waite reduction, degree-13 Taylor polynomial).
inline double exp(double x) {
  if (x < -745.2) return 0.0;
  if (x > 709.7) return HUGE_VAL;
  constexpr double ln2_hi = 6.93147180369123816490e-01;  // trailing zeros: k * ln2_hi is exact
  constexpr double ln2_lo = 1.90821492927058770002e-10;
  constexpr double inv_ln2 = 1.44269504088896338700e+00;
  constexpr double round_magic = 0x1.8p52;  // adding and subtracting it rounds to an integer
  const double k = (x * inv_ln2 + round_magic) - round_magic;
  const double r = (x - k * ln2_hi) - k * ln2_lo;  // |r| <= ln2 / 2 (+ rounding)
  double p = 1.0 / 6227020800.0;                   // 1/13!, then Horner down to 1
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
  p = p * r + 1.0;
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
  constexpr double ln2_hi = 6.93147180369123816490e-01;
  constexpr double ln2_lo = 1.90821492927058770002e-10;
  return e * ln2_hi + (e * ln2_lo + 2 * s * series);
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
