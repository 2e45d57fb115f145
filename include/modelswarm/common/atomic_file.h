// Outputs are never half-written: everything is written to a temporary sibling, flushed to
// disk, then renamed over the destination (rename is atomic within a file system).
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

namespace modelswarm {

/// Writes `path` atomically; `write` fills the stream. Throws Error naming the path on failure.
void write_file_atomic(const std::filesystem::path& path,
                       const std::function<void(std::ostream&)>& write);

/// Shorthand for a text or binary string.
void write_text_atomic(const std::filesystem::path& path, const std::string& contents);

/// Builds a directory atomically: `fill` populates a temporary sibling directory, which then
/// replaces `path` (an existing `path` is removed only after the new one is complete).
void write_directory_atomic(const std::filesystem::path& path,
                            const std::function<void(const std::filesystem::path&)>& fill);

/// Test seam for crash-safety tests: while a BeforeRename lives, its function runs in this thread
/// after each temporary file or directory written here is complete and before it is renamed into
/// place, with the destination path (the moment a crash must not lose anything).
class BeforeRename {
 public:
  explicit BeforeRename(std::function<void(const std::filesystem::path& destination)> hook);
  ~BeforeRename();
  BeforeRename(const BeforeRename&) = delete;
  BeforeRename& operator=(const BeforeRename&) = delete;

 private:
  std::function<void(const std::filesystem::path&)> previous_;
};

/// Reads a whole file; throws Error naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace modelswarm
