// SHA-256 (weights files, dataset fingerprints, task ids, journal checksums), computed by
// OpenSSL's libcrypto: audited, and it takes the CPU's SHA extensions (SHA-NI) when present.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace fersweep {

/// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  /// Feeds more bytes.
  void update(const void* data, std::size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  /// Finishes and returns the 32-byte digest; the object must not be updated afterwards.
  std::array<std::uint8_t, 32> digest();
  /// Finishes and returns the digest as 64 lowercase hex characters.
  std::string hex_digest();

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
  bool finished_ = false;
};

/// SHA-256 of a string, as hex.
std::string sha256_hex(std::string_view text);
/// SHA-256 of a file's contents, as hex; IoError naming the path when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace fersweep
