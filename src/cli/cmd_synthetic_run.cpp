// `fersweep synthetic-run` (hidden): runs no-op or sleeping tasks through the real coordinator,
// journal and results store. Used by the orchestration benchmarks and fault-injection tests.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "core/hash.h"
#include "core/proc.h"
#include "run/launch.h"

namespace fersweep::cli {

void add_synthetic_run(CLI::App& app) {
  struct Options {
    run::RunOptions run;
    std::size_t tasks = 1000;
    int sleep_ms = 0;
    int threads = 1;
    std::size_t fail_every = 0;
    std::string out;
    std::string stats;
  };
  auto opts = std::make_shared<Options>();
  auto* sub = app.add_subcommand(
      "synthetic-run", "Run synthetic tasks through the orchestrator (benchmarks, tests)");
  sub->group("");  // hidden from --help: a developer tool
  sub->add_option("--out", opts->out, "Results directory")->required();
  sub->add_option("--tasks", opts->tasks, "Number of tasks")->capture_default_str();
  sub->add_option("--sleep-ms", opts->sleep_ms, "Each task sleeps this long")
      ->capture_default_str();
  sub->add_option("--fail-every", opts->fail_every, "Every Nth task always fails (0: none)");
  sub->add_option("--retries", opts->run.retries, "Retries per failed task")->capture_default_str();
  sub->add_option("--batch", opts->run.max_batch, "Tasks per message")->capture_default_str();
  sub->add_option("--grace", opts->run.grace_seconds, "Grace period after SIGTERM (s)")
      ->capture_default_str();
  sub->add_flag("--force-new", opts->run.force_new, "Discard earlier results");
  sub->add_option("--stats", opts->stats,
                  "Write figures for the benchmarks (run time, coordinator peak RSS, the time of "
                  "a results.h5 rewrite from the journal) to this JSON file");
  sub->add_flag(
      "--no-progress", [opts](std::int64_t) { opts->run.progress = false; }, "No progress output");
  sub->callback([opts] {
    opts->run.out = opts->out;
    const auto make_setup = [opts] {
      run::RunSetup setup;
      setup.sweep_text =
          fmt::format("# synthetic: {} tasks, {} ms each\n", opts->tasks, opts->sleep_ms);
      setup.identity = {{"synthetic_tasks", opts->tasks},
                        {"sleep_ms", opts->sleep_ms},
                        {"fail_every", opts->fail_every}};
      setup.provenance = {{"sweep_name", "synthetic"}, {"sweep_text", setup.sweep_text}};
      setup.tasks.reserve(opts->tasks);
      for (std::size_t i = 0; i < opts->tasks; ++i) {
        run::TaskSpec t;
        t.id = sha256_hex(fmt::format("synthetic:{}", i)).substr(0, 16);
        t.kind = run::TaskKind::synthetic;
        t.params = {{"index", i},
                    {"sleep_ms", opts->sleep_ms},
                    {"value", static_cast<std::int64_t>(i * i)}};
        if (opts->fail_every > 0 && (i + 1) % opts->fail_every == 0) t.params["fail"] = true;
        setup.tasks.push_back(std::move(t));
      }
      return setup;
    };
    // Rank 0 only, after the run: figures for bench/run/*.sh.
    const auto write_stats = [opts](const run::RunSummary& summary) {
      if (opts->stats.empty()) return;
      const double run_peak = proc::peak_rss_mib();  // before the rewrite below adds its own
      const auto start = std::chrono::steady_clock::now();
      run::rewrite_results(opts->out);
      const double rewrite =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::error_code ec;
      const auto journal_bytes =
          std::filesystem::file_size(std::filesystem::path(opts->out) / "journal.jsonl", ec);
      const nlohmann::json stats = {
          {"tasks", summary.total},
          {"done", summary.done},
          {"failed", summary.failed},
          {"seconds", summary.seconds},
          {"tasks_per_s", summary.seconds > 0 ? double(summary.done) / summary.seconds : 0.0},
          {"coordinator_peak_rss_mib", run_peak},
          {"peak_rss_with_rewrite_mib", proc::peak_rss_mib()},
          {"rewrite_seconds", rewrite},
          {"journal_bytes", ec ? 0 : journal_bytes}};
      std::ofstream(opts->stats) << stats.dump(2) << '\n';
    };
    run::launch_run(
        make_setup, opts->run,
        [](const comm::Placement&) { return std::make_unique<run::SyntheticExecutor>(); },
        opts->threads, write_stats);
  });
}

}  // namespace fersweep::cli
