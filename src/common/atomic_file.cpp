#include "modelswarm/common/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "modelswarm/common/error.h"

namespace modelswarm {
namespace fs = std::filesystem;

namespace {

thread_local std::function<void(const fs::path&)> before_rename_hook;

void before_rename(const fs::path& destination) {
  if (before_rename_hook) before_rename_hook(destination);
}

fs::path temporary_sibling(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  return path.parent_path() /
         cat(".", path.filename().string(), ".tmp-", ::getpid(), "-", counter++);
}

// 0, or the errno of a failed fsync: a full disk may only show when the data is flushed.
int fsync_path(const fs::path& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return 0;
  const int error = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return error == EINVAL || error == EROFS ? 0 : error;  // file systems without fsync
}

}  // namespace

void write_file_atomic(const fs::path& path, const std::function<void(std::ostream&)>& write) {
  const fs::path tmp = temporary_sibling(path);
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw Error(cat(path.string(), ": cannot write: ", std::strerror(errno)));
      write(out);
      out.flush();
      if (!out) {
        const int error = errno;
        throw Error(cat(path.string(), ": write failed: ", error ? std::strerror(error) : "disk full?"));
      }
    }
    if (const int error = fsync_path(tmp, false))
      throw Error(cat(path.string(), ": write failed: ", std::strerror(error)));
    before_rename(path);
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) throw Error(cat(path.string(), ": cannot rename temporary file into place: ", ec.message()));
    fsync_path(path.parent_path().empty() ? fs::path(".") : path.parent_path(), true);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

BeforeRename::BeforeRename(std::function<void(const fs::path&)> hook) : previous_(std::move(before_rename_hook)) {
  before_rename_hook = std::move(hook);
}

BeforeRename::~BeforeRename() { before_rename_hook = std::move(previous_); }

void write_text_atomic(const fs::path& path, const std::string& contents) {
  write_file_atomic(path, [&](std::ostream& out) { out.write(contents.data(), contents.size()); });
}

void write_directory_atomic(const fs::path& path, const std::function<void(const fs::path&)>& fill) {
  const fs::path tmp = temporary_sibling(path);
  std::error_code ec;
  try {
    fs::create_directories(tmp, ec);
    if (ec) throw Error(cat(path.string(), ": cannot create directory: ", ec.message()));
    fill(tmp);
    fsync_path(tmp, true);
    before_rename(path);
    if (fs::exists(path)) {
      const fs::path old = temporary_sibling(path);
      fs::rename(path, old, ec);
      if (ec) throw Error(cat(path.string(), ": cannot replace existing directory: ", ec.message()));
      fs::rename(tmp, path, ec);
      if (ec) {
        fs::rename(old, path, ec);
        throw Error(cat(path.string(), ": cannot rename temporary directory into place"));
      }
      fs::remove_all(old, ec);
    } else {
      fs::rename(tmp, path, ec);
      if (ec) throw Error(cat(path.string(), ": cannot rename temporary directory into place: ", ec.message()));
    }
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw;
  }
}

std::string read_file(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(cat(path.string(), ": is a directory, expected a file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(cat(path.string(), ": cannot open: ", std::strerror(errno)));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(cat(path.string(), ": read failed"));
  return buffer.str();
}

}  // namespace modelswarm
