// The dispatch peer: a bare MPI task farm. Rank 0 hands out 64-byte task messages one at a time to
// workers that ask (each request carries a 64-byte result); no journal, no encoding, no
// bookkeeping: the message-passing cost any MPI coordinator pays. Prints tasks/s.
// Usage: mpirun -np 4 bench_run_farm [TASKS]
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {
constexpr int kTag = 1;
const int kBytes = std::getenv("FARM_BYTES") ? std::atoi(std::getenv("FARM_BYTES")) : 64;
}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const long tasks = argc > 1 ? std::atol(argv[1]) : 200000;
  std::vector<char> buf(static_cast<std::size_t>(kBytes));
  if (size < 2) {
    std::fprintf(stderr, "bench_run_farm needs at least 2 ranks\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const double start = MPI_Wtime();
  if (rank == 0) {
    long sent = 0, stopped = 0;
    std::uint64_t checksum = 0;
    while (stopped < size - 1) {
      MPI_Status status;
      MPI_Recv(buf.data(), kBytes, MPI_BYTE, MPI_ANY_SOURCE, kTag, MPI_COMM_WORLD, &status);
      checksum += static_cast<unsigned char>(buf[0]);
      if (sent < tasks) {
        std::snprintf(buf.data(), kBytes, "task %ld", sent);
        buf[kBytes - 1] = 1;  // 1: a task follows, 0: stop
        ++sent;
      } else {
        buf[kBytes - 1] = 0;
        ++stopped;
      }
      MPI_Send(buf.data(), kBytes, MPI_BYTE, status.MPI_SOURCE, kTag, MPI_COMM_WORLD);
    }
    const double seconds = MPI_Wtime() - start;
    std::printf("farm_tasks %ld\nfarm_seconds %.6f\nfarm_tasks_per_s %.0f\nfarm_checksum %llu\n",
                tasks, seconds, static_cast<double>(tasks) / seconds,
                static_cast<unsigned long long>(checksum % 7));
  } else {
    std::memset(buf.data(), 0, kBytes);
    while (true) {
      MPI_Send(buf.data(), kBytes, MPI_BYTE, 0, kTag, MPI_COMM_WORLD);
      MPI_Recv(buf.data(), kBytes, MPI_BYTE, 0, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (buf[kBytes - 1] == 0) break;
      buf[0] = static_cast<char>(buf[5] + 1);  // the "result"
    }
  }
  MPI_Finalize();
  return 0;
}
