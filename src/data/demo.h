// The embedded SFEW-shaped demo dataset: cluttered synthetic "movie scene" frames, one main face
// per frame whose drawn expression is the label, and a CSV of the true main-face boxes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace fersweep::data {

/// SFEW's seven classes, in the order (and spelling) of its folders.
const std::vector<std::string>& sfew_classes();

/// Images per class in the demo dataset (SFEW's course split: 100 each, 75 for Disgust).
int demo_class_size(int class_index);

/// Name of the box file make_demo_dataset writes at the dataset root.
inline constexpr const char* kDemoBoxesFile = "face_boxes.csv";

/// One rendered demo frame.
struct DemoImage {
  cv::Mat bgr;              ///< 8-bit BGR frame (OpenCV's order, ready for imencode)
  cv::Rect face_box;        ///< true box of the main face, clipped to the frame
  int bystanders = 0;       ///< extra (smaller) faces drawn in the scene
  cv::Rect bystander_box;   ///< the bystander's true box (empty when there is none)
  int bystander_class = 0;  ///< the bystander's expression (sfew_classes() index)
};

/// Renders frame `image_index` of class `class_index` (0..6, sfew_classes() order). A pure
/// function of its arguments: the same inputs give the same pixels on every machine.
DemoImage render_demo_image(std::uint64_t seed, int class_index, int image_index);

/// Writes the demo dataset into `dir` (created if needed): one folder per class with JPEG frames
/// `<Class>/<class>_NNN.jpg` (quality 90), and `dir/face_boxes.csv` with columns
/// `path,class,x,y,w,h` (path relative to `dir`, box in pixels). Byte-identical output for the same
/// seed. Refuses (DataError) a non-empty `dir` that is not already a demo dataset; an existing demo
/// dataset is rewritten. `threads` <= 0 uses every core.
void make_demo_dataset(const std::filesystem::path& dir, std::uint64_t seed, int threads = 0);

/// Refuses (DataError) a `dir` that exists but is not a directory, or is a non-empty directory
/// without `marker` (a file every demo dataset of that kind writes): a demo writer never writes
/// into someone's data.
void check_demo_target(const std::filesystem::path& dir, const std::string& marker);

/// Writes `bytes` to `file`, creating its folder; IoError naming the file on failure.
void write_demo_file(const std::filesystem::path& file, const std::string& bytes);

/// Encodes `img` (BGR or grey) in the format `file`'s extension names, JPEG with fixed settings
/// (baseline, quality 90, no optimisation: the same bytes for the same pixels with the same
/// libjpeg), and writes it with write_demo_file.
void write_demo_image(const std::filesystem::path& file, const cv::Mat& img);

/// Writes the demo dataset in `format`'s own layout (docs/datasets.md): the same rendered
/// frames, as the dataset ships them — face crops as 48x48 pixel rows (fer2013, ferplus, with
/// FER+ votes), aligned face images and a label list (rafdb), whole frames with face boxes
/// (affectnet; expw, a line per face, bystanders included), subjects' sequences (ckplus) or
/// posers' files (jaffe), each with some samples the format leaves out. `per_class` samples per
/// class (0: the folders demo's sizes; ckplus: sequences per class). A pure function of the
/// arguments. Refuses a non-empty `dir` that is not a demo dataset, like make_demo_dataset.
void make_demo_dataset_as(const std::filesystem::path& dir, const std::string& format,
                          std::uint64_t seed, int threads = 0, int per_class = 0);

}  // namespace fersweep::data
