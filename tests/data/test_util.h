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

#include "common/test_support.h"

namespace fersweep::data::testing {

namespace fs = std::filesystem;

/// A fresh, empty scratch directory named after the running test.
inline fs::path scratch_dir(const std::string& suffix = "") {
  return test_support::scratch_dir("data", suffix);
}

/// Writes raw bytes to a file (creating its folder).
inline void write_bytes(const fs::path& file, const std::string& bytes) {
  test_support::write_file(file, bytes);
}

/// Reads a whole file.
inline std::string read_bytes(const fs::path& file) {
  return test_support::read_file(file);
}

using test_support::quoted;
using test_support::run_command;

/// Encodes `img` (OpenCV channel order) with the extension of `file` and writes it.
inline void write_image(const fs::path& file, const cv::Mat& img) {
  std::vector<uchar> buf;
  std::string ext = file.extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  ASSERT_TRUE(cv::imencode(ext, img, buf)) << file;
  write_bytes(file, std::string(buf.begin(), buf.end()));
}

/// The message of the `E` that `f` throws; "(no exception)", or the other exception's message
/// marked as such, otherwise.
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception: ") + e.what();
  }
  return "(no exception)";
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

}  // namespace fersweep::data::testing
