// MPI wrapper and wire format across real ranks (run under mpiexec -n 2): round trips of every
// field type, large payloads, and refusal of damaged or foreign messages.
#include "comm/mpi.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <numeric>

#include "comm/wire.h"
#include "common/test_support.h"
#include "core/error.h"
#include "run/protocol.h"
#include "store/features_file.h"
#include "store/rows.h"

namespace fersweep::comm {
namespace {
namespace fs = std::filesystem;

std::unique_ptr<MpiSession> g_session;

TEST(Mpi, PlacementIsConsistent) {
  const Placement& p = g_session->placement();
  ASSERT_TRUE(p.mpi);
  EXPECT_EQ(p.size, 2);
  EXPECT_GE(p.rank, 0);
  EXPECT_LT(p.rank, 2);
  EXPECT_EQ(p.local_size, 2);  // both ranks on this node
  EXPECT_TRUE(p.coordinator_local);
  EXPECT_FALSE(p.host.empty());
}

TEST(Mpi, WireRoundTripBetweenRanks) {
  Communicator comm;
  const int rank = g_session->placement().rank;
  std::vector<float> big(3'000'000);
  std::iota(big.begin(), big.end(), 0.5f);
  if (rank == 1) {
    WireWriter w(42);
    w.u64(0xfeedfacecafebeefULL).i64(-7).f64(0.125).str("Ünïcode ✓").floats(big.data(), big.size());
    comm.send(0, 3, w.bytes());
    const Message back = comm.recv(0, 4);
    EXPECT_EQ(back.payload, "ack");
  } else {
    const Message m = comm.recv(Communicator::kAnySource, 3);
    EXPECT_EQ(m.source, 1);
    WireReader r(m.payload, m.source);
    EXPECT_EQ(r.type(), 42);
    EXPECT_EQ(r.u64(), 0xfeedfacecafebeefULL);
    EXPECT_EQ(r.i64(), -7);
    EXPECT_EQ(r.f64(), 0.125);
    EXPECT_EQ(r.str(), "Ünïcode ✓");
    EXPECT_EQ(r.floats(), big);
    EXPECT_TRUE(r.at_end());
    comm.send(1, 4, "ack");
  }
  comm.barrier();
}

TEST(Mpi, TryRecvReturnsNothingWhenNoMessageWaits) {
  Communicator comm;
  EXPECT_FALSE(comm.try_recv(Communicator::kAnySource, 99).has_value());
  comm.barrier();
}

// An activation store's rows between ranks (run/protocol.h; here because this is the binary that
// runs under mpiexec): announced in a kTasks message, then sent in chunks (64 KB here: 27 of them)
// and written into a spill file on the receiving rank, equal row for row; the sender's file is
// read, never loaded.
TEST(MpiRows, AStoreOnDiskTravelsInChunksIntoASpillFile) {
  Communicator comm;
  const int rank = g_session->placement().rank;
  constexpr std::int64_t kRows = 211, kDim = 2000;  // 8 KB per row
  if (rank == 1) {
    auto set = std::make_shared<run::FeatureSet>();
    set->id = "0123456789abcdef";
    set->n = kRows;
    set->dim = kDim;
    store::RowWriter writer(set->id, kDim);
    std::vector<float> row(kDim);
    for (std::int64_t r = 0; r < kRows; ++r) {
      std::iota(row.begin(), row.end(), static_cast<float>(r));
      writer.append(row.data(), 1);
      set->labels.push_back(r % 7);
      set->paths.push_back(std::to_string(r));
    }
    set->on_disk = writer.finish();
    run::TaskSpec t;
    t.id = "fedcba9876543210";
    t.kind = run::TaskKind::train;
    t.features = set->id;
    run::TaskInputs in;
    in.features = set;
    comm.send(0, run::protocol::kTag, run::protocol::encode_tasks({&t}, in, true));
    run::protocol::send_rows(comm, 0, *set);
  } else {
    const Message m = comm.recv(1, run::protocol::kTag);
    run::protocol::Message got = run::protocol::decode(m.payload, 1);
    ASSERT_TRUE(got.tasks.features);
    ASSERT_TRUE(got.tasks.rows_follow);
    run::FeatureSet& set = *got.tasks.features;
    EXPECT_TRUE(set.values.empty());
    EXPECT_EQ(set.n, kRows);
    EXPECT_EQ(set.labels.size(), static_cast<std::size_t>(kRows));
    EXPECT_EQ(run::protocol::receive_rows(comm, 1, set), "");
    ASSERT_TRUE(set.on_disk);
    EXPECT_EQ(set.on_disk->file.parent_path(), store::spill_dir());
    const store::RowReader reader(*set.on_disk, kRows, kDim);
    std::vector<float> row(kDim);
    for (std::int64_t r = 0; r < kRows; r += 10) {
      reader.read(r, 1, row.data());
      EXPECT_EQ(row[0], static_cast<float>(r));
      EXPECT_EQ(row[kDim - 1], static_cast<float>(r + kDim - 1));
    }
    EXPECT_EQ(store::rows_per_chunk(kDim), 8);
  }
  comm.barrier();
}

// The metadata of a store of `rows` rows of `dim` floats (its rows not written).
std::shared_ptr<run::FeatureSet> store_metadata(std::int64_t rows, std::int64_t dim) {
  auto set = std::make_shared<run::FeatureSet>();
  set->id = "0123456789abcdef";
  set->n = rows;
  set->dim = dim;
  set->labels.assign(static_cast<std::size_t>(rows), 3);
  set->paths.assign(static_cast<std::size_t>(rows), "p.png");
  set->attributes = {{"cut", "layer3"}};
  return set;
}

// Writes `set`'s rows, row r all r, to a spill file (the sending rank's store).
void spill_rows(run::FeatureSet& set) {
  store::RowWriter writer(set.id, set.dim);
  std::vector<float> row(static_cast<std::size_t>(set.dim));
  for (std::int64_t r = 0; r < set.n; ++r) {
    std::fill(row.begin(), row.end(), static_cast<float>(r));
    writer.append(row.data(), 1);
  }
  set.on_disk = writer.finish();
}

// A receiving rank that cannot write the rows (here: a 64 KB file-size limit) still takes every
// chunk off the wire and says why, leaving nothing; the next store then arrives whole. Into a
// spill file (a worker), and straight into a feature file (rank 0, an extraction's store).
TEST(MpiRows, AFileThatCannotBeWrittenFailsTheTransferNotTheRanks) {
  Communicator comm;
  const int rank = g_session->placement().rank;
  constexpr std::int64_t kRows = 64, kDim = 2000;
  const auto set = store_metadata(kRows, kDim);
  if (rank == 1) {
    spill_rows(*set);
    for (int transfer = 0; transfer < 4; ++transfer) run::protocol::send_rows(comm, 0, *set);
  } else {
    const fs::path dir = test_support::scratch_dir("comm");
    const fs::path file = dir / "0123456789abcdef.h5";
    for (const fs::path* into : {static_cast<const fs::path*>(nullptr), &file}) {
      run::FeatureSet first = *set;
      std::string error;
      {
        const test_support::ScopedFileSizeLimit limit(64 << 10);
        error = run::protocol::receive_rows(comm, 1, first, into);
      }
      const std::string named = into ? "'" + file.string() + ".tmp'" : "cannot write spill file '";
      EXPECT_NE(error.find(named), std::string::npos) << error;
      EXPECT_NE(error.find("File too large"), std::string::npos) << error;
      EXPECT_FALSE(first.on_disk);
      EXPECT_TRUE(fs::is_empty(dir));
      run::FeatureSet second = *set;
      EXPECT_EQ(run::protocol::receive_rows(comm, 1, second, into), "");
      ASSERT_TRUE(second.on_disk);
      std::vector<float> row(kDim);
      store::RowReader(*second.on_disk, kRows, kDim).read(kRows - 1, 1, row.data());
      EXPECT_EQ(row[0], static_cast<float>(kRows - 1));
      EXPECT_EQ(row[kDim - 1], static_cast<float>(kRows - 1));
    }
    // Rank 0's feature file: committed in place, read back as any feature file.
    const run::FeatureSet back = store::read_features_file(file);
    ASSERT_TRUE(back.on_disk);
    EXPECT_EQ(back.labels, set->labels);
    EXPECT_EQ(back.attributes, set->attributes);
    std::vector<float> row(kDim);
    store::RowReader(*back.on_disk, kRows, kDim).read(kRows / 2, 1, row.data());
    EXPECT_EQ(row[kDim / 2], static_cast<float>(kRows / 2));
    fs::remove_all(dir);
  }
  comm.barrier();
}

TEST(Wire, TruncatedAndForeignMessagesAreRefusedByName) {
  WireWriter w(5);
  w.str("hello").u64(3);
  const std::string full = w.bytes();
  WireReader cut(std::string_view(full).substr(0, full.size() - 4), 3);
  EXPECT_EQ(cut.str(), "hello");
  try {
    cut.u64();
    FAIL();
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated message from rank 3"), std::string::npos)
        << e.what();
  }
  try {
    WireReader junk("GET / HTTP/1.1", 2);
    FAIL();
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find("malformed message from rank 2"), std::string::npos)
        << e.what();
  }
  std::string other_version = full;
  other_version[4] = 9;  // the version field follows the 4-byte magic
  try {
    WireReader r(other_version, 1);
    FAIL();
  } catch (const CommError& e) {
    EXPECT_NE(std::string(e.what()).find("run the same fersweep build on every rank"),
              std::string::npos);
  }
}

TEST(Wire, HugeDeclaredLengthDoesNotAllocate) {
  WireWriter w(1);
  w.u64(1ULL << 60);  // claims an exabyte string
  WireReader r(w.bytes(), 4);
  EXPECT_THROW(r.str(), CommError);
}

}  // namespace
}  // namespace fersweep::comm

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  setenv("FERSWEEP_ROWS_CHUNK_BYTES", "65536", 1);  // MpiRows: many chunks from a small store
  fersweep::comm::g_session = std::make_unique<fersweep::comm::MpiSession>(/*force=*/true);
  // Only rank 0 prints GoogleTest's report.
  if (fersweep::comm::g_session->placement().rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int rc = RUN_ALL_TESTS();
  fersweep::comm::g_session.reset();
  return rc;
}
