// Face-box CSV files (`path,class,x,y,w,h`, as the demo dataset's face_boxes.csv): manual crops
// for detector/fallback `boxes`, and true boxes for the IoU check of quality control.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core/types.hpp>

#include "data/dataset.h"

namespace fersweep::faces {

/// One box of a boxes CSV, with the line it came from (for messages).
struct BoxRecord {
  cv::Rect rect;
  int line = 0;
};

/// The boxes of a CSV, per manifest image.
struct BoxTable {
  std::filesystem::path file;                   ///< the CSV that was read
  std::vector<std::optional<BoxRecord>> boxes;  ///< per manifest image; nullopt = not listed
  std::size_t listed = 0;                       ///< images of the manifest that have a box
  /// "file:line" of a box, for messages.
  std::string where(const BoxRecord& record) const;
};

/// Reads a boxes CSV for `manifest`. The header names the columns: `path`, `x`, `y`, `w`, `h`
/// are required (any order), others (such as `class`) are ignored; `path` is relative to the
/// dataset root, '/'-separated, the box in pixels (x, y >= 0; w, h > 0). Blank lines are skipped.
/// Lines for images that exist but are not part of the manifest (another class folder, a skipped
/// bad image) are ignored. DataError naming file:line for a malformed line, a duplicated path or a
/// path with no image under the dataset root; DataError naming the file when it cannot be read or
/// lacks a column.
BoxTable read_box_table(const std::filesystem::path& csv, const data::Manifest& manifest);

/// The dataset's own face boxes (data::ImageEntry::box, formats affectnet and expw) as a table,
/// in each sample's coordinates (an ExpW sample is its box, so its face is the whole sample);
/// nullopt when no sample has one.
std::optional<BoxTable> dataset_box_table(const data::Manifest& manifest);

/// Intersection over union of two boxes (0 when either is empty).
double iou(const cv::Rect2d& a, const cv::Rect2d& b);

}  // namespace fersweep::faces
