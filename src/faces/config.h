// A face-crop variant ready to run: its settings (faces/settings.h) with the files resolved.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "faces/settings.h"

namespace fersweep::faces {

/// Validated settings of one face-crop variant with the files they name resolved (absolute,
/// checked to exist) and the defaults' files found in OpenCV's data folders.
struct CropConfig : CropSettings {
  std::filesystem::path cascade_file;      ///< haar/lbp: the cascade XML
  std::filesystem::path model_file;        ///< yunet: the ONNX model
  std::filesystem::path boxes_file;        ///< detector boxes / fallback boxes: the CSV
  std::filesystem::path eye_cascade_file;  ///< align with haar/lbp/boxes: the Haar eye cascade
  /// The settings with the resolved files, as written into qc.json.
  nlohmann::json canonical;
};

/// Checks the rules across fields (crop_settings_problems: the first one broken) and resolves the
/// files: relative paths against `base_dir` ("~/" expands to $HOME), a cascade not given is
/// OpenCV's (searched for in its data folders), the eye cascade when aligning without YuNet.
/// ConfigError "face variant: KEY: MESSAGE" for a broken rule or a file that does not exist.
CropConfig resolve_crop_config(const CropSettings& settings, const std::filesystem::path& base_dir);

/// Finds a file shipped with OpenCV's data (e.g. "haarcascades/haarcascade_eye.xml") in
/// $FERSWEEP_OPENCV_DATA, /usr/share/opencv4, /usr/local/share/opencv4, /usr/share/opencv and
/// /usr/local/share/opencv; ConfigError listing the folders searched when it is not found.
std::filesystem::path find_opencv_data_file(const std::string& relative);

}  // namespace fersweep::faces
