// The demo dataset: written by the real `fersweep make-demo-data`, SFEW's class counts, the box
// CSV, byte-identical output for a seed, refusal of a foreign directory.
#include <gtest/gtest.h>

#include <map>

#include "core/error.h"
#include "data/dataset.h"
#include "data/demo.h"
#include "demo_fixture.h"
#include "test_util.h"

namespace fersweep::data {
namespace {
using namespace testing;

TEST_F(Demo, SfewClassCountsAndBoxes) {
  const Manifest m = scan_dataset(dir_);
  EXPECT_EQ(m.classes, sfew_classes());
  EXPECT_EQ(m.class_counts(), (std::vector<std::size_t>{100, 75, 100, 100, 100, 100, 100}));
  EXPECT_EQ(m.ignored_files, 0u);
  const auto boxes = read_boxes(dir_ / kDemoBoxesFile);
  ASSERT_EQ(boxes.size(), 675u);
  std::map<std::string, int> per_class;
  for (const auto& b : boxes) {
    ++per_class[b.label];
    EXPECT_EQ(b.path.substr(0, b.label.size() + 1), b.label + "/");
    const cv::Mat img = read_rgb(dir_ / b.path);
    EXPECT_EQ(img.size(), cv::Size(384, 288));
    EXPECT_EQ(b.rect & cv::Rect(0, 0, img.cols, img.rows), b.rect) << b.path;
    EXPECT_GE(b.rect.width, 40) << b.path;
  }
  EXPECT_EQ(per_class["Disgust"], 75);
  EXPECT_EQ(per_class["Happy"], 100);
}

TEST_F(Demo, ByteIdenticalForASeed) {
  // The CLI run (another process) against an in-process run with the same seed.
  const fs::path again = scratch_dir() / "again";
  make_demo_dataset(again, 11, 2);
  std::size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir_)) {
    if (!e.is_regular_file()) continue;
    const fs::path rel = fs::relative(e.path(), dir_);
    ASSERT_TRUE(fs::exists(again / rel)) << rel;
    ASSERT_EQ(read_bytes(e.path()), read_bytes(again / rel)) << rel;
    ++files;
  }
  EXPECT_EQ(files, 676u);
  // Another seed gives other pictures and boxes.
  for (int c = 0; c < 7; ++c) {
    const DemoImage a = render_demo_image(11, c, 3), b = render_demo_image(12, c, 3);
    EXPECT_GT(cv::norm(a.bgr, b.bgr, cv::NORM_L1), 0) << c;
    EXPECT_NE(a.face_box, b.face_box) << c;
  }
}

TEST_F(Demo, RefusesAForeignNonEmptyDirectory) {
  const fs::path dir = scratch_dir();
  write_bytes(dir / "thesis.tex", "precious");
  try {
    make_demo_dataset(dir, 0);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "demo dataset: " + dir.string() +
                                         " is not empty and holds no face_boxes.csv (not a demo "
                                         "dataset); choose an empty or new directory");
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

}  // namespace
}  // namespace fersweep::data
