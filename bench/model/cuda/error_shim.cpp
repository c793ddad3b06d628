// core/error.cpp for the standalone CUDA check: the same rewrapping, limited to the exceptions
// LibTorch and the standard library throw (no HDF5/yaml-cpp/OpenCV in that build).
#include <c10/util/Exception.h>
#include <fmt/format.h>

#include "core/error.h"

namespace fersweep {

std::string current_exception_message() {
  try {
    throw;
  } catch (const c10::Error& e) {
    return fmt::format("LibTorch: {}", e.what_without_backtrace());
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

template <class Wrapped>
void rethrow_with_context(const std::string& context) {
  const std::string m = current_exception_message();
  const std::string joined = context.empty() ? m : fmt::format("{}: {}", context, m);
  try {
    throw;
  } catch (const ModelError&) {
    throw ModelError(joined);
  } catch (const ConfigError&) {
    throw ConfigError(joined);
  } catch (const IoError&) {
    throw IoError(joined);
  } catch (...) {
    throw Wrapped(joined);
  }
}

template void rethrow_with_context<Error>(const std::string&);
template void rethrow_with_context<ConfigError>(const std::string&);
template void rethrow_with_context<ModelError>(const std::string&);
template void rethrow_with_context<IoError>(const std::string&);

namespace detail {
void assert_failed(const char* expr, const char* file, int line, const std::string& msg) {
  throw InternalError(fmt::format("internal error at {}:{}: {} ({})", file, line, msg, expr));
}
}  // namespace detail

}  // namespace fersweep
