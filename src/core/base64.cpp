// Base64 through OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock, with the strictness they lack: the
// decoder accepts '=' anywhere and counts padding as decoded bytes, so padding is checked here.
#include "core/base64.h"

#include <openssl/evp.h>

#include "core/error.h"

namespace fersweep {

std::string base64_encode(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');  // + the NUL EVP_EncodeBlock writes
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) throw Error("base64 text length is not a multiple of 4");
  std::size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  if (const auto at = text.find('='); at != std::string_view::npos && at < text.size() - pad)
    throw Error("invalid base64 character at offset " + std::to_string(at));
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size())
    throw Error("invalid base64 text: a character outside the alphabet");
  out.resize(out.size() - pad);
  return out;
}

}  // namespace fersweep
