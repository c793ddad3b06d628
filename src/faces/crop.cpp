// The crop stage: detection on worker threads, crop geometry (margin, square, border, alignment),
// fallbacks, and writing the cropped dataset.
#include "faces/crop.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/parallel.h"
#include "faces/boxes.h"
#include "faces/detect.h"
#include "faces/qc.h"

namespace fersweep::faces {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Typical crop side relative to the shorter image side, when no image of the dataset had a face
// to learn it from.
constexpr double kDefaultCenterFraction = 0.5;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The crop around a face box: margin on every side, squared up, kept inside the image. A square
// crop that would cross the border is shifted inside (capped at the shorter image side) rather
// than clipped, so it stays square and keeps the whole face; other crops are clipped.
Crop crop_around(const cv::Rect2f& face, const CropConfig& config, cv::Size image) {
  const double w = face.width * (1 + 2 * config.margin);
  const double h = face.height * (1 + 2 * config.margin);
  const double cx = face.x + face.width / 2.0;
  const double cy = face.y + face.height / 2.0;
  if (config.square) {
    const int side = std::clamp(static_cast<int>(std::lround(std::max(w, h))), 1,
                                std::min(image.width, image.height));
    const int x0 =
        std::clamp(static_cast<int>(std::lround(cx - side / 2.0)), 0, image.width - side);
    const int y0 =
        std::clamp(static_cast<int>(std::lround(cy - side / 2.0)), 0, image.height - side);
    return {x0 + side / 2.f, y0 + side / 2.f, static_cast<float>(side), static_cast<float>(side),
            0};
  }
  auto span = [](double centre, double size, int limit) {
    int a = std::clamp(static_cast<int>(std::lround(centre - size / 2)), 0, limit - 1);
    int b = std::clamp(static_cast<int>(std::lround(centre + size / 2)), a + 1, limit);
    return std::pair{a, b};
  };
  const auto [x0, x1] = span(cx, w, image.width);
  const auto [y0, y1] = span(cy, h, image.height);
  return {(x0 + x1) / 2.f, (y0 + y1) / 2.f, static_cast<float>(x1 - x0),
          static_cast<float>(y1 - y0), 0};
}

Crop whole_image(cv::Size image) {
  return {image.width / 2.f, image.height / 2.f, static_cast<float>(image.width),
          static_cast<float>(image.height), 0};
}

Crop centre_square(cv::Size image, double fraction) {
  const int shorter = std::min(image.width, image.height);
  const int side = std::clamp(static_cast<int>(std::lround(fraction * shorter)), 1, shorter);
  const int x0 = (image.width - side) / 2, y0 = (image.height - side) / 2;
  return {x0 + side / 2.f, y0 + side / 2.f, static_cast<float>(side), static_cast<float>(side), 0};
}

const Detection& select_face(const std::vector<Detection>& faces, SelectPolicy policy,
                             cv::Size image) {
  // `faces` is sorted largest first, so ties below go to the larger, then upper-left, face.
  std::size_t best = 0;
  if (policy == SelectPolicy::central) {
    auto dist = [&](const Detection& d) {
      const double dx = d.box.x + d.box.width / 2.0 - image.width / 2.0;
      const double dy = d.box.y + d.box.height / 2.0 - image.height / 2.0;
      return dx * dx + dy * dy;
    };
    for (std::size_t i = 1; i < faces.size(); ++i)
      if (dist(faces[i]) < dist(faces[best])) best = i;
  } else if (policy == SelectPolicy::score) {
    for (std::size_t i = 1; i < faces.size(); ++i)
      if (faces[i].score > faces[best].score) best = i;
  }
  return faces[best];
}

// A CSV box clipped to the image; DataError naming file:line when nothing of it is inside.
cv::Rect2f clipped_box(const BoxTable& table, const BoxRecord& record, cv::Size image,
                       const std::string& relative_path) {
  const cv::Rect r = record.rect & cv::Rect(0, 0, image.width, image.height);
  if (r.empty())
    throw DataError(fmt::format("{}: the box ({}, {}, {}x{}) lies outside {} ({}x{})",
                                table.where(record), record.rect.x, record.rect.y,
                                record.rect.width, record.rect.height, relative_path, image.width,
                                image.height));
  return cv::Rect2f(r);
}

// Per-thread objects of the detection pass.
struct Worker {
  std::unique_ptr<FaceDetector> detector;
  std::unique_ptr<EyeFinder> eyes;
};

}  // namespace

json to_json(const Crop& c) {
  return {{"cx", c.cx},
          {"cy", c.cy},
          {"width", c.width},
          {"height", c.height},
          {"angle_deg", c.angle_deg}};
}

Crop crop_from_json(const json& value) {
  if (!value.is_object())
    throw DataError(fmt::format("crop: expected an object, got {}", value.dump()));
  auto get = [&](const char* key, bool positive) {
    const auto it = value.find(key);
    if (it == value.end()) throw DataError(fmt::format("crop: missing key '{}'", key));
    if (!it->is_number() || !std::isfinite(it->get<double>()))
      throw DataError(fmt::format("crop: '{}' is {}, not a finite number", key, it->dump()));
    const auto x = it->get<float>();
    if (positive && !(x > 0))
      throw DataError(fmt::format("crop: '{}' is {}, not a positive size", key, it->dump()));
    return x;
  };
  Crop c;
  c.cx = get("cx", false);
  c.cy = get("cy", false);
  c.width = get("width", true);
  c.height = get("height", true);
  c.angle_deg = value.contains("angle_deg") ? get("angle_deg", false) : 0.f;
  return c;
}

cv::Mat apply_crop(const cv::Mat& rgb, const Crop& crop) {
  FERSWEEP_ASSERT(rgb.type() == CV_8UC3, "apply_crop expects an 8-bit RGB image");
  const int w = std::max(1, static_cast<int>(std::lround(crop.width)));
  const int h = std::max(1, static_cast<int>(std::lround(crop.height)));
  const int x0 = static_cast<int>(std::lround(crop.cx - w / 2.0));
  const int y0 = static_cast<int>(std::lround(crop.cy - h / 2.0));
  const cv::Rect inside = cv::Rect(x0, y0, w, h) & cv::Rect(0, 0, rgb.cols, rgb.rows);
  if (inside.empty())
    throw DataError(fmt::format("crop ({}, {}, {}x{}) does not overlap the {}x{} image", x0, y0, w,
                                h, rgb.cols, rgb.rows));
  if (crop.angle_deg == 0) return rgb(inside).clone();
  // Rotate about the crop's centre by its angle (which levels the crop), centre it in the output.
  cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(crop.cx, crop.cy), crop.angle_deg, 1.0);
  m.at<double>(0, 2) += w / 2.0 - crop.cx;
  m.at<double>(1, 2) += h / 2.0 - crop.cy;
  cv::Mat out;
  cv::warpAffine(rgb, out, m, cv::Size(w, h), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  return out;
}

std::string cropped_relative_path(const data::Manifest& manifest, std::size_t i) {
  const data::ImageEntry& e = manifest.images[i];
  if (manifest.format == data::Format::folders)
    return fs::path(e.relative_path).replace_extension(".png").generic_string();
  // Other formats become a folders dataset: CLASS/identity as a file name. An image file's own
  // extension gives way to .png; a row's or a face's identity (fer2013.csv:12) keeps its whole
  // name, or every row of a file would become the same fer2013.png.
  std::string name = e.kind == data::SampleKind::file
                         ? fs::path(e.relative_path).replace_extension(".png").generic_string()
                         : e.relative_path + ".png";
  std::replace_if(
      name.begin(), name.end(), [](char c) { return c == '/' || c == ':' || c == '#'; }, '_');
  return manifest.classes.at(static_cast<std::size_t>(e.label)) + "/" + name;
}

CropOutcome crop_faces(const data::Manifest& manifest, const CropConfig& config, int threads) {
  const auto start = std::chrono::steady_clock::now();
  const std::size_t n = manifest.images.size();
  threads = default_threads(threads);

  std::optional<BoxTable> boxes;
  if (!config.boxes_file.empty()) boxes = read_box_table(config.boxes_file, manifest);
  // The true boxes for the QC's IoU check: the dataset's own (AffectNet, ExpW), else a
  // face_boxes.csv at its root (the demo's), else the boxes the variant reads.
  std::optional<BoxTable> truth = dataset_box_table(manifest);
  std::error_code ec;
  if (config.detector == DetectorKind::dataset) {
    if (!truth)
      throw DataError(
          fmt::format("detector dataset: the dataset {} has no face boxes (formats "
                      "affectnet and expw give them)",
                      manifest.root.string()));
    boxes = truth;
  }
  const fs::path own = manifest.root / "face_boxes.csv";
  if (!truth && fs::is_regular_file(own, ec)) truth = read_box_table(own, manifest);
  if (!truth) truth = boxes;

  // Pass 1: detect, select, decide the crop (centre fallbacks wait for the typical crop size).
  std::vector<ImageRecord> records(n);
  std::vector<std::optional<Crop>> crops(n);
  std::vector<char> pending_centre(n, 0);
  parallel_for_each(
      n, threads,
      [&](int) {
        Worker w;
        if (config.detector != DetectorKind::boxes && config.detector != DetectorKind::dataset)
          w.detector = make_detector(config);
        if (!config.eye_cascade_file.empty())
          w.eyes = std::make_unique<EyeFinder>(config.eye_cascade_file);
        return w;
      },
      [&](Worker& w, std::size_t i) {
        const std::string& rel = manifest.images[i].relative_path;
        const cv::Mat rgb = data::read_sample(manifest, i);
        ImageRecord& r = records[i];
        r.image_size = rgb.size();
        if (truth && truth->boxes[i]) {
          r.truth = clipped_box(*truth, *truth->boxes[i], rgb.size(), rel);
        }
        std::vector<Detection> faces;
        if (config.detector == DetectorKind::boxes || config.detector == DetectorKind::dataset) {
          if (boxes->boxes[i])
            faces.push_back({clipped_box(*boxes, *boxes->boxes[i], rgb.size(), rel), 1.f, {}});
        } else {
          faces = with_context<DataError>(fmt::format("face detection in {}", rel),
                                          [&] { return w.detector->detect(rgb); });
        }
        r.faces = static_cast<int>(faces.size());
        std::optional<Detection> chosen;
        if (!faces.empty()) {
          chosen = select_face(faces, config.select, rgb.size());
        } else {
          switch (config.fallback) {
            case FallbackPolicy::keep:
              crops[i] = whole_image(rgb.size());
              break;
            case FallbackPolicy::drop:
              break;
            case FallbackPolicy::center:
              pending_centre[i] = 1;
              break;
            case FallbackPolicy::boxes:
              if (boxes->boxes[i]) {
                chosen = Detection{clipped_box(*boxes, *boxes->boxes[i], rgb.size(), rel), 1.f, {}};
              } else {
                r.fallback_box_missing = true;
                crops[i] = whole_image(rgb.size());
              }
              break;
          }
          r.fallback = to_string(config.fallback);
        }
        if (chosen) {
          r.face = chosen->box;
          r.score = chosen->score;
          Crop c = crop_around(chosen->box, config, rgb.size());
          if (config.align) {
            std::optional<EyePair> eyes = chosen->eyes;
            if (!eyes && w.eyes) eyes = w.eyes->find(rgb, chosen->box);
            if (eyes) {
              c.angle_deg = static_cast<float>(eyes->angle_deg());
              r.align_deg = c.angle_deg;
            } else {
              r.align_failed = true;
            }
          }
          crops[i] = c;
        }
        if (r.face && r.truth) r.iou = iou(*r.face, *r.truth);
        if (crops[i]) r.blur = blur_score(apply_crop(rgb, *crops[i]));
      });
  const double detect_seconds = seconds_since(start);

  // Pass 2: centre crops sized like the dataset's typical face crop.
  std::vector<std::size_t> centre;
  for (std::size_t i = 0; i < n; ++i)
    if (pending_centre[i]) centre.push_back(i);
  double fraction = kDefaultCenterFraction;
  if (!centre.empty()) {
    std::vector<double> ratios;
    for (std::size_t i = 0; i < n; ++i)
      if (records[i].face && crops[i])
        ratios.push_back(std::min(crops[i]->width, crops[i]->height) /
                         std::min(records[i].image_size.width, records[i].image_size.height));
    if (!ratios.empty()) {
      std::nth_element(ratios.begin(), ratios.begin() + ratios.size() / 2, ratios.end());
      fraction = ratios[ratios.size() / 2];
    }
    parallel_for_each(
        centre.size(), threads, [](int) { return 0; },
        [&](int, std::size_t k) {
          const std::size_t i = centre[k];
          const cv::Mat rgb = data::read_sample(manifest, i);
          crops[i] = centre_square(rgb.size(), fraction);
          records[i].blur = blur_score(apply_crop(rgb, *crops[i]));
        });
  }

  for (auto& r : records) flag_record(r, config.qc);
  CropOutcome out;
  out.qc = build_qc_report(manifest, config, records, crops,
                           truth ? truth->file.string() : std::string());
  out.qc["summary"]["center_fraction"] = centre.empty() ? json(nullptr) : json(fraction);
  const std::string title = fmt::format(
      "{} | {} images, {} with a face | red: no face found, orange: flagged",
      config.detector == DetectorKind::boxes ? "boxes " + config.boxes_file.filename().string()
                                             : to_string(config.detector),
      n, out.qc["summary"]["with_face"].get<std::size_t>());
  out.contact_sheet_png = draw_contact_sheet(manifest, records, crops, title, threads);
  out.qc["timing"] = {{"threads", threads},
                      {"detect_seconds", detect_seconds},
                      {"total_seconds", seconds_since(start)}};
  out.crops = std::move(crops);
  return out;
}

void write_cropped_dataset(const data::Manifest& manifest, const CropOutcome& outcome,
                           const fs::path& out_dir, int threads) {
  FERSWEEP_ASSERT(outcome.crops.size() == manifest.images.size(),
                  "crop outcome does not match the manifest");
  std::error_code ec;
  if (fs::exists(out_dir, ec)) {
    if (!fs::is_directory(out_dir, ec))
      throw IoError(fmt::format("crop output {} exists and is not a directory", out_dir.string()));
    if (!fs::is_empty(out_dir, ec))
      throw IoError(fmt::format("crop output {} is not empty; choose a new or empty directory",
                                out_dir.string()));
  }
  // Two sources mapping to one output name (a.jpg and a.png side by side) would overwrite.
  std::map<std::string, std::string> outputs;
  for (std::size_t i = 0; i < manifest.images.size(); ++i) {
    if (!outcome.crops[i]) continue;
    const std::string& src = manifest.images[i].relative_path;
    const auto [it, fresh] = outputs.emplace(cropped_relative_path(manifest, i), src);
    if (!fresh)
      throw DataError(fmt::format("{} and {} would both be written as {}; rename one", it->second,
                                  src, it->first));
  }
  for (const auto& cls : manifest.classes) {
    fs::create_directories(out_dir / cls, ec);
    if (ec)
      throw IoError(fmt::format("cannot create {}: {}", (out_dir / cls).string(), ec.message()));
  }
  auto write_file = [](const fs::path& file, const void* data, std::size_t size) {
    fs::path tmp = file;
    tmp += ".tmp";
    {
      std::ofstream os(tmp, std::ios::binary | std::ios::trunc);
      os.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
      if (!os) throw IoError(fmt::format("cannot write {}", file.string()));
    }
    std::error_code rename_ec;
    fs::rename(tmp, file, rename_ec);
    if (rename_ec)
      throw IoError(fmt::format("cannot write {}: {}", file.string(), rename_ec.message()));
  };
  parallel_for_each(
      manifest.images.size(), threads, [](int) { return 0; },
      [&](int, std::size_t i) {
        if (!outcome.crops[i]) return;
        const std::string rel = cropped_relative_path(manifest, i);
        const cv::Mat cropped = apply_crop(data::read_sample(manifest, i), *outcome.crops[i]);
        cv::Mat bgr;
        cv::cvtColor(cropped, bgr, cv::COLOR_RGB2BGR);
        std::vector<unsigned char> png;
        with_context<IoError>(fmt::format("encoding {}", rel),
                              [&] { cv::imencode(".png", bgr, png); });
        const fs::path file = out_dir / rel;
        std::error_code dir_ec;
        fs::create_directories(file.parent_path(), dir_ec);  // nested class folders
        write_file(file, png.data(), png.size());
      });
  write_file(out_dir / "contact_sheet.png", outcome.contact_sheet_png.data(),
             outcome.contact_sheet_png.size());
  const std::string qc = outcome.qc.dump(1) + "\n";
  write_file(out_dir / "qc.json", qc.data(), qc.size());
}

}  // namespace fersweep::faces
