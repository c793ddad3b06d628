// Feature files (`fersweep extract` output and the sweep's feature cache): features [N, D] float32,
// labels, image paths and provenance attributes in one HDF5 file, written atomically. Activation
// stores (the input of fine-tuned blocks, attribute `cut`) keep their rows on disk: written in
// chunks into a contiguous /features dataset, read back a few rows at a time (store/rows.h).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "store/rows.h"

namespace fersweep::store {

/// A feature set: [n, dim] float32 row-major plus labels and relative image paths. The rows are in
/// `values`, or on disk (`on_disk`; `values` empty) for activation stores.
struct FeatureSet {
  std::string id;
  std::int64_t n = 0;
  std::int64_t dim = 0;
  std::vector<float> values;
  std::optional<RowsOnDisk> on_disk;
  std::vector<std::int64_t> labels;
  std::vector<std::string> paths;
  nlohmann::json attributes = nlohmann::json::object();  ///< provenance (strings/numbers only)
};

/// Writes `set` to `path` atomically (temp file, fsync, rename). Rows on disk are copied a chunk
/// at a time into a contiguous /features (an IoError up front when the disk lacks the room).
void write_features_file(const std::filesystem::path& path, const FeatureSet& set);
/// Reads a feature file; IoError naming the file when it is missing, damaged or inconsistent. An
/// activation store written contiguously keeps its rows in the file (`on_disk`); other files,
/// and activation stores of older versions (chunked), are read whole.
FeatureSet read_features_file(const std::filesystem::path& path);

}  // namespace fersweep::store
