// One exception hierarchy for every failure fersweep reports; `main` maps each to an exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace fersweep {

/// Documented process exit codes (README, `fersweep --help`).
enum class ExitCode : int {
  ok = 0,               ///< everything asked for was done
  runtime_failure = 1,  ///< data, model, I/O or communication failure
  usage = 2,            ///< bad command line or configuration; nothing was run or written
  interrupted = 3,      ///< stopped by a signal; running the same command again resumes
  tasks_failed = 4,     ///< the sweep finished but some tasks failed for good
};

/// Base of every fersweep error. The message names the file, key or path it is about.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  /// Exit code `main` returns for this error.
  virtual ExitCode exit_code() const { return ExitCode::runtime_failure; }
};

/// Bad command-line arguments.
class UsageError : public Error {
 public:
  using Error::Error;
  ExitCode exit_code() const override { return ExitCode::usage; }
};

/// Bad configuration: sweep files, overrides, option values.
class ConfigError : public Error {
 public:
  using Error::Error;
  ExitCode exit_code() const override { return ExitCode::usage; }
};

/// Bad or missing dataset content (folders, images, box files).
class DataError : public Error {
 public:
  using Error::Error;
};

/// A dataset file that breaks its format's rules (a CSV row with 2303 pixels, a label outside
/// the format's range, a label file naming a missing image): the input is wrong, like a bad sweep
/// file, so nothing is run (exit 2). The message names the file and line.
class DataFormatError : public DataError {
 public:
  using DataError::DataError;
  ExitCode exit_code() const override { return ExitCode::usage; }
};

/// Bad weight files, architecture mismatches, failures inside the network code.
class ModelError : public Error {
 public:
  using Error::Error;
};

/// File-system and HDF5 failures.
class IoError : public Error {
 public:
  using Error::Error;
};

/// MPI failures and malformed messages between ranks.
class CommError : public Error {
 public:
  using Error::Error;
};

/// The run was stopped by SIGINT/SIGTERM after saving its state.
class InterruptedError : public Error {
 public:
  using Error::Error;
  ExitCode exit_code() const override { return ExitCode::interrupted; }
};

/// The sweep finished, but some tasks failed after all their retries.
class TasksFailedError : public Error {
 public:
  using Error::Error;
  ExitCode exit_code() const override { return ExitCode::tasks_failed; }
};

/// A broken internal invariant (a fersweep bug), raised by FERSWEEP_ASSERT.
class InternalError : public Error {
 public:
  using Error::Error;
};

/// Rethrows the exception in flight (call only inside a catch block) as a fersweep error whose
/// message starts with `context`. LibTorch, HDF5, yaml-cpp, OpenCV and standard exceptions become
/// `Wrapped`; fersweep errors keep their type and gain the context.
template <class Wrapped>
[[noreturn]] void rethrow_with_context(const std::string& context);

/// Runs `body`, turning any library exception into `Wrapped` with `context` (see
/// rethrow_with_context).
template <class Wrapped, class Body>
decltype(auto) with_context(const std::string& context, Body&& body) {
  try {
    return body();
  } catch (...) {
    rethrow_with_context<Wrapped>(context);
  }
}

/// The message of the exception in flight, without LibTorch's C++ backtrace.
std::string current_exception_message();

namespace detail {
[[noreturn]] void assert_failed(const char* expr, const char* file, int line,
                                const std::string& msg);
}

}  // namespace fersweep

/// Checks an internal invariant; a failure throws InternalError naming file:line.
#define FERSWEEP_ASSERT(cond, msg)                                                    \
  do {                                                                                \
    if (!(cond)) ::fersweep::detail::assert_failed(#cond, __FILE__, __LINE__, (msg)); \
  } while (false)
