// Plan summaries for `fersweep plan`: one set of figures, three output formats.
#include "sweep/summary.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "model/arch.h"

namespace fersweep::sweep {

using nlohmann::json;

double backbone_gflops(const std::string& backbone, int image_size) {
  static const std::map<std::string, double> at224 = {
      {"resnet18", 1.81}, {"resnet34", 3.66}, {"resnet50", 4.09}};
  const double scale = static_cast<double>(image_size) / 224.0;
  auto it = at224.find(backbone);
  return it == at224.end() ? 0.0 : it->second * scale * scale;
}

CostEstimate estimate_cost(const Plan& plan, const DatasetCensus& census) {
  CostEstimate cost;
  if (census.found && census.total() > 0) {
    cost.images = census.total();
    cost.counted = true;
  }
  const double images = static_cast<double>(cost.images);
  for (const auto& t : plan.extracts)
    cost.extract_gflop += images * backbone_gflops(t.backbone, t.image_size);
  for (const auto& t : plan.trains) {
    const auto& e = plan.extracts[t.extract_index];
    const double epochs = static_cast<double>(t.epochs.back());
    cost.naive_gflop += images * epochs * backbone_gflops(e.backbone, e.image_size);
    const json cut = t.param("finetune");
    const bool augment = !t.param("augment").is_null();
    if (cut.is_null() && !augment) continue;
    // The trained blocks' forward and backward passes; on augmented images also the frozen
    // part's forward pass, every epoch.
    const double share =
        cut.is_null() ? 0.0 : model::trained_share(model::parse_cut(cut.get<std::string>()));
    const double passes = 3.0 * share + (augment ? 1.0 - share : 0.0);
    cost.finetune_gflop += passes * images * epochs * backbone_gflops(e.backbone, e.image_size);
    ++cost.finetune_tasks;
    cost.augmented_tasks += augment;
  }
  return cost;
}

std::string format_flops(double gflop) {
  const char* units[] = {"GFLOP", "TFLOP", "PFLOP", "EFLOP"};
  int u = 0;
  while (gflop >= 1000.0 && u < 3) {
    gflop /= 1000.0;
    ++u;
  }
  return fmt::format("{:.3g} {}", gflop, units[u]);
}

namespace {

// Train parameters whose values differ between train tasks (what the table needs to show): first
// those with several values, then those missing from some tasks only (hidden, momentum), each
// group by name. The tasks share one table of distinct values, so indices compare values.
std::vector<std::string> varying_train_keys(const Plan& plan) {
  std::vector<std::string> several, partial;
  if (plan.trains.empty()) return several;
  const auto& values = *plan.trains.front().values;
  for (std::size_t k = 0; k < kTrainValueKeys; ++k) {
    std::set<std::uint32_t> seen;
    for (const auto& t : plan.trains) seen.insert(t.value_index[k]);
    const bool absent = seen.erase(TrainTask::kAbsent) > 0;
    if (seen.size() > 1)
      several.push_back(values.keys[k]);
    else if (seen.size() == 1 && absent)
      partial.push_back(values.keys[k]);
  }
  std::sort(several.begin(), several.end());
  std::sort(partial.begin(), partial.end());
  several.insert(several.end(), partial.begin(), partial.end());
  return several;
}

std::string scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

std::string epochs_text(const std::vector<int>& epochs, const char* sep) {
  std::string s;
  for (std::size_t i = 0; i < epochs.size(); ++i) s += (i ? sep : "") + std::to_string(epochs[i]);
  return s;
}

std::set<int> all_epochs(const Plan& plan) {
  std::set<int> e;
  for (const auto& t : plan.trains) e.insert(t.epochs.begin(), t.epochs.end());
  return e;
}

std::string dataset_line(const Plan& plan, const DatasetCensus& census, const CostEstimate& cost) {
  const std::string& root = plan.spec.dataset.root;
  if (!census.found)
    return fmt::format("dataset   {} ({}): not found, assuming {} images per variant", root,
                       census.root.string(), cost.images);
  std::size_t smallest = 0;
  std::string smallest_class;
  for (std::size_t i = 0; i < census.classes.size(); ++i)
    if (smallest_class.empty() || census.images[i] < smallest) {
      smallest = census.images[i];
      smallest_class = census.classes[i];
    }
  std::string line = fmt::format("dataset   {} ({}): {} images in {} classes (smallest: {}, {})",
                                 root, census.root.string(), census.total(), census.classes.size(),
                                 smallest_class, smallest);
  if (census.format != "folders") line.insert(10, fmt::format("[{}] ", census.format));
  if (!census.left_out.empty()) {
    std::vector<std::string> parts;
    for (const auto& [what, n] : census.left_out) parts.push_back(fmt::format("{} {}", what, n));
    line += fmt::format("\nleft out  {}", fmt::join(parts, ", "));
  }
  return line;
}

// The cv line: K-fold, subject-disjoint K-fold, or the official split.
std::string cv_line(const Plan& plan) {
  const CvSettings& cv = plan.spec.cv;
  if (!cv.split.empty())
    return fmt::format("cv        the dataset's official split (test part: {})", cv.test);
  return fmt::format("cv        {} {}folds x {} repeat{} (cv seed{} {})", plan.folds,
                     cv.group.empty() ? "" : "subject-disjoint ", plan.cv_seeds.size(),
                     plan.cv_seeds.size() > 1 ? "s" : "", plan.cv_seeds.size() > 1 ? "s" : "",
                     fmt::join(plan.cv_seeds, ", "));
}

// early_stop: the brackets and, where every task of a bracket runs to the same epoch, the
// head-epochs (task-epochs, with tasks that run alone) successive halving trains against running
// every task to the end.
std::string early_stop_line(const Plan& plan, const EarlyStopSettings& es) {
  std::map<std::string, std::vector<int>> brackets;  // -> last epochs
  bool alone = false, heads = false;
  for (const auto& t : plan.trains) {
    brackets[bracket_of(plan, t)].push_back(t.epochs.back());
    (runs_alone(t) ? alone : heads) = true;
  }
  const char* scope = !alone  ? "feature set"
                      : heads ? "heads: feature set, others: images"
                              : "images";
  std::set<std::size_t> sizes;
  long long halved = 0, full = 0;
  bool uniform = true;
  for (const auto& [key, last] : brackets) {
    sizes.insert(last.size());
    const auto n = static_cast<long long>(last.size());
    uniform = uniform && std::count(last.begin(), last.end(), last.front()) == n;
    long long alive = n, at = 0;
    for (int rung : es.rungs) {
      if (rung >= last.front()) break;
      halved += alive * (rung - at);
      at = rung;
      alive = std::max<long long>(1, alive / es.eta);
    }
    halved += alive * (last.front() - at);
    full += n * last.front();
  }
  const bool median = es.method == "median";
  std::string text =
      fmt::format("early_stop {} by {} at epochs {}: {} bracket{} ({} x fold x repeat) of {} tasks",
                  median ? "median" : fmt::format("halving (eta {})", es.eta), es.metric,
                  fmt::join(es.rungs, "/"), brackets.size(), brackets.size() == 1 ? "" : "s", scope,
                  fmt::join(sizes, "/"));
  if (median) return text + "; the tasks below their bracket's median stop at each rung";
  if (uniform && full > 0)
    text += fmt::format("; {} {}-epochs instead of {} ({:.1f}%)", halved, alone ? "task" : "head",
                        full, 100.0 * static_cast<double>(halved) / static_cast<double>(full));
  return text;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

const std::vector<std::string> kCsvColumns = {
    "stage",        "id",       "needs",      "variant",     "detector",
    "backbone",     "weights",  "image_size", "normalize",   "fold",
    "repeat",       "head",     "hidden",     "optimizer",   "lr",
    "weight_decay", "momentum", "batch_size", "standardize", "label_smoothing",
    "seed",         "epochs"};

}  // namespace

std::string plan_text(const Plan& plan, const DatasetCensus& census, const CostEstimate& cost,
                      bool tasks) {
  const SweepSpec& spec = plan.spec;
  std::string out;
  auto line = [&](const std::string& s) { out += s + "\n"; };
  line(fmt::format("sweep     {} ({}, sha256 {})", spec.name, spec.file,
                   spec.source_hash.substr(0, 16)));
  for (const auto& o : spec.overrides) line(fmt::format("override  --set {}", o));
  line(dataset_line(plan, census, cost));

  std::string dims;
  for (const auto& a : plan.axes)
    dims += fmt::format("{}{} {}", dims.empty() ? "" : " x ", a.key, a.values);
  if (dims.empty()) dims = "a single combination";
  line(fmt::format("grid      {} = {} combinations", dims, plan.combinations));
  if (!spec.canonical["exclude"].empty() || !spec.canonical["include"].empty())
    line(fmt::format("          exclude removes {} ({} entr{}), include adds {} ({} entr{})",
                     plan.excluded, spec.canonical["exclude"].size(),
                     spec.canonical["exclude"].size() == 1 ? "y" : "ies", plan.included,
                     spec.canonical["include"].size(),
                     spec.canonical["include"].size() == 1 ? "y" : "ies"));
  line(cv_line(plan));
  if (spec.select)
    line(
        fmt::format("select    {} on {:g}% of each training fold, set aside per fold (nested CV "
                    "in the report)",
                    spec.select->metric, 100 * spec.select->val_fraction));
  if (spec.early_stop) line(early_stop_line(plan, *spec.early_stop));
  const auto epochs = all_epochs(plan);
  line(
      fmt::format("tasks     crop {}, extract {}, train {} ({} evaluations at epochs {}; each "
                  "train task runs once to its largest epoch)",
                  plan.crops.size(), plan.extracts.size(), plan.trains.size(), plan.evaluations(),
                  fmt::join(epochs, "/")));
  line(fmt::format("features  {} feature set{} shared by {} train tasks ({:.1f} per set)",
                   plan.extracts.size(), plan.extracts.size() == 1 ? "" : "s", plan.trains.size(),
                   static_cast<double>(plan.trains.size()) /
                       static_cast<double>(std::max<std::size_t>(1, plan.extracts.size()))));
  line(
      fmt::format("cost      backbone {} ({} images per variant, {}); a naive per-epoch forward "
                  "pass would cost {} ({:.0f}x)",
                  format_flops(cost.extract_gflop), cost.images,
                  cost.counted ? "counted" : "assumed", format_flops(cost.naive_gflop),
                  cost.extract_gflop > 0 ? cost.naive_gflop / cost.extract_gflop : 0.0));
  if (cost.finetune_tasks > 0)
    line(fmt::format(
        "          fine-tuning {} more ({} task{}: the trained blocks' forward and "
        "backward passes every epoch{})",
        format_flops(cost.finetune_gflop), cost.finetune_tasks, cost.finetune_tasks == 1 ? "" : "s",
        cost.augmented_tasks == 0
            ? ""
            : fmt::format(", and for the {} on augmented images the frozen part's "
                          "forward pass",
                          cost.augmented_tasks)));
  for (const auto& w : plan.warnings) line("warning   " + w);
  if (!tasks) return out;

  out += "\n";
  out += fmt::format("{:<8} {:<16} {:<16} {}\n", "STAGE", "ID", "NEEDS", "PARAMETERS");
  for (const auto& t : plan.crops) {
    const auto& p = t.params;
    out += fmt::format("{:<8} {:<16} {:<16} variant={} detector={} margin={} fallback={}\n", "crop",
                       t.id, "-", t.variant, scalar_text(p["detector"]), scalar_text(p["margin"]),
                       scalar_text(p["fallback"]));
  }
  for (const auto& t : plan.extracts) {
    std::string fold = t.fold ? fmt::format(" fold={} repeat={}", *t.fold, t.repeat) : "";
    out += fmt::format("{:<8} {:<16} {:<16} {} variant={} weights={} size={} normalize={}{}\n",
                       "extract", t.id, t.crop.value_or("-"), t.backbone, t.variant, t.weights,
                       t.image_size, t.normalize, fold);
  }
  const auto keys = varying_train_keys(plan);
  for (const auto& t : plan.trains) {
    std::string params;
    for (const auto& k : keys) {
      const json v = t.param(k);
      if (!v.is_null()) params += fmt::format("{}={} ", k, scalar_text(v));
    }
    params += fmt::format("fold={}", t.fold);
    if (plan.cv_seeds.size() > 1) params += fmt::format(" repeat={}", t.repeat);
    params += " epochs=" + epochs_text(t.epochs, ",");
    out += fmt::format("{:<8} {:<16} {:<16} {}\n", "train", t.id, t.extract, params);
  }
  return out;
}

json plan_json(const Plan& plan, const DatasetCensus& census, const CostEstimate& cost,
               bool tasks) {
  const SweepSpec& spec = plan.spec;
  json axes = json::object();
  for (const auto& a : plan.axes) axes[a.key] = a.values;
  json out = {
      {"sweep",
       {{"name", spec.name},
        {"file", spec.file},
        {"source_hash", spec.source_hash},
        {"overrides", spec.overrides}}},
      {"dataset",
       {{"root", census.root.string()},
        {"found", census.found},
        {"format", census.format},
        {"classes", census.classes},
        {"images_per_class", census.images},
        {"left_out", census.left_out}}},
      {"grid",
       {{"axes", axes},
        {"combinations", plan.combinations},
        {"excluded", plan.excluded},
        {"included", plan.included}}},
      {"cv",
       {{"folds", plan.folds}, {"seeds", plan.cv_seeds}, {"scheme", cv_scheme_params(spec.cv)}}},
      {"counts",
       {{"crop", plan.crops.size()},
        {"extract", plan.extracts.size()},
        {"train", plan.trains.size()},
        {"evaluations", plan.evaluations()}}},
      {"cost",
       {{"images_per_variant", cost.images},
        {"images_counted", cost.counted},
        {"backbone_gflop", cost.extract_gflop},
        {"naive_gflop", cost.naive_gflop},
        {"finetune_gflop", cost.finetune_gflop}}},
      {"warnings", plan.warnings},
      {"canonical", spec.canonical}};
  if (tasks) {
    json crops = json::array(), extracts = json::array(), trains = json::array();
    for (const auto& t : plan.crops)
      crops.push_back({{"id", t.id}, {"variant", t.variant}, {"params", t.params}});
    for (const auto& t : plan.extracts)
      extracts.push_back({{"id", t.id},
                          {"backbone", t.backbone},
                          {"weights", t.weights},
                          {"variant", t.variant},
                          {"image_size", t.image_size},
                          {"normalize", t.normalize},
                          {"fold", t.fold ? json(*t.fold) : json(nullptr)},
                          {"repeat", t.repeat},
                          {"crop", t.crop ? json(*t.crop) : json(nullptr)},
                          {"params", t.params}});
    for (const auto& t : plan.trains)
      trains.push_back({{"id", t.id},
                        {"extract", t.extract},
                        {"epochs", t.epochs},
                        {"fold", t.fold},
                        {"repeat", t.repeat},
                        {"seed", t.seed},
                        {"params", t.params()}});
    out["tasks"] = {{"crop", crops}, {"extract", extracts}, {"train", trains}};
  }
  return out;
}

std::string plan_csv(const Plan& plan, const DatasetCensus& census, const CostEstimate& cost,
                     bool tasks) {
  std::string out;
  if (!tasks) {
    const json j = plan_json(plan, census, cost, false);
    out = "key,value\n";
    auto row = [&](const std::string& k, const std::string& v) {
      out += csv_field(k) + "," + csv_field(v) + "\n";
    };
    row("name", plan.spec.name);
    row("source_hash", plan.spec.source_hash);
    row("combinations", std::to_string(plan.combinations));
    row("excluded", std::to_string(plan.excluded));
    row("included", std::to_string(plan.included));
    for (const auto& a : plan.axes) row("axis." + a.key, std::to_string(a.values));
    for (const auto& [k, v] : j["counts"].items()) row("tasks." + k, v.dump());
    row("images_per_variant", std::to_string(cost.images));
    row("images_counted", cost.counted ? "true" : "false");
    row("backbone_gflop", fmt::format("{:.6g}", cost.extract_gflop));
    row("naive_gflop", fmt::format("{:.6g}", cost.naive_gflop));
    row("finetune_gflop", fmt::format("{:.6g}", cost.finetune_gflop));
    return out;
  }
  for (std::size_t i = 0; i < kCsvColumns.size(); ++i) out += (i ? "," : "") + kCsvColumns[i];
  out += "\n";
  auto emit = [&](std::map<std::string, std::string> cells) {
    for (std::size_t i = 0; i < kCsvColumns.size(); ++i)
      out += (i ? "," : "") + csv_field(cells[kCsvColumns[i]]);
    out += "\n";
  };
  for (const auto& t : plan.crops)
    emit({{"stage", "crop"},
          {"id", t.id},
          {"variant", t.variant},
          {"detector", scalar_text(t.params["detector"])}});
  for (const auto& t : plan.extracts)
    emit({{"stage", "extract"},
          {"id", t.id},
          {"needs", t.crop.value_or("")},
          {"variant", t.variant},
          {"backbone", t.backbone},
          {"weights", t.weights},
          {"image_size", std::to_string(t.image_size)},
          {"normalize", t.normalize},
          {"fold", t.fold ? std::to_string(*t.fold) : ""},
          {"repeat", t.fold ? std::to_string(t.repeat) : ""}});
  for (const auto& t : plan.trains) {
    std::map<std::string, std::string> cells = {{"stage", "train"},
                                                {"id", t.id},
                                                {"needs", t.extract},
                                                {"epochs", epochs_text(t.epochs, ";")}};
    const json params = t.params();
    for (const auto& [k, v] : params.items())
      if (k != "extract") cells[k] = scalar_text(v);
    emit(std::move(cells));
  }
  return out;
}

}  // namespace fersweep::sweep
