// Scheduler: dependency order, heavy-first dispatch, batching by feature set, locality, retries on
// another worker, failure propagation.
#include "run/scheduler.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace fersweep::run {
namespace {

TaskSpec task(const std::string& id, TaskKind kind, std::vector<std::string> deps = {},
              std::string features = "", double cost = 1) {
  TaskSpec t;
  t.id = id;
  t.kind = kind;
  t.deps = std::move(deps);
  t.features = std::move(features);
  t.cost = cost;
  return t;
}

std::vector<std::string> ids(const std::vector<const TaskSpec*>& tasks) {
  std::vector<std::string> out;
  for (const auto* t : tasks) out.push_back(t->id);
  return out;
}

// crop c → extract e1 (variant) ; extract e0 (original); train t0a,t0b on e0; t1a on e1.
std::vector<TaskSpec> dag() {
  return {
      task("c", TaskKind::crop, {}, "", 5),          task("e0", TaskKind::extract, {}, "", 100),
      task("e1", TaskKind::extract, {"c"}, "", 100), task("t0a", TaskKind::train, {"e0"}, "e0"),
      task("t0b", TaskKind::train, {"e0"}, "e0"),    task("t1a", TaskKind::train, {"e1"}, "e1")};
}

TEST(Scheduler, HeavyFirstThenDependentsThenTrainingBatchedByFeatures) {
  Scheduler s(dag(), 0);
  EXPECT_EQ(ids(s.next_for(1, {}, 8)), (std::vector<std::string>{"e0"}));  // costliest ready
  EXPECT_EQ(ids(s.next_for(2, {}, 8)), (std::vector<std::string>{"c"}));
  EXPECT_TRUE(s.next_for(3, {}, 8).empty());  // the rest waits on dependencies
  s.complete("e0", true, 1);
  EXPECT_EQ(ids(s.next_for(1, {}, 8)), (std::vector<std::string>{"t0a", "t0b"}));
  s.complete("c", true, 2);
  EXPECT_EQ(ids(s.next_for(2, {}, 8)), (std::vector<std::string>{"e1"}));
  s.complete("e1", true, 2);
  s.complete("t0a", true, 1);
  s.complete("t0b", true, 1);
  EXPECT_EQ(ids(s.next_for(2, {}, 8)), (std::vector<std::string>{"t1a"}));
  EXPECT_FALSE(s.finished());
  s.complete("t1a", true, 2);
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.done_count(), 6u);
}

TEST(Scheduler, TrainingGoesToTheWorkerHoldingItsFeatures) {
  std::vector<TaskSpec> tasks;
  for (int g = 0; g < 3; ++g) {
    for (int i = 0; i < 4; ++i) {
      tasks.push_back(task("t" + std::to_string(g) + std::to_string(i), TaskKind::train, {},
                           "f" + std::to_string(g)));
    }
  }
  Scheduler s(tasks, 0);
  const auto batch = s.next_for(1, {"f2"}, 3);
  ASSERT_EQ(batch.size(), 3u);
  for (const auto* t : batch) EXPECT_EQ(t->features, "f2");
}

// Fine-tuning tasks (TaskSpec::alone) go out one at a time, costliest first, so that the last
// long tasks are spread over the workers instead of queued on one.
TEST(Scheduler, LongTasksGoOutOneAtATimeCostliestFirst) {
  std::vector<TaskSpec> tasks;
  for (auto [id, cost] :
       std::vector<std::pair<std::string, double>>{{"a", 3}, {"b", 9}, {"c", 1}, {"d", 9}}) {
    tasks.push_back(task(id, TaskKind::train, {}, "act", cost));
    tasks.back().alone = true;
  }
  Scheduler s(tasks, 1);
  EXPECT_EQ(ids(s.next_for(1, {"act"}, 16)), (std::vector<std::string>{"b"}));  // ties: index
  EXPECT_EQ(ids(s.next_for(2, {}, 16)), (std::vector<std::string>{"d"}));
  EXPECT_TRUE(s.complete("d", false, 2));  // retried, preferably elsewhere
  EXPECT_EQ(ids(s.next_for(2, {}, 16)), (std::vector<std::string>{"a"}));
  EXPECT_EQ(ids(s.next_for(1, {}, 16)), (std::vector<std::string>{"d"}));
  EXPECT_EQ(ids(s.next_for(2, {}, 16)), (std::vector<std::string>{"c"}));
}

// early_stop: a bracket's tasks go out together, past max_batch (its decisions need all of them),
// and a failed bracket comes back whole; other tasks of the feature set are batched as usual.
TEST(Scheduler, BracketsGoOutWhole) {
  std::vector<TaskSpec> tasks;
  for (int k = 0; k < 5; ++k) {
    tasks.push_back(task("a" + std::to_string(k), TaskKind::train, {}, "f"));
    tasks.back().bracket = "f|0|0";
  }
  for (int k = 0; k < 3; ++k) {
    tasks.push_back(task("b" + std::to_string(k), TaskKind::train, {}, "f"));
    tasks.back().bracket = "f|1|0";
  }
  Scheduler s(tasks, 1);
  EXPECT_EQ(ids(s.next_for(1, {}, 2)), (std::vector<std::string>{"a0", "a1", "a2", "a3", "a4"}));
  EXPECT_EQ(ids(s.next_for(2, {}, 2)), (std::vector<std::string>{"b0", "b1", "b2"}));
  for (int k = 0; k < 3; ++k) EXPECT_TRUE(s.complete("b" + std::to_string(k), false, 2));
  EXPECT_EQ(ids(s.next_for(1, {}, 1)), (std::vector<std::string>{"b0", "b1", "b2"}));
}

TEST(Scheduler, FailedTaskIsRetriedOnAnotherWorkerThenGivesUpAndFailsDependents) {
  Scheduler s({task("e", TaskKind::extract), task("x", TaskKind::extract),
               task("t", TaskKind::train, {"e"}, "e")},
              1);
  ASSERT_EQ(ids(s.next_for(1, {}, 8)), (std::vector<std::string>{"e"}));
  EXPECT_TRUE(s.complete("e", false, 1));  // retry
  // Worker 1 failed "e": it gets "x" first; "e" goes to worker 2.
  EXPECT_EQ(ids(s.next_for(1, {}, 8)), (std::vector<std::string>{"x"}));
  EXPECT_EQ(ids(s.next_for(2, {}, 8)), (std::vector<std::string>{"e"}));
  EXPECT_FALSE(s.complete("e", false, 2));  // out of retries
  EXPECT_EQ(s.state("e"), Scheduler::State::failed);
  EXPECT_EQ(s.state("t"), Scheduler::State::failed);
  s.complete("x", true, 1);
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.failed_ids(), (std::vector<std::string>{"e", "t"}));
  EXPECT_EQ(s.attempts("e"), 2);
}

TEST(Scheduler, ResumedTasksAreSkippedAndUnlockDependents) {
  Scheduler s(dag(), 0);
  s.mark_done("e0");
  s.mark_done("c");
  auto first = ids(s.next_for(1, {}, 8));
  EXPECT_EQ(first, (std::vector<std::string>{"e1"}));
  auto second = ids(s.next_for(1, {"e0"}, 8));
  EXPECT_EQ(second, (std::vector<std::string>{"t0a", "t0b"}));
  EXPECT_EQ(s.done_count(), 2u);
}

TEST(Scheduler, DuplicateOrUnknownIdsAreInternalErrors) {
  EXPECT_THROW(Scheduler({task("a", TaskKind::crop), task("a", TaskKind::crop)}, 0), InternalError);
  EXPECT_THROW(Scheduler({task("a", TaskKind::crop, {"zz"})}, 0), InternalError);
}

}  // namespace
}  // namespace fersweep::run
