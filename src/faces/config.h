// Settings of a face-crop variant (detector, margin, selection, alignment, fallback, QC
// thresholds), parsed from the sweep's variant JSON or from `fersweep crop-faces` options.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace fersweep::faces {

/// Which face detector finds the boxes.
enum class DetectorKind {
  haar,   ///< OpenCV Haar frontal-face cascade (the default)
  lbp,    ///< OpenCV LBP frontal-face cascade
  yunet,  ///< cv::FaceDetectorYN with a user-supplied ONNX model
  boxes,  ///< boxes read from a CSV file (manual crops)
};

/// Which face is kept when a frame shows several.
enum class SelectPolicy {
  largest,  ///< the largest box (the default)
  central,  ///< the box whose centre is nearest the image centre
  score,    ///< the highest detector score (Haar/LBP: neighbours merged into the box)
};

/// What happens to an image without a face.
enum class FallbackPolicy {
  keep,    ///< the whole image (the default)
  center,  ///< a centred square, sized like the typical face crop of the dataset
  drop,    ///< the image is left out of the variant
  boxes,   ///< the image's box from the boxes CSV
};

/// Quality-control thresholds: crops past them are flagged in qc.json and on the contact sheet.
struct QcThresholds {
  int min_face_px = 48;        ///< a face box (or fallback crop) narrower than this is "tiny"
  double blur_threshold = 50;  ///< variance of the Laplacian (crop at 128x128) below is "blurry"
  double iou_threshold = 0.5;  ///< IoU with the true box below this is "low_iou"
};

/// Validated settings of one face-crop variant. Paths are resolved and checked to exist.
struct CropConfig {
  DetectorKind detector = DetectorKind::haar;
  std::filesystem::path cascade;      ///< haar/lbp: the cascade XML
  std::filesystem::path model;        ///< yunet: the ONNX model
  std::filesystem::path boxes;        ///< detector boxes / fallback boxes: the CSV
  std::filesystem::path eye_cascade;  ///< align with haar/lbp/boxes: the Haar eye cascade
  double margin = 0.2;  ///< added on every side of the face box, as a fraction of its size
  bool square = true;   ///< make the crop square (the larger side of the box with its margin)
  SelectPolicy select = SelectPolicy::largest;
  bool align = false;  ///< rotate the crop so that the eyes are level
  FallbackPolicy fallback = FallbackPolicy::keep;
  int min_size = 20;  ///< smallest face the detector looks for, in pixels
  QcThresholds qc;
  /// The fully defaulted settings with resolved paths, as written into qc.json.
  nlohmann::json canonical;
};

/// The spellings the sweep file and the command line use.
std::string to_string(DetectorKind kind);
std::string to_string(SelectPolicy policy);
std::string to_string(FallbackPolicy policy);

/// Parses a face variant's settings: the keys of a sweep `variants:` entry (detector, model, boxes,
/// cascade, margin, square, select, align, fallback, min_size, qc {min_face_px, blur_threshold,
/// iou_threshold}); a crop task's `dataset` key is accepted and ignored. Missing keys take the
/// sweep file's defaults; `detector: "boxes:FILE"` is short for detector boxes with boxes FILE.
/// Relative paths are resolved against `base_dir` ("~/" expands to $HOME); a missing cascade is
/// searched for in OpenCV's data folders. ConfigError naming the key for a bad value, an
/// inconsistent combination, or a file (cascade, model, boxes) that does not exist.
CropConfig parse_crop_config(const nlohmann::json& variant_params,
                             const std::filesystem::path& base_dir);

/// Finds a file shipped with OpenCV's data (e.g. "haarcascades/haarcascade_eye.xml") in
/// $FERSWEEP_OPENCV_DATA, /usr/share/opencv4, /usr/local/share/opencv4, /usr/share/opencv and
/// /usr/local/share/opencv; ConfigError listing the folders searched when it is not found.
std::filesystem::path find_opencv_data_file(const std::string& relative);

}  // namespace fersweep::faces
