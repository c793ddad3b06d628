// Crop geometry (apply_crop against hand-computed pixels), every fallback policy, face selection,
// alignment direction, writing the cropped dataset, and bad box files through crop_faces.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "faces/boxes.h"
#include "faces/detect.h"
#include "faces/qc.h"
#include "faces_test_util.h"

namespace fersweep::faces {
namespace {
using namespace testing;
using nlohmann::json;

// Pixel (x, y) holds (x, y, x + y) (mod 256): a crop's pixels say where they came from.
cv::Mat coordinate_image(int width, int height) {
  cv::Mat img(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      img.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uchar>(x), static_cast<uchar>(y), static_cast<uchar>(x + y));
  return img;
}

TEST(ApplyCrop, CutsRotatesAndClips) {
  const cv::Mat img = coordinate_image(64, 48);
  const cv::Mat a = apply_crop(img, {15, 12, 10, 8, 0});
  ASSERT_EQ(a.size(), cv::Size(10, 8));
  EXPECT_EQ(a.at<cv::Vec3b>(0, 0), cv::Vec3b(10, 8, 18));
  EXPECT_EQ(a.at<cv::Vec3b>(7, 9), cv::Vec3b(19, 15, 34));
  // Clipped at the border.
  const cv::Mat b = apply_crop(img, {2, 2, 10, 10, 0});
  ASSERT_EQ(b.size(), cv::Size(7, 7));
  EXPECT_EQ(b.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
  // 90 degrees: the crop's x axis points down the image, its y axis to the left, so output
  // pixel (u, v) comes from image pixel (cx + h/2 - v, cy - w/2 + u).
  const cv::Mat c = apply_crop(img, {20, 15, 10, 6, 90});
  ASSERT_EQ(c.size(), cv::Size(10, 6));
  for (int v = 0; v < 6; ++v)
    for (int u = 0; u < 10; ++u) {
      const int x = 20 + 3 - v, y = 15 - 5 + u;
      EXPECT_EQ(c.at<cv::Vec3b>(v, u), img.at<cv::Vec3b>(y, x)) << u << "," << v;
    }
  try {
    apply_crop(img, {200, 200, 10, 10, 0});
    FAIL();
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "crop (195, 195, 10x10) does not overlap the 64x48 image");
  }
}

TEST(ApplyCrop, JsonRoundTripAndErrors) {
  const Crop c{10.5f, 20, 30, 40, -7.25f};
  const json j = to_json(c);
  EXPECT_EQ(
      j,
      json({{"cx", 10.5}, {"cy", 20.0}, {"width", 30.0}, {"height", 40.0}, {"angle_deg", -7.25}}));
  const Crop back = crop_from_json(j);
  EXPECT_EQ(back.cx, c.cx);
  EXPECT_EQ(back.angle_deg, c.angle_deg);
  auto error = [](const json& v) {
    try {
      crop_from_json(v);
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(error({{"cx", 1}, {"cy", 1}, {"width", 3}}), "crop: missing key 'height'");
  EXPECT_EQ(error({{"cx", "a"}, {"cy", 1}, {"width", 3}, {"height", 3}}),
            "crop: 'cx' is \"a\", not a finite number");
  EXPECT_EQ(error({{"cx", 1}, {"cy", 1}, {"width", 0}, {"height", 3}}),
            "crop: 'width' is 0, not a positive size");
}

// A tiny dataset: three demo frames in which the default detector finds exactly one face (IoU
// >= 0.5), and two face-less gradients. face_boxes.csv has the true boxes of the frames and a
// box for blank_0 only.
struct Tiny {
  fs::path root;
  data::Manifest manifest;
  std::size_t blank0 = 0, blank1 = 0;
  std::vector<std::size_t> faces;
};

Tiny make_tiny(const fs::path& root) {
  const json qc = read_json(demo_haar_dir() / "qc.json");
  std::vector<std::string> picked;
  int angry = 0, happy = 0;
  std::string csv = "path,class,x,y,w,h\n";
  for (const auto& im : qc["images"]) {
    if (im["faces"] != 1 || im["iou"].is_null() || im["iou"].get<double>() < 0.6) continue;
    const std::string cls = im["class"];
    if ((cls == "Angry" && angry < 2) || (cls == "Happy" && happy < 1)) {
      (cls == "Angry" ? angry : happy)++;
      const std::string rel = im["path"];
      fs::create_directories((root / rel).parent_path());
      fs::copy_file(demo_dir() / rel, root / rel);
      const auto& t = im["truth"];
      csv += fmt::format("{},{},{},{},{},{}\n", rel, cls, t[0].get<int>(), t[1].get<int>(),
                         t[2].get<int>(), t[3].get<int>());
    }
  }
  write_rgb(root / "Angry/blank_0.png", blank_picture(384, 288, 0));
  write_rgb(root / "Happy/blank_1.png", blank_picture(384, 288, 1));
  csv += "Angry/blank_0.png,Angry,10,10,100,100\n";
  write_text(root / "face_boxes.csv", csv);
  Tiny t;
  t.root = root;
  t.manifest = data::scan_dataset(root);
  EXPECT_EQ(t.manifest.images.size(), 5u);
  for (std::size_t i = 0; i < t.manifest.images.size(); ++i) {
    const std::string& rel = t.manifest.images[i].relative_path;
    if (rel == "Angry/blank_0.png")
      t.blank0 = i;
    else if (rel == "Happy/blank_1.png")
      t.blank1 = i;
    else
      t.faces.push_back(i);
  }
  return t;
}

CropOutcome run(const Tiny& t, json params) {
  return crop_faces(t.manifest, crop_config(params, t.root), 2);
}

void expect_crop(const std::optional<Crop>& got, const Crop& want) {
  ASSERT_TRUE(got);
  EXPECT_FLOAT_EQ(got->cx, want.cx);
  EXPECT_FLOAT_EQ(got->cy, want.cy);
  EXPECT_FLOAT_EQ(got->width, want.width);
  EXPECT_FLOAT_EQ(got->height, want.height);
  EXPECT_FLOAT_EQ(got->angle_deg, want.angle_deg);
}

TEST(Fallback, KeepTakesTheWholeImage) {
  const Tiny t = make_tiny(scratch_dir());
  const CropOutcome o = run(t, json::object());
  expect_crop(o.crops[t.blank0], {192, 144, 384, 288, 0});
  expect_crop(o.crops[t.blank1], {192, 144, 384, 288, 0});
  EXPECT_EQ(o.qc["images"][t.blank0]["fallback"], "keep");
  EXPECT_TRUE(o.qc["images"][t.faces[0]]["fallback"].is_null());
  EXPECT_EQ(o.qc["summary"]["with_face"], 3);
  EXPECT_EQ(o.qc["summary"]["fallbacks"]["keep"], 2);
  EXPECT_EQ(o.qc["summary"]["kept"], 5);
  // A face crop: the face box with a 20% margin on every side, squared, inside the image.
  for (std::size_t i : t.faces) {
    const auto& f = o.qc["images"][i]["face"];
    const double side = std::max(f[2].get<double>(), f[3].get<double>()) * 1.4;
    EXPECT_NEAR(o.crops[i]->width, std::min(side, 288.0), 0.51);
    EXPECT_EQ(o.crops[i]->width, o.crops[i]->height);
    EXPECT_GE(o.crops[i]->cx - o.crops[i]->width / 2, 0);
    EXPECT_LE(o.crops[i]->cy + o.crops[i]->height / 2, 288);
  }
}

TEST(Fallback, CenterUsesTheTypicalCropSize) {
  const Tiny t = make_tiny(scratch_dir());
  const CropOutcome o = run(t, {{"fallback", "center"}});
  std::vector<double> ratios;
  for (std::size_t i : t.faces) ratios.push_back(o.crops[i]->width / 288.0);
  std::sort(ratios.begin(), ratios.end());
  const int side = static_cast<int>(std::lround(ratios[1] * 288));
  const int x0 = (384 - side) / 2, y0 = (288 - side) / 2;
  const Crop want{x0 + side / 2.f, y0 + side / 2.f, static_cast<float>(side),
                  static_cast<float>(side), 0};
  expect_crop(o.crops[t.blank0], want);
  expect_crop(o.crops[t.blank1], want);
  EXPECT_EQ(o.qc["summary"]["fallbacks"]["center"], 2);
  EXPECT_NEAR(o.qc["summary"]["center_fraction"].get<double>(), ratios[1], 1e-6);
}

TEST(Fallback, DropLeavesTheImageOut) {
  const Tiny t = make_tiny(scratch_dir());
  const CropOutcome o = run(t, {{"fallback", "drop"}});
  EXPECT_FALSE(o.crops[t.blank0]);
  EXPECT_FALSE(o.crops[t.blank1]);
  EXPECT_EQ(o.qc["summary"]["dropped"], 2);
  EXPECT_EQ(o.qc["summary"]["kept"], 3);
  EXPECT_TRUE(o.qc["images"][t.blank0]["output"].is_null());
  const fs::path out = scratch_dir("-out") / "faces";
  write_cropped_dataset(t.manifest, o, out, 2);
  const data::Manifest cropped = data::scan_dataset(out);
  EXPECT_EQ(cropped.class_counts(), (std::vector<std::size_t>{2, 1}));
  EXPECT_FALSE(fs::exists(out / "Angry/blank_0.png"));
  // Each written crop is exactly the source's pixels in the crop rectangle.
  for (std::size_t i : t.faces) {
    const Crop& c = *o.crops[i];
    const cv::Mat src = cv::imread(t.manifest.path(i).string());
    const cv::Rect r(static_cast<int>(c.cx - c.width / 2), static_cast<int>(c.cy - c.height / 2),
                     static_cast<int>(c.width), static_cast<int>(c.height));
    const std::string rel = o.qc["images"][i]["output"];
    const cv::Mat got = cv::imread((out / rel).string());
    ASSERT_EQ(got.size(), r.size()) << rel;
    EXPECT_EQ(cv::norm(got, src(r), cv::NORM_INF), 0) << rel;
  }
  EXPECT_EQ(read_json(out / "qc.json"), o.qc);
  try {
    write_cropped_dataset(t.manifest, o, out, 2);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()),
              "crop output " + out.string() + " is not empty; choose a new or empty directory");
  }
}

TEST(Fallback, BoxesTakesTheCsvBox) {
  const Tiny t = make_tiny(scratch_dir());
  const CropOutcome o = run(t, {{"fallback", "boxes"}, {"boxes", "face_boxes.csv"}});
  // Box (10, 10, 100, 100) with 20% margin: 140 px, shifted inside the image.
  expect_crop(o.crops[t.blank0], {70, 70, 140, 140, 0});
  EXPECT_EQ(o.qc["images"][t.blank0]["fallback"], "boxes");
  // No box for blank_1: the whole image, reported.
  expect_crop(o.crops[t.blank1], {192, 144, 384, 288, 0});
  EXPECT_EQ(o.qc["images"][t.blank1]["fallback_box_missing"], true);
  EXPECT_EQ(o.qc["summary"]["fallbacks"]["boxes"], 2);
  EXPECT_EQ(o.qc["summary"]["fallback_box_missing"], 1);
}

TEST(Fallback, DetectorBoxesUsesTheCsv) {
  const Tiny t = make_tiny(scratch_dir());
  const CropOutcome o = run(
      t, {{"detector", "boxes"}, {"boxes", "face_boxes.csv"}, {"margin", 0}, {"square", false}});
  const BoxTable table = read_box_table(t.root / "face_boxes.csv", t.manifest);
  for (std::size_t i : t.faces) {
    const cv::Rect b = table.boxes[i]->rect;
    expect_crop(o.crops[i], {b.x + b.width / 2.f, b.y + b.height / 2.f, static_cast<float>(b.width),
                             static_cast<float>(b.height), 0});
    EXPECT_DOUBLE_EQ(o.qc["images"][i]["iou"].get<double>(), 1.0);
  }
  expect_crop(o.crops[t.blank0], {60, 60, 100, 100, 0});
  EXPECT_EQ(o.qc["images"][t.blank1]["faces"], 0);
  EXPECT_EQ(o.qc["images"][t.blank1]["fallback"], "keep");
  EXPECT_EQ(o.qc["summary"]["with_face"], 4);
}

TEST(Fallback, MissesAreOutlinedOnTheContactSheet) {
  const Tiny t = make_tiny(scratch_dir());
  const CropOutcome o = run(t, json::object());
  const cv::Mat sheet = cv::imdecode(o.contact_sheet_png, cv::IMREAD_COLOR);
  ASSERT_FALSE(sheet.empty());
  // Documented layout: 16 columns of 72 px; a 28 px title; per class a 22 px header and rows.
  EXPECT_EQ(sheet.size(), cv::Size(16 * 72, 28 + 2 * (22 + 72)));
  EXPECT_EQ(contact_sheet_size({3, 2}), sheet.size());
  // Misses come first in their class: blank_0 is Angry's first tile, outlined red (BGR).
  const cv::Vec3b red(40, 40, 230);
  EXPECT_EQ(sheet.at<cv::Vec3b>(28 + 22 + 36, 1), red);
  EXPECT_EQ(sheet.at<cv::Vec3b>(28 + 22 + 72 + 22 + 36, 70), red);  // blank_1 in Happy
  EXPECT_NE(sheet.at<cv::Vec3b>(28 + 22 + 36, 72 + 1), red);        // a face, not a miss
}

TEST(CropFaces, BadBoxFilesNameFileAndLine) {
  const Tiny t = make_tiny(scratch_dir());
  const std::string header = "path,class,x,y,w,h\n";
  auto error = [&](const std::string& csv) {
    write_text(t.root / "manual.csv", csv);
    try {
      run(t, {{"fallback", "boxes"}, {"boxes", "manual.csv"}});
    } catch (const DataError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string f = (t.root / "manual.csv").string();
  EXPECT_EQ(error(header + "Angry/blank_0.png,Angry,1,2,3,4\nHappy/nope.png,Happy,1,2,3,4\n"),
            f + ":3: no image Happy/nope.png under the dataset root " + t.root.string());
  EXPECT_EQ(error(header + "Angry/blank_0.png,Angry,1,2,3\n"),
            f + ":2: expected 6 comma-separated fields, found 5");
  EXPECT_EQ(error(header + "Angry/blank_0.png,Angry,500,10,20,20\n"),
            f + ":2: the box (500, 10, 20x20) lies outside Angry/blank_0.png (384x288)");
}

// Two demo faces pasted into one frame: a large one on the left, a small one near the centre.
TEST(CropFaces, SelectionPolicies) {
  const fs::path root = scratch_dir();
  const json qc = read_json(demo_haar_dir() / "qc.json");
  std::vector<cv::Mat> faces;
  for (const auto& im : qc["images"]) {
    if (im["faces"] != 1 || im["iou"].is_null() || im["iou"].get<double>() < 0.7) continue;
    const auto& c = im["crop"];
    const cv::Mat src = data::read_rgb(demo_dir() / im["path"].get<std::string>());
    faces.push_back(apply_crop(src, crop_from_json(c)));
    if (faces.size() == 2) break;
  }
  ASSERT_EQ(faces.size(), 2u);
  cv::Mat frame = blank_picture(384, 288, 2);
  cv::Mat big, small;
  cv::resize(faces[0], big, {170, 170}, 0, 0, cv::INTER_AREA);
  cv::resize(faces[1], small, {90, 90}, 0, 0, cv::INTER_AREA);
  big.copyTo(frame(cv::Rect(5, 60, 170, 170)));
  small.copyTo(frame(cv::Rect(215, 100, 90, 90)));
  write_rgb(root / "Happy/two.png", frame);
  const data::Manifest m = data::scan_dataset(root);
  auto chosen = [&](const char* policy) {
    const CropOutcome o = crop_faces(m, crop_config({{"select", policy}}, root), 1);
    EXPECT_EQ(o.qc["images"][0]["faces"], 2) << policy;
    return o.qc["images"][0];
  };
  const json largest = chosen("largest"), central = chosen("central"), score = chosen("score");
  EXPECT_GT(largest["face"][2].get<double>(), 100);
  EXPECT_LT(central["face"][2].get<double>(), 100);
  EXPECT_GT(central["face"][0].get<double>(), 200);
  // The detector's own list: `score` picks the detection with the most neighbours.
  const auto detections =
      make_detector(crop_config(json::object(), root))->detect(data::read_rgb(m.path(0)));
  ASSERT_EQ(detections.size(), 2u);
  const Detection& best =
      detections[0].score >= detections[1].score ? detections[0] : detections[1];
  EXPECT_EQ(score["score"].get<double>(), best.score);
  EXPECT_EQ(score["face"][0].get<double>(), best.box.x);
  EXPECT_EQ(largest["face"][2].get<double>(), detections[0].box.width);
}

// Rotating a frame by +12 degrees (counter-clockwise on screen) about the face lowers the
// measured eye angle by 12 degrees.
TEST(CropFaces, AlignmentMeasuresTheEyeLine) {
  const fs::path root = scratch_dir();
  const json qc = read_json(demo_haar_dir() / "qc.json");
  int pairs = 0;
  for (const auto& im : qc["images"]) {
    if (im["faces"] != 1 || im["iou"].is_null() || im["iou"].get<double>() < 0.7) continue;
    const cv::Mat src = data::read_rgb(demo_dir() / im["path"].get<std::string>());
    const auto& f = im["face"];
    const cv::Point2f c(f[0].get<float>() + f[2].get<float>() / 2,
                        f[1].get<float>() + f[3].get<float>() / 2);
    cv::Mat rotated;
    cv::warpAffine(src, rotated, cv::getRotationMatrix2D(c, 12, 1), src.size(), cv::INTER_LINEAR,
                   cv::BORDER_REPLICATE);
    write_rgb(root / fmt::format("Orig/{:02d}.png", pairs), src);
    write_rgb(root / fmt::format("Turned/{:02d}.png", pairs), rotated);
    if (++pairs == 30) break;
  }
  const data::Manifest m = data::scan_dataset(root);
  const CropOutcome o = crop_faces(m, crop_config({{"align", true}}, root), 2);
  // The eye cascade is a heuristic (a brow or a nostril can pass for an eye), so most pairs, not
  // all, must agree.
  std::vector<double> diffs;
  for (int k = 0; k < pairs; ++k) {
    const json& a = o.qc["images"][k];  // Orig/kk.png (classes sort Orig before Turned)
    const json& b = o.qc["images"][pairs + k];
    ASSERT_EQ(a["path"], fmt::format("Orig/{:02d}.png", k));
    ASSERT_EQ(b["path"], fmt::format("Turned/{:02d}.png", k));
    if (a["align_deg"].is_null() || b["align_deg"].is_null()) continue;
    diffs.push_back(a["align_deg"].get<double>() - b["align_deg"].get<double>());
    EXPECT_EQ(o.crops[pairs + k]->angle_deg, b["align_deg"].get<float>());
  }
  std::sort(diffs.begin(), diffs.end());
  const auto close =
      std::count_if(diffs.begin(), diffs.end(), [](double d) { return std::abs(d - 12) <= 4; });
  std::cout << "eye angle measured in " << diffs.size() << " of " << pairs << " pairs, " << close
            << " within 12 +- 4 degrees:";
  for (double d : diffs) std::cout << " " << d;
  std::cout << "\n";
  ASSERT_GE(diffs.size(), 3u);
  EXPECT_NEAR(diffs[diffs.size() / 2], 12.0, 3.0);
  EXPECT_GE(static_cast<double>(close), 0.6 * static_cast<double>(diffs.size()));
  EXPECT_EQ(o.qc["summary"]["aligned"].get<int>() + o.qc["summary"]["align_failed"].get<int>(),
            o.qc["summary"]["with_face"].get<int>());
}

}  // namespace
}  // namespace fersweep::faces
