// Helpers shared by the data tests: scratch directories, image files, running a command.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

namespace fersweep::data::testing {

namespace fs = std::filesystem;

/// A fresh, empty scratch directory named after the running test.
inline fs::path scratch_dir(const std::string& suffix = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name =
      info ? std::string(info->test_suite_name()) + "." + info->name() : "suite";
  const fs::path dir = fs::path(FERSWEEP_TEST_TMP) / "data" / (name + suffix);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

/// Writes raw bytes to a file (creating its folder).
inline void write_bytes(const fs::path& file, const std::string& bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream os(file, std::ios::binary);
  os.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(os.good()) << file;
}

/// Reads a whole file.
inline std::string read_bytes(const fs::path& file) {
  std::ifstream is(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(is), {});
}

/// Encodes `img` (OpenCV channel order) with the extension of `file` and writes it.
inline void write_image(const fs::path& file, const cv::Mat& img) {
  std::vector<uchar> buf;
  std::string ext = file.extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  ASSERT_TRUE(cv::imencode(ext, img, buf)) << file;
  write_bytes(file, std::string(buf.begin(), buf.end()));
}

/// A deterministic colourful test picture (BGR) of the given size.
inline cv::Mat test_picture(int width, int height, int variant = 0) {
  cv::Mat img(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      img.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>((x * 7 + variant * 31) % 256),
                                          static_cast<uchar>((y * 5 + x * 3) % 256),
                                          static_cast<uchar>((x * y + variant * 17) % 251));
  return img;
}

/// Runs a shell command; returns its exit status and stdout.
inline int run_command(const std::string& command, std::string& output) {
  output.clear();
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Quotes a path for the shell.
inline std::string quoted(const fs::path& p) {
  std::string out = "'";
  for (char c : p.string()) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace fersweep::data::testing
