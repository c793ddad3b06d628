// Checked HDF5 calls. HDF5's automatic error printing is switched off; its innermost message is
// collected from the error stack and put into an IoError instead.
#include "store/h5.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "core/error.h"

namespace fersweep::store {
namespace {

void silence_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

herr_t collect_innermost(unsigned n, const H5E_error2_t* err, void* client) {
  auto* out = static_cast<std::string*>(client);
  if (n == 0 && err->desc != nullptr) *out = err->desc;
  return 0;
}

std::string hdf5_message() {
  std::string message;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_innermost, &message);
  H5Eclear2(H5E_DEFAULT);
  return message.empty() ? "unknown HDF5 error" : message;
}

std::vector<std::string> split_path(const std::string& object) {
  std::vector<std::string> parts;
  std::string part;
  for (char c : object) {
    if (c == '/') {
      if (!part.empty()) parts.push_back(part);
      part.clear();
    } else {
      part += c;
    }
  }
  if (!part.empty()) parts.push_back(part);
  return parts;
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* client) {
  static_cast<std::vector<std::string>*>(client)->emplace_back(name);
  return 0;
}

}  // namespace

H5Handle& H5Handle::operator=(H5Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void H5Handle::reset() {
  if (id_ < 0) return;
  switch (H5Iget_type(id_)) {
    case H5I_FILE:
      H5Fclose(id_);
      break;
    case H5I_GROUP:
      H5Gclose(id_);
      break;
    case H5I_DATASET:
      H5Dclose(id_);
      break;
    case H5I_DATASPACE:
      H5Sclose(id_);
      break;
    case H5I_DATATYPE:
      H5Tclose(id_);
      break;
    case H5I_ATTR:
      H5Aclose(id_);
      break;
    case H5I_GENPROP_LST:
      H5Pclose(id_);
      break;
    default:
      break;
  }
  id_ = H5I_INVALID_HID;
}

H5File::H5File(const std::filesystem::path& path, Mode mode) : path_(path) {
  silence_hdf5();
  hid_t id = H5I_INVALID_HID;
  if (mode == Mode::read) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      throw IoError(fmt::format("cannot open '{}': no such file", path.string()));
    }
    id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) {
      throw IoError(fmt::format("cannot open '{}' as HDF5: {} (is it an HDF5 file, and complete?)",
                                path.string(), hdf5_message()));
    }
  } else if (mode == Mode::create_in_memory) {
    in_memory_ = true;
    H5Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
    if (fapl.get() < 0 || H5Pset_fapl_core(fapl.get(), 1 << 20, /*backing_store=*/0) < 0)
      throw IoError(
          fmt::format("cannot set up in-memory HDF5 file '{}': {}", path.string(), hdf5_message()));
    id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
    if (id < 0) {
      throw IoError(fmt::format("cannot create HDF5 file '{}': {}", path.string(), hdf5_message()));
    }
  } else {
    id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (id < 0) {
      throw IoError(fmt::format("cannot create HDF5 file '{}': {}", path.string(), hdf5_message()));
    }
  }
  file_ = H5Handle(id);
}

void H5File::close() {
  if (file_.get() < 0) return;
  if (H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) < 0) fail("flush", "/");
  std::vector<char> image;
  if (in_memory_) {
    const ssize_t size = H5Fget_file_image(file_.get(), nullptr, 0);
    if (size < 0) fail("getting the file image", "/");
    image.resize(static_cast<std::size_t>(size));
    if (H5Fget_file_image(file_.get(), image.data(), image.size()) != size)
      fail("getting the file image", "/");
  }
  // Release ownership first so a failing close is not retried by the destructor.
  const hid_t id = file_.release();
  if (H5Fclose(id) < 0) {
    throw IoError(fmt::format("cannot close HDF5 file '{}': {}", path_.string(), hdf5_message()));
  }
  if (in_memory_) write_file_bytes(path_, image);
}

void H5File::fail(const std::string& what, const std::string& object) const {
  throw IoError(fmt::format("HDF5 {} of '{}' in '{}' failed: {}", what, object, path_.string(),
                            hdf5_message()));
}

bool H5File::exists(const std::string& object) const {
  if (object == "/" || object.empty()) return true;
  std::string prefix;
  for (const auto& part : split_path(object)) {
    prefix += "/" + part;
    const htri_t e = H5Lexists(file_.get(), prefix.c_str(), H5P_DEFAULT);
    if (e < 0) fail("existence check", prefix);
    if (e == 0) return false;
  }
  return true;
}

void H5File::ensure_group(const std::string& group) {
  std::string prefix;
  for (const auto& part : split_path(group)) {
    prefix += "/" + part;
    if (exists(prefix)) continue;
    H5Handle g(H5Gcreate2(file_.get(), prefix.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (g.get() < 0) fail("group creation", prefix);
  }
}

void H5File::ensure_parent(const std::string& object) {
  const auto slash = object.find_last_of('/');
  if (slash != std::string::npos && slash > 0) ensure_group(object.substr(0, slash));
}

std::vector<std::string> H5File::list(const std::string& group) const {
  std::vector<std::string> names;
  H5Handle g(H5Gopen2(file_.get(), group.c_str(), H5P_DEFAULT));
  if (g.get() < 0) fail("opening group", group);
  if (H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names) < 0) {
    fail("listing", group);
  }
  return names;
}

template <class T>
void H5File::write_numeric(const std::string& dataset, const std::vector<T>& values,
                           std::vector<hsize_t> dims, hid_t mem_type, hid_t file_type) {
  if (dims.empty()) dims = {static_cast<hsize_t>(values.size())};
  hsize_t count = 1;
  for (hsize_t d : dims) count *= d;
  FERSWEEP_ASSERT(count == values.size(), "dataset dims do not match the number of values");
  ensure_parent(dataset);
  H5Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  if (space.get() < 0) fail("dataspace creation", dataset);
  H5Handle props(H5Pcreate(H5P_DATASET_CREATE));
  // Large arrays are chunked and compressed; small ones stay contiguous (cheaper to read).
  if (count * sizeof(T) > (1u << 16) && !dims.empty()) {
    std::vector<hsize_t> chunk = dims;
    hsize_t row_elems = 1;
    for (std::size_t i = 1; i < chunk.size(); ++i) row_elems *= chunk[i];
    chunk[0] = std::max<hsize_t>(
        1, std::min<hsize_t>(dims[0], (1u << 18) / std::max<hsize_t>(1, row_elems * sizeof(T))));
    if (H5Pset_chunk(props.get(), static_cast<int>(chunk.size()), chunk.data()) < 0 ||
        H5Pset_deflate(props.get(), 1) < 0) {
      fail("setting compression", dataset);
    }
  }
  H5Handle ds(H5Dcreate2(file_.get(), dataset.c_str(), file_type, space.get(), H5P_DEFAULT,
                         props.get(), H5P_DEFAULT));
  if (ds.get() < 0) fail("dataset creation", dataset);
  if (count > 0 && H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) {
    fail("write", dataset);
  }
}

void H5File::write(const std::string& d, const std::vector<float>& v, std::vector<hsize_t> dims) {
  write_numeric(d, v, std::move(dims), H5T_NATIVE_FLOAT, H5T_IEEE_F32LE);
}
void H5File::write(const std::string& d, const std::vector<double>& v, std::vector<hsize_t> dims) {
  write_numeric(d, v, std::move(dims), H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE);
}
void H5File::write(const std::string& d, const std::vector<std::int16_t>& v,
                   std::vector<hsize_t> dims) {
  write_numeric(d, v, std::move(dims), H5T_NATIVE_INT16, H5T_STD_I16LE);
}
void H5File::write(const std::string& d, const std::vector<std::int32_t>& v,
                   std::vector<hsize_t> dims) {
  write_numeric(d, v, std::move(dims), H5T_NATIVE_INT32, H5T_STD_I32LE);
}
void H5File::write(const std::string& d, const std::vector<std::int64_t>& v,
                   std::vector<hsize_t> dims) {
  write_numeric(d, v, std::move(dims), H5T_NATIVE_INT64, H5T_STD_I64LE);
}
void H5File::write(const std::string& d, const std::vector<std::uint8_t>& v,
                   std::vector<hsize_t> dims) {
  write_numeric(d, v, std::move(dims), H5T_NATIVE_UINT8, H5T_STD_U8LE);
}

namespace {
H5Handle utf8_string_type() {
  H5Handle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  return type;
}
}  // namespace

void H5File::write_strings(const std::string& dataset, const std::vector<std::string>& values) {
  ensure_parent(dataset);
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const auto& v : values) pointers.push_back(v.c_str());
  const hsize_t n = values.size();
  H5Handle space(H5Screate_simple(1, &n, nullptr));
  H5Handle type = utf8_string_type();
  H5Handle ds(H5Dcreate2(file_.get(), dataset.c_str(), type.get(), space.get(), H5P_DEFAULT,
                         H5P_DEFAULT, H5P_DEFAULT));
  if (ds.get() < 0) fail("dataset creation", dataset);
  if (n > 0 && H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) < 0) {
    fail("write", dataset);
  }
}

void H5File::set_attribute(const std::string& object, const std::string& name,
                           const std::string& value) {
  H5Handle obj(H5Oopen(file_.get(), object.c_str(), H5P_DEFAULT));
  if (obj.get() < 0) fail("opening", object);
  if (H5Aexists(obj.get(), name.c_str()) > 0) H5Adelete(obj.get(), name.c_str());
  H5Handle type = utf8_string_type();
  H5Handle space(H5Screate(H5S_SCALAR));
  H5Handle attr(
      H5Acreate2(obj.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (attr.get() < 0) fail("attribute creation " + name, object);
  const char* p = value.c_str();
  if (H5Awrite(attr.get(), type.get(), &p) < 0) fail("attribute write " + name, object);
}

namespace {
template <class T>
void set_scalar_attribute(hid_t file, const std::string& object, const std::string& name, T value,
                          hid_t mem_type, hid_t file_type, std::string& error) {
  const hid_t obj = H5Oopen(file, object.c_str(), H5P_DEFAULT);
  if (obj < 0) {
    error = "opening";
    return;
  }
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  H5Handle space(H5Screate(H5S_SCALAR));
  H5Handle attr(H5Acreate2(obj, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (attr.get() < 0 || H5Awrite(attr.get(), mem_type, &value) < 0)
    error = "attribute write " + name;
  H5Oclose(obj);
}
}  // namespace

void H5File::set_attribute(const std::string& object, const std::string& name, double value) {
  std::string error;
  set_scalar_attribute(file_.get(), object, name, value, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, error);
  if (!error.empty()) fail(error, object);
}

void H5File::set_attribute(const std::string& object, const std::string& name, std::int64_t value) {
  std::string error;
  set_scalar_attribute(file_.get(), object, name, value, H5T_NATIVE_INT64, H5T_STD_I64LE, error);
  if (!error.empty()) fail(error, object);
}

namespace {
H5Class class_of(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return H5Class::integer;
    case H5T_FLOAT:
      return H5Class::floating;
    case H5T_STRING:
      return H5Class::string;
    default:
      return H5Class::other;
  }
}

herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* client) {
  static_cast<std::vector<std::string>*>(client)->push_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> H5File::attribute_names(const std::string& object) const {
  std::vector<std::string> names;
  hsize_t index = 0;
  if (H5Aiterate_by_name(file_.get(), object.c_str(), H5_INDEX_NAME, H5_ITER_INC, &index,
                         collect_attribute, &names, H5P_DEFAULT) < 0)
    fail("listing attributes", object);
  return names;
}

H5Class H5File::attribute_class(const std::string& object, const std::string& name) const {
  H5Handle attr(
      H5Aopen_by_name(file_.get(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
  if (attr.get() < 0) fail("opening attribute " + name, object);
  H5Handle type(H5Aget_type(attr.get()));
  if (type.get() < 0) fail("reading the type of attribute " + name, object);
  return class_of(type.get());
}

bool H5File::has_attribute(const std::string& object, const std::string& name) const {
  const htri_t e = H5Aexists_by_name(file_.get(), object.c_str(), name.c_str(), H5P_DEFAULT);
  if (e < 0) fail("attribute check " + name, object);
  return e > 0;
}

std::string H5File::string_attribute(const std::string& object, const std::string& name) const {
  H5Handle attr(
      H5Aopen_by_name(file_.get(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
  if (attr.get() < 0) fail("opening attribute " + name, object);
  H5Handle type = utf8_string_type();
  char* p = nullptr;
  if (H5Aread(attr.get(), type.get(), &p) < 0) fail("reading attribute " + name, object);
  std::string value = p ? p : "";
  H5free_memory(p);
  return value;
}

double H5File::double_attribute(const std::string& object, const std::string& name) const {
  H5Handle attr(
      H5Aopen_by_name(file_.get(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
  double v = 0;
  if (attr.get() < 0 || H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &v) < 0) {
    fail("reading attribute " + name, object);
  }
  return v;
}

std::int64_t H5File::int_attribute(const std::string& object, const std::string& name) const {
  H5Handle attr(
      H5Aopen_by_name(file_.get(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
  std::int64_t v = 0;
  if (attr.get() < 0 || H5Aread(attr.get(), H5T_NATIVE_INT64, &v) < 0) {
    fail("reading attribute " + name, object);
  }
  return v;
}

std::vector<hsize_t> H5File::dims(const std::string& dataset) const {
  H5Handle ds(H5Dopen2(file_.get(), dataset.c_str(), H5P_DEFAULT));
  if (ds.get() < 0) fail("opening dataset", dataset);
  H5Handle space(H5Dget_space(ds.get()));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail("reading shape", dataset);
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), d.data(), nullptr);
  return d;
}

H5Class H5File::dataset_class(const std::string& dataset) const {
  H5Handle ds(H5Dopen2(file_.get(), dataset.c_str(), H5P_DEFAULT));
  if (ds.get() < 0) fail("opening dataset", dataset);
  H5Handle type(H5Dget_type(ds.get()));
  if (type.get() < 0) fail("reading type", dataset);
  return class_of(type.get());
}

template <class T>
H5Array<T> H5File::read_numeric(const std::string& dataset, hid_t mem_type) const {
  H5Array<T> out;
  out.dims = dims(dataset);
  hsize_t count = 1;
  for (hsize_t d : out.dims) count *= d;
  out.values.resize(count);
  H5Handle ds(H5Dopen2(file_.get(), dataset.c_str(), H5P_DEFAULT));
  if (count > 0 &&
      H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()) < 0) {
    fail("read", dataset);
  }
  return out;
}

namespace {
// Gives `path` at least `bytes` of allocated disk blocks. HDF5 extends a file to its allocated end
// when it closes it; on a full disk that write fails, and HDF5 1.10 crashes at exit over the
// half-closed file. With the room reserved first its close only shrinks the file.
void reserve_file_space(const std::filesystem::path& path, std::uint64_t bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    throw IoError(fmt::format("cannot open '{}': {}", path.string(), std::strerror(errno)));
  int rc = 0;
  do {
    rc = ::fallocate(fd, 0, 0, static_cast<off_t>(bytes));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno == EOPNOTSUPP) {
    // No fallocate here (some network filesystems): a sparse extension still keeps HDF5's close
    // from growing the file; the blocks are claimed by the writes that follow, which report a
    // full disk themselves.
    struct stat st {};
    rc = ::fstat(fd, &st);
    if (rc == 0 && static_cast<std::uint64_t>(st.st_size) < bytes)
      rc = ::ftruncate(fd, static_cast<off_t>(bytes));
  }
  const int error = errno;
  ::close(fd);
  if (rc != 0)
    throw IoError(fmt::format("cannot write '{}': {}", path.string(), std::strerror(error)));
}
}  // namespace

std::uint64_t H5File::create_contiguous_f32(const std::string& dataset, hsize_t rows, hsize_t cols,
                                            std::uint64_t metadata_bytes) {
  FERSWEEP_ASSERT(!in_memory_, "a contiguous row store is written on disk");
  ensure_parent(dataset);
  // The values go at the end of what HDF5 has allocated so far; reserve that much and more.
  haddr_t eoa = 0;
  if (H5Fget_eoa(file_.get(), &eoa) < 0) fail("reading the end of allocation", dataset);
  reserve_file_space(path_,
                     static_cast<std::uint64_t>(eoa) + rows * cols * sizeof(float) + (1u << 20));
  const hsize_t dims[2] = {rows, cols};
  H5Handle space(H5Screate_simple(2, dims, nullptr));
  if (space.get() < 0) fail("dataspace creation", dataset);
  H5Handle props(H5Pcreate(H5P_DATASET_CREATE));
  if (props.get() < 0 || H5Pset_layout(props.get(), H5D_CONTIGUOUS) < 0 ||
      H5Pset_alloc_time(props.get(), H5D_ALLOC_TIME_EARLY) < 0 ||
      H5Pset_fill_time(props.get(), H5D_FILL_TIME_NEVER) < 0)
    fail("setting the layout", dataset);
  H5Handle ds(H5Dcreate2(file_.get(), dataset.c_str(), H5T_IEEE_F32LE, space.get(), H5P_DEFAULT,
                         props.get(), H5P_DEFAULT));
  if (ds.get() < 0) fail("dataset creation", dataset);
  const haddr_t offset = H5Dget_offset(ds.get());
  if (offset == HADDR_UNDEF) fail("allocation", dataset);
  return static_cast<std::uint64_t>(offset);
}

std::uint64_t H5File::flush_and_get_end() {
  if (H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) < 0) fail("flush", "/");
  haddr_t eoa = 0;
  if (H5Fget_eoa(file_.get(), &eoa) < 0) fail("reading the end of allocation", "/");
  return static_cast<std::uint64_t>(eoa);
}

std::int64_t H5File::contiguous_f32_offset(const std::string& dataset) const {
  H5Handle ds(H5Dopen2(file_.get(), dataset.c_str(), H5P_DEFAULT));
  if (ds.get() < 0) fail("opening dataset", dataset);
  H5Handle props(H5Dget_create_plist(ds.get()));
  H5Handle type(H5Dget_type(ds.get()));
  if (props.get() < 0 || type.get() < 0) fail("reading the layout", dataset);
  if (H5Pget_layout(props.get()) != H5D_CONTIGUOUS || H5Pget_external_count(props.get()) != 0 ||
      H5Tequal(type.get(), H5T_IEEE_F32LE) <= 0)
    return -1;
  const haddr_t offset = H5Dget_offset(ds.get());
  return offset == HADDR_UNDEF ? -1 : static_cast<std::int64_t>(offset);
}

H5Array<float> H5File::read_f32(const std::string& d) const {
  return read_numeric<float>(d, H5T_NATIVE_FLOAT);
}
H5Array<double> H5File::read_f64(const std::string& d) const {
  return read_numeric<double>(d, H5T_NATIVE_DOUBLE);
}
H5Array<std::int64_t> H5File::read_i64(const std::string& d) const {
  return read_numeric<std::int64_t>(d, H5T_NATIVE_INT64);
}

std::vector<std::string> H5File::read_strings(const std::string& dataset) const {
  H5Handle ds(H5Dopen2(file_.get(), dataset.c_str(), H5P_DEFAULT));
  if (ds.get() < 0) fail("opening dataset", dataset);
  const auto d = dims(dataset);
  if (d.size() != 1) fail("reading strings (not 1-D)", dataset);
  std::vector<char*> pointers(d[0], nullptr);
  H5Handle type = utf8_string_type();
  if (d[0] > 0 &&
      H5Dread(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) < 0) {
    fail("read", dataset);
  }
  std::vector<std::string> out;
  out.reserve(pointers.size());
  for (char* p : pointers) {
    out.emplace_back(p ? p : "");
    H5free_memory(p);
  }
  return out;
}

void write_file_bytes(const std::filesystem::path& path, const std::vector<char>& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw IoError(fmt::format("cannot create '{}': {}", path.string(), std::strerror(errno)));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      ::close(fd);
      throw IoError(fmt::format("cannot write '{}' ({} of {} bytes written): {}", path.string(),
                                done, bytes.size(), std::strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0)
    throw IoError(fmt::format("cannot write '{}': {}", path.string(), std::strerror(errno)));
}

void fsync_path(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    throw IoError(
        fmt::format("cannot open '{}' to sync it: {}", path.string(), std::strerror(errno)));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some filesystems refuse fsync on directories (EINVAL): that is not a data-loss risk we can fix.
  if (rc != 0 && err != EINVAL) {
    throw IoError(fmt::format("cannot sync '{}': {}", path.string(), std::strerror(err)));
  }
}

void commit_temp_file(const std::filesystem::path& temp, const std::filesystem::path& path) {
  fsync_path(temp);
  std::error_code ec;
  std::filesystem::rename(temp, path, ec);
  if (ec) {
    std::filesystem::remove(temp, ec);
    throw IoError(fmt::format("cannot move '{}' into place as '{}': {}", temp.string(),
                              path.string(), ec.message()));
  }
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  fsync_path(dir);
}

}  // namespace fersweep::store
