// Shared helpers of the model tests: running the Python reference generator, reading its raw
// float32 outputs, comparing tensors with a named tolerance.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace fersweep::model::testing {

/// Scratch folder for one test, emptied first.
inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::path(FERSWEEP_TEST_TMP) / "model" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

/// Runs tests/model/make_reference.py with `args` under Debian's python3 (torch + torchvision).
inline void make_reference(const std::string& args) {
  const std::string cmd =
      std::string(FERSWEEP_PYTHON) + " " + FERSWEEP_TESTS_DIR + "/model/make_reference.py " + args;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

/// A raw little-endian float32 file as a tensor of `shape`.
inline torch::Tensor read_f32(const std::filesystem::path& path, at::IntArrayRef shape) {
  torch::Tensor t = torch::empty(shape, torch::kFloat);
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * 4));
  EXPECT_EQ(in.gcount(), t.numel() * 4) << path;
  return t;
}

/// max |a - b| / max |b|: the error relative to the reference's scale (robust near zero).
inline double max_relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  const double scale = b.abs().max().item<double>();
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>() /
         (scale > 0 ? scale : 1.0);
}

}  // namespace fersweep::model::testing
