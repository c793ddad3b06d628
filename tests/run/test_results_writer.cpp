// results.h5's sample table and fold records (the journal carries the folds; results.h5 is
// rebuilt from it and from samples.h5).
#include <gtest/gtest.h>

#include <filesystem>

#include "run/results_writer.h"
#include "store/h5.h"

namespace fersweep::run {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("fersweep-results-writer-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

json extract_record(const std::string& id, json folds) {
  return {{"v", 1},
          {"id", id},
          {"kind", "extract"},
          {"status", "done"},
          {"params", json::object()},
          {"result", {{"n", 3}, {"folds", std::move(folds)}}}};
}

TEST(FoldRecord, RoundTripsEveryFoldNumberAndNone) {
  std::vector<std::int16_t> folds;
  for (int i = 0; i < 1000; ++i) folds.push_back(static_cast<std::int16_t>(i % 3 == 0 ? -1 : i));
  const json record = fold_record({{"folds", 1000}, {"cv_seed", 7}}, folds);
  EXPECT_EQ(record["scheme"]["cv_seed"], 7);
  EXPECT_EQ(fold_record_assignment(json::parse(record.dump())), folds);
}

TEST(ResultsH5, HoldsTheSamplesAndEveryJournaledSplit) {
  const fs::path dir = fresh_dir("folds");
  write_samples_h5(
      dir / kSamplesFile,
      {{"a.png", "b.png", "fer2013.csv:3"}, {0, 1, 1}, {"S1", "S2", ""}, {"", "", "PublicTest"}});
  const json cv = {{"split", "official"}, {"test", "PublicTest"}};
  const std::vector<json> records = {
      extract_record("e1", {fold_record({{"folds", 2}, {"cv_seed", 0}}, {0, 1, -1}),
                            fold_record({{"folds", 1}, {"cv_seed", 0}, {"cv", cv}}, {-1, 1, 0})}),
      // Written for another dataset (3 samples expected, 2 journaled): left out, not misread.
      extract_record("e2", {fold_record({{"folds", 2}, {"cv_seed", 0}}, {0, 1})})};
  write_results_h5(dir / "results.h5", json::object(), records);

  store::H5File f(dir / "results.h5", store::H5File::Mode::read);
  EXPECT_EQ(f.read_strings("/samples/id"),
            (std::vector<std::string>{"a.png", "b.png", "fer2013.csv:3"}));
  EXPECT_EQ(f.read_i64("/samples/label").values, (std::vector<std::int64_t>{0, 1, 1}));
  EXPECT_EQ(f.read_strings("/samples/split"), (std::vector<std::string>{"", "", "PublicTest"}));
  EXPECT_EQ(f.int_attribute("/folds", "count"), 2);
  EXPECT_EQ(f.read_strings("/folds/extract"), (std::vector<std::string>{"e1", "e1"}));
  EXPECT_EQ(f.read_i64("/folds/folds").values, (std::vector<std::int64_t>{2, 1}));
  // `cv` is the training tasks' column: JSON text, "" for plain K-fold.
  EXPECT_EQ(f.read_strings("/folds/cv"), (std::vector<std::string>{"", cv.dump()}));
  EXPECT_EQ(f.dims("/folds/assignment"), (std::vector<hsize_t>{2, 3}));
  EXPECT_EQ(f.read_i64("/folds/assignment").values,
            (std::vector<std::int64_t>{0, 1, -1, -1, 1, 0}));
}

TEST(ResultsH5, HasEmptyFoldColumnsBeforeTheFirstFeatureSetAndSkipsDamagedRecords) {
  const fs::path dir = fresh_dir("empty-folds");
  write_samples_h5(dir / kSamplesFile, {{"a.png", "b.png"}, {0, 1}, {"", ""}, {"", ""}});
  const std::vector<json> records = {
      extract_record("e1", {json{{"scheme", {{"folds", 2}}}, {"assignment", "@@not base64"}},
                            json{{"scheme", {{"folds", 2}}}}})};
  write_results_h5(dir / "results.h5", json::object(), records);
  store::H5File f(dir / "results.h5", store::H5File::Mode::read);
  EXPECT_EQ(f.int_attribute("/folds", "count"), 0);
  EXPECT_TRUE(f.read_strings("/folds/extract").empty());
  EXPECT_TRUE(f.read_i64("/folds/folds").values.empty());
  EXPECT_EQ(f.dims("/folds/assignment"), (std::vector<hsize_t>{0, 2}));
}

TEST(ResultsH5, HasNoFoldsWithoutASampleTable) {
  const fs::path dir = fresh_dir("no-samples");
  write_results_h5(dir / "results.h5", json::object(),
                   std::vector<json>{extract_record("e1", json::array())});
  store::H5File f(dir / "results.h5", store::H5File::Mode::read);
  EXPECT_FALSE(f.exists("/folds"));
  EXPECT_FALSE(f.exists("/samples"));
}

}  // namespace
}  // namespace fersweep::run
