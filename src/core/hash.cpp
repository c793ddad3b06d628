// SHA-256 through OpenSSL's EVP interface (libcrypto picks SHA-NI or its assembly at run time).
#include "core/hash.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <fstream>
#include <vector>

#include "core/error.h"

namespace fersweep {
namespace {

// The implementation, fetched once: with EVP_sha256() OpenSSL 3 looks it up again on every
// digest. That lookup and a context allocation per message halved the throughput on 300-byte
// journal records (bench_core_sha256 here: 663 MB/s, 1,299 MB/s with both avoided; hashlib 734).
const EVP_MD* sha256_md() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) throw InternalError("OpenSSL has no SHA-256 implementation");
    return fetched;
  }();
  return md;
}

struct ContextFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using ContextPtr = std::unique_ptr<EVP_MD_CTX, ContextFree>;

void start(EVP_MD_CTX* ctx) {
  if (ctx == nullptr || EVP_DigestInit_ex2(ctx, sha256_md(), nullptr) != 1)
    throw InternalError("OpenSSL could not start a SHA-256 digest");
}

std::string to_hex(const std::array<std::uint8_t, 32>& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return hex;
}

}  // namespace

struct Sha256::Context {
  ContextPtr md{EVP_MD_CTX_new()};
};

Sha256::Sha256() : ctx_(std::make_unique<Context>()) {
  start(ctx_->md.get());
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t size) {
  FERSWEEP_ASSERT(!finished_, "Sha256 updated after its digest was taken");
  if (size == 0) return;
  if (EVP_DigestUpdate(ctx_->md.get(), data, size) != 1)
    throw InternalError("OpenSSL SHA-256 update failed");
}

std::array<std::uint8_t, 32> Sha256::digest() {
  FERSWEEP_ASSERT(!finished_, "Sha256 digest taken twice");
  std::array<std::uint8_t, 32> out{};
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx_->md.get(), out.data(), &size) != 1 || size != out.size())
    throw InternalError("OpenSSL SHA-256 digest failed");
  finished_ = true;
  return out;
}

std::string Sha256::hex_digest() {
  return to_hex(digest());
}

std::string sha256_hex(std::string_view text) {
  // One context per thread, reset for each message: task ids and journal checksums hash short
  // texts by the thousand, and a context allocation costs as much as hashing 300 bytes.
  thread_local ContextPtr ctx{EVP_MD_CTX_new()};
  start(ctx.get());
  std::array<std::uint8_t, 32> digest{};
  unsigned int size = 0;
  if (EVP_DigestUpdate(ctx.get(), text.data(), text.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest.data(), &size) != 1 || size != digest.size())
    throw InternalError("OpenSSL SHA-256 digest failed");
  return to_hex(digest);
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
