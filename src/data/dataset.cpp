// Dataset scanning (class folders → sorted manifest, content fingerprint, bad-file report) and
// image decoding to RGB.
#include "data/dataset.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/parallel.h"
#include "data/formats.h"

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
std::string image_problem(const std::vector<uchar>& bytes, cv::Size& size) {
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
    size = img.size();
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

void to_json(nlohmann::json& j, const ImageEntry& e) {
  j = nlohmann::json::array({e.relative_path, e.label});
  if (e.subject.empty() && e.split.empty() && e.kind == SampleKind::file && !e.box) return;
  j.push_back(e.subject);
  j.push_back(e.split);
  j.push_back(static_cast<int>(e.kind));
  j.push_back(e.file);
  j.push_back(e.offset);
  j.push_back(e.box ? nlohmann::json::array({e.box->x, e.box->y, e.box->w, e.box->h})
                    : nlohmann::json(nullptr));
}

void from_json(const nlohmann::json& j, ImageEntry& e) {
  e = ImageEntry{};
  j.at(0).get_to(e.relative_path);
  j.at(1).get_to(e.label);
  if (j.size() == 2) return;
  j.at(2).get_to(e.subject);
  j.at(3).get_to(e.split);
  const int kind = j.at(4).get<int>();
  if (kind < 0 || kind > static_cast<int>(SampleKind::face_crop))
    throw DataError(fmt::format("sample {}: unknown kind {}", e.relative_path, kind));
  e.kind = static_cast<SampleKind>(kind);
  j.at(5).get_to(e.file);
  j.at(6).get_to(e.offset);
  if (const auto& b = j.at(7); !b.is_null())
    e.box = Box{b.at(0).get<int>(), b.at(1).get<int>(), b.at(2).get<int>(), b.at(3).get<int>()};
}

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
  const ImageEntry& e = images.at(i);
  return root / fs::u8path(e.kind == SampleKind::file ? e.relative_path : e.file);
}

bool is_image_file(const fs::path& file) {
  static const std::set<std::string> extensions{".jpg", ".jpeg", ".jpe",  ".png", ".bmp", ".dib",
                                                ".tif", ".tiff", ".webp", ".pbm", ".pgm", ".ppm",
                                                ".pnm", ".pxm",  ".sr",   ".ras", ".jp2"};
  const std::string name = file.filename().string();
  if (name.empty() || name[0] == '.') return false;  // .DS_Store, ._foo.jpg (macOS metadata)
  return extensions.count(lower(file.extension().string())) > 0;
}

namespace {

// Every class folder the folders format was asked for must exist (in every split).
void check_class_folders(const fs::path& root, const ScanOptions& options,
                         const std::vector<std::string>& classes) {
  std::vector<std::string> dirs{""};
  if (options.layout.splits) {
    dirs.clear();
    for (const auto& [split, folder] : *options.layout.splits) dirs.push_back(folder);
  }
  std::vector<std::string> missing;
  std::error_code ec;
  for (const auto& d : dirs)
    for (const auto& c : classes) {
      const fs::path folder =
          d.empty() ? root / fs::u8path(c) : root / fs::u8path(d) / fs::u8path(c);
      if (!fs::is_directory(folder, ec)) missing.push_back(folder.string());
    }
  if (!missing.empty())
    throw DataError(fmt::format("missing class folder{}: {}", missing.size() > 1 ? "s" : "",
                                fmt::join(missing, ", ")));
}

// What checking one file found, keyed in the scan cache by the file's size and modification
// time: a second scan of an unchanged dataset reads no image (a 100,000-image folder dataset:
// bench/data/scan_cache.py).
struct FileFacts {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::string hash, problem;
  int width = 0, height = 0;
};

// Size and modification time of a file; false when it cannot be stat'ed.
bool stat_file(const fs::path& file, std::uint64_t& size, std::int64_t& mtime_ns) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return false;
  size = static_cast<std::uint64_t>(st.st_size);
  mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return true;
}

constexpr const char* kScanCacheHeader = "fersweep-scan-cache-v1";

// One TSV file per dataset root: `path, size, mtime_ns, sha256, width, height, problem` per
// file, read line by line without building a document (the whole second scan of a 100,000-image
// dataset takes 0.45 s: bench/data/scan_cache.py). A missing, foreign or damaged file is an empty
// cache (the scan then checks everything).
std::unordered_map<std::string, FileFacts> read_scan_cache(const fs::path& file) {
  std::unordered_map<std::string, FileFacts> out;
  std::ifstream in(file, std::ios::binary);
  std::string line;
  if (!in || !std::getline(in, line) || line != kScanCacheHeader) return out;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::size_t start = 0;
    for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
      f.push_back(line.substr(start, tab - start));
    f.push_back(line.substr(start));
    if (f.size() != 7) return {};
    FileFacts facts;
    try {
      facts.size = std::stoull(f[1]);
      facts.mtime_ns = std::stoll(f[2]);
      facts.width = std::stoi(f[4]);
      facts.height = std::stoi(f[5]);
    } catch (const std::exception&) {
      return {};
    }
    facts.hash = std::move(f[3]);
    facts.problem = std::move(f[6]);
    out.emplace(std::move(f[0]), std::move(facts));
  }
  return out;
}

// Written next to the old one and renamed over it; a failure only costs the next scan its speed.
void write_scan_cache(const fs::path& file,
                      const std::vector<std::pair<std::string, FileFacts>>& facts) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  const fs::path tmp = file.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream os(tmp, std::ios::binary | std::ios::trunc);
    os << kScanCacheHeader << '\n';
    for (const auto& [path, f] : facts) {
      if (path.find_first_of("\t\n") != std::string::npos ||
          f.problem.find_first_of("\t\n") != std::string::npos)
        continue;  // not representable; such a file is checked again next time
      os << path << '\t' << f.size << '\t' << f.mtime_ns << '\t' << f.hash << '\t' << f.width
         << '\t' << f.height << '\t' << f.problem << '\n';
    }
    if (!os) {
      log::warn("scan cache {}: cannot write it; the next scan will check every image again",
                tmp.string());
      fs::remove(tmp, ec);
      return;
    }
  }
  fs::rename(tmp, file, ec);
  if (ec) {
    log::warn("scan cache {}: {}", file.string(), ec.message());
    fs::remove(tmp, ec);
  }
}

// The scan cache file of a dataset root (its absolute path hashed) in `dir`.
fs::path scan_cache_file(const fs::path& dir, const fs::path& root) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(root, ec).lexically_normal();
  return dir / (sha256_hex(absolute.string()).substr(0, 32) + ".tsv");
}

// Reads, hashes and test-decodes one file.
FileFacts check_file(const fs::path& file, std::vector<uchar>& bytes) {
  FileFacts f;
  if (!read_bytes(file, bytes)) {
    f.problem = "cannot be read";
    return f;
  }
  Sha256 h;
  h.update(bytes.data(), bytes.size());
  f.hash = h.hex_digest();
  cv::Size size;
  f.problem = image_problem(bytes, size);
  f.width = size.width;
  f.height = size.height;
  return f;
}

// Checks every file sample in parallel (from the scan cache when its size and modification time
// match); a face box must lie inside its image. Returns the problem per sample ("" when fine),
// fills the hashes of file samples, and updates the cache file when `cache_dir` is given.
std::vector<std::string> check_files(const Manifest& m, std::vector<std::string>& hashes,
                                     int threads, const fs::path& cache_dir) {
  const fs::path cache_file = cache_dir.empty() ? fs::path() : scan_cache_file(cache_dir, m.root);
  const auto cache = cache_file.empty() ? std::unordered_map<std::string, FileFacts>()
                                        : read_scan_cache(cache_file);
  std::vector<std::string> problems(m.images.size());
  std::vector<FileFacts> facts(m.images.size());
  std::vector<char> checked(m.images.size(), 0);
  std::atomic<std::size_t> reused{0};
  parallel_for_each(
      m.images.size(), threads, [](int) { return std::vector<uchar>(); },
      [&](std::vector<uchar>& bytes, std::size_t i) {
        const ImageEntry& e = m.images[i];
        if (e.kind == SampleKind::pixel_row) return;  // checked while parsing
        const fs::path file = m.path(i);
        std::uint64_t size = 0;
        std::int64_t mtime = 0;
        const bool known = stat_file(file, size, mtime);
        const auto hit =
            known ? cache.find(e.kind == SampleKind::file ? e.relative_path : e.file) : cache.end();
        if (hit != cache.end() && hit->second.size == size && hit->second.mtime_ns == mtime) {
          facts[i] = hit->second;
          ++reused;
        } else {
          facts[i] = check_file(file, bytes);
          facts[i].size = size;
          facts[i].mtime_ns = mtime;
        }
        checked[i] = known;
        hashes[i] = facts[i].hash;
        problems[i] = facts[i].problem;
        if (problems[i].empty() && e.box) {
          const Box& b = *e.box;
          if (b.x + b.w > facts[i].width || b.y + b.h > facts[i].height)
            problems[i] = fmt::format("face box x={} y={} w={} h={} lies outside the {}x{} image",
                                      b.x, b.y, b.w, b.h, facts[i].width, facts[i].height);
        }
      });
  const auto files =
      static_cast<std::size_t>(std::count_if(m.images.begin(), m.images.end(), [](const auto& e) {
        return e.kind != SampleKind::pixel_row;
      }));
  if (!cache_file.empty() && reused < files) {
    std::vector<std::pair<std::string, FileFacts>> rows;
    for (std::size_t i = 0; i < m.images.size(); ++i)
      // "cannot be read" may pass (permissions fixed with chmod, which keeps size and mtime).
      if (checked[i] && facts[i].problem != "cannot be read")
        rows.emplace_back(
            m.images[i].kind == SampleKind::file ? m.images[i].relative_path : m.images[i].file,
            facts[i]);
    write_scan_cache(cache_file, rows);
  }
  if (reused > 0)
    log::info("dataset {}: {} of {} files unchanged since the last scan (scan cache {})",
              m.root.string(), reused.load(), m.images.size(), cache_file.string());
  return problems;
}

std::string fingerprint_of(const Manifest& m, const std::vector<std::string>& hashes) {
  Sha256 fp;
  fp.update("fersweep-dataset-v1\n");
  for (const auto& c : m.classes) fp.update(fmt::format("class\t{}\n", c));
  for (std::size_t i = 0; i < m.images.size(); ++i) {
    const ImageEntry& e = m.images[i];
    std::string line = fmt::format("image\t{}\t{}\t{}", e.relative_path, e.label, hashes[i]);
    // Plain folder images keep the line of fersweep versions without formats (cache keys and
    // results directories stay valid); everything else a format adds is hashed too.
    if (!e.subject.empty() || !e.split.empty() || e.kind != SampleKind::file || e.box) {
      line += fmt::format("\t{}\t{}\t{}", e.subject, e.split, static_cast<int>(e.kind));
      if (e.box) line += fmt::format("\t{},{},{},{}", e.box->x, e.box->y, e.box->w, e.box->h);
    }
    fp.update(line + "\n");
  }
  return fp.hex_digest();
}

// DataFormatError listing `problems` (the first 20, then a count), or DataError for unreadable
// images, unless skipped.
[[noreturn]] void throw_problems(const fs::path& root, const std::vector<std::string>& problems,
                                 bool format_rules) {
  constexpr std::size_t kShown = 20;
  std::vector<std::string> shown(
      problems.begin(),
      problems.begin() + static_cast<std::ptrdiff_t>(std::min(kShown, problems.size())));
  if (problems.size() > kShown)
    shown.push_back(fmt::format("... and {} more", problems.size() - kShown));
  const std::string text =
      fmt::format("dataset {}: {} {}{} (fix or remove them, or pass --skip-bad-images):\n  {}",
                  root.string(), problems.size(), format_rules ? "bad line" : "unreadable image",
                  problems.size() > 1 ? "s" : "", fmt::join(shown, "\n  "));
  if (format_rules) throw DataFormatError(text);
  throw DataError(text);
}

}  // namespace

Manifest scan_dataset(const fs::path& root, const ScanOptions& options) {
  std::error_code ec;
  if (!fs::exists(root, ec))
    throw DataError(fmt::format("dataset root {} does not exist", root.string()));
  if (!fs::is_directory(root, ec))
    throw DataError(fmt::format("dataset root {} is not a directory", root.string()));
  const Format format = parse_format(options.layout.format);

  Manifest m;
  m.root = root;
  m.format = format;
  if (format == Format::folders) check_class_folders(root, options, options.classes);
  Collected found = collect_samples(format, root, options);
  if (!found.problems.empty() && !options.skip_bad_images)
    throw_problems(root, found.problems, true);
  m.classes = choose_classes(format, found, options);
  if (m.classes.empty())
    throw DataError(fmt::format(
        format == Format::folders
            ? "dataset root {} has no class folders (expected one subfolder per class, e.g. "
              "Angry/, Happy/, ...)"
            : "dataset {} has no samples",
        root.string()));

  std::map<std::string, int> label_of;
  for (std::size_t c = 0; c < m.classes.size(); ++c) label_of[m.classes[c]] = static_cast<int>(c);
  std::vector<Candidate> kept;
  for (auto& c : found.samples) {
    const auto it = label_of.find(c.cls);
    if (it == label_of.end()) {
      ++found.left_out[c.cls];
      continue;
    }
    c.entry.label = it->second;
    kept.push_back(std::move(c));
  }
  if (found.sorted_by_path)
    std::sort(kept.begin(), kept.end(), [](const Candidate& a, const Candidate& b) {
      return a.entry.relative_path < b.entry.relative_path;
    });
  m.left_out = std::move(found.left_out);
  m.ignored_files = found.ignored_files;
  if (m.ignored_files > 0)
    log::info("dataset {}: ignored {} non-image file{} (e.g. {})", root.string(), m.ignored_files,
              m.ignored_files > 1 ? "s" : "", fmt::join(found.ignored_examples, ", "));

  std::vector<std::string> hashes(kept.size()), origins(kept.size());
  for (std::size_t i = 0; i < kept.size(); ++i) {
    hashes[i] = std::move(kept[i].hash);
    origins[i] = std::move(kept[i].origin);
    m.images.push_back(std::move(kept[i].entry));
  }
  const auto counts = m.class_counts();
  std::vector<std::string> empty_classes;
  for (std::size_t c = 0; c < counts.size(); ++c) {
    if (counts[c] > 0) continue;
    const bool folder = format == Format::folders && !options.layout.splits;
    empty_classes.push_back(folder ? (root / fs::u8path(m.classes[c])).string() : m.classes[c]);
  }
  if (!empty_classes.empty()) {
    const bool folders = format == Format::folders && !options.layout.splits;
    throw DataError(fmt::format("{}{} with no images: {}", folders ? "class folder" : "class",
                                empty_classes.size() > 1 ? (folders ? "s" : "es") : "",
                                fmt::join(empty_classes, ", ")));
  }

  // Every file is read, hashed and test-decoded now; every problem is collected, not just the
  // first.
  const auto problems = check_files(m, hashes, options.threads, options.cache_dir);
  // A box outside its image breaks the format's rules (exit 2); an undecodable file is bad data.
  std::vector<std::string> bad = found.problems, unreadable, misplaced;
  for (std::size_t i = 0; i < m.images.size(); ++i) {
    if (problems[i].empty()) continue;
    const std::string& name = origins[i].empty() ? m.images[i].relative_path : origins[i];
    const bool box = problems[i].rfind("face box", 0) == 0;
    (box ? misplaced : unreadable).push_back(fmt::format("{}: {}", name, problems[i]));
    bad.push_back(fmt::format("{}: {}", name, problems[i]));
  }
  if (!options.skip_bad_images && !misplaced.empty()) throw_problems(root, misplaced, true);
  if (!options.skip_bad_images && !unreadable.empty()) throw_problems(root, unreadable, false);
  if (!bad.empty()) {
    log::warn("dataset {}: skipping {} {}{}:\n  {}", root.string(), bad.size(),
              found.problems.empty() ? "unreadable image" : "bad sample", bad.size() > 1 ? "s" : "",
              fmt::join(bad, "\n  "));
    std::vector<ImageEntry> good;
    std::vector<std::string> good_hashes;
    for (std::size_t i = 0; i < m.images.size(); ++i) {
      if (!problems[i].empty()) continue;
      good.push_back(std::move(m.images[i]));
      good_hashes.push_back(std::move(hashes[i]));
    }
    m.images = std::move(good);
    hashes = std::move(good_hashes);
    m.bad_images = std::move(bad);
    std::vector<std::string> emptied;
    const auto left = m.class_counts();
    for (std::size_t c = 0; c < left.size(); ++c)
      if (left[c] == 0) emptied.push_back(m.classes[c]);
    if (!emptied.empty())
      throw DataError(fmt::format("dataset {}: no readable images left in class{} {}",
                                  root.string(), emptied.size() > 1 ? "es" : "",
                                  fmt::join(emptied, ", ")));
  }
  m.fingerprint = fingerprint_of(m, hashes);
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

namespace {

// The row's 48x48 grey pixels, read again from its CSV file at its offset.
// The text of the line at `offset` of `file`, read with pread into a per-thread buffer: an
// std::ifstream per row (locale, buffer, seek) streamed FER2013 rows at 0.99x the rate of the
// same faces as 48x48 JPEG files; with pread 1.03-1.05x (bench/data/rows_vs_jpeg.py).
bool read_line_at(const fs::path& file, std::uint64_t offset, std::string_view& line) {
  thread_local std::vector<char> buffer(16384);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::size_t have = 0;
  for (;;) {
    const ssize_t got =
        ::pread(fd, buffer.data() + have, buffer.size() - have, static_cast<off_t>(offset + have));
    if (got < 0) break;
    have += static_cast<std::size_t>(got);
    const auto* end = static_cast<const char*>(std::memchr(buffer.data(), '\n', have));
    if (end || got == 0) {
      line = std::string_view(buffer.data(),
                              end ? static_cast<std::size_t>(end - buffer.data()) : have);
      ::close(fd);
      return have > 0;
    }
    if (have == buffer.size()) buffer.resize(buffer.size() * 2);
  }
  ::close(fd);
  return false;
}

// The row's 48x48 grey pixels, read again from its CSV file at its offset.
cv::Mat read_pixel_row(const Manifest& m, std::size_t i) {
  const ImageEntry& e = m.images[i];
  std::string_view line;
  if (!read_line_at(m.path(i), e.offset, line))
    throw DataError(
        fmt::format("cannot read sample {} from {}", e.relative_path, m.path(i).string()));
  cv::Mat grey(48, 48, CV_8UC1);
  std::string why;
  if (!parse_pixels(csv_field(line, 1), grey.ptr<unsigned char>(), why))
    throw DataError(fmt::format("sample {}: {} (has {} changed since the scan?)", e.relative_path,
                                why, m.path(i).string()));
  cv::Mat rgb;
  cv::cvtColor(grey, rgb, cv::COLOR_GRAY2RGB);
  return rgb;
}

}  // namespace

cv::Mat read_sample(const Manifest& manifest, std::size_t i) {
  const ImageEntry& e = manifest.images.at(i);
  switch (e.kind) {
    case SampleKind::file:
      return read_rgb(manifest.path(i));
    case SampleKind::pixel_row:
      return read_pixel_row(manifest, i);
    case SampleKind::face_crop: {
      const cv::Mat rgb = read_rgb(manifest.path(i));
      const Box& b = e.box.value();
      const cv::Rect rect = cv::Rect(b.x, b.y, b.w, b.h) & cv::Rect(0, 0, rgb.cols, rgb.rows);
      if (rect.area() == 0)
        throw DataError(fmt::format("sample {}: its face box lies outside {}", e.relative_path,
                                    manifest.path(i).string()));
      return rgb(rect).clone();
    }
  }
  throw InternalError("unknown sample kind");
}

}  // namespace fersweep::data
