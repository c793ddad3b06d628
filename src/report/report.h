// `fersweep report`: reads results.h5 and writes the tables and figures in the requested formats
// (Markdown, CSV, LaTeX, one self-contained HTML page) into a report directory.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "report/analysis.h"

namespace fersweep::report {

/// What `fersweep report` was asked for.
struct ReportOptions {
  std::filesystem::path input;  ///< results.h5 or the run directory holding it
  std::filesystem::path out;    ///< the report directory (created)
  std::vector<std::string> formats = {"md", "csv", "tex", "html"};
  PivotOptions pivot;
  std::vector<std::pair<std::string, std::string>> filters;  ///< key=value, all must match
  std::string epoch = "all";         ///< "all", "last" (each task's last evaluation) or a number
  std::string compare;               ///< "KEY=A,B"; empty: variant when it has exactly two values
  std::string confusion = "sum";     ///< "sum" over folds or "closest" (fold closest to the mean)
  std::filesystem::path references;  ///< YAML of reference results; empty: none
  std::size_t max_figures = 36;      ///< confusion matrices drawn at most (CSV has them all)
};

/// What was written.
struct ReportSummary {
  std::vector<std::filesystem::path> files;
  std::string main_text;  ///< the main table as aligned text, or the explanation why empty
  std::string message;    ///< non-empty when the results had nothing to tabulate
};

/// Parses "md,csv" (also "markdown", "latex", "all"); ConfigError naming an unknown format.
std::vector<std::string> parse_formats(const std::string& list);

/// The reference results shipped with fersweep (analysis/references/sfew.yaml in the source
/// tree), or an empty path when it is not there.
std::filesystem::path default_references();

/// Applies filters and the epoch selection to a loaded table (ConfigError for unknown keys).
void select_rows(ResultsTable& table, const ReportOptions& options);

/// Loads, selects, and writes every requested format into options.out.
ReportSummary write_report(const ReportOptions& options);

}  // namespace fersweep::report
