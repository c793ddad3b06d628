// Subcommand registration: each `fersweep` subcommand lives in its own cmd_*.cpp file.
#pragma once

namespace CLI {
class App;
}

namespace fersweep::cli {

/// Registers `fersweep make-demo-data`.
void add_make_demo_data(CLI::App& app);
/// Registers `fersweep crop-faces`.
void add_crop_faces(CLI::App& app);
/// Registers `fersweep extract`.
void add_extract(CLI::App& app);
/// Registers `fersweep plan`.
void add_plan(CLI::App& app);
/// Registers `fersweep run`.
void add_run(CLI::App& app);
/// Registers `fersweep status`.
void add_status(CLI::App& app);
/// Registers the hidden `fersweep synthetic-run` (orchestration benchmarks and tests).
void add_synthetic_run(CLI::App& app);
/// Registers `fersweep report`.
void add_report(CLI::App& app);

}  // namespace fersweep::cli
