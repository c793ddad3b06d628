// Stratified folds: the stratification bound, disjointness and cover, determinism in and across
// processes, and agreement with an independent Python implementation of the documented algorithm.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include <unistd.h>

#include "core/error.h"
#include "data/folds.h"
#include "data/random.h"
#include "test_util.h"

namespace fersweep::data {
namespace {
using namespace testing;

#define EXPECT_HAS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)

std::vector<int> make_labels(const std::vector<int>& counts) {
  std::vector<int> labels;
  // Interleaved, like a sorted manifest of several folders would not be: order must not matter.
  for (int round = 0;; ++round) {
    bool any = false;
    for (std::size_t c = 0; c < counts.size(); ++c)
      if (round < counts[c]) labels.push_back(static_cast<int>(c)), any = true;
    if (!any) break;
  }
  return labels;
}

void check_properties(const std::vector<int>& counts, int folds, std::uint64_t seed) {
  const auto labels = make_labels(counts);
  const auto assignment = stratified_fold_assignment(labels, folds, seed);
  ASSERT_EQ(assignment.size(), labels.size());
  std::vector<int> seen(labels.size(), 0);
  std::size_t smallest = labels.size(), largest = 0;
  for (int f = 0; f < folds; ++f) {
    const FoldSplit split = fold_split(assignment, f);
    EXPECT_EQ(split.train.size() + split.test.size(), labels.size());
    std::set<std::size_t> train(split.train.begin(), split.train.end());
    for (std::size_t i : split.test) {
      EXPECT_EQ(train.count(i), 0u) << "image " << i << " in train and test of fold " << f;
      ++seen[i];
    }
    EXPECT_TRUE(std::is_sorted(split.train.begin(), split.train.end()));
    std::vector<int> per_class(counts.size(), 0);
    for (std::size_t i : split.test) ++per_class[static_cast<std::size_t>(labels[i])];
    for (std::size_t c = 0; c < counts.size(); ++c) {
      const double share = static_cast<double>(counts[c]) / folds;
      EXPECT_LE(std::abs(per_class[c] - share), 1.0)
          << "class " << c << " fold " << f << ": " << per_class[c] << " vs share " << share;
    }
    smallest = std::min(smallest, split.test.size());
    largest = std::max(largest, split.test.size());
  }
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 1) << "image " << i;
  EXPECT_LE(largest - smallest, 1u) << "fold sizes should differ by at most one";
}

TEST(Folds, StratifiedDisjointAndCovering) {
  check_properties({100, 75, 100, 100, 100, 100, 100}, 5, 0);  // SFEW's course split
  check_properties({100, 75, 100, 100, 100, 100, 100}, 5, 12345);
  check_properties({7, 13, 3, 1, 22}, 5, 1);  // awkward sizes, a class smaller than k
  check_properties({9, 4}, 3, 99);
  check_properties({50, 50, 50}, 10, 7);
}

TEST(Folds, SeedsGiveRepeatableButDifferentFolds) {
  const auto labels = make_labels({100, 75, 100, 100, 100, 100, 100});
  EXPECT_EQ(stratified_fold_assignment(labels, 5, 3), stratified_fold_assignment(labels, 5, 3));
  EXPECT_NE(stratified_fold_assignment(labels, 5, 3), stratified_fold_assignment(labels, 5, 4));
}

TEST(Folds, BadArguments) {
  try {
    stratified_fold_assignment({0, 1, 0, 1}, 1, 0);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "cross-validation needs at least 2 folds, got 1");
  }
  try {
    stratified_fold_assignment({0, 1}, 5, 0);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "cannot split 2 images into 5 folds");
  }
  try {
    fold_split({0, 1, 2}, 3);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "fold 3 out of range (0..2)");
  }
}

TEST(Random, MatchesPublishedSplitmix64Output) {
  // splitmix64 from state 0: first output 0xE220A8397B1DCDAF (Vigna's reference code).
  std::uint64_t state = 0;
  EXPECT_EQ(splitmix64(state), 0xE220A8397B1DCDAFULL);
  Rng rng(42);
  for (int i = 0; i < 1000; ++i) {
    const auto v = rng.below(7);
    EXPECT_LT(v, 7u);
  }
}

// Helper mode, not a test: with FERSWEEP_FOLD_HELPER_OUT set, this program writes the SFEW-sized
// assignment for seed FERSWEEP_FOLD_HELPER_SEED there and exits before any test runs; the
// cross-process test below starts it twice that way.
[[maybe_unused]] const bool kFoldHelperMode = [] {
  const char* out = std::getenv("FERSWEEP_FOLD_HELPER_OUT");
  if (!out) return false;
  const auto seed = std::strtoull(std::getenv("FERSWEEP_FOLD_HELPER_SEED"), nullptr, 10);
  {
    std::ofstream os(out);
    for (int f :
         stratified_fold_assignment(make_labels({100, 75, 100, 100, 100, 100, 100}), 5, seed))
      os << f << "\n";
  }
  std::exit(0);
}();

std::string assignment_text(const std::vector<int>& a) {
  std::string s;
  for (int f : a) s += std::to_string(f) + "\n";
  return s;
}

TEST(Folds, SameInOtherProcessesAndInIndependentPython) {
  const fs::path dir = scratch_dir();
  const auto labels = make_labels({100, 75, 100, 100, 100, 100, 100});
  const std::string expected = assignment_text(stratified_fold_assignment(labels, 5, 2024));
  std::string out;
  for (int run = 0; run < 2; ++run) {
    const fs::path file = dir / ("helper" + std::to_string(run) + ".txt");
    const std::string cmd = "FERSWEEP_FOLD_HELPER_OUT=" + quoted(file) +
                            " FERSWEEP_FOLD_HELPER_SEED=2024 /proc/" + std::to_string(getpid()) +
                            "/exe > /dev/null";
    ASSERT_EQ(run_command(cmd, out), 0) << cmd;
    EXPECT_EQ(read_bytes(file), expected) << "run " << run;
  }
  {
    std::ofstream os(dir / "labels.txt");
    for (int l : labels) os << l << "\n";
  }
  const std::string py = std::string(FERSWEEP_PYTHON) + " " + FERSWEEP_TESTS_DIR +
                         "/data/folds_reference.py " + quoted(dir / "labels.txt") + " 5 2024";
  ASSERT_EQ(run_command(py, out), 0) << py;
  EXPECT_EQ(out, expected) << "the C++ folds differ from the documented algorithm";
  // Seeds above 2^63 go through the same unsigned arithmetic.
  const std::string py_big = std::string(FERSWEEP_PYTHON) + " " + FERSWEEP_TESTS_DIR +
                             "/data/folds_reference.py " + quoted(dir / "labels.txt") +
                             " 4 18446744073709551557";
  ASSERT_EQ(run_command(py_big, out), 0);
  EXPECT_EQ(out, assignment_text(stratified_fold_assignment(labels, 4, 18446744073709551557ULL)));
}

TEST(GroupFolds, SubjectsNeverSpanTwoFoldsAndEveryFoldIsFilled) {
  // 23 subjects with 3 to 12 samples each, 3 classes, in a scrambled order.
  std::vector<int> labels;
  std::vector<std::string> groups;
  Rng rng(7);
  for (int s = 0; s < 23; ++s) {
    const int n = 3 + static_cast<int>(rng.next() % 10);
    for (int k = 0; k < n; ++k) {
      labels.push_back(static_cast<int>(rng.next() % 3));
      groups.push_back("S" + std::to_string(100 + s));
    }
  }
  for (int folds : {2, 5, 10}) {
    const auto a = stratified_group_fold_assignment(labels, groups, folds, 11);
    std::map<std::string, std::set<int>> folds_of;
    std::vector<std::size_t> size(static_cast<std::size_t>(folds), 0);
    for (std::size_t i = 0; i < a.size(); ++i) {
      ASSERT_GE(a[i], 0);
      ASSERT_LT(a[i], folds);
      folds_of[groups[i]].insert(a[i]);
      ++size[static_cast<std::size_t>(a[i])];
    }
    for (const auto& [g, f] : folds_of) EXPECT_EQ(f.size(), 1u) << g << " in " << folds << " folds";
    for (std::size_t f = 0; f < size.size(); ++f) EXPECT_GT(size[f], 0u) << "fold " << f;
    // Balanced as whole subjects allow: no fold above twice the even share.
    for (std::size_t f = 0; f < size.size(); ++f)
      EXPECT_LE(size[f], 2 * labels.size() / static_cast<std::size_t>(folds) + 12) << f;
    EXPECT_EQ(a, stratified_group_fold_assignment(labels, groups, folds, 11));
  }
  // The seed changes the folds; the order of the samples does not change a subject's fold.
  EXPECT_NE(stratified_group_fold_assignment(labels, groups, 5, 11),
            stratified_group_fold_assignment(labels, groups, 5, 12));
  std::vector<int> rl(labels.rbegin(), labels.rend());
  std::vector<std::string> rg(groups.rbegin(), groups.rend());
  const auto forward = stratified_group_fold_assignment(labels, groups, 5, 11);
  const auto backward = stratified_group_fold_assignment(rl, rg, 5, 11);
  for (std::size_t i = 0; i < labels.size(); ++i)
    EXPECT_EQ(forward[i], backward[labels.size() - 1 - i]);
}

TEST(GroupFolds, FewerSubjectsThanFoldsNamesTheCounts) {
  try {
    stratified_group_fold_assignment({0, 1, 0, 1}, {"A", "A", "B", "C"}, 5, 0);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_HAS(e.what(), ("3 subjects cannot fill 5 subject-disjoint folds"));
  }
}

TEST(OfficialSplit, TestPartIsFoldZeroOthersLeftOut) {
  const std::vector<std::string> s{"Training", "PublicTest", "PrivateTest", "Training"};
  const auto a = official_split_assignment(s, "Training", "PrivateTest");
  EXPECT_EQ(a, (std::vector<int>{1, -1, 0, 1}));
  const auto split = fold_split(a, 0);
  EXPECT_EQ(split.train, (std::vector<std::size_t>{0, 3}));
  EXPECT_EQ(split.test, (std::vector<std::size_t>{2}));
  EXPECT_THROW(official_split_assignment(s, "Training", "Val"), DataError);
}

TEST(ValidationPart, StratifiedPerClassAndTheSameAsIndependentPython) {
  // A training fold of 4 folds out of 5: classes of 80, 60, 3, 1 and 2 samples, interleaved.
  const auto labels = make_labels({80, 60, 3, 1, 2});
  const auto part = validation_part(labels, {}, 0.2, validation_seed(7, 3));
  std::map<int, int> in_val, total;
  for (int l : labels) ++total[l];
  for (std::size_t i : part) ++in_val[labels.at(i)];
  // round(0.2 n) per class, at most n - 1: 16, 12, round(0.6) = 1, none of one, round(0.4) = 0.
  EXPECT_EQ(in_val, (std::map<int, int>{{0, 16}, {1, 12}, {2, 1}}));
  EXPECT_TRUE(std::is_sorted(part.begin(), part.end()));
  EXPECT_EQ(std::set<std::size_t>(part.begin(), part.end()).size(), part.size());
  // The same for every configuration of a fold; another fold or split seed sets aside others.
  EXPECT_EQ(validation_part(labels, {}, 0.2, validation_seed(7, 3)), part);
  EXPECT_NE(validation_part(labels, {}, 0.2, validation_seed(7, 2)), part);
  EXPECT_NE(validation_part(labels, {}, 0.2, validation_seed(8, 3)), part);
  // At half, a class of two keeps one training sample.
  const auto half = validation_part({0, 0, 1, 1, 1}, {}, 0.5, 1);
  EXPECT_EQ(half.size(), 3u);  // one of class 0, round(1.5) = 2 of class 1

  const fs::path dir = scratch_dir();
  {
    std::ofstream os(dir / "val_labels.txt");
    for (int l : labels) os << l << "\n";
  }
  for (const auto& [fraction, fold] : std::vector<std::pair<double, int>>{{0.2, 3}, {0.35, 0}}) {
    std::string expected, out;
    for (std::size_t i : validation_part(labels, {}, fraction, validation_seed(7, fold)))
      expected += std::to_string(i) + "\n";
    const std::string py = std::string(FERSWEEP_PYTHON) + " " + FERSWEEP_TESTS_DIR +
                           "/data/folds_reference.py " + quoted(dir / "val_labels.txt") + " val " +
                           std::to_string(fraction) + " 7 " + std::to_string(fold);
    ASSERT_EQ(run_command(py, out), 0) << py;
    EXPECT_EQ(out, expected) << "the validation part differs from the documented algorithm";
  }
}

TEST(ValidationPart, SubjectsStayOnOneSide) {
  std::vector<int> labels;
  std::vector<std::string> groups;
  Rng rng(11);
  for (int s = 0; s < 30; ++s)
    for (int k = 0; k < 4 + s % 5; ++k) {
      labels.push_back(static_cast<int>(rng.next() % 3));
      groups.push_back("S" + std::to_string(s));
    }
  const auto part = validation_part(labels, groups, 0.25, 5);
  std::set<std::string> val_subjects;
  for (std::size_t i : part) val_subjects.insert(groups[i]);
  std::set<std::size_t> in_part(part.begin(), part.end());
  for (std::size_t i = 0; i < labels.size(); ++i)
    EXPECT_EQ(in_part.count(i) == 1, val_subjects.count(groups[i]) == 1) << "subject " << groups[i];
  // One of round(1 / 0.25) = 4 subject-disjoint parts: about a quarter of the samples.
  const double share = static_cast<double>(part.size()) / static_cast<double>(labels.size());
  EXPECT_NEAR(share, 0.25, 0.05);
}

TEST(ValidationPart, BadFractionsAndTooLittleDataAreNamed) {
  EXPECT_THROW(validation_part({0, 1}, {}, 0.0, 1), ConfigError);
  EXPECT_THROW(validation_part({0, 1}, {}, 0.6, 1), ConfigError);
  try {
    validation_part({0, 1, 2}, {}, 0.2, 1);  // one sample per class: none can be set aside
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_HAS(e.what(), "sets aside no sample of a training fold of 3 samples");
  }
  try {
    validation_part({0, 1, 0, 1}, {"A", "A", "B", "C"}, 0.2, 1);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_HAS(e.what(), "1 of 5 subject-disjoint parts of the training fold, which has only 3");
  }
}

}  // namespace
}  // namespace fersweep::data
