// Feature file layout: /features [N,D] f32, /labels [N] i64, /paths [N] str; attributes on "/".
#include "store/features_file.h"

#include <fmt/format.h>

#include "core/error.h"
#include "store/h5.h"

namespace fersweep::store {

void write_features_file(const std::filesystem::path& path, const FeatureSet& set) {
  FERSWEEP_ASSERT(static_cast<std::int64_t>(set.values.size()) == set.n * set.dim,
                  "feature size mismatch");
  FERSWEEP_ASSERT(static_cast<std::int64_t>(set.labels.size()) == set.n, "label count mismatch");
  write_h5_atomically(path, [&](H5File& f) {
    f.write("/features", set.values, {static_cast<hsize_t>(set.n), static_cast<hsize_t>(set.dim)});
    f.write("/labels", set.labels);
    f.write_strings("/paths", set.paths);
    f.set_attribute("/", "id", set.id);
    f.set_attribute("/", "format", std::string("fersweep-features-1"));
    for (const auto& [key, value] : set.attributes.items()) {
      if (value.is_string()) {
        f.set_attribute("/", key, value.get<std::string>());
      } else if (value.is_number_integer() || value.is_boolean()) {
        f.set_attribute(
            "/", key,
            value.is_boolean() ? std::int64_t(value.get<bool>()) : value.get<std::int64_t>());
      } else if (value.is_number()) {
        f.set_attribute("/", key, value.get<double>());
      } else {
        f.set_attribute("/", key, value.dump());
      }
    }
  });
}

FeatureSet read_features_file(const std::filesystem::path& path) {
  H5File f(path, H5File::Mode::read);
  FeatureSet set;
  if (!f.has_attribute("/", "format") ||
      f.string_attribute("/", "format") != "fersweep-features-1") {
    throw IoError(fmt::format("'{}' is not a fersweep feature file", path.string()));
  }
  set.id = f.string_attribute("/", "id");
  auto features = f.read_f32("/features");
  if (features.dims.size() != 2)
    throw IoError(fmt::format("'{}': /features is not 2-D", path.string()));
  set.n = static_cast<std::int64_t>(features.dims[0]);
  set.dim = static_cast<std::int64_t>(features.dims[1]);
  set.values = std::move(features.values);
  set.labels = f.read_i64("/labels").values;
  set.paths = f.read_strings("/paths");
  if (static_cast<std::int64_t>(set.labels.size()) != set.n ||
      static_cast<std::int64_t>(set.paths.size()) != set.n) {
    throw IoError(fmt::format("'{}': {} features but {} labels and {} paths", path.string(), set.n,
                              set.labels.size(), set.paths.size()));
  }
  return set;
}

}  // namespace fersweep::store
