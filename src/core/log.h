// Levelled, fmt-based logging to stderr with a rank prefix under MPI; human output from rank 0
// only.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace fersweep::log {

/// Verbosity, least to most.
enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

/// Sets the most verbose level that is printed (`--quiet` → warn, `--verbose` → debug).
void set_level(Level level);
Level level();

/// Tells the logger which MPI rank this process is; with more than one rank, lines get a
/// "[rank N]" prefix and info lines from ranks other than 0 are printed only at debug level.
void set_rank(int rank, int world_size);
int rank();
/// True on the rank that owns human-facing output (rank 0).
bool is_primary();

/// Writes one already formatted line at `level` (thread-safe; a line is never interleaved).
void write(Level level, std::string_view message);

template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  if (level() >= Level::warn) write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (level() >= Level::info) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (level() >= Level::debug) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace fersweep::log
