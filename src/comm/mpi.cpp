// MPI calls, each checked. Errors return codes (MPI_ERRORS_RETURN) instead of aborting the job.
#include "comm/mpi.h"
#include "comm/send_queue.h"

#include <fmt/format.h>
#include <mpi.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <iterator>
#include <list>
#include <string_view>

#include "core/error.h"
#include "core/proc.h"

namespace fersweep::comm {
namespace {

std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return fmt::format("MPI error {}", code);
  return std::string(text, static_cast<std::size_t>(len));
}

// `rank` >= 0 is appended to `what` ("MPI_Send to" -> "MPI_Send to rank 3"); the text is built
// only on failure (these checks run for every message).
void check(int code, std::string_view what, int rank = -1) {
  if (code == MPI_SUCCESS) return;
  throw CommError(rank < 0
                      ? fmt::format("{} failed: {}", what, mpi_error_string(code))
                      : fmt::format("{} rank {} failed: {}", what, rank, mpi_error_string(code)));
}

int to_mpi_source(int source) {
  return source == Communicator::kAnySource ? MPI_ANY_SOURCE : source;
}
int to_mpi_tag(int tag) {
  return tag == Communicator::kAnyTag ? MPI_ANY_TAG : tag;
}

Message receive_probed(const MPI_Status& status) {
  int count = 0;
  check(MPI_Get_count(&status, MPI_BYTE, &count), "MPI_Get_count");
  Message m;
  m.source = status.MPI_SOURCE;
  m.tag = status.MPI_TAG;
  m.payload.resize(static_cast<std::size_t>(count));
  check(MPI_Recv(m.payload.data(), count, MPI_BYTE, m.source, m.tag, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE),
        "MPI_Recv from", m.source);
  return m;
}

}  // namespace

bool launched_by_mpi_launcher() {
  for (const char* var :
       {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"}) {
    if (std::getenv(var) != nullptr) return true;
  }
  return false;
}

MpiSession::MpiSession(bool force) {
  placement_.host = proc::host_name();
  if (!force && !launched_by_mpi_launcher()) return;

  int already = 0;
  check(MPI_Initialized(&already), "MPI_Initialized");
  if (!already) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    initialised_here_ = true;
  }
  check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  placement_.mpi = true;
  check(MPI_Comm_rank(MPI_COMM_WORLD, &placement_.rank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &placement_.size), "MPI_Comm_size");
  MPI_Comm node = MPI_COMM_NULL;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, placement_.rank, MPI_INFO_NULL,
                            &node),
        "MPI_Comm_split_type");
  check(MPI_Comm_rank(node, &placement_.local_rank), "MPI_Comm_rank(node)");
  check(MPI_Comm_size(node, &placement_.local_size), "MPI_Comm_size(node)");
  // Split by world rank, so the node's local rank 0 has its lowest world rank.
  int lowest = placement_.rank;
  check(MPI_Bcast(&lowest, 1, MPI_INT, 0, node), "MPI_Bcast(node)");
  placement_.coordinator_local = lowest == 0;
  MPI_Comm_free(&node);
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int len = 0;
  if (MPI_Get_processor_name(name, &len) == MPI_SUCCESS)
    placement_.host.assign(name, static_cast<std::size_t>(len));
}

MpiSession::~MpiSession() {
  if (initialised_here_) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
}

void MpiSession::abort(int code) {
  if (placement_.mpi) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

void Communicator::send(int dest, int tag, std::string_view payload) {
  if (payload.size() > static_cast<std::size_t>(INT_MAX)) {
    throw CommError(fmt::format("message of {} bytes to rank {} exceeds MPI's 2 GiB limit",
                                payload.size(), dest));
  }
  check(MPI_Send(payload.data(), static_cast<int>(payload.size()), MPI_BYTE, dest, tag,
                 MPI_COMM_WORLD),
        "MPI_Send to", dest);
}

Message Communicator::recv(int source, int tag) {
  MPI_Status status;
  check(MPI_Probe(to_mpi_source(source), to_mpi_tag(tag), MPI_COMM_WORLD, &status), "MPI_Probe");
  return receive_probed(status);
}

std::optional<Message> Communicator::try_recv(int source, int tag) {
  int flag = 0;
  MPI_Status status;
  check(MPI_Iprobe(to_mpi_source(source), to_mpi_tag(tag), MPI_COMM_WORLD, &flag, &status),
        "MPI_Iprobe");
  if (!flag) return std::nullopt;
  return receive_probed(status);
}

void Communicator::barrier() {
  check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

struct SendQueue::Impl {
  // A list: a payload's buffer must stay where it is until its send completes.
  std::list<std::pair<std::string, MPI_Request>> pending;
};

SendQueue::SendQueue() : impl_(std::make_unique<Impl>()) {}

SendQueue::~SendQueue() {
  // Unfinished sends at destruction mean the run is being torn down (an error or an abort):
  // cancel rather than wait for receivers that may be gone.
  for (auto& [payload, request] : impl_->pending) {
    MPI_Cancel(&request);
    MPI_Request_free(&request);
  }
}

void SendQueue::send(int dest, int tag, std::string payload) {
  if (payload.size() > static_cast<std::size_t>(INT_MAX)) {
    throw CommError(fmt::format("message of {} bytes to rank {} exceeds MPI's 2 GiB limit",
                                payload.size(), dest));
  }
  auto& pending = impl_->pending;
  pending.emplace_back(std::move(payload), MPI_REQUEST_NULL);
  auto& [buffer, request] = pending.back();
  const int code = MPI_Isend(buffer.data(), static_cast<int>(buffer.size()), MPI_BYTE, dest, tag,
                             MPI_COMM_WORLD, &request);
  if (code != MPI_SUCCESS) pending.pop_back();
  check(code, "MPI_Isend to", dest);
  progress();
}

std::size_t SendQueue::progress() {
  auto& pending = impl_->pending;
  for (auto it = pending.begin(); it != pending.end();) {
    int done = 0;
    check(MPI_Test(&it->second, &done, MPI_STATUS_IGNORE), "MPI_Test");
    it = done ? pending.erase(it) : std::next(it);
  }
  return pending.size();
}

void SendQueue::wait_all() {
  auto& pending = impl_->pending;
  while (!pending.empty()) {
    check(MPI_Wait(&pending.front().second, MPI_STATUS_IGNORE), "MPI_Wait");
    pending.pop_front();
  }
}

}  // namespace fersweep::comm
