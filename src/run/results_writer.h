// Builds results.h5 from run.json and the journal records (see docs/results-schema.md).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
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

/// The samples of a sweep's dataset, in manifest order: what the fold assignments index. Rank 0
/// writes it once per run as DIR/samples.h5 (kSamplesFile), and results.h5 copies it.
struct SampleTable {
  std::vector<std::string> id;       ///< identity: path, FILE:LINE or FILE:LINE#FACE
  std::vector<std::int64_t> label;   ///< index into the classes
  std::vector<std::string> subject;  ///< "" where the format has none
  std::vector<std::string> split;    ///< the dataset's own part ("" where it has none)
};
inline constexpr const char* kSamplesFile = "samples.h5";

/// Writes `table` to `path` atomically (/samples/{id,label,subject,split}).
void write_samples_h5(const std::filesystem::path& path, const SampleTable& table);

/// The fold assignment of one feature set under one cross-validation split, as journaled with
/// its extract task (result.folds): per sample of the SampleTable, the fold whose test part holds
/// it, -1 when it is in neither part of any fold (not in the feature set, e.g. no face found, or
/// outside the official split's two parts). `scheme` holds `folds`, `cv_seed` and, for group
/// folds and official splits, `cv`: the training tasks' parameters of the same names.
nlohmann::json fold_record(const nlohmann::json& scheme, const std::vector<std::int16_t>& folds);
/// The extract record's result key holding its fold_records. Journal-only: the coordinator does
/// not pass it to dependent tasks (a worker never needs it; AffectNet's is ~770 KB per split).
inline constexpr const char* kFoldsKey = "folds";
/// The assignment of a fold_record (IoError when it is damaged).
std::vector<std::int16_t> fold_record_assignment(const nlohmann::json& record);

/// Writes `path` atomically: one row per (training task, evaluated epoch) under /results, learning
/// curves under /curves, extraction and crop provenance, failures, and run attributes; and, when
/// kSamplesFile lies next to it, /samples and /folds (every feature set's journaled folds).
/// Cost: linear in the number of records, plus sorting the rows written in full.
void write_results_h5(const std::filesystem::path& path, const nlohmann::json& run_info,
                      const std::vector<JournalEntry>& records);
void write_results_h5(const std::filesystem::path& path, const nlohmann::json& run_info,
                      const std::vector<nlohmann::json>& records);

}  // namespace fersweep::run
