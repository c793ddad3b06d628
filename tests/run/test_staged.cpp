// Staged early stopping of tasks that run alone: decisions by hand-computed rankings, the same in
// any arrival order, after a resume from the notes and the journal, and without a failed member.
#include "run/staged.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace fersweep::run {
namespace {
using nlohmann::json;

// Members a..f of one bracket; a task's score at a rung is result["s"][rung].
std::vector<TaskSpec> members(const std::vector<std::string>& ids, int last = 6) {
  std::vector<TaskSpec> out;
  for (const auto& id : ids) {
    TaskSpec t;
    t.id = id;
    t.kind = TaskKind::train;
    t.alone = true;
    t.bracket = "x";
    t.epochs = {2, last};
    out.push_back(t);
  }
  TaskSpec head;  // not run alone: not tracked
  head.id = "head";
  head.kind = TaskKind::train;
  head.bracket = "x";
  head.epochs = {6};
  out.push_back(head);
  return out;
}

StagedStop halving(int eta = 2) {
  StagedStop s;
  s.rungs = {2, 4};
  s.rule = {train::StopRule::halving, eta};
  s.metric = "val_accuracy";
  s.score = [](const json& result, int epoch) {
    const json& v = result.at("s").at(std::to_string(epoch));
    return v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN();
  };
  return s;
}

json result_at(int epoch, double score) {
  return {{"s", {{std::to_string(epoch), std::isnan(score) ? json(nullptr) : json(score)}}},
          {"epoch", epoch}};
}

// A member's report as the coordinator makes it: noted (reached), then settled.
std::vector<Settled> reach(StagedBrackets& b, const std::string& id, int epoch, json result,
                           double seconds, int rank, const std::string& host) {
  b.reached(id, epoch, std::move(result), seconds, rank, host);
  return b.settle_after(id);
}

// id → (continues, the result it ended with) of every settled member.
using Fates = std::map<std::string, std::pair<bool, json>>;
void collect(Fates& f, const std::vector<Settled>& s) {
  for (const auto& x : s) f[x.id] = {x.continues, x.result};
}

const std::map<std::string, double> kAt2 = {{"a", 0.5}, {"b", 0.7}, {"c", 0.7}, {"d", 0.2}};
const std::map<std::string, double> kAt4 = {{"b", 0.6}, {"c", 0.8}};

TEST(StagedBrackets, EachRungIsDecidedOnceEveryMemberInTheRaceReportedInAnyOrder) {
  std::vector<std::string> order = {"a", "b", "c", "d"};
  std::optional<Fates> first;
  do {
    StagedBrackets sb(members({"a", "b", "c", "d"}), halving());
    EXPECT_FALSE(sb.staged("head"));
    Fates fates;
    for (std::size_t k = 0; k < order.size(); ++k) {
      EXPECT_EQ(sb.pause_at(order[k]), 2);
      auto s = reach(sb, order[k], 2, result_at(2, kAt2.at(order[k])), 1.0, 1, "h");
      // Nothing is settled before the last member of the race reports.
      EXPECT_EQ(s.empty(), k + 1 < order.size());
      collect(fates, s);
    }
    // By hand: b and c tie at 0.7 (b first, the lower id), then a, d; eta 2 keeps two.
    ASSERT_EQ(fates.size(), 4u);
    EXPECT_TRUE(fates["b"].first && fates["c"].first);
    EXPECT_FALSE(fates["a"].first || fates["d"].first);
    EXPECT_EQ(fates["a"].second["early_stop"],
              json::parse(R"({"stopped_at": 2, "metric": "val_accuracy",
                              "rungs": [{"epoch": 2, "rank": 3, "of": 4, "kept": 2, "score": 0.5}]})"));
    EXPECT_EQ(fates["d"].second["epoch"], 2);  // it ends with the results it paused with
    EXPECT_EQ(sb.pause_at("b"), 4);
    collect(fates, reach(sb, "c", 4, result_at(4, kAt4.at("c")), 1.0, 2, "h"));
    collect(fates, reach(sb, "b", 4, result_at(4, kAt4.at("b")), 1.0, 1, "h"));
    EXPECT_TRUE(fates["c"].first);  // kept at 4: runs out to epoch 6
    EXPECT_FALSE(fates["b"].first);
    EXPECT_EQ(sb.pause_at("c"), 0);
    EXPECT_EQ(sb.rung_reached("c", 0), 0);  // its last epoch, 6, is not a rung
    EXPECT_EQ(sb.record_of("c"), json::parse(R"({"stopped_at": null, "metric": "val_accuracy",
                              "rungs": [{"epoch": 2, "rank": 2, "of": 4, "kept": 2, "score": 0.7},
                                        {"epoch": 4, "rank": 1, "of": 2, "kept": 1, "score": 0.8}]})"));
    if (!first) first = fates;
    EXPECT_EQ(fates, *first);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(StagedBrackets, AResumeFromNotesAndJournalTakesTheSameDecisions) {
  StagedBrackets before(members({"a", "b", "c", "d"}), halving());
  Fates journal;  // what the first run journaled (the stopped members)
  std::map<std::string, json> notes;
  for (const auto& id : {"a", "b", "c", "d"}) {
    collect(journal, reach(before, id, 2, result_at(2, kAt2.at(id)), 1.0, 1, "h"));
    notes[id] = before.note_of(id);
  }
  reach(before, "c", 4, result_at(4, kAt4.at("c")), 1.0, 1, "h");
  notes["c"] = before.note_of("c");  // c waits at 4; b was running when the run was killed
  EXPECT_EQ(notes["c"]["waiting"]["epoch"], 4);

  StagedBrackets after(members({"a", "b", "c", "d"}), halving());
  for (const auto& id : {"a", "d"}) after.restore_done(id, journal[id].second["early_stop"]);
  // b's note still says it waits at rung 2 (a note is not rewritten when its task continues):
  // the rung is decided again, and b continues; c waits at 4 for it.
  EXPECT_TRUE(after.restore_note("b", notes["b"], true));
  EXPECT_TRUE(after.restore_note("c", notes["c"], true));
  const auto again = after.settle();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, "b");
  EXPECT_TRUE(again[0].continues);
  EXPECT_EQ(after.pause_at("b"), 4);  // from its checkpoint, not from epoch 0
  const auto s = reach(after, "b", 4, result_at(4, kAt4.at("b")), 1.0, 1, "h");
  Fates fates;
  collect(fates, s);
  EXPECT_TRUE(fates.at("c").first);
  EXPECT_FALSE(fates.at("b").first);
  EXPECT_EQ(fates.at("b").second["early_stop"]["rungs"][1],
            json::parse(R"({"epoch": 4, "rank": 2, "of": 2, "kept": 1, "score": 0.6})"));
}

TEST(StagedBrackets, AMemberThatMayNotWaitStillLendsItsScoresToTheDecision) {
  StagedBrackets first(members({"a", "b"}), halving());
  reach(first, "a", 2, result_at(2, 0.9), 1.0, 1, "h");
  StagedBrackets sb(members({"a", "b"}), halving());
  EXPECT_FALSE(sb.restore_note("a", first.note_of("a"), false));  // its features are gone
  EXPECT_EQ(sb.pause_at("a"), 2);
  // a's score decides with b's: b stops; a, not waiting, goes on from wherever it is to rung 4.
  Fates fates;
  collect(fates, reach(sb, "b", 2, result_at(2, 0.1), 1.0, 1, "h"));
  ASSERT_EQ(fates.size(), 1u);
  EXPECT_FALSE(fates["b"].first);
  EXPECT_EQ(sb.pause_at("a"), 4);
  EXPECT_EQ(sb.record_of("a")["rungs"][0]["rank"], 1);
}

TEST(StagedBrackets, AMemberWhoseNoteWasLostRerunsToADecidedRungAndEndsThere) {
  StagedBrackets sb(members({"a", "b", "c", "d"}), halving());
  // Restored: b, c and d waited at 2 with their notes; a's note was lost: rung 2 waits for it.
  for (const auto& id : {"b", "c", "d"}) {
    StagedBrackets probe(members({"a", "b", "c", "d"}), halving());
    reach(probe, id, 2, result_at(2, kAt2.at(id)), 1.0, 1, "h");
    EXPECT_TRUE(sb.restore_note(id, probe.note_of(id), true));
  }
  EXPECT_TRUE(sb.settle().empty());
  EXPECT_EQ(sb.pause_at("a"), 2);
  Fates fates;
  collect(fates, reach(sb, "a", 2, result_at(2, kAt2.at("a")), 1.0, 1, "h"));
  EXPECT_EQ(fates.size(), 4u);
  EXPECT_FALSE(fates["a"].first);
}

TEST(StagedBrackets, AFailedMemberLeavesTheRaceAndNanScoresRankLast) {
  StagedBrackets sb(members({"a", "b", "c"}), halving());
  Fates fates;
  collect(fates, reach(sb, "a", 2, result_at(2, std::nan("")), 1.0, 1, "h"));
  collect(fates, reach(sb, "b", 2, result_at(2, 0.1), 1.0, 1, "h"));
  EXPECT_TRUE(fates.empty());
  collect(fates, sb.failed("c"));  // failed for good: the rung is decided without it
  ASSERT_EQ(fates.size(), 2u);
  EXPECT_TRUE(fates["b"].first);
  EXPECT_FALSE(fates["a"].first);
  EXPECT_EQ(fates["a"].second["early_stop"]["rungs"][0],
            json::parse(R"({"epoch": 2, "rank": 2, "of": 2, "kept": 1, "score": null})"));
}

// A member failed for good is noted as such: a resume takes the decisions taken without it (not
// new ones with its rerun's score), and the rerun trains to its last epoch outside the race.
TEST(StagedBrackets, AFailedMemberStaysOutOfTheRaceAfterAResume) {
  StagedBrackets sb(members({"a", "b", "c"}), halving());
  Fates fates;
  std::map<std::string, json> notes;
  for (const auto& [id, score] : {std::pair{"a", 0.5}, {"b", 0.7}}) {
    sb.reached(id, 2, result_at(2, score), 1.0, 1, "h");
    notes[id] = sb.note_of(id);  // the coordinator notes a report before settling it
    collect(fates, sb.settle_after(id));
  }
  collect(fates, sb.failed("c"));
  EXPECT_TRUE(sb.failed("c").empty());  // once
  notes["c"] = sb.note_of("c");
  EXPECT_EQ(notes["c"]["failed"], true);
  ASSERT_EQ(fates.size(), 2u);
  ASSERT_TRUE(fates["b"].first);
  EXPECT_EQ(sb.seconds_so_far("b"), 1.0);

  StagedBrackets after(members({"a", "b", "c"}), halving());
  after.restore_done("a", fates["a"].second["early_stop"]);
  EXPECT_TRUE(after.restore_note("b", notes["b"], true));
  EXPECT_FALSE(after.restore_note("c", notes["c"], true));
  EXPECT_TRUE(after.failed_for_good("c"));
  Fates again;
  collect(again, after.settle());
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again["b"].first);  // as before: of 2, kept 1
  EXPECT_EQ(after.seconds_so_far("b"), 1.0);
  EXPECT_EQ(after.pause_at("c"), 0);
  EXPECT_EQ(after.rung_reached("c", 0), 0);
  EXPECT_EQ(after.record_of("c")["rungs"], json::array());
}

// A member that fails after a rung was decided with it keeps its place there: a resume decides
// the rung again the same way (of 4, kept 2), not among the other three.
TEST(StagedBrackets, AMemberFailingAfterItsRungKeepsItsPlaceThere) {
  const auto tasks = members({"a", "b", "c", "d"});
  StagedBrackets sb(tasks, halving());
  Fates fates;
  std::map<std::string, json> notes;
  for (const auto& [id, score] : {std::pair{"a", 0.9}, {"b", 0.8}, {"c", 0.3}, {"d", 0.2}}) {
    sb.reached(id, 2, result_at(2, score), 1.0, 1, "h");
    notes[id] = sb.note_of(id);
    collect(fates, sb.settle_after(id));
  }
  ASSERT_TRUE(fates["a"].first && fates["b"].first && !fates["c"].first && !fates["d"].first);
  EXPECT_TRUE(sb.failed("a").empty());  // nothing waits for it at 4 yet
  notes["a"] = sb.note_of("a");
  EXPECT_EQ(sb.record_of("a")["rungs"][0]["of"], 4);

  StagedBrackets after(tasks, halving());
  after.restore_done("c", fates["c"].second["early_stop"]);
  after.restore_done("d", fates["d"].second["early_stop"]);
  EXPECT_FALSE(after.restore_note("a", notes["a"], true));
  EXPECT_TRUE(after.restore_note("b", notes["b"], true));  // its stale wait at 2
  Fates again;
  collect(again, after.settle());
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again["b"].first);
  EXPECT_EQ(after.record_of("b")["rungs"][0],
            json::parse(R"({"epoch": 2, "rank": 2, "of": 4, "kept": 2, "score": 0.8})"));
  EXPECT_EQ(after.pause_at("a"), 0);  // rerun to its last epoch, outside the race from now on
}

// A damaged note changes nothing: the member reruns to its rung and reports as usual.
TEST(StagedBrackets, ADamagedNoteIsRefusedWhole) {
  StagedBrackets sb(members({"a", "b"}), halving());
  json note = {{"scores", {{"2", 0.5}}},
               {"seconds", 3.0},
               {"waiting", {{"epoch", 3}, {"result", result_at(2, 0.5)}}}};
  EXPECT_THROW(sb.restore_note("a", note, true), DataError);  // 3 is not a rung
  note["waiting"]["epoch"] = 4;
  EXPECT_THROW(sb.restore_note("a", note, true), DataError);  // no score at 4
  note["waiting"]["epoch"] = 2;
  note["waiting"].erase("result");
  EXPECT_ANY_THROW(sb.restore_note("a", note, true));
  EXPECT_EQ(sb.seconds_so_far("a"), 0.0);
  EXPECT_EQ(sb.pause_at("a"), 2);
  Fates fates;
  collect(fates, reach(sb, "a", 2, result_at(2, 0.5), 1.0, 1, "h"));
  collect(fates, reach(sb, "b", 2, result_at(2, 0.7), 1.0, 1, "h"));
  EXPECT_EQ(fates.size(), 2u);
}

TEST(StagedBrackets, AMemberEndingAtARungIsRankedThereAndEnds) {
  auto tasks = members({"a", "b"}, 4);  // last epoch 4: a rung
  StagedBrackets sb(tasks, halving());
  Fates fates;
  for (const auto& id : {"a", "b"})
    collect(fates, reach(sb, id, 2, result_at(2, kAt2.at(id)), 1, 1, "h"));
  EXPECT_TRUE(fates["b"].first);
  EXPECT_EQ(sb.pause_at("b"), 0);         // runs out to 4
  EXPECT_EQ(sb.rung_reached("b", 0), 4);  // and is ranked there, alone
  collect(fates, reach(sb, "b", 4, result_at(4, 0.9), 1.0, 1, "h"));
  EXPECT_FALSE(fates["b"].first);
  EXPECT_EQ(fates["b"].second["early_stop"]["stopped_at"], nullptr);
  EXPECT_EQ(fates["b"].second["early_stop"]["rungs"].size(), 2u);
}

}  // namespace
}  // namespace fersweep::run
