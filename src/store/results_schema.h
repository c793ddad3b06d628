// The layout of results.h5 (docs/results-schema.md), in one place: the writer (run/results_writer)
// and the reader (report/results) both name their columns, attributes and parameter types from
// here. No HDF5 or torch here.
#pragma once

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>

namespace fersweep::store::results_schema {

/// The root attribute `format`.
inline constexpr std::string_view kFormat = "fersweep-results-1";

/// /results columns that are not sweep parameters: metrics, fold sizes, where and when. The
/// val_ metrics and n_val are those of the validation part select: sets aside (NaN and 0 without);
/// stopped_at is the rung where early_stop stopped the task (-1: it ran to its last epoch).
inline constexpr std::array<std::string_view, 19> kRowColumns = {
    "task_id",   "epoch",    "accuracy",     "macro_f1",     "test_loss", "per_class_recall",
    "confusion", "n_train",  "n_test",       "curve",        "host",      "rank",
    "seconds",   "finished", "val_accuracy", "val_macro_f1", "val_loss",  "n_val",
    "stopped_at"};

/// Root attributes beside the provenance a run hands over (run::RunSetup::provenance).
inline constexpr std::array<std::string_view, 4> kRunAttributes = {"format", "created", "updated",
                                                                   "identity"};

/// How a parameter column is stored.
enum class ColumnType {
  text,     ///< variable-length UTF-8; missing: ""
  int64,    ///< missing: -1
  float64,  ///< missing: NaN
  boolean,  ///< int64 0/1; missing: 0
};

/// A parameter of training tasks and its declared column type.
struct ParamColumn {
  std::string_view name;
  ColumnType type;
};

/// Every parameter a training task carries (sweep::TrainTask::params()), typed. Columns of
/// parameters not listed here (synthetic runs, extracts, crops) are typed from their values.
/// `augment` holds the transforms as JSON text, e.g. {"hflip":true}.
inline constexpr std::array<ParamColumn, 29> kTrainParams = {{
    {"backbone", ColumnType::text},        {"variant", ColumnType::text},
    {"weights", ColumnType::text},         {"image_size", ColumnType::int64},
    {"normalize", ColumnType::text},       {"head", ColumnType::text},
    {"hidden", ColumnType::int64},         {"optimizer", ColumnType::text},
    {"lr", ColumnType::float64},           {"weight_decay", ColumnType::float64},
    {"momentum", ColumnType::float64},     {"batch_size", ColumnType::int64},
    {"standardize", ColumnType::boolean},  {"label_smoothing", ColumnType::float64},
    {"seed", ColumnType::int64},           {"fold", ColumnType::int64},
    {"repeat", ColumnType::int64},         {"folds", ColumnType::int64},
    {"cv_seed", ColumnType::int64},        {"extract", ColumnType::text},
    {"finetune", ColumnType::text},        {"bn", ColumnType::text},
    {"backbone_lr", ColumnType::float64},  {"schedule", ColumnType::text},
    {"lr_horizon", ColumnType::int64},     {"lr_step", ColumnType::int64},
    {"lr_gamma", ColumnType::float64},     {"augment", ColumnType::text},
    {"val_fraction", ColumnType::float64},
}};

/// Keys that journals written before the typed task payloads carried among a training task's
/// parameters (they are not parameters: the seed is the id's, the epochs are the evaluations).
/// The writer leaves them out, so an old results directory resumes into the same columns.
inline constexpr std::array<std::string_view, 2> kRetiredParams = {"train_seed", "epochs"};

/// The declared type of a training parameter's column, if it is one.
inline std::optional<ColumnType> train_param_type(std::string_view name) {
  const auto it = std::find_if(kTrainParams.begin(), kTrainParams.end(),
                               [&](const ParamColumn& c) { return c.name == name; });
  return it == kTrainParams.end() ? std::nullopt : std::optional<ColumnType>(it->type);
}

inline bool is_row_column(std::string_view name) {
  return std::find(kRowColumns.begin(), kRowColumns.end(), name) != kRowColumns.end();
}

inline bool is_retired_param(std::string_view name) {
  return std::find(kRetiredParams.begin(), kRetiredParams.end(), name) != kRetiredParams.end();
}

}  // namespace fersweep::store::results_schema
