// Builds the CLI11 application. Only subcommands that work are registered.
#include "cli/app.h"

#include <CLI/CLI.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/error.h"
#include "core/log.h"
#include "core/version.h"

namespace fersweep::cli {
namespace {

constexpr const char* kFooter = R"(
Exit codes:
  0  done
  1  runtime failure (data, model, I/O, MPI)
  2  usage or configuration error (nothing was run or written)
  3  interrupted by SIGINT/SIGTERM; run the same command again to resume
  4  the sweep finished, but some tasks failed after all retries

Run `fersweep SUBCOMMAND --help` for the manual of each subcommand.
Documentation: README.md and docs/ in the source tree.)";

}  // namespace

void add_feature_cache_options(CLI::App& cmd, std::string& dir, bool& disabled) {
  auto* cache = cmd.add_option("--feature-cache", dir,
                               "Feature cache shared across runs (default: "
                               "$FERSWEEP_FEATURE_CACHE or ~/.cache/fersweep/features)");
  cmd.add_flag("--no-feature-cache", disabled, "Neither read nor write the shared feature cache")
      ->excludes(cache);
}

void add_layout_options(CLI::App& cmd, LayoutOptions& o) {
  cmd.add_option("--format", o.layout.format,
                 "Dataset format: folders, fer2013, ferplus, rafdb, affectnet, ckplus, jaffe or "
                 "expw (docs/datasets.md)")
      ->capture_default_str();
  o.given = {
      {"splits", cmd.add_option("--split", o.splits,
                                "folders: an official split's folder, PART=FOLDER for train and "
                                "test (SFEW 2.0: --split train=Train --split test=Val)")},
      {"images", cmd.add_option("--images", o.layout.images, "rafdb: aligned or original")
                     ->capture_default_str()},
      {"peak_frames", cmd.add_option("--peak-frames", o.layout.peak_frames,
                                     "ckplus: the last frames of a sequence that take its label")
                          ->capture_default_str()},
      {"first_frame_neutral",
       cmd.add_flag("--first-frame-neutral", o.layout.first_frame_neutral,
                    "ckplus: the first frame of every labelled sequence as Neutral")}};
}

data::DatasetLayout layout_of(const LayoutOptions& o) {
  data::DatasetLayout layout = o.layout;
  const data::Format format = data::parse_format(layout.format);
  const auto& own = data::format_traits(format).keys;
  for (const auto& [key, option] : o.given) {
    if (option->count() == 0 || std::find(own.begin(), own.end(), key) != own.end()) continue;
    throw ConfigError(fmt::format("{}: only format {} reads this option (--format is {})",
                                  option->get_name(), fmt::join(data::formats_reading(key), ", "),
                                  layout.format));
  }
  if (layout.images != "aligned" && layout.images != "original")
    throw ConfigError(
        fmt::format("--images: '{}' is not a RAF-DB image set (aligned, original)", layout.images));
  if (layout.peak_frames < 1)
    throw ConfigError(fmt::format("--peak-frames: {} is below 1", layout.peak_frames));
  if (o.splits.empty()) return layout;
  std::map<std::string, std::string> parts;
  for (const auto& s : o.splits) {
    const auto eq = s.find('=');
    const std::string part = s.substr(0, eq);
    if (eq == std::string::npos || eq + 1 == s.size() || (part != "train" && part != "test"))
      throw ConfigError(fmt::format("--split '{}': give train=FOLDER or test=FOLDER", s));
    if (!parts.emplace(part, s.substr(eq + 1)).second)
      throw ConfigError(fmt::format("--split: {} given twice", part));
  }
  if (parts.size() != 2) throw ConfigError("--split: give both train=FOLDER and test=FOLDER");
  if (parts["train"] == parts["test"])
    throw ConfigError("--split: the train and test folders are the same");
  layout.splits = parts;
  return layout;
}

int run(int argc, char** argv) {
  CLI::App app{
      "fersweep: distributed hyperparameter sweeps of frozen-backbone transfer learning for\n"
      "facial expression recognition (ResNet-18/34/50 on SFEW-style datasets), under\n"
      "mpirun/srun or alone.\n",
      "fersweep"};
  app.footer(kFooter);
  app.set_version_flag("--version", version_banner(),
                       "Print the versions of fersweep, LibTorch, OpenCV, MPI and HDF5");
  // Flags act as they are parsed, so the level is set before any subcommand callback runs.
  auto* quiet = app.add_flag_callback(
      "-q,--quiet", [] { log::set_level(log::Level::warn); }, "Print warnings and errors only");
  auto* verbose = app.add_flag_callback(
      "-v,--verbose", [] { log::set_level(log::Level::debug); },
      "Print debug messages, from every MPI rank");
  quiet->excludes(verbose);
  verbose->excludes(quiet);
  app.require_subcommand(0, 1);

  // Subcommands, in the order of the data flow. Each runs from its CLI11 callback and reports
  // failure by throwing a fersweep::Error.
  add_make_demo_data(app);
  add_crop_faces(app);
  add_extract(app);
  add_plan(app);
  add_run(app);
  add_report(app);
  add_status(app);
  add_synthetic_run(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    std::cerr << "fersweep: " << e.what() << "\nRun `fersweep --help` for usage.\n";
    return 2;
  }
  if (app.get_subcommands().empty()) {
    std::cerr << "fersweep: a subcommand is required\nRun `fersweep --help` for usage.\n";
    return 2;
  }
  return 0;
}

}  // namespace fersweep::cli
