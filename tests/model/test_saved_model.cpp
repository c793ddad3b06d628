// Kept models: what saved_model_bytes writes, load_saved_model reads back (Python's torch.load
// reading the same files is tests/run/test_finetune_e2e.py); bad files are ModelErrors naming
// the file.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "model/saved_model.h"

namespace fersweep::model {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::path(FERSWEEP_TEST_TMP) / "saved_model";
  fs::create_directories(dir);
  return dir / name;
}

void write(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(SavedModel, RoundTripsEveryField) {
  torch::manual_seed(1);
  SavedModel m;
  m.task_id = "0123456789abcdef";
  m.params = {{"backbone", "resnet18"}, {"finetune", "layer4"}, {"lr", 0.001}};
  m.classes = {"Angry", "Happy", "Neutral"};
  m.epoch = 40;
  m.state = {{"layer4.0.conv1.weight", torch::randn({4, 2, 3, 3})},
             {"layer4.0.bn1.running_mean", torch::randn({4})},
             {"fc.weight", torch::randn({3, 4})},
             {"fc.bias", torch::randn({3})}};
  m.frozen = {{"extract", "fedcba9876543210"}, {"cut", "layer4"}};
  m.mean = torch::randn({4}, torch::kFloat64);
  m.inv_std = torch::rand({4}, torch::kFloat64);
  const fs::path path = scratch("model.pt");
  write(path, saved_model_bytes(m));

  const SavedModel back = load_saved_model(path);
  EXPECT_EQ(back.task_id, m.task_id);
  EXPECT_EQ(back.params, m.params);
  EXPECT_EQ(back.classes, m.classes);
  EXPECT_EQ(back.epoch, 40);
  EXPECT_EQ(back.frozen, m.frozen);
  ASSERT_EQ(back.state.size(), m.state.size());
  for (std::size_t i = 0; i < m.state.size(); ++i) {
    EXPECT_EQ(back.state[i].first, m.state[i].first);  // insertion order kept
    EXPECT_TRUE(torch::equal(back.state[i].second, m.state[i].second)) << m.state[i].first;
  }
  EXPECT_TRUE(torch::equal(back.mean, m.mean));
  EXPECT_TRUE(torch::equal(back.inv_std, m.inv_std));

  m.mean = m.inv_std = at::Tensor();  // without standardize
  write(path, saved_model_bytes(m));
  EXPECT_FALSE(load_saved_model(path).mean.defined());
}

// The ModelError message of loading `path`, or "" when it loads.
std::string load_error(const fs::path& path) {
  try {
    load_saved_model(path);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

TEST(SavedModel, BadFilesAreModelErrorsNamingTheFile) {
  const fs::path missing = scratch("missing.pt");
  fs::remove(missing);
  EXPECT_NE(load_error(missing).find("cannot open kept model '" + missing.string() + "'"),
            std::string::npos)
      << load_error(missing);
  const fs::path junk = scratch("junk.pt");
  write(junk, "not a pickle at all");
  EXPECT_NE(load_error(junk).find("reading kept model '" + junk.string() + "'"), std::string::npos)
      << load_error(junk);
  // A pickled dict that is not a kept model.
  c10::impl::GenericDict other(c10::StringType::get(), c10::AnyType::get());
  other.insert("format", c10::IValue(std::string("something-else")));
  const auto bytes = torch::pickle_save(c10::IValue(other));
  const fs::path wrong = scratch("wrong.pt");
  write(wrong, std::string(bytes.begin(), bytes.end()));
  EXPECT_NE(load_error(wrong).find("is not a fersweep-model-1 file"), std::string::npos)
      << load_error(wrong);
}

}  // namespace
}  // namespace fersweep::model
