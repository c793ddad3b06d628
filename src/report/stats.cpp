// Student t and the regularized incomplete beta function from Boost.Math (well tested, accurate to
// a few ulps); the summaries and the paired t-test built on them.
#include "report/stats.h"

#include <boost/math/distributions/students_t.hpp>
#include <boost/math/special_functions/beta.hpp>

#include <cmath>
#include <limits>

#include "core/error.h"

namespace fersweep::report {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

double incomplete_beta(double a, double b, double x) {
  FERSWEEP_ASSERT(a > 0 && b > 0, "incomplete_beta needs a, b > 0");
  if (x <= 0) return 0.0;
  if (x >= 1) return 1.0;
  return boost::math::ibeta(a, b, x);
}

double student_t_cdf(double t, double dof) {
  FERSWEEP_ASSERT(dof > 0, "student_t_cdf needs dof > 0");
  if (std::isnan(t)) return kNaN;
  if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
  return boost::math::cdf(boost::math::students_t(dof), t);
}

double student_t_quantile(double p, double dof) {
  FERSWEEP_ASSERT(p > 0 && p < 1, "student_t_quantile needs 0 < p < 1");
  FERSWEEP_ASSERT(dof > 0, "student_t_quantile needs dof > 0");
  return boost::math::quantile(boost::math::students_t(dof), p);
}

Summary summarize(const std::vector<double>& values) {
  Summary s;
  s.n = values.size();
  if (s.n == 0) {
    s.mean = s.sd = s.ci_low = s.ci_high = kNaN;
    return s;
  }
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / s.n;
  if (s.n < 2) {
    s.sd = s.ci_low = s.ci_high = kNaN;
    return s;
  }
  double ss = 0;
  for (double v : values) ss += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(ss / (s.n - 1));
  const double half = student_t_quantile(0.975, s.n - 1.0) * s.sd / std::sqrt(double(s.n));
  s.ci_low = s.mean - half;
  s.ci_high = s.mean + half;
  return s;
}

PairedTest paired_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  FERSWEEP_ASSERT(a.size() == b.size(), "paired_t_test needs equally long samples");
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  const Summary s = summarize(d);
  PairedTest r;
  r.n = s.n;
  r.mean_diff = s.mean;
  if (s.n < 2) {
    r.t = r.p = kNaN;
    return r;
  }
  if (s.sd == 0) {
    r.t = s.mean == 0 ? kNaN : std::copysign(std::numeric_limits<double>::infinity(), s.mean);
    r.p = s.mean == 0 ? kNaN : 0.0;
    return r;
  }
  r.t = s.mean / (s.sd / std::sqrt(double(s.n)));
  r.p = 2.0 * student_t_cdf(-std::abs(r.t), s.n - 1.0);
  return r;
}

}  // namespace fersweep::report
