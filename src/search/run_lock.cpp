#include "modelswarm/search/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "modelswarm/common/error.h"

namespace modelswarm::search {
namespace fs = std::filesystem;

namespace {

// True when `fd` is still the file at `path`: a search that finished in between may have
// removed the lock file after we opened it, and a lock on a removed file excludes nobody.
bool still_linked(int fd, const fs::path& path) {
  struct stat opened {}, current {};
  return ::fstat(fd, &opened) == 0 && ::stat(path.c_str(), &current) == 0 && opened.st_dev == current.st_dev &&
         opened.st_ino == current.st_ino;
}

}  // namespace

RunLock RunLock::acquire(const fs::path& run_dir) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) throw Error(cat(run_dir.string(), ": cannot create the run directory: ", ec.message()));
  const fs::path path = run_dir / ".lock";
  for (;;) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(cat(path.string(), ": cannot open the lock file: ", std::strerror(errno)));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      char holder[32] = {0};
      const ssize_t got = ::pread(fd, holder, sizeof(holder) - 1, 0);
      ::close(fd);
      if (error == EWOULDBLOCK) {
        std::string pid = got > 0 ? std::string(holder, static_cast<size_t>(got)) : std::string("?");
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
        throw Error(cat(run_dir.string(), ": another search (pid ", pid,
                        ") is using this run directory; wait for it to finish or choose another output.dir"));
      }
      throw Error(cat(path.string(), ": cannot lock: ", std::strerror(error)));
    }
    if (!still_linked(fd, path)) {
      ::close(fd);
      continue;
    }
    // The holder's pid, for the message above; the lock itself is the flock, not this content.
    const std::string pid = cat(::getpid(), "\n");
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
      // Not fatal: the flock is what excludes other searches.
    }
    return RunLock(path, fd);
  }
}

RunLock::RunLock(RunLock&& other) noexcept : path_(std::move(other.path_)), fd_(other.fd_) { other.fd_ = -1; }

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

RunLock::~RunLock() {
  if (fd_ < 0) return;
  // Removed while still locked, so that a finished or failed run leaves no .lock behind; a
  // waiting search notices the removal (still_linked) and locks a fresh file.
  ::unlink(path_.c_str());
  ::close(fd_);  // closing the descriptor releases the flock
}

}  // namespace modelswarm::search
