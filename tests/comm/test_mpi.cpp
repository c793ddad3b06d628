// MPI wrapper and wire format across real ranks (run under mpiexec -n 2): round trips of every
// field type, large payloads, and refusal of damaged or foreign messages.
#include "comm/mpi.h"

#include <gtest/gtest.h>

#include <memory>
#include <numeric>

#include "comm/wire.h"
#include "core/error.h"

namespace fersweep::comm {
namespace {

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
