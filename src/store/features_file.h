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

/// An activation store's feature file written as its rows come, so that rows arriving over MPI go
/// straight into the results directory. The constructor writes everything of `set` but its rows
/// (n, dim, labels, paths, id, attributes; its values and on_disk are not read) to `path`.tmp,
/// with the rows' disk space reserved (IoError up front when the disk lacks the room); append()
/// adds rows in order; commit() moves the file into place (fsync, rename) and returns the rows
/// in it, readable through the same descriptor. Destroyed uncommitted, it removes the temp file.
/// IoError naming the file on any failure.
class StoreFileWriter {
 public:
  StoreFileWriter(std::filesystem::path path, const FeatureSet& set);
  ~StoreFileWriter();
  StoreFileWriter(const StoreFileWriter&) = delete;
  StoreFileWriter& operator=(const StoreFileWriter&) = delete;
  void append(const float* rows, std::int64_t count);
  /// Appends every row of `source` (n rows of dim), a chunk at a time.
  void append_all(const RowReader& source);
  RowsOnDisk commit();

 private:
  std::filesystem::path path_, temp_;
  std::int64_t n_, dim_;
  std::uint64_t offset_ = 0;  // of /features in the file
  std::int64_t rows_ = 0;
  int fd_ = -1;
};

/// Reads a feature file; IoError naming the file when it is missing, damaged or inconsistent. An
/// activation store written contiguously keeps its rows in the file (`on_disk`); other files,
/// and activation stores of older versions (chunked), are read whole.
FeatureSet read_features_file(const std::filesystem::path& path);

}  // namespace fersweep::store
