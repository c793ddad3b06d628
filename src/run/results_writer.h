// Builds results.h5 from run.json and the journal records (see docs/results-schema.md).
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace fersweep::run {

/// One journal record as the coordinator keeps it in memory: the fields results.h5 groups by, and
/// the record's JSON text, parsed only for the rows written in full (synthetic tasks are counted).
struct JournalEntry {
  std::string id;
  std::string kind;
  bool done = false;  ///< status "done" (else "failed")
  std::string text;   ///< the record as one line of JSON; may be empty if !written_in_full(kind)
};

/// The one rule for a task with several journal records (retries, a resumed run): the last
/// record counts, except that a done record is never replaced by a failed one.
inline bool supersedes(bool later_done, bool earlier_done) {
  return later_done || !earlier_done;
}

/// Kinds whose finished records become rows of results.h5 (the others are only counted).
bool written_in_full(const std::string& kind);

/// The entry of a parsed journal record.
JournalEntry journal_entry(const nlohmann::json& record);

/// Writes `path` atomically: one row per (training task, evaluated epoch) under /results, learning
/// curves under /curves, extraction and crop provenance, failures, and run attributes.
/// Cost: linear in the number of records, plus sorting the rows written in full.
void write_results_h5(const std::filesystem::path& path, const nlohmann::json& run_info,
                      const std::vector<JournalEntry>& records);
void write_results_h5(const std::filesystem::path& path, const nlohmann::json& run_info,
                      const std::vector<nlohmann::json>& records);

}  // namespace fersweep::run
