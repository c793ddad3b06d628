// SHA-256 through OpenSSL's EVP interface (libcrypto picks SHA-NI or its assembly at run time).
#include "core/hash.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <fstream>
#include <vector>

#include "core/error.h"

namespace fersweep {

struct Sha256::Context {
  EVP_MD_CTX* md = nullptr;
  ~Context() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Context>()) {
  ctx_->md = EVP_MD_CTX_new();
  if (ctx_->md == nullptr || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1)
    throw InternalError("OpenSSL could not start a SHA-256 digest");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t size) {
  FERSWEEP_ASSERT(!finished_, "Sha256 updated after its digest was taken");
  if (size == 0) return;
  if (EVP_DigestUpdate(ctx_->md, data, size) != 1)
    throw InternalError("OpenSSL SHA-256 update failed");
}

std::array<std::uint8_t, 32> Sha256::digest() {
  FERSWEEP_ASSERT(!finished_, "Sha256 digest taken twice");
  std::array<std::uint8_t, 32> out{};
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx_->md, out.data(), &size) != 1 || size != out.size())
    throw InternalError("OpenSSL SHA-256 digest failed");
  finished_ = true;
  return out;
}

std::string Sha256::hex_digest() {
  std::string hex;
  hex.reserve(64);
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::uint8_t byte : digest()) {
    hex += kHex[byte >> 4];
    hex += kHex[byte & 0xf];
  }
  return hex;
}

std::string sha256_hex(std::string_view text) {
  Sha256 h;
  h.update(text);
  return h.hex_digest();
}

std::string sha256_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("cannot open file '{}' to hash it", path.string()));
  Sha256 h;
  std::vector<char> chunk(1 << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    h.update(chunk.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw IoError(fmt::format("error while reading '{}'", path.string()));
  return h.hex_digest();
}

}  // namespace fersweep
