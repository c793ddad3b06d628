// Feature files (`fersweep extract` output and the sweep's feature cache): features [N, D] float32,
// labels, image paths and provenance attributes in one HDF5 file, written atomically.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace fersweep::store {

/// A feature set in memory: [n, dim] float32 row-major plus labels and relative image paths.
struct FeatureSet {
  std::string id;
  std::int64_t n = 0;
  std::int64_t dim = 0;
  std::vector<float> values;
  std::vector<std::int64_t> labels;
  std::vector<std::string> paths;
  nlohmann::json attributes = nlohmann::json::object();  ///< provenance (strings/numbers only)
};

/// Writes `set` to `path` atomically (temp file, fsync, rename).
void write_features_file(const std::filesystem::path& path, const FeatureSet& set);
/// Reads a feature file; IoError naming the file when it is missing, damaged or inconsistent.
FeatureSet read_features_file(const std::filesystem::path& path);

}  // namespace fersweep::store
