// The readers behind scan_dataset: each format's files → candidate samples with their class
// names (the format's labels already mapped to canonical names), before classes are chosen and
// images checked. Internal to data/; docs/datasets.md describes each layout.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "data/dataset.h"

namespace fersweep::data {

/// A sample found in the dataset's files.
struct Candidate {
  ImageEntry entry;  ///< label not yet set
  std::string cls;   ///< class name (folders: folder name; other formats: canonical)
  /// Hex SHA-256 of what the sample is made of when the reader has read it (a row's text);
  /// empty for files, which the scan hashes while checking them.
  std::string hash;
  std::string origin;  ///< "file:line" of the line that named it ("" for folder images)
};

/// What a reader found.
struct Collected {
  std::vector<Candidate> samples;
  std::vector<std::string> classes;             ///< folders: every class folder found, sorted
  std::map<std::string, std::size_t> left_out;  ///< by the format's reason
  std::vector<std::string> problems;            ///< "file:line: message" of bad rows and lines
  std::size_t ignored_files = 0;
  std::vector<std::string> ignored_examples;
  bool sorted_by_path = true;  ///< false: rows stay in file order
};

/// Reads `root` in `format`. `classes` (folders) limits the folders read; images in the other
/// folders are counted in left_out. DataFormatError for a file that cannot be parsed at all (a
/// wrong header, a missing label file); problems with single rows go to Collected::problems.
Collected collect_samples(Format format, const std::filesystem::path& root,
                          const ScanOptions& options);

/// The classes studied, in label order: options.classes (checked: names, duplicates, and for
/// formats other than folders the canonical names; ConfigError), or every class found, sorted.
std::vector<std::string> choose_classes(Format format, const Collected& found,
                                        const ScanOptions& options);

/// The 48x48 grey pixels of a FER2013 `pixels` field; false (with the reason in `why`) when it
/// does not hold exactly 2304 values from 0 to 255.
bool parse_pixels(std::string_view field, unsigned char* out, std::string& why);

/// The field of a CSV line at `column` (FER2013's rows have no quoted commas before `pixels`).
std::string_view csv_field(std::string_view line, std::size_t column);

}  // namespace fersweep::data
