// The HDF5 wrapper: round trips, reading back with h5py (an independent decoder), clear errors.
#include "store/h5.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/error.h"

namespace fersweep::store {
namespace {

std::string tmp(const std::string& name) {
  return std::string(FERSWEEP_TEST_TMP) + "/" + name;
}

std::string run_python(const std::string& script) {
  const std::string path = tmp("h5_probe.py");
  std::ofstream(path) << script;
  std::string out;
  FILE* p = popen((std::string(FERSWEEP_PYTHON) + " " + path + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << out;
  return out;
}

TEST(H5File, RoundTripAndH5pyAgree) {
  const std::string path = tmp("roundtrip.h5");
  write_h5_atomically(path, [](H5File& f) {
    f.write("/runs/accuracy", std::vector<double>{0.25, 0.5, 0.75});
    f.write("/runs/confusion", std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
    std::vector<float> big(300 * 512);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 977) * 0.5f;
    f.write("/features", big, {300, 512});
    f.write_strings("/runs/backbone", {"resnet18", "resnet50", "Ünïcode name"});
    f.set_attribute("/", "sweep_text", std::string("name: demo\n"));
    f.set_attribute("/runs", "count", std::int64_t{3});
    f.set_attribute("/runs", "ratio", 0.125);
  });
  H5File f(path, H5File::Mode::read);
  EXPECT_EQ(f.read_f64("/runs/accuracy").values, (std::vector<double>{0.25, 0.5, 0.75}));
  const auto conf = f.read_i64("/runs/confusion");
  EXPECT_EQ(conf.dims, (std::vector<hsize_t>{2, 2, 2}));
  EXPECT_EQ(conf.values[7], 8);
  EXPECT_EQ(f.read_f32("/features").values[978], 0.5f);
  EXPECT_EQ(f.read_strings("/runs/backbone")[2], "Ünïcode name");
  EXPECT_EQ(f.string_attribute("/", "sweep_text"), "name: demo\n");
  EXPECT_EQ(f.int_attribute("/runs", "count"), 3);
  EXPECT_EQ(f.double_attribute("/runs", "ratio"), 0.125);
  EXPECT_EQ(f.list("/runs"), (std::vector<std::string>{"accuracy", "backbone", "confusion"}));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  const std::string out = run_python(
      "import h5py, numpy as np\n"
      "f = h5py.File('" +
      path +
      "', 'r')\n"
      "print(list(f['runs/accuracy'][()]), f['runs/confusion'][1,1,1], f['features'].shape,\n"
      "      float(f['features'][1, 466]), f['runs/backbone'].asstr()[2], f.attrs['sweep_text'],\n"
      "      f['runs'].attrs['count'])\n");
  EXPECT_EQ(out, "[0.25, 0.5, 0.75] 8 (300, 512) 0.5 Ünïcode name name: demo\n 3\n");
}

TEST(H5File, DatasetClassTellsIntegersFloatsAndStrings) {
  const std::string path = tmp("classes.h5");
  write_h5_atomically(path, [](H5File& f) {
    f.write("/i", std::vector<std::int64_t>{1, 2});
    f.write("/b", std::vector<std::uint8_t>{1});
    f.write("/d", std::vector<double>{0.5});
    f.write("/s", std::vector<float>{0.5f});
    f.write_strings("/t", {"a"});
  });
  // Fixed-length strings, as other writers may produce them. (Not through run_python: its script
  // file is shared with the other tests, which ctest may run at the same time.)
  const std::string add_fixed = std::string(FERSWEEP_PYTHON) +
                                " -c \"import h5py, numpy as np; f = h5py.File('" + path +
                                "', 'a'); f['fixed'] = np.array([b'ab', b'cd']); f.close()\"";
  ASSERT_EQ(std::system(add_fixed.c_str()), 0);
  H5File f(path, H5File::Mode::read);
  EXPECT_EQ(f.dataset_class("/i"), H5Class::integer);
  EXPECT_EQ(f.dataset_class("/b"), H5Class::integer);
  EXPECT_EQ(f.dataset_class("/d"), H5Class::floating);
  EXPECT_EQ(f.dataset_class("/s"), H5Class::floating);
  EXPECT_EQ(f.dataset_class("/t"), H5Class::string);
  EXPECT_EQ(f.dataset_class("/fixed"), H5Class::string);
  EXPECT_THROW(f.dataset_class("/none"), IoError);
}

TEST(H5File, MissingFileNamesThePath) {
  try {
    H5File f(tmp("nope.h5"), H5File::Mode::read);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("nope.h5': no such file"), std::string::npos) << e.what();
  }
}

TEST(H5File, NonHdf5FileIsAClearErrorWithoutHdf5Stack) {
  const std::string path = tmp("not_hdf5.h5");
  std::ofstream(path) << "this is not HDF5";
  testing::internal::CaptureStderr();
  try {
    H5File f(path, H5File::Mode::read);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("not_hdf5.h5' as HDF5"), std::string::npos) << e.what();
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "") << "HDF5 printed its error stack";
}

TEST(H5File, MissingDatasetNamesObjectAndFile) {
  const std::string path = tmp("small.h5");
  write_h5_atomically(path, [](H5File& f) { f.write("/a", std::vector<double>{1}); });
  H5File f(path, H5File::Mode::read);
  try {
    f.read_f64("/runs/b");
    FAIL();
  } catch (const IoError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'/runs/b'"), std::string::npos) << m;
    EXPECT_NE(m.find("small.h5"), std::string::npos) << m;
  }
}

TEST(H5File, FailedFillLeavesTheOldFileIntact) {
  const std::string path = tmp("atomic.h5");
  write_h5_atomically(path, [](H5File& f) { f.write("/v", std::vector<double>{1, 2}); });
  EXPECT_THROW(write_h5_atomically(path,
                                   [](H5File& f) {
                                     f.write("/v", std::vector<double>{3});
                                     throw IoError("disk full (simulated)");
                                   }),
               IoError);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  H5File f(path, H5File::Mode::read);
  EXPECT_EQ(f.read_f64("/v").values, (std::vector<double>{1, 2}));
}

}  // namespace
}  // namespace fersweep::store
