// Feature file layout: /features [N,D] f32, /labels [N] i64, /paths [N] str; attributes on "/".
#include "store/features_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "store/h5.h"

namespace fersweep::store {

namespace {
namespace fs = std::filesystem;

// Labels, paths, id, format and the provenance attributes: everything but the rows.
void write_metadata(H5File& f, const FeatureSet& set) {
  f.write("/labels", set.labels);
  f.write_strings("/paths", set.paths);
  f.set_attribute("/", "id", set.id);
  f.set_attribute("/", "format", std::string("fersweep-features-1"));
  for (const auto& [key, value] : set.attributes.items()) {
    if (value.is_string()) {
      f.set_attribute("/", key, value.get<std::string>());
    } else if (value.is_number_integer() || value.is_boolean()) {
      f.set_attribute(
          "/", key,
          value.is_boolean() ? std::int64_t(value.get<bool>()) : value.get<std::int64_t>());
    } else if (value.is_number()) {
      f.set_attribute("/", key, value.get<double>());
    } else {
      f.set_attribute("/", key, value.dump());
    }
  }
}

// Refuses up front a file the disk has no room for (HDF5 writes only its small metadata here).
void check_room(const fs::path& path, std::uint64_t bytes) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return;  // no figure: the writes will tell
  const double free = static_cast<double>(st.f_bavail) * static_cast<double>(st.f_frsize);
  const double needed = static_cast<double>(bytes) + (1 << 20);
  if (free >= needed) return;
  throw IoError(
      fmt::format("cannot write '{}': its rows need {:.2f} GiB and '{}' has {:.2f} GiB "
                  "free",
                  path.string(), needed / (1 << 30), dir.string(), free / (1 << 30)));
}

}  // namespace

// The rows' space is allocated contiguously first (its blocks and the metadata's reserved on disk
// before HDF5 writes anything else), then labels, paths and attributes go through HDF5, then the
// rows are written with POSIX calls as they come.
StoreFileWriter::StoreFileWriter(fs::path path, const FeatureSet& set)
    : path_(std::move(path)), temp_(path_.string() + ".tmp"), n_(set.n), dim_(set.dim) {
  FERSWEEP_ASSERT(static_cast<std::int64_t>(set.labels.size()) == set.n, "label count mismatch");
  std::error_code ignored;
  fs::remove(temp_, ignored);  // a killed run's: its size must not count against the room
  check_room(path_, static_cast<std::uint64_t>(n_ * dim_) * sizeof(float));
  // Labels (8 bytes each), paths (a global heap entry of their length plus 16 each) and the
  // attributes, with room to spare: HDF5's own writes then fit in the reservation.
  std::uint64_t metadata = 1 << 20;
  for (const auto& p : set.paths) metadata += 8 + 32 + p.size();
  metadata += 2 * set.attributes.dump().size();
  try {
    std::uint64_t end = 0;
    {
      H5File f(temp_, H5File::Mode::create_truncate);
      offset_ = f.create_contiguous_f32("/features", static_cast<hsize_t>(n_),
                                        static_cast<hsize_t>(dim_), metadata);
      write_metadata(f, set);
      end = f.flush_and_get_end();
      f.close();
    }
    fd_ = ::open(temp_.c_str(), O_RDWR | O_CLOEXEC);
    if (fd_ < 0)
      throw IoError(fmt::format("cannot open '{}': {}", temp_.string(), std::strerror(errno)));
    // What was reserved beyond HDF5's end goes back (the file is then exactly HDF5's size).
    struct stat st {};
    if (::fstat(fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) > end &&
        ::ftruncate(fd_, static_cast<off_t>(end)) != 0)
      throw IoError(fmt::format("cannot write '{}': {}", temp_.string(), std::strerror(errno)));
  } catch (...) {
    if (fd_ >= 0) ::close(fd_);
    fs::remove(temp_, ignored);
    throw;
  }
}

StoreFileWriter::~StoreFileWriter() {
  if (fd_ < 0) return;  // committed
  ::close(fd_);
  std::error_code ignored;
  fs::remove(temp_, ignored);
}

void StoreFileWriter::append(const float* rows, std::int64_t count) {
  FERSWEEP_ASSERT(fd_ >= 0 && count >= 0 && rows_ + count <= n_, "rows beyond the store's size");
  write_floats_at(fd_, offset_ + static_cast<std::uint64_t>(rows_ * dim_) * sizeof(float), rows,
                  static_cast<std::size_t>(count * dim_), temp_);
  rows_ += count;
}

void StoreFileWriter::append_all(const RowReader& source) {
  FERSWEEP_ASSERT(fd_ >= 0 && rows_ == 0, "append_all into a started store file");
  copy_rows(source, n_, dim_, fd_, offset_, temp_);
  rows_ = n_;
}

RowsOnDisk StoreFileWriter::commit() {
  FERSWEEP_ASSERT(
      fd_ >= 0 && rows_ == n_,
      fmt::format("store file '{}' committed with {} of {} rows", temp_.string(), rows_, n_));
  commit_temp_file(temp_, path_);  // fsync, rename; if it throws, the destructor removes the temp
  auto open = std::make_shared<const OpenFile>(fd_);
  fd_ = -1;
  return RowsOnDisk{path_, offset_, std::move(open)};
}

void write_features_file(const std::filesystem::path& path, const FeatureSet& set) {
  FERSWEEP_ASSERT(static_cast<std::int64_t>(set.labels.size()) == set.n, "label count mismatch");
  if (set.on_disk) {
    StoreFileWriter file(path, set);
    file.append_all(RowReader(*set.on_disk, set.n, set.dim));
    file.commit();
    return;
  }
  FERSWEEP_ASSERT(static_cast<std::int64_t>(set.values.size()) == set.n * set.dim,
                  "feature size mismatch");
  write_h5_atomically(path, [&](H5File& f) {
    f.write("/features", set.values, {static_cast<hsize_t>(set.n), static_cast<hsize_t>(set.dim)});
    write_metadata(f, set);
  });
}

FeatureSet read_features_file(const std::filesystem::path& path) {
  H5File f(path, H5File::Mode::read);
  FeatureSet set;
  if (!f.has_attribute("/", "format") ||
      f.string_attribute("/", "format") != "fersweep-features-1") {
    throw IoError(fmt::format("'{}' is not a fersweep feature file", path.string()));
  }
  set.id = f.string_attribute("/", "id");
  // Provenance as it was written (strings and numbers; write_metadata's other values are text).
  for (const auto& name : f.attribute_names("/")) {
    if (name == "id" || name == "format") continue;
    switch (f.attribute_class("/", name)) {
      case H5Class::string:
        set.attributes[name] = f.string_attribute("/", name);
        break;
      case H5Class::integer:
        set.attributes[name] = f.int_attribute("/", name);
        break;
      case H5Class::floating:
        set.attributes[name] = f.double_attribute("/", name);
        break;
      default:
        break;
    }
  }
  const auto dims = f.dims("/features");
  if (dims.size() != 2) throw IoError(fmt::format("'{}': /features is not 2-D", path.string()));
  set.n = static_cast<std::int64_t>(dims[0]);
  set.dim = static_cast<std::int64_t>(dims[1]);
  const auto cut = set.attributes.find("cut");
  const bool activations = cut != set.attributes.end() && cut->is_string() && *cut != "head";
  const std::int64_t offset = activations ? f.contiguous_f32_offset("/features") : -1;
  if (offset >= 0) {
    set.on_disk = open_rows(path, static_cast<std::uint64_t>(offset));
    RowReader check(*set.on_disk, set.n, set.dim);  // a truncated file is refused here
  } else {
    set.values = f.read_f32("/features").values;
  }
  set.labels = f.read_i64("/labels").values;
  set.paths = f.read_strings("/paths");
  if (static_cast<std::int64_t>(set.labels.size()) != set.n ||
      static_cast<std::int64_t>(set.paths.size()) != set.n) {
    throw IoError(fmt::format("'{}': {} features but {} labels and {} paths", path.string(), set.n,
                              set.labels.size(), set.paths.size()));
  }
  return set;
}

}  // namespace fersweep::store
