// Feature cache entries: lookup with key verification, atomic stores under unique temp names.
#include "store/feature_cache.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string_view>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/proc.h"
#include "store/h5.h"

namespace fersweep::store {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// This host's name as a file name part (letters, digits, '.', '-'; anything else '_').
std::string host_name() {
  std::string name = proc::host_name();
  if (name.empty()) return "unknown";
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '_';
  return name;
}

// Which processes a pid names: this boot of this machine (a host name can repeat across nodes,
// and containers share it) and this PID namespace; empty when unknown, and then no pid is
// judged.
std::string pid_domain() {
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string id;
  struct stat ns {};
  if (!std::getline(boot, id) || id.size() < 8 || ::stat("/proc/self/ns/pid", &ns) != 0) return "";
  return fmt::format("{}.{}", id.substr(0, 8), static_cast<unsigned long long>(ns.st_ino));
}

// Temp files are ".tmp-<host>@<pid domain>@<pid>-<n>-<entry>" (neither a host name nor a domain
// holds '@'; the host is there for people); earlier versions wrote ".tmp-<pid>-<n>-<entry>",
// swept by age alone.
constexpr std::string_view kTempPrefix = ".tmp-";

// Whether the temp file `name` belongs to a process of this machine and PID namespace that has
// exited.
bool writer_gone(const std::string& name, const std::string& domain) {
  const auto first = name.find('@');
  const auto second = first == std::string::npos ? first : name.find('@', first + 1);
  if (domain.empty() || second == std::string::npos ||
      name.compare(first + 1, second - first - 1, domain) != 0)
    return false;
  const long pid = std::strtol(name.c_str() + second + 1, nullptr, 10);
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

std::string cache_temp_prefix(long pid) {
  return fmt::format("{}{}@{}@{}-", kTempPrefix, host_name(), pid_domain(), pid);
}

std::optional<fs::path> feature_cache_dir(const std::string& flag, bool disabled) {
  if (disabled) return std::nullopt;
  if (!flag.empty()) return fs::path(flag);
  if (const std::string dir = env("FERSWEEP_FEATURE_CACHE"); !dir.empty()) return fs::path(dir);
  if (const std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty())
    return fs::path(xdg) / "fersweep" / "features";
  if (const std::string home = env("HOME"); !home.empty())
    return fs::path(home) / ".cache" / "fersweep" / "features";
  return std::nullopt;
}

fs::path FeatureCache::entry_path(const std::string& key) const {
  return dir_ / (sha256_hex(key) + ".h5");
}

std::optional<CachedFeatures> FeatureCache::load(const std::string& key) const {
  const fs::path file = entry_path(key);
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  try {
    CachedFeatures out;
    {
      H5File f(file, H5File::Mode::read);
      if (!f.has_attribute("/", "cache_key"))
        throw IoError(fmt::format("'{}' holds no cache key", file.string()));
      const std::string stored = f.string_attribute("/", "cache_key");
      if (stored != key) {
        log::warn(
            "feature cache entry '{}' was made for another key (stored {}, wanted {}); "
            "recomputing",
            file.string(), stored, key);
        return std::nullopt;
      }
      out.result = json::parse(f.string_attribute("/", "cache_result"));
      f.close();
    }
    out.set = read_features_file(file);
    out.set.attributes.erase("cache_key");  // the cache's own: not the features' provenance
    out.set.attributes.erase("cache_result");
    out.file = file;
    return out;
  } catch (...) {
    log::warn("feature cache entry '{}' is damaged ({}); recomputing", file.string(),
              current_exception_message());
    return std::nullopt;
  }
}

std::optional<fs::path> FeatureCache::store(const std::string& key, const FeatureSet& set,
                                            const json& result) const {
  static std::atomic<unsigned> counter{0};
  const fs::path file = entry_path(key);
  // Unique per process and call: two runs storing the same entry never share a temp file.
  static const std::string prefix = cache_temp_prefix(::getpid());
  const fs::path temp = dir_ / fmt::format("{}{}-{}", prefix, counter++, file.filename().string());
  try {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw IoError(fmt::format("cannot create '{}': {}", dir_.string(), ec.message()));
    FeatureSet entry = set;
    entry.attributes["cache_key"] = key;
    entry.attributes["cache_result"] = result.dump();
    write_features_file(temp, entry);
    commit_temp_file(temp, file);
    return file;
  } catch (...) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    if (!store_warned_) {
      log::warn("feature cache '{}': cannot store features ({}); continuing without caching",
                dir_.string(), current_exception_message());
      store_warned_ = true;
    }
    return std::nullopt;
  }
}

SweptTemps FeatureCache::sweep_stale_temps(std::chrono::seconds max_age) const {
  SweptTemps swept;
  const std::string domain = pid_domain();
  const auto now = fs::file_time_type::clock::now();
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(kTempPrefix, 0) != 0) continue;
    std::error_code gone;
    const auto modified = fs::last_write_time(it->path(), gone);
    const auto bytes = fs::file_size(it->path(), gone);
    if (gone) continue;
    if (!writer_gone(name, domain) && now - modified < max_age) continue;
    if (fs::remove(it->path(), gone) && !gone) {
      ++swept.files;
      swept.bytes += bytes;
    }
  }
  return swept;
}

}  // namespace fersweep::store
