// Parsing and validation of face-variant settings; every message names the key it is about.
#include "faces/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "core/error.h"

namespace fersweep::faces {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kWhat = "face variant";

const std::vector<std::string> kKeys = {"detector", "model",    "boxes",  "cascade",
                                        "margin",   "square",   "select", "align",
                                        "fallback", "min_size", "qc",     "dataset"};
const std::vector<std::string> kQcKeys = {"min_face_px", "blur_threshold", "iou_threshold"};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out;
}

[[noreturn]] void fail(const std::string& key, const std::string& message) {
  throw ConfigError(fmt::format("{}: {}: {}", kWhat, key, message));
}

// The value of `key` in `obj`, or nullptr when absent or null (null means "use the default").
const json* find(const json& obj, const std::string& key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

template <class Enum>
Enum choice(const json& obj, const std::string& key, const std::vector<std::string>& names,
            Enum fallback) {
  const json* v = find(obj, key);
  if (!v) return fallback;
  if (!v->is_string()) fail(key, fmt::format("expected one of {}, got {}", join(names), v->dump()));
  const auto s = v->get<std::string>();
  const auto it = std::find(names.begin(), names.end(), s);
  if (it == names.end()) fail(key, fmt::format("unknown value '{}' (one of {})", s, join(names)));
  return static_cast<Enum>(it - names.begin());
}

double number(const json& obj, const std::string& key, double fallback, double lo, double hi,
              const std::string& prefix = "") {
  const json* v = find(obj, key);
  if (!v) return fallback;
  if (!v->is_number()) fail(prefix + key, fmt::format("expected a number, got {}", v->dump()));
  const double x = v->get<double>();
  if (std::isinf(hi) && !(x >= lo && std::isfinite(x)))
    fail(prefix + key, fmt::format("{} must be a number >= {}", v->dump(), lo));
  if (!std::isfinite(x) || x < lo || x > hi)
    fail(prefix + key, fmt::format("{} is out of range [{}, {}]", v->dump(), lo, hi));
  return x;
}

int integer(const json& obj, const std::string& key, int fallback, int lo, int hi,
            const std::string& prefix = "") {
  const json* v = find(obj, key);
  if (!v) return fallback;
  if (!v->is_number_integer() &&
      !(v->is_number_float() && std::floor(v->get<double>()) == v->get<double>()))
    fail(prefix + key, fmt::format("expected a whole number, got {}", v->dump()));
  const double x = v->get<double>();
  if (x < lo || x > hi)
    fail(prefix + key, fmt::format("{} is out of range [{}, {}]", v->dump(), lo, hi));
  return static_cast<int>(x);
}

bool boolean(const json& obj, const std::string& key, bool fallback) {
  const json* v = find(obj, key);
  if (!v) return fallback;
  if (!v->is_boolean()) fail(key, fmt::format("expected true or false, got {}", v->dump()));
  return v->get<bool>();
}

std::string string(const json& obj, const std::string& key) {
  const json* v = find(obj, key);
  if (!v) return {};
  if (!v->is_string() || v->get<std::string>().empty())
    fail(key, fmt::format("expected a file path, got {}", v->dump()));
  return v->get<std::string>();
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

}  // namespace

std::string to_string(DetectorKind kind) {
  switch (kind) {
    case DetectorKind::haar:
      return "haar";
    case DetectorKind::lbp:
      return "lbp";
    case DetectorKind::yunet:
      return "yunet";
    case DetectorKind::boxes:
      return "boxes";
  }
  return "?";
}

std::string to_string(SelectPolicy policy) {
  switch (policy) {
    case SelectPolicy::largest:
      return "largest";
    case SelectPolicy::central:
      return "central";
    case SelectPolicy::score:
      return "score";
  }
  return "?";
}

std::string to_string(FallbackPolicy policy) {
  switch (policy) {
    case FallbackPolicy::keep:
      return "keep";
    case FallbackPolicy::center:
      return "center";
    case FallbackPolicy::drop:
      return "drop";
    case FallbackPolicy::boxes:
      return "boxes";
  }
  return "?";
}

fs::path find_opencv_data_file(const std::string& relative) {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("FERSWEEP_OPENCV_DATA"); env && *env) dirs.emplace_back(env);
  for (const char* d : {"/usr/share/opencv4", "/usr/local/share/opencv4", "/usr/share/opencv",
                        "/usr/local/share/opencv"})
    dirs.emplace_back(d);
  std::vector<std::string> searched;
  for (const auto& d : dirs) {
    std::error_code ec;
    if (fs::is_regular_file(d / relative, ec)) return d / relative;
    searched.push_back(d.string());
  }
  throw ConfigError(
      fmt::format("OpenCV data file {} not found (searched {}); install opencv-data, set "
                  "FERSWEEP_OPENCV_DATA to the folder holding it, or give the file's path",
                  relative, join(searched)));
}

CropConfig parse_crop_config(const json& params, const fs::path& base_dir) {
  if (!params.is_object())
    throw ConfigError(fmt::format("{}: expected a map of settings, got {}", kWhat, params.dump()));
  for (const auto& [key, value] : params.items()) {
    (void)value;
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end())
      fail(key, fmt::format("unknown key (known: {})", join(kKeys)));
  }
  CropConfig c;
  std::string boxes_written = string(params, "boxes");
  if (const json* d = find(params, "detector");
      d && d->is_string() && d->get<std::string>().rfind("boxes:", 0) == 0) {
    // The command line's `--detector boxes:FILE.csv`.
    const std::string file = d->get<std::string>().substr(6);
    if (file.empty()) fail("detector", "boxes: needs a file name, as in boxes:FILE.csv");
    if (!boxes_written.empty() && boxes_written != file)
      fail("boxes", fmt::format("two boxes files given ({} and {})", file, boxes_written));
    boxes_written = file;
    c.detector = DetectorKind::boxes;
  } else {
    c.detector = choice(params, "detector", {"haar", "lbp", "yunet", "boxes"}, DetectorKind::haar);
  }
  c.margin = number(params, "margin", 0.2, 0, 2);
  c.square = boolean(params, "square", true);
  c.select = choice(params, "select", {"largest", "central", "score"}, SelectPolicy::largest);
  c.align = boolean(params, "align", false);
  c.fallback =
      choice(params, "fallback", {"keep", "center", "drop", "boxes"}, FallbackPolicy::keep);
  c.min_size = integer(params, "min_size", 20, 1, 100000);
  if (const json* q = find(params, "qc")) {
    if (!q->is_object()) fail("qc", fmt::format("expected a map, got {}", q->dump()));
    for (const auto& [key, value] : q->items()) {
      (void)value;
      if (std::find(kQcKeys.begin(), kQcKeys.end(), key) == kQcKeys.end())
        fail("qc." + key, fmt::format("unknown key (known: {})", join(kQcKeys)));
    }
    c.qc.min_face_px = integer(*q, "min_face_px", 48, 0, 100000, "qc.");
    c.qc.blur_threshold =
        number(*q, "blur_threshold", 50, 0, std::numeric_limits<double>::infinity(), "qc.");
    c.qc.iou_threshold = number(*q, "iou_threshold", 0.5, 0, 1, "qc.");
  }

  const std::string cascade_written = string(params, "cascade");
  const std::string model_written = string(params, "model");
  const bool cascade_detector = c.detector == DetectorKind::haar || c.detector == DetectorKind::lbp;
  if (!cascade_written.empty() && !cascade_detector)
    fail("cascade", "only detectors haar and lbp use a cascade file");
  if (!model_written.empty() && c.detector != DetectorKind::yunet)
    fail("model", "only detector yunet uses a model file");
  const bool wants_boxes = c.detector == DetectorKind::boxes || c.fallback == FallbackPolicy::boxes;
  if (wants_boxes && boxes_written.empty())
    fail(c.detector == DetectorKind::boxes ? "detector" : "fallback",
         "detector boxes and fallback boxes need a boxes CSV (`boxes: FILE.csv`)");
  if (!wants_boxes && !boxes_written.empty())
    fail("boxes", "a boxes file is only used with detector boxes or fallback boxes");

  if (c.detector == DetectorKind::yunet) {
    if (model_written.empty())
      fail("model",
           "detector yunet needs its ONNX model file (`model: PATH`; OpenCV 4.6 reads "
           "face_detection_yunet_2022mar.onnx)");
    c.model = existing_file("model", model_written, base_dir, "YuNet model file");
  }
  if (cascade_detector) {
    if (!cascade_written.empty()) {
      c.cascade = existing_file("cascade", cascade_written, base_dir, "cascade file");
    } else {
      try {
        c.cascade = find_opencv_data_file(c.detector == DetectorKind::haar
                                              ? "haarcascades/haarcascade_frontalface_default.xml"
                                              : "lbpcascades/lbpcascade_frontalface_improved.xml");
      } catch (const ConfigError& e) {
        fail("cascade", e.what());
      }
    }
  }
  if (wants_boxes) c.boxes = existing_file("boxes", boxes_written, base_dir, "boxes file");
  if (c.align && c.detector != DetectorKind::yunet) {  // YuNet gives eye landmarks itself
    try {
      c.eye_cascade = find_opencv_data_file("haarcascades/haarcascade_eye.xml");
    } catch (const ConfigError& e) {
      fail("align", e.what());
    }
  }

  auto path_or_null = [](const fs::path& p) {
    return p.empty() ? json(nullptr) : json(p.string());
  };
  c.canonical = {{"detector", to_string(c.detector)},
                 {"model", path_or_null(c.model)},
                 {"boxes", path_or_null(c.boxes)},
                 {"cascade", path_or_null(c.cascade)},
                 {"margin", c.margin},
                 {"square", c.square},
                 {"select", to_string(c.select)},
                 {"align", c.align},
                 {"fallback", to_string(c.fallback)},
                 {"min_size", c.min_size},
                 {"qc",
                  {{"min_face_px", c.qc.min_face_px},
                   {"blur_threshold", c.qc.blur_threshold},
                   {"iou_threshold", c.qc.iou_threshold}}}};
  return c;
}

}  // namespace fersweep::faces
