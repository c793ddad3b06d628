// `fersweep plan`: validate and expand a sweep file, print its tasks and estimated cost.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"
#include "core/error.h"
#include "sweep/census.h"
#include "sweep/plan.h"
#include "sweep/spec.h"
#include "sweep/summary.h"

namespace fersweep::cli {

namespace {

constexpr const char* kDescription = R"(Validate and expand a sweep file without running anything.

Reads SWEEP.yaml (see docs/sweep-files.md), applies the --set overrides, checks every key, type
and range, and prints:
  - the grid dimensions and how many combinations exclude removed and include added;
  - task counts per stage: crop (face-cropped dataset variants), extract (frozen-backbone feature
    sets) and train (one linear/MLP head per fold; a task evaluates at every requested epoch);
  - how many feature sets the training tasks share;
  - the estimated backbone cost (forward GFLOPs x images, ResNet-18/34/50 = 1.81/3.66/4.09 GFLOPs
    at 224x224, scaled by (size/224)^2) against what a naive per-epoch forward pass through the
    backbone would have cost. Images are counted in dataset.root when it exists (a directory walk);
    otherwise 675 images per variant are assumed.
With --tasks, the task table follows (id, the task it needs, its parameters).

When the dataset exists, plan also checks it against the sweep: listed classes have folders and
every class has at least cv.folds images. --dataset-check additionally requires the dataset folder,
the weights files and the detector files to exist.

Every problem is reported at once as FILE:LINE:COLUMN: KEY: MESSAGE; the exit code is then 2 and
nothing is written.

Examples:
  fersweep plan sweeps/paper.yaml
  fersweep plan sweeps/paper.yaml --tasks --format csv > tasks.csv
  fersweep plan sweeps/demo.yaml --set train.lr=0.001 --set grid.backbone=[resnet18,resnet50]
  fersweep plan sweeps/paper.yaml --set dataset.root=/scratch/sfew --dataset-check)";

struct PlanOptions {
  std::string file;
  std::vector<std::string> overrides;
  bool tasks = false;
  std::string format = "text";
  bool dataset_check = false;
};

void run_plan(const PlanOptions& o) {
  const sweep::SweepSpec spec = sweep::load_sweep(o.file, o.overrides);
  const sweep::Plan plan = sweep::plan_sweep(spec);
  const sweep::DatasetCensus census = sweep::census_dataset(spec);
  const auto problems = sweep::dataset_problems(plan, census, o.dataset_check);
  if (!problems.empty()) {
    std::string message =
        fmt::format("the dataset does not fit sweep file {} ({} problem{}):", spec.file,
                    problems.size(), problems.size() == 1 ? "" : "s");
    for (const auto& p : problems) message += "\n  " + p;
    throw ConfigError(message);
  }
  const sweep::CostEstimate cost = sweep::estimate_cost(plan, census);
  if (o.format == "json")
    std::cout << sweep::plan_json(plan, census, cost, o.tasks).dump(2) << "\n";
  else if (o.format == "csv")
    std::cout << sweep::plan_csv(plan, census, cost, o.tasks);
  else
    std::cout << sweep::plan_text(plan, census, cost, o.tasks);
  std::cout.flush();
}

}  // namespace

void add_plan(CLI::App& app) {
  auto options = std::make_shared<PlanOptions>();
  CLI::App* cmd =
      app.add_subcommand("plan", "Validate and expand a sweep file; print its tasks and cost");
  cmd->footer(kDescription);  // the manual; `fersweep --help` shows only the summary
  cmd->add_option("SWEEP", options->file, "The sweep file (YAML)")->required();
  cmd->add_option("--set", options->overrides,
                  "Override a key: KEY.PATH=VALUE, VALUE in YAML (e.g. train.lr=0.001, "
                  "grid.backbone=[resnet18,resnet50]); repeatable")
      ->allow_extra_args(false);
  cmd->add_flag("--tasks", options->tasks, "Also print the task table");
  cmd->add_option("--format", options->format, "Output format")
      ->check(CLI::IsMember({"text", "csv", "json"}))
      ->capture_default_str();
  cmd->add_flag("--dataset-check", options->dataset_check,
                "Also require the dataset folder, weights files and detector files to exist");
  cmd->callback([options] { run_plan(*options); });
}

}  // namespace fersweep::cli
