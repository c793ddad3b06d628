// Face-variant settings: defaults, the JSON a crop task reads, the rules across fields named by
// their key, files that must exist, and cascades/models OpenCV cannot load. (Bad single values
// are the sweep loader's and the command line's to refuse: tests/sweep, tests/faces/CMakeLists.)
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

std::string resolve_error(const json& settings, const fs::path& base = ".") {
  return config_error([&] { crop_config(settings, base); });
}

TEST(CropConfig, DefaultsMatchTheSweepFile) {
  const CropConfig c = resolve_crop_config(CropSettings{}, ".");
  EXPECT_EQ(c.detector, DetectorKind::haar);
  EXPECT_EQ(c.cascade_file,
            fs::path("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"));
  EXPECT_DOUBLE_EQ(c.margin, 0.2);
  EXPECT_TRUE(c.square);
  EXPECT_EQ(c.select, SelectPolicy::largest);
  EXPECT_FALSE(c.align);
  EXPECT_TRUE(c.eye_cascade_file.empty());
  EXPECT_EQ(c.fallback, FallbackPolicy::keep);
  EXPECT_EQ(c.min_size, 20);
  EXPECT_EQ(c.qc.min_face_px, 48);
  EXPECT_DOUBLE_EQ(c.qc.blur_threshold, 50);
  EXPECT_DOUBLE_EQ(c.qc.iou_threshold, 0.5);
  EXPECT_EQ(c.canonical["detector"], "haar");
  EXPECT_EQ(c.canonical["cascade"], c.cascade_file.string());
  EXPECT_EQ(c.canonical["qc"]["iou_threshold"], 0.5);
}

TEST(CropConfig, TaskParametersReadBackIntoTheSameSettings) {
  // A crop task's params: the sweep's fully defaulted variant (CropSettings' JSON, which the
  // task id hashes) plus `dataset`.
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
  const auto settings = task.get<CropSettings>();
  json again = task;
  again.erase("dataset");
  EXPECT_EQ(json(settings), again);  // the id's JSON survives the round trip key for key
  EXPECT_THROW(json("dlib").get<DetectorKind>(), ConfigError);  // never silently haar
  const CropConfig t = resolve_crop_config(settings, ".");
  EXPECT_EQ(t.detector, DetectorKind::lbp);
  EXPECT_EQ(t.cascade_file.filename(), "lbpcascade_frontalface_improved.xml");
  EXPECT_EQ(t.eye_cascade_file.filename(), "haarcascade_eye.xml");
  EXPECT_FALSE(t.square);
  EXPECT_EQ(t.select, SelectPolicy::central);
  EXPECT_EQ(t.fallback, FallbackPolicy::drop);
  EXPECT_EQ(t.min_size, 30);
  EXPECT_EQ(t.qc.min_face_px, 40);
  EXPECT_DOUBLE_EQ(t.qc.iou_threshold, 0.4);
}

TEST(CropConfig, RulesAcrossFieldsNameTheirKey) {
  EXPECT_EQ(resolve_error({{"detector", "haar"}, {"model", "m.onnx"}}),
            "face variant: model: only detector yunet uses a model file");
  EXPECT_EQ(resolve_error({{"detector", "yunet"}, {"model", "m.onnx"}, {"cascade", "c.xml"}}),
            "face variant: cascade: only detectors haar and lbp use a cascade file");
  EXPECT_EQ(resolve_error({{"detector", "yunet"}}),
            "face variant: model: detector yunet needs its ONNX model file (`model: PATH`; "
            "OpenCV 4.6 reads face_detection_yunet_2022mar.onnx)");
  EXPECT_EQ(resolve_error({{"detector", "boxes"}}),
            "face variant: detector: detector boxes and fallback boxes need a boxes CSV "
            "(`boxes: FILE.csv`)");
  EXPECT_EQ(resolve_error({{"fallback", "boxes"}}),
            "face variant: fallback: detector boxes and fallback boxes need a boxes CSV "
            "(`boxes: FILE.csv`)");
  EXPECT_EQ(resolve_error({{"boxes", "b.csv"}}),
            "face variant: boxes: a boxes file is only used with detector boxes or fallback boxes");
  CropSettings ok;
  ok.detector = DetectorKind::yunet;
  ok.model = "m.onnx";
  EXPECT_TRUE(crop_settings_problems(ok).empty());
}

TEST(CropConfig, MissingFilesAreConfigErrors) {
  const fs::path dir = scratch_dir();
  EXPECT_EQ(resolve_error({{"detector", "yunet"}, {"model", "models/yunet.onnx"}}, dir),
            "face variant: model: YuNet model file " + (dir / "models/yunet.onnx").string() +
                " does not exist");
  EXPECT_EQ(resolve_error({{"cascade", "/nonexistent/face.xml"}}),
            "face variant: cascade: cascade file /nonexistent/face.xml does not exist");
  EXPECT_EQ(resolve_error({{"detector", "boxes"}, {"boxes", "manual.csv"}}, dir),
            "face variant: boxes: boxes file " + (dir / "manual.csv").string() + " does not exist");
  // Relative paths are relative to base_dir.
  write_text(dir / "manual.csv", "path,x,y,w,h\n");
  const CropConfig c = crop_config({{"detector", "boxes"}, {"boxes", "manual.csv"}}, dir);
  EXPECT_EQ(c.detector, DetectorKind::boxes);
  EXPECT_EQ(c.boxes_file, dir / "manual.csv");
  EXPECT_EQ(c.canonical["boxes"], (dir / "manual.csv").string());
}

TEST(CropConfig, FilesOpenCvCannotLoadAreConfigErrors) {
  const fs::path dir = scratch_dir();
  write_text(dir / "yunet.onnx", "not an onnx model");
  write_text(dir / "cascade.xml", "<opencv_storage></opencv_storage>\n");
  const CropConfig yunet = crop_config({{"detector", "yunet"}, {"model", "yunet.onnx"}}, dir);
  const std::string m = config_error([&] { make_detector(yunet); });
  EXPECT_EQ(m.rfind("face variant: model: cannot load " + (dir / "yunet.onnx").string() +
                        " as a YuNet ONNX model",
                    0),
            0u)
      << m;
  const CropConfig haar = crop_config({{"cascade", "cascade.xml"}}, dir);
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
