// The rules across face-variant fields, and the spellings of the choices.
#include "faces/settings.h"

namespace fersweep::faces {

std::string to_string(DetectorKind kind) {
  return kDetectorNames.at(static_cast<int>(kind));
}
std::string to_string(SelectPolicy policy) {
  return kSelectNames.at(static_cast<int>(policy));
}
std::string to_string(FallbackPolicy policy) {
  return kFallbackNames.at(static_cast<int>(policy));
}

std::vector<SettingProblem> crop_settings_problems(const CropSettings& s) {
  std::vector<SettingProblem> out;
  const bool yunet = s.detector == DetectorKind::yunet;
  if (yunet && !s.model)
    out.push_back({"model",
                   "detector yunet needs its ONNX model file (`model: PATH`; OpenCV 4.6 reads "
                   "face_detection_yunet_2022mar.onnx)"});
  if (!yunet && s.model) out.push_back({"model", "only detector yunet uses a model file"});
  const bool cascade_detector = s.detector == DetectorKind::haar || s.detector == DetectorKind::lbp;
  if (!cascade_detector && s.cascade)
    out.push_back({"cascade", "only detectors haar and lbp use a cascade file"});
  const bool wants_boxes = s.detector == DetectorKind::boxes || s.fallback == FallbackPolicy::boxes;
  if (wants_boxes && !s.boxes)
    out.push_back({s.detector == DetectorKind::boxes ? "detector" : "fallback",
                   "detector boxes and fallback boxes need a boxes CSV (`boxes: FILE.csv`)"});
  if (!wants_boxes && s.boxes)
    out.push_back({"boxes", "a boxes file is only used with detector boxes or fallback boxes"});
  return out;
}

}  // namespace fersweep::faces
