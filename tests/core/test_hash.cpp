// SHA-256 against the FIPS 180-4 example vectors and sha256sum.
#include "core/hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"

namespace fersweep {
namespace {

TEST(Sha256, FipsExampleVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, MillionAsInChunksEqualsOneShot) {
  Sha256 h;
  const std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(chunk);
  EXPECT_EQ(h.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, FileMatchesSha256sum) {
  const std::string path = std::string(FERSWEEP_TEST_TMP) + "/hash_probe.bin";
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 300000; ++i) out.put(static_cast<char>((i * 7919) & 0xff));
  }
  std::string expected;
  FILE* p = popen(("sha256sum '" + path + "'").c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[65] = {};
  ASSERT_EQ(fread(buf, 1, 64, p), 64u);
  pclose(p);
  EXPECT_EQ(sha256_file(path), std::string(buf, 64));
}

// Lengths 0..200 cover every padding case (the length field in the same block or the next); each
// is fed whole and in odd-sized pieces and compared with Python's hashlib.
TEST(Sha256, EveryLengthAndSplitMatchesHashlib) {
  const std::string cmd =
      std::string(FERSWEEP_PYTHON) +
      " -c \"import hashlib\nfor n in range(201): "
      "print(hashlib.sha256(bytes((i * 131 + 7) % 256 for i in range(n))).hexdigest())\"";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  for (int n = 0; n <= 200; ++n) {
    char line[80] = {};
    ASSERT_NE(fgets(line, sizeof line, p), nullptr) << "hashlib printed too few lines";
    const std::string expected(line, 64);
    std::string data;
    for (int i = 0; i < n; ++i) data.push_back(static_cast<char>((i * 131 + 7) % 256));
    EXPECT_EQ(sha256_hex(data), expected) << n << " bytes";
    for (std::size_t piece : {1u, 3u, 63u, 65u}) {
      Sha256 h;
      for (std::size_t at = 0; at < data.size(); at += piece)
        h.update(std::string_view(data).substr(at, piece));
      EXPECT_EQ(h.hex_digest(), expected) << n << " bytes in pieces of " << piece;
    }
  }
  pclose(p);
}

TEST(Sha256, MissingFileNamesThePath) {
  try {
    sha256_file("/nonexistent/weights.pth");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/weights.pth"), std::string::npos);
  }
}

}  // namespace
}  // namespace fersweep
