// early_stop for tasks that run alone (fine-tuning, augmentation): minutes to hours each, so a
// bracket cannot train in one worker's memory as heads do (train/halving.h). Each member is
// dispatched with its epochs cut at its next rung (TaskInputs::pause_at); it pauses there and its
// checkpoint and results so far come to rank 0. Once every member still in the race at a rung
// has reported its score there, the rung is decided by train::decide_rung — the heads' rule — and
// the members stopped there end with the results they paused with while the others continue from
// their checkpoints. Decisions read only scores, so they are the same on any rank count, in any
// arrival order and after a resume. Pure bookkeeping: the coordinator persists each member's
// note (note_of) beside its checkpoint and restores it on resume.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "run/task.h"
#include "train/halving.h"

namespace fersweep::run {

/// early_stop: as the coordinator applies it to the tasks that run alone.
struct StagedStop {
  std::vector<int> rungs;  ///< increasing epochs
  train::StopRule rule;
  std::string metric;  ///< early_stop.metric, written into each member's record
  /// A train task's score at `epoch` read from its result (the executor's layout); NaN when the
  /// result has none there.
  std::function<double(const nlohmann::json& result, int epoch)> score;
};

/// A member whose fate is settled by a decision: it ends now with `result` (its early_stop record
/// included) and is journaled, or it continues from its checkpoint.
struct Settled {
  std::string id;
  bool continues = false;
  nlohmann::json result;  ///< when it ends
  double seconds = 0;     ///< its training time over every segment
  int rank = 0;
  std::string host;
};

class StagedBrackets {
 public:
  /// The members: tasks with TaskSpec::alone and a bracket (others are not tracked).
  StagedBrackets(const std::vector<TaskSpec>& tasks, StagedStop stop);

  bool empty() const { return members_.empty(); }
  bool staged(const std::string& id) const { return members_.count(id) > 0; }
  /// The rung `id` pauses at when dispatched now (the first rung after the last one it was kept
  /// at, below its last epoch); 0: it runs to its last epoch.
  int pause_at(const std::string& id) const;
  /// The rung a member's outcome reached: `paused_at`, or its last epoch when that is a rung
  /// (the decision there still ranks it); 0 when its outcome ends it past every rung.
  int rung_reached(const std::string& id, int paused_at) const;

  /// A member reached rung `epoch` with `result` (its results so far) after `seconds` of
  /// training: it waits for the decision. The caller notes it on disk (note_of), then settles.
  void reached(const std::string& id, int epoch, nlohmann::json result, double seconds, int rank,
               const std::string& host);
  /// The members settled now that `id` reported (reached): the decisions its score completes.
  std::vector<Settled> settle_after(const std::string& id);
  /// A member failed for good — itself, or unrun with a task it depends on: the rest of its
  /// bracket no longer waits for it. Its note says so (note_of), so that a resume takes the same
  /// decisions; rerun on a resume, it trains to its last epoch outside the race. Idempotent.
  std::vector<Settled> failed(const std::string& id);
  bool failed_for_good(const std::string& id) const { return members_.at(id).dead; }
  /// Its training time over the segments before the one running now.
  double seconds_so_far(const std::string& id) const { return members_.at(id).seconds; }
  /// The early_stop record of a member ending now (stopped_at, metric, its place at every rung).
  nlohmann::json record_of(const std::string& id) const;
  /// What to keep on disk for a member that is not finished (its scores, and what it waits with).
  nlohmann::json note_of(const std::string& id) const;

  /// Resume: a member journaled as done, with its early_stop record.
  void restore_done(const std::string& id, const nlohmann::json& early_stop);
  /// Resume: a member's note. Returns true when it waits at a rung (it is not dispatched).
  /// Throws (nlohmann's or DataError) on a damaged note, changing nothing: the caller drops it.
  bool restore_note(const std::string& id, const nlohmann::json& note, bool may_wait);
  /// Resume: the decisions the restored scores allow, in rung order.
  std::vector<Settled> settle();

 private:
  struct Member {
    std::string bracket;
    int last = 0;                     ///< its last epoch
    std::map<int, double> scores;     ///< rung → its score there
    int cleared = 0;                  ///< the last rung it was kept at
    int stopped_at = 0;               ///< the rung it stopped at; 0: none
    bool done = false, dead = false;  ///< journaled / failed for good
    int waiting = 0;                  ///< the rung it waits at; 0: none
    nlohmann::json result;            ///< while waiting
    double seconds = 0;
    int rank = 0;
    std::string host;
  };
  /// Ranked at `rung`: trained that far, not stopped at an earlier rung, and not failed — or
  /// failed after it was ranked there.
  static bool in_race(const Member& m, int rung);
  /// Every member of `bracket` still in the race at `rung` has a score there: decide it.
  bool decidable(const std::string& bracket, int rung) const;
  void decide(const std::string& bracket, int rung, std::vector<Settled>& out);
  /// A member waiting at a decided rung: it ends (stopped there, or its last epoch) or continues.
  Settled release(const std::string& id, int rung);
  std::vector<Settled> settle(const std::string& bracket);

  StagedStop stop_;
  std::map<std::string, Member> members_;
  std::map<std::string, std::vector<std::string>> brackets_;            // bracket → member ids
  std::map<std::pair<std::string, int>, train::RungDecision> decided_;  // (bracket, rung)
};

}  // namespace fersweep::run
