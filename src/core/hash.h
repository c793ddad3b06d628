// SHA-256 (weights files, dataset fingerprints, task ids, journal checksums) written from
// FIPS 180-4.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace fersweep {

/// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  /// Feeds more bytes.
  void update(const void* data, std::size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  /// Finishes and returns the 32-byte digest; the object must not be updated afterwards.
  std::array<std::uint8_t, 32> digest();
  /// Finishes and returns the digest as 64 lowercase hex characters.
  std::string hex_digest();

 private:
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
  bool finished_ = false;
};

namespace detail {
/// SHA-256's compression of `n` 64-byte blocks into `state`, two ways: the CPU's SHA extensions
/// (x86 SHA-NI; Sha256 uses them when present) and portable C++. Exposed for tests and benchmarks.
bool sha256_hardware_available();
void sha256_hardware(std::uint32_t* state, const std::uint8_t* blocks, std::size_t n);
void sha256_portable(std::uint32_t* state, const std::uint8_t* blocks, std::size_t n);
}  // namespace detail

/// SHA-256 of a string, as hex.
std::string sha256_hex(std::string_view text);
/// SHA-256 of a file's contents, as hex; IoError naming the path when it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

}  // namespace fersweep
