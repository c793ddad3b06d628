// Settings of a dataset (a sweep's `dataset:` section): where it is, which of the FER formats it
// ships in (docs/datasets.md), the format's own options, and how images are prepared. One field
// list, JSON both ways; the member initialisers are the defaults. No OpenCV or torch here.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/json_optional.h"

namespace fersweep::data {

/// The layouts fersweep reads (docs/datasets.md has one section per format).
enum class Format { folders, fer2013, ferplus, rafdb, affectnet, ckplus, jaffe, expw };

/// The spellings of Format, in enum order.
inline const std::vector<std::string> kFormatNames = {"folders",   "fer2013", "ferplus", "rafdb",
                                                      "affectnet", "ckplus",  "jaffe",   "expw"};

/// The format named `name`; nullopt for an unknown name.
std::optional<Format> format_named(const std::string& name);
/// The format named `name`; ConfigError listing the formats for an unknown name.
Format parse_format(const std::string& name);
/// Its spelling in kFormatNames.
const std::string& format_name(Format format);

/// The class names every format maps its own labels into, alphabetical (SFEW's folder names plus
/// Contempt).
const std::vector<std::string>& canonical_classes();

/// What a format provides beyond images and labels.
struct FormatTraits {
  bool subjects = false;  ///< samples name their subject (cv.group: subject)
  bool boxes = false;     ///< the dataset gives a face box per sample
  /// Official split: the training part's name and the test parts' names (the first is the
  /// default); empty when the format defines no split (folders: only with `splits:`).
  std::string train_split;
  std::vector<std::string> test_splits;
  /// dataset: keys only this format reads.
  std::vector<std::string> keys;
};
const FormatTraits& format_traits(Format format);
/// The formats that read the layout key `key` (e.g. "images": rafdb), in kFormatNames order.
std::vector<std::string> formats_reading(const std::string& key);

/// Where the dataset is and how it is laid out: what a scan needs.
struct DatasetLayout {
  std::string format = "folders";  ///< a kFormatNames spelling
  /// folders: the official split's folders, {train: FOLDER, test: FOLDER} (SFEW 2.0: Train, Val),
  /// each holding one folder per class.
  std::optional<std::map<std::string, std::string>> splits;
  std::string images = "aligned";    ///< rafdb: aligned (Image/aligned) | original (Image/original)
  int peak_frames = 3;               ///< ckplus: the last frames of a sequence that take its label
  bool first_frame_neutral = false;  ///< ckplus: the first frame of a sequence as Neutral
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DatasetLayout, format, splits, images, peak_frames,
                                                first_frame_neutral)

/// `dataset:` (the sweep loader reads it; root as written, the resolved path is
/// SweepSpec::dataset_root).
struct DatasetSettings : DatasetLayout {
  std::string root;
  /// The classes studied, in label order (folders: folder names; other formats: canonical
  /// names); none: every class the dataset has, sorted.
  std::optional<std::vector<std::string>> classes;
  int image_size = 224;
  std::string normalize = "imagenet";  ///< imagenet | dataset | minmax
  bool skip_bad_images = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DatasetSettings, root, classes, image_size,
                                                normalize, skip_bad_images, format, splits, images,
                                                peak_frames, first_frame_neutral)

/// The layout's part of a task's `dataset` parameters: nothing for plain folders (so their task
/// ids are those of fersweep versions without formats), else the format and its own keys.
nlohmann::json layout_params(const DatasetLayout& layout);

}  // namespace fersweep::data
