// Quality control of face crops: blur scores, flags, per-class statistics, the log summary and
// the contact sheet.
#include "faces/qc.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/parallel.h"

namespace fersweep::faces {
namespace {

using nlohmann::json;

// Linear interpolation between order statistics (numpy.percentile's default).
double percentile(std::vector<double> sorted_values, double q) {
  std::sort(sorted_values.begin(), sorted_values.end());
  const double pos = q / 100.0 * static_cast<double>(sorted_values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, sorted_values.size() - 1);
  return sorted_values[lo] +
         (pos - static_cast<double>(lo)) * (sorted_values[hi] - sorted_values[lo]);
}

json distribution(const std::vector<double>& values) {
  if (values.empty()) return nullptr;
  double sum = 0;
  for (double v : values) sum += v;
  return {{"min", percentile(values, 0)},     {"p25", percentile(values, 25)},
          {"median", percentile(values, 50)}, {"p75", percentile(values, 75)},
          {"max", percentile(values, 100)},   {"mean", sum / static_cast<double>(values.size())}};
}

json rect_json(const cv::Rect2f& r) {
  return json::array({r.x, r.y, r.width, r.height});
}

const char* const kFlags[] = {"tiny", "blurry", "several_faces", "low_iou"};
const char* const kFallbacks[] = {"keep", "center", "drop", "boxes"};

// Statistics over the images `members` (indices into records).
json group_stats(const std::vector<std::size_t>& members, const std::vector<ImageRecord>& records,
                 const std::vector<std::optional<Crop>>& crops, const QcThresholds& thresholds) {
  std::size_t with_face = 0, dropped = 0, aligned = 0, align_failed = 0, flagged = 0,
              fallback_box_missing = 0, faces_total = 0, truth_images = 0, iou_pass = 0;
  std::map<std::string, std::size_t> face_counts{{"0", 0}, {"1", 0}, {"2", 0}, {"3+", 0}};
  std::map<std::string, std::size_t> fallbacks, flags;
  for (const char* f : kFallbacks) fallbacks[f] = 0;
  for (const char* f : kFlags) flags[f] = 0;
  std::vector<double> sizes, blurs, ious;
  for (std::size_t i : members) {
    const ImageRecord& r = records[i];
    with_face += r.faces > 0;
    faces_total += static_cast<std::size_t>(r.faces);
    ++face_counts[r.faces >= 3 ? "3+" : std::to_string(r.faces)];
    if (r.fallback) ++fallbacks[*r.fallback];
    fallback_box_missing += r.fallback_box_missing;
    aligned += r.align_deg.has_value();
    align_failed += r.align_failed;
    flagged += !r.flags.empty();
    for (const auto& f : r.flags) ++flags[f];
    if (!crops[i]) {
      ++dropped;
    } else {
      sizes.push_back(std::min(crops[i]->width, crops[i]->height));
      blurs.push_back(r.blur);
    }
    if (r.truth) {
      ++truth_images;
      if (r.iou) {
        ious.push_back(*r.iou);
        iou_pass += *r.iou >= thresholds.iou_threshold;
      }
    }
  }
  const double n = static_cast<double>(members.size());
  json s = {{"images", members.size()},
            {"with_face", with_face},
            {"detection_rate", members.empty() ? 0.0 : static_cast<double>(with_face) / n},
            {"kept", members.size() - dropped},
            {"dropped", dropped},
            {"faces_per_image",
             {{"mean", members.empty() ? 0.0 : static_cast<double>(faces_total) / n},
              {"counts", face_counts}}},
            {"crop_size", distribution(sizes)},
            {"blur", distribution(blurs)},
            {"fallbacks", fallbacks},
            {"fallback_box_missing", fallback_box_missing},
            {"aligned", aligned},
            {"align_failed", align_failed},
            {"flagged", flagged},
            {"flags", flags}};
  if (truth_images == 0) {
    s["iou"] = nullptr;
  } else {
    s["iou"] = {{"images", truth_images},
                {"with_face_box", ious.size()},
                {"mean", ious.empty() ? json(nullptr) : distribution(ious)["mean"]},
                {"median", ious.empty() ? json(nullptr) : distribution(ious)["median"]},
                {"at_threshold", iou_pass},
                {"rate", static_cast<double>(iou_pass) / static_cast<double>(truth_images)}};
  }
  return s;
}

}  // namespace

double blur_score(const cv::Mat& rgb) {
  cv::Mat gray, sized, lap;
  cv::cvtColor(rgb, gray, cv::COLOR_RGB2GRAY);
  const bool shrink = gray.cols >= kBlurSide && gray.rows >= kBlurSide;
  cv::resize(gray, sized, cv::Size(kBlurSide, kBlurSide), 0, 0,
             shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::Laplacian(sized, lap, CV_64F);
  cv::Scalar mean, sd;
  cv::meanStdDev(lap, mean, sd);
  return sd[0] * sd[0];
}

void flag_record(ImageRecord& r, const QcThresholds& t) {
  r.flags.clear();
  if (r.face) {
    if (std::min(r.face->width, r.face->height) < static_cast<float>(t.min_face_px))
      r.flags.push_back("tiny");
  }
  if (r.blur < t.blur_threshold && !(r.fallback && *r.fallback == "drop"))
    r.flags.push_back("blurry");
  if (r.faces > 1) r.flags.push_back("several_faces");
  if (r.iou && *r.iou < t.iou_threshold) r.flags.push_back("low_iou");
}

json build_qc_report(const data::Manifest& manifest, const CropConfig& config,
                     const std::vector<ImageRecord>& records,
                     const std::vector<std::optional<Crop>>& crops, const std::string& truth_file) {
  FERSWEEP_ASSERT(records.size() == manifest.images.size() && crops.size() == records.size(),
                  "QC records do not match the manifest");
  json qc;
  qc["format"] = "fersweep-face-qc/1";
  qc["config"] = config.canonical;
  qc["thresholds"] = config.canonical.at("qc");
  qc["dataset"] = {{"root", manifest.root.string()},
                   {"fingerprint", manifest.fingerprint},
                   {"images", manifest.images.size()},
                   {"classes", manifest.classes}};
  qc["truth_boxes"] = truth_file.empty() ? json(nullptr) : json(truth_file);

  std::vector<std::size_t> all(records.size());
  std::vector<std::vector<std::size_t>> per_class(manifest.classes.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    all[i] = i;
    per_class[static_cast<std::size_t>(manifest.images[i].label)].push_back(i);
  }
  qc["summary"] = group_stats(all, records, crops, config.qc);
  qc["summary"]["detector"] = to_string(config.detector);
  json classes = json::array();
  for (std::size_t c = 0; c < per_class.size(); ++c) {
    json s = group_stats(per_class[c], records, crops, config.qc);
    s["class"] = manifest.classes[c];
    classes.push_back(std::move(s));
  }
  qc["classes"] = std::move(classes);

  json images = json::array();
  for (std::size_t i = 0; i < records.size(); ++i) {
    const ImageRecord& r = records[i];
    const auto& entry = manifest.images[i];
    json im = {{"path", entry.relative_path},
               {"class", manifest.classes[static_cast<std::size_t>(entry.label)]},
               {"width", r.image_size.width},
               {"height", r.image_size.height},
               {"faces", r.faces},
               {"face", r.face ? rect_json(*r.face) : json(nullptr)},
               {"score", r.face ? json(r.score) : json(nullptr)},
               {"fallback", r.fallback ? json(*r.fallback) : json(nullptr)},
               {"crop", crops[i] ? to_json(*crops[i]) : json(nullptr)},
               {"output", crops[i] ? json(cropped_relative_path(manifest, i)) : json(nullptr)},
               {"align_deg", r.align_deg ? json(*r.align_deg) : json(nullptr)},
               {"blur", crops[i] ? json(r.blur) : json(nullptr)},
               {"truth", r.truth ? rect_json(*r.truth) : json(nullptr)},
               {"iou", r.iou ? json(*r.iou) : json(nullptr)},
               {"flags", r.flags}};
    if (r.fallback_box_missing) im["fallback_box_missing"] = true;
    if (r.align_failed) im["align_failed"] = true;
    images.push_back(std::move(im));
  }
  qc["images"] = std::move(images);
  return qc;
}

std::string format_qc_summary(const json& qc) {
  const json& s = qc.at("summary");
  const double thr = qc.at("thresholds").at("iou_threshold").get<double>();
  auto pct = [](double x) { return fmt::format("{:.1f}%", 100 * x); };
  auto med = [](const json& d) {
    return d.is_null() ? std::string("-") : fmt::format("{:.0f}", d.at("median").get<double>());
  };
  auto iou_rate = [&](const json& g) {
    return g.at("iou").is_null() ? std::string("-") : pct(g.at("iou").at("rate").get<double>());
  };
  auto fallbacks = [](const json& g) {
    std::size_t n = 0;
    for (const auto& [k, v] : g.at("fallbacks").items()) {
      (void)k;
      n += v.get<std::size_t>();
    }
    return n;
  };
  std::string out = fmt::format(
      "face crops ({}): {} images, {} with a face ({}), {} fallbacks ({}), {} dropped, {} "
      "flagged",
      s.at("detector").get<std::string>(), s.at("images").get<std::size_t>(),
      s.at("with_face").get<std::size_t>(), pct(s.at("detection_rate").get<double>()), fallbacks(s),
      qc.at("config").at("fallback").get<std::string>(), s.at("dropped").get<std::size_t>(),
      s.at("flagged").get<std::size_t>());
  if (!s.at("iou").is_null())
    out += fmt::format("; face box IoU >= {:.2f} with the true box: {} of {} images ({})", thr,
                       s.at("iou").at("at_threshold").get<std::size_t>(),
                       s.at("iou").at("images").get<std::size_t>(), iou_rate(s));
  out += "\n";
  out += fmt::format("  {:<12} {:>6} {:>7} {:>8} {:>10} {:>9} {:>8} {:>8} {:>8}\n", "class",
                     "images", "face %", "faces/im", "crop (med)", "blur (med)", "fallback",
                     "flagged", "IoU ok");
  for (const auto& c : qc.at("classes")) {
    out += fmt::format("  {:<12} {:>6} {:>7} {:>8.2f} {:>10} {:>9} {:>8} {:>8} {:>8}\n",
                       c.at("class").get<std::string>(), c.at("images").get<std::size_t>(),
                       pct(c.at("detection_rate").get<double>()),
                       c.at("faces_per_image").at("mean").get<double>(), med(c.at("crop_size")),
                       med(c.at("blur")), fallbacks(c), c.at("flagged").get<std::size_t>(),
                       iou_rate(c));
  }
  const json& f = s.at("flags");
  out += fmt::format(
      "  flags: tiny {} (face < {} px), blurry {} (Laplacian variance < {}), several faces {}, "
      "low IoU {} (< {:.2f})",
      f.at("tiny").get<std::size_t>(), qc.at("thresholds").at("min_face_px").get<int>(),
      f.at("blurry").get<std::size_t>(), qc.at("thresholds").at("blur_threshold").get<double>(),
      f.at("several_faces").get<std::size_t>(), f.at("low_iou").get<std::size_t>(), thr);
  if (s.at("aligned").get<std::size_t>() + s.at("align_failed").get<std::size_t>() > 0)
    out += fmt::format("; aligned {}, eyes not found {}", s.at("aligned").get<std::size_t>(),
                       s.at("align_failed").get<std::size_t>());
  return out;
}

cv::Size contact_sheet_size(const std::vector<int>& tiles_per_class,
                            const ContactSheetLayout& layout) {
  int height = layout.title_height;
  for (int tiles : tiles_per_class) {
    const int rows = (tiles + layout.columns - 1) / layout.columns;
    height += layout.header_height + rows * layout.cell;
  }
  return {layout.columns * layout.cell, height};
}

std::vector<unsigned char> draw_contact_sheet(const data::Manifest& manifest,
                                              const std::vector<ImageRecord>& records,
                                              const std::vector<std::optional<Crop>>& crops,
                                              const std::string& title, int threads,
                                              const ContactSheetLayout& layout) {
  // Per class: misses first, then flagged crops, then the rest, each in manifest order.
  const std::size_t classes = manifest.classes.size();
  std::vector<std::vector<std::size_t>> shown(classes);
  std::vector<std::size_t> totals(classes, 0), flagged(classes, 0), misses(classes, 0);
  for (int pass = 0; pass < 3; ++pass) {
    for (std::size_t i = 0; i < records.size(); ++i) {
      const auto c = static_cast<std::size_t>(manifest.images[i].label);
      const bool miss = records[i].fallback.has_value();
      const bool flag = !records[i].flags.empty();
      if (pass == 0) {
        ++totals[c];
        misses[c] += miss;
        flagged[c] += flag;
      }
      const int rank = miss ? 0 : flag ? 1 : 2;
      if (rank == pass && shown[c].size() < static_cast<std::size_t>(layout.max_tiles_per_class))
        shown[c].push_back(i);
    }
  }
  std::vector<int> counts;
  for (const auto& s : shown) counts.push_back(static_cast<int>(s.size()));
  const cv::Size size = contact_sheet_size(counts, layout);
  cv::Mat sheet(size, CV_8UC3, cv::Scalar(40, 40, 40));

  const cv::Scalar white(235, 235, 235), red(40, 40, 230), orange(0, 150, 255);
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  auto text = [&](const std::string& s, int y, int band) {
    int baseline = 0;
    double scale = 0.5;
    // Shrink long lines to fit the width.
    while (scale > 0.3 && cv::getTextSize(s, font, scale, 1, &baseline).width > size.width - 12)
      scale -= 0.05;
    cv::putText(sheet, s, cv::Point(6, y + band / 2 + 5), font, scale, white, 1, cv::LINE_AA);
  };
  text(title, 0, layout.title_height);

  struct Cell {
    std::size_t image;
    cv::Point origin;
  };
  std::vector<Cell> cells;
  int y = layout.title_height;
  for (std::size_t c = 0; c < classes; ++c) {
    std::string header = fmt::format("{}: {} images, {} without a face, {} flagged",
                                     manifest.classes[c], totals[c], misses[c], flagged[c]);
    if (shown[c].size() < totals[c])
      header += fmt::format(" (showing {}: misses and flagged first)", shown[c].size());
    cv::rectangle(sheet, cv::Rect(0, y, size.width, layout.header_height), cv::Scalar(70, 70, 70),
                  cv::FILLED);
    text(header, y, layout.header_height);
    y += layout.header_height;
    for (std::size_t k = 0; k < shown[c].size(); ++k) {
      const int col = static_cast<int>(k) % layout.columns;
      const int row = static_cast<int>(k) / layout.columns;
      cells.push_back({shown[c][k], cv::Point(col * layout.cell, y + row * layout.cell)});
    }
    y += (static_cast<int>(shown[c].size()) + layout.columns - 1) / layout.columns * layout.cell;
  }

  const int pad = (layout.cell - layout.thumb) / 2;
  parallel_for_each(
      cells.size(), threads, [](int) { return 0; },
      [&](int, std::size_t k) {
        const std::size_t i = cells[k].image;
        const cv::Mat rgb = data::read_sample(manifest, i);
        const cv::Mat cut = crops[i] ? apply_crop(rgb, *crops[i]) : rgb;
        const double scale = std::min(static_cast<double>(layout.thumb) / cut.cols,
                                      static_cast<double>(layout.thumb) / cut.rows);
        const cv::Size t(std::max(1, static_cast<int>(std::lround(cut.cols * scale))),
                         std::max(1, static_cast<int>(std::lround(cut.rows * scale))));
        cv::Mat thumb, bgr;
        cv::resize(cut, thumb, t, 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
        cv::cvtColor(thumb, bgr, cv::COLOR_RGB2BGR);
        const cv::Point at = cells[k].origin + cv::Point(pad + (layout.thumb - t.width) / 2,
                                                         pad + (layout.thumb - t.height) / 2);
        cv::Mat target = sheet(cv::Rect(at, t));  // cells are disjoint: no locking needed
        bgr.copyTo(target);
        const cv::Rect frame(cells[k].origin + cv::Point(1, 1),
                             cv::Size(layout.cell - 2, layout.cell - 2));
        if (records[i].fallback) {
          cv::rectangle(sheet, frame, red, 3);
          if (!crops[i]) {  // dropped: crossed out
            cv::line(target, {0, 0}, {t.width - 1, t.height - 1}, red, 2, cv::LINE_AA);
            cv::line(target, {t.width - 1, 0}, {0, t.height - 1}, red, 2, cv::LINE_AA);
          }
        } else if (!records[i].flags.empty()) {
          cv::rectangle(sheet, frame, orange, 3);
        }
      });
  std::vector<unsigned char> png;
  with_context<IoError>("encoding the contact sheet", [&] { cv::imencode(".png", sheet, png); });
  return png;
}

}  // namespace fersweep::faces
