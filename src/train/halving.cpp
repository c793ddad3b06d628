// Successive halving over a bracket of heads (algorithm in halving.h and docs/sweep-files.md).
#include "train/halving.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "core/error.h"

namespace fersweep::train {

namespace {

// How many of `ranked` (best first, NaN last) score at least the median of the non-NaN scores.
std::size_t at_or_above_median(const std::vector<RungEntry>& ranked) {
  std::vector<double> scores;
  for (const auto& e : ranked)
    if (!std::isnan(e.score)) scores.push_back(e.score);
  if (scores.empty()) return 0;
  const std::size_t n = scores.size();  // descending already
  const double median = n % 2 ? scores[n / 2] : (scores[n / 2 - 1] + scores[n / 2]) / 2;
  return static_cast<std::size_t>(
      std::count_if(scores.begin(), scores.end(), [&](double s) { return s >= median; }));
}

// A head's progress through the bracket.
struct Runner {
  const BracketJob* job = nullptr;
  std::optional<HeadState> state;  ///< after the epoch it reached
  int reached = 0;
  bool alive = true;
};

int last_epoch_of(const HeadJob& job) {
  return job.config.eval_epochs.back();
}

}  // namespace

RungDecision decide_rung(std::vector<RungEntry> entries, const StopRule& rule) {
  FERSWEEP_ASSERT(rule.method == StopRule::median || rule.eta >= 2, "halving needs eta >= 2");
  std::sort(entries.begin(), entries.end(), [](const RungEntry& a, const RungEntry& b) {
    const bool a_nan = std::isnan(a.score), b_nan = std::isnan(b.score);
    if (a_nan != b_nan) return b_nan;
    if (!a_nan && a.score != b.score) return a.score > b.score;
    return a.id < b.id;
  });
  RungDecision d;
  d.keep = std::max<std::size_t>(1, rule.method == StopRule::median
                                        ? at_or_above_median(entries)
                                        : entries.size() / static_cast<std::size_t>(rule.eta));
  d.ranking = std::move(entries);
  return d;
}

namespace {

// Trains `r` from where it is to `epoch` (one of its evaluation epochs), keeping its state.
void advance(Runner& r, const at::Tensor& x, const at::Tensor& y, int classes, int epoch,
             HeadParams* final_params) {
  const HeadJob& job = r.job->job;
  HeadConfig cfg = job.config;
  const auto& all = job.config.eval_epochs;
  if (std::find(all.begin(), all.end(), epoch) == all.end())
    throw InternalError(
        fmt::format("task {}: rung {} is not among its evaluated epochs", r.job->id, epoch));
  cfg.eval_epochs.assign(all.begin(), std::upper_bound(all.begin(), all.end(), epoch));
  RunControl control;
  HeadState next;
  if (r.state) control.resume = &*r.state;
  control.final_state = &next;
  control.final_params = final_params;
  train_head(x, y, job.train_idx, job.test_idx, classes, cfg, control, job.val_idx);
  r.state = std::move(next);
  r.reached = epoch;
}

// Advances every alive runner not yet at its target (min(rung, its last epoch)), in parallel.
void advance_all(std::vector<Runner>& runners, const at::Tensor& x, const at::Tensor& y,
                 int classes, int rung, std::vector<BracketOutcome>& out, bool keep_params) {
  std::vector<std::size_t> due;
  for (std::size_t i = 0; i < runners.size(); ++i) {
    const int target = std::min(rung, last_epoch_of(runners[i].job->job));
    if (runners[i].alive && runners[i].reached < target) due.push_back(i);
  }
  at::parallel_for(0, static_cast<std::int64_t>(due.size()), 1,
                   [&](std::int64_t begin, std::int64_t end) {
                     for (std::int64_t k = begin; k < end; ++k) {
                       const std::size_t i = due[static_cast<std::size_t>(k)];
                       Runner& r = runners[i];
                       // The last segment a head trains leaves its final parameters.
                       advance(r, x, y, classes, std::min(rung, last_epoch_of(r.job->job)),
                               keep_params ? &out[i].final_params : nullptr);
                     }
                   });
}

}  // namespace

std::vector<BracketOutcome> train_bracket(const at::Tensor& features, const at::Tensor& labels,
                                          const std::vector<BracketJob>& jobs, int num_classes,
                                          const std::vector<int>& rungs, const StopRule& rule,
                                          bool macro_f1, bool keep_params) {
  std::vector<Runner> runners(jobs.size());
  std::vector<BracketOutcome> out(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (jobs[i].job.val_idx.empty())
      throw ConfigError("early_stop: task " + jobs[i].id +
                        " has no validation part to rank by (select: sets one aside)");
    validate(jobs[i].job.config);
    runners[i].job = &jobs[i];
  }
  for (int rung : rungs) {
    advance_all(runners, features, labels, num_classes, rung, out, keep_params);
    // Ranked: every head that reached this rung; its score is its validation metric there.
    std::vector<RungEntry> entries;
    std::map<std::string, std::size_t> runner_of;  // task ids are unique within a bracket
    for (std::size_t i = 0; i < runners.size(); ++i) {
      if (!runners[i].alive || runners[i].reached != rung) continue;
      const auto& evals = runners[i].state->result.val_evals;
      const auto at = std::find_if(evals.begin(), evals.end(),
                                   [&](const EvalMetrics& m) { return m.epoch == rung; });
      FERSWEEP_ASSERT(at != evals.end(), "a head reached a rung without evaluating there");
      entries.push_back({jobs[i].id, macro_f1 ? at->macro_f1 : at->accuracy});
      runner_of[jobs[i].id] = i;
    }
    if (entries.empty()) continue;
    const RungDecision d = decide_rung(std::move(entries), rule);
    for (std::size_t place = 0; place < d.ranking.size(); ++place) {
      const std::size_t i = runner_of.at(d.ranking[place].id);
      out[i].rungs.push_back({rung, place + 1, d.ranking.size(), d.keep, d.ranking[place].score});
      const bool ends_here = rung >= last_epoch_of(jobs[i].job);
      if (place >= d.keep && !ends_here) {
        runners[i].alive = false;
        out[i].stopped_at = rung;
      }
    }
  }
  advance_all(runners, features, labels, num_classes, std::numeric_limits<int>::max(), out,
              keep_params);
  for (std::size_t i = 0; i < runners.size(); ++i)
    out[i].result = std::move(runners[i].state->result);
  return out;
}

}  // namespace fersweep::train
