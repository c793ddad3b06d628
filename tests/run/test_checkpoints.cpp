// Checkpoint files: what is saved loads back; a damaged, truncated or foreign file is refused with
// a reason, removed, and the store forgets it; leftovers of a write cut short are cleaned up.
#include "run/checkpoints.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/test_support.h"
#include "core/error.h"

namespace fersweep::run {
namespace {
namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string refusal(const std::string& bytes) {
  try {
    decode_checkpoint(bytes);
  } catch (const DataError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Checkpoints, FilesRoundTripAndRefuseDamage) {
  const TaskCheckpoint c{"0123456789abcdef", 4, std::string("any\0bytes\n", 10)};
  const std::string bytes = encode_checkpoint(c);
  const TaskCheckpoint back = decode_checkpoint(bytes);
  EXPECT_EQ(back.task_id, c.task_id);
  EXPECT_EQ(back.epoch, 4);
  EXPECT_EQ(back.state, c.state);
  std::string flipped = bytes;
  flipped.back() ^= 1;
  EXPECT_EQ(refusal(flipped), "its state does not match its checksum");
  EXPECT_EQ(refusal(bytes.substr(0, bytes.size() - 1)), "it holds 9 bytes of state, not 10");
  EXPECT_EQ(refusal(bytes.substr(0, 30)), "its header is cut short");
  EXPECT_EQ(refusal("fersweep-checkpoint 1 {\"id\": 3}\n"), "its header is damaged");
  EXPECT_EQ(refusal("PK\x03\x04"), "not a fersweep checkpoint (or another version's)");
}

TEST(Checkpoints, StoreKeepsTheLatestAndForgetsUnusableFiles) {
  const fs::path dir = test_support::scratch_dir("run");
  {
    CheckpointStore store(dir);
    EXPECT_FALSE(store.load("aaaa"));
    store.save({"aaaa", 1, "one"});
    store.save({"aaaa", 2, "two"});
    store.save({"bbbb", 1, "b"});
  }
  write(dir / "checkpoints" / "cccc.ckpt.tmp", "half");  // a write cut short by a kill
  write(dir / "checkpoints" / "dddd.ckpt", encode_checkpoint({"eeee", 3, "e"}));  // renamed
  CheckpointStore store(dir);  // a resumed run lists what is there
  EXPECT_FALSE(fs::exists(dir / "checkpoints" / "cccc.ckpt.tmp"));
  const auto a = store.load("aaaa");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->epoch, 2);
  EXPECT_EQ(a->state, "two");
  EXPECT_FALSE(store.load("dddd"));  // another task's state under this task's name
  EXPECT_FALSE(store.has("dddd"));
  EXPECT_FALSE(fs::exists(store.path("dddd")));
  write(store.path("bbbb"), read(store.path("bbbb")).substr(0, 20));
  EXPECT_FALSE(store.load("bbbb"));
  EXPECT_FALSE(fs::exists(store.path("bbbb")));
  store.remove("aaaa");
  EXPECT_FALSE(fs::exists(store.path("aaaa")));
  EXPECT_TRUE(fs::is_empty(dir / "checkpoints"));
}

// early_stop's notes beside the checkpoints: listed again by a resumed run, a damaged one
// forgotten, all gone with --force-new.
TEST(Checkpoints, NotesAreKeptBesideTheStatesAndClearedWithThem) {
  const fs::path dir = test_support::scratch_dir("run");
  const nlohmann::json note = {{"scores", {{"2", 0.5}}}};
  {
    CheckpointStore store(dir);
    store.save_note("aaaa", note);
    store.save_note("bbbb", note);
    store.save({"aaaa", 2, "state"});
  }
  CheckpointStore store(dir);
  EXPECT_EQ(store.load_note("aaaa"), note);
  EXPECT_FALSE(store.load_note("cccc"));
  write(dir / "checkpoints" / "bbbb.rungs", "{\"scores\": ");  // cut short
  EXPECT_FALSE(store.load_note("bbbb"));
  EXPECT_FALSE(fs::exists(dir / "checkpoints" / "bbbb.rungs"));
  store.remove("aaaa");  // the state goes; the note stays until its task's record is on disk
  EXPECT_TRUE(store.load_note("aaaa"));
  store.clear();
  EXPECT_TRUE(fs::is_empty(dir / "checkpoints"));
}

}  // namespace
}  // namespace fersweep::run
