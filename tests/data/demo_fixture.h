// The demo dataset shared by the demo tests: written once by the real `fersweep make-demo-data`
// (seed 11) and reused by every test process, plus a reader for its box CSV.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <opencv2/core.hpp>

#include "data/demo.h"
#include "test_util.h"

namespace fersweep::data::testing {

struct Box {
  std::string path;
  std::string label;
  cv::Rect rect;
};

inline std::vector<Box> read_boxes(const fs::path& csv) {
  std::ifstream is(csv);
  std::string line;
  std::getline(is, line);
  EXPECT_EQ(line, "path,class,x,y,w,h");
  std::vector<Box> boxes;
  while (std::getline(is, line)) {
    std::istringstream ls(line);
    Box b;
    std::string field;
    std::getline(ls, b.path, ',');
    std::getline(ls, b.label, ',');
    int v[4];
    for (int& x : v) {
      std::getline(ls, field, ',');
      x = std::stoi(field);
    }
    b.rect = cv::Rect(v[0], v[1], v[2], v[3]);
    boxes.push_back(b);
  }
  return boxes;
}

// ctest runs every test case in its own process, so the dataset written by the real
// `fersweep make-demo-data` is shared between them: it lives in a folder named after the
// executable's size and mtime (a rebuilt fersweep gets a new one), is written to a private
// temporary folder and renamed into place, so concurrent test processes never see half of it.
class Demo : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path exe = FERSWEEP_EXE_PATH;
    const auto stamp = fs::last_write_time(exe).time_since_epoch().count();
    const fs::path parent = fs::path(FERSWEEP_TEST_TMP) / "data";
    const std::string prefix = "demo seed 11 ";
    dir_ = parent / (prefix + std::to_string(fs::file_size(exe)) + "_" +
                     std::to_string(stamp < 0 ? -stamp : stamp));
    if (fs::exists(dir_ / kDemoBoxesFile)) return;
    // The suite's first tests start at once under ctest -j2: one makes the dataset, the others
    // wait for it.
    const test_support::ScopedFileLock lock(dir_.string() + ".lock");
    if (fs::exists(dir_ / kDemoBoxesFile)) return;
    const fs::path tmp = dir_.string() + ".tmp" + std::to_string(getpid());
    fs::remove_all(tmp);
    std::string out;
    const auto start = std::chrono::steady_clock::now();
    const std::string cmd =
        std::string(FERSWEEP_EXE_PATH) + " make-demo-data " + quoted(tmp) + " --seed 11 2>&1";
    ASSERT_EQ(run_command(cmd, out), 0) << out;
    std::cout << "make-demo-data: "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
              << " s wall\n";
    std::error_code ec;
    fs::rename(tmp, dir_, ec);  // fails harmlessly when another process got there first
    if (ec) fs::remove_all(tmp);
    ASSERT_TRUE(fs::exists(dir_ / kDemoBoxesFile)) << dir_;
    // Datasets of earlier builds are stale: remove them (temporary folders of running tests stay).
    for (const auto& e : fs::directory_iterator(parent)) {
      const std::string name = e.path().filename().string();
      if (name.rfind(prefix, 0) == 0 && e.path() != dir_ &&
          name.find(".tmp") == std::string::npos && name.find(".lock") == std::string::npos)
        fs::remove_all(e.path(), ec);
    }
  }
  static inline fs::path dir_;
};

}  // namespace fersweep::data::testing
