// Options several subcommands share.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace fersweep::cli {

/// Adds --feature-cache DIR and --no-feature-cache (mutually exclusive) to `cmd`.
void add_feature_cache_options(CLI::App& cmd, std::string& dir, bool& disabled);

}  // namespace fersweep::cli
