// The FER formats' readers (formats.h; layouts and label maps in docs/datasets.md). Each reads the
// dataset's own label files line by line, maps the dataset's label numbers to canonical class
// names through one table per format, and reports a bad line with its file and line number.
#include "data/formats.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/hash.h"

namespace fersweep::data {
namespace fs = std::filesystem;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Reads a text file line by line, knowing each line's number (1-based) and byte offset, so that
// a row can be named in messages and read again later by seeking. Strips "\r" and a UTF-8 BOM.
class LineReader {
 public:
  LineReader(const fs::path& file, std::string label) : label_(std::move(label)) {
    in_.open(file, std::ios::binary);
    if (!in_) throw DataFormatError(fmt::format("cannot open {}", file.string()));
  }
  bool next(std::string& line) {
    offset_ = next_offset_;
    if (!std::getline(in_, line)) return false;
    next_offset_ += line.size() + 1;
    ++number_;
    if (number_ == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) {
      line.erase(0, 3);
      offset_ += 3;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return true;
  }
  std::size_t number() const { return number_; }
  std::uint64_t offset() const { return offset_; }
  /// "label:line", the way messages and row identities name the current line.
  std::string where() const { return fmt::format("{}:{}", label_, number_); }

 private:
  std::ifstream in_;
  std::string label_;
  std::size_t number_ = 0;
  std::uint64_t offset_ = 0, next_offset_ = 0;
};

bool parse_int(std::string_view s, long long& out) {
  s = trim(s);
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// Splits a CSV line at commas outside double quotes (AffectNet's landmark lists may be quoted).
std::vector<std::string_view> csv_fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  bool quoted = false;
  for (std::size_t i = 0; i <= line.size(); ++i) {
    if (i < line.size() && line[i] == '"') quoted = !quoted;
    if (i == line.size() || (line[i] == ',' && !quoted)) {
      std::string_view f = line.substr(start, i - start);
      if (f.size() >= 2 && f.front() == '"' && f.back() == '"') f = f.substr(1, f.size() - 2);
      out.push_back(f);
      start = i + 1;
    }
  }
  return out;
}

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    const std::size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::string hash_text(std::string_view a, std::string_view b = {}) {
  Sha256 h;
  h.update(a.data(), a.size());
  h.update("\n", 1);
  h.update(b.data(), b.size());
  return h.hex_digest();
}

void expect_header(const fs::path& file, const std::string& label, LineReader& reader,
                   const std::vector<std::string>& columns) {
  std::string line;
  if (!reader.next(line))
    throw DataFormatError(fmt::format("{}: empty file (expected the header {})", file.string(),
                                      fmt::join(columns, ",")));
  const auto fields = csv_fields(line);
  bool ok = fields.size() == columns.size();
  for (std::size_t i = 0; ok && i < fields.size(); ++i) ok = trim(fields[i]) == columns[i];
  if (!ok)
    throw DataFormatError(fmt::format("{}:1: header is '{}', expected '{}' ({})", label, line,
                                      fmt::join(columns, ","), file.string()));
}

fs::path require_file(const fs::path& root, const std::string& relative, const char* format) {
  const fs::path file = root / relative;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw DataFormatError(
        fmt::format("dataset root {} has no {} (format: {}; see "
                    "docs/datasets.md)",
                    root.string(), relative, format));
  return file;
}

bool exists_file(const fs::path& file) {
  std::error_code ec;
  return fs::is_regular_file(file, ec);
}

// Adds the sample a label line names when its image exists; a bad line otherwise.
void add_listed(const fs::path& root, const LineReader& reader, Candidate c, Collected& out) {
  const std::string& file = c.entry.kind == SampleKind::file ? c.entry.relative_path : c.entry.file;
  if (!exists_file(root / file)) {
    out.problems.push_back(fmt::format("{}: image {} does not exist", reader.where(), file));
    return;
  }
  c.origin = reader.where();
  out.samples.push_back(std::move(c));
}

// ---- FER2013 and FER+ --------------------------------------------------------------------------

// FER2013's emotion numbers (and ExpW's, which uses the same order).
const std::array<const char*, 7> kFer2013Classes{"Angry", "Disgust",  "Fear",   "Happy",
                                                 "Sad",   "Surprise", "Neutral"};
const std::set<std::string, std::less<>> kFer2013Usages{"Training", "PublicTest", "PrivateTest"};

// One checked FER2013 row: its class number and usage; false with the reason otherwise.
bool fer2013_row(std::string_view line, long long& emotion, std::string_view& usage,
                 std::string& why) {
  const auto fields = csv_fields(line);
  if (fields.size() != 3) {
    why = fmt::format("expected 3 fields (emotion,pixels,Usage), found {}", fields.size());
    return false;
  }
  if (!parse_int(fields[0], emotion) || emotion < 0 || emotion > 6) {
    why = fmt::format("emotion '{}' is not a FER2013 class number (0-6)", fields[0]);
    return false;
  }
  unsigned char pixels[48 * 48];
  if (!parse_pixels(fields[1], pixels, why)) return false;
  usage = trim(fields[2]);
  if (kFer2013Usages.count(usage) == 0) {
    why = fmt::format("Usage '{}' is not Training, PublicTest or PrivateTest", usage);
    return false;
  }
  return true;
}

// FER+'s columns after Usage and Image name, in file order, and the canonical class of each
// emotion column (unknown and NF are not classes).
const std::array<const char*, 10> kFerPlusColumns{"neutral", "happiness", "surprise", "sadness",
                                                  "anger",   "disgust",   "fear",     "contempt",
                                                  "unknown", "NF"};
const std::array<const char*, 8> kFerPlusClasses{"Neutral", "Happy",   "Surprise", "Sad",
                                                 "Angry",   "Disgust", "Fear",     "Contempt"};

// FER+'s majority label, as its authors' reference code computes it: votes of 1 are dropped as
// outliers, and the most voted column wins when it has more than half of the remaining votes.
// Returns the column, or -1 when no column has a majority.
int ferplus_majority(const std::array<long long, 10>& votes) {
  long long total = 0, best = 0;
  int column = -1;
  for (int i = 0; i < 10; ++i) {
    const long long v =
        votes[static_cast<std::size_t>(i)] <= 1 ? 0 : votes[static_cast<std::size_t>(i)];
    total += v;
    if (v > best) {
      best = v;
      column = i;
    }
  }
  return 2 * best > total ? column : -1;
}

Collected collect_fer(const fs::path& root, bool plus) {
  Collected out;
  out.sorted_by_path = false;
  const fs::path csv = require_file(root, "fer2013.csv", plus ? "ferplus" : "fer2013");
  LineReader rows(csv, "fer2013.csv");
  expect_header(csv, "fer2013.csv", rows, {"emotion", "pixels", "Usage"});
  std::optional<LineReader> votes;
  fs::path new_csv;
  if (plus) {
    new_csv = require_file(root, "fer2013new.csv", "ferplus");
    votes.emplace(new_csv, "fer2013new.csv");
    std::vector<std::string> header{"Usage", "Image name"};
    header.insert(header.end(), kFerPlusColumns.begin(), kFerPlusColumns.end());
    expect_header(new_csv, "fer2013new.csv", *votes, header);
  }
  std::string line, vote_line, why;
  while (rows.next(line)) {
    // FER+ labels fer2013.csv line by line: its line is read before anything is skipped.
    if (votes && !votes->next(vote_line))
      throw DataFormatError(fmt::format(
          "fer2013new.csv has fewer rows than fer2013.csv (it ends before fer2013.csv's line {}); "
          "FER+ labels fer2013.csv row by row ({})",
          rows.number(), new_csv.string()));
    if (trim(line).empty()) continue;
    long long emotion = 0;
    std::string_view usage;
    if (!fer2013_row(line, emotion, usage, why)) {
      out.problems.push_back(fmt::format("{}: {}", rows.where(), why));
      continue;
    }
    Candidate c;
    c.entry.relative_path = rows.where();
    c.entry.kind = SampleKind::pixel_row;
    c.entry.file = "fer2013.csv";
    c.entry.offset = rows.offset();
    c.entry.split = std::string(usage);
    c.origin = rows.where();
    if (!votes) {
      c.cls = kFer2013Classes[static_cast<std::size_t>(emotion)];
      c.hash = hash_text(line);
      out.samples.push_back(std::move(c));
      continue;
    }
    const auto fields = csv_fields(vote_line);
    if (fields.size() != 12) {
      out.problems.push_back(
          fmt::format("{}: expected 12 fields, found {}", votes->where(), fields.size()));
      continue;
    }
    if (trim(fields[1]).empty()) {
      ++out.left_out["FER+ blank image name"];
      continue;
    }
    std::array<long long, 10> v{};
    bool ok = true;
    for (std::size_t i = 0; i < 10 && ok; ++i) {
      ok = parse_int(fields[i + 2], v[i]) && v[i] >= 0 && v[i] <= 10;
      if (!ok)
        out.problems.push_back(fmt::format("{}: {} votes '{}' are not a count from 0 to 10",
                                           votes->where(), kFerPlusColumns[i], fields[i + 2]));
    }
    if (!ok) continue;
    const int column = ferplus_majority(v);
    if (column < 0) {
      ++out.left_out["FER+ no majority"];
    } else if (column == 8) {
      ++out.left_out["FER+ unknown"];
    } else if (column == 9) {
      ++out.left_out["FER+ not a face"];
    } else {
      c.cls = kFerPlusClasses[static_cast<std::size_t>(column)];
      c.entry.split = std::string(trim(fields[0]));
      c.hash = hash_text(line, vote_line);
      out.samples.push_back(std::move(c));
    }
  }
  if (votes && votes->next(vote_line) && !trim(vote_line).empty())
    throw DataFormatError(
        fmt::format("fer2013new.csv has more rows than fer2013.csv (line {} has no pixels row); "
                    "FER+ labels fer2013.csv row by row ({})",
                    votes->number(), new_csv.string()));
  return out;
}

// ---- RAF-DB ------------------------------------------------------------------------------------

const std::array<const char*, 7> kRafdbClasses{"Surprise", "Fear",  "Disgust", "Happy",
                                               "Sad",      "Angry", "Neutral"};

Collected collect_rafdb(const fs::path& root, const DatasetLayout& layout) {
  Collected out;
  const std::string list_name = "EmoLabel/list_patition_label.txt";
  const fs::path list = require_file(root, list_name, "rafdb");
  const bool aligned = layout.images != "original";
  LineReader reader(list, list_name);
  std::string line;
  while (reader.next(line)) {
    const auto tokens = split_ws(line);
    if (tokens.empty()) continue;
    long long label = 0;
    if (tokens.size() != 2) {
      out.problems.push_back(
          fmt::format("{}: expected 'IMAGE LABEL', found '{}'", reader.where(), line));
      continue;
    }
    const std::string name(tokens[0]);
    const std::string split = name.rfind("train_", 0) == 0  ? "train"
                              : name.rfind("test_", 0) == 0 ? "test"
                                                            : "";
    if (split.empty()) {
      out.problems.push_back(fmt::format("{}: image name '{}' starts with neither train_ nor test_",
                                         reader.where(), name));
      continue;
    }
    if (!parse_int(tokens[1], label) || label < 1 || label > 7) {
      out.problems.push_back(fmt::format("{}: label '{}' is not a RAF-DB class number (1-7)",
                                         reader.where(), tokens[1]));
      continue;
    }
    const std::string stem = fs::path(name).stem().string();
    const std::string rel =
        aligned ? "Image/aligned/" + stem + "_aligned.jpg" : "Image/original/" + name;
    Candidate c;
    c.entry.relative_path = rel;
    c.entry.split = split;
    c.cls = kRafdbClasses[static_cast<std::size_t>(label - 1)];
    add_listed(root, reader, std::move(c), out);
  }
  return out;
}

// Box coordinates beyond any photograph's size (and far from int overflow in x + w).
constexpr long long kMaxCoord = 1 << 20;

// ---- AffectNet ---------------------------------------------------------------------------------

const std::array<const char*, 11> kAffectNetClasses{
    "Neutral",          "Happy", "Sad",      "Surprise",       "Fear",
    "Disgust",          "Angry", "Contempt", "AffectNet None", "AffectNet Uncertain",
    "AffectNet No-Face"};

void collect_affectnet_file(const fs::path& root, const std::string& name, const std::string& split,
                            Collected& out) {
  const fs::path csv = require_file(root, name, "affectnet");
  LineReader reader(csv, name);
  expect_header(csv, name, reader,
                {"subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
                 "facial_landmarks", "expression", "valence", "arousal"});
  // The images sit under Manually_Annotated_Images/ in the archive as shipped.
  std::error_code ec;
  const std::string prefix =
      fs::is_directory(root / "Manually_Annotated_Images", ec) ? "Manually_Annotated_Images/" : "";
  std::string line;
  while (reader.next(line)) {
    if (trim(line).empty()) continue;
    const auto f = csv_fields(line);
    if (f.size() != 9) {
      out.problems.push_back(
          fmt::format("{}: expected 9 fields, found {}", reader.where(), f.size()));
      continue;
    }
    long long expression = 0;
    if (!parse_int(f[6], expression) || expression < 0 || expression > 10) {
      out.problems.push_back(fmt::format(
          "{}: expression '{}' is not an AffectNet class number (0-10)", reader.where(), f[6]));
      continue;
    }
    if (expression >= 8) {
      ++out.left_out[kAffectNetClasses[static_cast<std::size_t>(expression)]];
      continue;
    }
    std::array<long long, 4> b{};
    bool ok = true;
    for (std::size_t i = 0; i < 4; ++i) ok = ok && parse_int(f[1 + i], b[i]);
    const bool bounded =
        std::all_of(b.begin(), b.end(), [](long long v) { return v <= kMaxCoord; });
    if (!ok || !bounded || b[0] < 0 || b[1] < 0 || b[2] <= 0 || b[3] <= 0) {
      out.problems.push_back(fmt::format(
          "{}: face box {},{},{},{} is not x,y >= 0 and width, height > 0 (each at most {})",
          reader.where(), f[1], f[2], f[3], f[4], kMaxCoord));
      continue;
    }
    Candidate c;
    c.entry.relative_path = prefix + std::string(trim(f[0]));
    c.entry.split = split;
    c.entry.box = Box{static_cast<int>(b[0]), static_cast<int>(b[1]), static_cast<int>(b[2]),
                      static_cast<int>(b[3])};
    c.cls = kAffectNetClasses[static_cast<std::size_t>(expression)];
    add_listed(root, reader, std::move(c), out);
  }
}

Collected collect_affectnet(const fs::path& root) {
  Collected out;
  collect_affectnet_file(root, "training.csv", "training", out);
  collect_affectnet_file(root, "validation.csv", "validation", out);
  return out;
}

// ---- ExpW --------------------------------------------------------------------------------------

Collected collect_expw(const fs::path& root) {
  Collected out;
  out.sorted_by_path = false;
  const std::string list_name = "label/label.lst";
  const fs::path list = require_file(root, list_name, "expw");
  LineReader reader(list, list_name);
  std::string line;
  while (reader.next(line)) {
    const auto t = split_ws(line);
    if (t.empty()) continue;
    if (t.size() != 8) {
      out.problems.push_back(fmt::format(
          "{}: expected 'image face_id top left right bottom confidence label', found {} fields",
          reader.where(), t.size()));
      continue;
    }
    long long face = 0, top = 0, left = 0, right = 0, bottom = 0, label = 0;
    if (!parse_int(t[1], face) || face < 0 || !parse_int(t[2], top) || !parse_int(t[3], left) ||
        !parse_int(t[4], right) || !parse_int(t[5], bottom)) {
      out.problems.push_back(fmt::format("{}: face id and box must be integers", reader.where()));
      continue;
    }
    if (top < 0 || left < 0 || right <= left || bottom <= top || right > kMaxCoord ||
        bottom > kMaxCoord) {
      out.problems.push_back(fmt::format(
          "{}: box top={} left={} right={} bottom={} is empty, negative or past {} pixels",
          reader.where(), top, left, right, bottom, kMaxCoord));
      continue;
    }
    if (!parse_int(t[7], label) || label < 0 || label > 6) {
      out.problems.push_back(
          fmt::format("{}: label '{}' is not an ExpW class number (0-6)", reader.where(), t[7]));
      continue;
    }
    Candidate c;
    c.entry.relative_path = fmt::format("{}#{}", reader.where(), face);
    c.entry.kind = SampleKind::face_crop;
    c.entry.file = "image/origin/" + std::string(t[0]);
    c.entry.box = Box{static_cast<int>(left), static_cast<int>(top), static_cast<int>(right - left),
                      static_cast<int>(bottom - top)};
    c.cls = kFer2013Classes[static_cast<std::size_t>(label)];
    add_listed(root, reader, std::move(c), out);
  }
  return out;
}

// ---- files named by pattern: JAFFE, CK+
// ----------------------------------------------------------

// Image files under `dir`, relative to `root`, sorted; other files are counted as ignored.
std::vector<std::string> image_files(const fs::path& root, const fs::path& dir, Collected& out) {
  std::vector<std::string> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec);
  if (ec) throw DataError(fmt::format("cannot list {}: {}", dir.string(), ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) throw DataError(fmt::format("cannot list {}: {}", dir.string(), ec.message()));
    if (!it->is_regular_file(ec)) continue;
    const std::string rel = it->path().lexically_relative(root).generic_string();
    if (is_image_file(it->path())) {
      files.push_back(rel);
    } else {
      ++out.ignored_files;
      if (out.ignored_examples.size() < 3) out.ignored_examples.push_back(rel);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool all_letters(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) != 0;
  });
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The expression code of a JAFFE file name POSER.EXPRESSION+INDEX.ID.EXT (KA.AN1.39.tiff → AN,
// poser KA); "" when the name does not have that shape.
std::string jaffe_expression(const std::string& name, std::string& poser) {
  std::vector<std::string_view> parts;
  std::string_view rest(name);
  for (std::size_t dot; (dot = rest.find('.')) != std::string_view::npos;
       rest.remove_prefix(dot + 1))
    parts.push_back(rest.substr(0, dot));
  parts.push_back(rest);
  if (parts.size() != 4 || !all_letters(parts[0]) || parts[1].size() < 2 ||
      !all_letters(parts[1].substr(0, 2)) ||
      (parts[1].size() > 2 && !all_digits(parts[1].substr(2))) || !all_digits(parts[2]))
    return "";
  poser = std::string(parts[0]);
  return std::string(parts[1].substr(0, 2));
}

Collected collect_jaffe(const fs::path& root) {
  Collected out;
  static const std::map<std::string, std::string> codes{
      {"NE", "Neutral"}, {"AN", "Angry"}, {"DI", "Disgust"}, {"FE", "Fear"},
      {"HA", "Happy"},   {"SA", "Sad"},   {"SU", "Surprise"}};
  for (const auto& rel : image_files(root, root, out)) {
    std::string poser;
    const auto code = codes.find(jaffe_expression(fs::path(rel).filename().string(), poser));
    if (code == codes.end()) {
      out.problems.push_back(fmt::format(
          "{}: not a JAFFE file name POSER.EXPRESSION+INDEX.ID (expression NE, AN, DI, FE, HA, "
          "SA or SU; e.g. KA.AN1.39.tiff)",
          rel));
      continue;
    }
    Candidate c;
    c.entry.relative_path = rel;
    c.entry.subject = poser;
    c.cls = code->second;
    out.samples.push_back(std::move(c));
  }
  return out;
}

const std::array<const char*, 8> kCkPlusClasses{"Neutral", "Angry", "Contempt", "Disgust",
                                                "Fear",    "Happy", "Sad",      "Surprise"};

// A CK+ emotion file's label: exactly one number, an integer from 0 to 7 (written as a float).
std::optional<int> ckplus_label(const fs::path& file, const std::string& rel, Collected& out) {
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto tokens = split_ws(text);
  if (tokens.size() != 1) {
    out.problems.push_back(
        fmt::format("{}:1: expected one number (the emotion), found {}", rel, tokens.size()));
    return std::nullopt;
  }
  double value = -1;
  const auto [end, ec] =
      std::from_chars(tokens[0].data(), tokens[0].data() + tokens[0].size(), value);
  const bool whole = ec == std::errc() && end == tokens[0].data() + tokens[0].size();
  if (!whole || !std::isfinite(value) || value < 0 || value > 7 ||
      value != static_cast<int>(value)) {
    out.problems.push_back(
        fmt::format("{}:1: '{}' is not a CK+ emotion number (0-7)", rel, tokens[0]));
    return std::nullopt;
  }
  return static_cast<int>(value);
}

Collected collect_ckplus(const fs::path& root, const DatasetLayout& layout) {
  Collected out;
  const fs::path images = root / "cohn-kanade-images";
  const fs::path emotions = root / "Emotion";
  std::error_code dir_ec;
  for (const auto& dir : {images, emotions})
    if (!fs::is_directory(dir, dir_ec))
      throw DataFormatError(
          fmt::format("dataset root {} has no {}/ (format: ckplus; see "
                      "docs/datasets.md)",
                      root.string(), dir.filename().string()));
  // Frames per sequence directory (cohn-kanade-images/S005/001).
  std::map<std::string, std::vector<std::string>> sequences;
  for (auto& rel : image_files(root, images, out))
    sequences[fs::path(rel).parent_path().generic_string()].push_back(rel);
  std::map<std::string, int> labels;  // sequence directory → label
  std::error_code ec;
  std::vector<std::string> emotion_files;
  for (fs::recursive_directory_iterator it(emotions, ec), end; it != end; it.increment(ec)) {
    if (ec) throw DataError(fmt::format("cannot list {}: {}", emotions.string(), ec.message()));
    const std::string name = it->path().filename().string();
    if (it->is_regular_file(ec) && name.size() > 12 &&
        name.compare(name.size() - 12, 12, "_emotion.txt") == 0)
      emotion_files.push_back(it->path().lexically_relative(root).generic_string());
  }
  std::sort(emotion_files.begin(), emotion_files.end());
  for (const auto& rel : emotion_files) {
    // Emotion/S005/001/S005_001_00000011_emotion.txt labels cohn-kanade-images/S005/001
    const fs::path seq = fs::path(rel).parent_path().lexically_relative("Emotion");
    const std::string key = ("cohn-kanade-images" / seq).generic_string();
    if (sequences.count(key) == 0) {
      out.problems.push_back(fmt::format("{}: its sequence folder {}/ has no images", rel, key));
      continue;
    }
    if (labels.count(key)) {
      out.problems.push_back(fmt::format("{}: a second emotion file for {}/", rel, key));
      continue;
    }
    if (auto label = ckplus_label(root / rel, rel, out)) labels[key] = *label;
  }
  const auto peak = static_cast<std::size_t>(std::max(1, layout.peak_frames));
  for (const auto& [dir, frames] : sequences) {
    const auto label = labels.find(dir);
    if (label == labels.end()) {
      ++out.left_out["CK+ unlabelled sequence"];
      continue;
    }
    const std::string subject = fs::path(dir).parent_path().filename().string();
    const std::size_t first_peak = frames.size() > peak ? frames.size() - peak : 0;
    for (std::size_t k = first_peak; k < frames.size(); ++k) {
      Candidate c;
      c.entry.relative_path = frames[k];
      c.entry.subject = subject;
      c.cls = kCkPlusClasses[static_cast<std::size_t>(label->second)];
      out.samples.push_back(std::move(c));
    }
    if (layout.first_frame_neutral && first_peak > 0) {
      Candidate c;
      c.entry.relative_path = frames.front();
      c.entry.subject = subject;
      c.cls = "Neutral";
      out.samples.push_back(std::move(c));
    }
  }
  return out;
}

// ---- folders -----------------------------------------------------------------------------------

// The class folders directly under `dir`, sorted.
std::vector<std::string> class_folders(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;  // a dangling symlink is not a class folder, and not an error
    const std::string name = it->path().filename().string();
    if (it->is_directory(entry_ec) && !name.empty() && name[0] != '.') names.push_back(name);
  }
  if (ec)
    throw DataError(fmt::format("cannot list dataset folder {}: {}", dir.string(), ec.message()));
  std::sort(names.begin(), names.end());
  return names;
}

// One tree of class folders (the root, or a split's folder): the images of `chosen` classes
// (every folder when empty) as candidates, the other folders' image counts as left out.
void collect_class_tree(const fs::path& root, const std::string& prefix, const std::string& split,
                        const std::vector<std::string>& chosen, Collected& out) {
  const fs::path dir = prefix.empty() ? root : root / fs::u8path(prefix);
  std::vector<std::string> folders = class_folders(dir);
  for (const auto& c : chosen)
    if (std::find(folders.begin(), folders.end(), c) == folders.end()) folders.push_back(c);
  std::set<std::string> wanted(chosen.begin(), chosen.end());
  for (const auto& cls : folders) {
    const fs::path folder = dir / fs::u8path(cls);
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) continue;  // reported by the caller as missing
    const bool keep = chosen.empty() || wanted.count(cls) > 0;
    fs::recursive_directory_iterator it(folder, fs::directory_options::follow_directory_symlink,
                                        ec);
    // A folder the study leaves out is only counted: one that cannot be listed (lost+found,
    // no permission) is not an error.
    if (ec && !keep) continue;
    if (ec)
      throw DataError(
          fmt::format("cannot list class folder {}: {}", folder.string(), ec.message()));
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec && !keep) break;
      if (ec)
        throw DataError(
            fmt::format("cannot list class folder {}: {}", folder.string(), ec.message()));
      if (!it->is_regular_file(ec)) continue;
      // Built lexically so that symlinked class folders keep their name in the path.
      const std::string rel = (prefix.empty() ? "" : prefix + "/") + cls + "/" +
                              it->path().lexically_relative(folder).generic_string();
      if (!is_image_file(it->path())) {
        if (!keep) continue;
        ++out.ignored_files;
        if (out.ignored_examples.size() < 3) out.ignored_examples.push_back(rel);
        continue;
      }
      if (!keep) {
        ++out.left_out[cls];
        continue;
      }
      Candidate c;
      c.entry.relative_path = rel;
      c.entry.split = split;
      c.cls = cls;
      out.samples.push_back(std::move(c));
    }
  }
  for (const auto& f : class_folders(dir))
    if (std::find(out.classes.begin(), out.classes.end(), f) == out.classes.end())
      out.classes.push_back(f);
}

Collected collect_folders(const fs::path& root, const ScanOptions& options) {
  Collected out;
  if (!options.layout.splits) {
    collect_class_tree(root, "", "", options.classes, out);
  } else {
    for (const auto& [split, folder] : *options.layout.splits) {
      const fs::path dir = root / fs::u8path(folder);
      std::error_code ec;
      if (!fs::is_directory(dir, ec))
        throw DataError(
            fmt::format("dataset.splits.{}: folder {} does not exist", split, dir.string()));
      collect_class_tree(root, folder, split, options.classes, out);
    }
  }
  std::sort(out.classes.begin(), out.classes.end());
  return out;
}

}  // namespace

bool parse_pixels(std::string_view field, unsigned char* out, std::string& why) {
  std::size_t n = 0;
  const char* p = field.data();
  const char* end = p + field.size();
  while (p < end) {
    while (p < end && *p == ' ') ++p;
    if (p == end) break;
    unsigned value = 0;
    const char* start = p;
    while (p < end && *p >= '0' && *p <= '9' && p - start < 4)
      value = value * 10 + static_cast<unsigned>(*p++ - '0');
    if (p == start || (p < end && *p != ' ')) {
      why = fmt::format("pixel {} is not a number from 0 to 255", n + 1);
      return false;
    }
    if (value > 255) {
      why = fmt::format("pixel {} is {}, above 255", n + 1, value);
      return false;
    }
    if (n == 48 * 48) {
      why = "more than 2304 pixels (48x48 expected)";
      return false;
    }
    out[n++] = static_cast<unsigned char>(value);
  }
  if (n != 48 * 48) {
    why = fmt::format("{} pixels, 2304 (48x48) expected", n);
    return false;
  }
  return true;
}

std::string_view csv_field(std::string_view line, std::size_t column) {
  const auto fields = csv_fields(line);  // the scan's own splitting, quotes stripped alike
  return column < fields.size() ? fields[column] : std::string_view();
}

std::vector<std::string> choose_classes(Format format, const Collected& found,
                                        const ScanOptions& options) {
  std::vector<std::string> chosen = options.classes;
  std::set<std::string> seen;
  for (const auto& c : chosen) {
    if (c.empty() || c.find('/') != std::string::npos)
      throw ConfigError(fmt::format("invalid class name '{}' (must be a folder name)", c));
    if (!seen.insert(c).second) throw ConfigError(fmt::format("class '{}' is listed twice", c));
    const auto& known = canonical_classes();
    if (format != Format::folders && std::find(known.begin(), known.end(), c) == known.end())
      throw ConfigError(fmt::format("class '{}' is not one of the class names {} maps into ({})", c,
                                    format_name(format), fmt::join(known, ", ")));
  }
  if (!chosen.empty()) return chosen;
  if (format == Format::folders) return found.classes;
  std::set<std::string> present;
  for (const auto& c : found.samples) present.insert(c.cls);
  return {present.begin(), present.end()};
}

Collected collect_samples(Format format, const fs::path& root, const ScanOptions& options) {
  switch (format) {
    case Format::folders:
      return collect_folders(root, options);
    case Format::fer2013:
      return collect_fer(root, false);
    case Format::ferplus:
      return collect_fer(root, true);
    case Format::rafdb:
      return collect_rafdb(root, options.layout);
    case Format::affectnet:
      return collect_affectnet(root);
    case Format::ckplus:
      return collect_ckplus(root, options.layout);
    case Format::jaffe:
      return collect_jaffe(root);
    case Format::expw:
      return collect_expw(root);
  }
  throw InternalError("unknown dataset format");
}

}  // namespace fersweep::data
