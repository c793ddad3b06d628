// Student t, incomplete beta, summaries and the paired t-test against closed forms.
#include <gtest/gtest.h>

#include <cmath>

#include "report/stats.h"

namespace fersweep::report {
namespace {

const double kPi = std::acos(-1.0);

// Closed-form Student t CDFs for small degrees of freedom (textbook formulas, independent of the
// incomplete beta route the implementation takes).
double cdf1(double t) {
  return 0.5 + std::atan(t) / kPi;
}
double cdf2(double t) {
  return 0.5 + t / (2 * std::sqrt(2 + t * t));
}
double cdf3(double t) {
  const double x = t / std::sqrt(3.0);
  return 0.5 + (x / (1 + x * x) + std::atan(x)) / kPi;
}
double cdf4(double t) {
  const double s = 1 + t * t / 4;
  return 0.5 + 0.375 * (t / std::sqrt(s)) * (1 - t * t / (12 * s));
}

TEST(Stats, IncompleteBetaMatchesClosedForms) {
  for (double x : {0.01, 0.2, 0.5, 0.77, 0.99}) {
    EXPECT_NEAR(incomplete_beta(2.5, 1.0, x), std::pow(x, 2.5), 1e-13) << x;
    EXPECT_NEAR(incomplete_beta(1.0, 3.5, x), 1 - std::pow(1 - x, 3.5), 1e-13) << x;
    EXPECT_NEAR(incomplete_beta(0.5, 0.5, x), 2 / kPi * std::asin(std::sqrt(x)), 1e-12) << x;
  }
  EXPECT_EQ(incomplete_beta(2, 3, 0), 0);
  EXPECT_EQ(incomplete_beta(2, 3, 1), 1);
}

TEST(Stats, StudentTCdfMatchesClosedForms) {
  for (double t : {-12.0, -3.1, -1.0, -0.2, 0.0, 0.4, 1.5, 2.776, 7.0, 40.0}) {
    EXPECT_NEAR(student_t_cdf(t, 1), cdf1(t), 1e-12) << t;
    EXPECT_NEAR(student_t_cdf(t, 2), cdf2(t), 1e-12) << t;
    EXPECT_NEAR(student_t_cdf(t, 3), cdf3(t), 1e-12) << t;
    EXPECT_NEAR(student_t_cdf(t, 4), cdf4(t), 1e-12) << t;
  }
  // Large dof tends to the normal distribution: Φ(1.96) = 0.9750021048517795.
  EXPECT_NEAR(student_t_cdf(1.96, 1e7), 0.9750021048517795, 1e-6);
}

TEST(Stats, QuantilesMatchPublishedTables) {
  // Two-sided 95% critical values (any t table).
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.706204736174707, 1e-8);
  EXPECT_NEAR(student_t_quantile(0.975, 3), 3.182446305284263, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 4), 2.7764451051977987, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 9), 2.2621571627409915, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.025, 4), -2.7764451051977987, 1e-9);
}

TEST(Stats, SummaryIsMeanSampleStdAndTInterval) {
  const Summary s = summarize({0.40, 0.42, 0.39, 0.45, 0.41});
  EXPECT_EQ(s.n, 5u);
  EXPECT_NEAR(s.mean, 0.414, 1e-15);
  const double sd = std::sqrt(
      (0.014 * 0.014 + 0.006 * 0.006 + 0.024 * 0.024 + 0.036 * 0.036 + 0.004 * 0.004) / 4);
  EXPECT_NEAR(s.sd, sd, 1e-15);
  EXPECT_NEAR(s.ci_high - s.mean, 2.7764451051977987 * sd / std::sqrt(5.0), 1e-12);
  EXPECT_NEAR(s.mean - s.ci_low, 2.7764451051977987 * sd / std::sqrt(5.0), 1e-12);
  const Summary one = summarize({0.3});
  EXPECT_EQ(one.mean, 0.3);
  EXPECT_TRUE(std::isnan(one.sd));
  EXPECT_TRUE(std::isnan(summarize({}).mean));
}

TEST(Stats, PairedTTest) {
  // d = 0.02, 0.01, 0.03, 0.03, 0.01: mean 0.02, sd 0.01, t = 0.02 / (0.01/√5) = 2√5.
  const PairedTest r =
      paired_t_test({0.40, 0.42, 0.39, 0.45, 0.41}, {0.38, 0.41, 0.36, 0.42, 0.40});
  EXPECT_EQ(r.n, 5u);
  EXPECT_NEAR(r.mean_diff, 0.02, 1e-15);
  EXPECT_NEAR(r.t, 2 * std::sqrt(5.0), 1e-9);
  EXPECT_NEAR(r.p, 2 * (1 - cdf4(2 * std::sqrt(5.0))), 1e-12);
  EXPECT_NEAR(r.p, 0.0110565, 1e-6);
  const PairedTest same = paired_t_test({0.1, 0.2}, {0.1, 0.2});
  EXPECT_TRUE(std::isnan(same.p));
  const PairedTest shifted = paired_t_test({2.0, 3.0}, {1.0, 2.0});
  EXPECT_EQ(shifted.p, 0.0);
  EXPECT_TRUE(std::isnan(paired_t_test({0.1}, {0.2}).p));
}

}  // namespace
}  // namespace fersweep::report
