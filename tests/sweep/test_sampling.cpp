// Sampled search spaces: distributions parsed with their errors, values at the ends of [0, 1),
// Sobol points against SciPy's (ref_sobol.py), the scramble's balance, purity, and
// Kolmogorov-Smirnov tests of 10,000 sampled values against their distributions.
#include "sweep/sampling.h"

#include "sweep/plan.h"
#include "sweep/spec.h"
#include "sweep_test_util.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

namespace fersweep::sweep {
namespace {

Distribution parsed(const std::string& text) {
  auto d = parse_distribution(text);
  if (auto* error = std::get_if<std::string>(&d)) ADD_FAILURE() << text << ": " << *error;
  return std::get_if<Distribution>(&d) ? std::get<Distribution>(d) : Distribution{};
}

std::string error_of(const std::string& text) {
  auto d = parse_distribution(text);
  return std::holds_alternative<std::string>(d) ? std::get<std::string>(d) : "no error";
}

// Kolmogorov-Smirnov distance between `xs` and the continuous distribution function `cdf`.
double ks_distance(std::vector<double> xs, const std::function<double(double)>& cdf) {
  std::sort(xs.begin(), xs.end());
  const auto n = static_cast<double>(xs.size());
  double d = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double f = cdf(xs[i]);
    d = std::max({d, std::abs(f - static_cast<double>(i) / n),
                  std::abs(f - static_cast<double>(i + 1) / n)});
  }
  return d;
}

TEST(Sampling, DistributionsParseAndRefuseByMessage) {
  const Distribution lu = parsed("loguniform(1e-4, 1e-1)");
  EXPECT_EQ(lu.kind, Distribution::Kind::loguniform);
  EXPECT_EQ(lu.lo, 1e-4);
  EXPECT_EQ(lu.hi, 1e-1);
  EXPECT_EQ(parsed(" uniform( 0 ,0.3 ) ").hi, 0.3);
  EXPECT_EQ(parsed("int(16, 256)").kind, Distribution::Kind::integer);
  EXPECT_EQ(parsed("choice(adam, sgd)").choices, (std::vector<std::string>{"adam", "sgd"}));
  EXPECT_EQ(error_of("loguniform(0, 1)"),
            "loguniform(0, 1): loguniform needs a > 0 (it is uniform in log a .. log b)");
  EXPECT_EQ(error_of("uniform(2, 1)"), "uniform(2, 1): a must be below b");
  EXPECT_EQ(error_of("uniform(1, 1)"), "uniform(1, 1): a must be below b");
  EXPECT_EQ(error_of("int(1.5, 3)"), "int(1.5, 3): int takes whole numbers");
  EXPECT_EQ(error_of("int(4, 3)"), "int(4, 3): a must be at most b");
  EXPECT_EQ(error_of("uniform(-1e308, 1e308)"),
            "uniform(-1e308, 1e308): b - a is not a finite number");
  EXPECT_EQ(error_of("choice()"), "choice() is empty: give at least one value");
  EXPECT_EQ(error_of("choice(a, , b)"), "choice(a, , b): an empty value");
  EXPECT_EQ(error_of("uniform(1, 2, 3)"),
            "uniform(1, 2, 3): uniform takes two numbers (a, b), got 3");
  EXPECT_EQ(error_of("uniform(x, 2)"), "uniform(x, 2): 'x' is not a finite number");
  EXPECT_EQ(error_of("normal(0, 1)"),
            "'normal(0, 1)' is not a distribution: give uniform(a, b), loguniform(a, b), "
            "int(a, b) or choice(x, y, ...)");
  EXPECT_EQ(error_of("0.1"),
            "'0.1' is not a distribution: give uniform(a, b), loguniform(a, b), int(a, b) or "
            "choice(x, y, ...)");
}

TEST(Sampling, ValuesStayInsideTheirRanges) {
  const double almost_one = std::nextafter(1.0, 0.0);
  const Distribution u = parsed("uniform(0.5, 2)");
  EXPECT_EQ(value_at(u, 0.0), 0.5);
  EXPECT_EQ(value_at(u, 0.5), 1.25);
  EXPECT_LT(value_at(u, almost_one).get<double>(), 2.0);
  const Distribution lu = parsed("loguniform(1e-4, 1e-2)");
  EXPECT_NEAR(value_at(lu, 0.0).get<double>(), 1e-4, 1e-18);  // exp(log a): a within rounding
  EXPECT_NEAR(value_at(lu, 0.5).get<double>(), 1e-3, 1e-15);
  EXPECT_LT(value_at(lu, almost_one).get<double>(), 1e-2);
  const Distribution i = parsed("int(1, 3)");
  EXPECT_EQ(value_at(i, 0.0), 1);
  EXPECT_EQ(value_at(i, 0.34), 2);
  EXPECT_EQ(value_at(i, almost_one), 3);
  EXPECT_EQ(value_at(parsed("int(-2, -2)"), 0.7), -2);
  const Distribution c = parsed("choice(adam, adamw, sgd)");
  EXPECT_EQ(value_at(c, 0.0), "adam");
  EXPECT_EQ(value_at(c, 0.5), "adamw");
  EXPECT_EQ(value_at(c, almost_one), "sgd");
}

// The unscrambled sequence is SciPy's, point for point, in 12 dimensions (2^10 points).
TEST(Sampling, SobolPointsAreSciPys) {
  constexpr int kDims = 12, kN = 1024;
  const auto out = std::filesystem::path(FERSWEEP_TEST_TMP) / "sobol_ref.txt";
  std::filesystem::create_directories(out.parent_path());
  const std::string cmd = fmt::format("{} {}/sweep/ref_sobol.py {} {} {}", FERSWEEP_PYTHON,
                                      FERSWEEP_TESTS_DIR, kDims, kN, out.string());
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(out);
  PointSampler sobol(SearchMethod::sobol, 0, kDims);
  for (int i = 0; i < kN; ++i) {
    const auto bits = sobol.sobol_bits(static_cast<std::uint64_t>(i));
    for (int d = 0; d < kDims; ++d) {
      std::uint64_t expected = 0;
      ASSERT_TRUE(in >> expected) << "point " << i;
      ASSERT_EQ(bits[d] >> 34, expected) << "point " << i << ", dimension " << d;
      ASSERT_EQ(bits[d] & ((std::uint64_t{1} << 34) - 1), 0u);  // dyadic with at most 30 bits
    }
  }
  // Joe and Kuo's first points in three dimensions.
  EXPECT_EQ(sobol.sobol_bits(1)[2], std::uint64_t{1} << 63);  // 0.5
  PointSampler three(SearchMethod::sobol, 0, 3);
  EXPECT_EQ(three.sobol_bits(4),
            (std::vector<std::uint64_t>{std::uint64_t{3} << 61, std::uint64_t{3} << 61,
                                        std::uint64_t{5} << 61}));
}

// Scrambled: still one point in each 2^-m slice of every axis among the first 2^m points, other
// seeds give other points, and point i does not depend on what was asked before.
TEST(Sampling, ScrambledSobolKeepsItsBalanceAndIsPure) {
  constexpr int kDims = 5, kM = 10;
  PointSampler a(SearchMethod::sobol, 7, kDims);
  std::vector<std::set<int>> slices(kDims);
  std::vector<std::vector<double>> forward;
  for (int i = 0; i < (1 << kM); ++i) {
    forward.push_back(a.point(static_cast<std::uint64_t>(i)));
    for (int d = 0; d < kDims; ++d) {
      const double u = forward.back()[d];
      ASSERT_TRUE(u >= 0 && u < 1) << u;
      slices[d].insert(static_cast<int>(u * (1 << kM)));
    }
  }
  for (int d = 0; d < kDims; ++d) EXPECT_EQ(slices[d].size(), 1u << kM) << "dimension " << d;
  PointSampler b(SearchMethod::sobol, 7, kDims);
  for (int i = (1 << kM) - 1; i >= 0; i -= 37)
    EXPECT_EQ(b.point(static_cast<std::uint64_t>(i)), forward[static_cast<std::size_t>(i)]);
  PointSampler other(SearchMethod::sobol, 8, kDims);
  EXPECT_NE(other.point(0), forward[0]);  // the origin is scrambled too
  EXPECT_NE(other.point(5), forward[5]);
}

TEST(Sampling, RandomPointsArePureAndUniform) {
  PointSampler a(SearchMethod::random, 3, 2), b(SearchMethod::random, 3, 2);
  EXPECT_EQ(a.point(9999), b.point(9999));
  EXPECT_EQ(a.point(17), b.point(17));
  EXPECT_NE(a.point(17), PointSampler(SearchMethod::random, 4, 2).point(17));
  // Growing the space by a dimension keeps the first coordinates of every point.
  EXPECT_EQ(PointSampler(SearchMethod::random, 3, 3).point(17)[1], a.point(17)[1]);
}

// 10,000 values of each distribution from both methods: D below the 1% critical value of the
// Kolmogorov-Smirnov test (1.63 / sqrt(n)); integers and choices by their frequencies.
TEST(Sampling, SampledValuesFollowTheirDistributions) {
  constexpr int kN = 10000;
  const double critical = 1.63 / std::sqrt(static_cast<double>(kN));
  const Distribution lu = parsed("loguniform(1e-5, 1e-1)");
  const Distribution u = parsed("uniform(-1, 3)");
  const Distribution k = parsed("int(1, 4)");
  const Distribution c = parsed("choice(a, b, c)");
  for (SearchMethod method : {SearchMethod::random, SearchMethod::sobol}) {
    PointSampler sampler(method, 11, 4);
    std::vector<double> logs, uniforms;
    std::vector<int> ints(5, 0);
    std::map<std::string, int> choices;
    for (int i = 0; i < kN; ++i) {
      const auto p = sampler.point(static_cast<std::uint64_t>(i));
      logs.push_back(std::log10(value_at(lu, p[0]).get<double>()));
      uniforms.push_back(value_at(u, p[1]).get<double>());
      ++ints.at(value_at(k, p[2]).get<std::size_t>());
      ++choices[value_at(c, p[3]).get<std::string>()];
    }
    const std::string name = method == SearchMethod::sobol ? "sobol" : "random";
    EXPECT_LT(ks_distance(logs, [](double x) { return (x + 5) / 4; }), critical) << name;
    EXPECT_LT(ks_distance(uniforms, [](double x) { return (x + 1) / 4; }), critical) << name;
    EXPECT_EQ(ints[0], 0) << name;
    for (int v = 1; v <= 4; ++v) EXPECT_NEAR(ints[v], kN / 4, 200) << name << " int " << v;
    for (const char* v : {"a", "b", "c"}) EXPECT_NEAR(choices[v], kN / 3, 200) << name << " " << v;
  }
}

// --- sampled sweep files (search: and space:) ---

Plan plan_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return plan_sweep(parse_sweep(text, "t.yaml", overrides));
}

constexpr const char* kSampled =
    "dataset: {root: d}\n"
    "search: {method: sobol, samples: 16, seed: 3}\n"
    "space:\n  lr: loguniform(1e-4, 1e-1)\n  optimizer: choice(adam, sgd)\n"
    "  batch_size: int(16, 64)\n"
    "grid: {backbone: [resnet18, resnet50], epochs: [10, 20]}\n";

TEST(SampledSweeps, EveryBadValueIsReportedWithItsPosition) {
  EXPECT_EQ(testing::config_error("dataset: {root: d}\n"
                                  "search: {method: sobol, samples: 0}\n"
                                  "space:\n"
                                  "  lr: loguniform(0, 1)\n"
                                  "  weight_decay: uniform(2, 1)\n"
                                  "  batch_size: int(1.5, 3)\n"
                                  "  optimizer: choice()\n"
                                  "  backbone: choice(resnet18)\n"
                                  "  momentum: uniform(0.5, 1.5)\n"
                                  "  head: uniform(0, 1)\n"
                                  "  epochs: int(1, 9)\n"
                                  "grid: {backbone: resnet18}\n"),
            "invalid sweep file t.yaml (9 errors):\n"
            "  t.yaml:2:34: search.samples: must be between 1 and 10000000, got 0\n"
            "  t.yaml:4:7: space.lr: loguniform(0, 1): loguniform needs a > 0 (it is uniform in "
            "log a .. log b)\n"
            "  t.yaml:5:17: space.weight_decay: uniform(2, 1): a must be below b\n"
            "  t.yaml:6:15: space.batch_size: int(1.5, 3): int takes whole numbers\n"
            "  t.yaml:7:14: space.optimizer: choice() is empty: give at least one value\n"
            "  t.yaml:8:3: space.backbone: backbone is also a grid key: sample it or list it, not "
            "both\n"
            "  t.yaml:9:13: space.momentum: must be in [0, 1), got 1.5\n"
            "  t.yaml:10:9: space.head: head cannot take uniform(0, 1): list its values with "
            "choice(...)\n"
            "  t.yaml:11:3: space.epochs: 'epochs' cannot be sampled (keys: backbone, variant, "
            "weights, image_size, normalize, head, hidden, optimizer, lr, weight_decay, momentum, "
            "batch_size, standardize, label_smoothing, seed, finetune, bn, backbone_lr, schedule, "
            "lr_horizon, lr_step, lr_gamma, augment)");
  EXPECT_EQ(testing::config_error("dataset: {root: d}\nsearch: {method: random}\n"
                                  "grid: {backbone: resnet18}\n"),
            "invalid sweep file t.yaml (2 errors):\n"
            "  t.yaml:2:1: search.samples: method random needs `samples: N`, the number of "
            "points\n"
            "  t.yaml:2:1: search: method random samples a space: add `space:` with at least one "
            "key, e.g. `lr: loguniform(1e-4, 1e-1)`");
  // A distribution inside a flow map is cut at its comma by YAML: said so, for both halves.
  EXPECT_EQ(testing::config_error("dataset: {root: d}\nspace: {lr: uniform(0.1, 0.2)}\n"
                                  "grid: {backbone: resnet18}\n"),
            "invalid sweep file t.yaml (3 errors):\n"
            "  t.yaml:2:1: space: a space is sampled by `search: {method: random | sobol, "
            "samples: N}`; without it, list the values under grid:\n"
            "  t.yaml:2:13: space.lr: 'uniform(0.1': a distribution cut at its comma: inside "
            "{...} YAML splits there; quote it (lr: \"uniform(0.1, 0.2)\") or write space: one "
            "key per line\n"
            "  t.yaml:2:26: space.0.2): a distribution cut at its comma: inside {...} YAML splits "
            "there; quote it (lr: \"uniform(0.1, 0.2)\") or write space: one key per line");
  // Quoted, it is one value; momentum below its open bound 1 is valid.
  EXPECT_EQ(
      testing::config_error("dataset: {root: d}\nsearch: {method: random, samples: 4}\n"
                            "space: {lr: \"uniform(0.1, 0.2)\", momentum: \"uniform(0, 1)\"}\n"
                            "grid: {backbone: resnet18}\n"),
      "");
}

TEST(SampledSweeps, PointsAreTasksAndStayWhenSamplesGrow) {
  const Plan p = plan_of(kSampled);
  // 16 points x 2 backbones x 5 folds; epochs merge.
  ASSERT_EQ(p.trains.size(), 160u);
  EXPECT_EQ(p.combinations, 16u * 2 * 5 * 2);
  std::set<double> lrs;
  std::set<std::string> ids;
  for (const auto& t : p.trains) {
    const auto params = t.params();
    const double lr = params["lr"];
    EXPECT_TRUE(lr >= 1e-4 && lr < 1e-1) << lr;
    const std::int64_t bs = params["batch_size"];
    EXPECT_TRUE(bs >= 16 && bs <= 64) << bs;
    EXPECT_EQ(params.contains("momentum"), params["optimizer"] == "sgd");
    lrs.insert(lr);
    ids.insert(t.id);
  }
  EXPECT_EQ(lrs.size(), 16u);
  // 64 points: the first 16 are the same tasks.
  const Plan grown = plan_of(kSampled, {"search.samples=64"});
  ASSERT_EQ(grown.trains.size(), 640u);
  std::size_t kept = 0;
  for (const auto& t : grown.trains) kept += ids.count(t.id);
  EXPECT_EQ(kept, ids.size());
  // Another seed, other points; random instead of Sobol, other points.
  std::size_t shared = 0;
  for (const auto& t : plan_of(kSampled, {"search.seed=4"}).trains) shared += ids.count(t.id);
  EXPECT_EQ(shared, 0u);
  shared = 0;
  for (const auto& t : plan_of(kSampled, {"search.method=random"}).trains)
    shared += ids.count(t.id);
  EXPECT_EQ(shared, 0u);
}

// A runaway search is refused from its size before any point is drawn.
TEST(SampledSweeps, RunawaySearchesAreRefusedBeforeSampling) {
  EXPECT_EQ(testing::config_error(kSampled, {"search.samples=10000000"}),
            "invalid sweep file t.yaml (1 error):\n  t.yaml:7:1: grid: 2e+08 combinations (with "
            "epochs and repeats) is more than fersweep plans (50000000); split the sweep or "
            "shrink an axis");
}

TEST(SampledSweeps, IncludesAreExplicitConfigurations) {
  const Plan p = plan_of(std::string(kSampled) +
                         "include: [{backbone: resnet34, lr: 0.01, fold: 0, epochs: 5}]\n");
  std::size_t r34 = 0;
  for (const auto& t : p.trains) {
    if (t.params()["backbone"] != "resnet34") continue;
    ++r34;
    EXPECT_EQ(t.params()["lr"], 0.01);
    EXPECT_EQ(t.params()["batch_size"], 256);  // train's, not sampled
  }
  EXPECT_EQ(r34, 1u);
}

}  // namespace
}  // namespace fersweep::sweep
