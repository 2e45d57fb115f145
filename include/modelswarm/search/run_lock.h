// One search per run directory: an exclusive flock on RUN_DIR/.lock, held for the lifetime of
// the RunLock. The kernel drops it when the process dies (kill -9 included), so a stale lock
// file never blocks a later run; a normal release removes the file.
#pragma once

#include <filesystem>

namespace modelswarm::search {

class RunLock {
 public:
  /// Creates `run_dir` if needed and locks it; throws Error naming the directory (and the pid
  /// written by the holder) when another search holds it.
  static RunLock acquire(const std::filesystem::path& run_dir);

  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

  const std::filesystem::path& path() const { return path_; }

 private:
  RunLock(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace modelswarm::search
