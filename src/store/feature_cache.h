// The feature cache shared across runs: feature files named by the hash of a canonical key that
// says everything their values depend on, verified on read and written atomically.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "store/features_file.h"

namespace fersweep::store {

/// Where the cache lives: `flag` (--feature-cache) if given, else $FERSWEEP_FEATURE_CACHE, else
/// ${XDG_CACHE_HOME:-$HOME/.cache}/fersweep/features; nullopt when `disabled`
/// (--no-feature-cache) or when none of these is set.
std::optional<std::filesystem::path> feature_cache_dir(const std::string& flag, bool disabled);

/// A feature set found in the cache.
struct CachedFeatures {
  FeatureSet set;
  nlohmann::json result;       ///< the provenance stored with it (weights, device, ...)
  std::filesystem::path file;  ///< the entry it was read from
};

/// The start of the temp file names a process `pid` of this machine writes in a cache folder:
/// ".tmp-<host>@<boot id>.<pid namespace>@<pid>-" (what sweep_stale_temps judges them by).
std::string cache_temp_prefix(long pid);

/// What FeatureCache::sweep_stale_temps removed.
struct SweptTemps {
  int files = 0;
  std::uintmax_t bytes = 0;
};

/// One cache directory. Entries are `<sha256 of the canonical key>.h5` feature files carrying the
/// key (attribute `cache_key`) and the computing task's provenance (`cache_result`). Failures to
/// read or write the cache are warnings: the caller computes the features instead.
class FeatureCache {
 public:
  explicit FeatureCache(std::filesystem::path dir) : dir_(std::move(dir)) {}
  const std::filesystem::path& dir() const { return dir_; }

  /// The entry file of a key (canonical JSON text).
  std::filesystem::path entry_path(const std::string& key) const;

  /// The cached features of `key`, or nullopt on a miss. A damaged entry, or one whose stored
  /// key differs, is a miss with a warning naming the file (a later store replaces it).
  std::optional<CachedFeatures> load(const std::string& key) const;

  /// Stores `set` under `key` (temp file with a unique name, fsync, rename: concurrent runs
  /// never see a half-written entry). Returns the entry path, or nullopt after a warning.
  std::optional<std::filesystem::path> store(const std::string& key, const FeatureSet& set,
                                             const nlohmann::json& result) const;

  /// Removes the temp files of stores that never finished (a run killed while writing; an
  /// activation store's can be GBs): those written on this machine since its boot, in this PID
  /// namespace, by a process that has exited, and any not modified for `max_age` (a writer
  /// writes without pause, so it died elsewhere). Other runs' live temps stay. Files that vanish
  /// meanwhile are skipped.
  SweptTemps sweep_stale_temps(std::chrono::seconds max_age = std::chrono::hours(24)) const;

 private:
  std::filesystem::path dir_;
  mutable bool store_warned_ = false;  // one warning per run for an unwritable cache
};

}  // namespace fersweep::store
