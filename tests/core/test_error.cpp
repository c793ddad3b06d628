// Error hierarchy: exit codes and rewrapping of third-party exceptions with context.
#include "core/error.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <opencv2/imgcodecs.hpp>

namespace fersweep {
namespace {

TEST(Error, ExitCodesFollowTheDocumentedTable) {
  EXPECT_EQ(Error("x").exit_code(), ExitCode::runtime_failure);
  EXPECT_EQ(UsageError("x").exit_code(), ExitCode::usage);
  EXPECT_EQ(ConfigError("x").exit_code(), ExitCode::usage);
  EXPECT_EQ(DataError("x").exit_code(), ExitCode::runtime_failure);
  EXPECT_EQ(ModelError("x").exit_code(), ExitCode::runtime_failure);
  EXPECT_EQ(IoError("x").exit_code(), ExitCode::runtime_failure);
  EXPECT_EQ(CommError("x").exit_code(), ExitCode::runtime_failure);
  EXPECT_EQ(InterruptedError("x").exit_code(), ExitCode::interrupted);
  EXPECT_EQ(TasksFailedError("x").exit_code(), ExitCode::tasks_failed);
  EXPECT_EQ(static_cast<int>(ExitCode::tasks_failed), 4);
}

TEST(Error, LibTorchErrorsLoseTheirBacktraceAndGainContext) {
  try {
    with_context<ModelError>("loading 'w.pth'", [] {
      auto a = torch::zeros({2, 3});
      auto b = torch::zeros({4, 5});
      return torch::matmul(a, b);
    });
    FAIL() << "no exception";
  } catch (const ModelError& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("loading 'w.pth': LibTorch: ", 0), 0u) << m;
    EXPECT_NE(m.find("cannot be multiplied"), std::string::npos) << m;
    EXPECT_EQ(m.find("frame #"), std::string::npos) << "backtrace leaked: " << m;
  }
}

TEST(Error, YamlErrorsBecomeTheRequestedType) {
  EXPECT_THROW(with_context<ConfigError>("sweep.yaml", [] { return YAML::Load("a: [1, 2"); }),
               ConfigError);
}

TEST(Error, OpenCvErrorsKeepTheirMessage) {
  try {
    with_context<DataError>("decoding", [] {
      cv::Mat empty;
      std::vector<uchar> buf;
      return cv::imencode(".png", empty, buf);
    });
    FAIL() << "no exception";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("decoding: OpenCV: "), std::string::npos) << e.what();
  }
}

TEST(Error, FersweepErrorsKeepTheirType) {
  EXPECT_THROW(with_context<IoError>("outer", [] { throw ConfigError("inner"); }), ConfigError);
  try {
    with_context<IoError>("outer", [] { throw DataError("inner"); });
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "outer: inner");
  }
}

TEST(Error, AssertNamesFileAndLine) {
  try {
    FERSWEEP_ASSERT(1 + 1 == 3, "arithmetic");
    FAIL();
  } catch (const InternalError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("test_error.cpp:"), std::string::npos) << m;
    EXPECT_NE(m.find("arithmetic"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace fersweep
