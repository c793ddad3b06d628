// The progress ETA: remaining cost per kind at measured rates, over the parallelism seen.
#include <gtest/gtest.h>

#include "run/progress.h"

namespace fersweep::run {
namespace {

TEST(Eta, UnknownUntilSomethingFinished) {
  EXPECT_LT(estimate_eta({{TaskKind::extract, 100.0}}, {}, 10.0), 0);
  EXPECT_LT(estimate_eta({{TaskKind::extract, 100.0}}, {{TaskKind::extract, {0, 0}}}, 10.0), 0);
}

TEST(Eta, WeighsTasksByCostNotByCount) {
  // The paper sweep's shape: one extraction of 40 GFLOP finished in 20 s on one of two workers
  // (parallelism 20 task-s over 10 s of wall time = 2); three more extractions (120 GFLOP) and
  // 900 cheap training tasks (0.9 GFLOP in all) left. Counting tasks would say 903/1 x 10 s.
  const std::map<TaskKind, KindRate> measured = {{TaskKind::extract, {40.0, 20.0}}};
  const std::map<TaskKind, double> left = {{TaskKind::extract, 120.0}, {TaskKind::train, 0.9}};
  // 120 * 0.5 s/GFLOP + 0.9 * 0.5 (train takes the overall rate until one finishes) = 60.45 s
  // of task time, over parallelism 2.
  EXPECT_NEAR(estimate_eta(left, measured, 10.0), 60.45 / 2, 1e-9);
}

TEST(Eta, EachKindUsesItsOwnMeasuredRate) {
  const std::map<TaskKind, KindRate> measured = {{TaskKind::extract, {40.0, 20.0}},
                                                 {TaskKind::train, {1.0, 5.0}}};
  const std::map<TaskKind, double> left = {{TaskKind::extract, 40.0}, {TaskKind::train, 2.0}};
  // 40 * 0.5 + 2 * 5 = 30 s of task time; 25 task-s finished in 25 s: parallelism 1.
  EXPECT_DOUBLE_EQ(estimate_eta(left, measured, 25.0), 30.0);
  EXPECT_DOUBLE_EQ(estimate_eta({}, measured, 25.0), 0.0);
}

}  // namespace
}  // namespace fersweep::run
