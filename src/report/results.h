// results.h5 read back into memory for reports: one entry per (training task, evaluated epoch)
// with every sweep parameter, the metrics, confusion matrices, curves, provenance and failures.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fersweep::report {

/// A parameter value as stored in results.h5: its text form (what tables show and filters
/// match) and, for numeric columns, the number (for sorting and numeric comparison).
struct ParamValue {
  std::string text;
  std::optional<double> number;
  /// Orders numbers numerically, then text.
  bool operator<(const ParamValue& other) const;
  bool operator==(const ParamValue& other) const { return text == other.text; }
  bool operator!=(const ParamValue& other) const { return !(*this == other); }
};

/// One row of `/results`: a training task evaluated after `epoch` epochs on its test fold.
struct ResultRow {
  std::string task_id;
  std::int64_t epoch = 0;
  double accuracy = 0;
  double macro_f1 = 0;
  double test_loss = 0;
  std::int64_t n_train = 0;
  std::int64_t n_test = 0;
  std::int64_t curve = -1;  ///< row in ResultsTable::curves, -1 when absent
  /// On the validation part select: set aside from the training fold; NaN (n_val 0) without.
  double val_accuracy = std::numeric_limits<double>::quiet_NaN();
  double val_macro_f1 = std::numeric_limits<double>::quiet_NaN();
  double val_loss = std::numeric_limits<double>::quiet_NaN();
  std::int64_t n_val = 0;
  std::int64_t stopped_at = -1;  ///< the rung early_stop stopped the task at; -1: ran to its end
  std::vector<double> per_class_recall;
  std::vector<std::int64_t> confusion;  ///< C×C, row = true class
  /// Every sweep parameter (backbone, variant, fold, ...), plus "epoch" as a pseudo-parameter.
  std::map<std::string, ParamValue> params;

  /// The value of a parameter, or an empty text when this row has none.
  const ParamValue& param(const std::string& key) const;
};

/// Per-epoch training curves of one task (`/curves`); NaN past the task's last epoch.
struct Curve {
  std::string task_id;
  std::vector<double> train_loss;
  std::vector<double> train_accuracy;
};

/// One failed attempt (`/failures`).
struct Failure {
  std::string task_id, kind, message, host;
  std::int64_t attempt = 0, rank = 0;
  bool final = false, recovered = false;
};

/// The whole of results.h5 as reports need it.
struct ResultsTable {
  std::filesystem::path path;                     ///< the results.h5 that was read
  std::map<std::string, std::string> provenance;  ///< root attributes, numbers as text
  std::vector<std::string> classes;               ///< label order; "class i" when unknown
  std::vector<ResultRow> rows;
  std::vector<Curve> curves;
  std::vector<Failure> failures;
  /// Extraction tasks that ran with random (not pretrained) weights: their backbone names.
  std::vector<std::string> random_weight_backbones;
  std::int64_t extract_count = 0;

  /// Parameter names present in the rows, sorted (includes "epoch").
  std::vector<std::string> parameter_names() const;
  /// Distinct values of one parameter over the rows, sorted.
  std::vector<ParamValue> values_of(const std::string& key) const;
  /// Parameters taking more than one value over the rows.
  std::vector<std::string> varying_parameters() const;
  /// Failed attempts that no later attempt recovered.
  std::size_t unrecovered_failures() const;
};

/// Parameters that identify a fold or derive from other parameters rather than describe a
/// configuration: never used as default table rows.
bool is_fold_parameter(const std::string& key);

/// Reads results.h5 (or DIR/results.h5 when `path` is a directory). IoError/DataError naming the
/// file and the dataset when it is missing, not a fersweep results file, or inconsistent.
ResultsTable load_results(const std::filesystem::path& path);

/// Keeps the rows whose parameter `key` matches `value` (text equality, or numeric equality
/// when both are numbers: `lr=0.01` matches 1e-2). ConfigError when no row has that parameter.
void filter_rows(ResultsTable& table, const std::string& key, const std::string& value);

}  // namespace fersweep::report
