// Settings of a face-crop variant as the user writes them (a sweep's `variants:` entry, the
// options of `fersweep crop-faces`): one struct, one field list for JSON both ways, the defaults
// as member initialisers, the allowed ranges and the rules across fields. The sweep loader
// (sweep/spec.cpp) and the crop-faces command read values into it; faces/config.h resolves the
// files it names. No OpenCV here.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/json_optional.h"

namespace fersweep::faces {

/// Which face detector finds the boxes.
enum class DetectorKind {
  haar,     ///< OpenCV Haar frontal-face cascade (the default)
  lbp,      ///< OpenCV LBP frontal-face cascade
  yunet,    ///< cv::FaceDetectorYN with a user-supplied ONNX model
  boxes,    ///< boxes read from a CSV file (manual crops)
  dataset,  ///< the dataset's own face boxes (formats affectnet and expw)
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

/// The spellings, in enum order (sweep files, the command line, JSON).
inline const std::vector<std::string> kDetectorNames = {"haar", "lbp", "yunet", "boxes", "dataset"};
inline const std::vector<std::string> kSelectNames = {"largest", "central", "score"};
inline const std::vector<std::string> kFallbackNames = {"keep", "center", "drop", "boxes"};

/// The value at `name`'s position in `names` (an enum's spellings above); nullopt for a name
/// not there.
template <class Enum>
std::optional<Enum> enum_named(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) return std::nullopt;
  return static_cast<Enum>(it - names.begin());
}

std::string to_string(DetectorKind kind);
std::string to_string(SelectPolicy policy);
std::string to_string(FallbackPolicy policy);

// JSON spells the choices as above; reading an unknown spelling throws ConfigError.
void to_json(nlohmann::json& j, DetectorKind kind);
void from_json(const nlohmann::json& j, DetectorKind& kind);
void to_json(nlohmann::json& j, SelectPolicy policy);
void from_json(const nlohmann::json& j, SelectPolicy& policy);
void to_json(nlohmann::json& j, FallbackPolicy policy);
void from_json(const nlohmann::json& j, FallbackPolicy& policy);

/// Quality-control thresholds: crops past them are flagged in qc.json and on the contact sheet.
struct QcThresholds {
  int min_face_px = 48;        ///< a face box (or fallback crop) narrower than this is "tiny"
  double blur_threshold = 50;  ///< variance of the Laplacian (crop at 128x128) below is "blurry"
  double iou_threshold = 0.5;  ///< IoU with the true box below this is "low_iou"
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(QcThresholds, min_face_px, blur_threshold,
                                                iou_threshold)

/// One face variant's settings. Files are as written (relative to the sweep file's folder or the
/// working directory); absent ones are null in JSON. A crop task's parameters are this object
/// (plus `dataset`), so its JSON form is part of the task id: keep the keys and their order of
/// types.
struct CropSettings {
  DetectorKind detector = DetectorKind::haar;
  std::optional<std::string> model;    ///< yunet: the ONNX model
  std::optional<std::string> boxes;    ///< detector boxes / fallback boxes: the CSV
  std::optional<std::string> cascade;  ///< haar/lbp: a cascade XML other than OpenCV's
  double margin = 0.2;  ///< added on every side of the face box, as a fraction of its size
  bool square = true;   ///< make the crop square (the larger side of the box with its margin)
  SelectPolicy select = SelectPolicy::largest;
  bool align = false;  ///< rotate the crop so that the eyes are level
  FallbackPolicy fallback = FallbackPolicy::keep;
  int min_size = 20;  ///< smallest face the detector looks for, in pixels
  QcThresholds qc;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CropSettings, detector, model, boxes, cascade,
                                                margin, square, select, align, fallback, min_size,
                                                qc)

/// Allowed ranges (inclusive), shared by the sweep loader and the command line.
struct CropLimits {
  static constexpr double max_margin = 2;
  static constexpr int max_min_size = 100000;     ///< min_size is at least 1
  static constexpr int max_min_face_px = 100000;  ///< qc.min_face_px is at least 0
  // qc.blur_threshold: >= 0; qc.iou_threshold: [0, 1].
};

/// A rule broken across fields: the key it is reported at (as in a sweep file, e.g. "model") and
/// the message.
struct SettingProblem {
  std::string key;
  std::string message;
};

/// The rules that involve more than one field: files only some detectors use (a typo'd detector
/// would otherwise silently ignore the file the user meant) and files a choice needs. Empty when
/// the settings are consistent.
std::vector<SettingProblem> crop_settings_problems(const CropSettings& settings);

}  // namespace fersweep::faces
