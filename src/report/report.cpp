// Assembles a report: tables (main pivot, best per variant, paired comparison, references,
// failures), figures (confusion matrices, learning curves, metric against batch size/backbone),
// provenance; then renders them as Markdown, CSV, LaTeX and a self-contained HTML page.
#include "report/report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <opencv2/core.hpp>
#include <set>

#include "core/base64.h"
#include "core/error.h"
#include "core/log.h"
#include "report/figures.h"

namespace fersweep::report {
namespace {

struct Figure {
  std::string file;  ///< relative to the report directory: figures/<name>.png
  std::string caption;
  cv::Mat image;
};

struct Content {
  std::string title;
  std::vector<std::pair<std::string, std::string>> provenance;
  std::string sweep_text;
  std::string warning;  ///< random weights, shown prominently
  std::string message;  ///< nothing to tabulate
  std::vector<Table> tables;
  std::vector<Figure> figures;
  std::vector<Table> extra_csv;  ///< CSV-only tables (confusion matrices)
  std::string selection;         ///< filters and epoch selection applied
};

std::string slug(const std::vector<std::string>& keys, const std::vector<ParamValue>& values) {
  std::string s;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    s += (i ? "_" : "") + keys[i] + "-" + values[i].text;
  }
  if (s.empty()) s = "all";
  for (char& c : s) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    if (!ok) c = '_';
  }
  return s;
}

void write_text(const std::filesystem::path& path, const std::string& text,
                std::vector<std::filesystem::path>& files) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw IoError(fmt::format("cannot write '{}'", path.string()));
  files.push_back(path);
}

// Configuration keys for figures: every varying non-fold parameter (+ epoch when wanted).
std::vector<std::string> config_keys(const ResultsTable& t, bool with_epoch) {
  std::vector<std::string> keys;
  for (const auto& k : t.varying_parameters())
    if (!is_fold_parameter(k) && k != "epoch") keys.push_back(k);
  if (with_epoch) keys.push_back("epoch");
  return keys;
}

void add_confusions(const ResultsTable& t, const ReportOptions& o, Content& c) {
  if (t.classes.empty()) return;
  const auto keys = config_keys(t, true);
  const auto groups = group_rows(t, keys);
  std::size_t drawn = 0;
  for (const auto& g : groups) {
    std::optional<std::int64_t> fold;
    std::string how = "summed over folds";
    if (o.confusion == "closest") {
      fold = representative_fold(g, o.pivot.metric);
      how =
          fmt::format("fold {} (closest to the mean {})", *fold + 1, metric_label(o.pivot.metric));
    }
    const auto counts = confusion_of(g, t.classes.size(), fold);
    const std::string name = "confusion_" + slug(keys, g.key);
    Table csv;
    csv.id = "confusion/" + slug(keys, g.key);
    csv.header.push_back("true \\ predicted");
    for (const auto& cls : t.classes) csv.header.push_back(cls);
    csv.label_columns = 1;
    for (std::size_t i = 0; i < t.classes.size(); ++i) {
      std::vector<Cell> line{Cell(t.classes[i])};
      for (std::size_t j = 0; j < t.classes.size(); ++j) {
        const auto v = counts[i * t.classes.size() + j];
        line.emplace_back(std::to_string(v), static_cast<double>(v));
      }
      csv.rows.push_back(std::move(line));
    }
    c.extra_csv.push_back(std::move(csv));
    if (drawn++ < o.max_figures) {
      const std::string caption =
          fmt::format("Confusion matrix, {} ({})", describe(keys, g.key), how);
      c.figures.push_back(
          {"figures/" + name + ".png", caption, draw_confusion(counts, t.classes, caption)});
    }
  }
  if (groups.size() > o.max_figures) {
    log::info("report: drew {} of {} confusion matrices (--max-figures); the CSV files have all",
              o.max_figures, groups.size());
  }
}

// Sets a series' y to the mean of the values seen at each x and lo/hi to a ±1 sd band; NaN
// where nothing was seen.
void set_band(Series& s, const std::vector<std::vector<double>>& samples) {
  for (const auto& sample : samples) {
    std::vector<double> v;
    for (double x : sample)
      if (!std::isnan(x)) v.push_back(x);
    const Summary sum = summarize(v);
    s.y.push_back(sum.mean);
    const double sd = std::isnan(sum.sd) ? 0.0 : sum.sd;
    s.lo.push_back(sum.mean - sd);
    s.hi.push_back(sum.mean + sd);
  }
}

// A group's per-fold values of `metric` in percent; one NaN when the group is empty.
std::vector<double> percent_values(const ConfigGroup& at, Metric metric) {
  std::vector<double> v = at.fold_values(metric);
  for (double& x : v) x *= 100;
  if (v.empty()) v.push_back(std::nan(""));
  return v;
}

void add_learning_curves(const ResultsTable& t, const ReportOptions& o, Content& c) {
  const auto keys = config_keys(t, false);
  const auto groups = group_rows(t, keys);
  const auto epochs = t.values_of("epoch");
  constexpr std::size_t kPerFigure = 6;
  for (std::size_t first = 0; first < groups.size(); first += kPerFigure) {
    Panel test;
    test.title = fmt::format("Test {} (%) at evaluated epochs", metric_label(o.pivot.metric));
    test.x_label = "epoch";
    test.y_label = "test " + metric_label(o.pivot.metric) + " (%)";
    Panel loss;
    loss.title = "Training loss per epoch";
    loss.x_label = "epoch";
    loss.y_label = "training loss";
    for (std::size_t gi = first; gi < std::min(groups.size(), first + kPerFigure); ++gi) {
      const auto& g = groups[gi];
      Series s;
      s.name = describe(keys, g.key);
      std::vector<std::vector<double>> samples;
      for (const auto& e : epochs) {
        ConfigGroup at;
        for (const auto* r : g.rows)
          if (r->param("epoch") == e) at.rows.push_back(r);
        s.x.push_back(*e.number);
        samples.push_back(percent_values(at, o.pivot.metric));
      }
      set_band(s, samples);
      test.series.push_back(s);
      // Training loss: one curve per task of this configuration.
      std::set<std::int64_t> curves;
      for (const auto* r : g.rows)
        if (r->curve >= 0 && static_cast<std::size_t>(r->curve) < t.curves.size())
          curves.insert(r->curve);
      std::size_t length = 0;
      for (auto k : curves) length = std::max(length, t.curves[k].train_loss.size());
      std::vector<std::vector<double>> per_epoch(length);
      for (auto k : curves)
        for (std::size_t e = 0; e < t.curves[k].train_loss.size(); ++e)
          per_epoch[e].push_back(t.curves[k].train_loss[e]);
      Series l;
      l.name = s.name;
      for (std::size_t e = 0; e < length; ++e) l.x.push_back(double(e + 1));
      set_band(l, per_epoch);
      loss.series.push_back(l);
    }
    const std::string name = groups.size() > kPerFigure
                                 ? fmt::format("learning_curves_{}", first / kPerFigure + 1)
                                 : std::string("learning_curves");
    c.figures.push_back({"figures/" + name + ".png",
                         "Learning curves: mean over folds, band ±1 std",
                         draw_panels({test, loss})});
  }
}

void add_parameter_plots(const ResultsTable& t, const ReportOptions& o, Content& c) {
  const auto varying = t.varying_parameters();
  const auto epochs = t.values_of("epoch");
  if (epochs.empty()) return;
  const ParamValue last = epochs.back();
  for (const std::string p : {"batch_size", "backbone"}) {
    if (std::find(varying.begin(), varying.end(), p) == varying.end()) continue;
    auto keys = config_keys(t, false);
    keys.erase(std::remove(keys.begin(), keys.end(), p), keys.end());
    const auto xs = t.values_of(p);
    Panel panel;
    panel.title =
        fmt::format("Test {} against {} (epoch {})", metric_label(o.pivot.metric), p, last.text);
    panel.x_label = p;
    panel.y_label = "test " + metric_label(o.pivot.metric) + " (%)";
    for (const auto& x : xs) panel.x_labels.push_back(x.text);
    for (const auto& g : group_rows(t, keys)) {
      Series s;
      s.name = describe(keys, g.key);
      std::vector<std::vector<double>> samples;
      for (std::size_t i = 0; i < xs.size(); ++i) {
        ConfigGroup at;
        for (const auto* r : g.rows)
          if (r->param(p) == xs[i] && r->param("epoch") == last) at.rows.push_back(r);
        s.x.push_back(double(i));
        samples.push_back(percent_values(at, o.pivot.metric));
      }
      set_band(s, samples);
      panel.series.push_back(s);
      if (panel.series.size() == 8) break;  // keep the legend readable
    }
    c.figures.push_back(
        {"figures/" + std::string(p == "backbone" ? "by_backbone" : "by_batch_size") + ".png",
         fmt::format("Test {} against {} at epoch {} (other parameters as series; "
                     "mean over folds, band ±1 std)",
                     metric_label(o.pivot.metric), p, last.text),
         draw_panels({panel})});
  }
}

// Sampled searches (provenance search_space): per sampled numeric key, every task's score at its
// last evaluated epoch against the key's value (log10 of it for loguniform), the test score and,
// with select:, the validation score beside it; the other varying parameters are the series.
void add_search_plots(const ResultsTable& t, const ReportOptions& o, Content& c) {
  const auto found = t.provenance.find("search_space");
  if (found == t.provenance.end()) return;
  const auto space = nlohmann::json::parse(found->second, nullptr, false);
  if (!space.is_object()) return;
  std::map<std::string, const ResultRow*> last;  // per task: its last evaluation
  for (const auto& r : t.rows) {
    const ResultRow*& l = last[r.task_id];
    if (!l || r.epoch > l->epoch) l = &r;
  }
  std::vector<std::string> keys;
  for (const auto& k : config_keys(t, false))
    if (!space.contains(k)) keys.push_back(k);
  const auto sel = t.provenance.find("select_metric");
  const std::string metric = metric_label(o.pivot.metric);
  for (const auto& [key, dist] : space.items()) {
    const std::string kind = dist.is_object() ? dist.value("kind", "") : "";
    if (kind != "uniform" && kind != "loguniform" && kind != "int") continue;  // choice: no axis
    const bool log = kind == "loguniform";
    Panel test, val;
    test.title = fmt::format("Test {} against {}", metric, key);
    test.x_label = log ? fmt::format("log10 {}", key) : key;
    test.y_label = fmt::format("test {} (%)", metric);
    val = test;
    val.title = fmt::format("Validation {} against {}", metric, key);
    val.y_label = fmt::format("validation {} (%)", metric);
    std::map<std::vector<ParamValue>, std::size_t> series_of;
    for (const auto& [id, r] : last) {
      const auto x = r->param(key).number;
      if (!x) continue;
      std::vector<ParamValue> group;
      for (const auto& k : keys) group.push_back(r->param(k));
      auto [it, fresh] = series_of.emplace(group, test.series.size());
      if (fresh) {
        if (test.series.size() == 8) {  // keep the legend readable
          series_of.erase(it);
          continue;
        }
        Series s;
        s.name = keys.empty() ? "every task" : describe(keys, group);
        s.points = true;
        test.series.push_back(s);
        val.series.push_back(s);
      }
      const double xv = log ? std::log10(*x) : *x;
      test.series[it->second].x.push_back(xv);
      test.series[it->second].y.push_back(100 * metric_of(*r, o.pivot.metric));
      val.series[it->second].x.push_back(xv);
      val.series[it->second].y.push_back(100 * val_metric_of(*r, o.pivot.metric));
    }
    if (test.series.empty()) continue;
    std::vector<Panel> panels = {test};
    if (sel != t.provenance.end()) panels.push_back(val);
    c.figures.push_back(
        {"figures/search_" + key + ".png",
         fmt::format("Sampled search: each task's {} at its last evaluated epoch against {}{}",
                     metric, key, log ? " (log10 axis)" : ""),
         draw_panels(panels)});
  }
}

// "KEY=A,B" → (key, a, b); or the automatic variant comparison.
std::optional<std::array<std::string, 3>> comparison(const ResultsTable& t,
                                                     const std::string& spec) {
  if (spec.empty()) {
    if (t.rows.empty() || !t.rows.front().params.count("variant")) return std::nullopt;
    const auto v = t.values_of("variant");
    if (v.size() != 2) return std::nullopt;
    return std::array<std::string, 3>{"variant", v[0].text, v[1].text};
  }
  const auto eq = spec.find('=');
  const auto comma = spec.find(',', eq == std::string::npos ? 0 : eq);
  if (eq == std::string::npos || comma == std::string::npos || eq == 0 || comma == eq + 1 ||
      comma + 1 == spec.size() || spec.find(',', comma + 1) != std::string::npos) {
    throw ConfigError(
        fmt::format("--compare {}: expected KEY=A,B (e.g. variant=original,faces)", spec));
  }
  return std::array<std::string, 3>{spec.substr(0, eq), spec.substr(eq + 1, comma - eq - 1),
                                    spec.substr(comma + 1)};
}

Content build(const ResultsTable& t, const ReportOptions& o) {
  Content c;
  const auto prov = t.provenance;
  auto get = [&](const char* k) {
    auto it = prov.find(k);
    return it == prov.end() ? std::string() : it->second;
  };
  c.title = "fersweep report" + (get("sweep_name").empty() ? "" : ": " + get("sweep_name"));
  c.provenance.emplace_back("results file", t.path.string());
  for (const char* k : {"sweep_name", "sweep_file", "sweep_hash", "dataset_root",
                        "dataset_fingerprint", "dataset_images", "dataset_bad_images", "classes",
                        "created", "updated", "fersweep_version", "libtorch_version"}) {
    if (!get(k).empty()) c.provenance.emplace_back(k, get(k));
  }
  c.provenance.emplace_back(
      "weights",
      t.random_weight_backbones.empty()
          ? (t.extract_count ? "pretrained (as recorded in /extracts)" : "not recorded")
          : "RANDOM for " + fmt::format("{}", fmt::join(t.random_weight_backbones, ", ")));
  c.provenance.emplace_back("result rows", std::to_string(t.rows.size()));
  c.provenance.emplace_back(
      "failed attempts",
      fmt::format("{} ({} not recovered)", t.failures.size(), t.unrecovered_failures()));
  c.sweep_text = get("sweep_text");
  if (!t.random_weight_backbones.empty()) {
    c.warning = fmt::format(
        "RANDOM WEIGHTS: the features of {} were extracted with randomly initialised backbones, "
        "not "
        "ImageNet-pretrained ones. These numbers are not transfer-learning results.",
        fmt::join(t.random_weight_backbones, ", "));
  }
  if (t.rows.empty()) {
    c.message = main_table_text(t, o.pivot);
    while (!c.message.empty() && c.message.back() == '\n') c.message.pop_back();
  } else {
    c.tables.push_back(main_table(t, o.pivot));
    c.tables.push_back(best_table(t, o.pivot));
    if (auto m = t.provenance.find("select_metric"); m != t.provenance.end()) {
      Table selected = selected_table(t, o.pivot, parse_select_metric(m->second));
      if (!selected.rows.empty()) c.tables.push_back(std::move(selected));
    }
    if (auto es = t.provenance.find("early_stop"); es != t.provenance.end()) {
      const auto settings = nlohmann::json::parse(es->second, nullptr, false);
      std::vector<int> rungs;
      if (settings.is_object())
        for (const auto& r : settings.value("rungs", nlohmann::json::array()))
          if (r.is_number_integer()) rungs.push_back(r.get<int>());
      if (!rungs.empty()) c.tables.push_back(rung_table(t, rungs));
    }
    if (auto cmp = comparison(t, o.compare)) {
      Table p = paired_table(t, o.pivot, (*cmp)[0], (*cmp)[1], (*cmp)[2]);
      if (!p.rows.empty()) c.tables.push_back(std::move(p));
    }
  }
  // The bundled references are SFEW results: beside a FER2013 or RAF-DB run they would mislead.
  const auto format = t.provenance.find("dataset_format");
  const bool sfew_like = format == t.provenance.end() || format->second == "folders";
  if (!o.references.empty() && (sfew_like || o.references != default_references()))
    c.tables.push_back(reference_table(t, o.pivot, o.references));
  if (!t.failures.empty()) c.tables.push_back(failures_table(t));
  if (Table models = models_table(t, t.path.parent_path() / "models"); !models.rows.empty())
    c.tables.push_back(std::move(models));
  if (!t.rows.empty()) {
    add_confusions(t, o, c);
    add_learning_curves(t, o, c);
    add_parameter_plots(t, o, c);
    add_search_plots(t, o, c);
  }
  return c;
}

std::string markdown(const Content& c) {
  std::string s = "# " + c.title + "\n\n";
  if (!c.warning.empty()) s += "> **" + c.warning + "**\n\n";
  if (!c.message.empty()) s += "**" + c.message + "**\n\n";
  if (!c.selection.empty()) s += "Selection: " + c.selection + "\n\n";
  for (const auto& t : c.tables) s += render_markdown(t) + "\n";
  for (const auto& f : c.figures) s += "![" + f.caption + "](" + f.file + ")\n\n";
  s += "## Provenance\n\n| | |\n| --- | --- |\n";
  for (const auto& [k, v] : c.provenance) s += "| " + k + " | " + v + " |\n";
  if (!c.sweep_text.empty())
    s += "\n```yaml\n" + c.sweep_text + (c.sweep_text.back() == '\n' ? "" : "\n") + "```\n";
  return s;
}

std::string latex(const Content& c) {
  std::string s =
      "\\documentclass[10pt]{article}\n\\usepackage[utf8]{inputenc}\n\\usepackage[T1]{fontenc}\n"
      "\\usepackage[landscape,margin=1.5cm]{geometry}\n\\usepackage{booktabs}\n"
      "\\usepackage{graphicx}\n\\begin{document}\n";
  s += "\\section*{" + latex_escape(c.title) + "}\n";
  if (!c.warning.empty())
    s += "\\noindent\\fbox{\\parbox{\\linewidth}{\\textbf{" + latex_escape(c.warning) + "}}}\n\n";
  if (!c.message.empty()) s += "\\noindent\\textbf{" + latex_escape(c.message) + "}\n\n";
  if (!c.selection.empty()) s += "\\noindent Selection: " + latex_escape(c.selection) + "\n\n";
  for (const auto& t : c.tables) s += render_latex(t) + "\n";
  for (const auto& f : c.figures) {
    s += "\\begin{figure}[htbp]\n\\centering\n\\includegraphics[width=0.8\\linewidth,height=0."
         "8\\textheight,"
         "keepaspectratio]{" +
         f.file + "}\n\\caption{" + latex_escape(f.caption) + "}\n\\end{figure}\n";
  }
  s += "\\subsection*{Provenance}\n\\begin{tabular}{ll}\n\\toprule\n";
  for (const auto& [k, v] : c.provenance)
    s += latex_escape(k) + " & " + latex_escape(v) + " \\\\\n";
  s += "\\bottomrule\n\\end{tabular}\n\\end{document}\n";
  return s;
}

std::string png_base64(const cv::Mat& image) {
  const auto png = encode_png(image);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
}

constexpr const char* kCss =
    R"(body{font-family:sans-serif;margin:2em auto;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:1em 0}caption{font-weight:bold;text-align:left;padding:.3em 0}
th,td{border-bottom:1px solid #ccc;padding:.25em .6em;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
thead th{border-bottom:2px solid #444}.note{font-size:.85em;color:#555;margin:.2em 0}
.warning{background:#b00020;color:#fff;font-size:1.3em;font-weight:bold;padding:.8em 1em;border-radius:4px}
.message{background:#fff3cd;border:1px solid #e0c060;padding:.8em 1em;font-weight:bold}
figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em;color:#444}
pre{background:#f5f5f5;padding:1em;overflow:auto})";

std::string html(const Content& c) {
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
                  html_escape(c.title) + "</title>\n<style>\n" + kCss +
                  "\n</style>\n</head>\n<body>\n";
  s += "<h1>" + html_escape(c.title) + "</h1>\n";
  if (!c.warning.empty())
    s += "<div class=\"warning\" id=\"random-weights\">" + html_escape(c.warning) + "</div>\n";
  if (!c.message.empty())
    s += "<div class=\"message\" id=\"message\">" + html_escape(c.message) + "</div>\n";
  if (!c.selection.empty()) s += "<p>Selection: " + html_escape(c.selection) + "</p>\n";
  s += "<h2>Tables</h2>\n";
  for (const auto& t : c.tables)
    s += "<section id=\"table-" + t.id + "\">\n" + render_html(t) + "</section>\n";
  if (!c.figures.empty()) s += "<h2>Figures</h2>\n";
  for (const auto& f : c.figures) {
    s += "<figure><img alt=\"" + html_escape(f.caption) + "\" width=\"" +
         std::to_string(f.image.cols) + "\" src=\"data:image/png;base64," + png_base64(f.image) +
         "\"><figcaption>" + html_escape(f.caption) + "</figcaption></figure>\n";
  }
  s += "<h2>Provenance</h2>\n<table>\n";
  for (const auto& [k, v] : c.provenance)
    s += "<tr><th>" + html_escape(k) + "</th><td>" + html_escape(v) + "</td></tr>\n";
  s += "</table>\n";
  if (!c.sweep_text.empty())
    s += "<details><summary>Sweep file</summary><pre>" + html_escape(c.sweep_text) +
         "</pre></details>\n";
  s += "</body>\n</html>\n";
  return s;
}

}  // namespace

std::vector<std::string> parse_formats(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto end = std::min(list.find(',', start), list.size());
    std::string f = list.substr(start, end - start);
    start = end + 1;
    if (f.empty()) continue;
    if (f == "markdown") f = "md";
    if (f == "latex") f = "tex";
    if (f == "all") {
      for (const char* a : {"md", "csv", "tex", "html"})
        if (std::find(out.begin(), out.end(), a) == out.end()) out.emplace_back(a);
      continue;
    }
    if (f != "md" && f != "csv" && f != "tex" && f != "html")
      throw ConfigError(
          fmt::format("--format {}: unknown format '{}' (expected md, csv, tex, html)", list, f));
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  }
  if (out.empty()) throw ConfigError("--format: no format given (expected md, csv, tex, html)");
  return out;
}

std::filesystem::path default_references() {
  // The source tree (a build used in place), then the installed copy beside the executable.
  std::vector<std::filesystem::path> candidates = {std::filesystem::path(FERSWEEP_SOURCE_DIR) /
                                                   "analysis/references/sfew.yaml"};
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec)
    candidates.push_back(exe.parent_path().parent_path() / "share/fersweep/references/sfew.yaml");
  for (const auto& p : candidates) {
    if (std::filesystem::exists(p, ec)) return p;
  }
  return {};
}

void select_rows(ResultsTable& t, const ReportOptions& o) {
  for (const auto& [k, v] : o.filters) filter_rows(t, k, v);
  if (o.epoch.empty() || o.epoch == "all") return;
  if (o.epoch == "last") {
    std::map<std::string, std::int64_t> last;
    for (const auto& r : t.rows) last[r.task_id] = std::max(last[r.task_id], r.epoch);
    t.rows.erase(std::remove_if(t.rows.begin(), t.rows.end(),
                                [&](const ResultRow& r) { return r.epoch != last[r.task_id]; }),
                 t.rows.end());
    return;
  }
  std::size_t used = 0;
  long long e = -1;
  try {
    e = std::stoll(o.epoch, &used);
  } catch (const std::exception&) {
  }
  if (used != o.epoch.size() || e <= 0)
    throw ConfigError(fmt::format("--epoch {}: expected all, last or a positive number", o.epoch));
  const bool any =
      std::any_of(t.rows.begin(), t.rows.end(), [&](const ResultRow& r) { return r.epoch == e; });
  if (!any && !t.rows.empty()) {
    std::string have;
    for (const auto& v : t.values_of("epoch")) have += (have.empty() ? "" : ", ") + v.text;
    throw ConfigError(
        fmt::format("--epoch {}: no results evaluated at that epoch (have: {})", e, have));
  }
  t.rows.erase(std::remove_if(t.rows.begin(), t.rows.end(),
                              [&](const ResultRow& r) { return r.epoch != e; }),
               t.rows.end());
}

ReportSummary write_report(const ReportOptions& o) {
  ResultsTable t = load_results(o.input);
  const std::size_t loaded = t.rows.size();
  select_rows(t, o);
  ReportSummary summary;
  Content c = build(t, o);
  std::vector<std::string> sel;
  for (const auto& [k, v] : o.filters) sel.push_back(k + "=" + v);
  if (!o.epoch.empty() && o.epoch != "all") sel.push_back("epoch " + o.epoch);
  if (!sel.empty())
    c.selection =
        fmt::format("{} ({} of {} result rows)", fmt::join(sel, ", "), t.rows.size(), loaded);
  if (t.rows.empty() && loaded > 0) {
    c.message = fmt::format("No result rows match the selection ({}); {} rows in the file.",
                            fmt::join(sel, ", "), loaded);
  }
  summary.message = c.message;
  summary.main_text = t.rows.empty() ? c.message + "\n" : render_text(c.tables.front());

  std::error_code ec;
  std::filesystem::create_directories(o.out / "figures", ec);
  if (ec)
    throw IoError(
        fmt::format("cannot create report directory '{}': {}", o.out.string(), ec.message()));
  // PNGs back Markdown and LaTeX (HTML embeds its own copies).
  for (const auto& f : c.figures) {
    write_png((o.out / f.file).string(), f.image);
    summary.files.push_back(o.out / f.file);
  }
  for (const auto& format : o.formats) {
    if (format == "md") write_text(o.out / "report.md", markdown(c), summary.files);
    if (format == "tex") write_text(o.out / "report.tex", latex(c), summary.files);
    if (format == "html") write_text(o.out / "report.html", html(c), summary.files);
    if (format == "csv") {
      std::filesystem::create_directories(o.out / "csv" / "confusion", ec);
      if (ec)
        throw IoError(
            fmt::format("cannot create '{}': {}", (o.out / "csv").string(), ec.message()));
      if (!c.message.empty())
        write_text(o.out / "csv" / "README.txt", c.message + "\n", summary.files);
      for (const auto* list : {&c.tables, &c.extra_csv})
        for (const auto& tb : *list)
          write_text(o.out / "csv" / (tb.id + ".csv"), render_csv(tb), summary.files);
    }
  }
  return summary;
}

}  // namespace fersweep::report
