// The messages between ranks: every layout decodes to what was encoded (no MPI needed), a damaged
// or foreign message is a CommError; the journal record's line is JSON with sorted keys.
#include "run/protocol.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "run/results_dir.h"

namespace fersweep::run {
namespace {
using nlohmann::json;

TEST(Protocol, TasksRoundTripWithDependenciesEpochsAndFeatures) {
  TaskSpec t;
  t.id = "0123456789abcdef";
  t.kind = TaskKind::train;
  t.params = {{"lr", 0.01}, {"backbone", "resnet18"}};
  t.features = "fedcba9876543210";
  t.cost = 2.5;
  t.deps = {"fedcba9876543210"};
  t.epochs = {50, 100, 200};
  TaskInputs in;
  in.dep_results["fedcba9876543210"] = {{"n", 3}};
  auto set = std::make_shared<FeatureSet>();
  set->id = "fedcba9876543210";
  set->n = 2;
  set->dim = 3;
  set->values = {1, 2, 3, 4, 5, 6};
  set->labels = {0, 1};
  set->paths = {"a/1.png", "b/2.png"};
  set->attributes = {{"backbone", "resnet18"}};
  in.features = set;

  const protocol::Message m = protocol::decode(protocol::encode_tasks({&t}, in, true), 0);
  ASSERT_EQ(m.type, protocol::kTasks);
  ASSERT_EQ(m.tasks.tasks.size(), 1u);
  const TaskSpec& r = m.tasks.tasks[0];
  EXPECT_EQ(r.id, t.id);
  EXPECT_EQ(r.kind, TaskKind::train);
  EXPECT_EQ(r.params, t.params);
  EXPECT_EQ(r.features, t.features);
  EXPECT_EQ(r.cost, 2.5);
  EXPECT_EQ(r.deps, t.deps);
  EXPECT_EQ(r.epochs, t.epochs);
  EXPECT_EQ(m.tasks.dep_results.at("fedcba9876543210"), json({{"n", 3}}));
  ASSERT_TRUE(m.tasks.features);
  EXPECT_EQ(m.tasks.features->values, set->values);
  EXPECT_EQ(m.tasks.features->labels, set->labels);
  EXPECT_EQ(m.tasks.features->paths, set->paths);
  EXPECT_EQ(m.tasks.features->attributes, set->attributes);
  EXPECT_TRUE(m.tasks.checkpoints.empty());
  // A worker that holds the features is not sent them again.
  EXPECT_FALSE(protocol::decode(protocol::encode_tasks({&t}, in, false), 0).tasks.features);
}

// An activation store (rows on disk) is announced without its rows, which follow (send_rows); a
// result carrying one says so too. Sets in memory still travel inline.
TEST(Protocol, RowsOnDiskAreAnnouncedNotInlined) {
  auto set = std::make_shared<FeatureSet>();
  set->id = "fedcba9876543210";
  set->n = 2;
  set->dim = 1000;
  set->labels = {0, 1};
  set->paths = {"a", "b"};
  set->on_disk = store::RowsOnDisk{"/nonexistent/rows", 0, nullptr};
  TaskSpec t;
  t.id = "0123456789abcdef";
  t.kind = TaskKind::train;
  TaskInputs in;
  in.features = set;
  const std::string bytes = protocol::encode_tasks({&t}, in, true);
  EXPECT_LT(bytes.size(), 400u);  // 8 KB of rows are not in it
  const protocol::Message m = protocol::decode(bytes, 0);
  ASSERT_TRUE(m.tasks.features);
  EXPECT_TRUE(m.tasks.rows_follow);
  EXPECT_TRUE(m.tasks.features->values.empty());
  EXPECT_FALSE(m.tasks.features->on_disk);  // receive_rows sets it
  EXPECT_EQ(m.tasks.features->labels, set->labels);
  TaskOutcome o;
  o.id = "fedcba9876543210";
  o.ok = true;
  o.features = set;
  const protocol::Message r = protocol::decode(protocol::encode_result({o}, 1, "h", {}), 1);
  ASSERT_EQ(r.outcomes.size(), 1u);
  EXPECT_TRUE(r.outcomes[0].rows_follow);
  set->on_disk.reset();
  set->values.assign(2000, 1.f);
  const protocol::Message inline_set = protocol::decode(protocol::encode_tasks({&t}, in, true), 0);
  EXPECT_FALSE(inline_set.tasks.rows_follow);
  EXPECT_EQ(inline_set.tasks.features->values, set->values);
}

TEST(Protocol, CheckpointsTravelBothWays) {
  TaskSpec t;
  t.id = "0123456789abcdef";
  t.kind = TaskKind::train;
  TaskInputs in;
  const std::string state("state\0with\nany bytes", 21);
  in.checkpoints[t.id] = state;
  in.pause_at[t.id] = 25;  // early_stop: the rung it pauses at
  const auto tasks = protocol::decode(protocol::encode_tasks({&t}, in, false), 0);
  EXPECT_EQ(tasks.tasks.checkpoints, in.checkpoints);
  EXPECT_EQ(tasks.tasks.pause_at, in.pause_at);
  const auto m = protocol::decode(protocol::encode_checkpoint({t.id, 7, state}), 3);
  ASSERT_EQ(m.type, protocol::kCheckpoint);
  EXPECT_EQ(m.checkpoint.task_id, t.id);
  EXPECT_EQ(m.checkpoint.epoch, 7);
  EXPECT_EQ(m.checkpoint.state, state);
}

TEST(Protocol, ResultsCarryStatusArtifactsAndHolds) {
  TaskOutcome done, failed, cancelled;
  done.id = "a";
  done.ok = true;
  done.result = {{"accuracy", 0.5}};
  done.seconds = 1.5;
  done.paused_at = 50;
  done.artifacts["qc.json"] = "{}";
  done.artifacts["contact_sheet.png"] = std::string("\x89PNG\0\x01", 6);
  failed.id = "b";
  failed.error = "boom";
  cancelled.id = "c";
  cancelled.cancelled = true;
  cancelled.error = "cancelled";
  const protocol::Message m = protocol::decode(
      protocol::encode_result({done, failed, cancelled}, 3, "node7", {"x", "y"}), 3);
  ASSERT_EQ(m.type, protocol::kResult);
  ASSERT_EQ(m.outcomes.size(), 3u);
  const TaskOutcome& d = m.outcomes[0].outcome;
  EXPECT_TRUE(d.ok);
  EXPECT_FALSE(d.cancelled);
  EXPECT_EQ(json::parse(m.outcomes[0].result_text), done.result);
  EXPECT_EQ(d.seconds, 1.5);
  EXPECT_EQ(d.paused_at, 50);
  EXPECT_EQ(m.outcomes[1].outcome.paused_at, 0);
  EXPECT_EQ(d.rank, 3);
  EXPECT_EQ(d.host, "node7");
  EXPECT_EQ(d.artifacts, done.artifacts);
  EXPECT_FALSE(m.outcomes[1].outcome.ok);
  EXPECT_FALSE(m.outcomes[1].outcome.cancelled);
  EXPECT_EQ(m.outcomes[1].outcome.error, "boom");
  EXPECT_TRUE(m.outcomes[2].outcome.cancelled);
  EXPECT_FALSE(m.outcomes[2].outcome.ok);
  EXPECT_EQ(m.holds, (std::set<std::string>{"x", "y"}));
}

TEST(Protocol, SetupStopAndRequest) {
  EXPECT_EQ(protocol::decode(protocol::encode_setup({{"classes", {"A"}}}), 0).context,
            json({{"classes", {"A"}}}));
  EXPECT_EQ(protocol::decode(protocol::encode_stop(), 0).type, protocol::kStop);
  const auto r = protocol::decode(protocol::encode_request({"f1"}), 2);
  EXPECT_EQ(r.type, protocol::kRequest);
  EXPECT_EQ(r.holds, std::set<std::string>{"f1"});
}

TEST(Protocol, DamagedMessagesAreCommErrors) {
  std::string bytes = protocol::encode_result({}, 1, "h", {"x"});
  EXPECT_THROW(protocol::decode(std::string_view(bytes).substr(0, bytes.size() - 3), 1), CommError);
  EXPECT_THROW(protocol::decode("not a message", 1), CommError);
}

TEST(JournalRecord, OneLineOfJsonWithSortedKeys) {
  JournalRecord r;
  r.id = "0123456789abcdef";
  r.kind = "train";
  r.ok = true;
  r.attempt = 1;
  r.rank = 2;
  r.host = "node\"1";
  r.seconds = 0.25;
  r.params = R"({"lr":0.01})";
  r.result = R"({"evals":[]})";
  const std::string text = r.text();
  const json j = json::parse(text);
  EXPECT_EQ(text, j.dump());  // keys sorted, no spaces: json::dump's own layout
  EXPECT_EQ(j["status"], "done");
  EXPECT_EQ(j["host"], "node\"1");
  EXPECT_EQ(j["params"]["lr"], 0.01);
  EXPECT_EQ(j["v"], 1);
  EXPECT_FALSE(j.contains("error"));
  r.ok = false;
  r.final = false;
  r.error = "out of memory";
  const json f = json::parse(r.text());
  EXPECT_EQ(f["status"], "failed");
  EXPECT_EQ(f["error"], "out of memory");
  EXPECT_EQ(f["final"], false);
  EXPECT_FALSE(f.contains("result"));
}

}  // namespace
}  // namespace fersweep::run
