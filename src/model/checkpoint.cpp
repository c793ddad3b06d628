// Weight files: format sniffing, LibTorch's zip reader for the archives and our strict pickle
// reader for their data.pkl, both for torch.save state dicts (torch::pickle_load rejects
// OrderedDicts) and TorchScript archives (torch::jit::load compiles the archive's code and
// crashes on damaged files; the weights need only data.pkl and the storages).
#include "model/checkpoint.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>

#include "core/error.h"
#include "model/state_pickle.h"

namespace fersweep::model {
namespace {

namespace fs = std::filesystem;

std::string quoted(const fs::path& p) {
  return fmt::format("'{}'", p.string());
}

/// The first bytes of the file, to tell a zip from a legacy pickle or anything else.
std::string head_bytes(const fs::path& path, std::size_t n) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError(fmt::format("cannot open weights file {}", quoted(path)));
  std::string buf(n, '\0');
  in.read(buf.data(), static_cast<std::streamsize>(n));
  buf.resize(static_cast<std::size_t>(in.gcount()));
  return buf;
}

/// The tensors of a torch.save archive (`script` false) or a TorchScript archive (true): both keep
/// the pickle in data.pkl and each storage in data/<key>.
StateDict read_pickled_state(caffe2::serialize::PyTorchStreamReader& zip, const std::string& name,
                             bool script) {
  if (zip.hasRecord("byteorder")) {
    auto [ptr, size] = zip.getRecord("byteorder");
    const std::string order(static_cast<const char*>(ptr.get()), size);
    if (order != "little")
      throw ModelError(
          fmt::format("{}: tensors are stored {}-endian; only little-endian files "
                      "are supported",
                      name, order));
  }
  auto [pkl, pkl_size] = zip.getRecord("data.pkl");
  const std::string_view pickle(static_cast<const char*>(pkl.get()), pkl_size);
  auto load_storage = [&](const std::string& key) {
    const std::string record = "data/" + key;
    if (!zip.hasRecord(record))
      throw ModelError(
          fmt::format("{}: storage record {} is missing from the archive", name, record));
    auto data = with_context<ModelError>(fmt::format("{}: reading record {}", name, record),
                                         [&] { return zip.getRecord(record); });
    const auto bytes = static_cast<std::int64_t>(std::get<1>(data));
    // The tensor takes ownership of the record's buffer: no copy of the weights.
    auto owner = std::make_shared<at::DataPtr>(std::move(std::get<0>(data)));
    void* raw = owner->get();
    if (bytes == 0) return at::empty({0}, at::kByte);
    return at::from_blob(
        raw, {bytes}, [owner](void*) mutable { owner.reset(); }, at::TensorOptions(at::kByte));
  };
  return script ? detail::unpickle_script_module(pickle, name, load_storage)
                : detail::unpickle_state_dict(pickle, name, load_storage);
}

/// A zip archive in memory; reads past the end return fewer bytes (as a file would), never
/// touch memory outside the buffer.
class BoundedMemoryAdapter final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BoundedMemoryAdapter(std::string_view bytes) : bytes_(bytes) {}
  std::size_t size() const override { return bytes_.size(); }
  std::size_t read(std::uint64_t pos, void* buf, std::size_t n, const char*) const override {
    // miniz reads an empty record into a null buffer: memcpy must not see it, even for 0 bytes.
    if (pos >= bytes_.size() || n == 0 || buf == nullptr) return 0;
    n = std::min<std::size_t>(n, bytes_.size() - pos);
    std::memcpy(buf, bytes_.data() + pos, n);
    return n;
  }

 private:
  std::string_view bytes_;
};

/// Format checks and reading shared by files and buffers: `head` is the first bytes,
/// `open_zip` opens the archive.
StateDict read_archive(
    const std::string& head, const std::string& name,
    const std::function<std::unique_ptr<caffe2::serialize::PyTorchStreamReader>()>& open_zip) {
  if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x80 &&
      static_cast<unsigned char>(head[1]) <= 5)
    throw ModelError(fmt::format(
        "{} is in the legacy (pre-1.6) torch.save format, which fersweep does not read; "
        "re-save it with torch.save(torch.load(path), path) in PyTorch >= 1.6",
        name));
  if (head.compare(0, 4, std::string("PK\x03\x04", 4)) != 0)
    throw ModelError(
        fmt::format("{} is not a PyTorch weights file (not a zip archive; expected torch.save or "
                    "torch.jit.save output)",
                    name));

  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  try {
    zip = open_zip();
  } catch (...) {
    rethrow_with_context<ModelError>(
        fmt::format("{} is not a readable PyTorch zip archive (truncated or corrupt?)", name));
  }
  try {
    const bool script = zip->hasRecord("constants.pkl");
    if (!zip->hasRecord("data.pkl"))
      throw ModelError(fmt::format("{} is a zip archive without data.pkl: not a {} file", name,
                                   script ? "torch.jit.save" : "torch.save"));
    return read_pickled_state(*zip, name, script);
  } catch (const Error&) {
    throw;
  } catch (...) {
    rethrow_with_context<ModelError>(fmt::format("reading weights file {}", name));
  }
}

}  // namespace

StateDict read_checkpoint(const fs::path& path) {
  const std::string name = quoted(path);
  std::error_code ec;
  if (!fs::exists(path, ec)) throw ModelError(fmt::format("weights file {} does not exist", name));
  if (fs::is_directory(path, ec))
    throw ModelError(fmt::format("weights file {} is a directory", name));
  const auto size = fs::file_size(path, ec);
  if (ec) throw ModelError(fmt::format("cannot read weights file {}: {}", name, ec.message()));
  if (size == 0) throw ModelError(fmt::format("weights file {} is empty (0 bytes)", name));
  return read_archive(head_bytes(path, 4), name, [&] {
    return std::make_unique<caffe2::serialize::PyTorchStreamReader>(path.string());
  });
}

StateDict read_checkpoint_bytes(std::string_view bytes, const std::string& label) {
  const std::string name = fmt::format("'{}'", label);
  if (bytes.empty()) throw ModelError(fmt::format("weights file {} is empty (0 bytes)", name));
  return read_archive(std::string(bytes.substr(0, 4)), name, [&] {
    return std::make_unique<caffe2::serialize::PyTorchStreamReader>(
        std::make_shared<BoundedMemoryAdapter>(bytes));
  });
}

at::Tensor find_tensor(const StateDict& state, const std::string& key) {
  for (const auto& [k, t] : state)
    if (k == key) return t;
  return {};
}

}  // namespace fersweep::model
