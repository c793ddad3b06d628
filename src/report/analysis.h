// The tables of a report computed from results: the paper-style pivot (configurations × folds
// with mean, std and 95% interval), best configuration per variant, paired comparisons,
// the comparison against reference results, and failures.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "report/results.h"
#include "report/stats.h"
#include "report/table.h"

namespace fersweep::report {

/// Which metric tables show (in percent).
enum class Metric { accuracy, macro_f1 };
Metric parse_metric(const std::string& name);  ///< ConfigError for anything else
std::string metric_label(Metric metric);       ///< "accuracy" / "macro-F1"
double metric_of(const ResultRow& row, Metric metric);

/// How a table pivots: parameters forming the rows and the columns.
struct PivotOptions {
  std::vector<std::string> rows;  ///< empty: every varying non-fold parameter, then "epoch"
  std::vector<std::string> cols;  ///< empty: {"fold"}
  Metric metric = Metric::accuracy;
};

/// A configuration: values of the row parameters, and the result rows that belong to it.
struct ConfigGroup {
  std::vector<ParamValue> key;
  std::vector<const ResultRow*> rows;
  /// Metric per fold (mean over any other rows in the same fold), in fold order.
  std::vector<double> fold_values(Metric metric) const;
  std::vector<std::int64_t> folds() const;
};

/// The row parameters a pivot uses (resolving the default); ConfigError for unknown names.
std::vector<std::string> resolve_rows(const ResultsTable& t, const PivotOptions& options);
std::vector<std::string> resolve_cols(const ResultsTable& t, const PivotOptions& options);

/// Groups the rows by the values of `keys`, in sorted key order.
std::vector<ConfigGroup> group_rows(const ResultsTable& t, const std::vector<std::string>& keys);

/// "backbone=resnet18, variant=faces, epoch=100".
std::string describe(const std::vector<std::string>& keys, const std::vector<ParamValue>& values);

/// The paper-style table: one row per configuration, one column per value of the column
/// parameters (cell = mean of the metric over the matching rows), then n, mean, std and the 95%
/// interval over folds (mean ± t(0.975, n−1)·sd/√n). Percent with one decimal.
Table main_table(const ResultsTable& t, const PivotOptions& options);

/// The main table as aligned text (what `fersweep run` and `fersweep report` print), or a
/// one-line explanation when there is nothing to show.
std::string main_table_text(const ResultsTable& t, const PivotOptions& options = {});

/// For each value of `variant` (or one row when there is no such parameter), the configuration
/// with the highest mean over folds.
Table best_table(const ResultsTable& t, const PivotOptions& options);

/// A validation score of a row (select:): val_accuracy or val_macro_f1; NaN without one.
double val_metric_of(const ResultRow& row, Metric metric);
/// "val_accuracy" / "val_macro_f1" (select.metric) → the metric; ConfigError for anything else.
Metric parse_select_metric(const std::string& name);

/// One outer fold's choice in nested cross-validation.
struct FoldChoice {
  ParamValue variant;  ///< "all" when the rows have no variant
  std::int64_t repeat = 0, fold = 0;
  std::vector<ParamValue> config;  ///< values of the configuration keys
  double val = 0;                  ///< its validation score in this fold (mean over its rows)
};

/// For each variant and outer fold (repeat, fold), the configuration (values of `keys`) with the
/// highest mean validation `select` score among the rows of that fold; ties go to the first in
/// sorted key order. Reads only validation scores: test scores never take part. Rows without a
/// validation score are ignored; empty when none has one.
std::vector<FoldChoice> choose_by_validation(const ResultsTable& t,
                                             const std::vector<std::string>& keys, Metric select);

/// Nested cross-validation (select:): per variant, each outer fold's configuration chosen by
/// validation `select` score and its test `options.metric`, then their mean, std and 95%
/// interval over the outer folds: an estimate of what choosing by validation gives on unseen
/// data, unlike best_table's choice on the test folds. No rows without validation scores.
Table selected_table(const ResultsTable& t, const PivotOptions& options, Metric select);

/// early_stop (halving or median): per rung, how many training tasks reached it, continued and
/// stopped there; and the head-epochs trained against every task running to the last epoch.
/// `rungs`: the early_stop rungs. No rows without tasks.
Table rung_table(const ResultsTable& t, const std::vector<int>& rungs);

/// The tasks whose networks `run.keep_models: best` keeps: for each variant, every fold of the
/// configuration with the highest mean test `metric` over folds, comparing each task at its last
/// epoch (the network a kept model holds). Chosen on test folds, like best_table: an optimistic
/// choice. With select: (the results' select_metric), each outer fold's configuration chosen by
/// validation score instead, as selected_table does. Sorted task ids.
std::vector<std::string> best_model_tasks(const ResultsTable& t, Metric metric = Metric::accuracy);

/// The models a run kept (`models_dir`/*.pt, named by task id), each with its configuration,
/// fold, and metric at the task's last epoch. Empty when the directory has none.
Table models_table(const ResultsTable& t, const std::filesystem::path& models_dir);

/// Paired comparison of two values of one parameter across folds: for every combination of the
/// other row parameters, the fold-wise means of A and B, their mean difference (A − B) and a
/// two-sided paired t-test p-value. Empty table when no pair is found.
Table paired_table(const ResultsTable& t, const PivotOptions& options, const std::string& key,
                   const std::string& a, const std::string& b);

/// The comparison with results reported elsewhere (a YAML file, see analysis/references/) next to
/// this run's best mean per variant. ConfigError naming the file and key when it is malformed.
Table reference_table(const ResultsTable& t, const PivotOptions& options,
                      const std::filesystem::path& references);

/// Every failed attempt, with whether a later attempt recovered it.
Table failures_table(const ResultsTable& t);

/// The fold whose metric is closest to the mean of the configuration (the paper's choice for
/// its confusion matrices); ties go to the lower fold.
std::int64_t representative_fold(const ConfigGroup& group, Metric metric);

/// Confusion matrix of a configuration: summed over its rows, or the rows of one fold.
std::vector<std::int64_t> confusion_of(const ConfigGroup& group, std::size_t classes,
                                       std::optional<std::int64_t> fold = std::nullopt);

}  // namespace fersweep::report
