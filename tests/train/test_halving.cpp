// Successive halving: the ranking rule by hand, and a bracket's outcome against independent
// uninterrupted runs of every head (its scores at the rungs decide; survivors' results equal
// uninterrupted ones bit for bit, stopped heads' equal runs to their rung).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "core/error.h"
#include "train/halving.h"
#include "train/train_fixtures.h"

namespace fersweep::train {
namespace {
using testing::fingerprint;
using testing::fold;
using testing::make_data;

TEST(Halving, RankingIsByScoreThenIdWithNanLast) {
  const std::vector<RungEntry> entries = {
      {"c", 0.5}, {"a", 0.7}, {"b", 0.5}, {"d", std::nan("")}, {"e", 0.9}};
  const RungDecision d = decide_rung(entries, {StopRule::halving, 2});
  std::vector<std::string> order;
  for (const auto& e : d.ranking) order.push_back(e.id);
  EXPECT_EQ(order, (std::vector<std::string>{"e", "a", "b", "c", "d"}));
  EXPECT_EQ(d.keep, 2u);                                              // 5 / 2
  EXPECT_EQ(decide_rung(entries, {StopRule::halving, 10}).keep, 1u);  // at least one continues
  EXPECT_EQ(decide_rung({{"x", 1}, {"y", 1}, {"z", 0}}, {StopRule::halving, 3}).ranking.front().id,
            "x");
}

// median: the scores at or above the median of the non-NaN ones continue (by hand: 0.9 0.7 0.5
// 0.5 -> median 0.6 keeps two; 0.9 0.7 0.5 0.5 0.4 -> median 0.5 keeps four, ties included).
TEST(Halving, MedianKeepsTheScoresAtOrAboveTheMedian) {
  const StopRule median{StopRule::median, 0};
  EXPECT_EQ(
      decide_rung({{"c", 0.5}, {"a", 0.7}, {"b", 0.5}, {"d", std::nan("")}, {"e", 0.9}}, median)
          .keep,
      2u);
  EXPECT_EQ(decide_rung({{"c", 0.5}, {"a", 0.7}, {"b", 0.5}, {"f", 0.4}, {"e", 0.9}}, median).keep,
            4u);
  EXPECT_EQ(decide_rung({{"x", 0.3}, {"y", 0.3}}, median).keep, 2u);
  EXPECT_EQ(decide_rung({{"x", std::nan("")}, {"y", std::nan("")}}, median).keep, 1u);
}

// Nine heads (three learning rates x three weight decays) of one bracket, rungs 2 and 4, eta 3:
// three continue past epoch 2, one past epoch 4, to epoch 8.
TEST(Halving, BracketFollowsTheValidationRankingOfUninterruptedRuns) {
  const int n = 150, c = 3;
  auto data = make_data(n, 24, c, 0.35, 5);
  std::vector<std::size_t> train, test, val, fit;
  fold(n, 5, 1, train, test);
  for (std::size_t k = 0; k < train.size(); ++k) (k % 4 == 0 ? val : fit).push_back(train[k]);
  std::vector<BracketJob> jobs;
  for (double lr : {0.1, 0.01, 0.001})
    for (double wd : {0.0, 0.001, 0.05}) {
      BracketJob j;
      j.id = "task" + std::to_string(jobs.size() * 7 % 9);  // ids not in job order
      j.job.train_idx = fit;
      j.job.test_idx = test;
      j.job.val_idx = val;
      j.job.config.lr = lr;
      j.job.config.weight_decay = wd;
      j.job.config.batch_size = 16;
      j.job.config.rng_seed = 100 + jobs.size();
      j.job.config.eval_epochs = {2, 4, 8};
      jobs.push_back(j);
    }
  std::vector<TrainResult> whole;
  for (const auto& j : jobs)
    whole.push_back(train_head(data.x, data.y, j.job.train_idx, j.job.test_idx, c, j.job.config, {},
                               j.job.val_idx));
  // The expected decisions, from the uninterrupted runs' validation accuracy.
  std::vector<std::size_t> alive(jobs.size());
  std::iota(alive.begin(), alive.end(), std::size_t{0});
  std::map<std::size_t, int> stopped;
  for (auto [rung, eval] : std::vector<std::pair<int, int>>{{2, 0}, {4, 1}}) {
    std::sort(alive.begin(), alive.end(), [&](std::size_t a, std::size_t b) {
      const double sa = whole[a].val_evals[eval].accuracy, sb = whole[b].val_evals[eval].accuracy;
      return sa != sb ? sa > sb : jobs[a].id < jobs[b].id;
    });
    const std::size_t keep = std::max<std::size_t>(1, alive.size() / 3);
    for (std::size_t k = keep; k < alive.size(); ++k) stopped[alive[k]] = rung;
    alive.resize(keep);
  }
  ASSERT_EQ(alive.size(), 1u);

  const auto out = train_bracket(data.x, data.y, jobs, c, {2, 4}, {StopRule::halving, 3}, false);
  ASSERT_EQ(out.size(), jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const int stop = stopped.count(i) ? stopped[i] : 0;
    EXPECT_EQ(out[i].stopped_at, stop) << jobs[i].id;
    // Its results: the uninterrupted run's, up to where it stopped.
    TrainResult expected = whole[i];
    const std::size_t evals = stop == 0 ? 3 : stop == 2 ? 1 : 2;
    expected.evals.resize(evals);
    expected.val_evals.resize(evals);
    expected.train_loss.resize(stop == 0 ? 8 : stop);
    expected.train_accuracy.resize(expected.train_loss.size());
    EXPECT_EQ(fingerprint(out[i].result), fingerprint(expected)) << jobs[i].id;
    ASSERT_EQ(out[i].result.val_evals.size(), evals) << jobs[i].id;
    for (std::size_t e = 0; e < evals; ++e)
      EXPECT_EQ(fingerprint(out[i].result.val_evals[e]), fingerprint(expected.val_evals[e]));
    // Its records: ranked among 9 at epoch 2 (3 kept), and among 3 at epoch 4 if it got there.
    ASSERT_EQ(out[i].rungs.size(), stop == 2 ? 1u : 2u) << jobs[i].id;
    EXPECT_EQ(out[i].rungs[0].of, 9u);
    EXPECT_EQ(out[i].rungs[0].kept, 3u);
    EXPECT_EQ(out[i].rungs[0].score, whole[i].val_evals[0].accuracy);
    if (stop != 2) EXPECT_EQ(out[i].rungs[1].of, 3u);
  }
  EXPECT_EQ(out[alive[0]].rungs[1].rank, 1u);
  // median at rung 2: the heads whose uninterrupted validation accuracy there is below the median
  // of the nine stop; the others (five or more) go on to rung 4 or beyond.
  std::vector<double> at2;
  for (const auto& w : whole) at2.push_back(w.val_evals[0].accuracy);
  std::vector<double> sorted_at2 = at2;
  std::sort(sorted_at2.begin(), sorted_at2.end());
  const auto by_median = train_bracket(data.x, data.y, jobs, c, {2}, {StopRule::median, 0}, false);
  for (std::size_t i = 0; i < jobs.size(); ++i)
    EXPECT_EQ(by_median[i].stopped_at, at2[i] < sorted_at2[4] ? 2 : 0) << jobs[i].id;
  // Without a validation part there is nothing to rank by.
  std::vector<BracketJob> blind = jobs;
  blind[3].job.val_idx.clear();
  EXPECT_THROW(train_bracket(data.x, data.y, blind, c, {2, 4}, {StopRule::halving, 3}, false),
               ConfigError);
}

}  // namespace
}  // namespace fersweep::train
