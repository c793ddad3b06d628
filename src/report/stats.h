// Small statistics for reports: mean, sample standard deviation, Student-t confidence intervals
// and the paired t-test; the t distribution comes from Boost.Math.
#pragma once

#include <vector>

namespace fersweep::report {

/// Mean, sample standard deviation (n − 1) and the 95% confidence interval of the mean,
/// mean ± t(0.975, n − 1) · sd / √n. With one value the std and the interval are NaN.
struct Summary {
  std::size_t n = 0;
  double mean = 0;
  double sd = 0;
  double ci_low = 0;
  double ci_high = 0;
};
Summary summarize(const std::vector<double>& values);

/// Regularized incomplete beta function I_x(a, b).
double incomplete_beta(double a, double b, double x);

/// Cumulative distribution function of Student's t with `dof` degrees of freedom.
double student_t_cdf(double t, double dof);

/// The quantile t such that student_t_cdf(t, dof) = p (0 < p < 1).
double student_t_quantile(double p, double dof);

/// Result of a paired t-test on differences a[i] − b[i].
struct PairedTest {
  std::size_t n = 0;
  double mean_diff = 0;
  double t = 0;  ///< NaN when n < 2; ±inf when all differences are equal and non-zero
  double p = 0;  ///< two-sided; NaN when n < 2 or all differences are zero
};
PairedTest paired_t_test(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace fersweep::report
