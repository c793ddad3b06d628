// The face-crop dataset variant: detect the face in every image, decide its crop (margin, square,
// border, alignment, fallback), check the crops' quality, and write the cropped dataset.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "data/dataset.h"
#include "faces/config.h"

namespace fersweep::faces {

/// A crop in original-image pixel coordinates: centre, size and rotation (alignment), so that
/// `apply_crop` can cut it from the decoded image. `angle_deg` follows cv::RotatedRect: the
/// crop's x axis is rotated clockwise (image y points down) by that many degrees.
struct Crop {
  float cx = 0, cy = 0, width = 0, height = 0, angle_deg = 0;
};

/// {"cx", "cy", "width", "height", "angle_deg"}.
nlohmann::json to_json(const Crop& crop);
/// The inverse of to_json; DataError naming the key when one is missing or not a finite number
/// (or a size is not positive).
Crop crop_from_json(const nlohmann::json& value);

/// Everything the crop stage decided, and its quality report.
struct CropOutcome {
  std::vector<std::optional<Crop>> crops;  ///< per manifest image; nullopt = dropped
  /// The qc.json document: config, dataset, thresholds, summary, per-class statistics and one
  /// record per image (docs/faces.md).
  nlohmann::json qc;
  std::vector<unsigned char> contact_sheet_png;  ///< the contact sheet, PNG-encoded
};

/// Detects faces in every image of `manifest` on `threads` threads (<= 0: every core) and decides
/// each crop; computes the quality report and draws the contact sheet. True boxes for the IoU
/// check come from `<dataset root>/face_boxes.csv` when it exists, else from the config's boxes
/// file. DataError naming the file for an unreadable image or a bad boxes CSV (file:line);
/// ConfigError for a cascade or model OpenCV cannot load.
CropOutcome crop_faces(const data::Manifest& manifest, const CropConfig& config, int threads);

/// The cropped image (rotated when aligned), RGB uint8, `round(width)` x `round(height)`
/// pixels. An unrotated crop is cut out (clipped at the border); a rotated one is resampled
/// bilinearly, repeating the border pixels where a corner leaves the image. DataError when the
/// crop does not overlap the image.
cv::Mat apply_crop(const cv::Mat& rgb, const Crop& crop);

/// Name of sample i's cropped image in the output, a PNG (lossless, so the variant differs from
/// the original only by the crop): a folders dataset's relative path with extension ".png"; for
/// the other formats CLASS/NAME with '/', ':' and '#' as '_' in NAME (a folders dataset): an image
/// file's path with extension ".png", a row's or face's identity with ".png" appended
/// (Happy/fer2013.csv_12.png).
std::string cropped_relative_path(const data::Manifest& manifest, std::size_t i);

/// Writes the cropped dataset to `out_dir` in SFEW layout (one folder per class, PNG files named
/// by cropped_relative_path; usable as a dataset root), then `qc.json` and `contact_sheet.png`
/// (qc.json last: its presence marks a complete output). `out_dir` must not exist or be empty
/// (IoError otherwise). Images are read again and cropped on `threads` threads.
void write_cropped_dataset(const data::Manifest& manifest, const CropOutcome& outcome,
                           const std::filesystem::path& out_dir, int threads);

/// A few lines for the log: the summary and a per-class table of the quality report.
std::string format_qc_summary(const nlohmann::json& qc);

}  // namespace fersweep::faces
