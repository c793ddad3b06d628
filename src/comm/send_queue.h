// Non-blocking sends for the coordinator: a blocking MPI_Send can wait for the receiving rank to
// be scheduled (oversubscribed nodes), stalling every other worker meanwhile.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace fersweep::comm {

/// Sends that complete in the background. Each payload is kept until MPI is done with it.
class SendQueue {
 public:
  SendQueue();
  /// Cancels sends still pending (a run torn down by an error); call wait_all() to finish them.
  ~SendQueue();
  SendQueue(const SendQueue&) = delete;
  SendQueue& operator=(const SendQueue&) = delete;

  /// Starts sending `payload` to `dest` (MPI_COMM_WORLD, `tag`); CommError naming the rank.
  void send(int dest, int tag, std::string payload);
  /// Releases finished sends; returns how many are still pending.
  std::size_t progress();
  /// Blocks until every pending send has completed.
  void wait_all();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fersweep::comm
