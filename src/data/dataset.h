// SFEW-layout datasets: a folder per class, scanned into a sorted manifest with a content
// fingerprint; every bad input is reported with the path it is about.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace fersweep::data {

/// One image of a dataset.
struct ImageEntry {
  std::string relative_path;  ///< relative to the dataset root, '/'-separated
  int label = 0;              ///< index into Manifest::classes
};

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
  /// Label per image, in manifest order.
  std::vector<int> labels() const;
  /// Number of images per class.
  std::vector<std::size_t> class_counts() const;
  /// Absolute path of image `i`.
  std::filesystem::path path(std::size_t i) const;
};

/// How to scan a dataset.
struct ScanOptions {
  /// Class folders to use, in label order; empty: every subfolder of the root, sorted by name.
  std::vector<std::string> classes;
  /// Leave unreadable images out (listed in Manifest::bad_images) instead of failing.
  bool skip_bad_images = false;
  /// Threads that hash and decode images; <= 0: every core.
  int threads = 0;
};

/// True for a file name whose extension (any case) is an image format OpenCV decodes.
bool is_image_file(const std::filesystem::path& file);

/// Scans `root`: one subfolder per class (searched recursively), images sorted by relative path.
/// Every image is read, hashed and decoded once, so a bad file is found now, not hours into a
/// sweep. DataError when the root or a class folder is missing, a class has no images, or (without
/// skip_bad_images) any image is unreadable, corrupt or truncated — the message lists every one.
Manifest scan_dataset(const std::filesystem::path& root, const ScanOptions& options = {});

/// Decodes an image file as 3-channel 8-bit RGB (grayscale is replicated, alpha dropped, EXIF
/// orientation applied, 16-bit scaled down). DataError naming the file when it cannot be decoded.
cv::Mat read_rgb(const std::filesystem::path& file);

}  // namespace fersweep::data
