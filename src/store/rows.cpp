// Spill files and row reads with POSIX calls: errors carry the system's reason and the file name.
#include "store/rows.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "core/error.h"
#include "core/proc.h"

namespace fersweep::store {
namespace fs = std::filesystem;

namespace {

// The process's spill directory, removed when the process exits normally.
struct SpillDir {
  fs::path path;
  ~SpillDir() {
    std::error_code ignored;
    if (!path.empty()) fs::remove_all(path, ignored);
  }
};

std::string system_reason() {
  return std::strerror(errno);
}

}  // namespace

OpenFile::~OpenFile() {
  if (fd_ >= 0) ::close(fd_);
}

RowsOnDisk open_rows(const fs::path& path, std::uint64_t offset) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(fmt::format("cannot open '{}': {}", path.string(), system_reason()));
  return RowsOnDisk{path, offset, std::make_shared<const OpenFile>(fd)};
}

fs::path spill_dir() {
  static SpillDir dir;
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  if (!dir.path.empty()) return dir.path;
  fs::path base = "/tmp";
  for (const char* var : {"FERSWEEP_SCRATCH", "TMPDIR"}) {
    const char* value = std::getenv(var);
    if (value != nullptr && *value != '\0') {
      base = value;
      break;
    }
  }
  const fs::path path = base / fmt::format("fersweep-{}-{}", proc::host_name(), ::getpid());
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec)
    throw IoError(
        fmt::format("cannot create the spill directory '{}': {} (set FERSWEEP_SCRATCH "
                    "to a writable directory on local disk)",
                    path.string(), ec.message()));
  dir.path = path;
  return path;
}

std::int64_t rows_per_chunk(std::int64_t dim) {
  // FERSWEEP_ROWS_CHUNK_BYTES: a smaller chunk (tests send stores of a few MB in many chunks).
  static const std::size_t bytes = [] {
    const char* v = std::getenv("FERSWEEP_ROWS_CHUNK_BYTES");
    const long long n = v != nullptr ? std::atoll(v) : 0;
    // At most 1 GiB: one MPI message counts its bytes in an int.
    return n > 0 ? std::min<std::size_t>(static_cast<std::size_t>(n), 1u << 30) : kRowsChunkBytes;
  }();
  const auto row = static_cast<std::size_t>(std::max<std::int64_t>(1, dim)) * sizeof(float);
  return static_cast<std::int64_t>(std::max<std::size_t>(1, bytes / row));
}

RowWriter::RowWriter(const std::string& name, std::int64_t dim) : dim_(dim) {
  static std::atomic<unsigned> counter{0};
  path_ = spill_dir() / fmt::format("{}-{}.rows", name, counter++);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw IoError(
        fmt::format("cannot create spill file '{}': {}", path_.string(), system_reason()));
  ::unlink(path_.c_str());  // nameless from now on: nothing to clean up, whatever happens
}

RowWriter::~RowWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void RowWriter::append(const float* rows, std::int64_t count) {
  const auto* p = reinterpret_cast<const char*>(rows);
  std::size_t left = static_cast<std::size_t>(count * dim_) * sizeof(float);
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw IoError(fmt::format("cannot write spill file '{}': {}", path_.string(),
                                n < 0 ? system_reason() : std::string("nothing written")));
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  rows_ += count;
}

RowsOnDisk RowWriter::finish() {
  const int fd = fd_;
  fd_ = -1;
  // Spill files are scratch: no fsync (a crash loses the task, which runs again).
  return RowsOnDisk{path_, 0, std::make_shared<const OpenFile>(fd)};
}

RowReader::RowReader(RowsOnDisk rows, std::int64_t n, std::int64_t dim)
    : rows_(std::move(rows)), n_(n), dim_(dim) {
  FERSWEEP_ASSERT(rows_.open != nullptr, "rows on disk without an open file");
  struct stat st {};
  const std::uint64_t needed = rows_.offset + static_cast<std::uint64_t>(n_ * dim_) * sizeof(float);
  if (::fstat(rows_.open->fd(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) < needed)
    throw IoError(fmt::format("'{}' is truncated: {} bytes, its {} rows of {} floats need {}",
                              rows_.file.string(), static_cast<long long>(st.st_size), n_, dim_,
                              needed));
}

void RowReader::read_bytes(std::uint64_t at, std::size_t bytes, void* out) const {
  auto* p = static_cast<char*>(out);
  while (bytes > 0) {
    const ssize_t n = ::pread(rows_.open->fd(), p, bytes, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw IoError(fmt::format("cannot read '{}' at byte {}: {}", rows_.file.string(), at,
                                n < 0 ? system_reason() : std::string("the file ends there")));
    p += n;
    at += static_cast<std::uint64_t>(n);
    bytes -= static_cast<std::size_t>(n);
  }
}

void RowReader::read(std::int64_t first, std::int64_t count, float* out) const {
  FERSWEEP_ASSERT(first >= 0 && count >= 0 && first + count <= n_, "row range out of bounds");
  const std::size_t row = static_cast<std::size_t>(dim_) * sizeof(float);
  read_bytes(rows_.offset + static_cast<std::uint64_t>(first) * row,
             static_cast<std::size_t>(count) * row, out);
}

void RowReader::gather(const std::vector<std::size_t>& idx, float* out) const {
  std::size_t i = 0;
  while (i < idx.size()) {
    std::size_t run = 1;
    while (i + run < idx.size() && idx[i + run] == idx[i] + run) ++run;
    read(static_cast<std::int64_t>(idx[i]), static_cast<std::int64_t>(run),
         out + i * static_cast<std::size_t>(dim_));
    i += run;
  }
}

void write_floats_at(int fd, std::uint64_t at, const float* values, std::size_t count,
                     const fs::path& to) {
  const auto* p = reinterpret_cast<const char*>(values);
  std::size_t left = count * sizeof(float);
  while (left > 0) {
    const ssize_t w = ::pwrite(fd, p, left, static_cast<off_t>(at));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      throw IoError(fmt::format("cannot write '{}': {}", to.string(),
                                w < 0 ? system_reason() : std::string("nothing written")));
    p += w;
    at += static_cast<std::uint64_t>(w);
    left -= static_cast<std::size_t>(w);
  }
}

void copy_rows(const RowReader& from, std::int64_t n, std::int64_t dim, int fd,
               std::uint64_t offset, const fs::path& to) {
  const std::int64_t chunk = rows_per_chunk(dim);
  std::vector<float> buffer(static_cast<std::size_t>(std::min(chunk, n) * dim));
  for (std::int64_t first = 0; first < n; first += chunk) {
    const std::int64_t count = std::min(chunk, n - first);
    from.read(first, count, buffer.data());
    write_floats_at(fd, offset + static_cast<std::uint64_t>(first * dim) * sizeof(float),
                    buffer.data(), static_cast<std::size_t>(count * dim), to);
  }
}

}  // namespace fersweep::store
