// A small checked wrapper over the HDF5 C API: every call is checked, failures become IoError
// naming the file, the object and HDF5's own innermost message; HDF5 never prints its error stack.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace fersweep::store {

/// Owns one HDF5 identifier and closes it with the right H5*close function.
class H5Handle {
 public:
  H5Handle() = default;
  explicit H5Handle(hid_t id) : id_(id) {}
  H5Handle(H5Handle&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  H5Handle& operator=(H5Handle&& other) noexcept;
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  ~H5Handle() { reset(); }
  hid_t get() const { return id_; }
  /// Gives up ownership without closing.
  hid_t release() {
    const hid_t id = id_;
    id_ = H5I_INVALID_HID;
    return id;
  }
  void reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

/// Element types the wrapper stores.
enum class H5Type { f32, f64, i32, i64, u8 };

/// The kind of values a dataset holds, as readers need to know it to pick a read function.
enum class H5Class { integer, floating, string, other };

/// Shape and contents of a numeric dataset read back.
template <class T>
struct H5Array {
  std::vector<hsize_t> dims;
  std::vector<T> values;
};

/// An open HDF5 file. Paths inside it are '/'-separated; missing parent groups are created.
class H5File {
 public:
  /// create_in_memory builds the file in memory and writes it to `path` with plain POSIX calls
  /// at close(): a failing disk (full, read-only, over quota) then gives an IoError with the
  /// system's reason, and never leaves HDF5 with a half-closed file (HDF5 1.10 crashes at exit
  /// closing a file whose flush failed).
  enum class Mode { read, create_truncate, create_in_memory };
  H5File(const std::filesystem::path& path, Mode mode);
  const std::filesystem::path& path() const { return path_; }
  /// Flushes and closes; errors are reported here rather than lost in a destructor.
  void close();

  /// Creates a group (and its parents) if needed.
  void ensure_group(const std::string& group);
  bool exists(const std::string& object) const;
  /// Names of the members of a group, sorted.
  std::vector<std::string> list(const std::string& group) const;

  void write(const std::string& dataset, const std::vector<float>& values,
             std::vector<hsize_t> dims = {});
  void write(const std::string& dataset, const std::vector<double>& values,
             std::vector<hsize_t> dims = {});
  void write(const std::string& dataset, const std::vector<std::int16_t>& values,
             std::vector<hsize_t> dims = {});
  void write(const std::string& dataset, const std::vector<std::int32_t>& values,
             std::vector<hsize_t> dims = {});
  void write(const std::string& dataset, const std::vector<std::int64_t>& values,
             std::vector<hsize_t> dims = {});
  void write(const std::string& dataset, const std::vector<std::uint8_t>& values,
             std::vector<hsize_t> dims = {});
  /// A 1-D dataset of variable-length UTF-8 strings (h5py reads them as str with .asstr()).
  void write_strings(const std::string& dataset, const std::vector<std::string>& values);

  /// String and numeric attributes on any object ("/" for the file).
  void set_attribute(const std::string& object, const std::string& name, const std::string& value);
  void set_attribute(const std::string& object, const std::string& name, double value);
  void set_attribute(const std::string& object, const std::string& name, std::int64_t value);
  std::string string_attribute(const std::string& object, const std::string& name) const;
  double double_attribute(const std::string& object, const std::string& name) const;
  std::int64_t int_attribute(const std::string& object, const std::string& name) const;
  bool has_attribute(const std::string& object, const std::string& name) const;
  /// The names of an object's attributes, sorted, and the kind of value one holds.
  std::vector<std::string> attribute_names(const std::string& object) const;
  H5Class attribute_class(const std::string& object, const std::string& name) const;

  /// A contiguous float32 [rows, cols] dataset whose space is allocated now and never filled;
  /// returns its byte offset in the file. Its values are written after close() with POSIX calls
  /// (large row stores: HDF5 never holds them, and a full disk is a plain write error). The disk
  /// blocks for it and for `metadata_bytes` more are reserved first: call it before writing
  /// anything else, so that on a full disk it fails while HDF5 has nothing to flush.
  std::uint64_t create_contiguous_f32(const std::string& dataset, hsize_t rows, hsize_t cols,
                                      std::uint64_t metadata_bytes);
  /// Flushes, and returns where the file's allocated space ends (what a complete file's size is).
  std::uint64_t flush_and_get_end();
  /// The byte offset of a contiguous, allocated little-endian float32 dataset, whose values can be
  /// read with POSIX calls; -1 for any other layout or type (chunked, compressed, ...).
  std::int64_t contiguous_f32_offset(const std::string& dataset) const;

  H5Array<float> read_f32(const std::string& dataset) const;
  H5Array<double> read_f64(const std::string& dataset) const;
  H5Array<std::int64_t> read_i64(const std::string& dataset) const;
  std::vector<std::string> read_strings(const std::string& dataset) const;
  std::vector<hsize_t> dims(const std::string& dataset) const;
  /// Whether a dataset holds integers, floating-point numbers or strings (fixed or variable
  /// length).
  H5Class dataset_class(const std::string& dataset) const;

 private:
  template <class T>
  void write_numeric(const std::string& dataset, const std::vector<T>& values,
                     std::vector<hsize_t> dims, hid_t mem_type, hid_t file_type);
  template <class T>
  H5Array<T> read_numeric(const std::string& dataset, hid_t mem_type) const;
  void ensure_parent(const std::string& object);
  [[noreturn]] void fail(const std::string& what, const std::string& object) const;

  std::filesystem::path path_;
  H5Handle file_;
  bool in_memory_ = false;
};

/// Writes `path` atomically: `fill` writes a temporary file beside it, which is flushed, fsync'd
/// and renamed over `path`, so readers see either the old file or the complete new one.
template <class Fill>
void write_h5_atomically(const std::filesystem::path& path, Fill&& fill);

/// Writes `bytes` to `path` (created or truncated); IoError naming it and the system's reason.
void write_file_bytes(const std::filesystem::path& path, const std::vector<char>& bytes);

/// fsyncs a file or directory by path (IoError naming it on failure).
void fsync_path(const std::filesystem::path& path);

/// Implementation detail of write_h5_atomically (non-template part).
void commit_temp_file(const std::filesystem::path& temp, const std::filesystem::path& path);

template <class Fill>
void write_h5_atomically(const std::filesystem::path& path, Fill&& fill) {
  const std::filesystem::path temp = path.string() + ".tmp";
  try {
    H5File file(temp, H5File::Mode::create_in_memory);
    fill(file);
    file.close();
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);  // never leave a half-written file behind
    throw;
  }
  commit_temp_file(temp, path);
}

}  // namespace fersweep::store
