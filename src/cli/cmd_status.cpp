// `fersweep status DIR`: progress of a running or finished sweep, from its journal.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "run/coordinator.h"
#include "store/journal.h"

namespace fersweep::cli {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// True when a coordinator holds DIR/.lock right now.
bool lock_held(const fs::path& lock) {
  const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0;
  if (!held) ::flock(fd, LOCK_UN);
  ::close(fd);
  return held;
}

void show_status(const fs::path& dir, bool list_failures) {
  if (!fs::is_directory(dir))
    throw UsageError(fmt::format("'{}' is not a results directory", dir.string()));
  if (!fs::exists(dir / "run.json")) {
    throw UsageError(
        fmt::format("'{}' has no run.json: not a fersweep results directory", dir.string()));
  }
  const auto contents = store::read_journal(dir / "journal.jsonl");
  const std::map<std::string, json> last = run::last_records(contents.records);
  std::size_t attempts_failed = 0;
  std::string updated;  // the latest record's time (ISO 8601 UTC sorts as text)
  for (const auto& r : contents.records) {
    if (r.value("status", "") == "failed") ++attempts_failed;
    updated = std::max(updated, r.value("finished", std::string()));
  }
  std::map<std::string, std::pair<std::size_t, std::size_t>> per_kind;  // done, failed for good
  std::vector<json> failed;
  for (const auto& [id, r] : last) {
    auto& k = per_kind[r.value("kind", "?")];
    if (r.value("status", "") == "done") {
      ++k.first;
    } else if (r.value("final", false)) {
      ++k.second;
      failed.push_back(r);
    }
  }
  std::ifstream in(dir / "run.json");
  std::stringstream text;
  text << in.rdbuf();
  const json run = json::parse(text.str(), nullptr, false);
  const json prov = run.is_object() ? run.value("provenance", json::object()) : json::object();
  std::cout << fmt::format("results directory: {}\n", dir.string());
  std::cout << fmt::format("sweep:             {} ({})\n", prov.value("sweep_name", "?"),
                           prov.value("sweep_hash", "").substr(0, 16));
  std::cout << fmt::format("state:             {}\n", lock_held(dir / ".lock")
                                                          ? "RUNNING (a coordinator holds the lock)"
                                                          : "not running");
  // run.json is written when a run starts; the journal says when a task last finished.
  if (updated.empty()) updated = run.value("updated", "?");
  std::cout << fmt::format("started / updated: {} / {}\n", run.value("created", "?"), updated);
  for (const auto& [kind, c] : per_kind) {
    std::cout << fmt::format("  {:<10} {:>7} done  {:>5} failed\n", kind, c.first, c.second);
  }
  std::cout << fmt::format("failed attempts:   {} (retried or final)\n", attempts_failed);
  if (contents.torn_tail)
    std::cout << "journal:           incomplete last record (will be dropped on resume)\n";
  if (!contents.corrupt_lines.empty()) {
    std::cout << fmt::format(
        "journal:           {} damaged record(s); those tasks run again on resume\n",
        contents.corrupt_lines.size());
  }
  if (!failed.empty()) {
    std::cout << fmt::format("tasks failed for good: {}\n", failed.size());
    std::size_t shown = 0;
    for (const auto& r : failed) {
      if (!list_failures && shown++ >= 10) {
        std::cout << "  ... (--failures lists all)\n";
        break;
      }
      std::cout << fmt::format("  {} {} (rank {}, attempt {}): {}\n", r.value("id", ""),
                               r.value("kind", ""), r.value("rank", 0), r.value("attempt", 0),
                               r.value("error", ""));
    }
  }
}

}  // namespace

void add_status(CLI::App& app) {
  struct Options {
    std::string dir;
    bool failures = false;
    bool rewrite = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("status", "Progress of a running or finished sweep");
  cmd->footer(
      "Summarise a results directory from its journal: tasks done and failed per stage, whether a\n"
      "coordinator is running on it, and the tasks that failed for good with their messages.\n"
      "Safe to run while the sweep runs (it only reads).");
  cmd->add_option("DIR", o->dir, "Results directory (the --out of fersweep run)")->required();
  cmd->add_flag("--failures", o->failures, "List every failed task, not only the first 10");
  cmd->add_flag("--rewrite", o->rewrite,
                "Rebuild results.h5 from the journal (only when no coordinator is running)");
  cmd->callback([o] {
    if (o->rewrite) {
      if (lock_held(fs::path(o->dir) / ".lock")) {
        throw UsageError(fmt::format(
            "'{}' is in use by a running coordinator; it rewrites results.h5 itself", o->dir));
      }
      run::rewrite_results(o->dir);
    }
    show_status(o->dir, o->failures);
  });
}

}  // namespace fersweep::cli
