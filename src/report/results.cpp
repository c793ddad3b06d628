// Reads results.h5 (docs/results-schema.md; its layout is store/results_schema.h, which the writer
// uses too) through the checked HDF5 wrapper. Parameter columns are the 1-D `/results` datasets
// that are not row columns of the schema.
#include "report/results.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "store/h5.h"
#include "store/results_schema.h"

namespace fersweep::report {
namespace {

namespace schema = store::results_schema;

const ParamValue kNoValue{};

std::string number_text(double v) {
  if (std::isnan(v)) return "";
  return fmt::format("{}", v);
}

// A column read generically: text for every row and the number where the column is numeric.
std::vector<ParamValue> read_column(const store::H5File& f, const std::string& path,
                                    std::size_t rows) {
  std::vector<ParamValue> out;
  switch (f.dataset_class(path)) {
    case store::H5Class::integer:
      for (auto v : f.read_i64(path).values)
        out.push_back({std::to_string(v), static_cast<double>(v)});
      break;
    case store::H5Class::floating:
      for (double v : f.read_f64(path).values) {
        out.push_back({number_text(v), std::isnan(v) ? std::nullopt : std::optional<double>(v)});
      }
      break;
    case store::H5Class::string:
      for (auto& s : f.read_strings(path)) out.push_back({std::move(s), std::nullopt});
      break;
    default:
      throw DataError(fmt::format("'{}': dataset '{}' is neither numbers nor strings",
                                  f.path().string(), path));
  }
  if (out.size() != rows) {
    throw DataError(fmt::format("'{}': dataset '{}' has {} rows, expected {}", f.path().string(),
                                path, out.size(), rows));
  }
  return out;
}

std::string attribute_text(const store::H5File& f, const std::string& object,
                           const std::string& name) {
  // Attributes are strings or int64/float64 scalars; try them in that order.
  try {
    return f.string_attribute(object, name);
  } catch (const IoError&) {
  }
  try {
    const double d = f.double_attribute(object, name);
    if (d == std::floor(d) && std::abs(d) < 1e15) return fmt::format("{}", std::int64_t(d));
    return fmt::format("{}", d);
  } catch (const IoError&) {
    return "";
  }
}

bool truthy(const ParamValue& v) {
  return v.number ? *v.number != 0 : (v.text == "true" || v.text == "True" || v.text == "1");
}

void load_rows(const store::H5File& f, ResultsTable& t) {
  if (!f.exists("/results") || !f.exists("/results/task_id")) return;
  const auto ids = f.read_strings("/results/task_id");
  const std::size_t n = ids.size();
  if (n == 0) return;
  auto f64 = [&](const char* name) {
    const std::string path = std::string("/results/") + name;
    if (!f.exists(path)) return std::vector<double>(n, std::nan(""));
    auto v = f.read_f64(path).values;
    if (v.size() != n)
      throw DataError(
          fmt::format("'{}': '{}' has {} rows, expected {}", f.path().string(), path, v.size(), n));
    return v;
  };
  auto i64 = [&](const char* name, std::int64_t missing) {
    const std::string path = std::string("/results/") + name;
    if (!f.exists(path)) return std::vector<std::int64_t>(n, missing);
    auto v = f.read_i64(path).values;
    if (v.size() != n)
      throw DataError(
          fmt::format("'{}': '{}' has {} rows, expected {}", f.path().string(), path, v.size(), n));
    return v;
  };
  for (const char* required : {"/results/epoch", "/results/accuracy"}) {
    if (!f.exists(required))
      throw DataError(fmt::format("'{}' has no '{}' dataset (not a fersweep results file?)",
                                  f.path().string(), required));
  }
  const auto epoch = i64("epoch", -1);
  const auto accuracy = f64("accuracy");
  const auto macro_f1 = f64("macro_f1");
  const auto test_loss = f64("test_loss");
  const auto n_train = i64("n_train", -1);
  const auto n_test = i64("n_test", -1);
  const auto curve = i64("curve", -1);
  const auto val_accuracy = f64("val_accuracy");  // NaN in files without select: or older
  const auto val_macro_f1 = f64("val_macro_f1");
  const auto val_loss = f64("val_loss");
  const auto n_val = i64("n_val", 0);
  const auto stopped_at = i64("stopped_at", -1);
  t.rows.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    ResultRow& r = t.rows[i];
    r.task_id = ids[i];
    r.epoch = epoch[i];
    r.accuracy = accuracy[i];
    r.macro_f1 = macro_f1[i];
    r.test_loss = test_loss[i];
    r.n_train = n_train[i];
    r.n_test = n_test[i];
    r.curve = curve[i];
    r.val_accuracy = val_accuracy[i];
    r.val_macro_f1 = val_macro_f1[i];
    r.val_loss = val_loss[i];
    r.n_val = n_val[i];
    r.stopped_at = stopped_at[i];
    r.params["epoch"] = {std::to_string(epoch[i]), static_cast<double>(epoch[i])};
  }
  if (f.exists("/results/confusion")) {
    const auto cm = f.read_i64("/results/confusion");
    if (cm.dims.size() != 3 || cm.dims[0] != n || cm.dims[1] != cm.dims[2]) {
      throw DataError(
          fmt::format("'{}': '/results/confusion' must be [{}, C, C]", f.path().string(), n));
    }
    const std::size_t c = cm.dims[1];
    for (std::size_t i = 0; i < n; ++i) {
      t.rows[i].confusion.assign(cm.values.begin() + i * c * c,
                                 cm.values.begin() + (i + 1) * c * c);
    }
    if (t.classes.size() != c) {
      if (!t.classes.empty()) {
        throw DataError(fmt::format("'{}': {} class names but confusion matrices are {}×{}",
                                    f.path().string(), t.classes.size(), c, c));
      }
      for (std::size_t k = 0; k < c; ++k) t.classes.push_back(fmt::format("class {}", k));
    }
  }
  if (f.exists("/results/per_class_recall")) {
    const auto rc = f.read_f64("/results/per_class_recall");
    if (rc.dims.size() == 2 && rc.dims[0] == n) {
      const std::size_t c = rc.dims[1];
      for (std::size_t i = 0; i < n; ++i) {
        t.rows[i].per_class_recall.assign(rc.values.begin() + i * c,
                                          rc.values.begin() + (i + 1) * c);
      }
    }
  }
  for (const auto& name : f.list("/results")) {
    // Retired keys: results.h5 files written before typed task payloads had these columns.
    if (schema::is_row_column(name) || schema::is_retired_param(name)) continue;
    const std::string path = "/results/" + name;
    if (f.dims(path).size() != 1) continue;
    auto col = read_column(f, path, n);
    // A declared integer parameter is never negative: -1 is the writer's "missing" (hidden
    // without an mlp head, lr_step without a step schedule), shown as no value.
    const bool minus_one_missing = schema::train_param_type(name) == schema::ColumnType::int64;
    for (std::size_t i = 0; i < n; ++i) {
      if (minus_one_missing && col[i].number == -1.0) col[i] = kNoValue;
      t.rows[i].params[name] = std::move(col[i]);
    }
  }
}

void load_curves(const store::H5File& f, ResultsTable& t) {
  if (!f.exists("/curves/task_id")) return;
  const auto ids = f.read_strings("/curves/task_id");
  const auto loss = f.read_f64("/curves/train_loss");
  const auto acc = f.exists("/curves/train_accuracy") ? f.read_f64("/curves/train_accuracy")
                                                      : store::H5Array<double>{};
  const std::size_t e = loss.dims.size() == 2 ? loss.dims[1] : 0;
  if (ids.size() > 0 && (loss.dims.size() != 2 || loss.dims[0] != ids.size())) {
    throw DataError(
        fmt::format("'{}': '/curves/train_loss' must be [{}, E]", f.path().string(), ids.size()));
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    Curve c;
    c.task_id = ids[i];
    c.train_loss.assign(loss.values.begin() + i * e, loss.values.begin() + (i + 1) * e);
    if (acc.values.size() == loss.values.size())
      c.train_accuracy.assign(acc.values.begin() + i * e, acc.values.begin() + (i + 1) * e);
    t.curves.push_back(std::move(c));
  }
}

// Reads a row-table group (`/failures`, `/extracts`) as columns by name.
std::map<std::string, std::vector<ParamValue>> read_group(const store::H5File& f,
                                                          const std::string& group) {
  std::map<std::string, std::vector<ParamValue>> cols;
  if (!f.exists(group)) return cols;
  std::size_t rows = 0;
  bool first = true;
  for (const auto& name : f.list(group)) {
    const std::string path = group + "/" + name;
    const auto d = f.dims(path);
    if (d.size() != 1) continue;
    if (first) rows = d[0];
    first = false;
    cols[name] = read_column(f, path, rows);
  }
  return cols;
}

void load_failures_and_extracts(const store::H5File& f, ResultsTable& t) {
  auto fail = read_group(f, "/failures");
  if (fail.count("task_id")) {
    const std::size_t n = fail["task_id"].size();
    auto get = [&](const char* k, std::size_t i) -> const ParamValue& {
      auto it = fail.find(k);
      return it == fail.end() ? kNoValue : it->second[i];
    };
    for (std::size_t i = 0; i < n; ++i) {
      Failure x;
      x.task_id = get("task_id", i).text;
      x.kind = get("kind", i).text;
      x.message = get("message", i).text;
      x.host = get("host", i).text;
      x.attempt = static_cast<std::int64_t>(get("attempt", i).number.value_or(0));
      x.rank = static_cast<std::int64_t>(get("rank", i).number.value_or(0));
      x.final = truthy(get("final", i));
      x.recovered = truthy(get("recovered", i));
      t.failures.push_back(std::move(x));
    }
  }
  auto ext = read_group(f, "/extracts");
  if (ext.count("task_id")) {
    t.extract_count = static_cast<std::int64_t>(ext["task_id"].size());
    auto random = ext.find("result_random_weights");
    auto backbone = ext.find("backbone");
    if (random != ext.end()) {
      std::set<std::string> names;
      for (std::size_t i = 0; i < random->second.size(); ++i) {
        if (truthy(random->second[i]))
          names.insert(backbone != ext.end() ? backbone->second[i].text : "?");
      }
      t.random_weight_backbones.assign(names.begin(), names.end());
    }
  }
}

}  // namespace

bool ParamValue::operator<(const ParamValue& other) const {
  if (number && other.number && *number != *other.number) return *number < *other.number;
  if (number.has_value() != other.number.has_value()) return number.has_value();
  return text < other.text;
}

const ParamValue& ResultRow::param(const std::string& key) const {
  auto it = params.find(key);
  return it == params.end() ? kNoValue : it->second;
}

std::vector<std::string> ResultsTable::parameter_names() const {
  std::set<std::string> names;
  for (const auto& r : rows)
    for (const auto& [k, v] : r.params) names.insert(k);
  return {names.begin(), names.end()};
}

std::vector<ParamValue> ResultsTable::values_of(const std::string& key) const {
  std::vector<ParamValue> values;
  for (const auto& r : rows) values.push_back(r.param(key));
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

std::vector<std::string> ResultsTable::varying_parameters() const {
  std::vector<std::string> out;
  for (const auto& k : parameter_names()) {
    if (values_of(k).size() > 1) out.push_back(k);
  }
  return out;
}

std::size_t ResultsTable::unrecovered_failures() const {
  return static_cast<std::size_t>(std::count_if(failures.begin(), failures.end(),
                                                [](const Failure& f) { return !f.recovered; }));
}

bool is_fold_parameter(const std::string& key) {
  static const std::set<std::string> keys = {"fold",    "repeat", "cv_seed", "cv",
                                             "extract", "seed",   "folds"};
  return keys.count(key) > 0;
}

ResultsTable load_results(const std::filesystem::path& path) {
  std::filesystem::path file = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    file = path / "results.h5";
    if (!std::filesystem::exists(file, ec)) {
      throw IoError(fmt::format(
          "'{}' has no results.h5 (is it a `fersweep run --out` directory? results.h5 appears "
          "once the first task has finished)",
          path.string()));
    }
  }
  store::H5File f(file, store::H5File::Mode::read);
  ResultsTable t;
  t.path = file;
  if (!f.has_attribute("/", "format")) {
    throw DataError(
        fmt::format("'{}' is not a fersweep results file (no 'format' attribute)", file.string()));
  }
  const std::string format = f.string_attribute("/", "format");
  if (format != schema::kFormat) {
    throw DataError(fmt::format("'{}' has format '{}'; this fersweep reads '{}'", file.string(),
                                format, schema::kFormat));
  }
  for (const char* name :
       {"created", "updated", "sweep_name", "sweep_file", "sweep_hash", "dataset_root",
        "dataset_fingerprint", "dataset_images", "dataset_bad_images", "dataset_format",
        "dataset_left_out", "fersweep_version", "libtorch_version", "sweep_text", "classes",
        "select_metric", "early_stop", "search_space"}) {
    if (f.has_attribute("/", name)) t.provenance[name] = attribute_text(f, "/", name);
  }
  if (t.provenance.count("classes")) {
    try {
      const auto j = nlohmann::json::parse(t.provenance["classes"]);
      for (const auto& c : j) t.classes.push_back(c.get<std::string>());
    } catch (const nlohmann::json::exception& e) {
      throw DataError(fmt::format("'{}': root attribute 'classes' is not a JSON list of names: {}",
                                  file.string(), e.what()));
    }
  }
  load_rows(f, t);
  load_curves(f, t);
  load_failures_and_extracts(f, t);
  return t;
}

void filter_rows(ResultsTable& table, const std::string& key, const std::string& value) {
  bool known = false;
  for (const auto& r : table.rows) known |= r.params.count(key) > 0;
  if (!known && !table.rows.empty()) {
    std::string names;
    for (const auto& k : table.parameter_names()) names += (names.empty() ? "" : ", ") + k;
    throw ConfigError(fmt::format("--filter {}={}: no parameter '{}' in the results (known: {})",
                                  key, value, key, names));
  }
  std::optional<double> number;
  try {
    std::size_t used = 0;
    const double d = std::stod(value, &used);
    if (used == value.size()) number = d;
  } catch (const std::exception&) {
  }
  auto matches = [&](const ResultRow& r) {
    const ParamValue& v = r.param(key);
    if (v.text == value) return true;
    return number && v.number && *v.number == *number;
  };
  table.rows.erase(std::remove_if(table.rows.begin(), table.rows.end(),
                                  [&](const ResultRow& r) { return !matches(r); }),
                   table.rows.end());
}

}  // namespace fersweep::report
