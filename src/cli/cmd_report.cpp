// `fersweep report`: tables, confusion matrices and learning curves from results.h5.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "core/error.h"
#include "core/log.h"
#include "report/report.h"

namespace fersweep::cli {

namespace {

constexpr const char* kDescription = R"(Turn a sweep's results into the paper's tables and figures.

Reads DIR/results.h5 (or the results.h5 file given) and writes into --out:
  report.md    Markdown: all tables, figures linked from figures/
  report.tex   LaTeX (booktabs, graphicx; pdflatex report.tex) with the same tables and figures
  report.html  one self-contained page: tables, figures embedded as data URIs, provenance
               (sweep, dataset fingerprint, weights; RANDOM WEIGHTS in red when so), failures
  csv/         one CSV per table (full precision, percent) and csv/confusion/<configuration>.csv
  figures/     PNGs: confusion matrices (counts and row percentages), learning curves (test metric
               at the evaluated epochs, training loss per epoch; mean over folds, band ±1 std),
               the metric against batch size and backbone when those vary
The main table is also printed. Tables:
  main        rows: configurations (--rows; default every parameter that varies, then epoch);
              columns: --cols values (default fold; folds are numbered from 1 as in the paper,
              stored and filtered from 0); then n folds, mean, sample std and the 95% interval
              mean ± t(0.975, n-1)·std/√n
  best        the configuration with the highest mean per variant
  paired      two values of one parameter compared fold by fold (--compare; default: the two
              variants when there are exactly two): mean difference and paired t-test p-value
  references  results reported elsewhere (--references YAML; marked †) beside this run's best
  failures    every failed attempt and whether a retry recovered it
An empty results file, or one with failed tasks only, gives a report saying so (exit 0).

Examples:
  fersweep report runs/paper --out runs/paper/report
  fersweep report runs/paper/results.h5 --out rep --format md,html --metric macro_f1
  fersweep report runs/paper --out rep --rows backbone,epoch --cols fold --filter variant=faces
  fersweep report runs/paper --out rep --rows backbone --cols batch_size --epoch 100
  fersweep report runs/paper --out rep --compare variant=original,faces --confusion closest)";

struct CliReportOptions {
  std::string input, out, formats = "md,csv,tex,html", rows, cols, metric = "accuracy";
  std::vector<std::string> filters;
  std::string epoch = "all", compare, confusion = "sum", references;
  bool no_references = false;
  std::size_t max_figures = 36;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto end = std::min(s.find(',', start), s.size());
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

void run_report(const CliReportOptions& c) {
  report::ReportOptions o;
  o.input = c.input;
  o.out = c.out;
  o.formats = report::parse_formats(c.formats);
  o.pivot.rows = split_list(c.rows);
  o.pivot.cols = split_list(c.cols);
  o.pivot.metric = report::parse_metric(c.metric);
  for (const auto& f : c.filters) {
    const auto eq = f.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError(fmt::format("--filter {}: expected KEY=VALUE", f));
    o.filters.emplace_back(f.substr(0, eq), f.substr(eq + 1));
  }
  o.epoch = c.epoch;
  o.compare = c.compare;
  o.confusion = c.confusion;
  o.max_figures = c.max_figures;
  if (!c.no_references)
    o.references =
        c.references.empty() ? report::default_references() : std::filesystem::path(c.references);
  const auto summary = report::write_report(o);
  std::cout << summary.main_text;
  if (!summary.message.empty()) log::warn("report: {}", summary.message);
  std::cout << fmt::format("\nReport: {} ({} files)\n", c.out, summary.files.size());
  std::cout.flush();
}

}  // namespace

void add_report(CLI::App& app) {
  auto o = std::make_shared<CliReportOptions>();
  CLI::App* cmd =
      app.add_subcommand("report", "Tables, confusion matrices and learning curves from results");
  cmd->footer(kDescription);  // the manual; `fersweep --help` shows only the summary
  cmd->add_option("RESULTS", o->input, "A run directory (fersweep run --out) or its results.h5")
      ->required();
  cmd->add_option("--out", o->out, "Report directory (created; files in it are replaced)")
      ->required();
  cmd->add_option("--format", o->formats, "Comma-separated: md, csv, tex, html (or all)")
      ->capture_default_str();
  cmd->add_option("--rows", o->rows,
                  "Comma-separated parameters forming the table rows (e.g. backbone,epoch)");
  cmd->add_option("--cols", o->cols,
                  "Comma-separated parameters forming the columns (default fold)");
  cmd->add_option("--filter", o->filters, "KEY=VALUE: keep only matching results; repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--metric", o->metric, "accuracy or macro_f1")->capture_default_str();
  cmd->add_option("--epoch", o->epoch, "all, last (each task's last evaluation) or an epoch number")
      ->capture_default_str();
  cmd->add_option("--compare", o->compare,
                  "KEY=A,B: paired comparison of two values of a parameter");
  cmd->add_option(
         "--confusion", o->confusion,
         "sum: confusion matrices summed over folds; closest: the fold closest to the mean")
      ->check(CLI::IsMember({"sum", "closest"}))
      ->capture_default_str();
  cmd->add_option("--references", o->references,
                  "YAML of results reported elsewhere (default: analysis/references/sfew.yaml)");
  cmd->add_flag("--no-references", o->no_references,
                "Leave out the comparison with reported results");
  cmd->add_option("--max-figures", o->max_figures, "Draw at most this many confusion matrices")
      ->capture_default_str();
  cmd->callback([o] { run_report(*o); });
}

}  // namespace fersweep::cli
