// Box CSV files: columns found by the header, and every malformed line named by file:line.
#include <gtest/gtest.h>

#include "core/error.h"
#include "faces/boxes.h"
#include "faces_test_util.h"

namespace fersweep::faces {
namespace {
using namespace testing;

// A two-class dataset of four small images (one outside the scanned classes).
data::Manifest small_dataset(const fs::path& dir) {
  write_rgb(dir / "Angry/a0.png", blank_picture(64, 48, 0));
  write_rgb(dir / "Angry/a1.png", blank_picture(64, 48, 1));
  write_rgb(dir / "Happy/h0.png", blank_picture(64, 48, 2));
  write_rgb(dir / "Other/o0.png", blank_picture(64, 48, 3));
  data::ScanOptions opts;
  opts.classes = {"Angry", "Happy"};
  return data::scan_dataset(dir, opts);
}

std::string box_error(const fs::path& csv, const data::Manifest& m) {
  try {
    read_box_table(csv, m);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(BoxTable, ReadsColumnsByHeader) {
  const fs::path dir = scratch_dir();
  const data::Manifest m = small_dataset(dir);
  // Columns in another order, an extra column, a quoted path, CRLF, a blank line, a box for an
  // image of a class folder that is not scanned (ignored).
  write_text(
      dir / "b.csv",
      "h,w,y,x,path,note\r\n10,12,3,4,Angry/a1.png,ok\r\n\r\n5,6,1,2,\"Happy/h0.png\",\"a, b\"\n"
      "7,7,0,0,Other/o0.png,x\n");
  const BoxTable t = read_box_table(dir / "b.csv", m);
  ASSERT_EQ(t.boxes.size(), 3u);
  EXPECT_EQ(t.listed, 2u);
  EXPECT_FALSE(t.boxes[0]);
  ASSERT_TRUE(t.boxes[1]);
  EXPECT_EQ(t.boxes[1]->rect, cv::Rect(4, 3, 12, 10));
  EXPECT_EQ(t.boxes[1]->line, 2);
  ASSERT_TRUE(t.boxes[2]);
  EXPECT_EQ(t.boxes[2]->rect, cv::Rect(2, 1, 6, 5));
  EXPECT_EQ(t.where(*t.boxes[2]), (dir / "b.csv").string() + ":4");
}

TEST(BoxTable, ErrorsNameFileAndLine) {
  const fs::path dir = scratch_dir();
  const data::Manifest m = small_dataset(dir);
  const std::string f = (dir / "b.csv").string();
  auto check = [&](const std::string& text, const std::string& expected) {
    write_text(dir / "b.csv", text);
    EXPECT_EQ(box_error(dir / "b.csv", m), expected) << text;
  };
  const std::string header = "path,class,x,y,w,h\n";
  check(header + "Angry/a0.png,Angry,1,2,3,4\nAngry/missing.png,Angry,1,2,3,4\n",
        f + ":3: no image Angry/missing.png under the dataset root " + dir.string());
  check(header + "Angry/a0.png,Angry,1,2,3\n",
        f + ":2: expected 6 comma-separated fields, found 5");
  check(header + "Angry/a0.png,Angry,1,2,3,4x\n",
        f + ":2: h is '4x', not a whole number of pixels");
  check(header + "Angry/a0.png,Angry,1.5,2,3,4\n",
        f + ":2: x is '1.5', not a whole number of pixels");
  check(header + "Angry/a0.png,Angry,-1,2,3,4\n",
        f + ":2: the box starts at negative coordinates (-1, 2)");
  check(header + "Angry/a0.png,Angry,1,2,0,4\n", f + ":2: the box is empty (0x4)");
  check(header + "Angry/a0.png,Angry,1,2,3,4\n\nAngry/a0.png,Angry,1,2,3,4\n",
        f + ":4: Angry/a0.png already has a box on line 2");
  check("path,class,x,y,width,height\n",
        f + ":1: the header lacks column(s) w, h (expected a header such as path,class,x,y,w,h)");
  check("", "boxes file " + f +
                ": empty (expected a header such as path,class,x,y,w,h and one "
                "line per image)");
  EXPECT_EQ(box_error(dir / "none.csv", m),
            "boxes file " + (dir / "none.csv").string() + ": cannot be read");
}

TEST(BoxTable, IntersectionOverUnion) {
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {0, 0, 10, 10}), 1.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {5, 0, 10, 10}), 50.0 / 150.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {20, 20, 5, 5}), 0.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 0, 10}, {0, 0, 10, 10}), 0.0);
}

}  // namespace
}  // namespace fersweep::faces
