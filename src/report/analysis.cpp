// Report tables from results. Means over folds first average any rows sharing a fold (e.g.
// repeats), so every fold weighs the same, as in the paper's tables.
#include "report/analysis.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "core/error.h"

namespace fersweep::report {
namespace {

std::string pct(double v) {
  return std::isnan(v) ? "-" : fmt::format("{:.1f}", 100 * v);
}
Cell pct_cell(double v) {
  return std::isnan(v) ? Cell("-") : Cell(pct(v), 100 * v);
}

// The test part when the rows come from a dataset's official split (results' `cv` column, e.g.
// {"split":"official","test":"PublicTest"}); "" for cross-validation folds.
std::string official_test_part(const ResultsTable& t) {
  const auto values = t.values_of("cv");
  if (values.size() != 1) return "";
  const auto cv = nlohmann::json::parse(values.front().text, nullptr, false);
  if (!cv.is_object() || cv.value("split", "") != "official") return "";
  return cv.value("test", "test");
}

std::string column_label(const std::string& key, const ParamValue& v, const std::string& official) {
  if (key == "fold" && !official.empty()) return fmt::format("official split ({})", official);
  if (key == "fold" && v.number)
    return fmt::format("fold {}", static_cast<long long>(*v.number) + 1);
  return key + "=" + v.text;
}

void check_known(const ResultsTable& t, const std::vector<std::string>& keys, const char* option) {
  const auto names = t.parameter_names();
  for (const auto& k : keys) {
    if (std::find(names.begin(), names.end(), k) == names.end()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      throw ConfigError(
          fmt::format("{} {}: no such parameter in the results (known: {})", option, k, known));
    }
  }
}

std::vector<std::string> row_header(const std::vector<std::string>& keys) {
  return keys;
}

}  // namespace

Metric parse_metric(const std::string& name) {
  if (name == "accuracy") return Metric::accuracy;
  if (name == "macro_f1" || name == "macro-f1" || name == "f1") return Metric::macro_f1;
  throw ConfigError(fmt::format("--metric {}: expected accuracy or macro_f1", name));
}

std::string metric_label(Metric m) {
  return m == Metric::accuracy ? "accuracy" : "macro-F1";
}

double metric_of(const ResultRow& row, Metric m) {
  return m == Metric::accuracy ? row.accuracy : row.macro_f1;
}

std::vector<std::int64_t> ConfigGroup::folds() const {
  std::set<std::int64_t> f;
  for (const auto* r : rows)
    f.insert(static_cast<std::int64_t>(r->param("fold").number.value_or(0)));
  return {f.begin(), f.end()};
}

std::vector<double> ConfigGroup::fold_values(Metric metric) const {
  std::map<std::int64_t, std::pair<double, int>> acc;
  for (const auto* r : rows) {
    auto& [sum, n] = acc[static_cast<std::int64_t>(r->param("fold").number.value_or(0))];
    sum += metric_of(*r, metric);
    ++n;
  }
  std::vector<double> out;
  for (const auto& [fold, s] : acc) out.push_back(s.first / s.second);
  return out;
}

std::vector<std::string> resolve_rows(const ResultsTable& t, const PivotOptions& o) {
  if (!o.rows.empty()) {
    check_known(t, o.rows, "--rows");
    return o.rows;
  }
  const auto cols = resolve_cols(t, o);
  std::vector<std::string> rows;
  for (const auto& k : t.varying_parameters()) {
    if (is_fold_parameter(k) || k == "epoch") continue;
    if (std::find(cols.begin(), cols.end(), k) != cols.end()) continue;
    rows.push_back(k);
  }
  if (std::find(cols.begin(), cols.end(), "epoch") == cols.end()) rows.push_back("epoch");
  return rows;
}

std::vector<std::string> resolve_cols(const ResultsTable& t, const PivotOptions& o) {
  if (!o.cols.empty()) {
    check_known(t, o.cols, "--cols");
    return o.cols;
  }
  return {"fold"};
}

std::vector<ConfigGroup> group_rows(const ResultsTable& t, const std::vector<std::string>& keys) {
  std::map<std::vector<ParamValue>, ConfigGroup> groups;
  for (const auto& r : t.rows) {
    std::vector<ParamValue> key;
    for (const auto& k : keys) key.push_back(r.param(k));
    auto& g = groups[key];
    g.key = key;
    g.rows.push_back(&r);
  }
  std::vector<ConfigGroup> out;
  for (auto& [k, g] : groups) out.push_back(std::move(g));
  return out;
}

std::string describe(const std::vector<std::string>& keys, const std::vector<ParamValue>& values) {
  std::string s;
  for (std::size_t i = 0; i < keys.size(); ++i)
    s += (i ? ", " : "") + keys[i] + "=" + values[i].text;
  return s.empty() ? "all" : s;
}

Table main_table(const ResultsTable& t, const PivotOptions& o) {
  Table table;
  table.id = "main";
  const auto rows = resolve_rows(t, o);
  const auto cols = resolve_cols(t, o);
  table.title = fmt::format("Test {} (%) per {}, with mean, std and 95% interval over folds",
                            metric_label(o.metric), fmt::join(cols, " × "));
  table.header = row_header(rows);
  table.label_columns = rows.size();
  const auto col_groups = group_rows(t, cols);
  const std::string official = official_test_part(t);
  for (const auto& cg : col_groups) {
    std::string label;
    for (std::size_t i = 0; i < cols.size(); ++i)
      label += (i ? ", " : "") + column_label(cols[i], cg.key[i], official);
    table.header.push_back(label);
  }
  for (const char* h : {"n", "mean", "std", "95% CI"}) table.header.push_back(h);
  for (const auto& g : group_rows(t, rows)) {
    std::vector<Cell> line;
    for (const auto& v : g.key) line.emplace_back(v.text);
    for (const auto& cg : col_groups) {
      double sum = 0;
      int n = 0;
      for (const auto* r : g.rows) {
        bool match = true;
        for (std::size_t i = 0; i < cols.size() && match; ++i)
          match = r->param(cols[i]) == cg.key[i];
        if (match) {
          sum += metric_of(*r, o.metric);
          ++n;
        }
      }
      line.push_back(pct_cell(n ? sum / n : std::nan("")));
    }
    const Summary s = summarize(g.fold_values(o.metric));
    line.emplace_back(std::to_string(s.n), static_cast<double>(s.n));
    line.push_back(pct_cell(s.mean));
    line.push_back(pct_cell(s.sd));
    if (std::isnan(s.ci_low)) {
      line.emplace_back("-");
    } else {
      line.emplace_back(fmt::format("[{}, {}]", pct(s.ci_low), pct(s.ci_high)));
    }
    table.rows.push_back(std::move(line));
  }
  table.notes.push_back(
      "std: sample standard deviation over folds; 95% CI: mean ± t(0.975, n−1)·std/√n "
      "(Student t, n = folds).");
  if (!t.random_weight_backbones.empty()) {
    table.notes.push_back(
        fmt::format("RANDOM WEIGHTS: features of {} come from randomly "
                    "initialised, not ImageNet-pretrained, backbones.",
                    fmt::join(t.random_weight_backbones, ", ")));
  }
  return table;
}

std::string main_table_text(const ResultsTable& t, const PivotOptions& o) {
  if (t.rows.empty()) {
    const auto failed = t.unrecovered_failures();
    if (failed > 0)
      return fmt::format(
          "No finished training results: all {} recorded attempts failed ({} not "
          "recovered).\n",
          t.failures.size(), failed);
    return "No finished training results yet.\n";
  }
  return render_text(main_table(t, o));
}

namespace {

// One variant's best configuration: its rows of that variant, and their summary over folds.
struct BestOfVariant {
  ParamValue variant;
  const ConfigGroup* group = nullptr;  ///< in the groups passed in
  std::vector<const ResultRow*> rows;
  Summary summary;
};

// For each value of `variant` (or one entry "all"), the group of `groups` whose rows of that
// variant have the highest mean over folds; the first in group order on ties.
std::vector<BestOfVariant> best_per_variant(const ResultsTable& t,
                                            const std::vector<ConfigGroup>& groups, Metric metric) {
  const bool has_variant = !t.rows.empty() && t.rows.front().params.count("variant");
  std::vector<ParamValue> variants =
      has_variant ? t.values_of("variant") : std::vector<ParamValue>{ParamValue{"all", {}}};
  std::vector<BestOfVariant> out;
  for (const auto& variant : variants) {
    BestOfVariant best;
    best.variant = variant;
    for (const auto& g : groups) {
      ConfigGroup sub;
      sub.key = g.key;
      for (const auto* r : g.rows)
        if (!has_variant || r->param("variant") == variant) sub.rows.push_back(r);
      if (sub.rows.empty()) continue;
      const Summary s = summarize(sub.fold_values(metric));
      if (!best.group || s.mean > best.summary.mean) {
        best.group = &g;
        best.rows = sub.rows;
        best.summary = s;
      }
    }
    if (best.group) out.push_back(std::move(best));
  }
  return out;
}

// The row parameters of best_table: the pivot's, without variant (one best per variant).
std::vector<std::string> best_rows(const ResultsTable& t, const PivotOptions& o) {
  auto rows = resolve_rows(t, o);
  rows.erase(std::remove(rows.begin(), rows.end(), "variant"), rows.end());
  return rows;
}

}  // namespace

Table best_table(const ResultsTable& t, const PivotOptions& o) {
  Table table;
  table.id = "best";
  table.title = fmt::format(
      "Best configuration per variant (highest mean test {} over folds; chosen on the test "
      "folds, so optimistic)",
      metric_label(o.metric));
  table.header = {"variant", "configuration", "n", "mean", "std", "95% CI"};
  table.label_columns = 2;
  const auto rows = best_rows(t, o);
  const auto groups = group_rows(t, rows);
  for (const auto& best : best_per_variant(t, groups, o.metric)) {
    const Summary& s = best.summary;
    table.rows.push_back({Cell(best.variant.text), Cell(describe(rows, best.group->key)),
                          Cell(std::to_string(s.n), double(s.n)), pct_cell(s.mean), pct_cell(s.sd),
                          std::isnan(s.ci_low)
                              ? Cell("-")
                              : Cell(fmt::format("[{}, {}]", pct(s.ci_low), pct(s.ci_high)))});
  }
  return table;
}

double val_metric_of(const ResultRow& row, Metric m) {
  return m == Metric::accuracy ? row.val_accuracy : row.val_macro_f1;
}

Metric parse_select_metric(const std::string& name) {
  if (name == "val_accuracy") return Metric::accuracy;
  if (name == "val_macro_f1") return Metric::macro_f1;
  throw ConfigError(fmt::format("select metric {}: expected val_accuracy or val_macro_f1", name));
}

std::vector<FoldChoice> choose_by_validation(const ResultsTable& t,
                                             const std::vector<std::string>& keys, Metric select) {
  using Outer = std::tuple<ParamValue, std::int64_t, std::int64_t>;  // variant, repeat, fold
  // Outer fold → configuration → (sum, count) of validation scores. Nothing else is read.
  std::map<Outer, std::map<std::vector<ParamValue>, std::pair<double, int>>> scores;
  for (const auto& r : t.rows) {
    const double v = val_metric_of(r, select);
    if (std::isnan(v)) continue;
    const ParamValue variant =
        r.params.count("variant") ? r.param("variant") : ParamValue{"all", {}};
    const Outer outer{variant, static_cast<std::int64_t>(r.param("repeat").number.value_or(0)),
                      static_cast<std::int64_t>(r.param("fold").number.value_or(0))};
    std::vector<ParamValue> config;
    for (const auto& k : keys) config.push_back(r.param(k));
    auto& [sum, n] = scores[outer][config];
    sum += v;
    ++n;
  }
  std::vector<FoldChoice> out;
  for (const auto& [outer, configs] : scores) {
    FoldChoice choice;
    std::tie(choice.variant, choice.repeat, choice.fold) = outer;
    bool first = true;
    for (const auto& [config, s] : configs) {
      const double mean = s.first / s.second;
      if (first || mean > choice.val) {  // strictly greater: ties keep the earlier key
        choice.config = config;
        choice.val = mean;
        first = false;
      }
    }
    out.push_back(std::move(choice));
  }
  return out;
}

Table selected_table(const ResultsTable& t, const PivotOptions& o, Metric select) {
  Table table;
  table.id = "selected";
  table.title = fmt::format(
      "Nested cross-validation: per outer fold, the configuration with the highest validation "
      "{} and its test {} (%)",
      metric_label(select), metric_label(o.metric));
  table.header = {"variant", "outer fold", "chosen by validation", "validation", "test"};
  table.label_columns = 3;
  const auto keys = best_rows(t, o);
  const auto choices = choose_by_validation(t, keys, select);
  const bool repeated = t.values_of("repeat").size() > 1;
  std::map<ParamValue, std::vector<double>> tests;  // variant → chosen test scores
  for (const auto& c : choices) {
    // Only now, with the choice made, is a test score read: the chosen configuration's.
    double sum = 0;
    int n = 0;
    for (const auto& r : t.rows) {
      if (r.params.count("variant") && r.param("variant") != c.variant) continue;
      if (r.param("repeat").number.value_or(0) != static_cast<double>(c.repeat) ||
          r.param("fold").number.value_or(0) != static_cast<double>(c.fold))
        continue;
      bool match = true;
      for (std::size_t i = 0; i < keys.size() && match; ++i)
        match = r.param(keys[i]) == c.config[i];
      if (match && !std::isnan(val_metric_of(r, select))) {
        sum += metric_of(r, o.metric);
        ++n;
      }
    }
    const double test = n ? sum / n : std::nan("");
    tests[c.variant].push_back(test);
    const std::string outer = repeated ? fmt::format("repeat {}, fold {}", c.repeat, c.fold + 1)
                                       : fmt::format("fold {}", c.fold + 1);
    table.rows.push_back({Cell(c.variant.text), Cell(outer), Cell(describe(keys, c.config)),
                          pct_cell(c.val), pct_cell(test)});
  }
  for (const auto& [variant, values] : tests) {
    const Summary s = summarize(values);
    const std::string spread =
        std::isnan(s.ci_low)
            ? fmt::format("std {}", pct(s.sd))
            : fmt::format("std {}, 95% CI [{}, {}]", pct(s.sd), pct(s.ci_low), pct(s.ci_high));
    table.rows.push_back({Cell(variant.text),
                          Cell(fmt::format("nested CV estimate ({} folds)", s.n)), Cell(spread),
                          Cell("-"), pct_cell(s.mean)});
  }
  table.notes.push_back(
      "Each outer fold's configuration is chosen on the validation part set aside from its "
      "training fold (select:), never on a test score; the mean of the chosen configurations' "
      "test scores estimates what this choice gives on unseen data. The best-configuration table "
      "picks by test score and is optimistic.");
  return table;
}

Table rung_table(const ResultsTable& t, const std::vector<int>& rungs) {
  Table table;
  table.id = "rungs";
  table.title = "Early stopping: training tasks per rung";
  table.header = {"rung (epoch)", "reached", "continued", "stopped here"};
  table.label_columns = 1;
  std::map<std::string, std::int64_t> last, stopped;  // per task: last epoch trained, its stop
  for (const auto& r : t.rows) {
    last[r.task_id] = std::max(last[r.task_id], r.epoch);
    if (r.stopped_at >= 0) stopped[r.task_id] = r.stopped_at;
  }
  if (last.empty()) return table;
  std::int64_t end = 0;
  for (const auto& [id, e] : last) end = std::max(end, e);
  for (int rung : rungs) {
    std::int64_t reached = 0, here = 0;
    for (const auto& [id, e] : last) {
      reached += e >= rung;
      const auto s = stopped.find(id);
      here += s != stopped.end() && s->second == rung;
    }
    table.rows.push_back({Cell(std::to_string(rung), rung),
                          Cell(std::to_string(reached), double(reached)),
                          Cell(std::to_string(reached - here), double(reached - here)),
                          Cell(std::to_string(here), double(here))});
  }
  std::int64_t trained = 0;
  for (const auto& [id, e] : last) trained += e;
  const std::int64_t full = end * static_cast<std::int64_t>(last.size());
  table.notes.push_back(fmt::format(
      "{} head-epochs trained for {} tasks, against {} had every task run to epoch {}: {:.1f}%.",
      trained, last.size(), full, end,
      100.0 * static_cast<double>(trained) / static_cast<double>(full)));
  return table;
}

std::vector<std::string> best_model_tasks(const ResultsTable& t, Metric metric) {
  // Only each task's last epoch: the network a kept model holds.
  std::map<std::string, std::int64_t> last;
  for (const auto& r : t.rows) last[r.task_id] = std::max(last[r.task_id], r.epoch);
  ResultsTable at_last;
  for (const auto& r : t.rows)
    if (r.epoch == last[r.task_id]) at_last.rows.push_back(r);
  std::vector<std::string> keys = best_rows(at_last, {});
  // The epoch differs between tasks trained to different lengths; at each task's last epoch it
  // does not tell configurations apart beyond the parameters that set it.
  keys.erase(std::remove(keys.begin(), keys.end(), "epoch"), keys.end());
  std::vector<std::string> ids;
  if (auto m = t.provenance.find("select_metric"); m != t.provenance.end()) {
    // select: each outer fold's choice by validation score (the nested CV table's, at the last
    // epoch), not the test folds' best.
    for (const auto& c : choose_by_validation(at_last, keys, parse_select_metric(m->second)))
      for (const auto& r : at_last.rows) {
        bool match = (!r.params.count("variant") || r.param("variant") == c.variant) &&
                     r.param("repeat").number.value_or(0) == static_cast<double>(c.repeat) &&
                     r.param("fold").number.value_or(0) == static_cast<double>(c.fold);
        for (std::size_t i = 0; i < keys.size() && match; ++i)
          match = r.param(keys[i]) == c.config[i];
        if (match) ids.push_back(r.task_id);
      }
  } else {
    const auto groups = group_rows(at_last, keys);
    for (const auto& best : best_per_variant(at_last, groups, metric))
      for (const auto* r : best.rows) ids.push_back(r->task_id);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

Table models_table(const ResultsTable& t, const std::filesystem::path& models_dir) {
  Table table;
  table.id = "models";
  table.title = "Kept models (run.keep_models; torch.load reads them)";
  table.header = {"file", "configuration", "fold", "epoch", "accuracy"};
  table.label_columns = 2;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(models_dir, ec))
    if (e.path().extension() == ".pt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> keys = resolve_rows(t, {});
  keys.erase(std::remove(keys.begin(), keys.end(), "epoch"), keys.end());
  for (const auto& file : files) {
    const std::string id = file.stem().string();
    const ResultRow* last = nullptr;  // the task's last epoch: the network the file holds
    for (const auto& r : t.rows)
      if (r.task_id == id && (!last || r.epoch > last->epoch)) last = &r;
    const std::string name = "models/" + file.filename().string();
    if (!last) {
      table.rows.push_back({Cell(name), Cell("(no result row selected)"), "-", "-", "-"});
      continue;
    }
    std::vector<ParamValue> values;
    for (const auto& k : keys) values.push_back(last->param(k));
    table.rows.push_back({Cell(name), Cell(describe(keys, values)), Cell(last->param("fold").text),
                          Cell(std::to_string(last->epoch), double(last->epoch)),
                          pct_cell(last->accuracy)});
  }
  return table;
}

Table paired_table(const ResultsTable& t, const PivotOptions& o, const std::string& key,
                   const std::string& a, const std::string& b) {
  check_known(t, {key}, "--compare");
  Table table;
  table.id = "paired";
  table.title = fmt::format("Paired comparison across folds: {}={} vs {}={} (test {}, %)", key, a,
                            key, b, metric_label(o.metric));
  auto rows = resolve_rows(t, o);
  rows.erase(std::remove(rows.begin(), rows.end(), key), rows.end());
  table.header = rows;
  table.label_columns = rows.size();
  for (const std::string& h :
       std::vector<std::string>{"folds", "mean " + a, "mean " + b, "diff (A−B)", "t", "p"})
    table.header.push_back(h);
  for (const auto& g : group_rows(t, rows)) {
    // Per fold, the mean of A's rows and B's rows; only folds with both count.
    std::map<std::int64_t, std::array<std::pair<double, int>, 2>> per_fold;
    for (const auto* r : g.rows) {
      const std::string& v = r->param(key).text;
      if (v != a && v != b) continue;
      auto& slot =
          per_fold[static_cast<std::int64_t>(r->param("fold").number.value_or(0))][v == a ? 0 : 1];
      slot.first += metric_of(*r, o.metric);
      ++slot.second;
    }
    std::vector<double> xa, xb;
    for (const auto& [fold, s] : per_fold) {
      if (s[0].second == 0 || s[1].second == 0) continue;
      xa.push_back(s[0].first / s[0].second);
      xb.push_back(s[1].first / s[1].second);
    }
    if (xa.empty()) continue;
    const PairedTest test = paired_t_test(xa, xb);
    std::vector<Cell> line;
    for (const auto& v : g.key) line.emplace_back(v.text);
    line.emplace_back(std::to_string(test.n), double(test.n));
    line.push_back(pct_cell(summarize(xa).mean));
    line.push_back(pct_cell(summarize(xb).mean));
    line.push_back(pct_cell(test.mean_diff));
    line.push_back(std::isnan(test.t) ? Cell("-") : Cell(fmt::format("{:.2f}", test.t), test.t));
    line.push_back(std::isnan(test.p) ? Cell("-") : Cell(fmt::format("{:.3g}", test.p), test.p));
    table.rows.push_back(std::move(line));
  }
  table.notes.push_back(
      "Two-sided paired t-test on the fold-wise differences (n−1 degrees of freedom); folds are "
      "not independent samples, so read p as a guide, not a guarantee.");
  return table;
}

Table reference_table(const ResultsTable& t, const PivotOptions& o,
                      const std::filesystem::path& references) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(references.string());
  } catch (const YAML::BadFile&) {
    throw IoError(fmt::format("cannot read reference results '{}'", references.string()));
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}:{}:{}: {}", references.string(), e.mark.line + 1,
                                  e.mark.column + 1, e.msg));
  }
  Table table;
  table.id = "references";
  const std::string dataset = doc["dataset"] ? doc["dataset"].as<std::string>() : "";
  table.title = fmt::format("Comparison with results reported elsewhere{} (test {}, %)",
                            dataset.empty() ? "" : " on " + dataset, metric_label(o.metric));
  table.header = {"method", "split", "source", "result"};
  table.label_columns = 3;
  const YAML::Node entries = doc["results"];
  if (!entries || !entries.IsSequence()) {
    throw ConfigError(fmt::format("{}: expected a 'results' list", references.string()));
  }
  for (const auto& e : entries) {
    auto need = [&](const char* k) {
      if (!e[k]) {
        throw ConfigError(fmt::format("{}:{}: a reference result needs '{}'", references.string(),
                                      e.Mark().line + 1, k));
      }
      return e[k];
    };
    const std::string method = need("method").as<std::string>();
    double value = 0;
    try {
      value = need("value").as<double>();
    } catch (const YAML::Exception&) {
      throw ConfigError(fmt::format("{}:{}: 'value' must be a number (percent)",
                                    references.string(), e.Mark().line + 1));
    }
    table.rows.push_back(
        {Cell(method + " †"), Cell(e["split"] ? e["split"].as<std::string>() : std::string("")),
         Cell(fmt::format("{:.2f}", value), value), Cell(need("source").as<std::string>())});
  }
  const std::string official = official_test_part(t);
  const Table best = best_table(t, o);
  for (const auto& row : best.rows) {
    table.rows.push_back({Cell("this run: " + row[0].text + " (" + row[1].text + ")"),
                          Cell(official.empty() ? fmt::format("CV mean over {} folds", row[2].text)
                                                : fmt::format("official split ({})", official)),
                          Cell("results.h5"), row[3]});
  }
  table.notes.push_back(
      "† reported elsewhere (numbers copied from the cited source, not recomputed here); their "
      "protocols and splits differ from this run's cross-validation.");
  if (doc["note"]) table.notes.push_back(doc["note"].as<std::string>());
  return table;
}

Table failures_table(const ResultsTable& t) {
  Table table;
  table.id = "failures";
  table.title = "Failed task attempts";
  table.header = {"task", "kind", "attempt", "final", "recovered", "rank", "host", "message"};
  table.label_columns = table.header.size();  // mostly text: left-aligned throughout
  for (const auto& f : t.failures) {
    table.rows.push_back(
        {Cell(f.task_id), Cell(f.kind), Cell(std::to_string(f.attempt), double(f.attempt)),
         Cell(f.final ? "yes" : "no"), Cell(f.recovered ? "yes" : "no"),
         Cell(std::to_string(f.rank), double(f.rank)), Cell(f.host), Cell(f.message)});
  }
  return table;
}

std::int64_t representative_fold(const ConfigGroup& g, Metric metric) {
  const auto folds = g.folds();
  const auto values = g.fold_values(metric);
  const double mean = summarize(values).mean;
  std::size_t best = 0;
  for (std::size_t i = 1; i < values.size(); ++i)
    if (std::abs(values[i] - mean) < std::abs(values[best] - mean)) best = i;
  return folds.empty() ? 0 : folds[best];
}

std::vector<std::int64_t> confusion_of(const ConfigGroup& g, std::size_t classes,
                                       std::optional<std::int64_t> fold) {
  std::vector<std::int64_t> sum(classes * classes, 0);
  for (const auto* r : g.rows) {
    if (fold && r->param("fold").number.value_or(0) != static_cast<double>(*fold)) continue;
    if (r->confusion.size() != sum.size()) continue;
    for (std::size_t k = 0; k < sum.size(); ++k) sum[k] += r->confusion[k];
  }
  return sum;
}

}  // namespace fersweep::report
