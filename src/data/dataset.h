// Datasets in any of the FER formats (data/settings.h, docs/datasets.md), scanned into a manifest
// with a content fingerprint; every bad input is reported with the file (and line) it is about.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <opencv2/core/mat.hpp>

#include "data/settings.h"

namespace fersweep::data {

/// Where a sample's pixels come from.
enum class SampleKind : std::uint8_t {
  file,       ///< an image file (relative_path)
  pixel_row,  ///< a row of 48x48 grey pixels in a CSV file (FER2013), decoded when read
  face_crop,  ///< the box of an image file (ExpW: one line per face), cut out when read
};

/// A face box in pixels.
struct Box {
  int x = 0, y = 0, w = 0, h = 0;
  bool operator==(const Box& o) const { return x == o.x && y == o.y && w == o.w && h == o.h; }
};

/// One sample of a dataset.
struct ImageEntry {
  /// The sample's identity in results and feature files: a path relative to the dataset root
  /// ('/'-separated), or FILE:LINE for a CSV row (FILE:LINE#FACE where a line is one face).
  std::string relative_path;
  int label = 0;        ///< index into Manifest::classes
  std::string subject;  ///< the person shown (CK+, JAFFE); "" when the format has none
  std::string split;    ///< the dataset's own split the sample belongs to; "" when none
  SampleKind kind = SampleKind::file;
  std::string file;          ///< pixel_row, face_crop: the file read, relative to the root
  std::uint64_t offset = 0;  ///< pixel_row: byte offset of the row in `file`
  std::optional<Box> box;    ///< the dataset's face box (face_crop: the part cut out)
};

/// JSON of a sample for the run context: [path, label] for a plain file, else [path, label,
/// subject, split, kind, file, offset, box ([x, y, w, h] or null)].
void to_json(nlohmann::json& j, const ImageEntry& e);
void from_json(const nlohmann::json& j, ImageEntry& e);

/// Everything fersweep knows about a dataset after scanning it.
struct Manifest {
  std::filesystem::path root;        ///< the dataset directory as given
  std::vector<std::string> classes;  ///< class names; a label indexes this
  std::vector<ImageEntry> images;    ///< sorted by relative_path (byte order)
  /// Hex SHA-256 over the class list and, per image in manifest order, its relative path, label
  /// and the SHA-256 of its file contents: renaming, relabelling, editing, adding or removing an
  /// image changes it; copying the dataset elsewhere or touching mtimes does not.
  std::string fingerprint;
  std::size_t ignored_files = 0;        ///< non-image files inside class folders
  std::vector<std::string> bad_images;  ///< skipped unreadable images, "path: reason"
  /// Samples the dataset has but the study leaves out, counted by class (a class not in
  /// dataset.classes) or by the format's reason (e.g. "FER+ no majority", "AffectNet None").
  std::map<std::string, std::size_t> left_out;
  Format format = Format::folders;
  /// Label per image, in manifest order.
  std::vector<int> labels() const;
  /// Number of images per class.
  std::vector<std::size_t> class_counts() const;
  /// Absolute path of the file sample `i` is read from.
  std::filesystem::path path(std::size_t i) const;
};

/// How to scan a dataset.
struct ScanOptions {
  /// Classes to use, in label order (folders: folder names, other formats: canonical names);
  /// empty: every class the dataset has, sorted by name.
  std::vector<std::string> classes;
  /// The format and its options.
  DatasetLayout layout;
  /// Leave unreadable images out (listed in Manifest::bad_images) instead of failing.
  bool skip_bad_images = false;
  /// Threads that hash and decode images; <= 0: every core.
  int threads = 0;
  /// Where the scan cache lives (one file per dataset root: each image's size, modification
  /// time, hash and check result); empty: no cache, every image is read and decoded.
  std::filesystem::path cache_dir;
};

/// True for a file name whose extension (any case) is an image format OpenCV decodes.
bool is_image_file(const std::filesystem::path& file);

/// Scans `root` in options.layout's format. folders: one subfolder per class (searched
/// recursively), images sorted by relative path; with `splits`, one such tree per split folder.
/// Other formats: see docs/datasets.md (rows in file order, files sorted by path). Every image is
/// read, hashed and decoded once (every row parsed and checked), so a bad file is found now, not
/// hours into a sweep. DataError when the root or a class folder is missing, a class has no
/// images, or (without skip_bad_images) any image is unreadable, corrupt or truncated — the message
/// lists every one; DataFormatError (exit 2) naming file and line for a file that breaks its
/// format's rules; ConfigError for a class name the format does not have.
Manifest scan_dataset(const std::filesystem::path& root, const ScanOptions& options = {});

/// Sample `i` as 3-channel 8-bit RGB: its file decoded (read_rgb), its row's pixels, or its face
/// cut out of its image. DataError naming the sample when it cannot be read.
cv::Mat read_sample(const Manifest& manifest, std::size_t i);

/// Decodes an image file as 3-channel 8-bit RGB (grayscale is replicated, alpha dropped, EXIF
/// orientation applied, 16-bit scaled down). DataError naming the file when it cannot be decoded.
cv::Mat read_rgb(const std::filesystem::path& file);

}  // namespace fersweep::data
