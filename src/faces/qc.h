// Quality control of face crops: per-image measurements and flags, per-class statistics
// (qc.json), and the contact sheet.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>
#include <opencv2/core/types.hpp>

#include "data/dataset.h"
#include "faces/config.h"
#include "faces/crop.h"

namespace fersweep::faces {

/// What the crop stage found and decided for one image.
struct ImageRecord {
  cv::Size image_size;                  ///< the decoded image's size
  int faces = 0;                        ///< faces the detector reported (boxes detector: 0 or 1)
  std::optional<cv::Rect2f> face;       ///< the face box the crop was made from (detected or CSV)
  float score = 0;                      ///< the chosen face's detector score
  std::optional<std::string> fallback;  ///< the policy applied when no face was found
  bool fallback_box_missing = false;    ///< fallback boxes, but the CSV has no box for this image
  std::optional<double> align_deg;      ///< rotation applied (align: true and eyes found)
  bool align_failed = false;            ///< align: true but the eyes were not found
  double blur = 0;                      ///< variance of the Laplacian of the grey crop at 128x128
  std::optional<cv::Rect2f> truth;      ///< the true box, where a boxes CSV gives one
  std::optional<double> iou;            ///< IoU of `face` with `truth` (both present)
  std::vector<std::string> flags;       ///< tiny, blurry, several_faces, low_iou
};

/// Side of the square the blur score is measured at, so that scores compare across crop sizes.
inline constexpr int kBlurSide = 128;

/// Variance of the Laplacian of the grey image resized to kBlurSide x kBlurSide.
double blur_score(const cv::Mat& rgb);

/// Sets the record's flags from the thresholds.
void flag_record(ImageRecord& record, const QcThresholds& thresholds);

/// The qc.json document (docs/faces.md describes it). `truth_file` is the boxes CSV true boxes
/// came from (empty: none).
nlohmann::json build_qc_report(const data::Manifest& manifest, const CropConfig& config,
                               const std::vector<ImageRecord>& records,
                               const std::vector<std::optional<Crop>>& crops,
                               const std::string& truth_file);

/// Geometry of the contact sheet: a title band, then per class a header band and rows of
/// `columns` cells of `cell` pixels, each holding a `thumb`-pixel thumbnail of the crop.
struct ContactSheetLayout {
  int cell = 72;
  int thumb = 64;
  int columns = 16;
  int title_height = 28;
  int header_height = 22;
  int max_tiles_per_class = 160;  ///< misses and flagged crops first, then the others
};

/// Size in pixels of a sheet showing `tiles_per_class[c]` tiles for class c (already capped).
cv::Size contact_sheet_size(const std::vector<int>& tiles_per_class,
                            const ContactSheetLayout& layout = {});

/// Draws the contact sheet (reading the images again on `threads` threads) and PNG-encodes it.
/// Misses (a fallback was used or the image dropped) are outlined red, flagged crops orange;
/// a dropped image shows the whole frame crossed out.
std::vector<unsigned char> draw_contact_sheet(const data::Manifest& manifest,
                                              const std::vector<ImageRecord>& records,
                                              const std::vector<std::optional<Crop>>& crops,
                                              const std::string& title, int threads,
                                              const ContactSheetLayout& layout = {});

}  // namespace fersweep::faces
