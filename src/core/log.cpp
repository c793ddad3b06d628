// Logger state and the single place lines are written.
#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace fersweep::log {
namespace {
std::atomic<Level> g_level{Level::info};
std::atomic<int> g_rank{0};
std::atomic<int> g_world{1};
std::mutex g_mutex;

const char* level_tag(Level l) {
  switch (l) {
    case Level::error:
      return "error: ";
    case Level::warn:
      return "warning: ";
    case Level::debug:
      return "debug: ";
    case Level::info:
      break;
  }
  return "";
}
}  // namespace

void set_level(Level l) {
  g_level = l;
}
Level level() {
  return g_level;
}
void set_rank(int r, int world_size) {
  g_rank = r;
  g_world = world_size;
}
int rank() {
  return g_rank;
}
bool is_primary() {
  return g_rank == 0;
}

void write(Level l, std::string_view message) {
  const bool multi = g_world > 1;
  // Only rank 0 narrates; other ranks speak up for problems or when asked to be verbose.
  if (l == Level::info && multi && g_rank != 0 && g_level < Level::debug) return;
  std::string line;
  if (multi) line = fmt::format("[rank {}] ", g_rank.load());
  line += level_tag(l);
  line.append(message);
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace fersweep::log
