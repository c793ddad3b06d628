// Grid expansion: counts and ids for every file in sweeps/, epoch merging, feature sharing,
// include/exclude, ids recomputed independently by Python, the dataset census and the cost.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "core/hash.h"
#include "sweep/census.h"
#include "sweep/plan.h"
#include "sweep/spec.h"
#include "sweep/summary.h"
#include "sweep_test_util.h"

namespace fersweep::sweep {
namespace {

using testing::kMinimal;
namespace fs = std::filesystem;

Plan plan_text(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return plan_sweep(parse_sweep(text, "t.yaml", overrides));
}

Plan plan_file(const std::string& name) {
  return plan_sweep(load_sweep(testing::sweeps_dir() + "/" + name));
}

struct Counts {
  std::size_t crops, extracts, trains, evaluations;
};

void expect_counts(const Plan& p, Counts c) {
  EXPECT_EQ(p.crops.size(), c.crops);
  EXPECT_EQ(p.extracts.size(), c.extracts);
  EXPECT_EQ(p.trains.size(), c.trains);
  EXPECT_EQ(p.evaluations(), c.evaluations);
}

TEST(SweepFiles, PaperExpandsToTheFullTableAndTheBatchSizeStudy) {
  const Plan p = plan_file("paper.yaml");
  // 3 depths x 2 variants x 5 folds (epochs 50/100/200 in one run each) + batch sizes 64/128 for
  // ResNet-50 on both variants x 5 folds.
  expect_counts(p, {1, 6, 30 + 20, 150});
  EXPECT_EQ(p.combinations, 3u * 2u * 3u * 5u);
  EXPECT_EQ(p.included, 2u * 2u * 3u * 5u);
  EXPECT_EQ(p.classes.size(), 7u);
  std::map<int, int> by_batch;
  for (const auto& t : p.trains) {
    EXPECT_EQ(t.epochs, (std::vector<int>{50, 100, 200}));
    by_batch[t.params()["batch_size"].get<int>()]++;
  }
  EXPECT_EQ(by_batch, (std::map<int, int>{{64, 10}, {128, 10}, {256, 30}}));
  // Table 1 (ResNet-50, original, 200 epochs, 5 folds) is in it.
  int table1 = 0;
  for (const auto& t : p.trains)
    if (t.params()["backbone"] == "resnet50" && t.params()["variant"] == "original" &&
        t.params()["batch_size"] == 256)
      ++table1;
  EXPECT_EQ(table1, 5);
  // Pinned ids (see DemoRunsEveryDepthOnBothVariants).
  EXPECT_EQ(p.crops[0].id, "d8b18cf2e0e36d85");
  EXPECT_EQ(p.extracts[0].id, "d84baea265eaebbe");
  EXPECT_EQ(p.trains.front().id, "ee2d94d760f1f00c");
  EXPECT_EQ(p.trains.back().id, "1f90ae14b67a09c5");
}

TEST(SweepFiles, DemoRunsEveryDepthOnBothVariants) {
  const Plan p = plan_file("demo.yaml");
  expect_counts(p, {1, 6, 30, 90});
  EXPECT_EQ(p.crops[0].params["detector"], "haar");
  EXPECT_EQ(p.spec.dataset_root,
            (fs::path(testing::sweeps_dir()) / "../demo-data").lexically_normal());
  // Pinned ids: a change here means every cached result of existing sweeps is invalidated.
  EXPECT_EQ(p.crops[0].id, "d4c2ca6101c9d044");
  EXPECT_EQ(p.extracts[0].id, "7d21500b99e9397d");
  EXPECT_EQ(p.trains[0].id, "7ac1cfa26dd5b8ec");
}

TEST(SweepFiles, FineTuningStudyHasAFeatureSetPerCut) {
  const Plan p = plan_file("finetune.yaml");
  // 2 backbones x 2 variants x 3 cuts x 5 folds, evaluated at 3 epochs each; a feature set per
  // (backbone, variant, cut).
  expect_counts(p, {1, 12, 60, 180});
  for (const auto& t : p.trains) {
    const auto params = t.params();
    if (params.contains("finetune")) {
      EXPECT_EQ(params["lr_horizon"], 60);
    }
  }
  EXPECT_EQ(p.spec.run.finetune_threads, 4);
}

TEST(SweepFiles, LearningRateByWeightDecayShareOneFeatureSet) {
  const Plan p = plan_file("lr-wd-study.yaml");
  expect_counts(p, {1, 1, 80, 160});
  EXPECT_EQ(p.extracts[0].id, "1a8d36d9a11df4e7");
  EXPECT_EQ(p.trains.front().id, "e40314f03e6c31c7");
  EXPECT_EQ(p.trains.back().id, "8de0f8ecc75c77ae");
}

TEST(SweepFiles, IncludeExcludeExample) {
  const Plan p = plan_file("include-exclude.yaml");
  // 3 x 2 x 2 x 5 = 60 runs, minus resnet18/bs64 (10), plus one MLP setting (5 folds).
  expect_counts(p, {1, 6, 55, 115});
  EXPECT_EQ(p.excluded, 30u + 40u);
  // Same dataset and crop settings as lr-wd-study.yaml: the same crop task.
  EXPECT_EQ(p.crops[0].id, "38cb930233db2500");
  EXPECT_EQ(p.trains.front().id, "2a51f2fe19bf9b10");
  EXPECT_EQ(p.trains.back().id, "4a22f82e9f4d365d");
  for (const auto& t : p.trains) {
    if (t.params()["backbone"] != "resnet18" && t.params()["head"] == "linear") {
      EXPECT_EQ(t.epochs, (std::vector<int>{100, 200}));
    }
    if (t.params()["head"] == "mlp") {
      EXPECT_EQ(t.params()["hidden"], 256);
      EXPECT_EQ(t.epochs, (std::vector<int>{200}));
    }
  }
}

TEST(Plan, TrainTasksShareOneValueTableAndRebuildTheirParams) {
  // mlp/linear and sgd/adam mixed: hidden and momentum exist only where they apply.
  const Plan p = plan_text(
      "dataset: {root: data}\ngrid: {backbone: [resnet18], head: [linear, mlp], hidden: [64, 128],"
      " optimizer: [adam, sgd], momentum: [0.5, 0.9], lr: [0.1, 0.01]}\n");
  // Per lr: linear+adam 1, linear+sgd 2, mlp+adam 2, mlp+sgd 4 = 9 configurations; 5 folds each.
  ASSERT_EQ(p.trains.size(), 18u * 5u);
  std::set<std::string> ids;
  for (const auto& t : p.trains) {
    EXPECT_EQ(t.values.get(), p.trains.front().values.get());
    const nlohmann::json params = t.params();
    EXPECT_EQ(params.contains("hidden"), params["head"] == "mlp");
    EXPECT_EQ(params.contains("momentum"), params["optimizer"] == "sgd");
    for (const char* key : {"backbone", "hidden", "momentum", "lr", "fold", "repeat", "folds",
                            "cv_seed", "extract", "weights"})
      EXPECT_EQ(t.param(key), params.value(key, nlohmann::json())) << key;
    EXPECT_TRUE(t.param("no_such_key").is_null());
    EXPECT_EQ(t.id, sha256_hex(params.dump()).substr(0, 16));
    ids.insert(t.id);
  }
  EXPECT_EQ(ids.size(), p.trains.size());
  // A copy of the plan keeps working after the original is gone (the table is shared, not owned).
  const TrainTask copy = [&] { return plan_text(std::string(kMinimal)).trains.back(); }();
  EXPECT_EQ(copy.id, sha256_hex(copy.params().dump()).substr(0, 16));
}

TEST(Plan, EpochsOfOtherwiseIdenticalTasksMerge) {
  const Plan p = plan_text(std::string(kMinimal) + "train: {epochs: [200, 50, 100]}\n");
  ASSERT_EQ(p.trains.size(), 5u);
  for (const auto& t : p.trains) {
    EXPECT_EQ(t.epochs, (std::vector<int>{50, 100, 200}));
    EXPECT_FALSE(t.params().contains("epochs"));
    EXPECT_EQ(t.seed, std::stoull(t.id, nullptr, 16));
  }
  // A separate 50-epoch sweep gives the same tasks, ids and seeds: its results are the same.
  const Plan fifty = plan_text(std::string(kMinimal) + "train: {epochs: 50}\n");
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(fifty.trains[i].id, p.trains[i].id);
    EXPECT_EQ(fifty.trains[i].seed, p.trains[i].seed);
  }
}

TEST(Plan, FoldsRepeatsAndSeeds) {
  const Plan p = plan_text(std::string(kMinimal) + "cv: {folds: 3, seed: 10, repeats: 2}\n");
  EXPECT_EQ(p.cv_seeds, (std::vector<std::uint64_t>{10, 11}));
  ASSERT_EQ(p.trains.size(), 6u);
  std::set<std::uint64_t> seeds;
  for (const auto& t : p.trains) {
    EXPECT_EQ(t.params()["cv_seed"], 10 + t.repeat);
    EXPECT_EQ(t.params()["fold"], t.fold);
    seeds.insert(t.seed);
  }
  EXPECT_EQ(seeds.size(), 6u);
  EXPECT_EQ(p.extracts.size(), 1u);  // imagenet statistics: one feature set for every fold
  const Plan some = plan_text("dataset: {root: d}\ngrid: {backbone: resnet18, fold: [1, 3]}\n");
  ASSERT_EQ(some.trains.size(), 2u);
  EXPECT_EQ(some.trains[1].fold, 3);
}

TEST(Plan, DatasetNormalisationMakesFeaturesPerFold) {
  const Plan p = plan_text(
      "dataset: {root: d, normalize: dataset}\ncv: {folds: 4, repeats: 2}\n"
      "grid: {backbone: [resnet18, resnet34], lr: [0.1, 0.01]}\n");
  EXPECT_EQ(p.extracts.size(), 2u * 4u * 2u);
  EXPECT_EQ(p.trains.size(), 2u * 2u * 4u * 2u);
  for (const auto& t : p.trains) {
    const auto& e = p.extracts.at(t.extract_index);
    EXPECT_EQ(e.id, t.extract);
    ASSERT_TRUE(e.fold.has_value());
    EXPECT_EQ(*e.fold, t.fold);
    EXPECT_EQ(e.repeat, t.repeat);
  }
}

TEST(Plan, ExtractionIsSharedAcrossTrainingParameters) {
  const Plan p = plan_text(
      "dataset: {root: d}\nvariants: {original: {}, faces: {detector: haar}, wide: {detector: "
      "haar, "
      "margin: 0.5}}\ngrid: {backbone: [resnet18, resnet50], batch_size: [64, 256], lr: [0.1, "
      "0.01], image_size: [112, 224]}\n");
  EXPECT_EQ(p.crops.size(), 2u);
  EXPECT_EQ(p.extracts.size(), 2u * 3u * 2u);
  EXPECT_EQ(p.trains.size(), 2u * 3u * 2u * 2u * 2u * 5u);
  for (const auto& t : p.trains) {
    const auto& e = p.extracts[t.extract_index];
    EXPECT_EQ(e.backbone, t.params()["backbone"]);
    EXPECT_EQ(e.image_size, t.params()["image_size"]);
    EXPECT_EQ(e.crop.has_value(), t.params()["variant"] != "original");
  }
}

TEST(Plan, SameCropSettingsUnderTwoNamesShareTheCropAndFeatures) {
  const Plan p = plan_text(
      "dataset: {root: d}\nvariants: {a: {detector: haar}, b: {detector: haar, margin: 0.2}}\n"
      "grid: {backbone: resnet18}\n");
  EXPECT_EQ(p.crops.size(), 1u);
  EXPECT_EQ(p.extracts.size(), 1u);
  EXPECT_EQ(p.trains.size(), 10u);  // the variant name stays a training parameter (reports)
}

TEST(Plan, UnusedParametersDoNotMultiplyTasks) {
  const Plan p = plan_text(
      "dataset: {root: d}\ngrid: {backbone: resnet18, head: [linear, mlp], "
      "hidden: [128, 256], optimizer: [adam, sgd], momentum: [0.5, 0.9]}\n");
  // linear: 1 (hidden unused) ; mlp: 2 hidden ; adam: 1 (momentum unused) ; sgd: 2 momenta.
  EXPECT_EQ(p.trains.size(), (1u + 2u) * (1u + 2u) * 5u);
}

TEST(Plan, ExcludeMatchesPartiallyAndIncludeAddsOutsideTheGrid) {
  const Plan p = plan_text(
      "dataset: {root: d}\ngrid: {backbone: [resnet18, resnet34, resnet50], batch_size: [64, 256], "
      "fold: [0]}\nexclude:\n  - {backbone: [resnet18, resnet34], batch_size: 64}\n"
      "  - {backbone: resnet50, epochs: [50, 200]}\n  - {lr: 0.5}\n"
      "include:\n  - {backbone: resnet18, batch_size: 64, label_smoothing: 0.1, epochs: 10}\n");
  std::map<std::string, std::vector<int>> got;
  for (const auto& t : p.trains)
    got[fmt::format("{}/{}/{}", t.params()["backbone"].get<std::string>(),
                    t.params()["batch_size"].get<int>(),
                    t.params()["label_smoothing"].get<double>())] = t.epochs;
  const std::map<std::string, std::vector<int>> want = {{"resnet18/256/0", {50, 100, 200}},
                                                        {"resnet34/256/0", {50, 100, 200}},
                                                        {"resnet50/64/0", {100}},
                                                        {"resnet50/256/0", {100}},
                                                        {"resnet18/64/0.1", {10}}};
  EXPECT_EQ(got, want);
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_EQ(p.warnings[0], "t.yaml:6:5: exclude[2]: matches no combination of the grid");
}

TEST(Plan, RunawayGridsAreRefusedBeforeExpansion) {
  EXPECT_EQ(
      testing::config_error(
          "dataset: {root: d}\ncv: {folds: 1000, repeats: 1000}\n"
          "grid: {backbone: [resnet18, resnet34, resnet50], seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, "
          "11, 12, 13, 14, 15, 16, 17]}\n"),
      "invalid sweep file t.yaml (1 error):\n  t.yaml:3:1: grid: 1.53e+08 combinations (with "
      "epochs and repeats) is more than fersweep plans (50000000); split the sweep or shrink "
      "an axis");
}

TEST(Plan, AlignWithoutLandmarksIsAWarning) {
  const Plan p = plan_text(
      "dataset: {root: d}\nvariants: {faces: {detector: haar, align: true}}\n"
      "grid: {backbone: resnet18}\n");
  EXPECT_EQ(p.warnings, (std::vector<std::string>{
                            "t.yaml:2:36: variants.faces.align: without detector yunet the eyes "
                            "are found by the Haar eye cascade, which misses many faces"}));
}

TEST(Plan, IncludeDuplicatingTheGridMergesEpochs) {
  const Plan p =
      plan_text(std::string(kMinimal) +
                "train: {epochs: [50]}\ninclude: [{backbone: resnet18, epochs: [300]}]\n");
  ASSERT_EQ(p.trains.size(), 5u);
  EXPECT_EQ(p.trains[0].epochs, (std::vector<int>{50, 300}));
}

TEST(Plan, WeightsPerBackboneAndGridWeights) {
  const Plan p = plan_text(
      "dataset: {root: d}\nweights: {resnet50: ckpt/r50.pth}\n"
      "grid: {backbone: [resnet18, resnet50]}\n",
      {});
  ASSERT_EQ(p.extracts.size(), 2u);
  EXPECT_EQ(p.extracts[0].weights, "auto");
  EXPECT_EQ(p.extracts[1].params["weights"], "ckpt/r50.pth");
  EXPECT_EQ(p.extracts[1].weights,
            (fs::absolute(".") / "ckpt/r50.pth").lexically_normal().string());
  const Plan g = plan_text(
      "dataset: {root: d}\ngrid: {backbone: resnet18, weights: [auto, random:1, random:2]}\n");
  EXPECT_EQ(g.extracts.size(), 3u);
}

TEST(Plan, IdsAreTheHashOfCanonicalParams) {
  const Plan p = plan_text(kMinimal);
  for (const auto& t : p.trains) {
    EXPECT_EQ(t.id, sha256_hex(t.params().dump()).substr(0, 16));
    EXPECT_EQ(t.params()["extract"], t.extract);
  }
  // Known value computed with Python's
  // hashlib over json.dumps(..., sort_keys=True, separators=(",", ":"))).
  EXPECT_EQ(canonical_json(nlohmann::json::parse(R"({"b": [0.10, "x"], "a": 1})")),
            R"({"a":1,"b":[0.1,"x"]})");
  EXPECT_EQ(task_id(nlohmann::json::parse(R"({"b": [0.10, "x"], "a": 1})")), "f70a6722f07a5c22");
}

// The cv scheme and the dataset format are in the parameters (and so the ids) of the tasks they
// change, and absent for plain folders and K-fold, whose ids stay those of earlier versions.
TEST(Plan, CvSchemesAndFormatsAreInTheParamsTheyChange) {
  const Plan plain = plan_text(kMinimal);
  EXPECT_FALSE(plain.trains.front().params().contains("cv"));
  EXPECT_FALSE(plain.extracts.front().params["dataset"].contains("format"));

  const Plan group = plan_text(
      "dataset: {root: data, format: jaffe, normalize: dataset}\ncv: {folds: 3, group: subject}\n"
      "train: {epochs: [1]}\ngrid: {backbone: [resnet18]}\n");
  ASSERT_EQ(group.trains.size(), 3u);
  const auto scheme = nlohmann::json::parse(R"({"group": "subject"})");
  for (const auto& t : group.trains) {
    EXPECT_EQ(t.params()["cv"], scheme);
    EXPECT_EQ(t.id, sha256_hex(t.params().dump()).substr(0, 16));  // the hand-built text agrees
  }
  for (const auto& e : group.extracts) {
    EXPECT_EQ(e.params["cv"], scheme);  // per-fold statistics follow the grouped folds
    EXPECT_EQ(e.params["dataset"]["format"], "jaffe");
  }

  const Plan official = plan_text(
      "dataset: {root: data, format: fer2013}\ncv: {split: official, test: PrivateTest}\n"
      "train: {epochs: [1]}\ngrid: {backbone: [resnet18]}\n");
  ASSERT_EQ(official.trains.size(), 1u);
  const auto p = official.trains.front().params();
  EXPECT_EQ(p["cv"], nlohmann::json::parse(R"({"split": "official", "test": "PrivateTest"})"));
  EXPECT_EQ(p["fold"], 0);
  EXPECT_EQ(p["folds"], 1);
  EXPECT_EQ(official.trains.front().id, sha256_hex(p.dump()).substr(0, 16));
}

// select: puts its validation share into every train task's parameters (it changes what a head
// trains on) but not its metric; feature sets are shared with the same sweep without select:.
TEST(Plan, SelectAddsTheValidationShareToTrainTasksOnly) {
  const Plan plain = plan_text(kMinimal);
  const Plan selected =
      plan_text(std::string(kMinimal) + "select: {metric: val_macro_f1, val_fraction: 0.25}\n");
  ASSERT_EQ(plain.trains.size(), selected.trains.size());
  ASSERT_EQ(selected.extracts.size(), 1u);
  EXPECT_EQ(selected.extracts.front().id, plain.extracts.front().id);
  for (std::size_t i = 0; i < plain.trains.size(); ++i) {
    EXPECT_FALSE(plain.trains[i].params().contains("val_fraction"));
    const auto p = selected.trains[i].params();
    EXPECT_EQ(p["val_fraction"], 0.25);
    EXPECT_FALSE(p.contains("metric"));
    EXPECT_EQ(selected.trains[i].param("val_fraction"), 0.25);
    EXPECT_EQ(selected.trains[i].id, sha256_hex(p.dump()).substr(0, 16));
    EXPECT_NE(selected.trains[i].id, plain.trains[i].id);
  }
}

// early_stop: every task is evaluated at the rungs it reaches; fine-tuning tasks of one fold share
// a bracket whatever their cut (the same images), never with heads (one per feature set).
TEST(Plan, EarlyStopEvaluatesEveryTaskAtItsRungs) {
  const Plan p = plan_text(
      "dataset: {root: data}\ntrain: {epochs: [8]}\nselect:\nearly_stop: {rungs: [2, 4], eta: "
      "2}\ngrid: {backbone: [resnet18], lr: [0.1, 0.01]}\n");
  ASSERT_EQ(p.trains.size(), 10u);
  for (const auto& t : p.trains) EXPECT_EQ(t.epochs, (std::vector<int>{2, 4, 8}));
  const Plan tuned = plan_text(
      "dataset: {root: data}\ntrain: {epochs: [8]}\nselect:\nearly_stop: {rungs: [2, 4]}\n"
      "grid: {backbone: [resnet18], finetune: [head, layer4, layer3], lr: [0.1, 0.01]}\n");
  ASSERT_EQ(tuned.trains.size(), 30u);
  std::map<std::string, std::multiset<std::string>> cuts;  // bracket → its tasks' finetune
  for (const auto& t : tuned.trains) {
    EXPECT_EQ(t.epochs, (std::vector<int>{2, 4, 8}));
    const auto f = t.param("finetune");
    EXPECT_EQ(runs_alone(t), !f.is_null());
    cuts[bracket_of(tuned, t)].insert(f.is_null() ? "head" : f.get<std::string>());
  }
  ASSERT_EQ(cuts.size(), 10u);  // 5 folds x (heads, fine-tuning)
  for (const auto& [bracket, c] : cuts)
    EXPECT_TRUE(c == std::multiset<std::string>({"head", "head"}) ||
                c == std::multiset<std::string>({"layer3", "layer3", "layer4", "layer4"}))
        << bracket;
}

// Python recomputes every id of every sweep file from the JSON plan: an independent reference
// for the canonical form (sorted keys, compact separators, shortest float text).
TEST(Plan, PythonRecomputesEveryId) {
  const fs::path dir = fs::path(FERSWEEP_TEST_TMP) / "sweep_ids";
  fs::create_directories(dir);
  for (const char* name : {"paper.yaml", "demo.yaml", "lr-wd-study.yaml", "include-exclude.yaml",
                           "fer2013.yaml", "finetune.yaml", "augment.yaml", "search.yaml"}) {
    const Plan p = plan_file(name);
    const DatasetCensus census;
    const fs::path out = dir / (std::string(name) + ".json");
    std::ofstream(out) << plan_json(p, census, estimate_cost(p, census), true).dump();
    const std::string cmd = std::string(FERSWEEP_PYTHON) + " " + FERSWEEP_TESTS_DIR +
                            "/sweep/check_ids.py " + out.string();
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
}

// Fine-tuning tasks: their settings in their parameters (only those their schedule uses), their
// own feature sets (the activations before the cut), head tasks' ids unchanged.
TEST(Plan, FineTuningTasksCarryTheirSettingsAndReadActivations) {
  const Plan p = plan_text(
      "dataset: {root: d}\ntrain: {epochs: [10, 30]}\n"
      "grid: {backbone: resnet18, finetune: [head, layer4, layer3], "
      "schedule: [constant, cosine, step], bn: [frozen]}\n");
  // The schedule does not multiply head tasks: 5 + 2 cuts x 3 schedules x 5 folds.
  expect_counts(p, {0, 3, 35, 70});
  std::map<std::string, std::string> cut_of_extract;
  for (const auto& e : p.extracts) {
    cut_of_extract[e.id] = e.cut;
    EXPECT_EQ(e.params.contains("cut"), e.cut != "head") << e.params.dump();
    if (e.cut != "head") {
      EXPECT_EQ(e.params["cut"], e.cut);
    }
  }
  EXPECT_EQ(cut_of_extract.size(), 3u);
  const Plan heads = plan_text(
      "dataset: {root: d}\ntrain: {epochs: [10, 30]}\n"
      "grid: {backbone: resnet18}\n");
  std::set<std::string> head_ids;
  for (const auto& t : heads.trains) head_ids.insert(t.id);
  EXPECT_EQ(heads.extracts.front().id, p.extracts.front().id);
  std::size_t seen_heads = 0;
  for (const auto& t : p.trains) {
    const auto params = t.params();
    EXPECT_EQ(t.id, sha256_hex(params.dump()).substr(0, 16)) << params.dump();
    const std::string cut = params.value("finetune", "head");
    EXPECT_EQ(cut_of_extract.at(t.extract), cut);
    if (cut == "head") {
      ++seen_heads;
      EXPECT_TRUE(head_ids.count(t.id)) << params.dump();
      for (const char* key : {"bn", "backbone_lr", "schedule", "lr_horizon", "lr_step", "lr_gamma"})
        EXPECT_FALSE(params.contains(key)) << key;
      continue;
    }
    EXPECT_EQ(params["bn"], "frozen");
    EXPECT_EQ(params["backbone_lr"], 0.1);
    const std::string schedule = params["schedule"];
    EXPECT_EQ(params.contains("lr_horizon"), schedule == "cosine");
    EXPECT_EQ(params.contains("lr_step"), schedule == "step");
    EXPECT_EQ(params.contains("lr_gamma"), schedule == "step");
    if (schedule == "cosine") {
      EXPECT_EQ(params["lr_horizon"], 30);  // 0: the last epoch
    }
    if (schedule == "step") {
      EXPECT_EQ(params["lr_step"], 30);
    }
  }
  EXPECT_EQ(seen_heads, 5u);
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_EQ(p.warnings[0],
            "t.yaml:3:62: grid.schedule: applies to fine-tuning and augmented tasks only; the "
            "tasks with finetune: head and no augment train at a constant learning rate");
  EXPECT_TRUE(plan_text("dataset: {root: d}\ngrid: {backbone: resnet18, finetune: [head, layer4], "
                        "schedule: [constant]}\n")
                  .warnings.empty());
}

// Augmented tasks (sweeps/augment.yaml): `augment` in their parameters only when in use, the
// normalised images (cut all) as their feature set whatever their cut, the schedule's keys also
// for a head; plain heads' and fine-tuning tasks' ids as without the key.
TEST(Plan, AugmentedTasksReadImagesAndCarryTheirTransforms) {
  const Plan p = plan_file("augment.yaml");
  expect_counts(p, {1, 3, 30, 60});  // 2 cuts x 3 augmentations x 5 folds; images, pooled, layer4
  std::map<std::string, std::string> cut_of_extract;
  for (const auto& e : p.extracts) cut_of_extract[e.id] = e.cut;
  const Plan plain =
      plan_sweep(load_sweep(testing::sweeps_dir() + "/augment.yaml", {"grid.augment=[none]"}));
  std::set<std::string> plain_ids;
  for (const auto& t : plain.trains) plain_ids.insert(t.id);
  std::map<std::string, int> seen;
  for (const auto& t : p.trains) {
    const auto params = t.params();
    EXPECT_EQ(t.id, sha256_hex(params.dump()).substr(0, 16)) << params.dump();
    const std::string cut = params.value("finetune", "head");
    if (!params.contains("augment")) {
      EXPECT_TRUE(plain_ids.count(t.id)) << params.dump();
      EXPECT_EQ(cut_of_extract.at(t.extract), cut);
      ++seen["plain " + cut];
      continue;
    }
    EXPECT_EQ(cut_of_extract.at(t.extract), "all") << params.dump();
    EXPECT_EQ(params["schedule"], "constant");
    EXPECT_EQ(params.contains("bn"), cut != "head");
    const nlohmann::json& a = params["augment"];
    EXPECT_TRUE(a == nlohmann::json::parse(R"({"hflip": true})") ||
                a == nlohmann::json::parse(
                         R"({"hflip": true, "random_resized_crop": [0.6, 1.0], "rotate": 10.0})"))
        << a.dump();
    ++seen["augmented " + cut];
  }
  EXPECT_EQ(seen, (std::map<std::string, int>{{"augmented head", 10},
                                              {"augmented layer4", 10},
                                              {"plain head", 5},
                                              {"plain layer4", 5}}));
}

TEST(Plan, FineTuningCombinationsTheTrainerCannotRunAreErrors) {
  EXPECT_EQ(testing::config_error("dataset: {root: d}\ntrain: {finetune: layer4}\n"
                                  "grid: {backbone: resnet18, head: [linear, mlp]}\n"),
            "invalid sweep file t.yaml (1 error):\n  t.yaml:3:28: head: finetune: layer4 trains "
            "a linear head; head: mlp works with finetune: head without augment only (exclude the "
            "combination)");
  EXPECT_EQ(testing::config_error("dataset: {root: d}\ntrain: {standardize: true}\n"
                                  "grid: {backbone: resnet18, finetune: [head, all]}\n"),
            "invalid sweep file t.yaml (1 error):\n  t.yaml:2:9: standardize: finetune: all "
            "trains on activations, not features; standardize: true works with finetune: head "
            "without augment only (exclude the combination)");
  EXPECT_EQ(testing::config_error("dataset: {root: d}\ntrain: {augment: {hflip: true}}\n"
                                  "grid: {backbone: resnet18, head: [mlp]}\n"),
            "invalid sweep file t.yaml (1 error):\n  t.yaml:3:28: head: augment trains a linear "
            "head; head: mlp works with finetune: head without augment only (exclude the "
            "combination)");
  EXPECT_EQ(testing::config_error(
                "dataset: {root: d}\n"
                "train: {finetune: layer3, schedule: cosine, lr_horizon: 20, epochs: [10, 30]}\n"
                "grid: {backbone: resnet18}\n"),
            "invalid sweep file t.yaml (1 error):\n  t.yaml:2:45: lr_horizon: schedule cosine "
            "reaches a learning rate of 0 at epoch 20, before the last epoch 30; give lr_horizon "
            ">= 30 (or 0: the sweep's last epoch)");
  // An exclude entry removes the impossible combinations.
  const Plan p = plan_text(
      "dataset: {root: d}\ngrid: {backbone: resnet18, head: [linear, mlp], finetune: [head, "
      "layer4]}\nexclude: [{head: mlp, finetune: layer4}]\n");
  EXPECT_EQ(p.trains.size(), 15u);
}

TEST(Census, CountsImagesAndChecksFoldsAgainstTheSmallestClass) {
  const fs::path root = fs::path(FERSWEEP_TEST_TMP) / "sweep_census";
  fs::remove_all(root);
  const std::map<std::string, int> sizes = {{"Angry", 4}, {"Happy", 6}, {"Sad", 2}};
  for (const auto& [cls, n] : sizes) {
    fs::create_directories(root / cls);
    for (int i = 0; i < n; ++i) std::ofstream(root / cls / fmt::format("{}.JPG", i)) << "x";
    std::ofstream(root / cls / "notes.txt") << "not an image";
  }
  // Counted as the scan counts: nested folders, every OpenCV extension, hidden files not.
  fs::create_directories(root / "Happy" / "clip1");
  std::ofstream(root / "Happy" / "clip1" / "a.jpe") << "x";
  std::ofstream(root / "Happy" / "b.pnm") << "x";
  std::ofstream(root / "Happy" / "._b.jpg") << "x";
  const std::string text = fmt::format(
      "dataset: {{root: {}}}\ncv: {{folds: 3}}\ngrid: {{backbone: resnet18}}\n", root.string());
  const Plan p = plan_text(text);
  const DatasetCensus c = census_dataset(p.spec);
  ASSERT_TRUE(c.found);
  EXPECT_EQ(c.classes, (std::vector<std::string>{"Angry", "Happy", "Sad"}));
  EXPECT_EQ(c.images, (std::vector<std::size_t>{4, 8, 2}));
  EXPECT_EQ(dataset_problems(p, c, false),
            (std::vector<std::string>{
                "t.yaml:2:6: cv.folds: 3 folds need at least 3 images in every class, but class "
                "'Sad' has 2"}));
  const Plan listed =
      plan_text(fmt::format("dataset: {{root: {}, classes: [Angry, Fear]}}\ncv: {{folds: "
                            "2}}\ngrid: {{backbone: resnet18}}\n",
                            root.string()));
  const DatasetCensus lc = census_dataset(listed.spec);
  EXPECT_EQ(dataset_problems(listed, lc, false),
            (std::vector<std::string>{"t.yaml:1:" + std::to_string(19 + root.string().size()) +
                                      ": dataset.classes: class 'Fear' has no folder " +
                                      (root / "Fear").string()}));
  EXPECT_EQ(estimate_cost(p, c).images, 14u);
}

TEST(Census, DatasetCheckRequiresFiles) {
  const Plan p = plan_text(
      "dataset: {root: /nonexistent/sfew}\nweights: {resnet18: /nonexistent/r18.pth}\n"
      "variants: {faces: {detector: haar, cascade: /nonexistent/c.xml}}\n"
      "grid: {backbone: resnet18}\n");
  const DatasetCensus c = census_dataset(p.spec);
  EXPECT_FALSE(c.found);
  EXPECT_TRUE(dataset_problems(p, c, false).empty());
  EXPECT_EQ(dataset_problems(p, c, true),
            (std::vector<std::string>{
                "t.yaml:1:11: dataset.root: the dataset folder /nonexistent/sfew does not exist",
                "t.yaml:3:12: variants.faces: cascade file /nonexistent/c.xml does not exist",
                "t.yaml:2:1: weights: weights file /nonexistent/r18.pth (for resnet18) does not "
                "exist"}));
}

TEST(Cost, BackboneGflopsScaleWithTheImageArea) {
  EXPECT_DOUBLE_EQ(backbone_gflops("resnet18", 224), 1.81);
  EXPECT_DOUBLE_EQ(backbone_gflops("resnet50", 448), 4.09 * 4);
  const Plan p = plan_file("demo.yaml");
  const CostEstimate c = estimate_cost(p, DatasetCensus{});
  EXPECT_FALSE(c.counted);
  const double s = (160.0 / 224.0) * (160.0 / 224.0);
  EXPECT_NEAR(c.extract_gflop, 675 * 2 * (1.81 + 3.66 + 4.09) * s, 1e-6);
  // Each of the 30 training runs would forward all images 200 times.
  EXPECT_NEAR(c.naive_gflop, 675 * 200 * 10 * (1.81 + 3.66 + 4.09) * s, 1e-3);
  EXPECT_EQ(c.finetune_tasks, 0u);
  // finetune.yaml: 40 fine-tuning tasks (2 backbones x 2 variants x 2 cuts x 5 folds), 60 epochs,
  // their trained blocks' share (layer4 0.22, layer3 + layer4 0.5) three times per image.
  const CostEstimate f = estimate_cost(plan_file("finetune.yaml"), DatasetCensus{});
  EXPECT_EQ(f.finetune_tasks, 40u);
  EXPECT_NEAR(f.finetune_gflop, 3 * 675 * 60 * 10 * (0.22 + 0.5) * (1.81 + 4.09), 1e-3);
  // augment.yaml: 5 plain layer4 tasks; 10 augmented heads (the whole network forward every
  // epoch) and 10 augmented layer4 tasks (the frozen 78% forward, layer4 three times), 40 epochs.
  const CostEstimate a = estimate_cost(plan_file("augment.yaml"), DatasetCensus{});
  EXPECT_EQ(a.finetune_tasks, 25u);
  EXPECT_EQ(a.augmented_tasks, 20u);
  EXPECT_NEAR(a.finetune_gflop,
              675 * 40 * 1.81 * (5 * 3 * 0.22 + 10 * 1.0 + 10 * (0.78 + 3 * 0.22)), 1e-3);
  EXPECT_EQ(format_flops(12.34), "12.3 GFLOP");
  EXPECT_EQ(format_flops(4560.0), "4.56 TFLOP");
}

}  // namespace
}  // namespace fersweep::sweep
