// An exclusive lock on a results directory, so two coordinators never write the same one.
// flock() is released by the kernel when the holder dies, so stale locks clear themselves.
#pragma once

#include <filesystem>
#include <string>

namespace fersweep::store {

class DirectoryLock {
 public:
  /// Takes the lock file `path` (created if needed) or throws IoError naming the holder.
  explicit DirectoryLock(const std::filesystem::path& path);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace fersweep::store
