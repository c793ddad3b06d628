// Face detectors behind one interface (Haar/LBP cascades, YuNet), and eye finding for alignment.
// A detector object is not thread-safe: make one per thread.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include <opencv2/core/mat.hpp>
#include <opencv2/core/types.hpp>

#include "faces/config.h"

namespace fersweep::faces {

/// Centres of the two eyes, in image pixels; `left` is the one with the smaller x.
struct EyePair {
  cv::Point2f left, right;
  /// Rotation of the line through the eyes, degrees, clockwise positive in image coordinates
  /// (y down): rotating the image by this angle about any point makes the eyes level.
  double angle_deg() const;
};

/// One face found in an image.
struct Detection {
  cv::Rect2f box;
  /// Haar/LBP: raw detections merged into this box (neighbours); YuNet: its score in [0, 1].
  float score = 0;
  std::optional<EyePair> eyes;  ///< YuNet's eye landmarks
};

/// A face detector (one per thread).
class FaceDetector {
 public:
  virtual ~FaceDetector() = default;
  /// Faces in an 8-bit RGB image, sorted by area (largest first), then top-left corner.
  virtual std::vector<Detection> detect(const cv::Mat& rgb) = 0;
};

/// The detector of `config` (haar, lbp or yunet; not boxes). ConfigError naming the cascade or
/// model file when OpenCV cannot load it.
std::unique_ptr<FaceDetector> make_detector(const CropConfig& config);

/// Finds the eyes inside `face` with the Haar eye cascade (one per thread): the largest eye
/// detection on each side of the face, between 15% and 55% of its height. nullopt when it does not
/// find both, they are not 20-70% of the face width apart, or the line through them is steeper
/// than 30 degrees.
class EyeFinder {
 public:
  /// ConfigError naming the file when the cascade cannot be loaded.
  explicit EyeFinder(const std::filesystem::path& eye_cascade);
  ~EyeFinder();
  EyeFinder(const EyeFinder&) = delete;
  EyeFinder& operator=(const EyeFinder&) = delete;
  std::optional<EyePair> find(const cv::Mat& rgb, const cv::Rect2f& face);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Sorts detections by area (largest first), then by y and x, so results do not depend on the
/// order OpenCV's parallel stripes report them in.
void sort_detections(std::vector<Detection>& faces);

}  // namespace fersweep::faces
