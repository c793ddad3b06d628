// The results directory a coordinator owns: its lock, run.json (identity and provenance; a
// different sweep is refused), sweep.yaml, the journal, events.jsonl, cache/ (feature files and
// task artifacts) and results.h5, rewritten from the journal at intervals.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "run/coordinator.h"
#include "run/results_writer.h"

namespace fersweep::store {
class DirectoryLock;
class JournalWriter;
}  // namespace fersweep::store

namespace fersweep::run {

/// UTC time as ISO 8601 text ("2026-11-29T14:44:10Z"), formatted once per second.
const std::string& now_iso();

/// One finished attempt as the journal stores it (docs/results-schema.md): one line of JSON with
/// its keys in sorted order. Built here only, whether the task ran or came from the feature cache.
/// The text fields are views: the record is built and appended within one call (the coordinator
/// journals every task, so copies of ids and hosts would cost dispatch throughput).
struct JournalRecord {
  std::string_view id;
  std::string_view kind;
  bool ok = false;
  int attempt = 0;
  bool final = true;  ///< no further attempt follows (done, or failed for good)
  int rank = 0;
  std::string_view host;
  double seconds = 0;
  std::string_view params;  ///< the task's parameters as JSON text
  std::string_view result;  ///< JSON text when ok ("null" when empty)
  std::string_view error;   ///< when !ok

  /// The record's line (without the journal's checksum), finished now.
  std::string text() const;
};

class ResultsDirectory {
 public:
  /// Creates or reopens `options.out`: takes the lock, checks run.json against `setup.identity`
  /// (ConfigError naming every difference, unless force_new), writes sweep.yaml and run.json,
  /// reads the journal (damaged records are skipped with a warning).
  ResultsDirectory(const RunSetup& setup, const RunOptions& options);
  ~ResultsDirectory();

  const std::filesystem::path& dir() const { return dir_; }
  /// The records the journal held when the run started (for resume); see forget_records().
  const std::vector<nlohmann::json>& records() const { return records_; }
  /// Frees records() once resume has used them (results.h5 is written from the compact entries).
  void forget_records() { std::vector<nlohmann::json>().swap(records_); }
  std::filesystem::path features_path(const std::string& id) const;
  /// Writes a task's artifact (a QC report, a contact sheet) under cache/KIND/ID/ atomically and
  /// returns its path relative to the directory; CommError for an unsafe name.
  std::string write_artifact(const std::string& kind, const std::string& id,
                             const std::string& name, const std::string& bytes);

  /// Appends a record to the journal (fsync'd in batches, see maybe_flush).
  void append(const JournalRecord& record);
  void event(nlohmann::json e);
  /// The per-task event, formatted directly (it is written for every task).
  void task_event(bool ok, const std::string& id, const std::string& kind, int rank,
                  double seconds);
  /// Flushes the journal when its batch is due, and rewrites results.h5 at most every
  /// `rewrite_seconds` when records arrived.
  void maybe_flush(double rewrite_seconds);
  /// Flushes everything and rewrites results.h5 now.
  void flush_all();

 private:
  void keep(JournalEntry entry);
  void rewrite();

  std::filesystem::path dir_;
  std::unique_ptr<store::DirectoryLock> lock_;
  std::unique_ptr<store::JournalWriter> journal_;
  std::ofstream events_;
  std::vector<nlohmann::json> records_;
  std::vector<JournalEntry> entries_;  // every record, compact: what results.h5 is written from
  nlohmann::json run_info_;
  std::string created_;
  bool dirty_ = true;
  std::chrono::steady_clock::time_point last_rewrite_{};
};

/// Writes `path` atomically (a temporary file beside it, fsync'd and renamed); IoError naming
/// it on failure.
void write_text_atomically(const std::filesystem::path& path, const std::string& text);

/// A JSON file, parsed; IoError naming it when it is unreadable or not JSON.
nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace fersweep::run
