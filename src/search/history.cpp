#include "modelswarm/search/history.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"

namespace modelswarm::search {
namespace fs = std::filesystem;

void append_history(const fs::path& file, const swarm::IterationRecord& record) {
  const std::string line = record.to_json().dump() + "\n";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(cat(file.string(), ": cannot open for appending: ", std::strerror(errno)));
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      throw Error(cat(file.string(), ": write failed: ", std::strerror(error)));
    }
    written += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
}

void rewrite_history(const fs::path& file, const std::vector<swarm::IterationRecord>& history) {
  std::string text;
  for (const auto& record : history) text += record.to_json().dump() + "\n";
  write_text_atomic(file, text);
}

}  // namespace modelswarm::search
