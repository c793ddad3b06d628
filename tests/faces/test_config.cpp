// Face-variant settings: defaults, every bad value named by its key, files that must exist, and
// cascades/models OpenCV cannot load.
#include <gtest/gtest.h>

#include "core/error.h"
#include "faces/config.h"
#include "faces/detect.h"
#include "faces_test_util.h"

namespace fersweep::faces {
namespace {
using namespace testing;
using nlohmann::json;

// The message of the ConfigError `body` throws ("" when it does not throw one).
template <class Body>
std::string config_error(Body&& body) {
  try {
    body();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string parse_error(const json& params, const fs::path& base = ".") {
  return config_error([&] { parse_crop_config(params, base); });
}

TEST(CropConfig, DefaultsMatchTheSweepFile) {
  const CropConfig c = parse_crop_config(json::object(), ".");
  EXPECT_EQ(c.detector, DetectorKind::haar);
  EXPECT_EQ(c.cascade,
            fs::path("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"));
  EXPECT_DOUBLE_EQ(c.margin, 0.2);
  EXPECT_TRUE(c.square);
  EXPECT_EQ(c.select, SelectPolicy::largest);
  EXPECT_FALSE(c.align);
  EXPECT_TRUE(c.eye_cascade.empty());
  EXPECT_EQ(c.fallback, FallbackPolicy::keep);
  EXPECT_EQ(c.min_size, 20);
  EXPECT_EQ(c.qc.min_face_px, 48);
  EXPECT_DOUBLE_EQ(c.qc.blur_threshold, 50);
  EXPECT_DOUBLE_EQ(c.qc.iou_threshold, 0.5);
  EXPECT_EQ(c.canonical["detector"], "haar");
  EXPECT_EQ(c.canonical["qc"]["iou_threshold"], 0.5);
  // A crop task's params: the sweep's fully defaulted variant plus `dataset`.
  const json task = {
      {"detector", "lbp"},
      {"model", nullptr},
      {"boxes", nullptr},
      {"cascade", nullptr},
      {"margin", 0.3},
      {"square", false},
      {"select", "central"},
      {"align", true},
      {"fallback", "drop"},
      {"min_size", 30},
      {"qc", {{"min_face_px", 40}, {"blur_threshold", 20.0}, {"iou_threshold", 0.4}}},
      {"dataset", {{"root", "data/demo"}}}};
  const CropConfig t = parse_crop_config(task, ".");
  EXPECT_EQ(t.detector, DetectorKind::lbp);
  EXPECT_EQ(t.cascade.filename(), "lbpcascade_frontalface_improved.xml");
  EXPECT_EQ(t.eye_cascade.filename(), "haarcascade_eye.xml");
  EXPECT_FALSE(t.square);
  EXPECT_EQ(t.select, SelectPolicy::central);
  EXPECT_EQ(t.fallback, FallbackPolicy::drop);
  EXPECT_EQ(t.min_size, 30);
  EXPECT_EQ(t.qc.min_face_px, 40);
  EXPECT_DOUBLE_EQ(t.qc.iou_threshold, 0.4);
}

TEST(CropConfig, BadValuesNameTheirKey) {
  EXPECT_EQ(parse_error({{"margin", -1}}), "face variant: margin: -1 is out of range [0, 2]");
  EXPECT_EQ(parse_error({{"margin", "wide"}}),
            "face variant: margin: expected a number, got \"wide\"");
  EXPECT_EQ(parse_error({{"detector", "dlib"}}),
            "face variant: detector: unknown value 'dlib' (one of haar, lbp, yunet, boxes)");
  EXPECT_EQ(parse_error({{"select", "first"}}),
            "face variant: select: unknown value 'first' (one of largest, central, score)");
  EXPECT_EQ(parse_error({{"fallback", "skip"}}),
            "face variant: fallback: unknown value 'skip' (one of keep, center, drop, boxes)");
  EXPECT_EQ(parse_error({{"square", "yes"}}),
            "face variant: square: expected true or false, got \"yes\"");
  EXPECT_EQ(parse_error({{"min_size", 2.5}}),
            "face variant: min_size: expected a whole number, got 2.5");
  EXPECT_EQ(parse_error({{"qc", {{"blur_threshold", -3}}}}),
            "face variant: qc.blur_threshold: -3 must be a number >= 0");
  EXPECT_EQ(
      parse_error({{"qc", {{"iou", 0.3}}}}),
      "face variant: qc.iou: unknown key (known: min_face_px, blur_threshold, iou_threshold)");
  EXPECT_NE(parse_error({{"detecter", "haar"}}).find("face variant: detecter: unknown key"),
            std::string::npos);
  EXPECT_EQ(parse_error({{"detector", "haar"}, {"model", "m.onnx"}}),
            "face variant: model: only detector yunet uses a model file");
  EXPECT_EQ(parse_error({{"detector", "yunet"}, {"model", "m.onnx"}, {"cascade", "c.xml"}}),
            "face variant: cascade: only detectors haar and lbp use a cascade file");
}

TEST(CropConfig, MissingFilesAreConfigErrors) {
  const fs::path dir = scratch_dir();
  EXPECT_EQ(parse_error({{"detector", "yunet"}}),
            "face variant: model: detector yunet needs its ONNX model file (`model: PATH`; "
            "OpenCV 4.6 reads face_detection_yunet_2022mar.onnx)");
  EXPECT_EQ(parse_error({{"detector", "yunet"}, {"model", "models/yunet.onnx"}}, dir),
            "face variant: model: YuNet model file " + (dir / "models/yunet.onnx").string() +
                " does not exist");
  EXPECT_EQ(parse_error({{"cascade", "/nonexistent/face.xml"}}),
            "face variant: cascade: cascade file /nonexistent/face.xml does not exist");
  EXPECT_EQ(parse_error({{"detector", "boxes"}}),
            "face variant: detector: detector boxes and fallback boxes need a boxes CSV "
            "(`boxes: FILE.csv`)");
  EXPECT_EQ(parse_error({{"fallback", "boxes"}}),
            "face variant: fallback: detector boxes and fallback boxes need a boxes CSV "
            "(`boxes: FILE.csv`)");
  EXPECT_EQ(parse_error({{"detector", "boxes:manual.csv"}}, dir),
            "face variant: boxes: boxes file " + (dir / "manual.csv").string() + " does not exist");
  EXPECT_EQ(parse_error({{"boxes", "b.csv"}}),
            "face variant: boxes: a boxes file is only used with detector boxes or fallback boxes");
  // Relative paths are relative to base_dir; boxes:FILE is short for detector + boxes.
  write_text(dir / "manual.csv", "path,x,y,w,h\n");
  const CropConfig c = parse_crop_config({{"detector", "boxes:manual.csv"}}, dir);
  EXPECT_EQ(c.detector, DetectorKind::boxes);
  EXPECT_EQ(c.boxes, dir / "manual.csv");
  EXPECT_EQ(c.canonical["boxes"], (dir / "manual.csv").string());
}

TEST(CropConfig, FilesOpenCvCannotLoadAreConfigErrors) {
  const fs::path dir = scratch_dir();
  write_text(dir / "yunet.onnx", "not an onnx model");
  write_text(dir / "cascade.xml", "<opencv_storage></opencv_storage>\n");
  const CropConfig yunet = parse_crop_config({{"detector", "yunet"}, {"model", "yunet.onnx"}}, dir);
  const std::string m = config_error([&] { make_detector(yunet); });
  EXPECT_EQ(m.rfind("face variant: model: cannot load " + (dir / "yunet.onnx").string() +
                        " as a YuNet ONNX model",
                    0),
            0u)
      << m;
  const CropConfig haar = parse_crop_config({{"cascade", "cascade.xml"}}, dir);
  EXPECT_EQ(config_error([&] { make_detector(haar); }), "face variant: cascade: cannot load " +
                                                            (dir / "cascade.xml").string() +
                                                            " as an OpenCV cascade");
}

TEST(CropConfig, OpenCvDataSearchHonoursTheEnvironment) {
  const fs::path dir = scratch_dir();
  write_text(dir / "haarcascades/haarcascade_eye.xml", "x");
  setenv("FERSWEEP_OPENCV_DATA", dir.c_str(), 1);
  EXPECT_EQ(find_opencv_data_file("haarcascades/haarcascade_eye.xml"),
            dir / "haarcascades/haarcascade_eye.xml");
  const std::string m = config_error([] { find_opencv_data_file("nothing/here.xml"); });
  unsetenv("FERSWEEP_OPENCV_DATA");
  EXPECT_EQ(m.rfind("OpenCV data file nothing/here.xml not found (searched " + dir.string() +
                        ", /usr/share/opencv4",
                    0),
            0u)
      << m;
}

}  // namespace
}  // namespace fersweep::faces
