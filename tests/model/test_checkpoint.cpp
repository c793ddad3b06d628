// Weight files and weights resolution: every malformed or mismatched file is a ModelError naming
// the file and the problem; auto/random/path resolution and their provenance.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <caffe2/serialize/inline_container.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <random>

#include "core/error.h"
#include "core/hash.h"
#include "model/checkpoint.h"
#include "model/state_pickle.h"
#include "model/weights.h"
#include "model_test_util.h"

namespace fersweep::model {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

/// The bad files, generated once for all test processes (ctest runs each test as its own
/// process, possibly in parallel): written to a private folder, then renamed into place.
const fs::path& bad_dir() {
  static const fs::path dir = [] {
    // Named after the generator's hash, so an edited generator never reuses stale files.
    const std::string version =
        sha256_file(fs::path(FERSWEEP_TESTS_DIR) / "model" / "make_reference.py").substr(0, 12);
    const fs::path final_dir = fs::path(FERSWEEP_TEST_TMP) / "model" / ("bad_files_" + version);
    if (fs::exists(final_dir / "short_storage.pth")) return final_dir;
    const auto mine = testing::fresh_dir("bad_" + std::to_string(::getpid()));
    testing::make_reference("bad " + mine.string());
    std::error_code ec;
    fs::rename(mine, final_dir, ec);  // fails harmlessly when another process won the race
    if (ec) fs::remove_all(mine);
    return final_dir;
  }();
  return dir;
}

std::string load_error(const std::string& file, Arch arch = Arch::resnet18) {
  const fs::path p = bad_dir() / file;
  try {
    WeightsSpec spec;
    spec.kind = WeightsSpec::file;
    spec.path = p;
    resolve_weights(spec, arch);
  } catch (const ModelError& e) {
    const std::string m = e.what();
    EXPECT_THAT(m, HasSubstr(p.string())) << "the message must name the file";
    EXPECT_EQ(m.find("INTERNAL ASSERT"), std::string::npos) << m;
    EXPECT_EQ(m.find("frame #"), std::string::npos) << m;
    return m;
  }
  ADD_FAILURE() << file << " loaded without error";
  return "";
}

TEST(Checkpoint, EmptyFile) {
  EXPECT_THAT(load_error("empty.pth"), HasSubstr("is empty (0 bytes)"));
}

TEST(Checkpoint, NotAZip) {
  EXPECT_THAT(load_error("notzip.pth"), HasSubstr("is not a PyTorch weights file (not a zip"));
}

TEST(Checkpoint, MissingFile) {
  EXPECT_THAT(load_error("nonexistent.pth"), HasSubstr("does not exist"));
}

TEST(Checkpoint, TruncatedZip) {
  EXPECT_THAT(load_error("truncated.pth"),
              HasSubstr("is not a readable PyTorch zip archive (truncated or corrupt?)"));
}

TEST(Checkpoint, LegacyFormatIsNamed) {
  EXPECT_THAT(load_error("legacy.pth"), HasSubstr("legacy (pre-1.6) torch.save format"));
}

TEST(Checkpoint, ResNet50FileForResNet18ListsKeysAndShapes) {
  const std::string m = load_error("r50.pth", Arch::resnet18);
  EXPECT_THAT(m, HasSubstr("the weights do not fit resnet18 (they are resnet50 weights)"));
  EXPECT_THAT(m, HasSubstr("unexpected key(s): layer1.0.conv3.weight, layer1.0.bn3.weight"));
  EXPECT_THAT(m, HasSubstr("layer1.0.conv1.weight is [64, 64, 1, 1] in the file, resnet18 "
                           "expects [64, 64, 3, 3]"));
  EXPECT_THAT(m, HasSubstr("24 shape mismatch(es)"));
}

TEST(Checkpoint, MissingAndUnexpectedKeysAreNamed) {
  const std::string m = load_error("r18_missing.pth");
  EXPECT_THAT(m, HasSubstr("2 missing key(s): bn1.running_var, layer4.1.conv2.weight"));
  EXPECT_THAT(m, HasSubstr("1 unexpected key(s): extra.weight"));
}

TEST(Checkpoint, WrongDtype) {
  const std::string m = load_error("r18_double.pth");
  EXPECT_THAT(m, HasSubstr("102 tensor(s) not float32: conv1.weight is Double"));
}

TEST(Checkpoint, UnsupportedOpcode) {
  EXPECT_THAT(load_error("opcode.pth"), HasSubstr("unsupported pickle opcode 0x47 (BINFLOAT)"));
}

TEST(Checkpoint, UnsupportedGlobal) {
  EXPECT_THAT(load_error("global.pth"), HasSubstr("unsupported global 'posix.getcwd'"));
}

TEST(Checkpoint, TensorLargerThanItsStorage) {
  EXPECT_THAT(load_error("oversize.pth"),
              HasSubstr("tensor 'conv1.weight' declares size [9, 3, 3, 3] (stride [27, 9, 3, "
                        "1], offset 0) needing 243 elements, but its storage data/0 holds only "
                        "54"));
}

TEST(Checkpoint, StorageRecordShorterThanDeclared) {
  EXPECT_THAT(load_error("short_storage.pth"),
              HasSubstr("storage record data/0 holds 40 bytes, but the pickle declares 54 "
                        "elements of 4 bytes"));
}

TEST(Checkpoint, TruncatedPickle) {
  EXPECT_THAT(load_error("pickle_cut.pth"), HasSubstr("pickle ends early (file truncated?)"));
}

// Random byte damage to a real state-dict pickle: every outcome is a result or a ModelError,
// never a crash, a hang or another exception type (run under the sanitizer preset too).
TEST(Checkpoint, DamagedPicklesFailCleanly) {
  caffe2::serialize::PyTorchStreamReader zip((bad_dir() / "r18.pth").string());
  auto [ptr, size] = zip.getRecord("data.pkl");
  const std::string original(static_cast<const char*>(ptr.get()), size);
  std::map<std::string, torch::Tensor> records;  // read each storage once
  auto loader = [&](const std::string& key) {
    if (!zip.hasRecord("data/" + key)) throw ModelError("damaged.pth: no record data/" + key);
    auto& t = records[key];
    if (!t.defined()) {
      auto [data, n] = zip.getRecord("data/" + key);
      t = torch::from_blob(data.get(), {static_cast<std::int64_t>(n)}, torch::kByte).clone();
    }
    return t;
  };
  std::mt19937 rng(12345);
  int failures = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string damaged = original;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e)
      damaged[rng() % damaged.size()] = static_cast<char>(rng() % 256);
    try {
      detail::unpickle_state_dict(damaged, "damaged.pth", loader);
    } catch (const ModelError& err) {
      ++failures;
      EXPECT_EQ(std::string(err.what()).rfind("damaged.pth: ", 0), 0u) << err.what();
    }
  }
  EXPECT_GT(failures, 0);
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ModelError& e) {
    return e.what();
  }
  return "no error";
}

// read_checkpoint_bytes (the fuzzer's entry point) is the same reader: same tensors, same errors.
TEST(Checkpoint, BytesReaderMatchesFileReader) {
  for (const char* name : {"r18.pth", "small.pth"}) {
    const fs::path p = bad_dir() / name;
    const StateDict a = read_checkpoint(p);
    const StateDict b = read_checkpoint_bytes(file_bytes(p), p.string());
    ASSERT_EQ(a.size(), b.size()) << name;
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].first, b[i].first);
      EXPECT_TRUE(a[i].second.equal(b[i].second)) << a[i].first;
    }
  }
  for (const char* name : {"empty.pth", "notzip.pth", "truncated.pth", "legacy.pth", "opcode.pth",
                           "global.pth", "oversize.pth", "pickle_cut.pth", "short_storage.pth"}) {
    const fs::path p = bad_dir() / name;
    const std::string from_file = error_of([&] { read_checkpoint(p); });
    EXPECT_THAT(from_file, HasSubstr(p.string()));
    EXPECT_EQ(error_of([&] { read_checkpoint_bytes(file_bytes(p), p.string()); }), from_file);
  }
}

TEST(Checkpoint, StateDictReadsInFileOrderWithTensorsIntact) {
  const StateDict sd = read_checkpoint(bad_dir() / "r18.pth");
  const auto layout = state_dict_layout(Arch::resnet18);
  ASSERT_EQ(sd.size(), layout.size());
  for (std::size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(sd[i].first, layout[i].name);
    EXPECT_EQ(sd[i].second.sizes().vec(), layout[i].shape) << sd[i].first;
  }
  EXPECT_EQ(find_tensor(sd, "bn1.num_batches_tracked").item<std::int64_t>(), 1234);
  EXPECT_EQ(find_tensor(sd, "bn1.running_var").scalar_type(), at::kFloat);
  // The double file holds the same values exactly (float → double is exact).
  const StateDict sd64 = read_checkpoint(bad_dir() / "r18_double.pth");
  EXPECT_TRUE(torch::equal(find_tensor(sd64, "layer3.1.conv2.weight").to(at::kFloat),
                           find_tensor(sd, "layer3.1.conv2.weight")));
}

// TorchScript archives are read by our pickle reader (never LibTorch's importer): a scripted and a
// traced ResNet-18 give exactly the state dict's keys, order and tensors.
TEST(Checkpoint, TorchScriptArchivesGiveTheStateDict) {
  const StateDict sd = read_checkpoint(bad_dir() / "r18.pth");
  for (const char* name : {"r18_script.pt", "r18_trace.pt"}) {
    const StateDict ts = read_checkpoint(bad_dir() / name);
    ASSERT_EQ(ts.size(), sd.size()) << name;
    for (std::size_t i = 0; i < sd.size(); ++i) {
      EXPECT_EQ(ts[i].first, sd[i].first) << name;
      EXPECT_EQ(ts[i].second.scalar_type(), sd[i].second.scalar_type()) << sd[i].first;
      EXPECT_TRUE(torch::equal(ts[i].second, sd[i].second)) << name << " " << sd[i].first;
    }
  }
}

TEST(Checkpoint, TorchScriptModuleContainingItself) {
  EXPECT_THAT(load_error("script_cycle.pt"),
              HasSubstr("TorchScript module 'self' (__torch__.M.M) contains itself"));
}

// The damaged TorchScript archive fuzz_checkpoint found: torch::jit::load crashed on it (SIGSEGV
// in its type parser, importing the archive's code). Its damage is one local header's file name;
// the directory, data.pkl and storages are intact, so the weights of its nn.Linear(2, 2) read.
TEST(Checkpoint, DamagedTorchScriptArchiveFoundByFuzzing) {
  const fs::path p =
      fs::path(FERSWEEP_TESTS_DIR) / "fuzz" / "corpus" / "fuzz_checkpoint" / "torchscript-segv";
  const StateDict sd = read_checkpoint_bytes(file_bytes(p), "damaged.pt");
  ASSERT_EQ(sd.size(), 2u);
  EXPECT_EQ(sd[0].first, "weight");
  EXPECT_EQ(sd[0].second.sizes().vec(), (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(sd[1].first, "bias");
  EXPECT_EQ(sd[1].second.sizes().vec(), (std::vector<std::int64_t>{2}));
}

TEST(Checkpoint, ClassifierMayHaveAnyNumberOfClassesButTheFeatureWidth) {
  StateDict sd = random_state_dict(Arch::resnet18, 1);
  for (auto& [k, t] : sd) {
    if (k == "fc.weight") t = torch::zeros({7, 512});
    if (k == "fc.bias") t = torch::zeros({7});
  }
  EXPECT_NO_THROW(check_state_dict(sd, Arch::resnet18, "fine-tuned"));
  for (auto& [k, t] : sd)
    if (k == "fc.weight") t = torch::zeros({7, 100});
  try {
    check_state_dict(sd, Arch::resnet18, "fine-tuned");
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr("fine-tuned: the weights do not fit resnet18; 1 shape "
                                    "mismatch(es): fc.weight is [7, 100] in the file, resnet18 "
                                    "expects [classes, 512]"));
  }
}

TEST(Weights, ParseWeights) {
  EXPECT_EQ(parse_weights("auto").kind, WeightsSpec::automatic);
  EXPECT_EQ(parse_weights("random").kind, WeightsSpec::random);
  EXPECT_EQ(parse_weights("random").seed, 0u);
  const WeightsSpec r = parse_weights("random:42");
  EXPECT_EQ(r.kind, WeightsSpec::random);
  EXPECT_EQ(r.seed, 42u);
  const WeightsSpec f = parse_weights("/data/resnet18.pth");
  EXPECT_EQ(f.kind, WeightsSpec::file);
  EXPECT_EQ(f.path, fs::path("/data/resnet18.pth"));
  EXPECT_THROW(parse_weights(""), ConfigError);
  try {
    parse_weights("random:x1");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'random:x1' has a bad seed"));
  }
  EXPECT_THROW(parse_weights("random:-3"), ConfigError);
}

TEST(Weights, RandomWeightsAreSeededLabelledAndInitialisedLikeTorchvision) {
  const ResolvedWeights a = resolve_weights(parse_weights("random:7"), Arch::resnet18);
  const ResolvedWeights b = resolve_weights(parse_weights("random:7"), Arch::resnet18);
  const ResolvedWeights c = resolve_weights(parse_weights("random:8"), Arch::resnet18);
  EXPECT_TRUE(a.random);
  EXPECT_EQ(a.origin, "random weights (seed 7)");
  EXPECT_EQ(a.sha256, b.sha256);
  EXPECT_NE(a.sha256, c.sha256);
  EXPECT_EQ(a.sha256.size(), 64u);
  // Kaiming normal, fan_out, ReLU gain: std = sqrt(2 / (out_channels * kh * kw)).
  const auto w = find_tensor(a.state, "layer3.0.conv2.weight");
  EXPECT_NEAR(w.std().item<double>(), std::sqrt(2.0 / (256 * 9)), 0.002);
  EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.001);
  EXPECT_TRUE(torch::equal(find_tensor(a.state, "bn1.running_var"), torch::ones({64})));
}

TEST(Weights, FileWeightsRecordPathAndSha256) {
  const fs::path p = bad_dir() / "r18.pth";
  const ResolvedWeights w = resolve_weights(parse_weights(p.string()), Arch::resnet18);
  EXPECT_FALSE(w.random);
  EXPECT_EQ(w.origin, p.string());
  EXPECT_EQ(w.sha256, sha256_file(p));
  EXPECT_EQ(w.state.size(), 122u);
}

/// Sets an environment variable for the scope of one test.
struct ScopedEnv {
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { had_ ? (void)::setenv(name_, old_.c_str(), 1) : (void)::unsetenv(name_); }
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(Weights, AutoSaysWhichFileToPutWhere) {
  const fs::path home = testing::fresh_dir("torch_home_empty");
  ScopedEnv env("TORCH_HOME", home.string());
  EXPECT_EQ(torchvision_checkpoint_dir(), home / "hub" / "checkpoints");
  try {
    resolve_weights(parse_weights("auto"), Arch::resnet50);
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr("auto found no torchvision weights for resnet50 in '" +
                                    (home / "hub" / "checkpoints").string() +
                                    "'; put resnet50-0676ba61.pth there"));
  }
}

TEST(Weights, AutoRejectsAFileWhoseSha256DoesNotMatchItsName) {
  const fs::path home = testing::fresh_dir("torch_home_bad");
  fs::create_directories(home / "hub" / "checkpoints");
  fs::copy_file(bad_dir() / "r18.pth", home / "hub" / "checkpoints" / "resnet18-f37072fd.pth");
  ScopedEnv env("TORCH_HOME", home.string());
  try {
    resolve_weights(parse_weights("auto"), Arch::resnet18);
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr("resnet18-f37072fd.pth' is corrupt or incomplete"));
  }
}

TEST(Weights, DefaultCheckpointDirFollowsTorchHub) {
  ScopedEnv torch_home("TORCH_HOME", "");
  ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
  EXPECT_EQ(torchvision_checkpoint_dir(), fs::path("/xdg/torch/hub/checkpoints"));
  ScopedEnv xdg_empty("XDG_CACHE_HOME", "");
  ScopedEnv home("HOME", "/home/u");
  EXPECT_EQ(torchvision_checkpoint_dir(), fs::path("/home/u/.cache/torch/hub/checkpoints"));
}

}  // namespace
}  // namespace fersweep::model
