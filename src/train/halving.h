// Synchronous early stopping (early_stop:) over the heads of one bracket: every head trains to a
// rung, the best by their validation score there (the top max(1, n / eta) with halving, those at
// or above the median with median) continue from their saved state, the others stop. A pure
// function of the heads and their data.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <string>
#include <vector>

#include "train/head.h"

namespace fersweep::train {

/// One head's score at a rung.
struct RungEntry {
  std::string id;  ///< its task id: the tie-breaker
  double score = 0;
};

/// How a rung decides (early_stop.method and eta).
struct StopRule {
  enum Method { halving, median } method = halving;
  int eta = 3;  ///< halving only
};

/// The decision at one rung: the entries best first — higher score first, NaN last, equal scores
/// by lower id — of which the first `keep` continue: max(1, n / eta) with halving; with median
/// those scoring at least the median of the rung's non-NaN scores (the mean of the middle two
/// for an even count), and at least one.
struct RungDecision {
  std::vector<RungEntry> ranking;
  std::size_t keep = 0;
};
RungDecision decide_rung(std::vector<RungEntry> entries, const StopRule& rule);

/// What halving settles for one head.
struct RungRecord {
  int epoch = 0;
  std::size_t rank = 0;  ///< 1-based place in the rung's ranking
  std::size_t of = 0;    ///< heads ranked at this rung
  std::size_t kept = 0;  ///< how many of them continued
  double score = 0;
};

/// A head of a bracket: its task id and job (with a validation part: the score comes from it).
struct BracketJob {
  std::string id;
  HeadJob job;
};

struct BracketOutcome {
  TrainResult result;             ///< evaluations and curves up to where the head stopped
  int stopped_at = 0;             ///< the rung it stopped at; 0: it ran to its last epoch
  std::vector<RungRecord> rungs;  ///< its place at every rung it reached
  HeadParams final_params;        ///< with keep_params: the parameters it ended with
};

/// Trains the heads of one bracket with `rule` at `rungs` (increasing epochs; each below a
/// head's last epoch must be one of its evaluation epochs), ranking by the validation accuracy,
/// or macro-F1 with `macro_f1`. A head that continues resumes its state at the rung
/// (train::HeadState), so its results equal an uninterrupted run's bit for bit. The heads of a
/// segment train in parallel. ConfigError when a head has no validation part.
std::vector<BracketOutcome> train_bracket(const at::Tensor& features, const at::Tensor& labels,
                                          const std::vector<BracketJob>& jobs, int num_classes,
                                          const std::vector<int>& rungs, const StopRule& rule,
                                          bool macro_f1, bool keep_params = false);

}  // namespace fersweep::train
