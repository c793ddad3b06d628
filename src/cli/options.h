// Options several subcommands share.
#pragma once

#include <string>
#include <vector>

#include "data/settings.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace fersweep::cli {

/// Adds --feature-cache DIR and --no-feature-cache (mutually exclusive) to `cmd`.
void add_feature_cache_options(CLI::App& cmd, std::string& dir, bool& disabled);

/// The dataset's format and the format's own settings on the command line (the sweep file's
/// dataset.format, splits, images, peak_frames, first_frame_neutral).
struct LayoutOptions {
  data::DatasetLayout layout;
  std::vector<std::string> splits;                          ///< --split PART=FOLDER, as given
  std::vector<std::pair<std::string, CLI::Option*>> given;  ///< layout key → its option
};

/// Adds --format, --split, --images, --peak-frames and --first-frame-neutral to `cmd`.
void add_layout_options(CLI::App& cmd, LayoutOptions& o);

/// The layout the options give: ConfigError for an unknown format, an option the format does
/// not read, or a --split that is not PART=FOLDER for both parts train and test.
data::DatasetLayout layout_of(const LayoutOptions& o);

}  // namespace fersweep::cli
