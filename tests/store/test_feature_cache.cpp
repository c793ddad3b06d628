// The shared feature cache: location precedence, verified round trips, and every failure being a
// miss or a warning rather than an error.
#include "store/feature_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>

#include "common/test_support.h"
#include "core/hash.h"

namespace fersweep::store {
namespace {
namespace fs = std::filesystem;
using test_support::read_file;
using test_support::scratch_dir;
using test_support::write_file;

FeatureSet small_set() {
  FeatureSet s;
  s.id = "0123456789abcdef";
  s.n = 3;
  s.dim = 2;
  s.values = {1.5f, -2.f, 0.f, 3.25f, 1e-7f, 42.f};
  s.labels = {0, 2, 1};
  s.paths = {"a/1.jpg", "b/2.png", "c/3.jpg"};
  s.attributes = {{"backbone", "resnet18"}};
  return s;
}

TEST(FeatureCache, StoresAndLoadsTheSameValuesUnderTheKeysHash) {
  const FeatureCache cache(scratch_dir("store") / "cache");
  const std::string key = R"({"backbone":"resnet18","image_size":64})";
  EXPECT_FALSE(cache.load(key).has_value());
  const auto file = cache.store(key, small_set(), {{"device", "cpu"}});
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(*file, cache.dir() / (sha256_hex(key) + ".h5"));
  const auto hit = cache.load(key);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->set.values, small_set().values);
  EXPECT_EQ(hit->set.labels, small_set().labels);
  EXPECT_EQ(hit->set.paths, small_set().paths);
  EXPECT_EQ(hit->result.at("device"), "cpu");
  EXPECT_EQ(hit->file, *file);
  // No temp files left beside the entry.
  int files = 0;
  for (const auto& e : fs::directory_iterator(cache.dir())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

// An activation store goes into the cache and comes back with its rows left in the entry file,
// its provenance without the cache's own attributes; a truncated entry is a miss.
TEST(FeatureCache, AStoreOnDiskIsCachedAndReadBackRowByRow) {
  const FeatureCache cache(scratch_dir("store") / "cache");
  FeatureSet set = small_set();
  set.attributes["cut"] = "layer4";
  RowWriter writer(set.id, set.dim);
  writer.append(set.values.data(), set.n);
  set.on_disk = writer.finish();
  set.values.clear();
  const std::string key = R"({"cut":"layer4"})";
  ASSERT_TRUE(cache.store(key, set, {{"device", "cpu"}}).has_value());
  const auto hit = cache.load(key);
  ASSERT_TRUE(hit.has_value());
  ASSERT_TRUE(hit->set.on_disk);
  EXPECT_EQ(hit->set.on_disk->file, cache.entry_path(key));
  EXPECT_EQ(hit->set.attributes, set.attributes);  // no cache_key, no cache_result
  std::vector<float> rows(6);
  RowReader(*hit->set.on_disk, 3, 2).gather({2, 0, 1}, rows.data());
  EXPECT_EQ(rows, (std::vector<float>{1e-7f, 42.f, 1.5f, -2.f, 0.f, 3.25f}));
  fs::resize_file(cache.entry_path(key), fs::file_size(cache.entry_path(key)) - 4);
  testing::internal::CaptureStderr();
  EXPECT_FALSE(cache.load(key).has_value());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("feature cache entry '" + cache.entry_path(key).string() + "' is damaged"),
            std::string::npos)
      << err;
}

TEST(FeatureCache, AnEntryForAnotherKeyOrADamagedEntryIsAMiss) {
  const FeatureCache cache(scratch_dir("store") / "cache");
  const std::string a = R"({"k":"a"})", b = R"({"k":"b"})";
  ASSERT_TRUE(cache.store(a, small_set(), nlohmann::json::object()).has_value());
  fs::copy_file(cache.entry_path(a), cache.entry_path(b));
  testing::internal::CaptureStderr();
  EXPECT_FALSE(cache.load(b).has_value());
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("made for another key"), std::string::npos) << err;
  EXPECT_NE(err.find(cache.entry_path(b).string()), std::string::npos) << err;

  const std::string bytes = read_file(cache.entry_path(a));
  write_file(cache.entry_path(a), bytes.substr(0, bytes.size() / 2));
  testing::internal::CaptureStderr();
  EXPECT_FALSE(cache.load(a).has_value());
  err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("is damaged"), std::string::npos) << err;
  // A new store replaces the damaged entry.
  ASSERT_TRUE(cache.store(a, small_set(), nlohmann::json::object()).has_value());
  EXPECT_TRUE(cache.load(a).has_value());
}

TEST(FeatureCache, AnUnwritableCacheWarnsOnceAndStoresNothing) {
  const fs::path blocker = scratch_dir("store") / "a-file";
  write_file(blocker, "x");
  const FeatureCache cache(blocker / "cache");
  testing::internal::CaptureStderr();
  EXPECT_FALSE(cache.store("{}", small_set(), nlohmann::json::object()).has_value());
  EXPECT_FALSE(cache.store("{}", small_set(), nlohmann::json::object()).has_value());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("cannot store features"), std::string::npos) << err;
  EXPECT_EQ(err.find("cannot store features"), err.rfind("cannot store features")) << err;
  EXPECT_FALSE(cache.load("{}").has_value());
}

TEST(FeatureCache, SweepsTheTempFilesOfKilledRunsAndLeavesLiveOnes) {
  const fs::path dir = scratch_dir("store");
  const FeatureCache cache(dir);
  const pid_t child = fork();  // a process of this machine that has exited
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  auto file = [&](const std::string& name, std::size_t bytes, int days_old) {
    write_file(dir / name, std::string(bytes, 'x'));
    fs::last_write_time(dir / name,
                        fs::file_time_type::clock::now() - std::chrono::hours(24 * days_old));
    return name;
  };
  file(cache_temp_prefix(child) + "0-a.h5", 1000, 0);  // this machine, writer gone
  const std::string live = file(cache_temp_prefix(getpid()) + "1-b.h5", 10, 0);
  // Another machine's (or container's: another PID namespace), being written; then abandoned.
  const std::string writing = file(".tmp-node17@00000000.1@4242-0-c.h5", 10, 0);
  file(".tmp-node17@00000000.1@4242-1-d.h5", 300, 2);
  file(".tmp-4242-0-e.h5", 20, 2);  // an earlier version's, abandoned
  const std::string fresh_old_style = file(".tmp-4242-1-f.h5", 20, 0);
  file("0123.h5", 10, 30);  // an entry and a file of the user's: never swept
  file("notes.txt", 10, 30);
  const SweptTemps swept = cache.sweep_stale_temps();
  EXPECT_EQ(swept.files, 3);
  EXPECT_EQ(swept.bytes, 1320u);
  std::set<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) left.insert(e.path().filename().string());
  EXPECT_EQ(left, (std::set<std::string>{live, writing, fresh_old_style, "0123.h5", "notes.txt"}));
  // The prefix names the host for people, then the machine's boot and PID namespace, then pid.
  const std::string prefix = cache_temp_prefix(42);
  EXPECT_EQ(prefix.rfind(".tmp-", 0), 0u) << prefix;
  EXPECT_NE(prefix.find("@", prefix.find("@") + 1), std::string::npos) << prefix;
  EXPECT_EQ(prefix.substr(prefix.size() - 4), "@42-") << prefix;
  // A cache folder that does not exist yet has nothing to sweep.
  EXPECT_EQ(FeatureCache(dir / "none").sweep_stale_temps().files, 0);
}

TEST(FeatureCache, LocationFollowsFlagThenEnvironmentThenXdgThenHome) {
  ::setenv("FERSWEEP_FEATURE_CACHE", "/env/cache", 1);
  ::setenv("XDG_CACHE_HOME", "/xdg", 1);
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(feature_cache_dir("/flag", false), fs::path("/flag"));
  EXPECT_FALSE(feature_cache_dir("/flag", true).has_value());
  EXPECT_EQ(feature_cache_dir("", false), fs::path("/env/cache"));
  ::unsetenv("FERSWEEP_FEATURE_CACHE");
  EXPECT_EQ(feature_cache_dir("", false), fs::path("/xdg/fersweep/features"));
  ::unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(feature_cache_dir("", false), fs::path("/home/u/.cache/fersweep/features"));
}

}  // namespace
}  // namespace fersweep::store
