// Feature rows kept on disk instead of in memory. An activation store (the input of fine-tuned
// blocks) is 800 KB per image for ResNet-50's layer3 at 224 px: 540 MB for 675 images, 28 GB for
// FER2013. It is written as extraction produces it, travels in chunks and is read a batch at a
// time, so no process holds all of it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

namespace fersweep::store {

/// Where rows lie: float32 [n, dim] row-major, little-endian, from byte `offset` of `file` (a
/// spill file, or the contiguous /features dataset of a features file).
struct RowsOnDisk {
  std::filesystem::path file;
  std::uint64_t offset = 0;
  /// Keeps a spill file alive: it is removed when the last copy of this is gone (null for a file
  /// that stays, such as a results directory's features file).
  std::shared_ptr<const void> owner;
};

/// A directory of this process for spill files: $FERSWEEP_SCRATCH, else $TMPDIR, else /tmp, then
/// fersweep-<host>-<pid>/ (several ranks share a node). Created on first use, removed at exit; a
/// killed process leaves it behind. On a cluster, point it at node-local disk.
std::filesystem::path spill_dir();

/// Appends rows to a new spill file in order; memory: what the caller passes in.
class RowWriter {
 public:
  /// A new file in spill_dir() named after `name` (a feature set id).
  RowWriter(const std::string& name, std::int64_t dim);
  ~RowWriter();
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;
  /// Writes `count` rows; IoError naming the file and the system's reason (disk full, ...).
  void append(const float* rows, std::int64_t count);
  std::int64_t rows() const { return rows_; }
  /// Closes the file; the rows, owning it from now on.
  RowsOnDisk finish();

 private:
  std::filesystem::path path_;
  std::int64_t dim_;
  std::int64_t rows_ = 0;
  int fd_ = -1;
};

/// Reads rows of `n` × `dim` on disk with pread (thread-safe; the page cache does the caching).
class RowReader {
 public:
  /// IoError naming the file when it cannot be opened or is shorter than its rows.
  RowReader(RowsOnDisk rows, std::int64_t n, std::int64_t dim);
  ~RowReader();
  RowReader(const RowReader&) = delete;
  RowReader& operator=(const RowReader&) = delete;
  /// Rows [first, first + count) into `out` (count × dim floats).
  void read(std::int64_t first, std::int64_t count, float* out) const;
  /// Rows `idx`, in that order, into `out` (idx.size() × dim floats); runs of consecutive rows
  /// are read with one call each.
  void gather(const std::vector<std::size_t>& idx, float* out) const;
  const RowsOnDisk& where() const { return rows_; }

 private:
  void read_bytes(std::uint64_t at, std::size_t bytes, void* out) const;
  RowsOnDisk rows_;
  std::int64_t n_;
  std::int64_t dim_;
  int fd_ = -1;
};

/// Copies rows from `from` into `fd` at byte `offset`, `chunk_rows` at a time (memory: one
/// chunk); IoError naming `to` (the destination's name) on failure.
void copy_rows(const RowReader& from, std::int64_t n, std::int64_t dim, int fd,
               std::uint64_t offset, const std::filesystem::path& to);

/// Rows per chunk when rows travel or are copied: about kRowsChunkBytes (or
/// $FERSWEEP_ROWS_CHUNK_BYTES), at least one row.
inline constexpr std::size_t kRowsChunkBytes = 16u << 20;
std::int64_t rows_per_chunk(std::int64_t dim);

}  // namespace fersweep::store
