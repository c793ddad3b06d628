// Dataset scanning: layout, order, labels, fingerprint, every bad input with its message, names
// with spaces and non-ASCII characters, grayscale and alpha images.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "data/dataset.h"
#include "test_util.h"

namespace fersweep::data {
namespace {
using namespace testing;

// A small valid dataset: Happy (3 images), Sad (2 images).
fs::path make_small_dataset() {
  const fs::path root = scratch_dir() / "ds";
  write_image(root / "Happy" / "b.png", test_picture(40, 30, 1));
  write_image(root / "Happy" / "a.jpg", test_picture(50, 40, 2));
  write_image(root / "Happy" / "sub" / "c.bmp", test_picture(20, 20, 3));
  write_image(root / "Sad" / "x.png", test_picture(30, 30, 4));
  write_image(root / "Sad" / "y.TIFF", test_picture(30, 31, 5));
  return root;
}

TEST(Scan, SortedManifestWithLabels) {
  const fs::path root = make_small_dataset();
  const Manifest m = scan_dataset(root);
  EXPECT_EQ(m.classes, (std::vector<std::string>{"Happy", "Sad"}));
  std::vector<std::string> paths;
  for (const auto& e : m.images) paths.push_back(e.relative_path);
  EXPECT_EQ(paths, (std::vector<std::string>{"Happy/a.jpg", "Happy/b.png", "Happy/sub/c.bmp",
                                             "Sad/x.png", "Sad/y.TIFF"}));
  EXPECT_EQ(m.labels(), (std::vector<int>{0, 0, 0, 1, 1}));
  EXPECT_EQ(m.class_counts(), (std::vector<std::size_t>{3, 2}));
  EXPECT_EQ(m.ignored_files, 0u);
  EXPECT_EQ(m.fingerprint.size(), 64u);

  // Classes given by the sweep: their order defines the labels; other folders are left out.
  ScanOptions opts;
  opts.classes = {"Sad", "Happy"};
  const Manifest given = scan_dataset(root, opts);
  EXPECT_EQ(given.labels(), (std::vector<int>{1, 1, 1, 0, 0}));
  EXPECT_NE(given.fingerprint, m.fingerprint);
  opts.classes = {"Sad"};
  EXPECT_EQ(scan_dataset(root, opts).images.size(), 2u);
}

TEST(Scan, FingerprintCoversPathsLabelsAndContents) {
  const fs::path root = make_small_dataset();
  const std::string fp = scan_dataset(root).fingerprint;
  // A copy elsewhere, with new mtimes, is the same dataset.
  const fs::path copy = root.parent_path() / "copy";
  fs::copy(root, copy, fs::copy_options::recursive);
  EXPECT_EQ(scan_dataset(copy).fingerprint, fp);
  // Changed contents, a rename, a move to another class: all change the fingerprint.
  write_image(copy / "Sad" / "x.png", test_picture(30, 30, 6));
  const std::string edited = scan_dataset(copy).fingerprint;
  EXPECT_NE(edited, fp);
  fs::rename(copy / "Sad" / "x.png", copy / "Sad" / "z.png");
  const std::string renamed = scan_dataset(copy).fingerprint;
  EXPECT_NE(renamed, edited);
  fs::rename(copy / "Sad" / "z.png", copy / "Happy" / "z.png");
  EXPECT_NE(scan_dataset(copy).fingerprint, renamed);
}

TEST(Scan, MissingRootAndNoClasses) {
  const fs::path dir = scratch_dir();
  EXPECT_EQ(error_of<DataError>([&] { scan_dataset(dir / "nope"); }),
            "dataset root " + (dir / "nope").string() + " does not exist");
  write_bytes(dir / "file.txt", "x");
  EXPECT_EQ(error_of<DataError>([&] { scan_dataset(dir / "file.txt"); }),
            "dataset root " + (dir / "file.txt").string() + " is not a directory");
  EXPECT_EQ(
      error_of<DataError>([&] { scan_dataset(dir); }),
      "dataset root " + dir.string() +
          " has no class folders (expected one subfolder per class, e.g. Angry/, Happy/, ...)");
}

TEST(Scan, MissingAndEmptyClassFolders) {
  const fs::path root = make_small_dataset();
  ScanOptions opts;
  opts.classes = {"Happy", "Angry", "Sad", "Fear"};
  EXPECT_EQ(
      error_of<DataError>([&] { scan_dataset(root, opts); }),
      "missing class folders: " + (root / "Angry").string() + ", " + (root / "Fear").string());
  fs::create_directories(root / "Angry");
  write_bytes(root / "Angry" / "notes.txt", "not an image");
  fs::create_directories(root / "Disgust");
  EXPECT_EQ(error_of<DataError>([&] { scan_dataset(root); }),
            "class folders with no images: " + (root / "Angry").string() + ", " +
                (root / "Disgust").string());
  opts.classes = {"Happy", "Happy"};
  EXPECT_EQ(error_of<ConfigError>([&] { scan_dataset(root, opts); }),
            "class 'Happy' is listed twice");
}

TEST(Scan, NonImageFilesAreCountedAndIgnored) {
  const fs::path root = make_small_dataset();
  write_bytes(root / "Happy" / "notes.txt", "hello");
  write_bytes(root / "Happy" / ".DS_Store", "mac");
  write_bytes(root / "Sad" / "Thumbs.db", "win");
  write_bytes(root / "Sad" / "._x.png", "AppleDouble");
  write_bytes(root / "README.md", "root-level files are not part of any class");
  const Manifest m = scan_dataset(root);
  EXPECT_EQ(m.ignored_files, 4u);
  EXPECT_EQ(m.images.size(), 5u);
}

TEST(Scan, CorruptAndTruncatedImagesAreListedTogether) {
  const fs::path root = make_small_dataset();
  std::vector<uchar> jpeg, png;
  cv::imencode(".jpg", test_picture(64, 64, 7), jpeg);
  cv::imencode(".png", test_picture(64, 64, 8), png);
  write_bytes(root / "Happy" / "garbage.jpg", "this is not a JPEG at all");
  write_bytes(root / "Happy" / "half.jpg",
              std::string(jpeg.begin(), jpeg.begin() + jpeg.size() / 2));
  write_bytes(root / "Sad" / "half.png", std::string(png.begin(), png.begin() + png.size() / 2));
  write_bytes(root / "Sad" / "empty.png", "");
  const std::string message = error_of<DataError>([&] { scan_dataset(root); });
  EXPECT_EQ(message, "dataset " + root.string() +
                         ": 4 unreadable images (fix or remove them, or pass --skip-bad-images):\n"
                         "  Happy/garbage.jpg: not a decodable image (corrupt?)\n"
                         "  Happy/half.jpg: truncated JPEG (no end-of-image marker)\n"
                         "  Sad/empty.png: empty file\n"
                         "  Sad/half.png: truncated PNG (no IEND chunk)");

  ScanOptions skip;
  skip.skip_bad_images = true;
  const Manifest m = scan_dataset(root, skip);
  EXPECT_EQ(m.images.size(), 5u);
  EXPECT_EQ(m.class_counts(), (std::vector<std::size_t>{3, 2}));
  ASSERT_EQ(m.bad_images.size(), 4u);
  EXPECT_EQ(m.bad_images[0], "Happy/garbage.jpg: not a decodable image (corrupt?)");
  // Skipping bad files gives the fingerprint of the dataset without them.
  EXPECT_EQ(m.fingerprint, scan_dataset(make_small_dataset()).fingerprint);
}

TEST(Scan, ImagesSmallerThan8x8AreBad) {
  const fs::path root = make_small_dataset();
  write_image(root / "Happy" / "dot.png", test_picture(1, 1));
  write_image(root / "Sad" / "strip.png", test_picture(64, 7));
  write_image(root / "Sad" / "smallest_ok.png", test_picture(8, 8));
  EXPECT_EQ(error_of<DataError>([&] { scan_dataset(root); }),
            "dataset " + root.string() +
                ": 2 unreadable images (fix or remove them, or pass --skip-bad-images):\n"
                "  Happy/dot.png: 1x1 pixels, too small (at least 8x8 needed)\n"
                "  Sad/strip.png: 64x7 pixels, too small (at least 8x8 needed)");
}

TEST(Scan, ClassLeftEmptyBySkippingIsAnError) {
  const fs::path root = scratch_dir() / "ds";
  write_image(root / "Happy" / "a.png", test_picture(10, 10));
  write_bytes(root / "Sad" / "bad.jpg", "junk");
  ScanOptions skip;
  skip.skip_bad_images = true;
  EXPECT_EQ(error_of<DataError>([&] { scan_dataset(root, skip); }),
            "dataset " + root.string() + ": no readable images left in class Sad");
}

TEST(Scan, SpacesAndNonAsciiNames) {
  const fs::path root = scratch_dir() / "my data set ü";
  const cv::Mat pic = test_picture(33, 21, 9);
  write_image(root / fs::u8path("Très Triste") / fs::u8path("émotion 1 ☹.JPG"), pic);
  write_image(root / "Happy face" / "smile (2).Png", test_picture(12, 12));
  const Manifest m = scan_dataset(root);
  ASSERT_EQ(m.images.size(), 2u);
  EXPECT_EQ(m.classes, (std::vector<std::string>{"Happy face", "Très Triste"}));
  EXPECT_EQ(m.images[1].relative_path, "Très Triste/émotion 1 ☹.JPG");
  const cv::Mat rgb = read_rgb(m.path(1));
  ASSERT_EQ(rgb.size(), pic.size());
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", pic, jpeg);
  cv::Mat expected;
  cv::cvtColor(cv::imdecode(jpeg, cv::IMREAD_COLOR), expected, cv::COLOR_BGR2RGB);
  EXPECT_EQ(cv::norm(rgb, expected, cv::NORM_INF), 0);
}

TEST(ReadRgb, GrayscaleAlphaAndChannelOrder) {
  const fs::path dir = scratch_dir();
  cv::Mat bgr(4, 5, CV_8UC3, cv::Scalar(10, 20, 30));  // B=10 G=20 R=30
  write_image(dir / "color.png", bgr);
  cv::Mat rgb = read_rgb(dir / "color.png");
  EXPECT_EQ(rgb.type(), CV_8UC3);
  EXPECT_EQ(rgb.at<cv::Vec3b>(2, 3), cv::Vec3b(30, 20, 10));

  cv::Mat gray(6, 7, CV_8U);
  for (int i = 0; i < gray.rows * gray.cols; ++i) gray.data[i] = static_cast<uchar>(i * 5);
  write_image(dir / "gray.png", gray);
  rgb = read_rgb(dir / "gray.png");
  ASSERT_EQ(rgb.type(), CV_8UC3);
  for (int i = 0; i < gray.rows * gray.cols; ++i)
    EXPECT_EQ(rgb.at<cv::Vec3b>(i / 7, i % 7), cv::Vec3b(gray.data[i], gray.data[i], gray.data[i]));

  cv::Mat bgra(3, 3, CV_8UC4, cv::Scalar(40, 50, 60, 128));  // half-transparent
  write_image(dir / "alpha.png", bgra);
  rgb = read_rgb(dir / "alpha.png");
  ASSERT_EQ(rgb.type(), CV_8UC3);
  EXPECT_EQ(rgb.at<cv::Vec3b>(1, 1), cv::Vec3b(60, 50, 40));  // alpha dropped, RGB order

  EXPECT_EQ(error_of<DataError>([&] { read_rgb(dir / "missing.png"); }),
            "cannot read image " + (dir / "missing.png").string());
  write_bytes(dir / "bad.png", "nope");
  EXPECT_EQ(
      error_of<DataError>([&] { read_rgb(dir / "bad.png"); }),
      "cannot decode image " + (dir / "bad.png").string() + ": corrupt or unsupported format");
}

TEST(Scan, ImageExtensions) {
  for (const char* ok : {"a.jpg", "a.JPEG", "a.Png", "a.bmp", "a.tif", "a.TIFF", "a.webp", "a.ppm"})
    EXPECT_TRUE(is_image_file(ok)) << ok;
  for (const char* no : {"a.txt", "a", ".hidden.jpg", "a.jpg.bak", "Thumbs.db", "a.gif"})
    EXPECT_FALSE(is_image_file(no)) << no;
}

}  // namespace
}  // namespace fersweep::data
