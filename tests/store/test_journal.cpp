// The journal: checksummed lines, torn tails dropped, corrupt records skipped, appends durable.
#include "store/journal.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/hash.h"

namespace fersweep::store {
namespace {

std::filesystem::path fresh(const std::string& name) {
  const std::filesystem::path p = std::string(FERSWEEP_TEST_TMP) + "/" + name;
  std::filesystem::remove(p);
  return p;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Journal, AppendFlushRead) {
  const auto path = fresh("j1.jsonl");
  {
    JournalWriter w(path);
    w.append({{"id", "a"}, {"acc", 0.5}});
    w.append({{"id", "b"}, {"text", "line\nbreak\ttab"}});
    EXPECT_EQ(w.durable_count(), 0u);
    w.flush();
    EXPECT_EQ(w.durable_count(), 2u);
  }
  const auto c = read_journal(path);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[1]["text"], "line\nbreak\ttab");
  EXPECT_FALSE(c.torn_tail);
  // Exactly one line per record.
  const std::string text = slurp(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
}

TEST(Journal, PreSerialisedRecordsGetTheSameLineAndChecksum) {
  const nlohmann::json record = {{"id", "c"}, {"result", {{"acc", 0.25}}}};
  EXPECT_EQ(encode_journal_text(record.dump()), encode_journal_line(record));
  const std::string line = encode_journal_line(record);
  EXPECT_EQ(line.substr(line.size() - 18), "\t" + sha256_hex(record.dump()).substr(0, 16) + "\n");
  const auto path = fresh("j-text.jsonl");
  {
    JournalWriter w(path);
    w.append_text(record.dump());
    w.append(record);
  }
  const auto c = read_journal(path);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0], record);
  EXPECT_EQ(c.records[1], record);
  EXPECT_THROW(encode_journal_text("{\"a\":\n1}"), InternalError);
}

TEST(Journal, TornTailIsDroppedAndAppendingContinuesCleanly) {
  const auto path = fresh("j2.jsonl");
  {
    JournalWriter w(path);
    w.append({{"id", "a"}});
    w.append({{"id", "b"}});
  }
  const std::string good = slurp(path);
  const std::string third = encode_journal_line({{"id", "c"}});
  std::ofstream(path, std::ios::binary | std::ios::app) << third.substr(0, third.size() / 2);
  auto c = read_journal(path);
  EXPECT_EQ(c.records.size(), 2u);
  EXPECT_TRUE(c.torn_tail);
  EXPECT_EQ(c.valid_bytes, good.size());
  {
    JournalWriter w(path);
    w.append({{"id", "d"}});
  }
  c = read_journal(path);
  ASSERT_EQ(c.records.size(), 3u);
  EXPECT_EQ(c.records[2]["id"], "d");
  EXPECT_FALSE(c.torn_tail);
}

TEST(Journal, FlippedByteInTheMiddleIsReportedAndSkipped) {
  const auto path = fresh("j3.jsonl");
  {
    JournalWriter w(path);
    for (int i = 0; i < 3; ++i) w.append({{"id", i}});
  }
  std::string text = slurp(path);
  const auto second = text.find('\n') + 3;
  text[second] = text[second] == '1' ? '7' : '1';
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  const auto c = read_journal(path);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0]["id"], 0);
  EXPECT_EQ(c.records[1]["id"], 2);
  EXPECT_EQ(c.corrupt_lines, (std::vector<std::size_t>{2}));
  EXPECT_FALSE(c.torn_tail);
}

TEST(Journal, MissingFileReadsEmptyAndUnwritableDirectoryIsNamed) {
  EXPECT_TRUE(read_journal(fresh("none.jsonl")).records.empty());
  try {
    JournalWriter w("/nonexistent-dir/journal.jsonl");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/journal.jsonl"), std::string::npos);
  }
}

TEST(Journal, FlushIsDueOnlyAfterTheDelay) {
  const auto path = fresh("j4.jsonl");
  JournalWriter w(path, std::chrono::milliseconds(0));
  EXPECT_FALSE(w.flush_due());
  w.append({{"id", 1}});
  EXPECT_TRUE(w.flush_due());
  JournalWriter slow(fresh("j5.jsonl"), std::chrono::hours(1));
  slow.append({{"id", 1}});
  EXPECT_FALSE(slow.flush_due());
}

}  // namespace
}  // namespace fersweep::store
