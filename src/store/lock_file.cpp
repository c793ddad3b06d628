// Directory lock via flock(); the file also records who holds it, for the error message.
#include "store/lock_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/proc.h"

namespace fersweep::store {

DirectoryLock::DirectoryLock(const std::filesystem::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw IoError(
        fmt::format("cannot create lock file '{}': {}", path.string(), std::strerror(errno)));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::ifstream in(path);
    std::stringstream holder;
    holder << in.rdbuf();
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) {
      std::string who = holder.str();
      while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
      throw IoError(fmt::format(
          "results directory '{}' is in use by another fersweep coordinator ({}); wait for it to "
          "finish or stop it first",
          path.parent_path().string(), who.empty() ? "unknown process" : who));
    }
    throw IoError(
        fmt::format("cannot lock '{}': {} (on NFS/Lustre without lock support, use a local "
                    "or lock-capable filesystem for the results directory)",
                    path.string(), std::strerror(err)));
  }
  const std::string who = fmt::format("pid {} on host {}\n", ::getpid(), proc::host_name());
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t n = ::pwrite(fd_, who.data(), who.size(), 0);
  }
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

}  // namespace fersweep::store
