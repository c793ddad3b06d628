// The face-crop variant on the demo dataset: the default detector's boxes against the true
// boxes (read from qc.json), QC statistics recomputed from the per-image records, blur against
// python3-opencv, the contact sheet's size, the cropped dataset, and the crop-faces command.
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "core/error.h"
#include "faces/boxes.h"
#include "faces_test_util.h"

namespace fersweep::faces {
namespace {
using namespace testing;
using nlohmann::json;

// The acceptance goal: IoU >= 0.5 with the true box for at least 85% of the images.
TEST(DemoFaces, DefaultDetectorFindsTheTrueBox) {
  const json qc = read_json(demo_haar_dir() / "qc.json");
  ASSERT_EQ(qc["images"].size(), 675u);
  EXPECT_EQ(qc["truth_boxes"], (demo_dir() / "face_boxes.csv").string());
  std::size_t good = 0;
  for (const auto& im : qc["images"])
    if (!im["iou"].is_null() && im["iou"].get<double>() >= 0.5) ++good;
  const double rate = static_cast<double>(good) / 675;
  std::cout << "default detector: IoU >= 0.5 with the true box in " << good << " of 675 images ("
            << rate * 100 << "%), faces found in " << qc["summary"]["with_face"] << "\n";
  EXPECT_GE(rate, 0.85);
  EXPECT_EQ(qc["summary"]["iou"]["at_threshold"], good);
  EXPECT_GE(qc["summary"]["detection_rate"].get<double>(), 0.9);
  EXPECT_EQ(qc["config"]["detector"], "haar");
  EXPECT_EQ(qc["dataset"]["fingerprint"], data::scan_dataset(demo_dir()).fingerprint);
}

// Per-class statistics agree with the per-image records, and the records with the box file.
TEST(DemoFaces, QcStatisticsMatchTheRecords) {
  const json qc = read_json(demo_haar_dir() / "qc.json");
  const data::Manifest m = data::scan_dataset(demo_dir());
  const BoxTable truth = read_box_table(demo_dir() / "face_boxes.csv", m);
  struct Count {
    int images = 0, with_face = 0, faces = 0, iou_ok = 0, several = 0, flagged = 0, keep = 0;
  };
  std::map<std::string, Count> counts;
  for (std::size_t i = 0; i < qc["images"].size(); ++i) {
    const json& im = qc["images"][i];
    ASSERT_EQ(im["path"], m.images[i].relative_path);
    const cv::Rect t = truth.boxes[i]->rect;
    ASSERT_EQ(im["truth"], json::array({t.x, t.y, t.width, t.height}));
    Count& c = counts[im["class"]];
    ++c.images;
    c.faces += im["faces"].get<int>();
    c.with_face += im["faces"].get<int>() > 0;
    c.several += im["faces"].get<int>() > 1;
    c.flagged += !im["flags"].empty();
    c.keep += im["fallback"] == "keep";
    if (!im["face"].is_null()) {
      // IoU recomputed from the two boxes.
      const auto& f = im["face"];
      const double x0 = std::max(f[0].get<double>(), double(t.x));
      const double y0 = std::max(f[1].get<double>(), double(t.y));
      const double x1 = std::min(f[0].get<double>() + f[2].get<double>(), double(t.x + t.width));
      const double y1 = std::min(f[1].get<double>() + f[3].get<double>(), double(t.y + t.height));
      const double inter = std::max(0.0, x1 - x0) * std::max(0.0, y1 - y0);
      const double expected = inter / (f[2].get<double>() * f[3].get<double>() + t.area() - inter);
      EXPECT_NEAR(im["iou"].get<double>(), expected, 1e-9) << im["path"];
      c.iou_ok += expected >= 0.5;
    } else {
      EXPECT_TRUE(im["iou"].is_null());
    }
  }
  ASSERT_EQ(qc["classes"].size(), 7u);
  for (const auto& s : qc["classes"]) {
    const Count& c = counts[s["class"]];
    EXPECT_EQ(s["images"], c.images);
    EXPECT_EQ(s["with_face"], c.with_face);
    EXPECT_NEAR(s["detection_rate"].get<double>(), double(c.with_face) / c.images, 1e-12);
    EXPECT_NEAR(s["faces_per_image"]["mean"].get<double>(), double(c.faces) / c.images, 1e-12);
    EXPECT_EQ(s["flags"]["several_faces"], c.several);
    EXPECT_EQ(s["flagged"], c.flagged);
    EXPECT_EQ(s["fallbacks"]["keep"], c.keep);
    EXPECT_EQ(s["iou"]["at_threshold"], c.iou_ok);
    EXPECT_EQ(s["iou"]["images"], c.images);
  }
}

// Blur scores against python3-opencv on the written crops (PNG, so the same pixels).
TEST(DemoFaces, BlurMatchesPythonOpenCv) {
  const json qc = read_json(demo_haar_dir() / "qc.json");
  std::string cmd = std::string(FERSWEEP_PYTHON) + " " +
                    quoted(fs::path(FERSWEEP_TESTS_DIR) / "faces" / "blur_reference.py");
  std::vector<double> ours;
  for (std::size_t i = 0; i < qc["images"].size(); i += 97) {
    cmd += " " + quoted(demo_haar_dir() / qc["images"][i]["output"].get<std::string>());
    ours.push_back(qc["images"][i]["blur"].get<double>());
  }
  std::string out;
  ASSERT_EQ(run_command(cmd, out), 0) << out;
  std::istringstream is(out);
  for (double mine : ours) {
    double ref = 0;
    ASSERT_TRUE(is >> ref) << out;
    EXPECT_NEAR(mine, ref, 1e-6 * ref) << out;
  }
}

TEST(DemoFaces, CroppedDatasetAndContactSheet) {
  const data::Manifest cropped = data::scan_dataset(demo_haar_dir());
  EXPECT_EQ(cropped.class_counts(), (std::vector<std::size_t>{100, 75, 100, 100, 100, 100, 100}));
  EXPECT_EQ(cropped.images[0].relative_path, "Angry/angry_000.png");
  const cv::Mat sheet = cv::imread((demo_haar_dir() / "contact_sheet.png").string());
  ASSERT_FALSE(sheet.empty());
  // 16 columns of 72 px; a 28 px title; per class a 22 px header and ceil(n / 16) rows.
  EXPECT_EQ(sheet.size(), cv::Size(1152, 28 + 6 * (22 + 7 * 72) + (22 + 5 * 72)));
}

// The command line: a run on a small copy of the demo dataset, a refused non-empty --out, and
// --overwrite.
TEST(DemoFaces, CropFacesCommand) {
  const fs::path dir = scratch_dir();
  const data::Manifest m = data::scan_dataset(demo_dir());
  for (std::size_t i = 0; i < m.images.size(); i += 45) {
    fs::create_directories((dir / "data" / m.images[i].relative_path).parent_path());
    fs::copy_file(m.path(i), dir / "data" / m.images[i].relative_path);
  }
  const std::string exe = FERSWEEP_EXE_PATH;
  const std::string base = exe + " crop-faces " + quoted(dir / "data") + " --out " +
                           quoted(dir / "out") + " --threads 2 --fallback center --margin 0.1";
  std::string out;
  ASSERT_EQ(run_command(base, out), 0) << out;
  EXPECT_NE(out.find("face crops (haar): 15 images"), std::string::npos) << out;
  EXPECT_NE(out.find("wrote 15 cropped images"), std::string::npos) << out;
  const json qc = read_json(dir / "out" / "qc.json");
  EXPECT_EQ(qc["config"]["margin"], 0.1);
  EXPECT_EQ(qc["config"]["fallback"], "center");
  EXPECT_TRUE(qc["truth_boxes"].is_null());  // this copy has no face_boxes.csv
  EXPECT_TRUE(fs::exists(dir / "out" / "contact_sheet.png"));
  EXPECT_EQ(run_command(base, out), 2) << out;
  EXPECT_NE(out.find("is not empty; choose a new directory, or --overwrite"), std::string::npos)
      << out;
  EXPECT_EQ(run_command(base + " --overwrite --no-square", out), 0) << out;
  EXPECT_EQ(read_json(dir / "out" / "qc.json")["config"]["square"], false);
  EXPECT_FALSE(fs::exists(dir / "out.partial"));
  EXPECT_EQ(run_command(exe + " crop-faces " + quoted(dir / "data") + " --out " +
                            quoted(dir / "data") + " --overwrite",
                        out),
            2);
  EXPECT_NE(out.find("holds no qc.json, so it is not a crop-faces output"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace fersweep::faces
