// Kept models: selection (report::best_model_tasks for `best`) and moves within the results
// directory.
#include "run/models.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "report/analysis.h"
#include "report/results.h"

namespace fersweep::run {
namespace fs = std::filesystem;

namespace {

// Task id → its model file, wherever it is now (models/ first: an earlier end of this run).
std::map<std::string, fs::path> model_files(const fs::path& dir) {
  std::map<std::string, fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir / "cache" / "train", ec)) {
    const fs::path f = e.path() / kModelFile;
    if (fs::is_regular_file(f, ec)) files[e.path().filename().string()] = f;
  }
  for (const auto& e : fs::directory_iterator(dir / "models", ec))
    if (e.path().extension() == ".pt") files[e.path().stem().string()] = e.path();
  return files;
}

void remove_file(const fs::path& f) {
  std::error_code ec;
  fs::remove(f, ec);
  if (ec) log::warn("models: cannot remove '{}': {}", f.string(), ec.message());
}

}  // namespace

std::vector<fs::path> keep_models(const fs::path& dir, const std::string& mode) {
  if (mode == "none") return {};
  const auto files = model_files(dir);
  std::set<std::string> wanted;
  if (mode == "all") {
    for (const auto& [id, f] : files) wanted.insert(id);
  } else {
    FERSWEEP_ASSERT(mode == "best", "keep_models is none, best or all");
    const auto ids = report::best_model_tasks(report::load_results(dir / "results.h5"));
    wanted.insert(ids.begin(), ids.end());
  }
  const fs::path models = dir / "models";
  fs::create_directories(models);
  std::vector<fs::path> kept;
  for (const auto& id : wanted) {
    const auto it = files.find(id);
    if (it == files.end()) {
      log::warn("models: task {} has no model file (it ran without run.keep_models)", id);
      continue;
    }
    const fs::path target = models / (id + ".pt");
    if (it->second != target) {
      std::error_code ec;
      fs::rename(it->second, target, ec);
      if (ec)
        throw IoError(fmt::format("cannot move '{}' to '{}': {}", it->second.string(),
                                  target.string(), ec.message()));
    }
    kept.push_back(target);
  }
  for (const auto& [id, f] : files)
    if (!wanted.count(id)) remove_file(f);
  log::info("models: kept {} ({}) in '{}'", kept.size(), mode, models.string());
  return kept;
}

}  // namespace fersweep::run
