// Base64 against RFC 4648's test vectors and a binary round trip.
#include "core/base64.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace fersweep {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, coded] : vectors) {
    EXPECT_EQ(base64_encode(plain), coded);
    EXPECT_EQ(base64_decode(coded), plain);
  }
}

TEST(Base64, BinaryRoundTripAndBadInput) {
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes += static_cast<char>((i * 37) & 0xff);
  EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
  EXPECT_THROW(base64_decode("Zm9"), Error);
  EXPECT_THROW(base64_decode("Zm9*"), Error);
  EXPECT_THROW(base64_decode("Z=9v"), Error);
  EXPECT_THROW(base64_decode("Zg==Zg=="), Error);  // padding only at the very end
  EXPECT_THROW(base64_decode("Z==="), Error);
}

}  // namespace
}  // namespace fersweep
