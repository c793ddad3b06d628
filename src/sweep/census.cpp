// Dataset census for `fersweep plan`: counts images per class folder without decoding anything.
#include "sweep/census.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <system_error>

#include "core/error.h"
#include "data/dataset.h"
#include "data/formats.h"

namespace fersweep::sweep {

namespace fs = std::filesystem;

std::size_t DatasetCensus::total() const {
  std::size_t n = 0;
  for (auto c : images) n += c;
  return n;
}

namespace {

// Images as the scan counts them (data::is_image_file, class folders searched recursively).
std::size_t count_images(const fs::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator
           it(dir, fs::directory_options::follow_directory_symlink, ec),
       end;
       !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && data::is_image_file(it->path())) ++n;
  return n;
}

}  // namespace

namespace {

// A format's labels read as a scan reads them (data/formats.h), images not decoded.
void census_of_format(const SweepSpec& spec, DatasetCensus& census) {
  data::ScanOptions options;
  options.layout = spec.dataset;
  options.classes = spec.dataset.classes.value_or(std::vector<std::string>{});
  const auto format = data::format_named(spec.dataset.format).value_or(data::Format::folders);
  try {
    data::Collected found = data::collect_samples(format, census.root, options);
    census.errors = found.problems;
    census.left_out = found.left_out;
    census.classes = data::choose_classes(format, found, options);
    std::map<std::string, std::size_t> counts;
    for (const auto& c : found.samples) ++counts[c.cls];
    for (const auto& c : census.classes) census.images.push_back(counts[c]);
    for (const auto& [cls, n] : counts)
      if (std::find(census.classes.begin(), census.classes.end(), cls) == census.classes.end())
        census.left_out[cls] += n;
  } catch (const Error& e) {
    census.errors.push_back(e.what());
  }
}

}  // namespace

DatasetCensus census_dataset(const SweepSpec& spec) {
  DatasetCensus census;
  census.root = spec.dataset_root;
  census.format = spec.dataset.format;
  std::error_code ec;
  census.found = !census.root.empty() && fs::is_directory(census.root, ec);
  if (!census.found) return census;
  if (spec.dataset.format != "folders" || spec.dataset.splits) {
    census_of_format(spec, census);
    return census;
  }
  if (spec.dataset.classes) {
    census.classes = *spec.dataset.classes;
  } else {
    for (fs::directory_iterator it(census.root, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_directory(ec) && it->path().filename().string()[0] != '.')
        census.classes.push_back(it->path().filename().string());
    std::sort(census.classes.begin(), census.classes.end());
  }
  for (const auto& c : census.classes) {
    const fs::path dir = census.root / c;
    if (!fs::is_directory(dir, ec)) {
      census.missing.push_back(c);
      census.images.push_back(0);
    } else {
      census.images.push_back(count_images(dir));
    }
  }
  if (spec.dataset.classes) {
    for (fs::directory_iterator it(census.root, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!it->is_directory(ec) || name[0] == '.') continue;
      if (std::find(census.classes.begin(), census.classes.end(), name) == census.classes.end())
        if (const std::size_t n = count_images(it->path())) census.left_out[name] = n;
    }
  }
  return census;
}

std::vector<std::string> dataset_problems(const Plan& plan, const DatasetCensus& census,
                                          bool require_files) {
  std::vector<std::string> problems;
  const SweepSpec& spec = plan.spec;
  auto problem = [&](const std::string& key, const std::string& message) {
    problems.push_back(fmt::format("{}: {}: {}", spec.location(key), key, message));
  };
  if (!census.found) {
    if (require_files)
      problem("dataset.root",
              fmt::format("the dataset folder {} does not exist", census.root.string()));
  } else if (!census.errors.empty() && !spec.dataset.skip_bad_images) {
    constexpr std::size_t kShown = 10;
    for (std::size_t i = 0; i < census.errors.size() && i < kShown; ++i)
      problem("dataset.root", census.errors[i]);
    if (census.errors.size() > kShown)
      problem("dataset.root",
              fmt::format("... and {} more bad lines", census.errors.size() - kShown));
  } else {
    for (const auto& c : census.missing)
      problem("dataset.classes",
              fmt::format("class '{}' has no folder {}", c, (census.root / c).string()));
    if (census.classes.size() < 2)
      problem("dataset.root",
              fmt::format("{} has {} class folder{}; at least two are needed", census.root.string(),
                          census.classes.size(), census.classes.size() == 1 ? "" : "s"));
    for (std::size_t i = 0; i < census.classes.size(); ++i) {
      const bool missing = std::find(census.missing.begin(), census.missing.end(),
                                     census.classes[i]) != census.missing.end();
      if (missing) continue;
      const bool kfold = spec.cv.group.empty() && spec.cv.split.empty();
      if (kfold && census.images[i] < static_cast<std::size_t>(plan.folds))
        problem(
            "cv.folds",
            fmt::format("{} folds need at least {} images in every class, but class '{}' has {}",
                        plan.folds, plan.folds, census.classes[i], census.images[i]));
    }
  }
  if (require_files) {
    std::error_code ec;
    for (const auto& name : spec.variants) {
      const auto& v = spec.canonical["variants"][name];
      for (const char* key : {"model", "boxes", "cascade"}) {
        if (!v.contains(key) || v[key].is_null()) continue;
        const fs::path p = spec.resolve_path(v[key].get<std::string>());
        if (!fs::is_regular_file(p, ec))
          problem(fmt::format("variants.{}", name),
                  fmt::format("{} file {} does not exist", key, p.string()));
      }
    }
    std::set<std::string> seen;
    for (const auto& t : plan.extracts) {
      if (t.weights == "auto" || t.weights == "random" || t.weights.rfind("random:", 0) == 0)
        continue;
      if (!seen.insert(t.weights).second) continue;
      if (!fs::is_regular_file(t.weights, ec))
        problem("weights",
                fmt::format("weights file {} (for {}) does not exist", t.weights, t.backbone));
    }
  }
  return problems;
}

}  // namespace fersweep::sweep
