// Rewrapping of third-party exceptions into the fersweep hierarchy.
#include "core/error.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <yaml-cpp/exceptions.h>

#include <opencv2/core.hpp>

namespace fersweep {

std::string current_exception_message() {
  try {
    throw;
  } catch (const c10::Error& e) {
    // LibTorch appends a C++ backtrace to what(); users get the message only.
    return fmt::format("LibTorch: {}", e.what_without_backtrace());
  } catch (const YAML::Exception& e) {
    return fmt::format("YAML: {}", e.what());
  } catch (const cv::Exception& e) {
    return fmt::format("OpenCV: {}", e.err.empty() ? e.what() : e.err);
  } catch (const std::bad_alloc&) {
    return "out of memory";
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

namespace {
template <class E>
[[noreturn]] void throw_as(const std::string& message) {
  throw E(message);
}
}  // namespace

template <class Wrapped>
void rethrow_with_context(const std::string& context) {
  const std::string joined = [&] {
    std::string m = current_exception_message();
    return context.empty() ? m : fmt::format("{}: {}", context, m);
  }();
  // fersweep errors keep their own type (and so their exit code).
  try {
    throw;
  } catch (const UsageError&) {
    throw_as<UsageError>(joined);
  } catch (const ConfigError&) {
    throw_as<ConfigError>(joined);
  } catch (const InterruptedError&) {
    throw_as<InterruptedError>(joined);
  } catch (const DataError&) {
    throw_as<DataError>(joined);
  } catch (const ModelError&) {
    throw_as<ModelError>(joined);
  } catch (const IoError&) {
    throw_as<IoError>(joined);
  } catch (const CommError&) {
    throw_as<CommError>(joined);
  } catch (const InternalError&) {
    throw_as<InternalError>(joined);
  } catch (...) {
    throw_as<Wrapped>(joined);
  }
}

template void rethrow_with_context<Error>(const std::string&);
template void rethrow_with_context<ConfigError>(const std::string&);
template void rethrow_with_context<DataError>(const std::string&);
template void rethrow_with_context<ModelError>(const std::string&);
template void rethrow_with_context<IoError>(const std::string&);
template void rethrow_with_context<CommError>(const std::string&);

namespace detail {
void assert_failed(const char* expr, const char* file, int line, const std::string& msg) {
  throw InternalError(fmt::format("internal error at {}:{}: {} ({}); please report this bug", file,
                                  line, msg, expr));
}
}  // namespace detail

}  // namespace fersweep
