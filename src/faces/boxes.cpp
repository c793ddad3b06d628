// Strict reading of face-box CSV files: every problem names file:line.
#include "faces/boxes.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <unordered_map>

#include "core/error.h"

namespace fersweep::faces {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> split_csv_line(const std::string& line) {
  // Box files are plain comma-separated values; a quoted field ("a,b.jpg") is unquoted.
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      fields.push_back(field);
      field.clear();
    } else {
      field += ch;
    }
  }
  fields.push_back(field);
  for (auto& f : fields) {
    const auto b = f.find_first_not_of(" \t");
    const auto e = f.find_last_not_of(" \t");
    f = b == std::string::npos ? std::string() : f.substr(b, e - b + 1);
  }
  return fields;
}

}  // namespace

std::string BoxTable::where(const BoxRecord& record) const {
  return fmt::format("{}:{}", file.string(), record.line);
}

std::optional<BoxTable> dataset_box_table(const data::Manifest& manifest) {
  BoxTable table;
  table.file = manifest.root / fmt::format("({} face boxes)", data::format_name(manifest.format));
  table.boxes.assign(manifest.images.size(), std::nullopt);
  for (std::size_t i = 0; i < manifest.images.size(); ++i) {
    const auto& e = manifest.images[i];
    if (!e.box) continue;
    const bool cut = e.kind == data::SampleKind::face_crop;
    table.boxes[i] = BoxRecord{
        cut ? cv::Rect(0, 0, e.box->w, e.box->h) : cv::Rect(e.box->x, e.box->y, e.box->w, e.box->h),
        0};
    ++table.listed;
  }
  if (table.listed == 0) return std::nullopt;
  return table;
}

BoxTable read_box_table(const fs::path& csv, const data::Manifest& manifest) {
  std::ifstream is(csv, std::ios::binary);
  if (!is) throw DataError(fmt::format("boxes file {}: cannot be read", csv.string()));
  BoxTable table;
  table.file = csv;
  table.boxes.assign(manifest.images.size(), std::nullopt);
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < manifest.images.size(); ++i)
    index.emplace(manifest.images[i].relative_path, i);
  std::unordered_map<std::string, int> seen;  // path -> first line

  std::string line;
  int line_no = 0;
  int col_path = -1, col_x = -1, col_y = -1, col_w = -1, col_h = -1;
  std::size_t columns = 0;
  auto where = [&] { return fmt::format("{}:{}", csv.string(), line_no); };
  while (std::getline(is, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 BOM
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const auto fields = split_csv_line(line);
    if (columns == 0) {
      // The header.
      for (std::size_t k = 0; k < fields.size(); ++k) {
        std::string name = fields[k];
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        int* slot = name == "path" ? &col_path
                    : name == "x"  ? &col_x
                    : name == "y"  ? &col_y
                    : name == "w"  ? &col_w
                    : name == "h"  ? &col_h
                                   : nullptr;
        if (slot && *slot >= 0)
          throw DataError(fmt::format("{}: column '{}' appears twice", where(), name));
        if (slot) *slot = static_cast<int>(k);
      }
      std::vector<std::string> missing;
      for (auto [name, col] : {std::pair{"path", col_path}, std::pair{"x", col_x},
                               std::pair{"y", col_y}, std::pair{"w", col_w}, std::pair{"h", col_h}})
        if (col < 0) missing.push_back(name);
      if (!missing.empty())
        throw DataError(fmt::format(
            "{}: the header lacks column(s) {} (expected a header such as path,class,x,y,w,h)",
            where(), fmt::join(missing, ", ")));
      columns = fields.size();
      continue;
    }
    if (fields.size() != columns)
      throw DataError(fmt::format("{}: expected {} comma-separated fields, found {}", where(),
                                  columns, fields.size()));
    int v[4];
    const int cols[4] = {col_x, col_y, col_w, col_h};
    const char* names[4] = {"x", "y", "w", "h"};
    for (int k = 0; k < 4; ++k) {
      const std::string& f = fields[static_cast<std::size_t>(cols[k])];
      const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), v[k]);
      if (ec != std::errc() || end != f.data() + f.size() || f.empty())
        throw DataError(
            fmt::format("{}: {} is '{}', not a whole number of pixels", where(), names[k], f));
    }
    if (v[0] < 0 || v[1] < 0)
      throw DataError(
          fmt::format("{}: the box starts at negative coordinates ({}, {})", where(), v[0], v[1]));
    if (v[2] <= 0 || v[3] <= 0)
      throw DataError(fmt::format("{}: the box is empty ({}x{})", where(), v[2], v[3]));
    const std::string& path = fields[static_cast<std::size_t>(col_path)];
    if (path.empty()) throw DataError(fmt::format("{}: the path is empty", where()));
    if (auto [it, fresh] = seen.emplace(path, line_no); !fresh)
      throw DataError(
          fmt::format("{}: {} already has a box on line {}", where(), path, it->second));
    const auto it = index.find(path);
    if (it == index.end()) {
      std::error_code ec;
      if (!fs::is_regular_file(manifest.root / path, ec))
        throw DataError(fmt::format("{}: no image {} under the dataset root {}", where(), path,
                                    manifest.root.string()));
      continue;  // an image the manifest leaves out
    }
    table.boxes[it->second] = BoxRecord{cv::Rect(v[0], v[1], v[2], v[3]), line_no};
    ++table.listed;
  }
  if (is.bad()) throw DataError(fmt::format("boxes file {}: read error", csv.string()));
  if (columns == 0)
    throw DataError(
        fmt::format("boxes file {}: empty (expected a header such as "
                    "path,class,x,y,w,h and one line per image)",
                    csv.string()));
  return table;
}

double iou(const cv::Rect2d& a, const cv::Rect2d& b) {
  if (a.area() <= 0 || b.area() <= 0) return 0;
  const double inter = (a & b).area();
  return inter / (a.area() + b.area() - inter);
}

}  // namespace fersweep::faces
