// Preprocessing: decoded, resized and normalised values against python3-opencv + numpy on the
// same files; channel statistics; batch streaming; argument errors.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "data/dataset.h"
#include "data/demo.h"
#include "data/preprocess.h"
#include "test_util.h"

namespace fersweep::data {
namespace {
using namespace testing;

// A dataset with the cases that matter: shrink (JPEG, PNG, a demo frame), enlarge, exact size,
// grayscale, RGBA, a non-square image, and a non-ASCII name.
Manifest make_mixed_dataset(const fs::path& root) {
  write_image(root / "A" / "big.jpg", test_picture(300, 260, 1));
  write_image(root / "A" / "small.png", test_picture(40, 50, 2));
  write_image(root / "A" / "wide.png", test_picture(500, 120, 3));
  cv::Mat gray(90, 80, CV_8U);
  for (int i = 0; i < gray.rows * gray.cols; ++i) gray.data[i] = static_cast<uchar>((i * 7) % 256);
  write_image(root / "B" / "gray.png", gray);
  cv::Mat bgra(70, 75, CV_8UC4);
  for (int i = 0; i < bgra.rows * bgra.cols; ++i)
    bgra.at<cv::Vec4b>(i / 75, i % 75) =
        cv::Vec4b(static_cast<uchar>(i % 256), 100, static_cast<uchar>(255 - i % 256),
                  static_cast<uchar>(i % 200));
  write_image(root / "B" / "rgba.png", bgra);
  write_image(root / "B" / fs::u8path("démo frame.jpg"), render_demo_image(5, 3, 0).bgr);
  write_image(root / "B" / "exact.png", test_picture(64, 64, 4));
  return scan_dataset(root);
}

std::vector<std::size_t> all_indices(const Manifest& m) {
  std::vector<std::size_t> idx(m.images.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  return idx;
}

void write_list(const fs::path& file, const Manifest& m, const std::vector<std::size_t>& idx) {
  std::ofstream os(file, std::ios::binary);
  for (std::size_t i : idx) os << m.path(i).string() << "\n";
}

// Tolerance: both sides run the same OpenCV 4.6 resize on the same bytes and divide by 255 in
// float32, so raw values agree exactly; normalised values differ only by float32 rounding of the
// C++ side (|x| <= ~2.7 → 1e-6 relative).
constexpr double kRawTol = 2e-7;  // one float32 ulp below 1: x * (1/255.f) vs x / 255.f
constexpr double kNormTol = 2e-6;

class PythonParity : public ::testing::TestWithParam<int> {};

TEST_P(PythonParity, DecodeResizeNormalizeMatchOpenCvNumpy) {
  const int size = GetParam();
  const fs::path dir = scratch_dir("_" + std::to_string(size));
  const Manifest m = make_mixed_dataset(dir / "ds");
  const auto idx = all_indices(m);
  ImageBatchStream stream(m, idx, size, 3, 2);  // batches of 3, 3 and 1
  std::vector<at::Tensor> parts;
  ImageBatch batch;
  std::vector<std::size_t> order;
  while (stream.next(batch)) {
    parts.push_back(batch.images);
    order.insert(order.end(), batch.indices.begin(), batch.indices.end());
  }
  EXPECT_EQ(order, idx);
  const at::Tensor images = torch::cat(parts);
  ASSERT_EQ(images.sizes(),
            (std::vector<int64_t>{static_cast<int64_t>(idx.size()), 3, size, size}));
  const at::Tensor all =
      torch::stack({images, normalize(images, Normalization::imagenet, imagenet_stats()),
                    normalize(images, Normalization::minmax, {})})
          .contiguous();
  {
    std::ofstream os(dir / "cxx.f32", std::ios::binary);
    os.write(reinterpret_cast<const char*>(all.data_ptr<float>()),
             static_cast<std::streamsize>(all.numel() * 4));
  }
  write_list(dir / "list.txt", m, idx);
  std::string out;
  const std::string cmd = std::string(FERSWEEP_PYTHON) + " " + FERSWEEP_TESTS_DIR +
                          "/data/preprocess_reference.py " + quoted(dir / "list.txt") + " " +
                          std::to_string(size) + " " + quoted(dir / "cxx.f32");
  ASSERT_EQ(run_command(cmd, out), 0) << cmd << "\n" << out;
  std::istringstream is(out);
  std::string tag;
  double raw = 1, imagenet = 1, minmax = 1;
  is >> tag >> raw >> imagenet >> minmax;
  ASSERT_EQ(tag, "max_abs_diff") << out;
  EXPECT_LE(raw, kRawTol);
  EXPECT_LE(imagenet, kNormTol);
  EXPECT_LE(minmax, kNormTol);
  std::cout << "size " << size << ": " << out;
}

INSTANTIATE_TEST_SUITE_P(Sizes, PythonParity, ::testing::Values(224, 64));

TEST(ChannelStats, TrainingIndicesOnlyAgainstNumpy) {
  const fs::path dir = scratch_dir();
  const Manifest m = make_mixed_dataset(dir / "ds");
  const std::vector<std::size_t> train{0, 2, 3, 5};
  const ChannelStats stats = compute_channel_stats(m, train, 48, 2);
  write_list(dir / "list.txt", m, train);
  std::string out;
  const std::string cmd = std::string(FERSWEEP_PYTHON) + " " + FERSWEEP_TESTS_DIR +
                          "/data/stats_reference.py " + quoted(dir / "list.txt") + " 48";
  ASSERT_EQ(run_command(cmd, out), 0) << out;
  std::istringstream is(out);
  for (int c = 0; c < 3; ++c) {
    double v;
    is >> v;
    EXPECT_NEAR(stats.mean[c], v, 1e-6) << "mean " << c;
  }
  for (int c = 0; c < 3; ++c) {
    double v;
    is >> v;
    EXPECT_NEAR(stats.std[c], v, 1e-6) << "std " << c;
  }
  // No leakage: replacing an image outside the training indices changes nothing.
  write_image(m.path(1), test_picture(40, 50, 99));
  const ChannelStats again = compute_channel_stats(m, train, 48, 1);
  EXPECT_EQ(again.mean, stats.mean);
  EXPECT_EQ(again.std, stats.std);

  // The dataset normalisation uses exactly these statistics.
  const at::Tensor x = torch::rand({2, 3, 4, 4});
  const at::Tensor y = normalize(x, Normalization::dataset, stats);
  for (int c = 0; c < 3; ++c)
    EXPECT_TRUE(torch::allclose(y.select(1, c), (x.select(1, c) - stats.mean[c]) / stats.std[c]));
}

TEST(Normalize, MinmaxOfAConstantImageIsZeroAndSingleImagesWork) {
  const at::Tensor x = torch::full({3, 5, 5}, 0.25f);
  EXPECT_EQ(normalize(x, Normalization::minmax, {}).abs().max().item<float>(), 0.0f);
  const at::Tensor r = torch::rand({3, 5, 5}) * 0.5 + 0.2;
  const at::Tensor n = normalize(r, Normalization::minmax, {});
  EXPECT_FLOAT_EQ(n.min().item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(n.max().item<float>(), 1.0f);
  EXPECT_THROW(normalize(torch::rand({2, 1, 4, 4}), Normalization::imagenet, imagenet_stats()),
               DataError);
}

TEST(Normalize, ParseNames) {
  EXPECT_EQ(parse_normalization("imagenet"), Normalization::imagenet);
  EXPECT_EQ(parse_normalization("dataset"), Normalization::dataset);
  EXPECT_EQ(parse_normalization("minmax"), Normalization::minmax);
  for (auto n : {Normalization::imagenet, Normalization::dataset, Normalization::minmax})
    EXPECT_EQ(parse_normalization(to_string(n)), n);
  try {
    parse_normalization("zscore");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "unknown normalization 'zscore' (expected imagenet, dataset or minmax)");
  }
}

TEST(Stream, ReportsTheFileThatFailsAndHandlesEmptyAndSubsets) {
  const fs::path dir = scratch_dir();
  const Manifest m = make_mixed_dataset(dir / "ds");
  {
    ImageBatchStream empty(m, {}, 32, 4, 2);
    ImageBatch b;
    EXPECT_FALSE(empty.next(b));
  }
  ImageBatchStream subset(m, {6, 1}, 16, 8, 2);
  ImageBatch b;
  ASSERT_TRUE(subset.next(b));
  EXPECT_EQ(b.indices, (std::vector<std::size_t>{6, 1}));
  EXPECT_EQ(b.images.sizes(), (std::vector<int64_t>{2, 3, 16, 16}));
  EXPECT_GE(b.images.min().item<float>(), 0.0f);
  EXPECT_LE(b.images.max().item<float>(), 1.0f);
  EXPECT_FALSE(subset.next(b));

  // The file broke after scanning: the stream names it.
  write_bytes(m.path(2), "broken");
  ImageBatchStream broken(m, all_indices(m), 16, 2, 2);
  ImageBatch first;
  ASSERT_TRUE(broken.next(first));  // images 0 and 1
  try {
    broken.next(first);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot decode image " + m.path(2).string() + ": corrupt or unsupported format");
  }
  EXPECT_THROW(ImageBatchStream(m, {0}, 0, 4, 1), ConfigError);
  EXPECT_THROW(ImageBatchStream(m, {0}, 16, 0, 1), ConfigError);
}

}  // namespace
}  // namespace fersweep::data

namespace fersweep::data {
namespace {

TEST(Stream, TransformIsAppliedBeforeResizingAndMatchesCroppingByHand) {
  const fs::path dir = scratch_dir("_transform");
  const Manifest m = make_mixed_dataset(dir / "ds");
  const auto idx = all_indices(m);
  // Crop the central half of every image (a stand-in for a face crop).
  const ImageTransform half = [](std::size_t, const cv::Mat& rgb) {
    return rgb(cv::Rect(rgb.cols / 4, rgb.rows / 4, rgb.cols / 2, rgb.rows / 2)).clone();
  };
  ImageBatchStream stream(m, idx, 16, 4, 2, half);
  ImageBatch batch;
  std::size_t seen = 0;
  while (stream.next(batch)) {
    for (std::size_t b = 0; b < batch.indices.size(); ++b) {
      const cv::Mat rgb = read_rgb(m.path(batch.indices[b]));
      const cv::Mat expected = resize_square(half(batch.indices[b], rgb), 16);
      for (int c = 0; c < 3; ++c) {
        for (int y = 0; y < 16; ++y) {
          for (int x = 0; x < 16; ++x) {
            const float want = expected.at<cv::Vec3b>(y, x)[c] / 255.0f;
            ASSERT_NEAR(batch.images[b][c][y][x].item<float>(), want, 1e-6)
                << m.path(batch.indices[b]);
          }
        }
      }
      ++seen;
    }
  }
  EXPECT_EQ(seen, idx.size());
}

}  // namespace
}  // namespace fersweep::data
