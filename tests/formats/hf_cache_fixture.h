// A Hugging Face hub cache in a temporary directory, laid out as huggingface_hub writes it:
//   models--<org>--<name>/blobs/<hash>, snapshots/<commit>/<path> -> ../../blobs/<hash>
//   (relative symlinks), refs/<name> holding the commit (no newline), trees/<commit>.json.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace modelswarm::test {

class FakeHubCache {
 public:
  explicit FakeHubCache(std::filesystem::path root);
  const std::filesystem::path& root() const { return root_; }
  /// <root>/models--org--name
  std::filesystem::path repo_dir(const std::string& repo_id) const;

  /// Stores `files` (repo path -> bytes) as the snapshot of `commit`: each file's bytes in
  /// blobs/ once, under a 64-hex name derived from them, and a relative symlink to it in
  /// snapshots/<commit>/. Returns the snapshot folder.
  std::filesystem::path add_snapshot(const std::string& repo_id, const std::string& commit,
                                     const std::map<std::string, std::string>& files);
  /// add_snapshot of every regular file under each (prefix, dir): stored as prefix/<path in dir>
  /// ("" for the repository's root).
  std::filesystem::path add_snapshot_of(const std::string& repo_id, const std::string& commit,
                                        const std::vector<std::pair<std::string, std::filesystem::path>>& dirs);
  /// refs/<ref> := commit (written as huggingface_hub does: the hash, no newline).
  void set_ref(const std::string& repo_id, const std::string& ref, const std::string& commit);
  /// trees/<commit>.json listing `paths` (format_version 1), as recent huggingface_hub caches it.
  void write_tree_listing(const std::string& repo_id, const std::string& commit, const std::vector<std::string>& paths);

 private:
  std::filesystem::path root_;
};

/// A fake 40-hex commit hash made from `seed`.
std::string fake_commit(const std::string& seed);

}  // namespace modelswarm::test
