// The FER formats: each fixture is written in the dataset's exact layout, and every sample's
// class (through the format's own label numbers), subject, split and identity is checked one by
// one; bad lines name their file and line; row samples decode to their pixels.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "data/dataset.h"
#include "data/folds.h"
#include "test_util.h"

namespace fersweep::data {
namespace {
using namespace testing;

#define EXPECT_HAS(text, part) \
  EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text)

ScanOptions options_for(const std::string& format) {
  ScanOptions o;
  o.layout.format = format;
  o.threads = 2;
  return o;
}

// identity → class name, subject, split
std::map<std::string, std::string> summary(const Manifest& m) {
  std::map<std::string, std::string> out;
  for (const auto& e : m.images)
    out[e.relative_path] =
        fmt::format("{}|{}|{}", m.classes[static_cast<std::size_t>(e.label)], e.subject, e.split);
  return out;
}

// A FER2013 row: `value` fills the 48x48 pixels, except pixel 0, which is `first`.
std::string fer_row(int emotion, int value, const std::string& usage, int first = 0) {
  std::string pixels = std::to_string(first);
  for (int i = 1; i < 48 * 48; ++i) pixels += " " + std::to_string(value);
  return fmt::format("{},{},{}\n", emotion, pixels, usage);
}

fs::path write_fer2013(const std::vector<std::string>& rows, bool crlf = false) {
  const fs::path root = scratch_dir();
  std::string text = "emotion,pixels,Usage\n";
  for (const auto& r : rows) text += r;
  if (crlf) {
    std::string out;
    for (char c : text) out += c == '\n' ? std::string("\r\n") : std::string(1, c);
    text = out;
  }
  write_bytes(root / "fer2013.csv", text);
  return root;
}

TEST(Fer2013, LabelMapSplitsAndPixelsRowByRow) {
  std::vector<std::string> rows;
  for (int e = 0; e < 7; ++e)
    rows.push_back(fer_row(e, 10 * e, e < 5 ? "Training" : "PublicTest", e));
  rows.push_back(fer_row(3, 200, "PrivateTest", 255));
  const fs::path root = write_fer2013(rows, true);
  const Manifest m = scan_dataset(root, options_for("fer2013"));
  // FER2013 numbers its classes 0 Angry .. 6 Neutral; the manifest uses canonical names, sorted.
  EXPECT_EQ(m.classes, (std::vector<std::string>{"Angry", "Disgust", "Fear", "Happy", "Neutral",
                                                 "Sad", "Surprise"}));
  const std::map<std::string, std::string> expected{
      {"fer2013.csv:2", "Angry||Training"},     {"fer2013.csv:3", "Disgust||Training"},
      {"fer2013.csv:4", "Fear||Training"},      {"fer2013.csv:5", "Happy||Training"},
      {"fer2013.csv:6", "Sad||Training"},       {"fer2013.csv:7", "Surprise||PublicTest"},
      {"fer2013.csv:8", "Neutral||PublicTest"}, {"fer2013.csv:9", "Happy||PrivateTest"}};
  EXPECT_EQ(summary(m), expected);
  // Rows stay in file order, and each decodes to its own pixels, replicated to RGB.
  ASSERT_EQ(m.images.size(), 8u);
  EXPECT_EQ(m.images[7].relative_path, "fer2013.csv:9");
  for (std::size_t i = 0; i < m.images.size(); ++i) {
    const cv::Mat rgb = read_sample(m, i);
    ASSERT_EQ(rgb.rows, 48);
    ASSERT_EQ(rgb.cols, 48);
    ASSERT_EQ(rgb.channels(), 3);
    const int value = i == 7 ? 200 : 10 * static_cast<int>(i);
    const int first = i == 7 ? 255 : static_cast<int>(i);
    EXPECT_EQ(rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(first, first, first)) << i;
    EXPECT_EQ(rgb.at<cv::Vec3b>(47, 47), cv::Vec3b(value, value, value)) << i;
  }
  // The fingerprint covers the rows' contents.
  std::vector<std::string> changed = rows;
  changed[2] = fer_row(2, 21, "Training", 2);
  EXPECT_NE(scan_dataset(write_fer2013(changed, true), options_for("fer2013")).fingerprint,
            m.fingerprint);
}

TEST(Fer2013, QuotedFieldsAreReadAsTheScanReadThem) {
  // A file re-saved with every field quoted (Python's csv.QUOTE_ALL) scans and decodes alike.
  std::string row = fer_row(3, 77, "Training", 9);
  row = "\"3\",\"" + row.substr(2, row.rfind(',') - 2) + "\",\"Training\"\n";
  const fs::path root = write_fer2013({row, fer_row(0, 1, "PublicTest")});
  const Manifest m = scan_dataset(root, options_for("fer2013"));
  ASSERT_EQ(m.images.size(), 2u);
  const cv::Mat rgb = read_sample(m, 0);
  EXPECT_EQ(rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(9, 9, 9));
  EXPECT_EQ(rgb.at<cv::Vec3b>(47, 47), cv::Vec3b(77, 77, 77));
}

TEST(Fer2013, ClassesChosenAndLeftOutCounted) {
  const fs::path root = write_fer2013({fer_row(3, 1, "Training"), fer_row(6, 2, "Training"),
                                       fer_row(0, 3, "Training"), fer_row(0, 4, "PublicTest")});
  ScanOptions o = options_for("fer2013");
  o.classes = {"Neutral", "Happy"};
  const Manifest m = scan_dataset(root, o);
  EXPECT_EQ(m.classes, (std::vector<std::string>{"Neutral", "Happy"}));
  EXPECT_EQ(m.labels(), (std::vector<int>{1, 0}));
  EXPECT_EQ(m.left_out, (std::map<std::string, std::size_t>{{"Angry", 2}}));
  o.classes = {"Happy", "Contemptuous"};
  EXPECT_HAS(error_of<ConfigError>([&] { scan_dataset(root, o); }),
             ("class 'Contemptuous' is not one of the class names fer2013 maps into"));
}

TEST(Fer2013, BadRowsNameFileAndLine) {
  std::string short_row = fer_row(1, 5, "Training");
  short_row.erase(short_row.find(" 5,"), 2);  // 2303 pixels
  const fs::path root = write_fer2013({fer_row(0, 1, "Training"), short_row,
                                       fer_row(1, 256, "Training"), fer_row(7, 1, "Training"),
                                       fer_row(2, 1, "Validation"), fer_row(2, 1, "Training")});
  const std::string msg =
      error_of<DataFormatError>([&] { scan_dataset(root, options_for("fer2013")); });
  EXPECT_HAS(msg, ("4 bad lines"));
  EXPECT_HAS(msg, ("fer2013.csv:3: 2303 pixels, 2304 (48x48) expected"));
  EXPECT_HAS(msg, ("fer2013.csv:4: pixel 2 is 256, above 255"));
  EXPECT_HAS(msg, ("fer2013.csv:5: emotion '7' is not a FER2013 class number (0-6)"));
  EXPECT_HAS(msg, ("fer2013.csv:6: Usage 'Validation' is not Training"));
  EXPECT_EQ(DataFormatError("x").exit_code(), ExitCode::usage);
  // --skip-bad-images: listed, the good rows kept.
  ScanOptions o = options_for("fer2013");
  o.skip_bad_images = true;
  const Manifest m = scan_dataset(root, o);
  EXPECT_EQ(m.images.size(), 2u);
  EXPECT_EQ(m.bad_images.size(), 4u);

  const fs::path wrong = scratch_dir("header");
  write_bytes(wrong / "fer2013.csv", "label,pixels,Usage\n");
  EXPECT_HAS(error_of<DataFormatError>([&] { scan_dataset(wrong, options_for("fer2013")); }),
             ("fer2013.csv:1: header is 'label,pixels,Usage', expected "
              "'emotion,pixels,Usage'"));
  EXPECT_HAS(
      error_of<DataFormatError>([&] { scan_dataset(scratch_dir("none"), options_for("fer2013")); }),
      ("has no fer2013.csv (format: fer2013"));
}

TEST(FerPlus, MajorityVotesBlankNamesAndRowCounts) {
  std::vector<std::string> rows;
  for (int i = 0; i < 7; ++i) rows.push_back(fer_row(0, i, i < 6 ? "Training" : "PublicTest"));
  const fs::path root = write_fer2013(rows);
  // neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF
  write_bytes(root / "fer2013new.csv",
              "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,"
              "unknown,NF\n"
              "Training,fer0000000.png,0,9,0,0,0,0,0,1,0,0\n"      // Happy (1 vote dropped)
              "Training,fer0000001.png,0,0,0,0,0,0,0,6,4,0\n"      // Contempt, 6 of 10
              "Training,,10,0,0,0,0,0,0,0,0,0\n"                   // blank name: left out
              "Training,fer0000003.png,4,0,0,4,0,0,0,0,2,0\n"      // no majority
              "Training,fer0000004.png,0,0,0,0,0,0,0,0,8,2\n"      // unknown
              "Training,fer0000005.png,0,0,0,0,0,0,0,0,0,10\n"     // not a face
              "PublicTest,fer0000006.png,1,1,1,1,1,0,0,0,0,0\n");  // only single votes: none
  const Manifest m = scan_dataset(root, options_for("ferplus"));
  EXPECT_EQ(summary(m),
            (std::map<std::string, std::string>{{"fer2013.csv:2", "Happy||Training"},
                                                {"fer2013.csv:3", "Contempt||Training"}}));
  EXPECT_EQ(m.left_out, (std::map<std::string, std::size_t>{{"FER+ blank image name", 1},
                                                            {"FER+ no majority", 2},
                                                            {"FER+ not a face", 1},
                                                            {"FER+ unknown", 1}}));
  // One row fewer in fer2013new.csv: an error naming both files' roles.
  const fs::path short_root = write_fer2013(rows);
  write_bytes(short_root / "fer2013new.csv",
              "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,"
              "unknown,NF\nTraining,a.png,10,0,0,0,0,0,0,0,0,0\n");
  EXPECT_HAS(error_of<DataFormatError>([&] { scan_dataset(short_root, options_for("ferplus")); }),
             ("fer2013new.csv has fewer rows than fer2013.csv"));
}

TEST(RafDb, LabelFileImagesAndSplits) {
  const fs::path root = scratch_dir();
  write_image(root / "Image/aligned/train_00001_aligned.jpg", test_picture(20, 20, 1));
  write_image(root / "Image/aligned/train_00002_aligned.jpg", test_picture(20, 20, 2));
  write_image(root / "Image/aligned/test_0001_aligned.jpg", test_picture(20, 20, 3));
  write_image(root / "Image/original/train_00001.jpg", test_picture(30, 20, 4));
  write_bytes(root / "EmoLabel/list_patition_label.txt",
              "train_00001.jpg 1\ntrain_00002.jpg 7\ntest_0001.jpg 6\n");
  const Manifest m = scan_dataset(root, options_for("rafdb"));
  // RAF-DB: 1 Surprise, 2 Fear, 3 Disgust, 4 Happy, 5 Sad, 6 Angry, 7 Neutral.
  EXPECT_EQ(summary(m), (std::map<std::string, std::string>{
                            {"Image/aligned/test_0001_aligned.jpg", "Angry||test"},
                            {"Image/aligned/train_00001_aligned.jpg", "Surprise||train"},
                            {"Image/aligned/train_00002_aligned.jpg", "Neutral||train"}}));
  ScanOptions original = options_for("rafdb");
  original.layout.images = "original";
  EXPECT_HAS(error_of<DataFormatError>([&] { scan_dataset(root, original); }),
             ("EmoLabel/list_patition_label.txt:2: image Image/original/train_00002.jpg "
              "does not exist"));
  write_bytes(root / "EmoLabel/list_patition_label.txt", "train_00001.jpg 8\n");
  EXPECT_HAS(error_of<DataFormatError>([&] { scan_dataset(root, options_for("rafdb")); }),
             ("list_patition_label.txt:1: label '8' is not a RAF-DB class number (1-7)"));
}

TEST(Jaffe, PosersAreSubjects) {
  const fs::path root = scratch_dir();
  write_image(root / "KA.AN1.39.tiff", test_picture(16, 16, 1));
  write_image(root / "KA.NE2.27.tiff", test_picture(16, 16, 2));
  write_image(root / "YM.SU3.60.tiff", test_picture(16, 16, 3));
  write_image(root / "NA.HA1.202.tiff", test_picture(16, 16, 4));
  write_bytes(root / "README", "not an image");
  const Manifest m = scan_dataset(root, options_for("jaffe"));
  EXPECT_EQ(summary(m), (std::map<std::string, std::string>{{"KA.AN1.39.tiff", "Angry|KA|"},
                                                            {"KA.NE2.27.tiff", "Neutral|KA|"},
                                                            {"NA.HA1.202.tiff", "Happy|NA|"},
                                                            {"YM.SU3.60.tiff", "Surprise|YM|"}}));
  EXPECT_EQ(m.ignored_files, 1u);
  write_image(root / "KA.XX1.40.tiff", test_picture(16, 16, 5));
  EXPECT_HAS(error_of<DataFormatError>([&] { scan_dataset(root, options_for("jaffe")); }),
             ("KA.XX1.40.tiff: not a JAFFE file name"));
}

TEST(CkPlus, LabelledSequencesPeakFramesAndSubjects) {
  const fs::path root = scratch_dir();
  auto frames = [&](const std::string& subject, const std::string& seq, int n) {
    for (int f = 1; f <= n; ++f)
      write_image(root / "cohn-kanade-images" / subject / seq /
                      fmt::format("{}_{}_{:08d}.png", subject, seq, f),
                  test_picture(16, 16, f));
  };
  frames("S005", "001", 5);
  frames("S010", "002", 2);
  frames("S011", "001", 4);  // unlabelled
  write_bytes(root / "Emotion/S005/001/S005_001_00000005_emotion.txt", "   3.0000000e+00\n");
  write_bytes(root / "Emotion/S010/002/S010_002_00000002_emotion.txt", "   7.0000000e+00\n");
  ScanOptions o = options_for("ckplus");
  o.layout.first_frame_neutral = true;
  const Manifest m = scan_dataset(root, o);
  // CK+: 0 Neutral, 1 Angry, 2 Contempt, 3 Disgust, 4 Fear, 5 Happy, 6 Sad, 7 Surprise.
  const std::string a = "cohn-kanade-images/S005/001/S005_001_0000000";
  const std::string b = "cohn-kanade-images/S010/002/S010_002_0000000";
  EXPECT_EQ(summary(m), (std::map<std::string, std::string>{{a + "1.png", "Neutral|S005|"},
                                                            {a + "3.png", "Disgust|S005|"},
                                                            {a + "4.png", "Disgust|S005|"},
                                                            {a + "5.png", "Disgust|S005|"},
                                                            {b + "1.png", "Surprise|S010|"},
                                                            {b + "2.png", "Surprise|S010|"}}));
  EXPECT_EQ(m.left_out, (std::map<std::string, std::size_t>{{"CK+ unlabelled sequence", 1}}));
  write_bytes(root / "Emotion/S011/001/S011_001_00000004_emotion.txt", "3.0 5.0\n");
  EXPECT_HAS(error_of<DataFormatError>([&] { scan_dataset(root, o); }),
             ("Emotion/S011/001/S011_001_00000004_emotion.txt:1: expected one number "
              "(the emotion), found 2"));
}

TEST(AffectNet, ClassesLeftOutAndBoxes) {
  const fs::path root = scratch_dir();
  write_image(root / "Manually_Annotated_Images/1/a.jpg", test_picture(40, 30, 1));
  write_image(root / "Manually_Annotated_Images/1/b.jpg", test_picture(40, 30, 2));
  write_image(root / "Manually_Annotated_Images/2/c.jpg", test_picture(40, 30, 3));
  const std::string header =
      "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,"
      "valence,arousal\n";
  write_bytes(root / "training.csv", header +
                                         "1/a.jpg,2,3,20,20,\"1.0;2.0\",7,0.1,0.2\n"
                                         "1/b.jpg,0,0,10,10,1.0;2.0,9,0.1,0.2\n");
  write_bytes(root / "validation.csv", header + "2/c.jpg,5,5,30,20,,1,0.1,0.2\n");
  const Manifest m = scan_dataset(root, options_for("affectnet"));
  EXPECT_EQ(summary(m), (std::map<std::string, std::string>{
                            {"Manually_Annotated_Images/1/a.jpg", "Contempt||training"},
                            {"Manually_Annotated_Images/2/c.jpg", "Happy||validation"}}));
  EXPECT_EQ(m.left_out, (std::map<std::string, std::size_t>{{"AffectNet Uncertain", 1}}));
  EXPECT_EQ(m.images[0].box, (Box{2, 3, 20, 20}));
  // A box past the image's edge (c.jpg is 40x30: 5+30 > 40) names the line.
  write_bytes(root / "validation.csv", header + "2/c.jpg,15,5,30,20,,1,0.1,0.2\n");
  EXPECT_HAS(error_of<DataFormatError>([&] { scan_dataset(root, options_for("affectnet")); }),
             ("validation.csv:2: face box x=15 y=5 w=30 h=20 lies outside the 40x30 image"));
}

TEST(ExpW, EveryLineIsOneFaceCutFromItsImage) {
  const fs::path root = scratch_dir();
  write_image(root / "image/origin/party_1.png", test_picture(60, 40, 1));
  // image face_id top left right bottom confidence label
  write_bytes(root / "label/label.lst",
              "party_1.png 0 5 10 30 25 0.9 3\nparty_1.png 1 0 40 60 20 0.8 6\n");
  const Manifest m = scan_dataset(root, options_for("expw"));
  EXPECT_EQ(summary(m), (std::map<std::string, std::string>{{"label/label.lst:1#0", "Happy||"},
                                                            {"label/label.lst:2#1", "Neutral||"}}));
  const cv::Mat face = read_sample(m, 0);
  EXPECT_EQ(face.cols, 20);  // right - left
  EXPECT_EQ(face.rows, 20);  // bottom - top
  cv::Mat rgb;
  cv::cvtColor(test_picture(60, 40, 1), rgb, cv::COLOR_BGR2RGB);
  EXPECT_EQ(cv::norm(face, rgb(cv::Rect(10, 5, 20, 20)), cv::NORM_INF), 0.0);
  write_bytes(root / "label/label.lst", "party_1.png 0 5 10 90 25 0.9 3\n");
  EXPECT_HAS(error_of<DataFormatError>([&] { scan_dataset(root, options_for("expw")); }),
             ("label/label.lst:1: face box x=10 y=5 w=80 h=20 lies outside the 60x40 image"));
}

TEST(Folders, OfficialSplitFolders) {
  const fs::path root = scratch_dir();
  write_image(root / "Train/Happy/a.png", test_picture(16, 16, 1));
  write_image(root / "Train/Sad/b.png", test_picture(16, 16, 2));
  write_image(root / "Val/Happy/c.png", test_picture(16, 16, 3));
  write_image(root / "Val/Sad/d.png", test_picture(16, 16, 4));
  ScanOptions o = options_for("folders");
  o.layout.splits = std::map<std::string, std::string>{{"train", "Train"}, {"test", "Val"}};
  const Manifest m = scan_dataset(root, o);
  EXPECT_EQ(summary(m), (std::map<std::string, std::string>{{"Train/Happy/a.png", "Happy||train"},
                                                            {"Train/Sad/b.png", "Sad||train"},
                                                            {"Val/Happy/c.png", "Happy||test"},
                                                            {"Val/Sad/d.png", "Sad||test"}}));
  std::vector<std::string> splits;
  for (const auto& e : m.images) splits.push_back(e.split);
  EXPECT_EQ(official_split_assignment(splits, "train", "test"), (std::vector<int>{1, 1, 0, 0}));
}

TEST(Folders, LeftOutClassesCounted) {
  const fs::path root = scratch_dir();
  write_image(root / "Happy/a.png", test_picture(16, 16, 1));
  write_image(root / "Sad/b.png", test_picture(16, 16, 2));
  write_image(root / "Sad/c.png", test_picture(16, 16, 3));
  write_image(root / "Fear/d.png", test_picture(16, 16, 4));
  ScanOptions o;
  o.classes = {"Happy", "Fear"};
  EXPECT_EQ(scan_dataset(root, o).left_out, (std::map<std::string, std::size_t>{{"Sad", 2}}));
}

TEST(Formats, UnknownFormatIsAConfigError) {
  EXPECT_HAS(error_of<ConfigError>([&] { scan_dataset(scratch_dir(), options_for("fer2014")); }),
             ("unknown dataset format 'fer2014'"));
}

TEST(Formats, ContextJsonRoundTrip) {
  ImageEntry plain{"Happy/a.png", 2, "", "", SampleKind::file, "", 0, std::nullopt};
  ImageEntry row{"fer2013.csv:9", 1,     "S1",           "PublicTest", SampleKind::pixel_row,
                 "fer2013.csv",   12345, Box{1, 2, 3, 4}};
  const nlohmann::json j = std::vector<ImageEntry>{plain, row};
  EXPECT_EQ(j[0].dump(), "[\"Happy/a.png\",2]");
  const auto back = j.get<std::vector<ImageEntry>>();
  EXPECT_EQ(back[1].relative_path, row.relative_path);
  EXPECT_EQ(back[1].subject, "S1");
  EXPECT_EQ(back[1].split, "PublicTest");
  EXPECT_EQ(back[1].kind, SampleKind::pixel_row);
  EXPECT_EQ(back[1].offset, 12345u);
  EXPECT_EQ(back[1].box, row.box);
}

TEST(ScanCache, UnchangedFilesAreNotReadAgainChangedOnesAre) {
  const fs::path root = scratch_dir();
  const fs::path cache = scratch_dir("cache");
  write_image(root / "Happy/a.png", test_picture(20, 20, 1));
  write_image(root / "Happy/b.png", test_picture(20, 20, 2));
  write_image(root / "Sad/c.png", test_picture(20, 20, 3));
  ScanOptions o;
  o.cache_dir = cache;
  const Manifest first = scan_dataset(root, o);
  EXPECT_EQ(first.fingerprint, scan_dataset(root).fingerprint);  // the cache changes nothing
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(cache)) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(scan_dataset(root, o).fingerprint, first.fingerprint);
  // The cache is trusted only for files whose size and modification time it recorded: its hash
  // for b.png is replaced by a wrong one, which an unchanged b.png makes the scan use...
  std::string text = read_bytes(files[0]);
  const std::size_t at = text.find("Happy/b.png\t");
  ASSERT_NE(at, std::string::npos);
  const std::size_t hash = text.find('\t', text.find('\t', text.find('\t', at) + 1) + 1) + 1;
  text.replace(hash, 64, std::string(64, '0'));
  write_bytes(files[0], text);
  EXPECT_NE(scan_dataset(root, o).fingerprint, first.fingerprint);
  // ...while a rewritten b.png (new modification time) is read, hashed and decoded again.
  write_bytes(root / "Happy/b.png", "not an image any more");
  EXPECT_HAS(error_of<DataError>([&] { scan_dataset(root, o); }),
             "Happy/b.png: not a decodable image");
  write_image(root / "Happy/b.png", test_picture(20, 20, 2));
  EXPECT_EQ(scan_dataset(root, o).fingerprint, first.fingerprint);
  // A damaged cache file is an empty cache.
  write_bytes(files[0], "fersweep-scan-cache-v1\nHappy/a.png\tx\n");
  EXPECT_EQ(scan_dataset(root, o).fingerprint, first.fingerprint);
}

}  // namespace
}  // namespace fersweep::data
