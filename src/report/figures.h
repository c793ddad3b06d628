// Report figures drawn with OpenCV and written as PNG: confusion-matrix heatmaps and line plots
// (learning curves, metric against a parameter) with axes, ticks, labels, bands and a legend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cv {
class Mat;
}

namespace fersweep::report {

/// A confusion-matrix heatmap: C×C counts (row = true class), cells coloured by row percentage
/// on a colour scale, each showing the count and the row percentage; class names on both axes.
/// The image is confusion_figure_width(C) × confusion_figure_height(C) pixels.
cv::Mat draw_confusion(const std::vector<std::int64_t>& counts,
                       const std::vector<std::string>& classes, const std::string& title);
int confusion_figure_width(std::size_t classes);
int confusion_figure_height(std::size_t classes);

/// One line of a plot, optionally with a band (lo..hi) drawn translucent behind it; or, with
/// `points`, a scatter of unconnected markers (x in any order).
struct Series {
  std::string name;
  std::vector<double> x, y, lo, hi;  ///< lo/hi empty: no band; NaN points are skipped
  bool points = false;
};

/// One panel: numeric x axis, or categorical when `x_labels` is given (x = 0, 1, ...).
struct Panel {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  std::vector<std::string> x_labels;
};

/// Panels side by side, each kPanelWidth × kPanelHeight pixels, one shared legend below them.
constexpr int kPanelWidth = 640;
constexpr int kPanelHeight = 480;
cv::Mat draw_panels(const std::vector<Panel>& panels);
/// Height of draw_panels' image for `series` legend entries (width: panels × kPanelWidth).
int panels_figure_height(std::size_t legend_entries);

/// PNG bytes of an image (IoError on failure), and writing them to a file.
std::vector<unsigned char> encode_png(const cv::Mat& image);
void write_png(const std::string& path, const cv::Mat& image);

}  // namespace fersweep::report
