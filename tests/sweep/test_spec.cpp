// Sweep-file validation: every error with its exact message and position, defaults, overrides,
// duplicate keys, tabs, and canonical stability under reformatting.
#include <gtest/gtest.h>

#include <set>

#include "core/hash.h"
#include "sweep/plan.h"
#include "sweep/spec.h"
#include "sweep_test_util.h"

namespace fersweep::sweep {
namespace {

using nlohmann::json;
using testing::config_error;
using testing::kMinimal;

// One-error messages have this shape; the header counts the errors.
std::string one(const std::string& line) {
  return "invalid sweep file t.yaml (1 error):\n  " + line;
}

TEST(SweepSpec, MinimalFileIsFullyDefaulted) {
  const SweepSpec s = parse_sweep(kMinimal, "dir/t.yaml");
  const auto& c = s.canonical;
  EXPECT_EQ(s.name, "t");
  EXPECT_EQ(c["dataset"]["root"], "data");
  EXPECT_EQ(c["dataset"]["image_size"], 224);
  EXPECT_EQ(c["dataset"]["normalize"], "imagenet");
  EXPECT_EQ(c["dataset"]["skip_bad_images"], false);
  EXPECT_TRUE(c["dataset"]["classes"].is_null());
  EXPECT_EQ(c["variants"], nlohmann::json::parse(R"({"original": {}})"));
  EXPECT_EQ(c["weights"]["resnet50"], "auto");
  EXPECT_EQ(c["cv"],
            nlohmann::json::parse(
                R"({"folds": 5, "seed": 0, "repeats": 1, "group": "", "split": "", "test": ""})"));
  EXPECT_EQ(c["dataset"]["format"], "folders");
  EXPECT_TRUE(c["dataset"]["splits"].is_null());
  EXPECT_EQ(c["train"]["optimizer"], "adam");
  EXPECT_DOUBLE_EQ(c["train"]["lr"].get<double>(), 0.01);
  EXPECT_DOUBLE_EQ(c["train"]["weight_decay"].get<double>(), 0.001);
  EXPECT_EQ(c["train"]["batch_size"], 256);
  EXPECT_EQ(c["train"]["epochs"], nlohmann::json::parse("[50, 100, 200]"));
  EXPECT_EQ(c["grid"]["backbone"], nlohmann::json::parse(R"(["resnet18"])"));
  EXPECT_EQ(c["run"]["retries"], 2);
  EXPECT_EQ(s.dataset_root, std::filesystem::absolute("dir/data").lexically_normal());
  EXPECT_EQ(s.source_text, kMinimal);
  EXPECT_EQ(s.source_hash, sha256_hex(kMinimal));
}

TEST(SweepSpec, VariantSettingsAreDefaulted) {
  const SweepSpec s =
      parse_sweep(std::string(kMinimal) + "variants:\n  faces: {detector: haar}\n", "t.yaml");
  const auto& f = s.canonical["variants"]["faces"];
  EXPECT_EQ(f["detector"], "haar");
  EXPECT_DOUBLE_EQ(f["margin"].get<double>(), 0.2);
  EXPECT_EQ(f["square"], true);
  EXPECT_EQ(f["select"], "largest");
  EXPECT_EQ(f["align"], false);
  EXPECT_EQ(f["fallback"], "keep");
  EXPECT_TRUE(f["model"].is_null());
  EXPECT_EQ(f["qc"]["min_face_px"], 48);
}

TEST(SweepSpec, UnknownKeysGetADidYouMean) {
  EXPECT_EQ(config_error(std::string(kMinimal) + "train:\n  lrr: 0.1\n"),
            one("t.yaml:4:3: train.lrr: unknown key 'lrr'; did you mean 'lr'?"));
  EXPECT_EQ(config_error(std::string(kMinimal) + "gird: {}\n"),
            one("t.yaml:3:1: gird: unknown key 'gird'; did you mean 'grid'?"));
  EXPECT_EQ(config_error(std::string(kMinimal) + "cv: {zzzzzz: 1}\n"),
            one("t.yaml:3:6: cv.zzzzzz: unknown key 'zzzzzz' (known keys: folds, seed, repeats, "
                "group, split, test)"));
}

TEST(SweepSpec, TypesAndRangesAreChecked) {
  const std::string base = kMinimal;
  EXPECT_EQ(config_error(base + "train: {lr: abc}\n"),
            one("t.yaml:3:13: train.lr: expected a number, got 'abc'"));
  EXPECT_EQ(config_error(base + "train: {lr: -1}\n"),
            one("t.yaml:3:13: train.lr: must be > 0, got -1"));
  EXPECT_EQ(config_error(base + "train: {lr: 0}\n"),
            one("t.yaml:3:13: train.lr: must be > 0, got 0"));
  EXPECT_EQ(config_error(base + "train: {lr: \"0.1\"}\n"),
            one("t.yaml:3:13: train.lr: expected a number, got the string \"0.1\""));
  EXPECT_EQ(config_error(base + "train: {batch_size: 0}\n"),
            one("t.yaml:3:21: train.batch_size: must be >= 1, got 0"));
  EXPECT_EQ(config_error(base + "train: {batch_size: 2.5}\n"),
            one("t.yaml:3:21: train.batch_size: expected an integer, got '2.5'"));
  EXPECT_EQ(config_error(base + "train: {epochs: [100, 0]}\n"),
            one("t.yaml:3:23: train.epochs[1]: must be between 1 and 1000000, got 0"));
  EXPECT_EQ(config_error(base + "train: {momentum: 1}\n"),
            one("t.yaml:3:19: train.momentum: must be in [0, 1), got 1"));
  EXPECT_EQ(config_error(base + "train: {standardize: maybe}\n"),
            one("t.yaml:3:22: train.standardize: expected true or false, got 'maybe'"));
  EXPECT_EQ(config_error(base + "train: {head: transformer}\n"),
            one("t.yaml:3:15: train.head: unknown head 'transformer' (choices: linear, mlp)"));
  EXPECT_EQ(config_error(base + "cv: {folds: 1}\n"),
            one("t.yaml:3:13: cv.folds: must be between 2 and 1000, got 1"));
  EXPECT_EQ(config_error(base + "train: {lr: .nan}\n"),
            one("t.yaml:3:13: train.lr: expected a finite number, got '.nan'"));
  EXPECT_EQ(config_error("dataset: {root: data, image_size: 16}\ngrid: {backbone: resnet18}\n"),
            one("t.yaml:1:35: dataset.image_size: must be between 32 and 2048, got 16"));
}

TEST(SweepSpec, GridValuesAreChecked) {
  EXPECT_EQ(config_error("dataset: {root: d}\ngrid:\n  backbone: [resnet18, resnet51]\n"),
            one("t.yaml:3:24: grid.backbone[1]: unknown backbone 'resnet51'; did you mean "
                "'resnet50'? (choices: resnet18, resnet34, resnet50)"));
  EXPECT_EQ(config_error("dataset: {root: d}\nvariants: {original: {}, faces: {detector: haar}}\n"
                         "grid:\n  backbone: resnet18\n  variant: [face]\n"),
            one("t.yaml:5:13: grid.variant[0]: variant 'face' is not defined under variants: did "
                "you mean 'faces'? (defined: original, faces)"));
  EXPECT_EQ(config_error("dataset: {root: d}\ngrid:\n  backbone: resnet18\n  fold: [0, 5]\n"),
            one("t.yaml:4:13: grid.fold[1]: fold 5 does not exist: folds are numbered 0 to 4 "
                "(cv.folds = 5)"));
  EXPECT_EQ(config_error("dataset: {root: d}\ngrid:\n  backbone: resnet18\n  lr: [0.1, 0.10]\n"),
            one("t.yaml:4:13: grid.lr[1]: value 0.1 is listed twice"));
  EXPECT_EQ(config_error("dataset: {root: d}\ngrid:\n  backbone: resnet18\n  lr: []\n"),
            one("t.yaml:4:7: grid.lr: empty list: a grid axis needs at least one value (remove the "
                "key to use the default)"));
  EXPECT_EQ(config_error("dataset: {root: d}\ngrid:\n  backbone: resnet18\n  epoch: [1]\n"),
            one("t.yaml:4:3: grid.epoch: unknown key 'epoch'; did you mean 'epochs'?"));
}

TEST(SweepSpec, EmptyOrMissingGridIsAnError) {
  EXPECT_EQ(config_error("dataset: {root: d}\ngrid: {}\n"),
            one("t.yaml:2:1: grid: the grid is empty: it needs at least `backbone: [resnet18, "
                "...]`"));
  EXPECT_EQ(config_error("dataset: {root: d}\ngrid:\n"),
            one("t.yaml:2:1: grid: the grid is empty: it needs at least `backbone: [resnet18, "
                "...]`"));
  EXPECT_EQ(
      config_error("dataset: {root: d}\n"),
      one("t.yaml:1:1: no grid section: add `grid:` with at least `backbone: [resnet18, ...]`"));
  EXPECT_EQ(config_error("dataset: {root: d}\ngrid: {lr: [0.1]}\n"),
            one("t.yaml:2:1: grid: no backbone axis: add e.g. `backbone: [resnet50]`"));
}

TEST(SweepSpec, ExcludeThatRemovesEverythingIsAnError) {
  EXPECT_EQ(
      config_error(std::string(kMinimal) + "exclude:\n  - {lr: 0.01}\n  - {backbone: resnet50}\n"),
      one("t.yaml:3:1: exclude: the exclude entries remove all 15 combinations of the grid; "
          "nothing is left to run"));
  // With an include, something is left.
  EXPECT_EQ(config_error(std::string(kMinimal) +
                         "exclude: [{lr: 0.01}]\ninclude: [{backbone: resnet34}]\n"),
            "");
  EXPECT_EQ(config_error(std::string(kMinimal) + "exclude:\n  - {}\n"),
            one("t.yaml:4:5: exclude[0]: empty exclude entry: it would remove every combination"));
}

TEST(SweepSpec, DuplicateKeysAreErrorsReportedWithTheOthers) {
  const std::string text =
      "dataset: {root: d}\n"
      "train:\n"
      "  lr: 0.1\n"
      "  batch_size: 0\n"
      "  lr: 0.2\n"
      "grid: {backbone: [resnet18], backbone: [resnet50]}\n";
  EXPECT_EQ(config_error(text),
            "invalid sweep file t.yaml (3 errors):\n"
            "  t.yaml:4:15: train.batch_size: must be >= 1, got 0\n"
            "  t.yaml:5:3: train.lr: duplicate key 'lr' (first given at line 3); YAML would "
            "silently keep only one of them, so remove or merge one\n"
            "  t.yaml:6:30: grid.backbone: duplicate key 'backbone' (first given at line 6); YAML "
            "would silently keep only one of them, so remove or merge one");
}

TEST(SweepSpec, TabsInIndentationAreNamed) {
  EXPECT_EQ(config_error("dataset:\n\troot: d\ngrid: {backbone: resnet18}\n- x\n -\tb\n"),
            "invalid sweep file t.yaml (2 errors):\n"
            "  t.yaml:2:1: tab character in indentation; YAML indents with spaces only\n"
            "  t.yaml:5:3: tab character in indentation; YAML indents with spaces only");
}

TEST(SweepSpec, SyntaxErrorsAndEmptyFiles) {
  EXPECT_EQ(config_error("dataset: {root: d\n"),
            one("t.yaml:2:1: YAML syntax error: end of map flow not found"));
  EXPECT_EQ(config_error(""), one("t.yaml:1:1: the sweep file is empty"));
  EXPECT_EQ(config_error("- a\n- b\n"),
            one("t.yaml:1:1: expected a map (key: value lines), got a list"));
}

TEST(SweepSpec, AllErrorsAreCollectedInFileOrder) {
  const std::string text =
      "name: a b\n"
      "dataset: {image_size: 7}\n"
      "variants:\n"
      "  faces: {detector: yunet, cascade: c.xml}\n"
      "weights: {resnet05: auto}\n"
      "cv: {folds: 3}\n"
      "grid:\n"
      "  backbone: [resnet18]\n"
      "  variant: [faces]\n"
      "  fold: [3]\n";
  EXPECT_EQ(
      config_error(text),
      "invalid sweep file t.yaml (7 errors):\n"
      "  t.yaml:1:7: name: 'a b' may only use letters, digits, '_', '-' and '.'\n"
      "  t.yaml:2:10: dataset: no root; add `root: PATH` (relative to the sweep file's "
      "directory)\n"
      "  t.yaml:2:23: dataset.image_size: must be between 32 and 2048, got 7\n"
      "  t.yaml:4:10: variants.faces.model: detector yunet needs its ONNX model file (`model: "
      "PATH`; OpenCV 4.6 reads face_detection_yunet_2022mar.onnx)\n"
      "  t.yaml:4:37: variants.faces.cascade: only detectors haar and lbp use a cascade file\n"
      "  t.yaml:5:11: weights.resnet05: unknown key 'resnet05'; did you mean 'resnet50'?\n"
      "  t.yaml:10:10: grid.fold[0]: fold 3 does not exist: folds are numbered 0 to 2 "
      "(cv.folds = 3)");
}

TEST(SweepSpec, VariantRules) {
  const std::string base = "dataset: {root: d}\ngrid: {backbone: resnet18}\nvariants:\n";
  EXPECT_EQ(config_error(base + "  faces: {margin: 0.1}\n"),
            one("t.yaml:4:10: variants.faces: no detector; add `detector: haar` (or lbp, yunet, "
                "boxes, dataset), or write `{}` for the uncropped images"));
  EXPECT_EQ(config_error(base + "  faces: {detector: har}\n"),
            one("t.yaml:4:21: variants.faces.detector: unknown detector 'har'; did you mean "
                "'haar'? (choices: haar, lbp, yunet, boxes, dataset)"));
  EXPECT_EQ(
      config_error(base + "  faces: {detector: haar, fallback: boxes}\n"),
      one("t.yaml:4:37: variants.faces.fallback: detector boxes and fallback boxes need a boxes "
          "CSV (`boxes: FILE.csv`)"));
  EXPECT_EQ(
      config_error(base + "  faces: {detector: boxes, boxes: b.csv, qc: {iou_threshold: 2}}\n"),
      one("t.yaml:4:62: variants.faces.qc.iou_threshold: must be in [0, 1], got 2"));
  EXPECT_EQ(config_error(base + "  faces: {detector: haar}\n  original: {}\n"), "");
}

TEST(SweepSpec, WeightsForms) {
  auto weights = [](const std::string& w) {
    return parse_sweep(std::string(kMinimal) + "weights: " + w + "\n", "/p/t.yaml")
        .canonical["weights"];
  };
  EXPECT_EQ(weights("random")["resnet34"], "random");
  EXPECT_EQ(weights("random:007")["resnet18"], "random:7");
  EXPECT_EQ(weights("w//r18.pth")["resnet18"], "w/r18.pth");
  const auto per = weights("{resnet18: random:1, resnet50: /ckpt/r50.pth}");
  EXPECT_EQ(per["resnet18"], "random:1");
  EXPECT_EQ(per["resnet34"], "auto");
  EXPECT_EQ(per["resnet50"], "/ckpt/r50.pth");
  EXPECT_EQ(config_error(std::string(kMinimal) + "weights: random:x\n"),
            one("t.yaml:3:10: weights: 'random:x': random:SEED needs a seed between 0 and 2^53, "
                "e.g. random:1"));
}

TEST(SweepSpec, StandardiseIsAnAliasOfStandardize) {
  const auto s = parse_sweep(std::string(kMinimal) + "train: {standardise: true}\n", "t.yaml");
  EXPECT_EQ(s.canonical["train"]["standardize"], true);
  const auto g = parse_sweep(
      "dataset: {root: d}\ngrid: {backbone: resnet18, standardise: [true, false]}\n", "t.yaml");
  EXPECT_EQ(g.canonical["grid"]["standardize"], nlohmann::json::parse("[true, false]"));
  EXPECT_EQ(
      config_error(std::string(kMinimal) + "train:\n  standardize: true\n  standardise: true\n"),
      one("t.yaml:5:3: train.standardise: standardise is another spelling of standardize "
          "(line 4); give only one"));
}

TEST(SweepSpec, OverridesReplaceValuesAndAreRecorded) {
  const std::string text = std::string(kMinimal) + "train: {lr: 0.1}  # comment\n";
  const auto s = parse_sweep(
      text, "t.yaml", {"train.lr=0.001", "grid.backbone=[resnet18, resnet50]", "cv.folds=10"});
  EXPECT_DOUBLE_EQ(s.canonical["train"]["lr"].get<double>(), 0.001);
  EXPECT_EQ(s.canonical["grid"]["backbone"], nlohmann::json::parse(R"(["resnet18", "resnet50"])"));
  EXPECT_EQ(s.canonical["cv"]["folds"], 10);
  EXPECT_EQ(s.source_text.rfind("# fersweep: t.yaml with overrides\n#   --set train.lr=0.001\n", 0),
            0u)
      << s.source_text;
  EXPECT_EQ(s.source_hash, sha256_hex(s.source_text));
  EXPECT_NE(s.source_hash, parse_sweep(text, "t.yaml").source_hash);
  // The recorded text is what ran: parsing it again gives the same sweep.
  const auto again = parse_sweep(s.source_text, "t.yaml");
  EXPECT_EQ(again.canonical, s.canonical);
  EXPECT_EQ(plan_sweep(again).trains[0].id, plan_sweep(s).trains[0].id);
}

TEST(SweepSpec, OverrideErrorsNameTheOverride) {
  EXPECT_EQ(config_error(kMinimal, {"train.lr=-3"}),
            one("--set train.lr=-3: train.lr: must be > 0, got -3"));
  EXPECT_EQ(config_error(kMinimal, {"train.lrr=0.1"}),
            one("--set train.lrr=0.1: train.lrr: unknown key 'lrr'; did you mean 'lr'?"));
  EXPECT_EQ(config_error(kMinimal, {"lr"}),
            one("--set lr: expected KEY=VALUE, e.g. --set train.lr=0.001"));
  EXPECT_EQ(config_error(kMinimal, {"grid.backbone=[resnet18"}),
            one("--set grid.backbone=[resnet18: grid.backbone: the value is not valid YAML: end "
                "of sequence flow not found"));
  EXPECT_EQ(config_error(kMinimal, {"dataset.root.x=1"}),
            one("--set dataset.root.x=1: dataset.root: cannot set 'x' inside 'data'"));
  // An override that creates a new section works too.
  EXPECT_EQ(config_error(kMinimal, {"variants.faces.detector=haar", "grid.variant=faces"}), "");
}

TEST(SweepSpec, CanonicalFormIgnoresOrderFormattingAndComments) {
  const std::string a =
      "name: s\n"
      "dataset: {root: d, image_size: 224}\n"
      "variants: {original: {}, faces: {detector: haar, margin: 0.2}}\n"
      "train: {lr: 0.01, weight_decay: 0.001, epochs: [50, 100]}\n"
      "grid: {backbone: [resnet18, resnet50], variant: [original, faces], lr: [0.01, 0.1]}\n";
  const std::string b =
      "# the same sweep, reordered and reformatted\n"
      "grid:\n"
      "  lr:\n"
      "    - 1e-1\n"
      "    - 1.0e-2   # same number\n"
      "  variant: [faces, original]\n"
      "  backbone: [resnet50, resnet18]\n"
      "train:\n"
      "  epochs: [100, 50, 100]\n"
      "  weight_decay: 0.0010\n"
      "  lr: 0.010\n"
      "variants:\n"
      "  faces:\n"
      "    margin: 0.20\n"
      "    detector: 'haar'\n"
      "  original: {}\n"
      "dataset:\n"
      "  image_size: 224\n"
      "  root: ./d/\n"
      "name: s\n";
  const Plan pa = plan_sweep(parse_sweep(a, "a.yaml"));
  const Plan pb = plan_sweep(parse_sweep(b, "b.yaml"));
  EXPECT_NE(pa.spec.source_hash, pb.spec.source_hash);
  std::set<std::string> ia, ib;
  for (const auto& t : pa.trains) ia.insert(t.id);
  for (const auto& t : pb.trains) ib.insert(t.id);
  EXPECT_EQ(ia.size(), 2u * 2u * 2u * 5u);
  EXPECT_EQ(ia, ib);
  std::set<std::string> ea, eb;
  for (const auto& t : pa.extracts) ea.insert(t.id);
  for (const auto& t : pb.extracts) eb.insert(t.id);
  EXPECT_EQ(ea, eb);
  EXPECT_EQ(pa.crops.at(0).id, pb.crops.at(0).id);
}

TEST(SweepSpec, DatasetFormatsAndTheirKeys) {
  const std::string base = "grid: {backbone: [resnet18]}\n";
  EXPECT_EQ(config_error("dataset: {root: d, format: fer2014}\n" + base),
            one("t.yaml:1:28: dataset.format: unknown dataset format 'fer2014'; did you mean "
                "'fer2013'? (choices: folders, fer2013, ferplus, rafdb, affectnet, ckplus, jaffe, "
                "expw)"));
  // A key of another format is an error at the key.
  EXPECT_EQ(config_error("dataset: {root: d, format: fer2013, peak_frames: 2}\n" + base),
            one("t.yaml:1:37: dataset.peak_frames: only format ckplus reads this key (format is "
                "fer2013)"));
  EXPECT_EQ(config_error("dataset: {root: d, images: original}\n" + base),
            one("t.yaml:1:20: dataset.images: only format rafdb reads this key (format is "
                "folders)"));
  // Classes of formats other than folders are canonical names.
  EXPECT_EQ(config_error("dataset: {root: d, format: rafdb, classes: [Happy, Sadness]}\n" + base),
            one("t.yaml:1:52: dataset.classes[1]: 'Sadness' is not a class name rafdb maps into "
                "(class names: Angry, Contempt, Disgust, Fear, Happy, Neutral, Sad, Surprise)"));
  EXPECT_EQ(config_error("dataset: {root: d, splits: {train: Train}}\n" + base),
            one("t.yaml:1:28: dataset.splits: no test folder; add `test: FOLDER`"));
  EXPECT_EQ(config_error("dataset: {root: d, splits: {train: Train, test: ./Train/}}\n" + base),
            one("t.yaml:1:49: dataset.splits.test: the train and test folders overlap; the "
                "official split would test on training images"));
  const SweepSpec s = parse_sweep(
      "dataset: {root: d, format: ckplus, peak_frames: 2, first_frame_neutral: true}\n" + base,
      "t.yaml");
  EXPECT_EQ(s.dataset.format, "ckplus");
  EXPECT_EQ(s.dataset.peak_frames, 2);
  EXPECT_TRUE(s.dataset.first_frame_neutral);
}

TEST(SweepSpec, CvGroupAndOfficialSplitRules) {
  const std::string grid = "grid: {backbone: [resnet18]}\n";
  EXPECT_EQ(config_error("dataset: {root: d, format: rafdb}\ncv: {group: subject}\n" + grid),
            one("t.yaml:2:13: cv.group: format rafdb names no subjects (cv.group: subject works "
                "with ckplus and jaffe)"));
  EXPECT_EQ(config_error("dataset: {root: d, format: jaffe}\ncv: {split: official}\n" + grid),
            one("t.yaml:2:13: cv.split: format jaffe defines no official split"));
  EXPECT_EQ(config_error("dataset: {root: d}\ncv: {split: official}\n" + grid),
            one("t.yaml:2:13: cv.split: format folders has an official split only with "
                "dataset.splits: {train: FOLDER, test: FOLDER}"));
  EXPECT_EQ(config_error("dataset: {root: d, format: fer2013}\ncv: {test: PrivateTest}\n" + grid),
            one("t.yaml:2:12: cv.test: only cv.split: official has a test part to choose"));
  EXPECT_EQ(
      config_error("dataset: {root: d, format: fer2013}\ncv: {split: official, test: Val}\n" +
                   grid),
      one("t.yaml:2:29: cv.test: format fer2013's test parts are PublicTest, PrivateTest, not "
          "'Val'"));
  EXPECT_EQ(
      config_error("dataset: {root: d, format: fer2013}\ncv: {split: official, folds: 3}\n" + grid),
      one("t.yaml:2:23: cv.folds: cv.split: official is one fixed split; it takes no folds"));
  EXPECT_EQ(
      config_error("dataset: {root: d, format: rafdb}\ncv: {split: official, test: ''}\n" + grid),
      one("t.yaml:2:29: cv.test: expected a non-empty string, got the string \"\""));
  const SweepSpec s =
      parse_sweep("dataset: {root: d, format: ferplus}\ncv: {split: official}\n" + grid, "t.yaml");
  EXPECT_EQ(s.cv.test, "PublicTest");  // the format's default test part
  EXPECT_EQ(s.cv.folds, 1);
}

// The fine-tuning keys (train: and grid:) and run.finetune_threads: each bad value named with
// its position, all in one report.
TEST(SweepSpec, FineTuningKeysAreChecked) {
  const std::string text =
      "dataset: {root: d}\n"
      "train: {finetune: layer5, bn: frozen, backbone_lr: 0, lr_gamma: 1.5}\n"
      "run: {finetune_threads: 0}\n"
      "grid:\n"
      "  backbone: resnet18\n"
      "  schedule: [constant, cosin]\n"
      "  lr_step: [0]\n"
      "  bn: [training]\n";
  EXPECT_EQ(config_error(text),
            "invalid sweep file t.yaml (7 errors):\n"
            "  t.yaml:2:19: train.finetune: unknown fine-tuning cut 'layer5'; did you mean "
            "'layer4'? (choices: head, layer4, layer3, all)\n"
            "  t.yaml:2:52: train.backbone_lr: must be > 0, got 0\n"
            "  t.yaml:2:65: train.lr_gamma: must be in (0, 1], got 1.5\n"
            "  t.yaml:3:25: run.finetune_threads: must be between 1 and 4096, got 0\n"
            "  t.yaml:6:24: grid.schedule[1]: unknown learning-rate schedule 'cosin'; did you "
            "mean 'cosine'? (choices: constant, cosine, step)\n"
            "  t.yaml:7:13: grid.lr_step[0]: must be between 1 and 1000000, got 0\n"
            "  t.yaml:8:8: grid.bn[0]: unknown BatchNorm mode 'training' (choices: frozen, "
            "train)");
  const SweepSpec s = parse_sweep(kMinimal, "t.yaml");
  EXPECT_EQ(s.canonical["train"]["finetune"], "head");
  EXPECT_EQ(s.canonical["train"]["bn"], "frozen");
  EXPECT_EQ(s.canonical["train"]["schedule"], "constant");
  EXPECT_EQ(s.run.finetune_threads, 4);
}

TEST(SweepSpec, CheckpointEveryIsADuration) {
  EXPECT_EQ(checkpoint_seconds("10min"), 600.0);
  EXPECT_EQ(checkpoint_seconds("90s"), 90.0);
  EXPECT_EQ(checkpoint_seconds("1.5h"), 5400.0);
  EXPECT_EQ(checkpoint_seconds("0"), 0.0);
  EXPECT_EQ(checkpoint_seconds("off"), -1.0);
  for (const char* bad : {"10", "10 min", "-5s", "1.2.3s", "min", "10m", ""})
    EXPECT_FALSE(checkpoint_seconds(bad)) << bad;
  EXPECT_EQ(config_error("dataset: {root: d}\nrun: {checkpoint_every: 10 minutes}\ngrid: "
                         "{backbone: resnet18}\n"),
            "invalid sweep file t.yaml (1 error):\n"
            "  t.yaml:2:25: run.checkpoint_every: '10 minutes' is not a duration: give a number "
            "with a unit (90s, 10min, 2h), 0 for every epoch end, or off");
  EXPECT_EQ(parse_sweep(kMinimal, "t.yaml").run.checkpoint_every, "10min");
}

// augment: none or a map of transforms; every bad value reported at once, with its position.
TEST(SweepSpec, AugmentIsAMapOfCheckedTransforms) {
  const SweepSpec spec = parse_sweep(
      "dataset: {root: d}\ntrain: {augment: {rotate: 10, hflip: true}}\n"
      "grid: {backbone: resnet18, augment: [none, {random_resized_crop: [0.08, 1]}]}\n",
      "t.yaml");
  EXPECT_EQ(spec.canonical["train"]["augment"], json::parse(R"({"hflip": true, "rotate": 10.0})"));
  EXPECT_EQ(spec.canonical["grid"]["augment"],
            json::parse(R"([{}, {"random_resized_crop": [0.08, 1.0]}])"));
  EXPECT_EQ(parse_sweep(kMinimal, "t.yaml").canonical["train"]["augment"], json::object());
  EXPECT_EQ(config_error("dataset: {root: d}\n"
                         "train: {augment: {hflip: maybe, random_resized_crop: [0, 1], rotate: "
                         "-5, flip: true}}\n"
                         "grid: {backbone: resnet18, augment: [{random_resized_crop: [0.9, 0.2]}, "
                         "{random_resized_crop: 0.5}, yes]}\n"),
            "invalid sweep file t.yaml (7 errors):\n"
            "  t.yaml:2:26: train.augment.hflip: expected true or false, got 'maybe'\n"
            "  t.yaml:2:55: train.augment.random_resized_crop[0]: must be in (0, 1], got 0\n"
            "  t.yaml:2:70: train.augment.rotate: must be in [0, 180], got -5\n"
            "  t.yaml:2:74: train.augment.flip: unknown key 'flip'; did you mean 'hflip'?\n"
            "  t.yaml:3:60: grid.augment[0].random_resized_crop: lo 0.9 is above hi 0.2; give "
            "[lo, hi]\n"
            "  t.yaml:3:95: grid.augment[1].random_resized_crop: expected [lo, hi]: the smallest "
            "and largest share of the image's area a crop keeps, e.g. [0.08, 1], got '0.5'\n"
            "  t.yaml:3:101: grid.augment[2]: expected none or a map of transforms (hflip: true, "
            "random_resized_crop: [0.08, 1], rotate: 10), got 'yes'");
}

// select: alone takes the defaults; its keys are checked, every error with its position.
TEST(SweepSpec, SelectChoosesAMetricAndAValidationShare) {
  EXPECT_FALSE(parse_sweep(kMinimal, "t.yaml").select);
  EXPECT_TRUE(parse_sweep(kMinimal, "t.yaml").canonical["select"].is_null());
  const SweepSpec defaults = parse_sweep(std::string(kMinimal) + "select:\n", "t.yaml");
  ASSERT_TRUE(defaults.select);
  EXPECT_EQ(defaults.select->metric, "val_accuracy");
  EXPECT_EQ(defaults.select->val_fraction, 0.2);
  const SweepSpec f1 = parse_sweep(
      std::string(kMinimal) + "select: {metric: val_macro_f1, val_fraction: 0.25}\n", "t.yaml");
  EXPECT_EQ(f1.canonical["select"],
            json::parse(R"({"metric": "val_macro_f1", "val_fraction": 0.25})"));
  EXPECT_EQ(config_error("dataset: {root: d}\n"
                         "select: {metric: val_acuracy, val_fraction: 0.6, folds: 3}\n"
                         "grid: {backbone: resnet18}\n"),
            "invalid sweep file t.yaml (3 errors):\n"
            "  t.yaml:2:18: select.metric: unknown selection metric 'val_acuracy'; did you mean "
            "'val_accuracy'? (choices: val_accuracy, val_macro_f1)\n"
            "  t.yaml:2:45: select.val_fraction: must be in (0, 0.5], got 0.6\n"
            "  t.yaml:2:50: select.folds: unknown key 'folds' (known keys: metric, val_fraction)");
  EXPECT_EQ(config_error("dataset: {root: d}\nselect: {val_fraction: 0}\n"
                         "grid: {backbone: resnet18}\n"),
            "invalid sweep file t.yaml (1 error):\n"
            "  t.yaml:2:24: select.val_fraction: must be in (0, 0.5], got 0");
  EXPECT_EQ(config_error("dataset: {root: d}\nselect: val_accuracy\ngrid: {backbone: resnet18}\n"),
            "invalid sweep file t.yaml (1 error):\n"
            "  t.yaml:2:9: select: expected a map (key: value lines), got 'val_accuracy'");
}

// early_stop: halving with increasing rungs inside the sweep's epochs, eta >= 2, and a
// validation score to rank by (select:); every error at once, with its position.
TEST(SweepSpec, EarlyStopNeedsRungsAnEtaAndAValidationScore) {
  const SweepSpec spec = parse_sweep(
      "dataset: {root: d}\ntrain: {epochs: [8]}\nselect:\nearly_stop: {rungs: [2, 4, 8]}\n"
      "grid: {backbone: resnet18}\n",
      "t.yaml");
  ASSERT_TRUE(spec.early_stop);
  EXPECT_EQ(spec.early_stop->method, "halving");
  EXPECT_EQ(spec.early_stop->rungs, (std::vector<int>{2, 4, 8}));
  EXPECT_EQ(spec.early_stop->eta, 3);
  EXPECT_EQ(spec.early_stop->metric, "val_accuracy");
  EXPECT_FALSE(parse_sweep(kMinimal, "t.yaml").early_stop);
  EXPECT_EQ(config_error("dataset: {root: d}\ntrain: {epochs: [50, 100]}\n"
                         "early_stop: {method: asha, rungs: [25, 20, 200], eta: 1}\n"
                         "grid: {backbone: resnet18}\n"),
            "invalid sweep file t.yaml (5 errors):\n"
            "  t.yaml:3:1: early_stop: val_accuracy is a validation score: add `select: "
            "{val_fraction: 0.2}` so that each training fold sets a validation part aside\n"
            "  t.yaml:3:22: early_stop.method: unknown early-stopping method 'asha' (choices: "
            "halving, median)\n"
            "  t.yaml:3:40: early_stop.rungs[1]: rungs must increase: 20 after 25\n"
            "  t.yaml:3:44: early_stop.rungs[2]: past the sweep's last epoch, 100\n"
            "  t.yaml:3:55: early_stop.eta: must be between 2 and 1000, got 1");
  // median keeps the tasks at or above the median: a share (eta) does not apply.
  EXPECT_EQ(config_error("dataset: {root: d}\nselect:\nearly_stop: {method: median, rungs: [2], "
                         "eta: 2}\ngrid: {backbone: resnet18}\n"),
            "invalid sweep file t.yaml (1 error):\n"
            "  t.yaml:3:42: early_stop.eta: only method halving keeps a share (1/eta); median "
            "keeps the tasks at or above the median");
  EXPECT_EQ(parse_sweep("dataset: {root: d}\nselect:\nearly_stop: {method: median, rungs: [2]}\n"
                        "grid: {backbone: resnet18}\n",
                        "t.yaml")
                .early_stop->method,
            "median");
  EXPECT_EQ(config_error("dataset: {root: d}\nselect:\nearly_stop: {eta: 3, metric: val_f1}\n"
                         "grid: {backbone: resnet18}\n"),
            "invalid sweep file t.yaml (2 errors):\n"
            "  t.yaml:3:1: early_stop.rungs: give the epochs to decide at, e.g. `rungs: [25, 50, "
            "100, 200]`\n"
            "  t.yaml:3:30: early_stop.metric: unknown early-stopping metric 'val_f1' (choices: "
            "val_accuracy, val_macro_f1)");
}

}  // namespace
}  // namespace fersweep::sweep
