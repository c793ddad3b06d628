// Dataset formats' names, traits and class names (settings.h).
#include "data/settings.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace fersweep::data {

std::optional<Format> format_named(const std::string& name) {
  const auto it = std::find(kFormatNames.begin(), kFormatNames.end(), name);
  if (it == kFormatNames.end()) return std::nullopt;
  return static_cast<Format>(it - kFormatNames.begin());
}

Format parse_format(const std::string& name) {
  if (const auto format = format_named(name)) return *format;
  throw ConfigError(fmt::format("unknown dataset format '{}' (expected one of {})", name,
                                fmt::join(kFormatNames, ", ")));
}

const std::string& format_name(Format format) {
  return kFormatNames.at(static_cast<std::size_t>(format));
}

const std::vector<std::string>& canonical_classes() {
  static const std::vector<std::string> names{"Angry", "Contempt", "Disgust", "Fear",
                                              "Happy", "Neutral",  "Sad",     "Surprise"};
  return names;
}

const FormatTraits& format_traits(Format format) {
  static const std::map<Format, FormatTraits> traits{
      {Format::folders, {false, false, "train", {"test"}, {"splits"}}},
      {Format::fer2013, {false, false, "Training", {"PublicTest", "PrivateTest"}, {}}},
      {Format::ferplus, {false, false, "Training", {"PublicTest", "PrivateTest"}, {}}},
      {Format::rafdb, {false, false, "train", {"test"}, {"images"}}},
      {Format::affectnet, {false, true, "training", {"validation"}, {}}},
      {Format::ckplus, {true, false, "", {}, {"peak_frames", "first_frame_neutral"}}},
      {Format::jaffe, {true, false, "", {}, {}}},
      {Format::expw, {false, true, "", {}, {}}},
  };
  return traits.at(format);
}

std::vector<std::string> formats_reading(const std::string& key) {
  std::vector<std::string> readers;
  for (std::size_t f = 0; f < kFormatNames.size(); ++f) {
    const auto& keys = format_traits(static_cast<Format>(f)).keys;
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) readers.push_back(kFormatNames[f]);
  }
  return readers;
}

nlohmann::json layout_params(const DatasetLayout& layout) {
  nlohmann::json out = nlohmann::json::object();
  const Format format = format_named(layout.format).value_or(Format::folders);
  if (format == Format::folders && !layout.splits) return out;
  out["format"] = layout.format;
  const nlohmann::json all = layout;
  for (const auto& key : format_traits(format).keys)
    if (!all.at(key).is_null()) out[key] = all.at(key);
  return out;
}

}  // namespace fersweep::data
