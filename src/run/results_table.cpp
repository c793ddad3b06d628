// The aligned-text results table printed at the end of `fersweep run`.
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>

#include "run/sweep_run.h"

namespace fersweep::run {
namespace {
using nlohmann::json;

// Parameters that identify the fold, not the configuration.
const std::set<std::string> kFoldKeys = {"fold",       "repeat", "cv_seed", "extract",
                                         "train_seed", "epochs", "folds"};

std::string cell(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}
}  // namespace

std::string results_table_text(const std::filesystem::path& dir) {
  struct Row {
    json config;
    int epoch = 0;
    std::map<int, std::vector<double>> fold_acc;
  };
  std::map<std::string, Row> rows;  // key: config dump + epoch (sorted order)
  int folds = 0;
  for (const auto& [id, r] : finished_tasks(dir)) {
    if (r.value("kind", "") != "train" || r.value("status", "") != "done") continue;
    const json& p = r["params"];
    json config = json::object();
    for (const auto& [k, v] : p.items()) {
      if (!kFoldKeys.count(k)) config[k] = v;
    }
    folds = std::max(folds, p.value("folds", 0));
    for (const auto& e : r["result"]["evals"]) {
      const int epoch = e.value("epoch", 0);
      Row& row = rows[fmt::format("{}|{:08}", config.dump(), epoch)];
      row.config = config;
      row.epoch = epoch;
      row.fold_acc[p.value("fold", 0)].push_back(e.value("accuracy", 0.0));
    }
  }
  if (rows.empty()) return "no finished training tasks yet\n";
  // Show only the parameters that differ between rows.
  std::vector<std::string> shown;
  const json& first = rows.begin()->second.config;
  for (const auto& [k, v] : first.items()) {
    for (const auto& [key, row] : rows) {
      if (row.config.value(k, json()) != v) {
        shown.push_back(k);
        break;
      }
    }
  }
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> header = shown;
  header.push_back("epochs");
  for (int f = 0; f < folds; ++f) header.push_back(fmt::format("fold {}", f + 1));
  header.push_back("mean");
  header.push_back("std");
  table.push_back(header);
  for (const auto& [key, row] : rows) {
    std::vector<std::string> line;
    for (const auto& k : shown) line.push_back(cell(row.config.value(k, json())));
    line.push_back(std::to_string(row.epoch));
    std::vector<double> per_fold;
    for (int f = 0; f < folds; ++f) {
      auto it = row.fold_acc.find(f);
      if (it == row.fold_acc.end()) {
        line.push_back("-");
        continue;
      }
      double sum = 0;
      for (double a : it->second) sum += a;
      per_fold.push_back(sum / it->second.size());
      line.push_back(fmt::format("{:.1f}", 100 * per_fold.back()));
    }
    double mean = 0, var = 0;
    for (double a : per_fold) mean += a / per_fold.size();
    for (double a : per_fold) var += (a - mean) * (a - mean);
    const double sd = per_fold.size() > 1 ? std::sqrt(var / (per_fold.size() - 1)) : 0.0;
    line.push_back(fmt::format("{:.1f}", 100 * mean));
    line.push_back(fmt::format("{:.1f}", 100 * sd));
    table.push_back(line);
  }
  std::vector<std::size_t> width(header.size(), 0);
  for (const auto& line : table) {
    for (std::size_t c = 0; c < line.size(); ++c) width[c] = std::max(width[c], line[c].size());
  }
  std::string out = "Test accuracy (%) per fold, mean and std over folds:\n";
  for (std::size_t r = 0; r < table.size(); ++r) {
    for (std::size_t c = 0; c < table[r].size(); ++c) {
      const bool numeric = c >= shown.size();
      out += numeric ? fmt::format("{:>{}}", table[r][c], width[c])
                     : fmt::format("{:<{}}", table[r][c], width[c]);
      out += c + 1 < table[r].size() ? "  " : "\n";
    }
    if (r == 0) {
      std::size_t total = 0;
      for (auto w : width) total += w + 2;
      out += std::string(total - 2, '-') + "\n";
    }
  }
  return out;
}

}  // namespace fersweep::run
