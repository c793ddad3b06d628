// The `fersweep` command line: global options, subcommands, parse errors → exit code 2.
#pragma once

namespace fersweep::cli {

/// Parses the command line and runs the chosen subcommand. Returns the process exit code;
/// fersweep::Error escapes for `main` to report.
int run(int argc, char** argv);

}  // namespace fersweep::cli
