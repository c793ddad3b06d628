// The rules across face-variant fields, and the spellings of the choices.
#include "faces/settings.h"

#include <fmt/format.h>

#include "core/error.h"

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

namespace {

template <class Enum>
void read_enum(const nlohmann::json& j, Enum& out, const std::vector<std::string>& names,
               const char* what) {
  const auto value = enum_named<Enum>(names, j.get<std::string>());
  if (!value) throw ConfigError(fmt::format("face variant: unknown {} {}", what, j.dump()));
  out = *value;
}

}  // namespace

void to_json(nlohmann::json& j, DetectorKind kind) {
  j = to_string(kind);
}
void from_json(const nlohmann::json& j, DetectorKind& kind) {
  read_enum(j, kind, kDetectorNames, "detector");
}
void to_json(nlohmann::json& j, SelectPolicy policy) {
  j = to_string(policy);
}
void from_json(const nlohmann::json& j, SelectPolicy& policy) {
  read_enum(j, policy, kSelectNames, "face selection");
}
void to_json(nlohmann::json& j, FallbackPolicy policy) {
  j = to_string(policy);
}
void from_json(const nlohmann::json& j, FallbackPolicy& policy) {
  read_enum(j, policy, kFallbackNames, "fallback");
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
  if (s.detector == DetectorKind::dataset && s.fallback == FallbackPolicy::boxes)
    out.push_back({"fallback",
                   "detector dataset already reads the dataset's boxes; fallback boxes would read "
                   "another box for the same face"});
  if (!wants_boxes && s.boxes)
    out.push_back({"boxes", "a boxes file is only used with detector boxes or fallback boxes"});
  return out;
}

}  // namespace fersweep::faces
