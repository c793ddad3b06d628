// Reports from results.h5 fixtures with known numbers: tables against the stored fold values,
// confusion totals against fold sizes, PNG sizes, self-contained HTML, empty and failed-only files.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <tuple>

#include "core/base64.h"
#include "core/error.h"
#include "report/figures.h"
#include "report/report.h"
#include "report_test_util.h"

namespace fersweep::report {
namespace {
using namespace testing;

constexpr double kT975_4 = 2.7764451051977987;  // t table, 4 degrees of freedom
constexpr double kT975_3 = 3.182446305284263;   // 3 degrees of freedom

ReportOptions options_for(const std::filesystem::path& input, const std::string& out) {
  ReportOptions o;
  o.input = input;
  o.out = tmp_dir() / out;
  std::filesystem::remove_all(o.out);
  o.references = default_references();
  return o;
}

// The stored fold accuracies of a configuration, from the fixture's own record.
std::vector<double> stored(const nlohmann::json& expected, const std::string& key,
                           const char* metric = "accuracy") {
  std::vector<double> v;
  for (const auto& [fold, value] : expected["configs"][key][metric].items()) v.push_back(value);
  return v;
}

TEST(ReportLoad, ReadsEveryRowParameterAndProvenance) {
  const ResultsTable t = load_results(fixture("full", "full"));
  EXPECT_EQ(t.rows.size(), 87u);  // 29 tasks × 3 epochs
  EXPECT_EQ(t.classes, (std::vector<std::string>{"Angry", "Disgust", "Fear", "Happy", "Neutral",
                                                 "Sad", "Surprise"}));
  EXPECT_EQ(t.curves.size(), 29u);
  EXPECT_EQ(t.failures.size(), 3u);
  EXPECT_EQ(t.unrecovered_failures(), 2u);
  EXPECT_EQ(t.provenance.at("sweep_name"), "fixture");
  EXPECT_EQ(t.provenance.at("dataset_images"), "675");
  EXPECT_TRUE(t.random_weight_backbones.empty());
  const auto& r = t.rows.front();
  EXPECT_EQ(r.param("lr").text, "0.01");
  EXPECT_EQ(r.param("momentum").text, "");  // not a parameter of adam tasks: no value
  EXPECT_EQ(r.param("standardize").text, "1");
  EXPECT_EQ(r.params.count("epochs"), 0u);  // not a parameter: the evaluations are rows
  EXPECT_EQ(r.confusion.size(), 49u);
  EXPECT_EQ(t.varying_parameters(),
            (std::vector<std::string>{"backbone", "epoch", "extract", "fold", "variant"}));
}

TEST(ReportLoad, DirectoryMissingFileAndForeignFilesAreClearErrors) {
  const auto dir = tmp_dir() / "rundir";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(fixture("full", "full"), dir / "results.h5",
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(load_results(dir).rows.size(), 87u);
  const auto empty_dir = tmp_dir() / "no_results";
  std::filesystem::create_directories(empty_dir);
  try {
    load_results(empty_dir);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("has no results.h5"), std::string::npos) << e.what();
  }
  const auto foreign = tmp_dir() / "foreign.h5";
  run_command(std::string(FERSWEEP_PYTHON) + " -c \"import h5py; h5py.File('" + foreign.string() +
              "', 'w').attrs['format'] = 'other-1'\"");
  try {
    load_results(foreign);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("has format 'other-1'"), std::string::npos) << e.what();
  }
}

TEST(ReportTables, MainTableMeansStdAndIntervalMatchStoredFoldValues) {
  const auto h5 = fixture("full", "full");
  const auto expected = expected_of(h5);
  ReportOptions o = options_for(h5, "main_csv");
  o.formats = {"csv"};
  write_report(o);
  const Csv csv = read_csv(o.out / "csv" / "main.csv");
  ASSERT_EQ(csv.rows.size(), 18u);
  EXPECT_EQ(csv.header,
            (std::vector<std::string>{"backbone", "variant", "epoch", "fold 1", "fold 2", "fold 3",
                                      "fold 4", "fold 5", "n", "mean", "std", "95% CI"}));
  for (const auto& row : csv.rows) {
    const std::string key = row[0] + "|" + row[1] + "|" + row[2];
    const auto folds = stored(expected, key);
    double mean = 0, ss = 0;
    for (double v : folds) mean += v / folds.size();
    for (double v : folds) ss += (v - mean) * (v - mean);
    const double sd = std::sqrt(ss / (folds.size() - 1));
    EXPECT_EQ(std::stoul(row[csv.col("n")]), folds.size()) << key;
    EXPECT_NEAR(std::stod(row[csv.col("mean")]), 100 * mean, 1e-9) << key;
    EXPECT_NEAR(std::stod(row[csv.col("std")]), 100 * sd, 1e-9) << key;
    for (std::size_t f = 0; f < folds.size(); ++f)
      EXPECT_NEAR(std::stod(row[3 + f]), 100 * folds[f], 1e-9) << key;
    // The interval is shown with one decimal: [lo, hi] in percent.
    const double half =
        (folds.size() == 5 ? kT975_4 : kT975_3) * sd / std::sqrt(double(folds.size()));
    std::smatch m;
    const std::string ci = row[csv.col("95% CI")];
    ASSERT_TRUE(std::regex_match(ci, m, std::regex(R"(\[([0-9.]+), ([0-9.]+)\])"))) << ci;
    EXPECT_NEAR(std::stod(m[1]), 100 * (mean - half), 0.051) << key;
    EXPECT_NEAR(std::stod(m[2]), 100 * (mean + half), 0.051) << key;
  }
  // resnet50/faces lost fold 5 for good: a dash there, n = 4.
  const auto& r50 = csv.rows[12];
  EXPECT_EQ(r50[0] + r50[1], "resnet50faces");
  EXPECT_EQ(r50[7], "-");
}

TEST(ReportTables, PivotFilterAndMetricChoice) {
  const auto h5 = fixture("full", "full");
  const auto expected = expected_of(h5);
  ResultsTable t = load_results(h5);
  ReportOptions o;
  o.filters = {{"epoch", "200"}, {"lr", "1e-2"}};  // numeric match: 1e-2 == 0.01
  select_rows(t, o);
  EXPECT_EQ(t.rows.size(), 29u);
  PivotOptions p;
  p.rows = {"backbone"};
  p.cols = {"variant"};
  p.metric = Metric::macro_f1;
  const Table table = main_table(t, p);
  EXPECT_EQ(table.header, (std::vector<std::string>{"backbone", "variant=faces", "variant=original",
                                                    "n", "mean", "std", "95% CI"}));
  ASSERT_EQ(table.rows.size(), 3u);
  // Cell = mean over all rows of that backbone and variant (its folds).
  const auto f1 = stored(expected, "resnet34|faces|200", "macro_f1");
  double mean = 0;
  for (double v : f1) mean += v / f1.size();
  EXPECT_NEAR(*table.rows[1][1].value, 100 * mean, 1e-9);
  // Summary over folds: each fold averages both variants first.
  const auto a = stored(expected, "resnet34|faces|200", "macro_f1");
  const auto b = stored(expected, "resnet34|original|200", "macro_f1");
  double both = 0;
  for (std::size_t i = 0; i < 5; ++i) both += (a[i] + b[i]) / 2 / 5;
  EXPECT_NEAR(*table.rows[1][4].value, 100 * both, 1e-9);

  ResultsTable u = load_results(h5);
  o.filters = {{"bogus", "1"}};
  try {
    select_rows(u, o);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no parameter 'bogus'"), std::string::npos) << e.what();
  }
  o.filters.clear();
  o.epoch = "75";
  EXPECT_THROW(select_rows(u, o), ConfigError);
  o.epoch = "last";
  select_rows(u, o);
  EXPECT_EQ(u.rows.size(), 29u);
  PivotOptions bad;
  bad.rows = {"nope"};
  EXPECT_THROW(main_table(u, bad), ConfigError);
}

TEST(ReportTables, BestPairedAndReferences) {
  const auto h5 = fixture("full", "full");
  const auto expected = expected_of(h5);
  ResultsTable t = load_results(h5);
  const Table best = best_table(t, {});
  ASSERT_EQ(best.rows.size(), 2u);
  // The best per variant, found independently from the stored values.
  for (const auto& row : best.rows) {
    double top = -1;
    for (const auto& [key, cfg] : expected["configs"].items()) {
      if (key.find("|" + row[0].text + "|") == std::string::npos) continue;
      double m = 0;
      const auto v = stored(expected, key);
      for (double x : v) m += x / v.size();
      top = std::max(top, m);
    }
    EXPECT_NEAR(*row[3].value, 100 * top, 1e-9) << row[0].text;
  }
  const Table paired = paired_table(t, {}, "variant", "original", "faces");
  ASSERT_EQ(paired.rows.size(), 9u);  // backbone × epoch
  // resnet18, epoch 50: five folds.
  const auto a = stored(expected, "resnet18|original|50");
  const auto b = stored(expected, "resnet18|faces|50");
  const PairedTest ref = paired_t_test(a, b);
  EXPECT_EQ(paired.rows[0][0].text, "resnet18");
  EXPECT_EQ(paired.rows[0][2].text, "5");
  EXPECT_NEAR(*paired.rows[0][5].value, 100 * ref.mean_diff, 1e-9);
  EXPECT_NEAR(*paired.rows[0][7].value, ref.p, 1e-12);
  // resnet50 pairs only the 4 folds both variants have.
  EXPECT_EQ(paired.rows[6][2].text, "4");

  const Table refs = reference_table(t, {}, default_references());
  const std::string md = render_markdown(refs);
  for (const char* s : {"40.90", "38.80", "46.30", "43.70", "19.00", "35.96", "39.13",
                        "reported elsewhere", "this run: faces"})
    EXPECT_NE(md.find(s), std::string::npos) << s << "\n" << md;
  const auto bad = tmp_dir() / "bad_refs.yaml";
  std::ofstream(bad) << "dataset: SFEW\nresults:\n  - method: x\n    value: high\n    source: y\n";
  try {
    reference_table(t, {}, bad);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("bad_refs.yaml:3: 'value' must be a number"),
              std::string::npos)
        << e.what();
  }
}

TEST(ReportFigures, ConfusionTotalsEqualTestFoldSizes) {
  const auto h5 = fixture("full", "full");
  const auto expected = expected_of(h5);
  for (const std::string mode : {"sum", "closest"}) {
    ReportOptions o = options_for(h5, "confusion_" + mode);
    o.formats = {"csv"};
    o.confusion = mode;
    write_report(o);
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(o.out / "csv" / "confusion")) {
      ++files;
      const Csv csv = read_csv(entry.path());
      ASSERT_EQ(csv.rows.size(), 7u);
      long long total = 0, trace = 0;
      for (std::size_t i = 0; i < 7; ++i) {
        EXPECT_EQ(csv.rows[i][0], csv.header[i + 1]);
        for (std::size_t j = 1; j <= 7; ++j) total += std::stoll(csv.rows[i][j]);
        trace += std::stoll(csv.rows[i][i + 1]);
      }
      // backbone-resnet18_variant-faces_epoch-50.csv → resnet18|faces|50
      std::smatch m;
      const std::string name = entry.path().filename().string();
      ASSERT_TRUE(std::regex_match(
          name, m, std::regex("backbone-(\\w+)_variant-(\\w+)_epoch-(\\d+)\\.csv")));
      const auto& cfg = expected["configs"][std::string(m[1]) + "|" + std::string(m[2]) + "|" +
                                            std::string(m[3])];
      if (mode == "sum") {
        long long sizes = 0;
        for (const auto& [fold, n] : cfg["n_test"].items()) sizes += n.get<long long>();
        EXPECT_EQ(total, sizes) << name;
      } else {
        // The fold whose accuracy is closest to the configuration's mean.
        double mean = 0;
        for (const auto& [fold, a] : cfg["accuracy"].items())
          mean += a.get<double>() / cfg["accuracy"].size();
        std::string best;
        double gap = 1e9;
        for (const auto& [fold, a] : cfg["accuracy"].items()) {
          if (std::abs(a.get<double>() - mean) < gap) {
            gap = std::abs(a.get<double>() - mean);
            best = fold;
          }
        }
        EXPECT_EQ(total, cfg["n_test"][best].get<long long>()) << name;
        EXPECT_NEAR(double(trace) / double(total), cfg["accuracy"][best].get<double>(), 1e-12)
            << name;
      }
    }
    EXPECT_EQ(files, 18);
  }
}

TEST(ReportFigures, PngsDecodeWithTheExpectedSize) {
  ReportOptions o = options_for(fixture("full", "full"), "figures");
  o.formats = {"md"};
  write_report(o);
  int confusions = 0;
  for (const auto& entry : std::filesystem::directory_iterator(o.out / "figures")) {
    const cv::Mat img = cv::imread(entry.path().string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(img.empty()) << entry.path();
    const std::string name = entry.path().filename().string();
    if (name.rfind("confusion_", 0) == 0) {
      ++confusions;
      EXPECT_EQ(img.cols, confusion_figure_width(7)) << name;
      EXPECT_EQ(img.rows, confusion_figure_height(7)) << name;
    } else if (name == "learning_curves.png") {
      EXPECT_EQ(img.cols, 2 * kPanelWidth);
      EXPECT_EQ(img.rows, panels_figure_height(6));  // 3 backbones × 2 variants
    } else {
      EXPECT_EQ(name, "by_backbone.png");
      EXPECT_EQ(img.cols, kPanelWidth);
      EXPECT_EQ(img.rows, panels_figure_height(2));  // one series per variant
    }
    // Not blank: a drawn figure has many distinct colours.
    cv::Mat grey;
    cv::Scalar mean, sd;
    cv::meanStdDev(img, mean, sd);
    EXPECT_GT(sd[0], 10.0) << name;
  }
  EXPECT_EQ(confusions, 18);
  const std::string md = read_file(o.out / "report.md");
  EXPECT_NE(
      md.find("![Confusion matrix, backbone=resnet18, variant=faces, epoch=50 (summed over folds)]"
              "(figures/confusion_backbone-resnet18_variant-faces_epoch-50.png)"),
      std::string::npos);
}

TEST(ReportFormats, HtmlIsSelfContainedAndShowsRandomWeights) {
  ReportOptions o = options_for(fixture("random", "full", "--random-weights"), "random");
  write_report(o);
  const std::string html = read_file(o.out / "report.html");
  EXPECT_EQ(html.find("src=\"figures/"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_NE(html.find("id=\"random-weights\""), std::string::npos);
  EXPECT_NE(html.find("RANDOM WEIGHTS"), std::string::npos);
  // Each embedded image decodes.
  // (std::regex recurses per character: far too deep for megabytes of base64; plain find instead.)
  const std::string marker = "src=\"data:image/png;base64,";
  int images = 0;
  for (auto at = html.find(marker); at != std::string::npos; at = html.find(marker, at + 1)) {
    ++images;
    if (images > 2) continue;  // decoding two is enough
    const auto start = at + marker.size();
    const std::string b64 = html.substr(start, html.find('"', start) - start);
    const std::string decoded = base64_decode(b64);
    const std::vector<unsigned char> bytes(decoded.begin(), decoded.end());
    const cv::Mat m = cv::imdecode(bytes, cv::IMREAD_COLOR);
    EXPECT_EQ(m.cols, confusion_figure_width(7));
  }
  EXPECT_EQ(images, 18 + 1 + 1);
  for (const char* f : {"report.md", "report.tex"})
    EXPECT_NE(read_file(o.out / f).find("RANDOM WEIGHTS"), std::string::npos) << f;
  const std::string md = read_file(o.out / "report.md");
  EXPECT_NE(md.find("RANDOM WEIGHTS: features of resnet18, resnet34, resnet50"), std::string::npos);
}

TEST(ReportFormats, EmptyAndFailedOnlyFilesGiveAClearMessageInEveryFormat) {
  for (const std::string mode : {"empty", "failed"}) {
    ReportOptions o = options_for(fixture(mode, mode), "only_" + mode);
    const ReportSummary s = write_report(o);
    const std::string expect =
        mode == "empty"
            ? "No finished training results yet."
            : "No finished training results: all 4 recorded attempts failed (4 not recovered).";
    EXPECT_EQ(s.message, expect);
    EXPECT_EQ(s.main_text, expect + "\n");
    EXPECT_NE(read_file(o.out / "report.md").find(expect), std::string::npos);
    EXPECT_NE(read_file(o.out / "report.html").find(expect), std::string::npos);
    EXPECT_NE(read_file(o.out / "report.tex").find(expect), std::string::npos);
    EXPECT_EQ(read_file(o.out / "csv" / "README.txt"), expect + "\n");
    EXPECT_FALSE(std::filesystem::exists(o.out / "csv" / "main.csv"));
    if (mode == "failed") {
      const Csv f = read_csv(o.out / "csv" / "failures.csv");
      ASSERT_EQ(f.rows.size(), 4u);
      EXPECT_EQ(f.rows[3][f.col("message")], "weights file 'resnet18-f37072fd.pth' not found");
      EXPECT_NE(
          read_file(o.out / "report.html").find("weights file 'resnet18-f37072fd.pth' not found"),
          std::string::npos);
    }
    EXPECT_EQ(main_table_text(load_results(fixture(mode, mode))), expect + "\n");
  }
  // A selection that matches nothing says so too.
  ReportOptions o = options_for(fixture("full", "full"), "none_selected");
  o.filters = {{"backbone", "vgg16"}};
  const ReportSummary s = write_report(o);
  EXPECT_EQ(s.message, "No result rows match the selection (backbone=vgg16); 87 rows in the file.");
}

TEST(ReportFormats, LatexCompilesWherePdflatexExists) {
  const auto [rc, where] = run_command("command -v pdflatex");
  if (rc != 0) GTEST_SKIP() << "pdflatex not installed: LaTeX compile check skipped";
  for (const std::string mode : {"full", "failed"}) {
    ReportOptions o = options_for(fixture(mode, mode), "latex_" + mode);
    o.formats = {"tex"};
    write_report(o);
    const auto [code, out] = run_command(
        "cd " + o.out.string() + " && pdflatex -interaction=nonstopmode -halt-on-error report.tex");
    EXPECT_EQ(code, 0) << out.substr(out.size() > 3000 ? out.size() - 3000 : 0);
    EXPECT_TRUE(std::filesystem::exists(o.out / "report.pdf"));
  }
}

TEST(ReportAnalysis, PandasExampleRecomputesTheMainTable) {
  const auto h5 = fixture("full", "full");
  ReportOptions o = options_for(h5, "pandas");
  o.formats = {"csv"};
  write_report(o);
  const auto pandas_csv = o.out / "pandas.csv";
  const auto [rc, out] =
      run_command(std::string(FERSWEEP_PYTHON) + " " + FERSWEEP_SOURCE_DIR +
                  "/analysis/load_results.py " + h5.string() + " --csv " + pandas_csv.string());
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("resnet50    faces    200"), std::string::npos) << out;
  const Csv ours = read_csv(o.out / "csv" / "main.csv");
  const Csv theirs = read_csv(pandas_csv);
  ASSERT_EQ(ours.rows.size(), theirs.rows.size());
  for (std::size_t i = 0; i < ours.rows.size(); ++i) {
    for (const char* k : {"backbone", "variant", "epoch"})
      EXPECT_EQ(ours.rows[i][ours.col(k)], theirs.rows[i][theirs.col(k)]);
    for (const char* k : {"mean", "std", "fold 1", "fold 4"}) {
      EXPECT_NEAR(std::stod(ours.rows[i][ours.col(k)]), std::stod(theirs.rows[i][theirs.col(k)]),
                  1e-9)
          << k << " row " << i;
    }
    EXPECT_EQ(std::stod(ours.rows[i][ours.col("n")]), std::stod(theirs.rows[i][theirs.col("n")]));
  }
}

// run.keep_models: best compares each task at its last epoch (the network a kept model holds),
// one configuration per variant, every fold of it.
TEST(ReportAnalysis, BestModelsAreChosenAtEachTasksLastEpoch) {
  ResultsTable t;
  auto add = [&t](const std::string& id, const std::string& variant, const std::string& lr,
                  int fold, int epoch, double accuracy) {
    ResultRow r;
    r.task_id = id;
    r.epoch = epoch;
    r.accuracy = accuracy;
    r.params = {{"variant", {variant, {}}},
                {"lr", {lr, std::stod(lr)}},
                {"fold", {std::to_string(fold), double(fold)}},
                {"epoch", {std::to_string(epoch), double(epoch)}}};
    t.rows.push_back(r);
  };
  // original: lr 0.1 leads at epoch 2, lr 0.01 at the last epoch 4.
  for (int fold : {0, 1}) {
    const std::string f = std::to_string(fold);
    add("a" + f, "original", "0.1", fold, 2, 0.9);
    add("a" + f, "original", "0.1", fold, 4, 0.5);
    add("b" + f, "original", "0.01", fold, 2, 0.4);
    add("b" + f, "original", "0.01", fold, 4, 0.6);
    add("c" + f, "faces", "0.1", fold, 4, 0.7);
    add("d" + f, "faces", "0.01", fold, 4, 0.3);
  }
  EXPECT_EQ(best_model_tasks(t), (std::vector<std::string>{"b0", "b1", "c0", "c1"}));
}

// Nested cross-validation: each outer fold's configuration is the one with the highest validation
// score in that fold (hand-computed below), whatever the test scores say; its test score is the
// estimate. Permuting every test score changes the test column, never the choice.
TEST(ReportAnalysis, SelectionByValidationNeverReadsATestScore) {
  ResultsTable t;
  auto add = [&t](const std::string& lr, int fold, int epoch, double val, double test) {
    ResultRow r;
    r.task_id = lr + "/" + std::to_string(fold);
    r.epoch = epoch;
    r.accuracy = test;
    r.val_accuracy = val;
    r.n_val = 20;
    r.params = {{"variant", {"original", {}}},
                {"lr", {lr, std::stod(lr)}},
                {"fold", {std::to_string(fold), double(fold)}},
                {"repeat", {"0", 0.0}},
                {"epoch", {std::to_string(epoch), double(epoch)}}};
    t.rows.push_back(r);
  };
  // Fold 0: lr 0.1 at epoch 5 validates best (0.7); fold 1: lr 0.01 at epoch 10 (0.8); fold 2:
  // a tie at 0.6 between lr 0.01 and lr 0.1 at epoch 5 goes to the first key (lr 0.01). The test
  // scores favour other configurations everywhere.
  const std::vector<std::tuple<std::string, int, int, double, double>> rows = {
      {"0.1", 0, 5, 0.70, 0.40},   {"0.1", 0, 10, 0.50, 0.90},  {"0.01", 0, 5, 0.60, 0.95},
      {"0.01", 0, 10, 0.65, 0.99}, {"0.1", 1, 5, 0.55, 0.97},   {"0.1", 1, 10, 0.75, 0.96},
      {"0.01", 1, 5, 0.30, 0.98},  {"0.01", 1, 10, 0.80, 0.30}, {"0.1", 2, 5, 0.60, 0.91},
      {"0.1", 2, 10, 0.10, 0.92},  {"0.01", 2, 5, 0.60, 0.50},  {"0.01", 2, 10, 0.20, 0.93}};
  for (const auto& [lr, fold, epoch, val, test] : rows) add(lr, fold, epoch, val, test);
  const std::vector<std::string> keys = {"lr", "epoch"};
  auto chosen = [&](const ResultsTable& table) {
    std::vector<std::string> out;
    for (const auto& c : choose_by_validation(table, keys, Metric::accuracy))
      out.push_back(fmt::format("{} {} {} {}", c.fold, c.config[0].text, c.config[1].text, c.val));
    return out;
  };
  const std::vector<std::string> expected = {"0 0.1 5 0.7", "1 0.01 10 0.8", "2 0.01 5 0.6"};
  EXPECT_EQ(chosen(t), expected);
  const Table table = selected_table(t, {}, Metric::accuracy);
  ASSERT_EQ(table.rows.size(), 4u);  // three outer folds and the estimate
  EXPECT_EQ(table.rows[0][2].text, "lr=0.1, epoch=5");
  EXPECT_EQ(table.rows[0][4].text, "40.0");
  EXPECT_EQ(table.rows[1][4].text, "30.0");
  EXPECT_EQ(table.rows[2][4].text, "50.0");
  EXPECT_EQ(table.rows[3][1].text, "nested CV estimate (3 folds)");
  EXPECT_EQ(table.rows[3][4].text, "40.0");  // mean of 40, 30 and 50
  EXPECT_NE(best_table(t, {}).title.find("optimistic"), std::string::npos);

  ResultsTable shuffled = t;
  for (std::size_t i = 0; i < shuffled.rows.size(); ++i)
    shuffled.rows[i].accuracy = t.rows[(i * 5 + 3) % t.rows.size()].accuracy;
  shuffled.rows[0].accuracy = std::nan("");
  EXPECT_EQ(chosen(shuffled), expected);
  // Rows without a validation score take no part; none at all: no table rows.
  for (auto& r : shuffled.rows) r.val_accuracy = std::nan("");
  EXPECT_TRUE(choose_by_validation(shuffled, keys, Metric::accuracy).empty());
  EXPECT_TRUE(selected_table(shuffled, {}, Metric::accuracy).rows.empty());
  // keep_models: best follows the validation choice at each task's last epoch when select: ran.
  ResultsTable selected = t;
  selected.provenance["select_metric"] = "val_accuracy";
  // At epoch 10, lr 0.01 validates best in every fold; lr 0.1 has the best mean test score.
  EXPECT_EQ(best_model_tasks(selected), (std::vector<std::string>{"0.01/0", "0.01/1", "0.01/2"}));
  EXPECT_EQ(best_model_tasks(t), (std::vector<std::string>{"0.1/0", "0.1/1", "0.1/2"}));
  EXPECT_THROW(parse_select_metric("accuracy"), ConfigError);
  EXPECT_EQ(parse_select_metric("val_macro_f1"), Metric::macro_f1);
}

}  // namespace
}  // namespace fersweep::report
