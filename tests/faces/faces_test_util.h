// Helpers shared by the faces tests: scratch folders, the demo dataset and its default crop
// (generated once per test binary build and shared by every test process), small datasets.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/test_support.h"
#include "data/dataset.h"
#include "data/demo.h"
#include "faces/config.h"
#include "faces/crop.h"

namespace fersweep::faces::testing {

namespace fs = std::filesystem;

/// A face variant's config from settings given as JSON (only the keys that differ from the
/// defaults), read the way a crop task reads its parameters.
inline CropConfig crop_config(const nlohmann::json& settings, const std::filesystem::path& base) {
  return resolve_crop_config(settings.get<CropSettings>(), base);
}

/// A fresh, empty scratch directory named after the running test.
inline fs::path scratch_dir(const std::string& suffix = "") {
  return test_support::scratch_dir("faces", suffix);
}

inline void write_text(const fs::path& file, const std::string& text) {
  test_support::write_file(file, text);
}

inline std::string read_text(const fs::path& file) {
  return test_support::read_file(file);
}

using test_support::quoted;
/// Runs a shell command; returns its exit status and its stdout and stderr together.
inline int run_command(const std::string& command, std::string& output) {
  return test_support::run_command(command, output, /*with_stderr=*/true);
}

/// Writes an RGB image (converted to OpenCV's BGR order) with the extension's format.
inline void write_rgb(const fs::path& file, const cv::Mat& rgb) {
  fs::create_directories(file.parent_path());
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  ASSERT_TRUE(cv::imwrite(file.string(), bgr)) << file;
}

/// A smooth gradient with no face in it.
inline cv::Mat blank_picture(int width, int height, int variant) {
  cv::Mat img(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      img.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(60 + x * 100 / width + variant * 20),
                                          static_cast<uchar>(80 + y * 80 / height),
                                          static_cast<uchar>(120 + variant * 10));
  return img;
}

/// A stamp of this test binary (size and mtime): cached outputs are only reused by the build
/// that made them, so a code change never passes on stale results.
inline std::string build_stamp() {
  struct stat st {};
  if (::stat("/proc/self/exe", &st) != 0) return "nostamp";
  return std::to_string(st.st_size) + "-" + std::to_string(st.st_mtime);
}

/// Makes `dir` with `make(tmp)` unless it exists; `make` writes into a private temporary folder
/// that is renamed into place, so concurrent test processes never see half a folder, and under a
/// lock, so they wait for one another instead of making it twice.
template <class Make>
void ensure_dir(const fs::path& dir, Make&& make) {
  if (fs::exists(dir)) return;
  const test_support::ScopedFileLock lock(dir.string() + ".lock");
  if (fs::exists(dir)) return;
  const fs::path tmp = dir.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp);
  make(tmp);
  std::error_code ec;
  fs::rename(tmp, dir, ec);
  if (ec) fs::remove_all(tmp);  // another process was faster; its folder is the same
}

/// The demo dataset (seed 11), generated once per build of the test binary.
inline const fs::path& demo_dir() {
  static const fs::path dir = [] {
    const fs::path base = fs::path(FERSWEEP_TEST_TMP) / "faces" / "shared";
    const std::string name = "demo-11-" + build_stamp();
    const fs::path d = base / name;
    fs::create_directories(base);
    if (!fs::exists(d)) {
      // Outputs of earlier builds are stale: remove them (not this build's, nor its temporaries).
      for (const auto& e : fs::directory_iterator(base)) {
        const std::string other = e.path().filename().string();
        std::error_code ec;
        if (other.rfind("demo-11-", 0) == 0 && other.rfind(name, 0) != 0)
          fs::remove_all(e.path(), ec);
      }
    }
    ensure_dir(d, [](const fs::path& tmp) { data::make_demo_dataset(tmp, 11, 2); });
    return d;
  }();
  return dir;
}

/// The demo dataset cropped with the default settings (written by write_cropped_dataset).
inline const fs::path& demo_haar_dir() {
  static const fs::path dir = [] {
    const fs::path d = demo_dir().string() + "-haar";
    ensure_dir(d, [](const fs::path& tmp) {
      const data::Manifest m = data::scan_dataset(demo_dir());
      const CropConfig config = crop_config(nlohmann::json::object(), ".");
      write_cropped_dataset(m, crop_faces(m, config, 2), tmp, 2);
    });
    return d;
  }();
  return dir;
}

/// Reads a JSON file.
inline nlohmann::json read_json(const fs::path& file) {
  return nlohmann::json::parse(read_text(file));
}

}  // namespace fersweep::faces::testing
