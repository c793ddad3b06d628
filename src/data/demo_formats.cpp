// The demo dataset in each FER format's own layout (demo.h, docs/datasets.md): the frames
// render_demo_image draws, written the way FER2013, FER+, RAF-DB, AffectNet, CK+, JAFFE and ExpW
// ship theirs, so a new user can run a study on any format without the real files, and the tests
// prove the readers on files written exactly like the real ones.
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/parallel.h"
#include "data/demo.h"
#include "data/random.h"
#include "data/settings.h"

namespace fersweep::data {
namespace {
namespace fs = std::filesystem;

constexpr const char* kMarker = "fersweep-demo.txt";

// Each format's label number of the demo's classes (sfew_classes() order: Angry, Disgust, Fear,
// Happy, Neutral, Sad, Surprise).
constexpr int kFer2013Label[7] = {0, 1, 2, 3, 6, 4, 5};
constexpr int kRafdbLabel[7] = {6, 3, 2, 4, 7, 5, 1};
constexpr int kAffectNetLabel[7] = {6, 5, 4, 1, 0, 2, 3};
constexpr int kCkPlusLabel[7] = {1, 3, 4, 5, 0, 6, 7};
constexpr const char* kJaffeCode[7] = {"AN", "DI", "FE", "HA", "NE", "SA", "SU"};
// FER+'s vote columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt,
// unknown, NF.
constexpr int kFerPlusColumn[7] = {4, 5, 6, 1, 0, 3, 2};

struct Sample {
  int cls = 0, index = 0;
};

// The main face of a frame, grey, resized to side x side (the face formats' crops).
cv::Mat grey_face(const DemoImage& img, int side) {
  cv::Mat grey, out;
  cv::cvtColor(img.bgr(img.face_box), grey, cv::COLOR_BGR2GRAY);
  cv::resize(grey, out, cv::Size(side, side), 0, 0, cv::INTER_AREA);
  return out;
}

std::vector<Sample> samples(int per_class) {
  std::vector<Sample> out;
  const int most = per_class > 0 ? per_class : 100;
  // Interleaved by index, as a shuffled release would list them.
  for (int i = 0; i < most; ++i)
    for (int c = 0; c < 7; ++c)
      if (i < (per_class > 0 ? per_class : demo_class_size(c))) out.push_back({c, i});
  return out;
}

// Renders every sample on `threads` threads and hands each frame to `use` (called in parallel).
template <class Use>
void render_all(const std::vector<Sample>& all, std::uint64_t seed, int threads, Use use) {
  parallel_for_each(all.size(), threads, [&](std::size_t j) {
    try {
      use(j, render_demo_image(seed, all[j].cls, all[j].index));
    } catch (...) {
      rethrow_with_context<IoError>("");
    }
  });
}

std::string pixel_row(const cv::Mat& grey48) {
  std::string out;
  out.reserve(48 * 48 * 4);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 48; ++x) {
      if (!out.empty()) out += ' ';
      out += std::to_string(grey48.at<uchar>(y, x));
    }
  return out;
}

// FER2013 (and FER+'s votes): every tenth sample is PublicTest, the next PrivateTest.
void write_fer(const fs::path& dir, std::uint64_t seed, int threads, int per_class, bool plus) {
  const auto all = samples(per_class);
  std::vector<std::string> rows(all.size());
  render_all(all, seed, threads,
             [&](std::size_t j, const DemoImage& img) { rows[j] = pixel_row(grey_face(img, 48)); });
  std::string csv = "emotion,pixels,Usage\n";
  std::string votes =
      "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,"
      "NF\n";
  Rng rng(derive_seed(seed, 0xfe2));
  for (std::size_t j = 0; j < all.size(); ++j) {
    const int i = all[j].index;
    const char* usage = i % 10 == 0 ? "PublicTest" : i % 10 == 1 ? "PrivateTest" : "Training";
    csv += fmt::format("{},{},{}\n", kFer2013Label[all[j].cls], rows[j], usage);
    // Ten annotators: most agree with the drawn expression, one or two pick another column;
    // some rows have no name (FER+ dropped them), some a majority for "unknown".
    int v[10] = {0};
    const int agree = 7 + static_cast<int>(rng.below(3));
    v[kFerPlusColumn[all[j].cls]] = agree;
    v[(kFerPlusColumn[all[j].cls] + 1 + rng.below(7)) % 8] += 10 - agree;
    const bool blank = i % 25 == 24, unknown = i % 25 == 23;
    if (unknown) std::fill(std::begin(v), std::end(v), 0), v[8] = 9, v[0] = 1;
    votes += fmt::format("{},{},{}\n", usage, blank ? "" : fmt::format("fer{:07d}.png", j),
                         fmt::join(std::begin(v), std::end(v), ","));
  }
  write_demo_file(dir / "fer2013.csv", csv);
  if (plus) write_demo_file(dir / "fer2013new.csv", votes);
}

// RAF-DB: aligned 100x100 faces and the original frames; every fifth sample is in the test part.
void write_rafdb(const fs::path& dir, std::uint64_t seed, int threads, int per_class) {
  const auto all = samples(per_class);
  std::vector<std::string> names(all.size());
  std::map<bool, int> next;
  for (std::size_t j = 0; j < all.size(); ++j) {
    const bool test = all[j].index % 5 == 0;
    names[j] = fmt::format("{}_{:05d}", test ? "test" : "train", ++next[test]);
  }
  render_all(all, seed, threads, [&](std::size_t j, const DemoImage& img) {
    cv::Mat aligned;
    cv::resize(img.bgr(img.face_box), aligned, cv::Size(100, 100), 0, 0, cv::INTER_AREA);
    write_demo_image(dir / "Image/aligned" / (names[j] + "_aligned.jpg"), aligned);
    write_demo_image(dir / "Image/original" / (names[j] + ".jpg"), img.bgr);
  });
  std::string list;
  for (std::size_t j = 0; j < all.size(); ++j)
    list += fmt::format("{}.jpg {}\n", names[j], kRafdbLabel[all[j].cls]);
  write_demo_file(dir / "EmoLabel/list_patition_label.txt", list);
}

// AffectNet: whole frames with their face boxes; every fifth sample in validation.csv, and every
// twentieth labelled 8 (None), which fersweep leaves out.
void write_affectnet(const fs::path& dir, std::uint64_t seed, int threads, int per_class) {
  const auto all = samples(per_class);
  std::vector<std::string> rows(all.size());
  render_all(all, seed, threads, [&](std::size_t j, const DemoImage& img) {
    const std::string rel = fmt::format("{}/{:05d}.jpg", 100 + all[j].cls, all[j].index);
    write_demo_image(dir / "Manually_Annotated_Images" / rel, img.bgr);
    const cv::Rect& b = img.face_box;
    const int label = all[j].index % 20 == 19 ? 8 : kAffectNetLabel[all[j].cls];
    rows[j] = fmt::format("{},{},{},{},{},{:.1f};{:.1f},{},0.0,0.0\n", rel, b.x, b.y, b.width,
                          b.height, b.x + b.width * 0.3, b.y + b.height * 0.4, label);
  });
  const std::string header =
      "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,"
      "valence,arousal\n";
  std::string training = header, validation = header;
  for (std::size_t j = 0; j < all.size(); ++j)
    (all[j].index % 5 == 0 ? validation : training) += rows[j];
  write_demo_file(dir / "training.csv", training);
  write_demo_file(dir / "validation.csv", validation);
}

// ExpW: whole frames; a line per face, bystanders included with their own expression.
void write_expw(const fs::path& dir, std::uint64_t seed, int threads, int per_class) {
  const auto all = samples(per_class);
  std::vector<std::string> lines(all.size());
  render_all(all, seed, threads, [&](std::size_t j, const DemoImage& img) {
    const std::string name = fmt::format("{}_{:03d}.jpg", sfew_classes()[all[j].cls], all[j].index);
    write_demo_image(dir / "image/origin" / name, img.bgr);
    auto line = [&](int face, const cv::Rect& b, int cls) {
      return fmt::format("{} {} {} {} {} {} 0.9 {}\n", name, face, b.y, b.x, b.x + b.width,
                         b.y + b.height, kFer2013Label[cls]);
    };
    lines[j] = line(0, img.face_box, all[j].cls);
    if (img.bystanders > 0 && img.bystander_box.area() > 0)
      lines[j] += line(1, img.bystander_box, img.bystander_class);
  });
  std::string lst;
  for (const auto& l : lines) lst += l;
  write_demo_file(dir / "label/label.lst", lst);
}

// JAFFE: ten posers' grey 256x256 faces, POSER.CODE<k>.<id>.tiff.
void write_jaffe(const fs::path& dir, std::uint64_t seed, int threads, int per_class) {
  static const char* posers[10] = {"KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM"};
  const auto all = samples(per_class);
  render_all(all, seed, threads, [&](std::size_t j, const DemoImage& img) {
    const int i = all[j].index;
    write_demo_image(dir / fmt::format("{}.{}{}.{}.tiff", posers[i % 10], kJaffeCode[all[j].cls],
                                       i / 10 + 1, j + 1),
                     grey_face(img, 256));
  });
  write_demo_file(dir / "README.txt",
                  "demo stand-in for the JAFFE database (fersweep make-demo-data)\n");
}

// CK+: per sequence, a neutral frame then the expression's frames (the last ones are its peak);
// twelve subjects; Neutral has no emotion file (CK+ labels only expressions), so it shows up
// through first_frame_neutral; every subject also has one unlabelled sequence.
void write_ckplus(const fs::path& dir, std::uint64_t seed, int threads, int per_class) {
  const int sequences = per_class > 0 ? per_class : 12;
  struct Frame {
    std::string rel;
    int cls, index;
  };
  std::vector<Frame> frames;
  std::string emotions;
  std::map<int, int> seq_of_subject;
  std::vector<std::pair<std::string, int>> labels;
  auto add_sequence = [&](int subject, int cls, int index, bool labelled) {
    const std::string s = fmt::format("S{:03d}", 100 + subject);
    const std::string q = fmt::format("{:03d}", ++seq_of_subject[subject]);
    const int n = 4;
    for (int f = 1; f <= n; ++f)
      frames.push_back({fmt::format("cohn-kanade-images/{}/{}/{}_{}_{:08d}.png", s, q, s, q, f),
                        f == 1 ? 4 : cls, index + 1000 * f});
    if (labelled)
      labels.emplace_back(fmt::format("Emotion/{}/{}/{}_{}_{:08d}_emotion.txt", s, q, s, q, n),
                          kCkPlusLabel[cls]);
  };
  for (int i = 0; i < sequences; ++i)
    for (int c = 0; c < 7; ++c)
      if (c != 4) add_sequence((i * 7 + c) % 12, c, i, true);
  for (int subject = 0; subject < 12; ++subject) add_sequence(subject, 3, 500 + subject, false);
  parallel_for_each(frames.size(), threads, [&](std::size_t j) {
    try {
      write_demo_image(dir / frames[j].rel,
                       grey_face(render_demo_image(seed, frames[j].cls, frames[j].index), 96));
    } catch (...) {
      rethrow_with_context<IoError>("");
    }
  });
  for (const auto& [file, label] : labels)
    write_demo_file(dir / file, fmt::format("   {:.7e}\n", static_cast<double>(label)));
}

}  // namespace

void make_demo_dataset_as(const fs::path& dir, const std::string& format, std::uint64_t seed,
                          int threads, int per_class) {
  const Format f = parse_format(format);
  if (f == Format::folders && per_class == 0) {
    make_demo_dataset(dir, seed, threads);
    return;
  }
  if (f == Format::folders)
    throw ConfigError(
        "--per-class applies to the other formats; the folders demo has SFEW's sizes");
  check_demo_target(dir, kMarker);
  std::error_code ec;
  fs::remove_all(dir, ec);  // a demo dataset of another format or size is replaced whole
  fs::create_directories(dir, ec);
  if (ec)
    throw IoError(fmt::format("demo dataset: cannot create {}: {}", dir.string(), ec.message()));
  switch (f) {
    case Format::fer2013:
    case Format::ferplus:
      write_fer(dir, seed, threads, per_class, f == Format::ferplus);
      break;
    case Format::rafdb:
      write_rafdb(dir, seed, threads, per_class);
      break;
    case Format::affectnet:
      write_affectnet(dir, seed, threads, per_class);
      break;
    case Format::ckplus:
      write_ckplus(dir, seed, threads, per_class);
      break;
    case Format::jaffe:
      write_jaffe(dir, seed, threads, per_class);
      break;
    case Format::expw:
      write_expw(dir, seed, threads, per_class);
      break;
    case Format::folders:
      break;
  }
  write_demo_file(dir / kMarker,
                  fmt::format("fersweep demo dataset, format {}, seed {}, per class {}\n", format,
                              seed, per_class));
}

}  // namespace fersweep::data
