// `fersweep crop-faces DATASET --out DIR [options]`: the face-cropped dataset variant with its
// quality-control report, outside a sweep (same settings as a sweep's face variant).
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/error.h"
#include "core/log.h"
#include "data/dataset.h"
#include "faces/config.h"
#include "faces/crop.h"
#include "faces/settings.h"

namespace fersweep::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDescription =
    R"(Crop every image of a dataset to its face, check the crops' quality, and write the cropped
dataset (a dataset root itself, one folder per class) with qc.json and contact_sheet.png.
DATASET is one folder per class (SFEW), or any format with --format (docs/datasets.md).

The options are the settings of a sweep's face variant (docs/faces.md, docs/sweep-files.md):
  detector   haar (default: OpenCV's Haar frontal-face cascade, found in opencv-data), lbp (LBP
             cascade), yunet (cv::FaceDetectorYN; needs --model, face_detection_yunet_2022mar.onnx
             for OpenCV 4.6), or boxes with --boxes FILE.csv (boxes given, e.g. manual crops;
             --detector boxes:FILE.csv is short for both), or dataset (the dataset's own boxes:
             --format affectnet or expw).
  select     which face of a frame with several: largest (default), central, score.
  margin     added on every side of the face box, as a fraction of its size (default 0.2);
             crops are square unless --no-square, and stay inside the image.
  align      rotate each crop so the eyes are level (Haar eye cascade; YuNet's landmarks).
  fallback   for an image without a face: keep the whole image (default), center (a centred
             square sized like the dataset's typical face crop), drop the image, or boxes (the
             image's box from --boxes).

Quality control (qc.json; a summary is printed): per class the detection rate, faces per image,
crop sizes, blur (variance of the Laplacian at 128x128), fallbacks; the IoU of each face box with
the true box where DATASET/face_boxes.csv (the demo dataset ships one) or --boxes gives one; and
flags for tiny, blurry, several-faces and low-IoU crops (thresholds: --min-face-px,
--blur-threshold, --iou-threshold). The contact sheet shows every crop (misses outlined red,
flagged crops orange; at most 160 per class, problems first).

DIR must not exist or be empty; --overwrite replaces an earlier crop-faces output (a folder
holding qc.json). Cropped images are PNG files at the source's relative path; for the other
formats at CLASS/NAME.png, NAME the sample's identity (an image's path without its extension)
with '/', ':' and '#' as '_' (e.g. Happy/fer2013.csv_12.png): subjects and official splits do not carry over into a folders
dataset, so studies that need them use a sweep's face variant.

Examples:
  fersweep crop-faces data/demo --out data/demo-faces
  fersweep crop-faces data/sfew --out data/sfew-faces --margin 0.3 --align --fallback drop
  fersweep crop-faces data/sfew --out data/sfew-manual --detector boxes:sfew_boxes.csv
  fersweep crop-faces data/affectnet --format affectnet --detector dataset --out data/an-faces)";

struct Options {
  std::string dataset, out;
  faces::CropSettings settings;  // filled by the options below (their defaults are its own)
  std::string detector = faces::to_string(faces::CropSettings{}.detector);
  std::string select = faces::to_string(faces::CropSettings{}.select);
  std::string fallback = faces::to_string(faces::CropSettings{}.fallback);
  bool overwrite = false, skip_bad_images = false;
  std::vector<std::string> classes;
  int threads = 0;
  LayoutOptions layout;
};

// The settings the options give; `--detector boxes:FILE` is short for --detector boxes --boxes
// FILE.
faces::CropSettings settings_of(const Options& o) {
  faces::CropSettings s = o.settings;
  std::string detector = o.detector;
  if (detector.rfind("boxes:", 0) == 0) {
    const std::string file = detector.substr(6);
    if (file.empty())
      throw ConfigError("face variant: detector: boxes: needs a file name, as in boxes:FILE.csv");
    if (s.boxes && *s.boxes != file)
      throw ConfigError(
          fmt::format("face variant: boxes: two boxes files given ({} and {})", file, *s.boxes));
    s.boxes = file;
    detector = "boxes";
  }
  // The options' checks let only these spellings through.
  s.detector = faces::enum_named<faces::DetectorKind>(faces::kDetectorNames, detector).value();
  s.select = faces::enum_named<faces::SelectPolicy>(faces::kSelectNames, o.select).value();
  s.fallback = faces::enum_named<faces::FallbackPolicy>(faces::kFallbackNames, o.fallback).value();
  return s;
}

void run_crop_faces(const Options& o) {
  const auto start = std::chrono::steady_clock::now();
  // Settings first: a typo must not cost a dataset scan.
  const faces::CropConfig config = faces::resolve_crop_config(settings_of(o), fs::current_path());
  const fs::path out = o.out;
  std::error_code ec;
  const bool exists = fs::exists(out, ec);
  if (exists && !fs::is_directory(out, ec))
    throw UsageError(fmt::format("--out {} exists and is not a directory", out.string()));
  const bool occupied = exists && !fs::is_empty(out, ec);
  if (occupied && !o.overwrite)
    throw UsageError(fmt::format(
        "--out {} is not empty; choose a new directory, or --overwrite to replace an earlier "
        "crop-faces output",
        out.string()));
  if (occupied && !fs::exists(out / "qc.json", ec))
    throw UsageError(fmt::format(
        "--out {} holds no qc.json, so it is not a crop-faces output; --overwrite refuses to "
        "delete it",
        out.string()));

  data::ScanOptions scan;
  scan.layout = layout_of(o.layout);
  scan.classes = o.classes;
  scan.skip_bad_images = o.skip_bad_images;
  scan.threads = o.threads;
  const data::Manifest manifest = data::scan_dataset(o.dataset, scan);
  log::info("crop-faces: {} images in {} classes, detector {}", manifest.images.size(),
            manifest.classes.size(), faces::to_string(config.detector));
  const faces::CropOutcome outcome = faces::crop_faces(manifest, config, o.threads);

  // Written next to DIR and renamed into place, so DIR is never half written.
  fs::path partial = out;
  partial += fmt::format(".partial-{}", ::getpid());
  fs::remove_all(partial, ec);
  try {
    faces::write_cropped_dataset(manifest, outcome, partial, o.threads);
    if (occupied) fs::remove_all(out);
    if (exists && !occupied) fs::remove(out);
    fs::rename(partial, out);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(partial, ec);
    throw IoError(fmt::format("writing {}: {}", out.string(), e.what()));
  } catch (...) {
    fs::remove_all(partial, ec);
    throw;
  }
  std::cout << faces::format_qc_summary(outcome.qc) << "\n";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << fmt::format(
      "wrote {} cropped images, qc.json and contact_sheet.png to {} in {:.1f} s\n",
      outcome.qc.at("summary").at("kept").get<std::size_t>(), out.string(), seconds);
}

}  // namespace

void add_crop_faces(CLI::App& app) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("crop-faces", "Face-cropped dataset variant + QC report");
  cmd->footer(kDescription);  // the manual; `fersweep --help` shows only the summary
  cmd->add_option("DATASET", o->dataset, "Dataset root (one folder per class, or --format)")
      ->required();
  add_layout_options(*cmd, o->layout);
  cmd->add_option("--out", o->out, "Directory to write the cropped dataset into")->required();
  using faces::CropLimits;
  faces::CropSettings& s = o->settings;
  auto detectors = faces::kDetectorNames;
  const auto is_detector = CLI::Validator(
      [detectors](std::string& v) {
        if (v.rfind("boxes:", 0) == 0 ||
            std::find(detectors.begin(), detectors.end(), v) != detectors.end())
          return std::string();
        return fmt::format(
            "unknown detector '{}' (haar, lbp, yunet, dataset, boxes or boxes:FILE.csv)", v);
      },
      "DETECTOR");
  cmd->add_option("--detector", o->detector, "haar, lbp, yunet, dataset, boxes or boxes:FILE.csv")
      ->check(is_detector)
      ->capture_default_str();
  cmd->add_option("--model", s.model, "YuNet ONNX model (detector yunet)");
  cmd->add_option("--boxes", s.boxes, "Boxes CSV path,class,x,y,w,h (detector/fallback boxes)");
  cmd->add_option("--cascade", s.cascade,
                  "Cascade XML for haar/lbp (default: opencv-data's frontal-face cascade)");
  cmd->add_option("--margin", s.margin, "Margin on every side, fraction of the box")
      ->check(CLI::Range(0.0, CropLimits::max_margin))
      ->capture_default_str();
  cmd->add_flag("--square,!--no-square", s.square, "Square crops (default) or the box's shape");
  cmd->add_option("--select", o->select, "Face to keep: largest, central, score")
      ->check(CLI::IsMember(faces::kSelectNames))
      ->capture_default_str();
  cmd->add_flag("--align", s.align, "Rotate crops so the eyes are level");
  cmd->add_option("--fallback", o->fallback, "No face: keep, center, drop, boxes")
      ->check(CLI::IsMember(faces::kFallbackNames))
      ->capture_default_str();
  cmd->add_option("--min-size", s.min_size, "Smallest face searched for, pixels")
      ->check(CLI::Range(1, CropLimits::max_min_size))
      ->capture_default_str();
  cmd->add_option("--min-face-px", s.qc.min_face_px, "QC: flag faces narrower than this")
      ->check(CLI::Range(0, CropLimits::max_min_face_px))
      ->capture_default_str();
  cmd->add_option("--blur-threshold", s.qc.blur_threshold,
                  "QC: flag crops whose Laplacian variance is below this")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--iou-threshold", s.qc.iou_threshold,
                  "QC: flag face boxes whose IoU with the true box is below this")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--classes", o->classes,
                  "Classes to use, in label order (folder names, or the canonical names of "
                  "--format; default: all)")
      ->delimiter(',');
  cmd->add_flag("--skip-bad-images", o->skip_bad_images, "Leave unreadable images out");
  cmd->add_flag("--overwrite", o->overwrite, "Replace an earlier crop-faces output in DIR");
  cmd->add_option("--threads", o->threads, "Worker threads (default: every core)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([o] { run_crop_faces(*o); });
}

}  // namespace fersweep::cli
