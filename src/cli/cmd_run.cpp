// `fersweep run`: runs or resumes a sweep under mpirun/srun or alone.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "comm/mpi.h"
#include "core/error.h"
#include "core/log.h"
#include "report/analysis.h"
#include "report/results.h"
#include "run/launch.h"
#include "run/models.h"
#include "run/sweep_run.h"
#include "store/feature_cache.h"
#include "sweep/plan.h"
#include "sweep/spec.h"

namespace fersweep::cli {
namespace {

constexpr const char* kDescription = R"(Run a sweep, or resume it.

Under a launcher (mpirun -np N, srun), rank 0 coordinates and ranks 1..N-1 execute tasks; alone,
the one process does both. The dataset must be readable by every rank; nothing else is assumed
shared: features travel to workers over MPI, and only rank 0 writes the results directory.

Stages: crop (face variants) -> extract (frozen backbone, once per feature set) -> train (heads on
cached features; one run per task, evaluated at every requested epoch count).

The results directory (--out) holds journal.jsonl (every finished task, checksummed and fsync'd),
results.h5 (rewritten atomically from the journal; see docs/results-schema.md), events.jsonl,
sweep.yaml (the exact text run), run.json, cache/ (features) and a lock file.

Running the same command again skips every task already in the journal. A changed sweep or
dataset is refused (use another --out, or --force-new). SIGINT/SIGTERM stop dispatching, let
running tasks finish within --grace seconds, save everything and exit 3.

Settings: the sweep file's `run:` section (retries, threads, device, grace_period) gives the
defaults; --retries, --threads, --device and --grace override it for this command. Without
either: 2 retries, automatic threads, device auto, a 30 s grace period.

Feature cache: feature sets are also kept in a cache shared across runs (--feature-cache DIR,
else $FERSWEEP_FEATURE_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/fersweep/features), keyed by
backbone, weights sha256, dataset fingerprint, variant, image size and normalisation; a later
run (any --out) copies them instead of extracting again. Only rank 0 reads and writes it; a cache
that cannot be written is a warning. See docs/feature-cache.md.

Devices: each worker uses cuda:(local rank % GPUs) when CUDA is available, else the CPU, with
(cores on the node / worker ranks on the node, at most the CPUs the launcher bound the rank to)
torch threads unless --threads says otherwise (the coordinator, rank 0, mostly waits and takes
no share). mpirun binds each of 2 ranks to one core by default: add --bind-to none.

Examples:
  fersweep run sweeps/demo.yaml --out runs/demo
  mpirun -np 3 fersweep run sweeps/paper.yaml --out runs/paper --set cv.repeats=3)";

struct RunCliOptions {
  std::string file;
  std::vector<std::string> overrides;
  std::string out;
  // The sweep file's `run:` unless given on the command line (see given()).
  int threads = 0, retries = 0;
  double grace = 0;
  std::string device;
  run::RunOptions run;
  bool no_progress = false;
  std::string feature_cache;
  bool no_feature_cache = false;
};

// Which rank this process will be, read before MPI starts (to print config errors once).
int launcher_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
    if (const char* v = std::getenv(var)) return std::atoi(v);
  }
  return 0;
}

void run_command(RunCliOptions& o, const CLI::App& cmd) {
  const int rank = launcher_rank();
  // Every rank validates the sweep before MPI starts, so a bad file never starts a job; only
  // rank 0 reports it.
  sweep::Plan plan;
  try {
    plan = sweep::plan_sweep(sweep::load_sweep(o.file, o.overrides));
  } catch (const Error&) {
    if (rank != 0) std::exit(static_cast<int>(ExitCode::usage));
    throw;
  }
  if (rank == 0) {
    for (const auto& w : plan.warnings) log::warn("{}", w);
  }
  // Command-line options override the sweep file's `run:` section.
  const auto given = [&cmd](const char* option) { return cmd.count(option) > 0; };
  const sweep::RunSettings& file = plan.spec.run;
  o.run.out = o.out.empty() ? "runs/" + plan.spec.name : o.out;
  o.run.progress = !o.no_progress;
  o.run.retries = given("--retries") ? o.retries : file.retries;
  o.run.grace_seconds = given("--grace") ? o.grace : file.grace_period;
  const int threads = given("--threads") ? o.threads : file.threads;
  const std::string device = given("--device") ? o.device : file.device;
  const std::filesystem::path out = o.run.out;
  const auto cache = store::feature_cache_dir(o.feature_cache, o.no_feature_cache);
  const std::string keep_models = file.keep_models;
  run::launch_run([&plan, threads, cache] { return run::make_sweep_setup(plan, threads, cache); },
                  o.run,
                  [threads, device](const comm::Placement& p) {
                    run::ExecutorSettings s;
                    s.threads = run::threads_for_rank(threads, p);
                    s.device = device;
                    return run::make_sweep_executor(p, s);
                  },
                  threads,
                  [out, keep_models](const run::RunSummary& summary) {
                    // An interrupted run keeps its models where they are until it ends.
                    if (!summary.interrupted) run::keep_models(out, keep_models);
                    std::cout << "\n"
                              << report::main_table_text(report::load_results(out))
                              << "\nResults: " << (out / "results.h5").string() << "\n";
                    std::cout.flush();
                  });
}

}  // namespace

void add_run(CLI::App& app) {
  auto o = std::make_shared<RunCliOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run or resume a sweep (under mpirun/srun or alone)");
  cmd->footer(kDescription);  // the manual; `fersweep --help` shows only the summary
  cmd->add_option("SWEEP", o->file, "The sweep file (YAML)")->required();
  cmd->add_option("--out", o->out, "Results directory (default: runs/<sweep name>)");
  cmd->add_option("--set", o->overrides, "Override a sweep key: KEY.PATH=VALUE (repeatable)")
      ->allow_extra_args(false);
  // Each overrides a `run:` field; the help names the field and its default (sweep::RunSettings).
  const sweep::RunSettings defaults;
  cmd->add_option("--threads", o->threads,
                  "Torch threads per rank (default: run.threads, else cores / worker ranks on "
                  "the node)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--retries", o->retries,
                  fmt::format("Extra attempts for a failed task (default: run.retries, else {})",
                              defaults.retries))
      ->check(CLI::Range(0, 100));
  cmd->add_option("--grace", o->grace,
                  fmt::format("Seconds running tasks may go on after SIGTERM (default: "
                              "run.grace_period, else {})",
                              defaults.grace_period))
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--device", o->device,
                  fmt::format("auto (CUDA when available), cpu or cuda (default: run.device, "
                              "else {})",
                              defaults.device))
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--batch", o->run.max_batch, "Training tasks sent to a worker at once")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_flag("--force-new", o->run.force_new,
                "Discard earlier results in --out instead of resuming");
  cmd->add_flag("--no-progress", o->no_progress, "No progress bar or progress lines");
  add_feature_cache_options(*cmd, o->feature_cache, o->no_feature_cache);
  cmd->callback([o, cmd] { run_command(*o, *cmd); });
}

}  // namespace fersweep::cli
