// Message encoding. Integers are native-endian: every rank of one job runs the same build.
#include "comm/wire.h"

#include <fmt/format.h>

#include "core/error.h"

namespace fersweep::comm {
namespace {
constexpr char kMagic[4] = {'F', 'S', 'W', 'P'};
}

WireWriter::WireWriter(std::uint16_t type) {
  buffer_.append(kMagic, 4);
  raw(&kWireVersion, sizeof kWireVersion);
  raw(&type, sizeof type);
}

WireWriter& WireWriter::raw(const void* p, std::size_t n) {
  buffer_.append(static_cast<const char*>(p), n);
  return *this;
}

WireWriter& WireWriter::str(std::string_view s) {
  u64(s.size());
  return raw(s.data(), s.size());
}

WireWriter& WireWriter::floats(const float* data, std::size_t count) {
  u64(count);
  return raw(data, count * sizeof(float));
}

WireReader::WireReader(std::string_view bytes, int sender) : bytes_(bytes), sender_(sender) {
  if (bytes_.size() < 8 || std::memcmp(bytes_.data(), kMagic, 4) != 0) {
    throw CommError(fmt::format("malformed message from rank {} ({} bytes, no fersweep header)",
                                sender_, bytes_.size()));
  }
  pos_ = 4;
  std::uint16_t version = 0;
  take(&version, sizeof version);
  if (version != kWireVersion) {
    throw CommError(
        fmt::format("rank {} speaks message format {}, this rank speaks {}: run the same fersweep "
                    "build on every rank",
                    sender_, version, kWireVersion));
  }
  take(&type_, sizeof type_);
}

void WireReader::take(void* out, std::size_t n) {
  if (bytes_.size() - pos_ < n) {
    throw CommError(fmt::format(
        "truncated message from rank {} (needed {} more bytes at offset {})", sender_, n, pos_));
  }
  std::memcpy(out, bytes_.data() + pos_, n);
  pos_ += n;
}

std::uint64_t WireReader::u64() {
  std::uint64_t v;
  take(&v, sizeof v);
  return v;
}
std::int64_t WireReader::i64() {
  std::int64_t v;
  take(&v, sizeof v);
  return v;
}
double WireReader::f64() {
  double v;
  take(&v, sizeof v);
  return v;
}

std::string WireReader::str() {
  const std::uint64_t n = u64();
  if (n > bytes_.size() - pos_) {
    throw CommError(fmt::format("truncated message from rank {} (string of {} bytes)", sender_, n));
  }
  std::string s(bytes_.data() + pos_, n);
  pos_ += n;
  return s;
}

std::vector<float> WireReader::floats() {
  const std::uint64_t n = u64();
  if (n > (bytes_.size() - pos_) / sizeof(float)) {
    throw CommError(fmt::format("truncated message from rank {} (array of {} floats)", sender_, n));
  }
  std::vector<float> v(n);
  take(v.data(), n * sizeof(float));
  return v;
}

}  // namespace fersweep::comm
