// Head training: optimiser steps against python3-torch, multi-checkpoint equivalence, batched ==
// single, determinism across processes and instruction sets, validation and input errors.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>

#include <unistd.h>

#include "core/error.h"
#include "train/head.h"
#include "train/kernels.h"
#include "train/train_fixtures.h"

namespace fersweep::train {
namespace {

using testing::fingerprint;
using testing::fold;
using testing::make_data;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

HeadConfig base_config() {
  HeadConfig c;
  c.eval_epochs = {3};
  c.batch_size = 16;
  c.rng_seed = 11;
  return c;
}

// ---- against python3-torch -------------------------------------------------------------------

struct RefCase {
  std::string name;
  HeadConfig config;
};

std::vector<RefCase> reference_cases() {
  std::vector<RefCase> cases;
  HeadConfig c = base_config();
  cases.push_back({"adam", c});
  c.optimizer = "adamw";
  c.weight_decay = 0.05;
  cases.push_back({"adamw", c});
  c = base_config();
  c.optimizer = "sgd";
  c.lr = 0.1;
  c.momentum = 0.9;
  cases.push_back({"sgd_momentum", c});
  c.momentum = 0.0;
  cases.push_back({"sgd_plain", c});
  c = base_config();
  c.label_smoothing = 0.1;
  c.standardize = true;
  cases.push_back({"adam_smoothing_standardized", c});
  c = base_config();
  c.head = "mlp";
  c.hidden = 9;
  c.lr = 0.005;
  cases.push_back({"mlp_adam", c});
  return cases;
}

// Each case: 40 training rows in batches of 16, 16 and a partial 8, three epochs (9 optimiser
// steps) from the same initial weights and batch orders as the torch.nn/torch.optim reference;
// one Python process runs every case.
TEST(TorchReference, StepsMatchTorchWithin1e5) {
  const int n = 50, d = 20, c = 3;
  auto data = make_data(n, d, c, 1.0, 3);
  std::vector<std::size_t> train, test;
  fold(n, 5, 0, train, test);
  const auto cases = reference_cases();
  std::vector<HeadParams> finals(cases.size());
  std::vector<TrainResult> results;
  std::string cmd = std::string(FERSWEEP_PYTHON) + " " + FERSWEEP_TESTS_DIR + "/train/ref_head.py";
  const std::string tmp = std::string(FERSWEEP_TEST_TMP) + "/train_ref_";
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const HeadConfig& cfg = cases[k].config;
    const HeadParams init = initial_params(d, c, cfg);
    std::vector<std::vector<std::size_t>> orders;
    Rng rng(123 + k);
    for (int e = 0; e < cfg.eval_epochs.back(); ++e) {
      std::vector<std::size_t> o(train.size());
      std::iota(o.begin(), o.end(), std::size_t{0});
      rng.shuffle(o);
      orders.push_back(o);
    }
    RunControl control;
    control.initial = &init;
    control.epoch_orders = &orders;
    control.final_params = &finals[k];
    results.push_back(train_head(data.x, data.y, train, test, c, cfg, control));

    nlohmann::json in;
    in["x"] = std::vector<std::vector<float>>();
    for (int i = 0; i < n; ++i)
      in["x"].push_back(std::vector<float>(data.xv.begin() + i * d, data.xv.begin() + (i + 1) * d));
    in["y"] = data.yv;
    in["num_classes"] = c;
    in["train_idx"] = train;
    in["test_idx"] = test;
    in["orders"] = orders;
    in["w1"] = init.w1;
    in["b1"] = init.b1;
    in["w2"] = init.w2;
    in["b2"] = init.b2;
    in["config"] = {
        {"optimizer", cfg.optimizer},       {"lr", cfg.lr},
        {"weight_decay", cfg.weight_decay}, {"momentum", cfg.momentum},
        {"batch_size", cfg.batch_size},     {"label_smoothing", cfg.label_smoothing},
        {"standardize", cfg.standardize},   {"hidden", cfg.head == "mlp" ? cfg.hidden : 0}};
    std::ofstream(tmp + cases[k].name + "_in.json") << in.dump();
    cmd += " " + tmp + cases[k].name + "_in.json " + tmp + cases[k].name + "_out.json";
  }
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  constexpr double kTol = 1e-5;  // float32 rounding differences over nine steps
  for (std::size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(cases[k].name);
    const auto out = nlohmann::json::parse(read_file(tmp + cases[k].name + "_out.json"));
    auto expect_close = [&](const std::vector<float>& mine, const char* key) {
      const auto ref = out.at(key).get<std::vector<double>>();
      ASSERT_EQ(mine.size(), ref.size()) << key;
      double worst = 0;
      for (std::size_t i = 0; i < ref.size(); ++i)
        worst = std::max(worst, std::abs(mine[i] - ref[i]));
      EXPECT_LE(worst, kTol) << key;
    };
    expect_close(finals[k].w1, "w1");
    expect_close(finals[k].b1, "b1");
    if (cases[k].config.head == "mlp") {
      expect_close(finals[k].w2, "w2");
      expect_close(finals[k].b2, "b2");
    }
    const TrainResult& r = results[k];
    const auto ref_loss = out.at("train_loss").get<std::vector<double>>();
    ASSERT_EQ(r.train_loss.size(), ref_loss.size());
    for (std::size_t e = 0; e < ref_loss.size(); ++e)
      EXPECT_NEAR(r.train_loss[e], ref_loss[e], kTol);
    ASSERT_EQ(r.evals.size(), 1u);
    EXPECT_NEAR(r.evals[0].test_loss, out.at("test_loss").get<double>(), kTol);
    std::int64_t agree = 0;
    const auto pred = out.at("pred").get<std::vector<std::int64_t>>();
    for (std::size_t i = 0; i < test.size(); ++i) agree += pred[i] == data.yv[test[i]];
    EXPECT_NEAR(r.evals[0].accuracy, static_cast<double>(agree) / test.size(), 1e-12);
  }
}

// ---- checkpoints, batching, determinism ------------------------------------------------------

TEST(TrainHead, EvaluationAtEpoch50Of200EqualsA50EpochRunBitForBit) {
  auto data = make_data(120, 40, 4, 0.5, 7);
  std::vector<std::size_t> train, test;
  fold(120, 5, 2, train, test);
  HeadConfig cfg = base_config();
  cfg.batch_size = 32;
  cfg.eval_epochs = {5, 10, 20};
  const TrainResult all = train_head(data.x, data.y, train, test, 4, cfg);
  ASSERT_EQ(all.evals.size(), 3u);
  ASSERT_EQ(all.train_loss.size(), 20u);
  for (int k = 0; k < 2; ++k) {
    HeadConfig single = cfg;
    single.eval_epochs = {cfg.eval_epochs[k]};
    const TrainResult alone = train_head(data.x, data.y, train, test, 4, single);
    ASSERT_EQ(alone.evals.size(), 1u);
    EXPECT_EQ(fingerprint(alone.evals[0]), fingerprint(all.evals[k]));
    for (std::size_t e = 0; e < alone.train_loss.size(); ++e) {
      EXPECT_EQ(alone.train_loss[e], all.train_loss[e]);
      EXPECT_EQ(alone.train_accuracy[e], all.train_accuracy[e]);
    }
  }
  // Each evaluation is of the whole test fold.
  for (const auto& e : all.evals) {
    std::int64_t total = 0;
    for (auto k : e.confusion) total += k;
    EXPECT_EQ(total, static_cast<std::int64_t>(test.size()));
    EXPECT_EQ(e.confusion.size(), 16u);
  }
}

// A run stopped at a rung and continued from its saved state (weights, optimiser moments, the
// shuffle generator's position, curves so far) is bit-identical to one that never stopped, for
// every head and optimiser kind, with a validation part; and a state that does not fit is refused.
TEST(TrainHead, ContinuingASavedStateIsBitIdenticalToNeverStopping) {
  auto data = make_data(120, 40, 4, 0.5, 7);
  std::vector<std::size_t> train, test, val;
  fold(120, 5, 2, train, test);
  for (std::size_t k = 0; k < 12; ++k) val.push_back(train[k * 7]);
  std::vector<std::size_t> fit;
  for (std::size_t i : train)
    if (std::find(val.begin(), val.end(), i) == val.end()) fit.push_back(i);
  for (const std::string kind : {"adam", "sgd", "adamw", "mlp"}) {
    HeadConfig cfg = base_config();
    cfg.batch_size = 32;
    if (kind == "mlp") {
      cfg.head = "mlp";
      cfg.hidden = 16;
    } else {
      cfg.optimizer = kind;
    }
    cfg.eval_epochs = {3, 5, 9};
    RunControl whole_control;
    HeadParams whole_params;
    whole_control.final_params = &whole_params;
    const TrainResult whole = train_head(data.x, data.y, fit, test, 4, cfg, whole_control, val);
    // Stopped after epoch 5 (a rung), then continued to 9.
    HeadConfig to_rung = cfg;
    to_rung.eval_epochs = {3, 5};
    HeadState at_rung;
    RunControl save;
    save.final_state = &at_rung;
    const TrainResult first = train_head(data.x, data.y, fit, test, 4, to_rung, save, val);
    EXPECT_EQ(at_rung.epoch, 5) << kind;
    EXPECT_EQ(fingerprint(at_rung.result), fingerprint(first)) << kind;
    RunControl resume;
    HeadParams continued_params;
    resume.resume = &at_rung;
    resume.final_params = &continued_params;
    const TrainResult continued = train_head(data.x, data.y, fit, test, 4, cfg, resume, val);
    EXPECT_EQ(fingerprint(continued), fingerprint(whole)) << kind;
    ASSERT_EQ(continued.val_evals.size(), 3u) << kind;
    for (std::size_t e = 0; e < 3; ++e)
      EXPECT_EQ(fingerprint(continued.val_evals[e]), fingerprint(whole.val_evals[e])) << kind;
    EXPECT_EQ(continued_params.w1, whole_params.w1) << kind;
    EXPECT_EQ(continued_params.b1, whole_params.b1) << kind;
    EXPECT_EQ(continued_params.w2, whole_params.w2) << kind;
    // A state at or past the run's end, or of another kind of head, is refused by name.
    HeadConfig short_cfg = cfg;
    short_cfg.eval_epochs = {5};
    EXPECT_THROW(
        {
          try {
            train_head(data.x, data.y, fit, test, 4, short_cfg, resume, val);
          } catch (const DataError& e) {
            EXPECT_NE(std::string(e.what()).find("holds epoch 5 of a run of 5"), std::string::npos);
            throw;
          }
        },
        DataError);
  }
  HeadState linear_state;
  {
    HeadConfig cfg = base_config();
    cfg.eval_epochs = {2};
    RunControl save;
    save.final_state = &linear_state;
    train_head(data.x, data.y, fit, test, 4, cfg, save);
  }
  HeadConfig mlp = base_config();
  mlp.head = "mlp";
  mlp.hidden = 16;
  mlp.eval_epochs = {4};
  RunControl wrong;
  wrong.resume = &linear_state;
  EXPECT_THROW(train_head(data.x, data.y, fit, test, 4, mlp, wrong), DataError);
}

TEST(TrainHead, LearnsSeparableClasses) {
  auto data = make_data(300, 64, 7, 1.5, 9);
  std::vector<std::size_t> train, test;
  fold(300, 5, 0, train, test);
  HeadConfig cfg;
  cfg.eval_epochs = {30};
  cfg.standardize = true;
  const TrainResult r = train_head(data.x, data.y, train, test, 7, cfg);
  EXPECT_GT(r.evals[0].accuracy, 0.9);
  EXPECT_LT(r.train_loss.back(), r.train_loss.front());
  HeadConfig mlp = cfg;
  mlp.head = "mlp";
  mlp.hidden = 32;
  EXPECT_GT(train_head(data.x, data.y, train, test, 7, mlp).evals[0].accuracy, 0.9);
}

TEST(TrainHeads, BatchedEqualsEachAloneBitForBit) {
  const int n = 150, c = 5;
  auto data = make_data(n, 36, c, 0.4, 13);
  std::vector<HeadJob> jobs;
  for (int k = 0; k < 3; ++k) {
    HeadJob job;
    fold(n, 3, k, job.train_idx, job.test_idx);
    job.config = base_config();
    job.config.rng_seed = 100 + k;
    job.config.batch_size = 32;
    // Several learning rates, optimisers and epoch lists on one fold share a stacked computation.
    const std::vector<std::pair<std::string, double>> variants{
        {"adam", 0.01}, {"adam", 0.003}, {"adamw", 0.02}, {"sgd", 0.05}};
    for (std::size_t v = 0; v < variants.size(); ++v) {
      job.config.optimizer = variants[v].first;
      job.config.lr = variants[v].second;
      job.config.eval_epochs = v % 2 ? std::vector<int>{2, 6} : std::vector<int>{4};
      job.config.label_smoothing = v == 3 ? 0.1 : 0.0;
      jobs.push_back(job);
    }
  }
  HeadJob mlp = jobs.front();
  mlp.config.head = "mlp";
  mlp.config.hidden = 12;
  jobs.push_back(mlp);
  HeadJob standardized = jobs.front();
  standardized.config.standardize = true;
  jobs.push_back(standardized);

  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  const std::vector<TrainResult> batched = train_heads(data.x, data.y, jobs, c);
  at::set_num_threads(threads);
  ASSERT_EQ(batched.size(), jobs.size());
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const TrainResult alone =
        train_head(data.x, data.y, jobs[j].train_idx, jobs[j].test_idx, c, jobs[j].config);
    EXPECT_EQ(fingerprint(batched[j]), fingerprint(alone)) << "job " << j;
    EXPECT_EQ(batched[j].evals.size(), jobs[j].config.eval_epochs.size());
  }
}

// select:'s validation part: evaluated at the same epochs as the test rows, without touching the
// training (test evaluations and curves are those of the same job without it) and exactly as the
// test rows would be (a job whose test rows are the validation rows gives the same metrics).
TEST(TrainHeads, ValidationRowsAreEvaluatedLikeTestRowsAndChangeNothingElse) {
  const int n = 150, c = 5;
  auto data = make_data(n, 36, c, 0.4, 17);
  HeadJob lin;
  fold(n, 3, 0, lin.train_idx, lin.test_idx);
  // Every fifth training row is set aside for validation.
  std::vector<std::size_t> fit;
  for (std::size_t k = 0; k < lin.train_idx.size(); ++k)
    (k % 5 == 0 ? lin.val_idx : fit).push_back(lin.train_idx[k]);
  lin.train_idx = fit;
  lin.config = base_config();
  lin.config.batch_size = 32;
  lin.config.eval_epochs = {2, 5};
  HeadJob other_lr = lin;  // stacked with lin: its own validation evaluations
  other_lr.config.lr = 0.003;
  HeadJob mlp = lin;
  mlp.config.head = "mlp";
  mlp.config.hidden = 12;
  const std::vector<HeadJob> jobs{lin, other_lr, mlp};
  const std::vector<TrainResult> results = train_heads(data.x, data.y, jobs, c);
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const HeadJob& job = jobs[j];
    const TrainResult& r = results[j];
    ASSERT_EQ(r.val_evals.size(), 2u) << "job " << j;
    const TrainResult without =
        train_head(data.x, data.y, job.train_idx, job.test_idx, c, job.config);
    EXPECT_TRUE(without.val_evals.empty());
    EXPECT_EQ(fingerprint(r), fingerprint(without)) << "job " << j;
    const TrainResult on_val =
        train_head(data.x, data.y, job.train_idx, job.val_idx, c, job.config);
    for (std::size_t e = 0; e < 2; ++e) {
      EXPECT_EQ(fingerprint(r.val_evals[e]), fingerprint(on_val.evals[e])) << "job " << j;
      std::int64_t total = 0;
      for (auto k : r.val_evals[e].confusion) total += k;
      EXPECT_EQ(total, static_cast<std::int64_t>(job.val_idx.size()));
    }
    // train_head with a validation part gives the same as the batched run.
    const TrainResult alone =
        train_head(data.x, data.y, job.train_idx, job.test_idx, c, job.config, {}, job.val_idx);
    ASSERT_EQ(alone.val_evals.size(), 2u);
    EXPECT_EQ(fingerprint(alone.val_evals[1]), fingerprint(r.val_evals[1]));
  }
}

// The workload whose fingerprint must not depend on the process, thread count or instruction set.
std::string determinism_workload() {
  auto data = make_data(90, 50, 3, 0.6, 21);
  std::vector<HeadJob> jobs(2);
  fold(90, 3, 1, jobs[0].train_idx, jobs[0].test_idx);
  jobs[0].config = base_config();
  jobs[0].config.eval_epochs = {2, 5};
  jobs[1] = jobs[0];
  jobs[1].config.head = "mlp";
  jobs[1].config.hidden = 10;
  std::string s;
  for (const auto& r : train_heads(data.x, data.y, jobs, 3)) s += fingerprint(r);
  return s;
}

// Child mode, not a test: with FERSWEEP_TRAIN_CHILD_OUT set, this program writes the workload's
// fingerprint there and exits before any test runs; the test below starts it that way.
[[maybe_unused]] const bool kTrainChildMode = [] {
  const char* out = std::getenv("FERSWEEP_TRAIN_CHILD_OUT");
  if (!out) return false;
  std::ofstream(out) << determinism_workload();
  std::exit(0);
}();

TEST(TrainDeterminism, SameBitsInOtherProcessesThreadCountsAndInstructionSets) {
  const std::string mine = determinism_workload();
  char exe_buf[4096] = {};
  ASSERT_GT(readlink("/proc/self/exe", exe_buf, sizeof exe_buf - 1), 0);
  const std::string exe = exe_buf;
  std::vector<std::string> isas{"auto", "generic"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isas.push_back("avx2");
  int child = 0;
  for (const std::string& isa : isas) {
    const std::string out =
        std::string(FERSWEEP_TEST_TMP) + "/train_child_" + std::to_string(child++);
    std::remove(out.c_str());
    const std::string cmd = "FERSWEEP_TRAIN_CHILD_OUT=" + out + " FERSWEEP_TRAIN_ISA=" + isa +
                            " OMP_NUM_THREADS=" + std::to_string(child) + " " + exe + " > " + out +
                            ".log 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << read_file(out + ".log");
    EXPECT_EQ(read_file(out), mine) << "ISA " << isa;
  }
}

// ---- validation and input errors -------------------------------------------------------------

std::string config_error(const HeadConfig& c) {
  try {
    validate(c);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(TrainHead, ConfigErrorsNameTheParameter) {
  HeadConfig c = base_config();
  EXPECT_EQ(config_error(c), "no error");
  c.head = "conv";
  EXPECT_EQ(config_error(c), "train: head must be 'linear' or 'mlp', got 'conv'");
  c = base_config();
  c.head = "mlp";
  c.hidden = 0;
  EXPECT_EQ(config_error(c), "train: hidden must be >= 1 for an mlp head, got 0");
  c = base_config();
  c.optimizer = "rmsprop";
  EXPECT_EQ(config_error(c), "train: optimizer must be 'adam', 'adamw' or 'sgd', got 'rmsprop'");
  c = base_config();
  c.lr = 0;
  EXPECT_EQ(config_error(c), "train: lr must be > 0, got 0.000000");
  c = base_config();
  c.weight_decay = -1;
  EXPECT_EQ(config_error(c), "train: weight_decay must be >= 0, got -1.000000");
  c = base_config();
  c.momentum = 1;
  EXPECT_EQ(config_error(c), "train: momentum must be in [0, 1), got 1.000000");
  c = base_config();
  c.batch_size = 0;
  EXPECT_EQ(config_error(c), "train: batch_size must be >= 1, got 0");
  c = base_config();
  c.eval_epochs = {};
  EXPECT_EQ(config_error(c), "train: eval_epochs is empty: give at least one epoch count");
  c.eval_epochs = {0};
  EXPECT_EQ(config_error(c), "train: eval_epochs must be >= 1, got 0");
  c.eval_epochs = {100, 50};
  EXPECT_EQ(config_error(c), "train: eval_epochs must be strictly increasing, got 100 then 50");
  c = base_config();
  c.label_smoothing = 1;
  EXPECT_EQ(config_error(c), "train: label_smoothing must be in [0, 1), got 1.000000");
}

TEST(TrainHead, BadInputsAreDataErrors) {
  auto data = make_data(20, 8, 2, 1.0, 1);
  std::vector<std::size_t> train, test;
  fold(20, 4, 0, train, test);
  const HeadConfig cfg = base_config();
  auto message = [&](const at::Tensor& x, const at::Tensor& y, std::vector<std::size_t> tr,
                     int classes) -> std::string {
    try {
      train_head(x, y, tr, test, classes, cfg);
    } catch (const DataError& e) {
      return e.what();
    } catch (const ConfigError& e) {
      return std::string("config: ") + e.what();
    }
    return "no error";
  };
  EXPECT_EQ(message(data.x, data.y, {0, 99}, 2),
            "train: train_idx index 99 is outside the 20 feature rows");
  EXPECT_EQ(message(data.x, data.y, {}, 2), "train: the training fold (train_idx) is empty");
  at::Tensor bad = data.y.clone();
  bad[1] = 7;
  EXPECT_EQ(message(data.x, bad, {0, 1}, 2), "train: label 7 of row 1 is outside [0, 2)");
  EXPECT_EQ(message(data.x.flatten(), data.y, train, 2),
            "train: features must be a 2-D [samples, features] tensor");
  EXPECT_EQ(message(data.x, data.y.narrow(0, 0, 5), train, 2),
            "train: labels must be a 1-D tensor with one label per feature row (20)");
  EXPECT_EQ(message(data.x, data.y, train, 1), "config: train: num_classes must be >= 2, got 1");
  EXPECT_EQ(message(data.x, data.y.to(torch::kFloat), train, 2),
            "train: labels must be an integer tensor (class indices), got float");
  at::Tensor with_nan = data.x.clone();
  with_nan[3][5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(message(with_nan, data.y, train, 2), "train: feature row 3 column 5 is not finite");
}

TEST(TrainHead, AcceptsDoubleFeaturesAndInt32Labels) {
  auto data = make_data(40, 16, 2, 1.0, 2);
  std::vector<std::size_t> train, test;
  fold(40, 4, 0, train, test);
  const HeadConfig cfg = base_config();
  const TrainResult a = train_head(data.x, data.y, train, test, 2, cfg);
  const TrainResult b =
      train_head(data.x.to(torch::kDouble), data.y.to(torch::kInt), train, test, 2, cfg);
  EXPECT_EQ(fingerprint(a), fingerprint(b));
}

}  // namespace
}  // namespace fersweep::train
