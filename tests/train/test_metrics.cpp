// Metrics on hand-made predictions, checked against hand computations.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "train/metrics.h"

namespace fersweep::train {
namespace {

TEST(Metrics, HandMadePredictions) {
  // truth:     0 0 0 0 1 1 1 2 2 2
  // predicted: 0 0 1 2 1 1 0 2 2 1
  const std::vector<std::int64_t> truth{0, 0, 0, 0, 1, 1, 1, 2, 2, 2};
  const std::vector<std::int64_t> pred{0, 0, 1, 2, 1, 1, 0, 2, 2, 1};
  const EvalMetrics m = evaluate(pred, truth, 3);
  EXPECT_EQ(m.confusion, (std::vector<std::int64_t>{2, 1, 1, 1, 2, 0, 0, 1, 2}));
  EXPECT_DOUBLE_EQ(m.accuracy, 0.6);
  // Recall: 2/4, 2/3, 2/3. Precision: 2/3, 2/4, 2/3. F1 = 2TP / (2TP + FP + FN).
  ASSERT_EQ(m.per_class_recall.size(), 3u);
  EXPECT_DOUBLE_EQ(m.per_class_recall[0], 0.5);
  EXPECT_DOUBLE_EQ(m.per_class_recall[1], 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.per_class_recall[2], 2.0 / 3);
  const double f1_0 = 4.0 / 7, f1_1 = 4.0 / 7, f1_2 = 4.0 / 6;
  EXPECT_NEAR(m.macro_f1, (f1_0 + f1_1 + f1_2) / 3, 1e-15);
}

TEST(Metrics, AbsentClassIsLeftOutOfMacroF1AndHasNoRecall) {
  // Class 3 appears nowhere; class 2 is only predicted (never true): F1 0, recall NaN.
  const std::vector<std::int64_t> truth{0, 0, 1, 1};
  const std::vector<std::int64_t> pred{0, 2, 1, 1};
  const EvalMetrics m = evaluate(pred, truth, 4);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.75);
  EXPECT_DOUBLE_EQ(m.per_class_recall[0], 0.5);
  EXPECT_DOUBLE_EQ(m.per_class_recall[1], 1.0);
  EXPECT_TRUE(std::isnan(m.per_class_recall[2]));
  EXPECT_TRUE(std::isnan(m.per_class_recall[3]));
  // F1: class 0 = 2/3, class 1 = 1, class 2 = 0; class 3 left out (as sklearn's default labels).
  EXPECT_NEAR(m.macro_f1, (2.0 / 3 + 1.0 + 0.0) / 3, 1e-15);
  std::int64_t total = 0;
  for (auto k : m.confusion) total += k;
  EXPECT_EQ(total, 4);
}

TEST(Metrics, PerfectAndEmpty) {
  const EvalMetrics m = evaluate({1, 0, 2}, {1, 0, 2}, 3);
  EXPECT_DOUBLE_EQ(m.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(m.macro_f1, 1.0);
  const EvalMetrics e = evaluate({}, {}, 3);
  EXPECT_DOUBLE_EQ(e.accuracy, 0.0);
  EXPECT_EQ(e.confusion.size(), 9u);
}

TEST(Metrics, BadInputsNameTheProblem) {
  try {
    evaluate({0, 1}, {0}, 2);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "evaluate: 2 predictions for 1 labels");
  }
  try {
    evaluate({0, 5}, {0, 1}, 3);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "evaluate: sample 1 has label 1 / prediction 5 outside [0, 3)");
  }
}

}  // namespace
}  // namespace fersweep::train
