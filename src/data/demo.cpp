// Renders the synthetic demo dataset. Faces are drawn so that the stock Haar frontal-face cascade
// sees what it was trained on (dark brow/eye band over lighter cheeks, a light nose bridge between
// darker eye sockets, a darker mouth, contrast against hair), while brows, eyes and mouth carry the
// expression. Every random choice comes from the portable Rng, so files are byte-identical per
// seed.
#include "data/demo.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/parallel.h"
#include "data/random.h"

namespace fersweep::data {
namespace {

constexpr int kFrameWidth = 384;
constexpr int kFrameHeight = 288;

// The face is drawn upright in a canonical patch, then rotated, scaled and blended into the frame.
constexpr int kPatchW = 256;
constexpr int kPatchH = 320;
constexpr double kFaceCx = 128;  // centre of the head ellipse
constexpr double kFaceCy = 170;
constexpr double kFaceA = 78;   // half width
constexpr double kFaceB = 100;  // half height
constexpr double kEyeY = 160;
constexpr double kEyeDx = 33;
constexpr double kMouthY = 232;
// The true box in patch coordinates: a square over brows, eyes, nose and mouth, which is what a
// frontal-face detector (and a human annotator of SFEW-style crops) marks. Calibrated against the
// Haar cascade's boxes on upright faces.
constexpr double kBoxCx = 128;
constexpr double kBoxCy = 182;
constexpr double kBoxSide = 186;

enum Expression { angry, disgust, fear, happy, neutral, sad, surprise };

cv::Scalar scale(const cv::Scalar& c, double f) {
  return {std::min(255.0, c[0] * f), std::min(255.0, c[1] * f), std::min(255.0, c[2] * f)};
}

cv::Scalar random_color(Rng& rng, double lo = 20, double hi = 235) {
  return {rng.uniform(lo, hi), rng.uniform(lo, hi), rng.uniform(lo, hi)};
}

cv::Point to_fixed(double x, double y) {
  // 4 fractional bits: sub-pixel accurate anti-aliased drawing.
  return {static_cast<int>(std::lround(x * 16)), static_cast<int>(std::lround(y * 16))};
}

void fill_ellipse(cv::Mat& img, double cx, double cy, double ax, double ay, double angle,
                  const cv::Scalar& color) {
  cv::ellipse(
      img, to_fixed(cx, cy),
      cv::Size(static_cast<int>(std::lround(ax * 16)), static_cast<int>(std::lround(ay * 16))),
      angle, 0, 360, color, cv::FILLED, cv::LINE_AA, 4);
}

// A quadratic Bezier from p0 to p2 bending towards p1, as a polyline.
std::vector<cv::Point> curve(cv::Point2d p0, cv::Point2d p1, cv::Point2d p2, int steps = 16) {
  std::vector<cv::Point> pts;
  for (int i = 0; i <= steps; ++i) {
    const double t = static_cast<double>(i) / steps;
    const double u = 1 - t;
    pts.push_back(to_fixed(u * u * p0.x + 2 * u * t * p1.x + t * t * p2.x,
                           u * u * p0.y + 2 * u * t * p1.y + t * t * p2.y));
  }
  return pts;
}

void stroke(cv::Mat& img, const std::vector<cv::Point>& pts, const cv::Scalar& color,
            int thickness) {
  cv::polylines(img, pts, false, color, thickness, cv::LINE_AA, 4);
}

void fill(cv::Mat& img, const std::vector<cv::Point>& pts, const cv::Scalar& color) {
  std::vector<std::vector<cv::Point>> polys{pts};
  cv::fillPoly(img, polys, color, cv::LINE_AA, 4);
}

// Shape parameters of one expression (patch pixels), jittered per image.
struct FaceShape {
  double brow_lift = 0;     // whole brow up (negative y)
  double brow_inner = 0;    // inner end lower (+) or higher (-) than the outer end
  double brow_arch = 3;     // upward bow of the brow
  double eye_open = 6;      // half height of the eye opening
  double eye_width = 13;    // half width
  double mouth_width = 24;  // half width
  double mouth_corner = 0;  // corners up (+) or down (-)
  double mouth_open = 0;    // half height of an open mouth
  bool teeth = false;
  double lip_raise = 0;  // disgust: one side of the upper lip pulled up
  bool nose_wrinkle = false;
};

FaceShape expression_shape(Expression e, Rng& rng) {
  FaceShape s;
  switch (e) {
    case angry:
      s.brow_lift = 5, s.brow_inner = 11, s.brow_arch = 0, s.eye_open = 4, s.mouth_width = 20,
      s.mouth_corner = -4;
      break;
    case disgust:
      s.brow_lift = 4, s.brow_inner = 6, s.brow_arch = 1, s.eye_open = 3.5, s.mouth_width = 22,
      s.mouth_corner = -5, s.lip_raise = 9, s.nose_wrinkle = true;
      break;
    case fear:
      s.brow_lift = -7, s.brow_inner = -8, s.brow_arch = 1, s.eye_open = 8, s.mouth_width = 27,
      s.mouth_corner = -3, s.mouth_open = 7, s.teeth = true;
      break;
    case happy:
      s.brow_lift = -1, s.brow_arch = 4, s.eye_open = 3.5, s.mouth_width = 30, s.mouth_corner = 13,
      s.mouth_open = 6, s.teeth = true;
      break;
    case neutral:
      break;
    case sad:
      s.brow_lift = -2, s.brow_inner = -10, s.brow_arch = 1, s.eye_open = 4.5, s.mouth_width = 21,
      s.mouth_corner = -10;
      break;
    case surprise:
      s.brow_lift = -10, s.brow_arch = 6, s.eye_open = 8.5, s.mouth_width = 13, s.mouth_open = 13;
      break;
  }
  // Individual variation that never crosses into another class.
  s.brow_lift += rng.uniform(-1.5, 1.5);
  s.brow_inner += rng.uniform(-1.5, 1.5);
  s.eye_open *= rng.uniform(0.85, 1.15);
  s.eye_width *= rng.uniform(0.9, 1.1);
  s.mouth_width *= rng.uniform(0.9, 1.1);
  s.mouth_corner += rng.uniform(-1.5, 1.5);
  s.mouth_open *= rng.uniform(0.85, 1.15);
  return s;
}

// Skin tones (BGR), light to dark; hair colours.
const cv::Scalar kSkins[] = {{185, 205, 240}, {150, 180, 225}, {120, 160, 210}, {95, 135, 185},
                             {70, 105, 150},  {55, 80, 120},   {45, 62, 95}};
const cv::Scalar kHairs[] = {{20, 22, 28},   {30, 45, 70}, {40, 70, 110},
                             {60, 110, 170}, {25, 30, 40}, {110, 120, 130}};

struct FacePatch {
  cv::Mat bgr;   // kPatchH x kPatchW, CV_8UC3
  cv::Mat mask;  // CV_32F in [0, 1]
};

FacePatch draw_face(Expression expression, Rng& rng) {
  FacePatch p;
  p.bgr = cv::Mat(kPatchH, kPatchW, CV_8UC3, cv::Scalar(0, 0, 0));
  cv::Mat mask8(kPatchH, kPatchW, CV_8U, cv::Scalar(0));
  const cv::Scalar base_skin = kSkins[rng.below(std::size(kSkins))];
  const cv::Scalar skin = scale(base_skin, rng.uniform(0.92, 1.05));
  const cv::Scalar hair = kHairs[rng.below(std::size(kHairs))];
  const FaceShape s = expression_shape(expression, rng);
  const double cx = kFaceCx, cy = kFaceCy;

  // Neck (in shadow) and hair behind the head.
  const std::vector<cv::Point> neck{to_fixed(cx - 34, cy + 60), to_fixed(cx + 34, cy + 60),
                                    to_fixed(cx + 38, kPatchH), to_fixed(cx - 38, kPatchH)};
  fill(p.bgr, neck, scale(skin, 0.72));
  fill(mask8, neck, cv::Scalar(255));
  const bool long_hair = rng.chance(0.4);
  const bool bald = !long_hair && rng.chance(0.15);
  if (!bald) {
    const double hair_b = long_hair ? 128 : 110;
    fill_ellipse(p.bgr, cx, cy - 18 + (long_hair ? 20 : 0), kFaceA + 12, hair_b, 0, hair);
    fill_ellipse(mask8, cx, cy - 18 + (long_hair ? 20 : 0), kFaceA + 12, hair_b, 0,
                 cv::Scalar(255));
  }

  // Head: nested ellipses, darker at the rim, as a rounded surface lit from the front.
  for (int i = 0; i < 8; ++i) {
    const double f = 1.0 - i * 0.07;
    fill_ellipse(p.bgr, cx, cy, kFaceA * f, kFaceB * f, 0, scale(skin, 0.74 + i * 0.04));
  }
  fill_ellipse(mask8, cx, cy, kFaceA, kFaceB, 0, cv::Scalar(255));
  // Ears.
  for (int side : {-1, 1}) {
    fill_ellipse(p.bgr, cx + side * (kFaceA - 2), kEyeY + 18, 9, 18, 0, scale(skin, 0.8));
    fill_ellipse(mask8, cx + side * (kFaceA - 2), kEyeY + 18, 9, 18, 0, cv::Scalar(255));
  }
  // Fringe over the top of the forehead.
  if (!bald) {
    const double fringe = rng.uniform(96, 110);
    fill_ellipse(p.bgr, cx, fringe - 28, kFaceA + 6, 36, 0, hair);
  }

  // Lighter cheeks and forehead, light nose bridge: the bright areas around the dark eye band.
  for (int side : {-1, 1})
    fill_ellipse(p.bgr, cx + side * 38, kEyeY + 36, 20, 15, 0, scale(skin, 1.06));
  fill_ellipse(p.bgr, cx, kEyeY - 42, 44, 14, 0, scale(skin, 1.05));
  fill_ellipse(p.bgr, cx, kEyeY + 20, 7, 26, 0, scale(skin, 1.12));

  // Eye sockets, eyes, brows.
  const cv::Scalar dark = scale(hair, 0.8);
  for (int side : {-1, 1}) {
    const double ex = cx + side * kEyeDx;
    fill_ellipse(p.bgr, ex, kEyeY - 1, 23, 13, 0, scale(skin, 0.66));
    // Almond eye: white, then a dark iris clipped by the lids, then the upper lid line.
    std::vector<cv::Point> eye;
    const auto top =
        curve({ex - s.eye_width, kEyeY}, {ex, kEyeY - 2 * s.eye_open}, {ex + s.eye_width, kEyeY});
    const auto bottom =
        curve({ex + s.eye_width, kEyeY}, {ex, kEyeY + 1.4 * s.eye_open}, {ex - s.eye_width, kEyeY});
    eye.insert(eye.end(), top.begin(), top.end());
    eye.insert(eye.end(), bottom.begin(), bottom.end());
    fill(p.bgr, eye, cv::Scalar(200, 205, 212));
    cv::Mat iris(kPatchH, kPatchW, CV_8U, cv::Scalar(0));
    fill(iris, eye, cv::Scalar(255));
    cv::Mat iris_color(kPatchH, kPatchW, CV_8UC3, cv::Scalar(0));
    const double r = std::min(6.5, s.eye_open + 1.5);
    fill_ellipse(iris_color, ex, kEyeY + 0.2 * s.eye_open, r, r, 0, cv::Scalar(255, 255, 255));
    cv::Mat iris_mask;
    cv::extractChannel(iris_color, iris_mask, 0);
    cv::bitwise_and(iris_mask, iris, iris_mask);
    p.bgr.setTo(cv::Scalar(25, 25, 30), iris_mask);
    stroke(p.bgr, top, scale(skin, 0.3), 2);

    // Brow: inner end at |dx| 12, outer end at |dx| 54.
    const double base = kEyeY - 22 + s.brow_lift;
    const cv::Point2d inner{cx + side * 12, base + s.brow_inner / 2};
    const cv::Point2d outer{cx + side * 54, base - s.brow_inner / 2 + 3};
    const cv::Point2d mid{(inner.x + outer.x) / 2, (inner.y + outer.y) / 2 - 2 * s.brow_arch};
    stroke(p.bgr, curve(inner, mid, outer), dark, 7);
  }
  if (s.nose_wrinkle) {
    for (int side : {-1, 1})
      stroke(p.bgr,
             curve({cx + side * 5, kEyeY + 8}, {cx + side * 12, kEyeY + 14},
                   {cx + side * 9, kEyeY + 24}),
             scale(skin, 0.55), 2);
  }
  // Nose tip shadow and nostrils.
  fill_ellipse(p.bgr, cx, kEyeY + 46, 15, 6, 0, scale(skin, 0.8));
  for (int side : {-1, 1})
    fill_ellipse(p.bgr, cx + side * 7, kEyeY + 47, 4.5, 3, 0, scale(skin, 0.45));

  // Mouth.
  const cv::Scalar lip = cv::Scalar(skin[0] * 0.55, skin[1] * 0.5, std::min(255.0, skin[2] * 0.8));
  const cv::Scalar inside = cv::Scalar(30, 25, 60);
  const double mw = s.mouth_width, my = kMouthY;
  const double corner_y = my - s.mouth_corner;
  const double raise_left = s.lip_raise;  // only the left upper lip rises
  if (s.mouth_open > 0.5) {
    // Open mouth: upper and lower contours through the corners.
    const auto upper =
        curve({cx - mw, corner_y}, {cx, my - s.mouth_open * 1.2 - s.mouth_corner * 0.2},
              {cx + mw, corner_y});
    const auto lower =
        curve({cx + mw, corner_y}, {cx, my + s.mouth_open * 2.0 - s.mouth_corner * 0.2},
              {cx - mw, corner_y});
    std::vector<cv::Point> mouth(upper);
    mouth.insert(mouth.end(), lower.begin(), lower.end());
    fill(p.bgr, mouth, inside);
    if (s.teeth) {
      cv::Mat clip(kPatchH, kPatchW, CV_8U, cv::Scalar(0));
      fill(clip, mouth, cv::Scalar(255));
      cv::Mat band(kPatchH, kPatchW, CV_8U, cv::Scalar(0));
      cv::rectangle(band, cv::Point(0, 0),
                    cv::Point(kPatchW, static_cast<int>(my - s.mouth_corner * 0.2 + 1)),
                    cv::Scalar(255), cv::FILLED);
      cv::bitwise_and(clip, band, clip);
      p.bgr.setTo(cv::Scalar(215, 225, 230), clip);
    }
    stroke(p.bgr, upper, lip, 4);
    stroke(p.bgr, lower, lip, 4);
  } else {
    const auto line =
        curve({cx - mw, corner_y - raise_left}, {cx, my + s.mouth_corner * 0.9 - raise_left * 0.5},
              {cx + mw, corner_y});
    stroke(p.bgr, line, lip, 6);
    stroke(p.bgr, line, scale(lip, 0.6), 2);
  }

  mask8.convertTo(p.mask, CV_32F, 1.0 / 255);
  return p;
}

// Blends a face patch into the frame with the given similarity transform; returns the
// patch-to-frame matrix.
cv::Mat blend_face(cv::Mat& frame, const FacePatch& face, double cx, double cy, double face_width,
                   double angle_deg) {
  const double s = face_width / (2 * kFaceA);
  cv::Mat m = cv::getRotationMatrix2D(
      cv::Point2f(static_cast<float>(kFaceCx), static_cast<float>(kFaceCy)), angle_deg, s);
  m.at<double>(0, 2) += cx - kFaceCx;
  m.at<double>(1, 2) += cy - kFaceCy;
  // Warp only the frame region the patch lands on.
  std::vector<cv::Point2d> corners{{0, 0}, {kPatchW, 0}, {0, kPatchH}, {kPatchW, kPatchH}};
  double x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
  for (const auto& c : corners) {
    const double x = m.at<double>(0, 0) * c.x + m.at<double>(0, 1) * c.y + m.at<double>(0, 2);
    const double y = m.at<double>(1, 0) * c.x + m.at<double>(1, 1) * c.y + m.at<double>(1, 2);
    x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
  }
  const cv::Rect roi =
      cv::Rect(
          cv::Point(static_cast<int>(std::floor(x0)), static_cast<int>(std::floor(y0))),
          cv::Point(static_cast<int>(std::ceil(x1)) + 1, static_cast<int>(std::ceil(y1)) + 1)) &
      cv::Rect(0, 0, frame.cols, frame.rows);
  if (roi.empty()) return m;
  cv::Mat local = m.clone();
  local.at<double>(0, 2) -= roi.x;
  local.at<double>(1, 2) -= roi.y;
  cv::Mat warped, mask;
  cv::warpAffine(face.bgr, warped, local, roi.size(), cv::INTER_AREA, cv::BORDER_CONSTANT);
  cv::warpAffine(face.mask, mask, local, roi.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
  cv::Mat target = frame(roi);
  for (int y = 0; y < roi.height; ++y) {
    auto* out = target.ptr<cv::Vec3b>(y);
    const auto* in = warped.ptr<cv::Vec3b>(y);
    const auto* a = mask.ptr<float>(y);
    for (int x = 0; x < roi.width; ++x) {
      if (a[x] <= 0) continue;
      for (int c = 0; c < 3; ++c)
        out[x][c] = cv::saturate_cast<uchar>(out[x][c] * (1 - a[x]) + in[x][c] * a[x]);
    }
  }
  return m;
}

void draw_clutter(cv::Mat& frame, Rng& rng) {
  // A two-colour vertical gradient (wall, sky), then furniture-like shapes and light spots.
  const cv::Scalar top = random_color(rng), bottom = random_color(rng);
  for (int y = 0; y < frame.rows; ++y) {
    const double t = static_cast<double>(y) / (frame.rows - 1);
    frame.row(y).setTo(top * (1 - t) + bottom * t);
  }
  const int shapes = rng.between(12, 24);
  for (int i = 0; i < shapes; ++i) {
    // Every random number is drawn in its own statement: the order in which function arguments
    // are evaluated is unspecified in C++, and the pictures must not depend on the compiler.
    const cv::Scalar color = random_color(rng);
    const double x = rng.uniform(0, kFrameWidth), y = rng.uniform(0, kFrameHeight);
    const auto kind = rng.below(5);
    const double u = rng.uniform(), v = rng.uniform(), w = rng.uniform();
    const int thickness = rng.between(1, 6);
    switch (kind) {
      case 0:  // window, door, shelf
        cv::rectangle(frame, to_fixed(x, y), to_fixed(x + 20 + 120 * u, y + 20 + 120 * v), color,
                      cv::FILLED, cv::LINE_AA, 4);
        break;
      case 1:  // lamp, plate
        fill_ellipse(frame, x, y, 6 + 34 * u, 6 + 34 * v, 180 * w, color);
        break;
      case 2:  // cable, edge
        cv::line(frame, to_fixed(x, y), to_fixed(u * kFrameWidth, v * kFrameHeight), color,
                 thickness, cv::LINE_AA, 4);
        break;
      case 3: {  // irregular object
        std::vector<cv::Point> poly;
        const int n = 3 + static_cast<int>(4 * u);
        for (int k = 0; k < n; ++k) {
          const double px = x + rng.uniform(-45, 45);
          const double py = y + rng.uniform(-45, 45);
          poly.push_back(to_fixed(px, py));
        }
        fill(frame, poly, color);
        break;
      }
      default:  // frame of a picture
        cv::rectangle(frame, to_fixed(x, y), to_fixed(x + 20 + 70 * u, y + 20 + 70 * v), color,
                      1 + thickness, cv::LINE_AA, 4);
    }
  }
}

void add_noise(cv::Mat& frame, Rng& rng, double sigma) {
  // Triangular noise from two random bytes per sample (std 255/sqrt(6)): cheap and portable.
  const double gain = sigma / 104.1;
  for (int y = 0; y < frame.rows; ++y) {
    auto* p = frame.ptr<uchar>(y);
    const int n = frame.cols * 3;
    for (int x = 0; x < n; x += 4) {
      std::uint64_t bits = rng.next();
      for (int k = 0; k < 4 && x + k < n; ++k, bits >>= 16) {
        const int t = static_cast<int>(bits & 0xFF) + static_cast<int>((bits >> 8) & 0xFF) - 255;
        p[x + k] = cv::saturate_cast<uchar>(p[x + k] + gain * t);
      }
    }
  }
}

// The true box of a face blended with transform `m` at `scale_factor`, clipped to the frame.
cv::Rect face_box_of(const cv::Mat& m, double scale_factor) {
  const double bx = m.at<double>(0, 0) * kBoxCx + m.at<double>(0, 1) * kBoxCy + m.at<double>(0, 2);
  const double by = m.at<double>(1, 0) * kBoxCx + m.at<double>(1, 1) * kBoxCy + m.at<double>(1, 2);
  const double side = kBoxSide * scale_factor;
  const cv::Rect box(static_cast<int>(std::lround(bx - side / 2)),
                     static_cast<int>(std::lround(by - side / 2)),
                     static_cast<int>(std::lround(side)), static_cast<int>(std::lround(side)));
  return box & cv::Rect(0, 0, kFrameWidth, kFrameHeight);
}

}  // namespace

const std::vector<std::string>& sfew_classes() {
  static const std::vector<std::string> classes{"Angry",   "Disgust", "Fear",    "Happy",
                                                "Neutral", "Sad",     "Surprise"};
  return classes;
}

int demo_class_size(int class_index) {
  return class_index == disgust ? 75 : 100;
}

DemoImage render_demo_image(std::uint64_t seed, int class_index, int image_index) {
  FERSWEEP_ASSERT(class_index >= 0 && class_index < 7, "demo class index out of range");
  Rng rng(derive_seed(seed, static_cast<std::uint64_t>(class_index) * 100000 + image_index));
  DemoImage out;
  out.bgr = cv::Mat(kFrameHeight, kFrameWidth, CV_8UC3);
  draw_clutter(out.bgr, rng);

  // Main face geometry first, so bystanders can keep clear of it.
  const double width = rng.uniform(88, 140);
  const double scale_factor = width / (2 * kFaceA);
  const double margin_x = width * 0.6;
  const double cx = rng.uniform(margin_x, kFrameWidth - margin_x);
  const double cy =
      rng.uniform(kFaceB * scale_factor * 0.95, kFrameHeight - kFaceB * scale_factor * 0.9);
  const double angle = rng.uniform(-10, 10);

  // Bystanders: smaller, further back, beside the main face (possibly cut by the frame edge).
  if (rng.chance(0.35)) {
    const double bw = width * rng.uniform(0.45, 0.62);
    const double side = cx < kFrameWidth / 2.0 ? 1 : -1;
    const double bx = cx + side * rng.uniform(width * 0.95 + bw * 0.5, width * 1.6 + bw * 0.5);
    const double by = cy + rng.uniform(-30, 10);
    const auto expr = static_cast<Expression>(rng.below(7));
    const FacePatch b = draw_face(expr, rng);
    fill_ellipse(out.bgr, bx, by + bw * 1.35, bw * 0.95, bw * 0.7, 0, random_color(rng, 20, 160));
    const cv::Mat mb = blend_face(out.bgr, b, bx, by, bw, rng.uniform(-10, 10));
    out.bystanders = 1;
    out.bystander_box = face_box_of(mb, bw / (2 * kFaceA));
    out.bystander_class = static_cast<int>(expr);
  }

  // Torso in clothing colour, then the main face.
  const double rad = angle * CV_PI / 180;
  fill_ellipse(out.bgr, cx - std::sin(rad) * width * 1.4, cy + std::cos(rad) * width * 1.4,
               width * 1.05, width * 0.75, -angle, random_color(rng, 15, 200));
  const FacePatch face = draw_face(static_cast<Expression>(class_index), rng);
  const cv::Mat m = blend_face(out.bgr, face, cx, cy, width, angle);

  // Camera blur and sensor noise.
  cv::GaussianBlur(out.bgr, out.bgr, cv::Size(3, 3), 0.8);
  add_noise(out.bgr, rng, rng.uniform(2, 6));

  out.face_box = face_box_of(m, scale_factor);
  return out;
}

void check_demo_target(const std::filesystem::path& dir, const std::string& marker) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec))
    throw DataError(fmt::format("demo dataset: {} exists and is not a directory", dir.string()));
  if (!fs::is_empty(dir, ec) && !fs::exists(dir / marker, ec))
    throw DataError(fmt::format(
        "demo dataset: {} is not empty and holds no {} (not a demo dataset); choose an empty or "
        "new directory",
        dir.string(), marker));
}

void write_demo_file(const std::filesystem::path& file, const std::string& bytes) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  std::ofstream os(file, std::ios::binary | std::ios::trunc);
  os.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!os) throw IoError(fmt::format("demo dataset: cannot write {}", file.string()));
}

void write_demo_image(const std::filesystem::path& file, const cv::Mat& img) {
  std::vector<uchar> bytes;
  std::vector<int> params;
  if (file.extension() == ".jpg")
    params = {cv::IMWRITE_JPEG_QUALITY,  90, cv::IMWRITE_JPEG_PROGRESSIVE, 0,
              cv::IMWRITE_JPEG_OPTIMIZE, 0};
  if (!cv::imencode(file.extension().string(), img, bytes, params))
    throw IoError(fmt::format("demo dataset: cannot encode {}", file.string()));
  write_demo_file(file, std::string(bytes.begin(), bytes.end()));
}

void make_demo_dataset(const std::filesystem::path& dir, std::uint64_t seed, int threads) {
  namespace fs = std::filesystem;
  const auto& classes = sfew_classes();
  check_demo_target(dir, kDemoBoxesFile);
  std::error_code ec;
  for (const auto& name : classes) {
    fs::create_directories(dir / name, ec);
    if (ec)
      throw IoError(
          fmt::format("demo dataset: cannot create {}: {}", (dir / name).string(), ec.message()));
  }

  struct Job {
    int class_index, image_index;
    std::string relative;
  };
  std::vector<Job> jobs;
  for (int c = 0; c < static_cast<int>(classes.size()); ++c) {
    std::string lower = classes[c];
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    for (int i = 0; i < demo_class_size(c); ++i)
      jobs.push_back({c, i, fmt::format("{}/{}_{:03d}.jpg", classes[c], lower, i)});
  }
  std::vector<cv::Rect> boxes(jobs.size());

  parallel_for_each(jobs.size(), threads, [&](std::size_t j) {
    try {
      const DemoImage img = render_demo_image(seed, jobs[j].class_index, jobs[j].image_index);
      boxes[j] = img.face_box;
      // JPEG: PNG would be ~10x larger because of the sensor noise.
      write_demo_image(dir / jobs[j].relative, img.bgr);
    } catch (...) {
      rethrow_with_context<IoError>("");  // an OpenCV failure is an I/O error here
    }
  });

  const fs::path csv = dir / kDemoBoxesFile;
  std::ofstream os(csv, std::ios::binary | std::ios::trunc);
  os << "path,class,x,y,w,h\n";
  for (std::size_t j = 0; j < jobs.size(); ++j)
    os << fmt::format("{},{},{},{},{},{}\n", jobs[j].relative, classes[jobs[j].class_index],
                      boxes[j].x, boxes[j].y, boxes[j].width, boxes[j].height);
  if (!os) throw IoError(fmt::format("demo dataset: cannot write {}", csv.string()));
}

}  // namespace fersweep::data
