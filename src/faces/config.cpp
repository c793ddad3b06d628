// Resolving a face variant's files; every message names the key it is about.
#include "faces/config.h"

#include <fmt/format.h>

#include <cstdlib>
#include <vector>

#include "core/error.h"

namespace fersweep::faces {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

[[noreturn]] void fail(const std::string& key, const std::string& message) {
  throw ConfigError(fmt::format("face variant: {}: {}", key, message));
}

fs::path resolve(const std::string& written, const fs::path& base_dir) {
  fs::path p = written;
  if (written.rfind("~/", 0) == 0) {
    if (const char* home = std::getenv("HOME")) p = fs::path(home) / written.substr(2);
  }
  if (p.is_relative()) p = base_dir / p;
  return p.lexically_normal();
}

// A user-given file that must exist and be a regular file.
fs::path existing_file(const std::string& key, const std::string& written, const fs::path& base,
                       const char* what) {
  const fs::path p = resolve(written, base);
  std::error_code ec;
  if (!fs::exists(p, ec)) fail(key, fmt::format("{} {} does not exist", what, p.string()));
  if (!fs::is_regular_file(p, ec)) fail(key, fmt::format("{} {} is not a file", what, p.string()));
  return p;
}

// A file from OpenCV's data folders; a missing one is reported at `key`.
fs::path opencv_file(const std::string& key, const std::string& relative) {
  try {
    return find_opencv_data_file(relative);
  } catch (const ConfigError& e) {
    fail(key, e.what());
  }
}

json path_or_null(const fs::path& p) {
  return p.empty() ? json(nullptr) : json(p.string());
}

}  // namespace

fs::path find_opencv_data_file(const std::string& relative) {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("FERSWEEP_OPENCV_DATA"); env && *env) dirs.emplace_back(env);
  for (const char* d : {"/usr/share/opencv4", "/usr/local/share/opencv4", "/usr/share/opencv",
                        "/usr/local/share/opencv"})
    dirs.emplace_back(d);
  std::string searched;
  for (const auto& d : dirs) {
    std::error_code ec;
    if (fs::is_regular_file(d / relative, ec)) return d / relative;
    searched += (searched.empty() ? "" : ", ") + d.string();
  }
  throw ConfigError(
      fmt::format("OpenCV data file {} not found (searched {}); install opencv-data, set "
                  "FERSWEEP_OPENCV_DATA to the folder holding it, or give the file's path",
                  relative, searched));
}

CropConfig resolve_crop_config(const CropSettings& settings, const fs::path& base_dir) {
  if (const auto problems = crop_settings_problems(settings); !problems.empty())
    fail(problems.front().key, problems.front().message);
  CropConfig c;
  static_cast<CropSettings&>(c) = settings;
  if (settings.model)
    c.model_file = existing_file("model", *settings.model, base_dir, "YuNet model file");
  if (settings.detector == DetectorKind::haar || settings.detector == DetectorKind::lbp) {
    c.cascade_file =
        settings.cascade
            ? existing_file("cascade", *settings.cascade, base_dir, "cascade file")
            : opencv_file("cascade", settings.detector == DetectorKind::haar
                                         ? "haarcascades/haarcascade_frontalface_default.xml"
                                         : "lbpcascades/lbpcascade_frontalface_improved.xml");
  }
  if (settings.boxes)
    c.boxes_file = existing_file("boxes", *settings.boxes, base_dir, "boxes file");
  if (settings.align && settings.detector != DetectorKind::yunet)  // YuNet gives eye landmarks
    c.eye_cascade_file = opencv_file("align", "haarcascades/haarcascade_eye.xml");
  c.canonical = settings;
  c.canonical["model"] = path_or_null(c.model_file);
  c.canonical["boxes"] = path_or_null(c.boxes_file);
  c.canonical["cascade"] = path_or_null(c.cascade_file);
  return c;
}

}  // namespace fersweep::faces
