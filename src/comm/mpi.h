// A small checked wrapper over the MPI calls fersweep uses. Failures become CommError naming the
// call, the peer rank and MPI's own message. <mpi.h> stays out of every other header.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace fersweep::comm {

/// Where this process stands in the job.
struct Placement {
  int rank = 0;
  int size = 1;
  int local_rank = 0;             ///< rank among the processes on this node
  int local_size = 1;             ///< processes on this node
  bool coordinator_local = true;  ///< rank 0 runs on this node
  std::string host;
  bool mpi = false;  ///< MPI is initialised (false when run alone without a launcher)
};

/// True when a launcher (mpirun/mpiexec, srun, a PMI/PMIx environment) started this process.
bool launched_by_mpi_launcher();

/// The MPI environment of the process: initialised by the constructor when a launcher started us
/// (or `force` is set), finalised by the destructor. Without a launcher the job is a world of one
/// and no MPI call is made.
class MpiSession {
 public:
  explicit MpiSession(bool force = false);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  const Placement& placement() const { return placement_; }
  /// Aborts every rank (used only when a rank cannot continue and cannot tell the others).
  [[noreturn]] void abort(int code);

 private:
  Placement placement_;
  bool initialised_here_ = false;
};

/// A message received from another rank.
struct Message {
  int source = -1;
  int tag = -1;
  std::string payload;
};

/// Point-to-point messaging on MPI_COMM_WORLD.
class Communicator {
 public:
  static constexpr int kAnySource = -1;
  static constexpr int kAnyTag = -1;
  /// Sends `payload` to `dest` with `tag` (blocking until the buffer can be reused).
  void send(int dest, int tag, std::string_view payload);
  /// Blocks until a message arrives.
  Message recv(int source = kAnySource, int tag = kAnyTag);
  /// Returns a message if one is waiting, without blocking.
  std::optional<Message> try_recv(int source = kAnySource, int tag = kAnyTag);
  void barrier();
};

}  // namespace fersweep::comm
