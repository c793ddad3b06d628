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

/// A file descriptor, closed when the last owner lets go.
class OpenFile {
 public:
  explicit OpenFile(int fd) : fd_(fd) {}
  ~OpenFile();
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

/// Where rows lie: float32 [n, dim] row-major, little-endian, from byte `offset` of an open file
/// (a spill file, or the contiguous /features dataset of a features file). Rows are read through
/// the descriptor, never by reopening the name: a file renamed over it (another run storing the
/// same cache entry) cannot shift them, and a spill file needs no name at all.
struct RowsOnDisk {
  std::filesystem::path file;  ///< its name, for messages (a spill file's is already unlinked)
  std::uint64_t offset = 0;
  std::shared_ptr<const OpenFile> open;
};

/// Opens `path` for reading rows from byte `offset`; IoError naming it.
RowsOnDisk open_rows(const std::filesystem::path& path, std::uint64_t offset);

/// A directory of this process for spill files: $FERSWEEP_SCRATCH, else $TMPDIR, else /tmp, then
/// fersweep-<host>-<pid>/ (several ranks share a node). Created on first use, removed at exit.
/// Spill files are unlinked as soon as they are created, so their space goes back to the disk
/// when the process ends however it ends (MPI_Abort, kill -9); only an empty directory can stay.
/// On a cluster, point it at node-local disk.
std::filesystem::path spill_dir();

/// Appends rows to a new spill file in order; memory: what the caller passes in.
class RowWriter {
 public:
  /// A new file in spill_dir() named after `name` (a feature set id), unlinked at once.
  RowWriter(const std::string& name, std::int64_t dim);
  ~RowWriter();
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;
  /// Writes `count` rows; IoError naming the file and the system's reason (disk full, ...).
  void append(const float* rows, std::int64_t count);
  std::int64_t rows() const { return rows_; }
  /// The rows written, readable through the same descriptor.
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
  /// IoError naming the file when it is shorter than its rows.
  RowReader(RowsOnDisk rows, std::int64_t n, std::int64_t dim);
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
};

/// Copies rows from `from` into `fd` at byte `offset`, `chunk_rows` at a time (memory: one
/// chunk); IoError naming `to` (the destination's name) on failure.
void copy_rows(const RowReader& from, std::int64_t n, std::int64_t dim, int fd,
               std::uint64_t offset, const std::filesystem::path& to);

/// Writes `count` floats into `fd` at byte `at` (pwrite until done); IoError naming `to`.
void write_floats_at(int fd, std::uint64_t at, const float* values, std::size_t count,
                     const std::filesystem::path& to);

/// Rows per chunk when rows travel or are copied: about kRowsChunkBytes (or
/// $FERSWEEP_ROWS_CHUNK_BYTES), at least one row.
inline constexpr std::size_t kRowsChunkBytes = 16u << 20;
std::int64_t rows_per_chunk(std::int64_t dim);

}  // namespace fersweep::store
