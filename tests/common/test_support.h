// Helpers every test module shares: per-test scratch folders, whole-file I/O, running a command.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace fersweep::test_support {

namespace fs = std::filesystem;

/// A file-size limit (RLIMIT_FSIZE) of `bytes` for the scope, with SIGXFSZ ignored so that a write
/// past it fails with EFBIG ("File too large") as on a full disk; restored afterwards.
class ScopedFileSizeLimit {
 public:
  explicit ScopedFileSizeLimit(rlim_t bytes) {
    EXPECT_EQ(getrlimit(RLIMIT_FSIZE, &saved_), 0);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limited = saved_;
    limited.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  }
  ~ScopedFileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
  }
  ScopedFileSizeLimit(const ScopedFileSizeLimit&) = delete;
  ScopedFileSizeLimit& operator=(const ScopedFileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = nullptr;
};

/// Binds this process to the first CPU it may run on for the scope (as mpirun binds each of two
/// ranks to one core), restoring the previous affinity mask afterwards.
class ScopedOneCpu {
 public:
  ScopedOneCpu() {
    EXPECT_EQ(sched_getaffinity(0, sizeof before_, &before_), 0);
    int first = 0;
    while (!CPU_ISSET(first, &before_)) ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    EXPECT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  }
  ~ScopedOneCpu() { sched_setaffinity(0, sizeof before_, &before_); }
  ScopedOneCpu(const ScopedOneCpu&) = delete;
  ScopedOneCpu& operator=(const ScopedOneCpu&) = delete;
  /// The CPUs allowed before.
  int cpus_before() const { return CPU_COUNT(&before_); }

 private:
  cpu_set_t before_;
};

/// An exclusive lock on the file `path` (created if needed) for the scope. Test processes that
/// build the same shared fixture take turns under it, so the second finds the fixture built
/// instead of building it again: ctest -j2 starts the first two users of a fixture at once, and
/// the cropped demo dataset cost two cores ~60 s each when both built it (docs/reliability.md).
class ScopedFileLock {
 public:
  explicit ScopedFileLock(const fs::path& path) {
    fs::create_directories(path.parent_path());
    fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    EXPECT_GE(fd_, 0) << path;
    while (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~ScopedFileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  ScopedFileLock(const ScopedFileLock&) = delete;
  ScopedFileLock& operator=(const ScopedFileLock&) = delete;

 private:
  int fd_ = -1;
};

/// A fresh, empty folder FERSWEEP_TEST_TMP/<module>/<suite>.<test><suffix> for the running test.
inline fs::path scratch_dir(const std::string& module, const std::string& suffix = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name =
      info ? std::string(info->test_suite_name()) + "." + info->name() : "suite";
  const fs::path dir = fs::path(FERSWEEP_TEST_TMP) / module / (name + suffix);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

/// Writes bytes to a file, creating its folder.
inline void write_file(const fs::path& file, const std::string& bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream os(file, std::ios::binary);
  os.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(os.good()) << file;
}

/// Reads a whole file ("" when it cannot be read).
inline std::string read_file(const fs::path& file) {
  std::ifstream is(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(is), {});
}

/// Runs a shell command; returns its exit status and its stdout (and stderr with `with_stderr`).
inline int run_command(const std::string& command, std::string& output, bool with_stderr = false) {
  output.clear();
  FILE* pipe = popen((with_stderr ? command + " 2>&1" : command).c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Quotes a path for the shell.
inline std::string quoted(const fs::path& p) {
  std::string out = "'";
  for (char c : p.string()) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace fersweep::test_support
