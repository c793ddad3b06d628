// A cheap look at the dataset a sweep names (class folders and image counts) and the checks that
// need it: listed classes exist, folds <= smallest class, referenced files exist.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "sweep/plan.h"

namespace fersweep::sweep {

/// Class folders and image counts found under dataset.root (a directory walk; nothing decoded).
struct DatasetCensus {
  bool found = false;                ///< the root exists and is a directory
  std::filesystem::path root;        ///< dataset.root, resolved
  std::vector<std::string> classes;  ///< dataset.classes, or every class folder (sorted)
  std::vector<std::size_t> images;   ///< image files per class (0 for a missing folder)
  std::vector<std::string> missing;  ///< listed classes without a folder
  std::string format = "folders";    ///< dataset.format
  /// Samples the study leaves out, by class or by the format's reason (data::Manifest::left_out).
  std::map<std::string, std::size_t> left_out;
  /// Why the dataset's label files cannot be read, or their bad lines (formats other than plain
  /// folders, whose labels the census reads).
  std::vector<std::string> errors;
  /// Total number of image files.
  std::size_t total() const;
};

/// Walks dataset.root (one level of class folders; files with an image extension are counted).
/// Other formats (and folders with splits) are read the way a scan reads them, without decoding
/// images: label files and rows, so the counts per class and the left-out samples are exact.
DatasetCensus census_dataset(const SweepSpec& spec);

/// Problems the dataset and referenced files reveal, each "LOC: key: message". The dataset-based
/// checks (classes, folds vs smallest class) run when the root exists; with `require_files`, a
/// missing root, cascade/model/boxes file or weights path is a problem too.
std::vector<std::string> dataset_problems(const Plan& plan, const DatasetCensus& census,
                                          bool require_files);

}  // namespace fersweep::sweep
