// Figures with OpenCV's drawing functions only: no plotting library is packaged for C++ here,
// and a few primitives (rectangles, lines, Hershey text, a colour map) are enough.
#include "report/figures.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace fersweep::report {
namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
const cv::Scalar kBlack(0, 0, 0), kWhite(255, 255, 255), kGrey(200, 200, 200), kDark(60, 60, 60);

// Confusion layout (pixels).
constexpr int kCell = 84, kLeft = 150, kTop = 70, kBottom = 90, kRight = 130;

// Tableau-10 colours, BGR.
const cv::Scalar kPalette[] = {{180, 119, 31},  {14, 127, 255}, {44, 160, 44},   {40, 39, 214},
                               {189, 103, 148}, {75, 86, 140},  {194, 119, 227}, {127, 127, 127},
                               {34, 189, 188},  {207, 190, 23}};

void text(cv::Mat& img, const std::string& s, cv::Point at, double scale, const cv::Scalar& colour,
          int thickness = 1) {
  cv::putText(img, s, at, kFont, scale, colour, thickness, cv::LINE_AA);
}

cv::Size text_size(const std::string& s, double scale, int thickness = 1) {
  int base = 0;
  return cv::getTextSize(s, kFont, scale, thickness, &base);
}

// Text centred horizontally on x with its baseline at y.
void text_centred(cv::Mat& img, const std::string& s, int x, int y, double scale,
                  const cv::Scalar& colour, int thickness = 1) {
  text(img, s, {x - text_size(s, scale, thickness).width / 2, y}, scale, colour, thickness);
}

// Text rotated 90° counter-clockwise, centred vertically on y, left edge at x.
void text_vertical(cv::Mat& img, const std::string& s, int x, int y, double scale) {
  const cv::Size sz = text_size(s, scale);
  cv::Mat strip(sz.height + 8, sz.width + 4, img.type(), kWhite);
  text(strip, s, {2, sz.height + 2}, scale, kBlack);
  cv::Mat rotated;
  cv::rotate(strip, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
  const int top = std::clamp(y - rotated.rows / 2, 0, std::max(0, img.rows - rotated.rows));
  const int left = std::clamp(x, 0, std::max(0, img.cols - rotated.cols));
  const cv::Rect where(left, top, std::min(rotated.cols, img.cols - left),
                       std::min(rotated.rows, img.rows - top));
  rotated(cv::Rect(0, 0, where.width, where.height)).copyTo(img(where));
}

// Shortens text to fit `width` pixels at `scale`, with a trailing "..".
std::string fit(std::string s, int width, double scale) {
  while (s.size() > 2 && text_size(s, scale).width > width) s = s.substr(0, s.size() - 3) + "..";
  return s;
}

cv::Scalar colour_for(double fraction) {
  cv::Mat one(1, 1, CV_8UC1, cv::Scalar(std::clamp(fraction, 0.0, 1.0) * 255.0));
  cv::Mat out;
  cv::applyColorMap(one, out, cv::COLORMAP_VIRIDIS);
  const auto p = out.at<cv::Vec3b>(0, 0);
  return {double(p[0]), double(p[1]), double(p[2])};
}

// About five round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  const double span = hi - lo;
  const double raw = span / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * mag;
    if (span / step <= 6) break;
  }
  std::vector<double> out;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step)
    out.push_back(std::abs(v) < 1e-12 * step ? 0.0 : v);
  return out;
}

std::string tick_label(double v) {
  std::string s = fmt::format("{:.4g}", v);
  return s;
}

void draw_panel(cv::Mat& img, const Panel& p, int x0) {
  constexpr int left = 80, right = 20, top = 40, bottom = 60;
  const cv::Rect area(x0 + left, top, kPanelWidth - left - right, kPanelHeight - top - bottom);
  text_centred(img, fit(p.title, kPanelWidth - 20, 0.6), x0 + kPanelWidth / 2, 26, 0.6, kBlack);
  // Data range.
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& s : p.series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (std::isnan(s.y[i])) continue;
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      for (double v :
           {s.y[i], i < s.lo.size() ? s.lo[i] : s.y[i], i < s.hi.size() ? s.hi[i] : s.y[i]}) {
        if (std::isnan(v)) continue;
        ymin = std::min(ymin, v);
        ymax = std::max(ymax, v);
      }
    }
  }
  cv::rectangle(img, area, kDark, 1);
  if (!std::isfinite(xmin) || !std::isfinite(ymin)) {
    text_centred(img, "no data", area.x + area.width / 2, area.y + area.height / 2, 0.6, kDark);
    return;
  }
  if (!p.x_labels.empty()) {
    xmin = -0.5;
    xmax = static_cast<double>(p.x_labels.size()) - 0.5;
  }
  if (xmax - xmin < 1e-12) {
    xmin -= 1;
    xmax += 1;
  }
  // A scatter's extreme points would sit on the frame: leave them a margin.
  if (p.x_labels.empty() &&
      std::any_of(p.series.begin(), p.series.end(), [](const Series& s) { return s.points; })) {
    const double margin = (xmax - xmin) * 0.04;
    xmin -= margin;
    xmax += margin;
  }
  const double pad = std::max((ymax - ymin) * 0.08, 1e-3);
  ymin -= pad;
  ymax += pad;
  auto px = [&](double x) {
    return area.x + static_cast<int>(std::lround((x - xmin) / (xmax - xmin) * area.width));
  };
  auto py = [&](double y) {
    return area.y + area.height -
           static_cast<int>(std::lround((y - ymin) / (ymax - ymin) * area.height));
  };
  // Grid and tick labels.
  for (double v : ticks(ymin, ymax)) {
    cv::line(img, {area.x, py(v)}, {area.x + area.width, py(v)}, kGrey, 1);
    const std::string s = tick_label(v);
    text(img, s, {area.x - 8 - text_size(s, 0.45).width, py(v) + 5}, 0.45, kBlack);
  }
  if (p.x_labels.empty()) {
    for (double v : ticks(xmin, xmax)) {
      cv::line(img, {px(v), area.y + area.height}, {px(v), area.y + area.height + 5}, kDark, 1);
      text_centred(img, tick_label(v), px(v), area.y + area.height + 22, 0.45, kBlack);
    }
  } else {
    const int slot = area.width / static_cast<int>(p.x_labels.size());
    for (std::size_t i = 0; i < p.x_labels.size(); ++i) {
      const int x = px(static_cast<double>(i));
      cv::line(img, {x, area.y + area.height}, {x, area.y + area.height + 5}, kDark, 1);
      text_centred(img, fit(p.x_labels[i], slot - 4, 0.45), x, area.y + area.height + 22, 0.45,
                   kBlack);
    }
  }
  cv::rectangle(img, area, kDark, 1);
  text_centred(img, p.x_label, area.x + area.width / 2, kPanelHeight - 12, 0.55, kBlack);
  text_vertical(img, p.y_label, x0 + 4, area.y + area.height / 2, 0.55);
  // Bands first (translucent), then lines and markers.
  cv::Mat overlay = img.clone();
  for (std::size_t k = 0; k < p.series.size(); ++k) {
    const auto& s = p.series[k];
    if (s.lo.size() != s.x.size() || s.hi.size() != s.x.size()) continue;
    std::vector<cv::Point> poly;
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (!std::isnan(s.hi[i])) poly.push_back({px(s.x[i]), py(s.hi[i])});
    for (std::size_t i = s.x.size(); i-- > 0;)
      if (!std::isnan(s.lo[i])) poly.push_back({px(s.x[i]), py(s.lo[i])});
    if (poly.size() >= 3)
      cv::fillPoly(overlay, std::vector<std::vector<cv::Point>>{poly}, kPalette[k % 10],
                   cv::LINE_AA);
  }
  cv::addWeighted(overlay, 0.25, img, 0.75, 0, img);
  for (std::size_t k = 0; k < p.series.size(); ++k) {
    const auto& s = p.series[k];
    std::vector<cv::Point> pts;
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (!std::isnan(s.y[i])) pts.push_back({px(s.x[i]), py(s.y[i])});
    if (s.points) {
      for (const auto& pt : pts) cv::circle(img, pt, 3, kPalette[k % 10], cv::FILLED, cv::LINE_AA);
      continue;
    }
    if (pts.size() >= 2) cv::polylines(img, pts, false, kPalette[k % 10], 2, cv::LINE_AA);
    if (pts.size() <= 40)
      for (const auto& pt : pts) cv::circle(img, pt, 4, kPalette[k % 10], cv::FILLED, cv::LINE_AA);
  }
}

}  // namespace

int confusion_figure_width(std::size_t classes) {
  return kLeft + kCell * static_cast<int>(classes) + kRight;
}
int confusion_figure_height(std::size_t classes) {
  return kTop + kCell * static_cast<int>(classes) + kBottom;
}

cv::Mat draw_confusion(const std::vector<std::int64_t>& counts,
                       const std::vector<std::string>& classes, const std::string& title) {
  const std::size_t c = classes.size();
  FERSWEEP_ASSERT(counts.size() == c * c, "confusion counts must be C×C");
  cv::Mat img(confusion_figure_height(c), confusion_figure_width(c), CV_8UC3, kWhite);
  text_centred(img, fit(title, img.cols - 20, 0.6), img.cols / 2, 28, 0.6, kBlack);
  const int n = static_cast<int>(c);
  for (int i = 0; i < n; ++i) {
    std::int64_t row_total = 0;
    for (int j = 0; j < n; ++j) row_total += counts[i * c + j];
    for (int j = 0; j < n; ++j) {
      const std::int64_t v = counts[i * c + j];
      const double frac = row_total > 0 ? double(v) / double(row_total) : 0.0;
      const cv::Rect cell(kLeft + j * kCell, kTop + i * kCell, kCell, kCell);
      cv::rectangle(img, cell, colour_for(frac), cv::FILLED);
      cv::rectangle(img, cell, kWhite, 1);
      const cv::Scalar ink = frac > 0.55 ? kBlack : kWhite;  // viridis is bright at the top
      text_centred(img, std::to_string(v), cell.x + kCell / 2, cell.y + kCell / 2 - 2, 0.6, ink, 2);
      text_centred(img, fmt::format("{:.0f}%", 100 * frac), cell.x + kCell / 2,
                   cell.y + kCell / 2 + 22, 0.45, ink);
    }
    // True-class names on the left.
    const std::string name = fit(classes[i], kLeft - 40, 0.5);
    text(img, name, {kLeft - 8 - text_size(name, 0.5).width, kTop + i * kCell + kCell / 2 + 5}, 0.5,
         kBlack);
  }
  for (int j = 0; j < n; ++j) {
    text_centred(img, fit(classes[j], kCell - 4, 0.45), kLeft + j * kCell + kCell / 2,
                 kTop + n * kCell + 22, 0.45, kBlack);
  }
  text_centred(img, "predicted class", kLeft + n * kCell / 2, kTop + n * kCell + 60, 0.55, kBlack);
  text_vertical(img, "true class", 6, kTop + n * kCell / 2, 0.55);
  // Colour scale: row percentage.
  const int bar_x = kLeft + n * kCell + 24, bar_w = 22, bar_h = n * kCell;
  for (int y = 0; y < bar_h; ++y) {
    cv::line(img, {bar_x, kTop + y}, {bar_x + bar_w, kTop + y},
             colour_for(1.0 - double(y) / std::max(1, bar_h - 1)), 1);
  }
  cv::rectangle(img, cv::Rect(bar_x, kTop, bar_w, bar_h), kDark, 1);
  for (int pct : {0, 25, 50, 75, 100}) {
    const int y = kTop + bar_h - pct * (bar_h - 1) / 100;
    cv::line(img, {bar_x + bar_w, y}, {bar_x + bar_w + 4, y}, kDark, 1);
    text(img, fmt::format("{}%", pct), {bar_x + bar_w + 7, y + 5}, 0.42, kBlack);
  }
  text_centred(img, "row %", bar_x + bar_w / 2, kTop - 8, 0.42, kBlack);
  return img;
}

int panels_figure_height(std::size_t legend_entries) {
  return kPanelHeight + 16 + 24 * static_cast<int>(legend_entries);
}

cv::Mat draw_panels(const std::vector<Panel>& panels) {
  FERSWEEP_ASSERT(!panels.empty(), "draw_panels needs a panel");
  const std::size_t entries = panels.front().series.size();
  cv::Mat img(panels_figure_height(entries), kPanelWidth * static_cast<int>(panels.size()), CV_8UC3,
              kWhite);
  for (std::size_t i = 0; i < panels.size(); ++i)
    draw_panel(img, panels[i], static_cast<int>(i) * kPanelWidth);
  // Legend: the series of the first panel (all panels use the same series in the same order).
  for (std::size_t k = 0; k < entries; ++k) {
    const int y = kPanelHeight + 16 + 24 * static_cast<int>(k);
    cv::line(img, {90, y}, {130, y}, kPalette[k % 10], 3, cv::LINE_AA);
    text(img, fit(panels.front().series[k].name, img.cols - 160, 0.5), {140, y + 6}, 0.5, kBlack);
  }
  return img;
}

std::vector<unsigned char> encode_png(const cv::Mat& image) {
  std::vector<unsigned char> bytes;
  bool ok = false;
  try {
    ok = cv::imencode(".png", image, bytes);
  } catch (const cv::Exception& e) {
    throw IoError(fmt::format("cannot encode a PNG image: {}", e.what()));
  }
  if (!ok) throw IoError("cannot encode a PNG image");
  return bytes;
}

void write_png(const std::string& path, const cv::Mat& image) {
  bool ok = false;
  try {
    ok = cv::imwrite(path, image);
  } catch (const cv::Exception& e) {
    throw IoError(fmt::format("cannot write '{}': {}", path, e.what()));
  }
  if (!ok) throw IoError(fmt::format("cannot write '{}'", path));
}

}  // namespace fersweep::report
