// The append-only task journal: one JSON record per line, each with a checksum, fsync'd in batches.
// A torn last line (a crash mid-write) is detected and dropped; nothing before it is lost.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fersweep::store {

/// What reading a journal found.
struct JournalContents {
  std::vector<nlohmann::json> records;     ///< valid records, in file order
  std::size_t valid_bytes = 0;             ///< length of the prefix holding only valid lines
  bool torn_tail = false;                  ///< the last line was incomplete or failed its checksum
  std::vector<std::size_t> corrupt_lines;  ///< 1-based numbers of damaged lines before the end
};

/// Encodes one record as a journal line: `<json>\t<checksum>\n`.
std::string encode_journal_line(const nlohmann::json& record);
/// The same for a record already serialised as one line of JSON (no newline inside).
std::string encode_journal_text(std::string_view record_json);

/// Reads every valid record of a journal; a missing file reads as empty.
JournalContents read_journal(const std::filesystem::path& path);

/// Appends records to a journal. Opening it drops a torn tail left by a crash.
class JournalWriter {
 public:
  /// Opens (creating if needed) `path` for appending. `max_delay` bounds how long an appended
  /// record may wait before it is written and fsync'd.
  explicit JournalWriter(const std::filesystem::path& path,
                         std::chrono::milliseconds max_delay = std::chrono::milliseconds(1000));
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  /// Buffers one record; it is durable after the next flush().
  void append(const nlohmann::json& record);
  /// The same for a record already serialised as one line of JSON (saves a second dump).
  void append_text(std::string_view record_json);
  /// True when buffered records have waited longer than the batching delay.
  bool flush_due() const;
  /// Writes buffered records and fsyncs the file (IoError naming the path on failure).
  void flush();
  /// Records appended and flushed so far by this writer.
  std::size_t durable_count() const { return durable_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_pending();
  std::filesystem::path path_;
  int fd_ = -1;
  std::string pending_;
  std::size_t pending_count_ = 0;
  std::size_t durable_ = 0;
  std::chrono::milliseconds max_delay_;
  std::chrono::steady_clock::time_point oldest_pending_;
};

}  // namespace fersweep::store
