// Rows on disk: spill files written and gathered back, activation stores written into a contiguous
// /features that HDF5 itself reads back, provenance kept, a truncated or oversized file refused by
// name with nothing left behind, and memory bounded by a chunk while hundreds of MB go through.
#include "store/rows.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <numeric>

#include "common/test_support.h"
#include "core/error.h"
#include "store/features_file.h"
#include "store/h5.h"

namespace fersweep::store {
namespace {
namespace fs = std::filesystem;

// A store of n rows of dim floats, row r holding r * 1000 + column.
FeatureSet spilled_set(std::int64_t n, std::int64_t dim) {
  FeatureSet set;
  set.id = "0123456789abcdef";
  set.n = n;
  set.dim = dim;
  RowWriter writer(set.id, dim);
  std::vector<float> row(static_cast<std::size_t>(dim));
  for (std::int64_t r = 0; r < n; ++r) {
    std::iota(row.begin(), row.end(), static_cast<float>(r * 1000));
    writer.append(row.data(), 1);
    set.labels.push_back(r % 7);
    set.paths.push_back("class/" + std::to_string(r) + ".png");
  }
  set.on_disk = writer.finish();
  set.attributes = {
      {"cut", "layer3"}, {"backbone", "resnet18"}, {"image_size", 32}, {"images_per_second", 12.5}};
  return set;
}

std::int64_t file_size(const RowsOnDisk& rows) {
  struct stat st {};
  return ::fstat(rows.open->fd(), &st) == 0 ? st.st_size : -1;
}

// A spill file has no name once created (an aborted or killed process leaves nothing behind):
// its rows are read through the descriptor, in any order.
TEST(Rows, SpilledRowsAreNamelessAndGatheredInAnyOrder) {
  const FeatureSet set = spilled_set(50, 6);
  EXPECT_EQ(set.on_disk->file.parent_path(), spill_dir());
  EXPECT_FALSE(fs::exists(set.on_disk->file));
  EXPECT_TRUE(fs::is_empty(spill_dir()));
  EXPECT_EQ(file_size(*set.on_disk), 50 * 6 * static_cast<std::int64_t>(sizeof(float)));
  const RowReader reader(*set.on_disk, set.n, set.dim);
  const std::vector<std::size_t> idx = {7, 8, 9, 3, 49, 0, 0};
  std::vector<float> out(idx.size() * 6);
  reader.gather(idx, out.data());
  for (std::size_t i = 0; i < idx.size(); ++i)
    for (std::size_t c = 0; c < 6; ++c)
      ASSERT_EQ(out[i * 6 + c], static_cast<float>(idx[i] * 1000 + c)) << i << "," << c;
}

// Rows are read through the descriptor opened when the file was read: a file renamed over it
// (another run storing the same cache entry) does not change them.
TEST(Rows, AFileRenamedOverAStoreDoesNotShiftItsRows) {
  const fs::path dir = test_support::scratch_dir("store");
  write_features_file(dir / "f.h5", spilled_set(40, 33));
  const FeatureSet back = read_features_file(dir / "f.h5");
  FeatureSet other = spilled_set(40, 33);
  other.attributes["padding"] = std::string(5000, 'x');  // moves the rows within the file
  other.on_disk.reset();
  other.values.assign(40 * 33, -1.f);
  write_features_file(dir / "g.h5", other);
  fs::rename(dir / "g.h5", dir / "f.h5");
  std::vector<float> row(33);
  RowReader(*back.on_disk, back.n, back.dim).read(17, 1, row.data());
  EXPECT_EQ(row[5], 17005.f);
  fs::remove_all(dir);
}

TEST(Rows, AStoreIsWrittenContiguousReadByHdf5AndLeftOnDiskWhenReadBack) {
  const fs::path dir = test_support::scratch_dir("store");
  const FeatureSet set = spilled_set(40, 33);
  write_features_file(dir / "f.h5", set);
  EXPECT_FALSE(fs::exists(dir / "f.h5.tmp"));
  {
    // HDF5's own reader sees the rows written around it.
    H5File f(dir / "f.h5", H5File::Mode::read);
    const auto all = f.read_f32("/features");
    ASSERT_EQ(all.dims, (std::vector<hsize_t>{40, 33}));
    EXPECT_EQ(all.values[0], 0.f);
    EXPECT_EQ(all.values[39 * 33 + 32], 39032.f);
    EXPECT_GE(f.contiguous_f32_offset("/features"), 0);
  }
  const FeatureSet back = read_features_file(dir / "f.h5");
  ASSERT_TRUE(back.on_disk);
  EXPECT_TRUE(back.values.empty());
  EXPECT_EQ(back.on_disk->file, dir / "f.h5");
  EXPECT_EQ(back.id, set.id);
  EXPECT_EQ(back.labels, set.labels);
  EXPECT_EQ(back.paths, set.paths);
  EXPECT_EQ(back.attributes, set.attributes);
  std::vector<float> row(33);
  RowReader(*back.on_disk, back.n, back.dim).read(17, 1, row.data());
  EXPECT_EQ(row[5], 17005.f);
  // Written again from the file it was read from (a cache entry adopted into a results dir).
  write_features_file(dir / "g.h5", back);
  EXPECT_EQ(read_features_file(dir / "g.h5").attributes, set.attributes);
  fs::remove_all(dir);
}

TEST(Rows, HeadFeaturesAndOldChunkedStoresAreStillReadWhole) {
  const fs::path dir = test_support::scratch_dir("store");
  FeatureSet head;
  head.id = "head";
  head.n = 3;
  head.dim = 2;
  head.values = {1, 2, 3, 4, 5, 6};
  head.labels = {0, 1, 2};
  head.paths = {"a", "b", "c"};
  write_features_file(dir / "head.h5", head);
  EXPECT_FALSE(read_features_file(dir / "head.h5").on_disk);
  // An activation store as earlier versions wrote it: in memory, chunked and compressed.
  FeatureSet old = head;
  old.n = 100;
  old.dim = 300;
  old.values.assign(30000, 0.5f);
  old.labels.assign(100, 1);
  old.paths.assign(100, "p");
  old.attributes = {{"cut", "layer4"}};
  write_features_file(dir / "old.h5", old);
  const FeatureSet back = read_features_file(dir / "old.h5");
  EXPECT_FALSE(back.on_disk);
  EXPECT_EQ(back.values, old.values);
  fs::remove_all(dir);
}

TEST(Rows, ATruncatedStoreOrSpillFileIsRefusedByName) {
  const fs::path dir = test_support::scratch_dir("store");
  write_features_file(dir / "f.h5", spilled_set(40, 33));
  fs::resize_file(dir / "f.h5", fs::file_size(dir / "f.h5") - 100);
  try {
    read_features_file(dir / "f.h5");
    FAIL() << "a truncated store was read";
  } catch (const IoError& e) {
    // HDF5 sees its allocated end past the file's.
    EXPECT_NE(std::string(e.what()).find("cannot open '" + (dir / "f.h5").string() +
                                         "' as HDF5: unable to open file"),
              std::string::npos)
        << e.what();
  }
  const FeatureSet spilled = spilled_set(40, 33);
  ASSERT_EQ(::ftruncate(spilled.on_disk->open->fd(), 39 * 33 * sizeof(float)), 0);
  try {
    RowReader reader(*spilled.on_disk, spilled.n, spilled.dim);
    FAIL() << "a truncated spill file was read";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(spilled.on_disk->file.string() +
                                         "' is truncated: 5148 bytes, its 40 rows of 33 floats "
                                         "need 5280"),
              std::string::npos)
        << e.what();
  }
  fs::remove_all(dir);
}

// The disk fills (here: the process's file-size limit) while a store is written: an IoError with
// the system's reason, no temp file, and the previous file untouched.
TEST(Rows, AStoreTheDiskCannotHoldFailsCleanly) {
  const fs::path dir = test_support::scratch_dir("store");
  const FeatureSet small = spilled_set(4, 8);
  write_features_file(dir / "f.h5", small);
  const auto before = fs::file_size(dir / "f.h5");
  const FeatureSet big = spilled_set(200, 4096);  // 3.3 MB
  std::string message;
  try {
    const test_support::ScopedFileSizeLimit limit(1 << 20);
    write_features_file(dir / "f.h5", big);
  } catch (const IoError& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("f.h5.tmp': File too large"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir / "f.h5.tmp"));
  EXPECT_EQ(fs::file_size(dir / "f.h5"), before);
  EXPECT_EQ(read_features_file(dir / "f.h5").labels, small.labels);
  fs::remove_all(dir);
}

// Rows arriving in pieces (over MPI on rank 0) go straight into the feature file: the same file
// as one written whole, readable through the descriptor commit() returns; a writer given up
// before its last row (the sender's rows stopped, the disk filled) leaves no file and no temp.
TEST(Rows, AStoreFileWrittenAsRowsComeEqualsOneWrittenWhole) {
  const fs::path dir = test_support::scratch_dir("store");
  const FeatureSet set = spilled_set(40, 33);
  write_features_file(dir / "whole.h5", set);
  RowsOnDisk rows;
  {
    StoreFileWriter file(dir / "pieces.h5", set);
    EXPECT_TRUE(fs::exists(dir / "pieces.h5.tmp"));
    EXPECT_FALSE(fs::exists(dir / "pieces.h5"));
    std::vector<float> all(40 * 33);
    RowReader(*set.on_disk, 40, 33).read(0, 40, all.data());
    const std::int64_t cuts[] = {0, 1, 17, 39, 40};  // pieces of 1, 16, 22 and 1 rows
    for (int i = 0; i < 4; ++i) file.append(all.data() + cuts[i] * 33, cuts[i + 1] - cuts[i]);
    rows = file.commit();
  }
  EXPECT_FALSE(fs::exists(dir / "pieces.h5.tmp"));
  EXPECT_EQ(rows.file, dir / "pieces.h5");
  std::vector<float> row(33);
  RowReader(rows, 40, 33).read(39, 1, row.data());
  EXPECT_EQ(row[32], 39032.f);
  const FeatureSet whole = read_features_file(dir / "whole.h5");
  const FeatureSet pieces = read_features_file(dir / "pieces.h5");
  EXPECT_EQ(pieces.id, whole.id);
  EXPECT_EQ(pieces.labels, whole.labels);
  EXPECT_EQ(pieces.paths, whole.paths);
  EXPECT_EQ(pieces.attributes, whole.attributes);
  EXPECT_EQ(H5File(dir / "pieces.h5", H5File::Mode::read).read_f32("/features").values,
            H5File(dir / "whole.h5", H5File::Mode::read).read_f32("/features").values);
  {
    StoreFileWriter file(dir / "whole.h5", set);
    file.append(row.data(), 1);
    EXPECT_THROW(file.commit(), InternalError);
  }
  EXPECT_FALSE(fs::exists(dir / "whole.h5.tmp"));
  EXPECT_EQ(read_features_file(dir / "whole.h5").labels, set.labels);  // the earlier file stays
  fs::remove_all(dir);
}

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// 160 MB of rows spilled, written into a features file, read back and gathered in batches: the
// process's peak resident memory grows by about one copy chunk (16 MB), never by the store.
TEST(Rows, MemoryStaysBoundedByAChunkWhateverTheStoreSize) {
  const fs::path dir = test_support::scratch_dir("store");
  constexpr std::int64_t kDim = 100'000, kRows = 400;  // 400 KB per row, 160 MB in all
  const long before = peak_rss_kb();
  FeatureSet set;
  set.id = "big";
  set.n = kRows;
  set.dim = kDim;
  set.attributes = {{"cut", "layer3"}};
  {
    RowWriter writer(set.id, kDim);
    std::vector<float> batch(8 * kDim);
    for (std::int64_t r = 0; r < kRows; r += 8) {
      for (std::int64_t i = 0; i < 8; ++i) batch[i * kDim] = static_cast<float>(r + i);
      writer.append(batch.data(), 8);
      set.labels.insert(set.labels.end(), 8, 0);
      set.paths.insert(set.paths.end(), 8, "p");
    }
    set.on_disk = writer.finish();
  }
  write_features_file(dir / "big.h5", set);
  set.on_disk.reset();
  const FeatureSet back = read_features_file(dir / "big.h5");
  const RowReader reader(*back.on_disk, back.n, back.dim);
  std::vector<float> out(16 * kDim);
  for (std::size_t first = 0; first < static_cast<std::size_t>(kRows); first += 16) {
    std::vector<std::size_t> idx(16);
    std::iota(idx.rbegin(), idx.rend(), first);  // reversed: one read per row
    reader.gather(idx, out.data());
    ASSERT_EQ(out[0], static_cast<float>(first + 15));
    ASSERT_EQ(out[15 * kDim], static_cast<float>(first));
  }
  const long grown_mb = (peak_rss_kb() - before) / 1024;
  EXPECT_LT(grown_mb, 48) << "peak resident memory grew by " << grown_mb
                          << " MB for a 160 MB store";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace fersweep::store
