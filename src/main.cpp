// The `fersweep` executable: the command line on top of the core library, errors → exit codes.
#include <exception>

#include "cli/app.h"
#include "core/error.h"
#include "core/log.h"
#include "core/proc.h"

int main(int argc, char** argv) {
  fersweep::proc::tune_allocator();  // before any thread starts
  try {
    return fersweep::cli::run(argc, argv);
  } catch (const fersweep::Error& e) {
    fersweep::log::error("{}", e.what());
    return static_cast<int>(e.exit_code());
  } catch (...) {
    fersweep::log::error("{}", fersweep::current_exception_message());
    return static_cast<int>(fersweep::ExitCode::runtime_failure);
  }
}
