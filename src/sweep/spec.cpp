// Sweep-file validation: walks the located YAML tree section by section, collects every error with
// its position and key path, and builds the canonical document plan_sweep expands.
#include "sweep/spec.h"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/hash.h"
#include "faces/settings.h"
#include "model/arch.h"
#include "sweep/sampling.h"
#include "sweep/yaml_tree.h"

namespace fersweep::sweep {

using nlohmann::json;

const std::vector<std::string>& known_backbones() {
  static const std::vector<std::string> names = {"resnet18", "resnet34", "resnet50"};
  return names;
}

const std::vector<std::string>& grid_keys() {
  static const std::vector<std::string> keys = {
      "backbone",    "variant",         "weights", "image_size",   "normalize", "head",
      "hidden",      "optimizer",       "lr",      "weight_decay", "momentum",  "batch_size",
      "standardize", "label_smoothing", "seed",    "finetune",     "bn",        "backbone_lr",
      "schedule",    "lr_horizon",      "lr_step", "lr_gamma",     "augment",   "fold",
      "epochs"};
  return keys;
}

std::optional<double> checkpoint_seconds(const std::string& every) {
  if (every == "off") return -1.0;
  if (every == "0") return 0.0;
  std::size_t digits = 0;
  while (digits < every.size() &&
         (std::isdigit(static_cast<unsigned char>(every[digits])) || every[digits] == '.'))
    ++digits;
  if (digits == 0) return std::nullopt;
  char* end = nullptr;
  const std::string number = every.substr(0, digits);
  const double x = std::strtod(number.c_str(), &end);
  if (*end != '\0' || !std::isfinite(x)) return std::nullopt;
  const std::string unit = every.substr(digits);
  if (unit == "s") return x;
  if (unit == "min") return x * 60;
  if (unit == "h") return x * 3600;
  return std::nullopt;
}

std::filesystem::path SweepSpec::resolve_path(const std::string& path) const {
  std::filesystem::path p = path;
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home) p = std::filesystem::path(home) / path.substr(std::min<std::size_t>(2, path.size()));
  }
  if (p.is_relative()) p = base_dir / p;
  return p.lexically_normal();
}

std::string SweepSpec::location(const std::string& key) const {
  auto it = locations.find(key);
  return it == locations.end() ? file : it->second;
}

namespace {

const std::vector<std::string> kTopKeys = {
    "name",    "description", "dataset", "variants", "weights", "cv",     "train",     "grid",
    "exclude", "include",     "run",     "search",   "space",   "select", "early_stop"};
const std::vector<std::string> kEarlyStopKeys = {"method", "rungs", "eta", "metric"};
const std::vector<std::string> kSelectKeys = {"metric", "val_fraction"};
const std::vector<std::string> kSearchKeys = {"method", "samples", "seed"};
const std::vector<std::string> kSearchMethods = {"grid", "random", "sobol"};
// The keys uniform and loguniform may sample (fractions), and those int may (whole numbers);
// every grid key but fold and epochs may be a choice.
const std::set<std::string> kFractionKeys = {
    "lr", "weight_decay", "momentum", "label_smoothing", "backbone_lr", "lr_gamma"};
const std::set<std::string> kWholeKeys = {"hidden",     "batch_size", "image_size",
                                          "lr_horizon", "lr_step",    "seed"};
const std::vector<std::string> kDatasetKeys = {
    "root",   "classes", "image_size", "normalize",   "skip_bad_images",
    "format", "splits",  "images",     "peak_frames", "first_frame_neutral"};
const std::vector<std::string> kVariantKeys = {"detector", "model",    "boxes",  "cascade",
                                               "margin",   "square",   "select", "align",
                                               "fallback", "min_size", "qc"};
const std::vector<std::string> kQcKeys = {"min_face_px", "blur_threshold", "iou_threshold"};
const std::vector<std::string> kCvKeys = {"folds", "seed", "repeats", "group", "split", "test"};
const std::vector<std::string> kTrainKeys = {
    "head",       "hidden",     "optimizer", "lr",          "weight_decay",
    "momentum",   "batch_size", "epochs",    "standardize", "label_smoothing",
    "seed",       "finetune",   "bn",        "backbone_lr", "schedule",
    "lr_horizon", "lr_step",    "lr_gamma",  "augment"};
const std::vector<std::string> kAugmentKeys = {"hflip", "random_resized_crop", "rotate"};
const std::vector<std::string> kRunKeys = {"retries",         "threads",          "device",
                                           "grace_period",    "finetune_threads", "keep_models",
                                           "checkpoint_every"};
const std::vector<std::string> kKeepModels = {"none", "best", "all"};

const std::vector<std::string> kNormalize = {"imagenet", "dataset", "minmax"};
const std::vector<std::string> kHeads = {"linear", "mlp"};
const std::vector<std::string> kOptimizers = {"adam", "adamw", "sgd"};
const std::vector<std::string> kDevices = {"auto", "cpu", "cuda"};

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr long long kMaxSeed = (1LL << 53);  // exact in every JSON reader
constexpr long long kMaxSamples = 10'000'000;
constexpr const char* kCutAtComma =
    "a distribution cut at its comma: inside {...} YAML splits there; quote it (lr: "
    "\"uniform(0.1, 0.2)\") or write space: one key per line";

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string index_path(const std::string& path, std::size_t i) {
  return fmt::format("{}[{}]", path, i);
}

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return false;
  return true;
}

// Type and range checks that report into Diagnostics and return nullopt on failure.
class Checker {
 public:
  explicit Checker(Diagnostics& diag) : diag_(diag) {}

  void error(const YamlValue& v, const std::string& path, const std::string& msg) {
    diag_.error(v.loc, path, msg);
  }

  bool expect_map(const YamlValue& v, const std::string& path) {
    if (v.is_map()) return true;
    error(v, path, "expected a map (key: value lines), got " + v.describe());
    return false;
  }

  // Reports unknown keys with a did-you-mean; `aliases` maps an accepted spelling to its key.
  void check_keys(const YamlValue& map, const std::string& path,
                  const std::vector<std::string>& allowed,
                  const std::map<std::string, std::string>& aliases = {}) {
    for (const auto& e : map.entries) {
      if (std::find(allowed.begin(), allowed.end(), e.key) != allowed.end()) continue;
      if (aliases.count(e.key)) continue;
      std::string msg = fmt::format("unknown key '{}'", e.key);
      const std::string near = closest_match(e.key, allowed);
      if (!near.empty())
        msg += fmt::format("; did you mean '{}'?", near);
      else
        msg += fmt::format(" (known keys: {})", join(allowed));
      diag_.error(e.key_loc, child(path, e.key), msg);
    }
  }

  std::optional<long long> integer(const YamlValue& v, const std::string& path, long long lo,
                                   long long hi) {
    if (!v.is_scalar() || v.quoted || v.scalar.empty()) {
      error(v, path, "expected an integer, got " + v.describe());
      return std::nullopt;
    }
    errno = 0;
    char* end = nullptr;
    const long long x = std::strtoll(v.scalar.c_str(), &end, 10);
    if (*end != '\0' || errno == ERANGE) {
      error(v, path, "expected an integer, got " + v.describe());
      return std::nullopt;
    }
    if (x < lo || x > hi) {
      if (hi == std::numeric_limits<long long>::max())
        error(v, path, fmt::format("must be >= {}, got {}", lo, x));
      else
        error(v, path, fmt::format("must be between {} and {}, got {}", lo, hi, x));
      return std::nullopt;
    }
    return x;
  }

  // A finite number in the interval given by lo/hi and whether each end is open.
  std::optional<double> number(const YamlValue& v, const std::string& path, double lo, bool lo_open,
                               double hi, bool hi_open) {
    if (!v.is_scalar() || v.quoted || v.scalar.empty()) {
      error(v, path, "expected a number, got " + v.describe());
      return std::nullopt;
    }
    char* end = nullptr;
    const double x = std::strtod(v.scalar.c_str(), &end);
    const bool hex = v.scalar.find_first_of("xX") != std::string::npos;
    std::string lower = v.scalar;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower == ".nan" || lower == ".inf" || lower == "+.inf" || lower == "-.inf") {
      error(v, path, "expected a finite number, got " + v.describe());  // YAML's spellings
      return std::nullopt;
    }
    if (*end != '\0' || hex) {
      error(v, path, "expected a number, got " + v.describe());
      return std::nullopt;
    }
    if (!std::isfinite(x)) {
      error(v, path, "expected a finite number, got " + v.describe());
      return std::nullopt;
    }
    const bool low_ok = lo_open ? x > lo : x >= lo;
    const bool high_ok = hi_open ? x < hi : x <= hi;
    if (!low_ok || !high_ok) {
      std::string range;
      if (hi == kInf)
        range = fmt::format("must be {} {}", lo_open ? ">" : ">=", lo);
      else
        range =
            fmt::format("must be in {}{}, {}{}", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
      error(v, path, fmt::format("{}, got {}", range, v.scalar));
      return std::nullopt;
    }
    return x == 0.0 ? 0.0 : x;  // -0 and 0 are the same parameter
  }

  std::optional<bool> boolean(const YamlValue& v, const std::string& path) {
    static const std::set<std::string> yes = {"true", "True", "TRUE", "yes", "Yes",
                                              "YES",  "on",   "On",   "ON"};
    static const std::set<std::string> no = {"false", "False", "FALSE", "no", "No",
                                             "NO",    "off",   "Off",   "OFF"};
    if (v.is_scalar() && !v.quoted) {
      if (yes.count(v.scalar)) return true;
      if (no.count(v.scalar)) return false;
    }
    error(v, path, "expected true or false, got " + v.describe());
    return std::nullopt;
  }

  std::optional<std::string> string(const YamlValue& v, const std::string& path) {
    if (v.is_scalar() && !v.scalar.empty()) return v.scalar;
    error(v, path, "expected a non-empty string, got " + v.describe());
    return std::nullopt;
  }

  std::optional<std::string> choice(const YamlValue& v, const std::string& path, const char* what,
                                    const std::vector<std::string>& choices) {
    auto s = string(v, path);
    if (!s) return std::nullopt;
    if (std::find(choices.begin(), choices.end(), *s) != choices.end()) return s;
    std::string msg = fmt::format("unknown {} '{}'", what, *s);
    const std::string near = closest_match(*s, choices);
    if (!near.empty()) msg += fmt::format("; did you mean '{}'?", near);
    msg += fmt::format(" (choices: {})", join(choices));
    error(v, path, msg);
    return std::nullopt;
  }

  // auto | random | random:SEED | PATH
  std::optional<std::string> weights(const YamlValue& v, const std::string& path) {
    auto s = string(v, path);
    if (!s) return std::nullopt;
    if (*s == "auto" || *s == "random") return s;
    if (s->rfind("random:", 0) == 0) {
      const std::string seed = s->substr(7);
      char* end = nullptr;
      errno = 0;
      const long long x = std::strtoll(seed.c_str(), &end, 10);
      if (seed.empty() || *end != '\0' || errno == ERANGE || x < 0 || x > kMaxSeed) {
        error(v, path,
              fmt::format("'{}': random:SEED needs a seed between 0 and 2^53, e.g. random:1", *s));
        return std::nullopt;
      }
      return "random:" + std::to_string(x);
    }
    // A path: normalised lexically so that "w/x.pth" and "w//x.pth/" are the same weights.
    std::string p = std::filesystem::path(*s).lexically_normal().string();
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
  }

 private:
  Diagnostics& diag_;
};

// The value of one grid parameter, checked and converted to its canonical JSON form.
struct ParamContext {
  std::vector<std::string> variants;
  int folds = 5;
};

// augment: none | {hflip: BOOL, random_resized_crop: [LO, HI], rotate: DEGREES}, canonical as
// train::AugmentSettings writes it (only the transforms in use; none is {}).
std::optional<json> read_augment(Checker& c, const YamlValue& v, const std::string& path) {
  if (v.is_scalar() && !v.quoted && v.scalar == "none") return json::object();
  if (!v.is_map()) {
    c.error(v, path,
            "expected none or a map of transforms (hflip: true, random_resized_crop: [0.08, 1], "
            "rotate: 10), got " +
                v.describe());
    return std::nullopt;
  }
  c.check_keys(v, path, kAugmentKeys);
  train::AugmentSettings a;
  bool ok = true;
  if (const YamlValue* flip = v.find("hflip")) {
    const auto b = c.boolean(*flip, child(path, "hflip"));
    ok = ok && b.has_value();
    a.hflip = b.value_or(false);
  }
  if (const YamlValue* crop = v.find("random_resized_crop")) {
    const std::string p = child(path, "random_resized_crop");
    if (!crop->is_sequence() || crop->items.size() != 2) {
      c.error(*crop, p,
              "expected [lo, hi]: the smallest and largest share of the image's area a crop "
              "keeps, e.g. [0.08, 1], got " +
                  crop->describe());
      ok = false;
    } else {
      const auto lo = c.number(crop->items[0], index_path(p, 0), 0, true, 1, false);
      const auto hi = c.number(crop->items[1], index_path(p, 1), 0, true, 1, false);
      if (lo && hi && *lo > *hi) {
        c.error(*crop, p, fmt::format("lo {} is above hi {}; give [lo, hi]", *lo, *hi));
        ok = false;
      }
      ok = ok && lo && hi;
      if (lo && hi) a.random_resized_crop = {*lo, *hi};
    }
  }
  if (const YamlValue* rotate = v.find("rotate")) {
    const auto deg = c.number(*rotate, child(path, "rotate"), 0, false, 180, false);
    ok = ok && deg.has_value();
    a.rotate = deg.value_or(0);
  }
  if (!ok) return std::nullopt;
  return json(a);
}

std::optional<json> read_param(Checker& c, const std::string& key, const YamlValue& v,
                               const std::string& path, const ParamContext& ctx) {
  constexpr long long kBig = std::numeric_limits<long long>::max();
  auto wrap = [](auto opt) -> std::optional<json> {
    if (!opt) return std::nullopt;
    return json(*opt);
  };
  if (key == "backbone") return wrap(c.choice(v, path, "backbone", known_backbones()));
  if (key == "variant") {
    auto s = c.string(v, path);
    if (!s) return std::nullopt;
    if (std::find(ctx.variants.begin(), ctx.variants.end(), *s) != ctx.variants.end())
      return json(*s);
    std::string msg = fmt::format("variant '{}' is not defined under variants:", *s);
    const std::string near = closest_match(*s, ctx.variants);
    if (!near.empty()) msg += fmt::format(" did you mean '{}'?", near);
    msg += fmt::format(" (defined: {})", join(ctx.variants));
    c.error(v, path, msg);
    return std::nullopt;
  }
  if (key == "weights") return wrap(c.weights(v, path));
  if (key == "image_size") return wrap(c.integer(v, path, 32, 2048));
  if (key == "normalize") return wrap(c.choice(v, path, "normalization", kNormalize));
  if (key == "head") return wrap(c.choice(v, path, "head", kHeads));
  if (key == "hidden") return wrap(c.integer(v, path, 1, 1 << 20));
  if (key == "optimizer") return wrap(c.choice(v, path, "optimizer", kOptimizers));
  if (key == "lr") return wrap(c.number(v, path, 0, true, kInf, false));
  if (key == "weight_decay") return wrap(c.number(v, path, 0, false, kInf, false));
  if (key == "momentum") return wrap(c.number(v, path, 0, false, 1, true));
  if (key == "batch_size") return wrap(c.integer(v, path, 1, kBig));
  if (key == "epochs") return wrap(c.integer(v, path, 1, 1000000));
  if (key == "standardize") return wrap(c.boolean(v, path));
  if (key == "label_smoothing") return wrap(c.number(v, path, 0, false, 1, true));
  if (key == "seed") return wrap(c.integer(v, path, 0, kMaxSeed));
  if (key == "finetune") return wrap(c.choice(v, path, "fine-tuning cut", model::cut_names()));
  if (key == "bn") return wrap(c.choice(v, path, "BatchNorm mode", train::bn_mode_names()));
  if (key == "backbone_lr") return wrap(c.number(v, path, 0, true, kInf, false));
  if (key == "schedule")
    return wrap(c.choice(v, path, "learning-rate schedule", train::schedule_names()));
  if (key == "lr_horizon") return wrap(c.integer(v, path, 0, 1000000));
  if (key == "lr_step") return wrap(c.integer(v, path, 1, 1000000));
  if (key == "lr_gamma") return wrap(c.number(v, path, 0, true, 1, false));
  if (key == "augment") return read_augment(c, v, path);
  if (key == "fold") {
    auto f = c.integer(v, path, 0, kBig);
    if (!f) return std::nullopt;
    if (*f >= ctx.folds) {
      c.error(v, path,
              fmt::format("fold {} does not exist: folds are numbered 0 to {} (cv.folds = {})", *f,
                          ctx.folds - 1, ctx.folds));
      return std::nullopt;
    }
    return json(*f);
  }
  FERSWEEP_ASSERT(false, "unhandled grid key " + key);
  return std::nullopt;
}

class SpecBuilder {
 public:
  SpecBuilder(SweepSpec& spec, Diagnostics& diag) : spec_(spec), diag_(diag), c_(diag) {}

  void build(const YamlValue& root) {
    if (root.is_null()) {
      diag_.error({spec_.file, 1, 1}, "", "the sweep file is empty");
      return;
    }
    if (!c_.expect_map(root, "")) return;
    c_.check_keys(root, "", kTopKeys);
    for (const auto& e : root.entries) note(e.key, e.key_loc);

    json& out = spec_.canonical;
    out = json::object();
    // name
    std::string name = std::filesystem::path(spec_.file).stem().string();
    if (const auto* v = root.find("name")) {
      if (auto s = c_.string(*v, "name")) {
        if (valid_name(*s))
          name = *s;
        else
          c_.error(*v, "name",
                   fmt::format("'{}' may only use letters, digits, '_', '-' and '.'", *s));
      }
    }
    spec_.name = name;
    out["name"] = name;
    out["description"] = nullptr;
    if (const auto* v = root.find("description"))
      if (auto s = c_.string(*v, "description")) out["description"] = *s;

    dataset(root.find("dataset"), root);
    variants(root.find("variants"));
    weights(root.find("weights"));
    cv(root.find("cv"));
    train(root.find("train"));
    grid(root.find_entry("grid"), root);
    search(root.find_entry("search"), root.find_entry("space"));
    select(root.find_entry("select"));
    early_stop(root.find_entry("early_stop"));
    out["exclude"] = combos(root.find("exclude"), "exclude", false);
    out["include"] = combos(root.find("include"), "include", true);
    run(root.find("run"));
    spec_.variants = ctx_.variants;
  }

 private:
  void note(const std::string& key, const SourceLoc& loc) { spec_.locations[key] = loc.str(); }

  // Reads `key` of `map` with `read` (which returns optional<T>), or stores `fallback`.
  template <class Read, class T>
  void field(const YamlValue* map, const std::string& path, const std::string& key, json& out,
             T fallback, Read read) {
    out[key] = fallback;
    if (!map) return;
    if (const auto* e = map->find_entry(key)) {
      note(child(path, key), e->key_loc);
      if (auto x = read(e->value, child(path, key))) out[key] = *x;
    }
  }

  void dataset(const YamlValue* v, const YamlValue& root) {
    json d = json::object();
    const std::string p = "dataset";
    if (!v) {
      diag_.error(root.loc, "", "no dataset section; add `dataset: {root: PATH}`");
      spec_.canonical["dataset"] = d;
      return;
    }
    if (!c_.expect_map(*v, p)) return;
    c_.check_keys(*v, p, kDatasetKeys);
    d["root"] = nullptr;
    if (const auto* e = v->find_entry("root")) {
      note("dataset.root", e->key_loc);
      if (auto s = c_.string(e->value, "dataset.root")) {
        std::string r = std::filesystem::path(*s).lexically_normal().string();
        while (r.size() > 1 && r.back() == '/') r.pop_back();
        d["root"] = r;
        spec_.dataset_root = spec_.resolve_path(r);
      }
    } else {
      c_.error(*v, p, "no root; add `root: PATH` (relative to the sweep file's directory)");
    }
    d["classes"] = nullptr;
    if (const auto* e = v->find_entry("classes")) {
      note("dataset.classes", e->key_loc);
      const YamlValue& list = e->value;
      const std::string cp = "dataset.classes";
      if (!list.is_sequence() || list.items.size() < 2) {
        c_.error(list, cp,
                 "expected a list of at least two class folder names, got " + list.describe());
      } else {
        json names = json::array();
        std::set<std::string> seen;
        for (std::size_t i = 0; i < list.items.size(); ++i) {
          if (auto s = c_.string(list.items[i], index_path(cp, i))) {
            if (!seen.insert(*s).second)
              c_.error(list.items[i], index_path(cp, i),
                       fmt::format("class '{}' is listed twice", *s));
            names.push_back(*s);
          }
        }
        d["classes"] = names;
      }
    }
    const DatasetSettings defaults;
    layout(*v, d);
    field(v, p, "image_size", d, defaults.image_size,
          [&](auto& x, auto path) { return c_.integer(x, path, 32, 2048); });
    field(v, p, "normalize", d, defaults.normalize,
          [&](auto& x, auto path) { return c_.choice(x, path, "normalization", kNormalize); });
    field(v, p, "skip_bad_images", d, defaults.skip_bad_images,
          [&](auto& x, auto path) { return c_.boolean(x, path); });
    spec_.canonical["dataset"] = d;
  }

  // dataset.format and the keys only some formats read; a key of another format is an error at
  // the key, and classes must be names the format maps into.
  void layout(const YamlValue& v, json& d) {
    const data::DatasetLayout defaults;
    field(&v, "dataset", "format", d, defaults.format, [&](auto& x, auto path) {
      return c_.choice(x, path, "dataset format", data::kFormatNames);
    });
    const auto format =
        data::format_named(d["format"].get<std::string>()).value_or(data::Format::folders);
    format_ = format;
    const auto& own = data::format_traits(format).keys;
    for (const char* key : {"splits", "images", "peak_frames", "first_frame_neutral"}) {
      const auto* e = v.find_entry(key);
      if (!e || std::find(own.begin(), own.end(), key) != own.end()) continue;
      diag_.error(e->key_loc, child("dataset", key),
                  fmt::format("only format {} reads this key (format is {})",
                              join(data::formats_reading(key)), data::format_name(format)));
    }
    d["splits"] = nullptr;
    if (const auto* e = v.find_entry("splits"); e && format == data::Format::folders) {
      note("dataset.splits", e->key_loc);
      d["splits"] = splits(e->value);
    }
    field(&v, "dataset", "images", d, defaults.images, [&](auto& x, auto path) {
      return c_.choice(x, path, "RAF-DB image set", {"aligned", "original"});
    });
    field(&v, "dataset", "peak_frames", d, defaults.peak_frames,
          [&](auto& x, auto path) { return c_.integer(x, path, 1, 1000); });
    field(&v, "dataset", "first_frame_neutral", d, defaults.first_frame_neutral,
          [&](auto& x, auto path) { return c_.boolean(x, path); });
    if (format == data::Format::folders || !d["classes"].is_array()) return;
    const auto* list = v.find("classes");
    for (std::size_t i = 0; i < d["classes"].size(); ++i) {
      const std::string name = d["classes"][i].get<std::string>();
      const auto& known = data::canonical_classes();
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      std::string msg =
          fmt::format("'{}' is not a class name {} maps into", name, data::format_name(format));
      const std::string near = closest_match(name, known);
      if (!near.empty()) msg += fmt::format("; did you mean '{}'?", near);
      msg += fmt::format(" (class names: {})", join(known));
      c_.error(list->items.at(i), index_path("dataset.classes", i), msg);
    }
  }

  // dataset.splits: {train: FOLDER, test: FOLDER}, both required.
  json splits(const YamlValue& v) {
    const std::string p = "dataset.splits";
    if (!c_.expect_map(v, p)) return nullptr;
    c_.check_keys(v, p, {"train", "test"});
    json out = json::object();
    for (const char* part : {"train", "test"}) {
      if (const auto* x = v.find(part)) {
        if (auto s = c_.string(*x, child(p, part))) out[part] = *s;
      } else {
        c_.error(v, p, fmt::format("no {} folder; add `{}: FOLDER`", part, part));
      }
    }
    if (out.size() != 2) return nullptr;
    // One folder inside (or equal to) the other would put images in both parts.
    const auto a = std::filesystem::path(out["train"].get<std::string>()).lexically_normal();
    const auto b = std::filesystem::path(out["test"].get<std::string>()).lexically_normal();
    const auto inside = [](const std::filesystem::path& x, const std::filesystem::path& y) {
      const auto r = x.lexically_relative(y);
      return !r.empty() && *r.begin() != "..";
    };
    if (inside(a, b) || inside(b, a)) {
      c_.error(*v.find("test"), child(p, "test"),
               "the train and test folders overlap; the official split would test on training "
               "images");
      return nullptr;
    }
    return out;
  }

  void variants(const YamlValue* v) {
    json out = json::object();
    if (!v) {
      out["original"] = json::object();
      variant_names_.push_back("original");
      spec_.canonical["variants"] = out;
      return;
    }
    if (!c_.expect_map(*v, "variants")) return;
    if (v->entries.empty())
      c_.error(*v, "variants", "no variants defined; add e.g. `original: {}`");
    for (const auto& e : v->entries) {
      const std::string p = child("variants", e.key);
      note(p, e.key_loc);
      if (!valid_name(e.key))
        diag_.error(e.key_loc, p, "a variant name may only use letters, digits, '_', '-' and '.'");
      variant_names_.push_back(e.key);
      out[e.key] = variant(e.value, p);
    }
    spec_.canonical["variants"] = out;
  }

  // Reads a map entry `key` with `read` (returning optional<T>) into `out` when it is written.
  template <class T, class Read>
  void read_into(const YamlValue& map, const std::string& path, const char* key, T& out,
                 Read read) {
    if (const auto* e = map.find_entry(key)) {
      note(child(path, key), e->key_loc);
      if (auto x = read(e->value, child(path, key))) out = static_cast<T>(*x);
    }
  }

  // One of an enum's spellings (faces/settings.h lists them in enum order).
  template <class Enum>
  auto enum_reader(const char* what, const std::vector<std::string>& names) {
    return
        [this, what, &names](const YamlValue& x, const std::string& path) -> std::optional<Enum> {
          const auto s = c_.choice(x, path, what, names);
          return s ? faces::enum_named<Enum>(names, *s) : std::nullopt;
        };
  }

  // A file path as written, normalised lexically.
  std::optional<std::string> file_path(const YamlValue& x, const std::string& path) {
    const auto s = c_.string(x, path);
    if (!s) return std::nullopt;
    return std::filesystem::path(*s).lexically_normal().string();
  }

  // A face variant: faces::CropSettings (its defaults, ranges and cross-field rules), as JSON.
  json variant(const YamlValue& v, const std::string& p) {
    if (v.is_null() || (v.is_map() && v.entries.empty())) return json::object();  // uncropped
    if (!c_.expect_map(v, p)) return json::object();
    c_.check_keys(v, p, kVariantKeys);
    using faces::CropLimits;
    faces::CropSettings s;
    bool detector_ok = false;
    if (const auto* d = v.find("detector")) {
      const auto kind = enum_reader<faces::DetectorKind>("detector", faces::kDetectorNames)(
          *d, child(p, "detector"));
      detector_ok = kind.has_value();
      if (kind) s.detector = *kind;
      if (kind == faces::DetectorKind::dataset && !data::format_traits(format_).boxes)
        c_.error(*d, child(p, "detector"),
                 fmt::format("format {} gives no face boxes (detector dataset works with "
                             "affectnet and expw)",
                             data::format_name(format_)));
    } else {
      c_.error(v, p,
               "no detector; add `detector: haar` (or lbp, yunet, boxes, dataset), or write `{}` "
               "for the "
               "uncropped images");
    }
    auto number = [&](double lo, double hi) {
      return [&, lo, hi](auto& x, auto path) { return c_.number(x, path, lo, false, hi, false); };
    };
    auto integer = [&](long long lo, long long hi) {
      return [&, lo, hi](auto& x, auto path) { return c_.integer(x, path, lo, hi); };
    };
    auto boolean = [&](auto& x, auto path) { return c_.boolean(x, path); };
    auto file = [&](auto& x, auto path) { return file_path(x, path); };
    read_into(v, p, "margin", s.margin, number(0, CropLimits::max_margin));
    read_into(v, p, "square", s.square, boolean);
    read_into(v, p, "select", s.select,
              enum_reader<faces::SelectPolicy>("face selection", faces::kSelectNames));
    read_into(v, p, "align", s.align, boolean);
    read_into(v, p, "fallback", s.fallback,
              enum_reader<faces::FallbackPolicy>("fallback", faces::kFallbackNames));
    read_into(v, p, "min_size", s.min_size, integer(1, CropLimits::max_min_size));
    read_into(v, p, "model", s.model, file);
    read_into(v, p, "boxes", s.boxes, file);
    read_into(v, p, "cascade", s.cascade, file);
    if (const auto* q = v.find("qc")) {
      const std::string qp = child(p, "qc");
      if (c_.expect_map(*q, qp)) {
        c_.check_keys(*q, qp, kQcKeys);
        read_into(*q, qp, "min_face_px", s.qc.min_face_px, integer(0, CropLimits::max_min_face_px));
        read_into(*q, qp, "blur_threshold", s.qc.blur_threshold, number(0, kInf));
        read_into(*q, qp, "iou_threshold", s.qc.iou_threshold, number(0, 1));
      }
    }
    if (detector_ok) {
      for (const auto& problem : faces::crop_settings_problems(s)) {
        const auto* written = v.find(problem.key);  // else reported at the variant
        diag_.error(written ? written->loc : v.loc, child(p, problem.key), problem.message);
      }
      if (s.detector != faces::DetectorKind::yunet && s.align)
        diag_.warning(v.find_entry("align")->key_loc, child(p, "align"),
                      "without detector yunet the eyes are found by the Haar eye cascade, which "
                      "misses many faces");
    }
    return s;
  }

  void weights(const YamlValue* v) {
    json out = json::object();
    for (const auto& b : known_backbones()) out[b] = "auto";
    if (v) {
      if (v->is_map()) {
        c_.check_keys(*v, "weights", known_backbones());
        for (const auto& e : v->entries)
          if (std::find(known_backbones().begin(), known_backbones().end(), e.key) !=
              known_backbones().end())
            if (auto w = c_.weights(e.value, child("weights", e.key))) out[e.key] = *w;
      } else if (auto w = c_.weights(*v, "weights")) {
        for (const auto& b : known_backbones()) out[b] = *w;
      }
    }
    spec_.canonical["weights"] = out;
  }

  void cv(const YamlValue* v) {
    json out = json::object();
    if (v && !c_.expect_map(*v, "cv")) v = nullptr;
    if (v) c_.check_keys(*v, "cv", kCvKeys);
    const CvSettings d;
    field(v, "cv", "folds", out, d.folds,
          [&](auto& x, auto path) { return c_.integer(x, path, 2, 1000); });
    field(v, "cv", "seed", out, d.seed,
          [&](auto& x, auto path) { return c_.integer(x, path, 0, kMaxSeed); });
    field(v, "cv", "repeats", out, d.repeats,
          [&](auto& x, auto path) { return c_.integer(x, path, 1, 1000); });
    field(v, "cv", "group", out, d.group,
          [&](auto& x, auto path) { return c_.choice(x, path, "cv grouping", {"subject"}); });
    field(v, "cv", "split", out, d.split,
          [&](auto& x, auto path) { return c_.choice(x, path, "cv split", {"official"}); });
    field(v, "cv", "test", out, d.test, [&](auto& x, auto path) { return c_.string(x, path); });
    if (v) cv_scheme(*v, out);
    ctx_.folds = out["folds"].get<int>();
    spec_.canonical["cv"] = out;
  }

  // cv.group and cv.split against the dataset's format and the other cv keys.
  void cv_scheme(const YamlValue& v, json& out) {
    const auto& traits = data::format_traits(format_);
    const std::string& format = data::format_name(format_);
    if (const auto* g = v.find("group"); g && !traits.subjects)
      c_.error(*g, "cv.group",
               fmt::format("format {} names no subjects (cv.group: subject works with ckplus "
                           "and jaffe)",
                           format));
    const auto* split = v.find("split");
    if (const auto* t = v.find("test"); t && !split)
      c_.error(*t, "cv.test", "only cv.split: official has a test part to choose");
    if (!split) return;
    for (const char* key : {"folds", "seed", "repeats", "group"})
      if (const auto* e = v.find_entry(key))
        diag_.error(e->key_loc, child("cv", key),
                    "cv.split: official is one fixed split; it takes no " + std::string(key));
    const bool has_split = format_ == data::Format::folders
                               ? spec_.canonical["dataset"]["splits"].is_object()
                               : !traits.test_splits.empty();
    if (!has_split) {
      c_.error(*split, "cv.split",
               format_ == data::Format::folders
                   ? "format folders has an official split only with dataset.splits: {train: "
                     "FOLDER, test: FOLDER}"
                   : fmt::format("format {} defines no official split", format));
      return;
    }
    const auto& tests = traits.test_splits;
    if (const auto* t = v.find("test")) {
      const std::string test = out["test"].get<std::string>();
      // (an empty value was already reported: test must be a non-empty string)
      if (!test.empty() && std::find(tests.begin(), tests.end(), test) == tests.end())
        c_.error(*t, "cv.test",
                 fmt::format("format {}'s test parts are {}, not '{}'", format, join(tests), test));
    } else {
      out["test"] = tests.front();
    }
    out["folds"] = 1;
    out["seed"] = 0;
    out["repeats"] = 1;
  }

  // One scalar `key` of a train-like map through read_param.
  std::optional<json> param(const std::string& key, const YamlValue& v, const std::string& path) {
    return read_param(c_, key, v, path, ctx_);
  }

  // Handles the standardise alias: returns the entry for `standardize` under either spelling.
  const YamlValue::Entry* standardize_entry(const YamlValue& map, const std::string& path) {
    const auto* a = map.find_entry("standardize");
    const auto* b = map.find_entry("standardise");
    if (a && b) {
      diag_.error(b->key_loc, child(path, "standardise"),
                  fmt::format("standardise is another spelling of standardize (line {}); give "
                              "only one",
                              a->key_loc.line));
    }
    return a ? a : b;
  }

  void train(const YamlValue* v) {
    json out = TrainSettings{};  // the defaults, from their one place
    out.update(json(train::FineTuneSettings{}));
    out["augment"] = train::AugmentSettings{};
    out["epochs"] = {50, 100, 200};
    if (v && c_.expect_map(*v, "train")) {
      c_.check_keys(*v, "train", kTrainKeys, {{"standardise", "standardize"}});
      for (const auto& e : v->entries) {
        std::string key = e.key == "standardise" ? "standardize" : e.key;
        if (std::find(kTrainKeys.begin(), kTrainKeys.end(), key) == kTrainKeys.end()) continue;
        if (e.key == "standardise" && v->find_entry("standardize")) continue;
        const std::string p = child("train", e.key);
        note(child("train", key), e.key_loc);
        if (key == "epochs") {
          if (auto list = epochs_list(e.value, p)) out["epochs"] = *list;
          continue;
        }
        if (auto x = param(key, e.value, p)) out[key] = *x;
      }
      standardize_entry(*v, "train");
    }
    spec_.canonical["train"] = out;
  }

  // epochs: N or [N, ...] → sorted unique list.
  std::optional<json> epochs_list(const YamlValue& v, const std::string& p) {
    std::set<long long> values;
    bool ok = true;
    if (v.is_sequence()) {
      if (v.items.empty()) {
        c_.error(v, p, "empty list; give at least one number of epochs");
        return std::nullopt;
      }
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        auto x = c_.integer(v.items[i], index_path(p, i), 1, 1000000);
        if (x)
          values.insert(*x);
        else
          ok = false;
      }
    } else if (auto x = c_.integer(v, p, 1, 1000000)) {
      values.insert(*x);
    } else {
      ok = false;
    }
    if (!ok) return std::nullopt;
    return json(std::vector<long long>(values.begin(), values.end()));
  }

  // A map of grid keys to value lists (grid:, each include/exclude entry). Returns the canonical
  // map {key: [values]}; `allow_all_folds` accepts `fold: all`.
  json axis_map(const YamlValue& v, const std::string& p, bool allow_all_folds) {
    json out = json::object();
    if (!c_.expect_map(v, p)) return out;
    c_.check_keys(v, p, grid_keys(), {{"standardise", "standardize"}});
    standardize_entry(v, p);
    for (const auto& e : v.entries) {
      std::string key = e.key == "standardise" ? "standardize" : e.key;
      if (std::find(grid_keys().begin(), grid_keys().end(), key) == grid_keys().end()) continue;
      if (e.key == "standardise" && v.find_entry("standardize")) continue;
      const std::string kp = child(p, e.key);
      note(child(p, key), e.key_loc);
      const YamlValue& val = e.value;
      if (key == "fold" && val.is_scalar() && !val.quoted && val.scalar == "all") {
        if (!allow_all_folds) {
          c_.error(val, kp, "`fold: all` would exclude every fold; list the folds to exclude");
          continue;
        }
        json all = json::array();
        for (int f = 0; f < ctx_.folds; ++f) all.push_back(f);
        out[key] = all;
        continue;
      }
      json list = json::array();
      if (val.is_sequence()) {
        if (val.items.empty()) {
          c_.error(
              val, kp,
              fmt::format("empty list: a grid axis needs at least one value (remove the key to "
                          "use the default{})",
                          key == "fold" ? " `all`" : ""));
          continue;
        }
        for (std::size_t i = 0; i < val.items.size(); ++i) {
          if (auto x = param(key, val.items[i], index_path(kp, i))) {
            if (std::find(list.begin(), list.end(), *x) != list.end())
              c_.error(val.items[i], index_path(kp, i),
                       fmt::format("value {} is listed twice", x->dump()));
            else
              list.push_back(*x);
          }
        }
      } else if (auto x = param(key, val, kp)) {
        list.push_back(*x);
      }
      out[key] = list;
    }
    return out;
  }

  void grid(const YamlValue::Entry* e, const YamlValue& root) {
    if (!e) {
      diag_.error(root.loc, "",
                  "no grid section: add `grid:` with at least `backbone: [resnet18, ...]`");
      spec_.canonical["grid"] = json::object();
      return;
    }
    if (e->value.is_null() || (e->value.is_map() && e->value.entries.empty())) {
      diag_.error(e->key_loc, "grid",
                  "the grid is empty: it needs at least `backbone: [resnet18, ...]`");
      spec_.canonical["grid"] = json::object();
      return;
    }
    json g = axis_map(e->value, "grid", true);
    if (e->value.is_map() && !e->value.find("backbone"))
      diag_.error(e->key_loc, "grid", "no backbone axis: add e.g. `backbone: [resnet50]`");
    spec_.canonical["grid"] = g;
  }

  // search: {method, samples, seed} and space: {key: distribution}. Canonical: search always
  // (method grid by default); space {key: {kind, lo, hi} | {kind: choice, values: [...]}} with
  // each key's values checked as the grid would check them.
  void search(const YamlValue::Entry* search, const YamlValue::Entry* space) {
    json out = {{"method", "grid"}, {"samples", 0}, {"seed", 0}};
    const YamlValue* v = search ? &search->value : nullptr;
    if (v && !c_.expect_map(*v, "search")) v = nullptr;
    if (v) c_.check_keys(*v, "search", kSearchKeys);
    field(v, "search", "method", out, std::string("grid"),
          [&](auto& x, auto path) { return c_.choice(x, path, "search method", kSearchMethods); });
    field(v, "search", "samples", out, 0,
          [&](auto& x, auto path) { return c_.integer(x, path, 1, kMaxSamples); });
    field(v, "search", "seed", out, 0,
          [&](auto& x, auto path) { return c_.integer(x, path, 0, kMaxSeed); });
    spec_.canonical["search"] = out;
    spec_.canonical["space"] = space_map(space);
    const bool sampled = out["method"] != "grid";
    if (sampled && (!v || !v->find("samples")))
      diag_.error(search->key_loc, "search.samples",
                  fmt::format("method {} needs `samples: N`, the number of points",
                              out["method"].get<std::string>()));
    if (sampled && !space)
      diag_.error(search->key_loc, "search",
                  fmt::format("method {} samples a space: add `space:` with at least one key, "
                              "e.g. `lr: loguniform(1e-4, 1e-1)`",
                              out["method"].get<std::string>()));
    if (!sampled && space)
      diag_.error(space->key_loc, "space",
                  "a space is sampled by `search: {method: random | sobol, samples: N}`; "
                  "without it, list the values under grid:");
  }

  // select: {metric, val_fraction}. Canonical: null without the section, else both keys.
  void select(const YamlValue::Entry* e) {
    spec_.canonical["select"] = nullptr;
    if (!e) return;
    note("select", e->key_loc);
    const YamlValue* v = &e->value;
    if (!v->is_null() && !c_.expect_map(*v, "select")) v = nullptr;
    if (v && v->is_map()) c_.check_keys(*v, "select", kSelectKeys);
    if (v && v->is_null()) v = nullptr;  // `select:` alone: the defaults
    json out = json::object();
    const SelectSettings d;
    field(v, "select", "metric", out, d.metric, [&](auto& x, auto path) {
      return c_.choice(x, path, "selection metric", select_metric_names());
    });
    // At most half: the model must still train on most of its fold.
    field(v, "select", "val_fraction", out, d.val_fraction,
          [&](auto& x, auto path) { return c_.number(x, path, 0, true, 0.5, false); });
    spec_.canonical["select"] = out;
  }

  // early_stop: {method, rungs, eta, metric}. Canonical: null without the section.
  void early_stop(const YamlValue::Entry* e) {
    spec_.canonical["early_stop"] = nullptr;
    if (!e) return;
    note("early_stop", e->key_loc);
    const YamlValue& v = e->value;
    if (!c_.expect_map(v, "early_stop")) return;
    c_.check_keys(v, "early_stop", kEarlyStopKeys);
    json out = json::object();
    const EarlyStopSettings d;
    field(&v, "early_stop", "method", out, d.method, [&](auto& x, auto path) {
      return c_.choice(x, path, "early-stopping method", {"halving", "median"});
    });
    if (const auto* eta = v.find_entry("eta"); eta && out["method"] == "median")
      diag_.error(eta->key_loc, "early_stop.eta",
                  "only method halving keeps a share (1/eta); median keeps the tasks at or above "
                  "the median");
    field(&v, "early_stop", "eta", out, d.eta,
          [&](auto& x, auto path) { return c_.integer(x, path, 2, 1000); });
    field(&v, "early_stop", "metric", out, d.metric, [&](auto& x, auto path) {
      return c_.choice(x, path, "early-stopping metric", select_metric_names());
    });
    out["rungs"] = rungs(v.find_entry("rungs"), e->key_loc);
    if (spec_.canonical["select"].is_null()) {
      const auto* m = v.find_entry("metric");
      diag_.error(m ? m->key_loc : e->key_loc, m ? "early_stop.metric" : "early_stop",
                  fmt::format("{} is a validation score: add `select: {{val_fraction: 0.2}}` so "
                              "that each training fold sets a validation part aside",
                              out["metric"].get<std::string>()));
    }
    spec_.canonical["early_stop"] = out;
  }

  // early_stop.rungs: strictly increasing epochs >= 1, none past the sweep's last epoch.
  json rungs(const YamlValue::Entry* e, const SourceLoc& section) {
    json out = json::array();
    if (!e) {
      diag_.error(section, "early_stop.rungs",
                  "give the epochs to decide at, e.g. `rungs: [25, 50, 100, 200]`");
      return out;
    }
    if (!e->value.is_sequence() || e->value.items.empty()) {
      c_.error(e->value, "early_stop.rungs",
               "expected a list of epochs, e.g. [25, 50, 100, 200], got " + e->value.describe());
      return out;
    }
    int last_epoch = 0;
    for (const char* section_name : {"train", "grid"})
      for (const auto& epoch : spec_.canonical[section_name].value("epochs", json::array()))
        if (epoch.is_number_integer()) last_epoch = std::max(last_epoch, epoch.get<int>());
    for (std::size_t i = 0; i < e->value.items.size(); ++i) {
      const YamlValue& item = e->value.items[i];
      const std::string p = fmt::format("early_stop.rungs[{}]", i);
      auto r = c_.integer(item, p, 1, 1'000'000);
      if (!r) continue;
      if (!out.empty() && *r <= out.back().get<long long>())
        c_.error(item, p,
                 fmt::format("rungs must increase: {} after {}", *r, out.back().get<long long>()));
      else if (last_epoch > 0 && *r > last_epoch)
        c_.error(item, p, fmt::format("past the sweep's last epoch, {}", last_epoch));
      else
        out.push_back(*r);
    }
    return out;
  }

  json space_map(const YamlValue::Entry* e) {
    json out = json::object();
    if (!e || !c_.expect_map(e->value, "space")) return out;
    for (const auto& entry : e->value.entries) {
      const std::string p = child("space", entry.key);
      note(p, entry.key_loc);
      const auto& keys = grid_keys();
      if (!entry.key.empty() && entry.key.back() == ')') {
        diag_.error(entry.key_loc, p, kCutAtComma);  // `{lr: uniform(0.1, 0.2)}` unquoted
        continue;
      }
      if (std::find(keys.begin(), keys.end(), entry.key) == keys.end() || entry.key == "fold" ||
          entry.key == "epochs") {
        std::vector<std::string> allowed;
        for (const auto& k : keys)
          if (k != "fold" && k != "epochs") allowed.push_back(k);
        std::string msg = fmt::format("'{}' cannot be sampled", entry.key);
        const std::string near = closest_match(entry.key, allowed);
        msg += near.empty() ? fmt::format(" (keys: {})", join(allowed))
                            : fmt::format("; did you mean '{}'?", near);
        diag_.error(entry.key_loc, p, msg);
        continue;
      }
      if (spec_.canonical["grid"].contains(entry.key)) {
        diag_.error(
            entry.key_loc, p,
            fmt::format("{} is also a grid key: sample it or list it, not both", entry.key));
        continue;
      }
      if (auto d = distribution(entry.key, entry.value, p)) out[entry.key] = *d;
    }
    return out;
  }

  // One space entry: its distribution, and every value it can take checked for its key.
  std::optional<json> distribution(const std::string& key, const YamlValue& v,
                                   const std::string& p) {
    auto text = c_.string(v, p);
    if (!text) return std::nullopt;
    auto parsed = parse_distribution(*text);
    if (auto* error = std::get_if<std::string>(&parsed)) {
      const bool cut = text->find('(') != std::string::npos && text->find(')') == std::string::npos;
      c_.error(v, p, cut ? fmt::format("'{}': {}", *text, kCutAtComma) : *error);
      return std::nullopt;
    }
    const Distribution& d = std::get<Distribution>(parsed);
    auto scalar = [&v](const std::string& s) {
      YamlValue x = v;
      x.scalar = s;
      x.quoted = false;
      return x;
    };
    if (d.kind == Distribution::Kind::choice) {
      json values = json::array();
      for (const auto& c : d.choices)
        if (auto x = read_param(c_, key, scalar(c), p, ctx_)) values.push_back(*x);
      if (values.size() != d.choices.size()) return std::nullopt;
      return json{{"kind", "choice"}, {"values", values}, {"text", *text}};
    }
    const bool whole = d.kind == Distribution::Kind::integer;
    if (!(whole ? kWholeKeys : kFractionKeys).count(key)) {
      c_.error(v, p,
               fmt::format("{} cannot take {}: {}", key, *text,
                           kWholeKeys.count(key)      ? "it takes whole numbers: use int(a, b)"
                           : kFractionKeys.count(key) ? "use uniform(a, b) or loguniform(a, b)"
                                                      : "list its values with choice(...)"));
      return std::nullopt;
    }
    // The smallest and the largest value it draws must be valid values of the key. Below an
    // open upper bound (momentum < 1) the largest is just under b: b itself is named when
    // neither is valid.
    if (!read_param(c_, key, scalar(fmt::format("{}", d.lo)), p, ctx_)) return std::nullopt;
    Diagnostics scratch;
    Checker probe(scratch);
    const double top = value_at(d, std::nextafter(1.0, 0.0)).get<double>();
    if (!read_param(probe, key, scalar(fmt::format("{}", d.hi)), p, ctx_) &&
        !read_param(probe, key, scalar(fmt::format("{}", top)), p, ctx_)) {
      read_param(c_, key, scalar(fmt::format("{}", d.hi)), p, ctx_);  // reports it
      return std::nullopt;
    }
    const char* kinds[] = {"uniform", "loguniform", "int"};
    return json{
        {"kind", kinds[static_cast<int>(d.kind)]}, {"lo", d.lo}, {"hi", d.hi}, {"text", *text}};
  }

  // exclude / include: a list of maps (a single map is accepted as a one-entry list).
  json combos(const YamlValue* v, const std::string& p, bool include) {
    json out = json::array();
    if (!v || v->is_null()) return out;
    std::vector<const YamlValue*> items;
    if (v->is_sequence()) {
      for (const auto& item : v->items) items.push_back(&item);
    } else if (v->is_map()) {
      items.push_back(v);
    } else {
      c_.error(
          *v, p,
          "expected a list of maps like `- {backbone: resnet18, lr: 0.1}`, got " + v->describe());
      return out;
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
      const std::string ip = index_path(p, i);
      spec_.locations[ip] = items[i]->loc.str();
      if (items[i]->is_map() && items[i]->entries.empty()) {
        c_.error(*items[i], ip,
                 include ? "empty include entry: it would repeat the whole grid"
                         : "empty exclude entry: it would remove every combination");
        continue;
      }
      out.push_back(axis_map(*items[i], ip, include));
    }
    return out;
  }

  void run(const YamlValue* v) {
    json out = json::object();
    if (v && !c_.expect_map(*v, "run")) v = nullptr;
    if (v) c_.check_keys(*v, "run", kRunKeys);
    const RunSettings d;
    field(v, "run", "retries", out, d.retries,
          [&](auto& x, auto path) { return c_.integer(x, path, 0, 100); });
    field(v, "run", "threads", out, d.threads,
          [&](auto& x, auto path) { return c_.integer(x, path, 0, 4096); });
    field(v, "run", "device", out, d.device,
          [&](auto& x, auto path) { return c_.choice(x, path, "device", kDevices); });
    field(v, "run", "grace_period", out, d.grace_period,
          [&](auto& x, auto path) { return c_.number(x, path, 0, false, kInf, false); });
    field(v, "run", "finetune_threads", out, d.finetune_threads,
          [&](auto& x, auto path) { return c_.integer(x, path, 1, 4096); });
    field(v, "run", "keep_models", out, d.keep_models,
          [&](auto& x, auto path) { return c_.choice(x, path, "keep_models value", kKeepModels); });
    field(v, "run", "checkpoint_every", out, d.checkpoint_every, [&](auto& x, auto path) {
      auto s = c_.string(x, path);
      if (s && !checkpoint_seconds(*s)) {
        c_.error(x, path,
                 fmt::format("'{}' is not a duration: give a number with a unit (90s, 10min, "
                             "2h), 0 for every epoch end, or off",
                             *s));
        return std::optional<std::string>();
      }
      return s;
    });
    spec_.canonical["run"] = out;
    spec_.run = out.get<RunSettings>();
  }

 public:
  ParamContext ctx_;
  std::vector<std::string>& variant_names_ = ctx_.variants;
  data::Format format_ = data::Format::folders;

 private:
  SweepSpec& spec_;
  Diagnostics& diag_;
  Checker c_;
};

}  // namespace

SweepSpec parse_sweep(const std::string& text, const std::string& file_label,
                      const std::vector<std::string>& overrides) {
  SweepSpec spec;
  spec.file = file_label;
  spec.overrides = overrides;
  spec.base_dir = std::filesystem::absolute(std::filesystem::path(file_label)).parent_path();
  Diagnostics diag;
  YamlValue root = parse_yaml(text, file_label, diag);
  // Tabs and syntax errors leave no tree to check: report them alone. Duplicate keys leave a
  // usable tree, so the rest is still checked and reported with them.
  if (root.is_null()) diag.throw_if_errors(file_label);
  for (const auto& o : overrides) apply_override(root, o, diag);

  SpecBuilder builder(spec, diag);
  builder.build(root);
  diag.throw_if_errors(file_label);
  spec.warnings = diag.warnings();
  // Valid now: the typed sections come from the canonical document in one call each.
  spec.dataset = spec.canonical["dataset"].get<DatasetSettings>();
  spec.cv = spec.canonical["cv"].get<CvSettings>();
  if (const json& select = spec.canonical["select"]; !select.is_null())
    spec.select = select.get<SelectSettings>();
  if (const json& stop = spec.canonical["early_stop"]; !stop.is_null())
    spec.early_stop = stop.get<EarlyStopSettings>();

  if (overrides.empty()) {
    spec.source_text = text;
  } else {
    std::string header = fmt::format("# fersweep: {} with overrides", file_label);
    for (const auto& o : overrides) header += "\n#   --set " + o;
    spec.source_text = header + "\n" + emit_yaml(root);
  }
  spec.source_hash = sha256_hex(spec.source_text);
  return spec;
}

SweepSpec load_sweep(const std::filesystem::path& file, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw ConfigError(fmt::format("sweep file {} does not exist or is not a file", file.string()));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw IoError(fmt::format("cannot open sweep file {}", file.string()));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw IoError(fmt::format("cannot read sweep file {}", file.string()));
  return parse_sweep(text.str(), file.string(), overrides);
}

}  // namespace fersweep::sweep
