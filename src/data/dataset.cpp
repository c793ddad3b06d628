// Dataset scanning (class folders → sorted manifest, content fingerprint, bad-file report) and
// image decoding to RGB.
#include "data/dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/parallel.h"

namespace fersweep::data {
namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Reads a whole file; the path goes through std::filesystem, so any byte sequence (spaces,
// UTF-8) works. Returns false when the file cannot be opened or read.
bool read_bytes(const fs::path& file, std::vector<uchar>& bytes) {
  std::ifstream is(file, std::ios::binary | std::ios::ate);
  if (!is) return false;
  const std::streamoff size = is.tellg();
  if (size < 0) return false;
  bytes.resize(static_cast<std::size_t>(size));
  is.seekg(0);
  if (size > 0) is.read(reinterpret_cast<char*>(bytes.data()), size);
  return static_cast<bool>(is);
}

bool contains(const std::vector<uchar>& bytes, std::size_t from, const char* needle,
              std::size_t n) {
  if (bytes.size() < n) return false;
  const auto* pattern = reinterpret_cast<const uchar*>(needle);  // 0xFF must compare as 255
  return std::search(bytes.begin() + static_cast<std::ptrdiff_t>(std::min(from, bytes.size())),
                     bytes.end(), pattern, pattern + n) != bytes.end();
}

constexpr int kMinImageSide = 8;

// Why an image's bytes are unusable, or "" when they decode. Truncation is checked explicitly
// because libjpeg decodes a cut-off JPEG with a warning and grey fill instead of failing.
std::string image_problem(const std::vector<uchar>& bytes) {
  if (bytes.empty()) return "empty file";
  const std::size_t tail = bytes.size() > 1024 ? bytes.size() - 1024 : 0;
  if (bytes.size() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8 &&
      !contains(bytes, tail, "\xFF\xD9", 2))
    return "truncated JPEG (no end-of-image marker)";
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), "\x89PNG", 4) == 0 &&
      !contains(bytes, tail, "IEND", 4))
    return "truncated PNG (no IEND chunk)";
  try {
    const cv::Mat img = cv::imdecode(bytes, cv::IMREAD_COLOR);
    if (img.empty()) return "not a decodable image (corrupt?)";
    // A few pixels cannot show a face; such files are placeholders or thumbnails gone wrong, and
    // scaled up to the backbone's input they would train on flat colour.
    if (img.cols < kMinImageSide || img.rows < kMinImageSide)
      return fmt::format("{}x{} pixels, too small (at least {}x{} needed)", img.cols, img.rows,
                         kMinImageSide, kMinImageSide);
  } catch (const cv::Exception& e) {
    return fmt::format("not a decodable image ({})", e.err);
  }
  return "";
}

}  // namespace

std::vector<int> Manifest::labels() const {
  std::vector<int> out;
  out.reserve(images.size());
  for (const auto& e : images) out.push_back(e.label);
  return out;
}

std::vector<std::size_t> Manifest::class_counts() const {
  std::vector<std::size_t> counts(classes.size(), 0);
  for (const auto& e : images) ++counts.at(static_cast<std::size_t>(e.label));
  return counts;
}

fs::path Manifest::path(std::size_t i) const {
  return root / fs::u8path(images.at(i).relative_path);
}

bool is_image_file(const fs::path& file) {
  static const std::set<std::string> extensions{".jpg", ".jpeg", ".jpe",  ".png", ".bmp", ".dib",
                                                ".tif", ".tiff", ".webp", ".pbm", ".pgm", ".ppm",
                                                ".pnm", ".pxm",  ".sr",   ".ras", ".jp2"};
  const std::string name = file.filename().string();
  if (name.empty() || name[0] == '.') return false;  // .DS_Store, ._foo.jpg (macOS metadata)
  return extensions.count(lower(file.extension().string())) > 0;
}

Manifest scan_dataset(const fs::path& root, const ScanOptions& options) {
  std::error_code ec;
  if (!fs::exists(root, ec))
    throw DataError(fmt::format("dataset root {} does not exist", root.string()));
  if (!fs::is_directory(root, ec))
    throw DataError(fmt::format("dataset root {} is not a directory", root.string()));

  Manifest m;
  m.root = root;
  if (options.classes.empty()) {
    for (const auto& entry : fs::directory_iterator(root, ec)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_directory(ec) && !name.empty() && name[0] != '.') m.classes.push_back(name);
    }
    if (ec)
      throw DataError(fmt::format("cannot list dataset root {}: {}", root.string(), ec.message()));
    std::sort(m.classes.begin(), m.classes.end());
    if (m.classes.empty())
      throw DataError(fmt::format(
          "dataset root {} has no class folders (expected one subfolder per class, e.g. Angry/, "
          "Happy/, ...)",
          root.string()));
  } else {
    std::set<std::string> seen;
    for (const auto& c : options.classes) {
      if (c.empty() || c.find('/') != std::string::npos)
        throw ConfigError(fmt::format("invalid class name '{}' (must be a folder name)", c));
      if (!seen.insert(c).second) throw ConfigError(fmt::format("class '{}' is listed twice", c));
    }
    m.classes = options.classes;
    std::vector<std::string> missing;
    for (const auto& c : m.classes)
      if (!fs::is_directory(root / fs::u8path(c), ec)) missing.push_back((root / c).string());
    if (!missing.empty())
      throw DataError(fmt::format("missing class folder{}: {}", missing.size() > 1 ? "s" : "",
                                  fmt::join(missing, ", ")));
  }

  // Collect the files of each class folder.
  std::vector<std::string> ignored_examples;
  std::vector<std::string> empty_classes;
  for (int label = 0; label < static_cast<int>(m.classes.size()); ++label) {
    const fs::path folder = root / fs::u8path(m.classes[label]);
    std::size_t found = 0;
    fs::recursive_directory_iterator it(folder, fs::directory_options::follow_directory_symlink,
                                        ec);
    if (ec)
      throw DataError(
          fmt::format("cannot list class folder {}: {}", folder.string(), ec.message()));
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec)
        throw DataError(
            fmt::format("cannot list class folder {}: {}", folder.string(), ec.message()));
      if (!it->is_regular_file(ec)) continue;
      // Built lexically so that symlinked class folders keep their name in the path.
      const std::string rel =
          m.classes[label] + "/" + it->path().lexically_relative(folder).generic_string();
      if (!is_image_file(it->path())) {
        ++m.ignored_files;
        if (ignored_examples.size() < 3) ignored_examples.push_back(rel);
        continue;
      }
      m.images.push_back({rel, label});
      ++found;
    }
    if (found == 0) empty_classes.push_back(folder.string());
  }
  if (!empty_classes.empty())
    throw DataError(fmt::format("class folder{} with no images: {}",
                                empty_classes.size() > 1 ? "s" : "",
                                fmt::join(empty_classes, ", ")));
  std::sort(m.images.begin(), m.images.end(), [](const ImageEntry& a, const ImageEntry& b) {
    return a.relative_path < b.relative_path;
  });
  if (m.ignored_files > 0)
    log::info("dataset {}: ignored {} non-image file{} (e.g. {})", root.string(), m.ignored_files,
              m.ignored_files > 1 ? "s" : "", fmt::join(ignored_examples, ", "));

  // Hash and test-decode every image, in parallel; every problem is collected, not just the first.
  std::vector<std::string> hashes(m.images.size()), problems(m.images.size());
  parallel_for_each(
      m.images.size(), options.threads, [](int) { return std::vector<uchar>(); },
      [&](std::vector<uchar>& bytes, std::size_t i) {
        if (!read_bytes(m.path(i), bytes)) {
          problems[i] = "cannot be read";
          return;
        }
        Sha256 h;
        h.update(bytes.data(), bytes.size());
        hashes[i] = h.hex_digest();
        problems[i] = image_problem(bytes);
      });

  std::vector<std::string> bad;
  std::vector<ImageEntry> good;
  std::vector<std::string> good_hashes;
  for (std::size_t i = 0; i < m.images.size(); ++i) {
    if (problems[i].empty()) {
      good.push_back(m.images[i]);
      good_hashes.push_back(hashes[i]);
    } else {
      bad.push_back(fmt::format("{}: {}", m.images[i].relative_path, problems[i]));
    }
  }
  if (!bad.empty()) {
    if (!options.skip_bad_images)
      throw DataError(fmt::format(
          "dataset {}: {} unreadable image{} (fix or remove them, or pass --skip-bad-images):\n  "
          "{}",
          root.string(), bad.size(), bad.size() > 1 ? "s" : "", fmt::join(bad, "\n  ")));
    log::warn("dataset {}: skipping {} unreadable image{}:\n  {}", root.string(), bad.size(),
              bad.size() > 1 ? "s" : "", fmt::join(bad, "\n  "));
    m.images = std::move(good);
    m.bad_images = std::move(bad);
    std::vector<std::string> emptied;
    const auto counts = m.class_counts();
    for (std::size_t c = 0; c < counts.size(); ++c)
      if (counts[c] == 0) emptied.push_back(m.classes[c]);
    if (!emptied.empty())
      throw DataError(fmt::format("dataset {}: no readable images left in class{} {}",
                                  root.string(), emptied.size() > 1 ? "es" : "",
                                  fmt::join(emptied, ", ")));
  }

  Sha256 fp;
  fp.update("fersweep-dataset-v1\n");
  for (const auto& c : m.classes) fp.update(fmt::format("class\t{}\n", c));
  for (std::size_t i = 0; i < m.images.size(); ++i)
    fp.update(fmt::format("image\t{}\t{}\t{}\n", m.images[i].relative_path, m.images[i].label,
                          good_hashes[i]));
  m.fingerprint = fp.hex_digest();
  return m;
}

cv::Mat read_rgb(const fs::path& file) {
  std::vector<uchar> bytes;
  if (!read_bytes(file, bytes)) throw DataError(fmt::format("cannot read image {}", file.string()));
  cv::Mat bgr;
  try {
    bgr = cv::imdecode(bytes, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw DataError(fmt::format("cannot decode image {}: {}", file.string(), e.err));
  }
  if (bgr.empty())
    throw DataError(
        fmt::format("cannot decode image {}: corrupt or unsupported format", file.string()));
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

}  // namespace fersweep::data
