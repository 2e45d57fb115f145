#include "formats/hf_cache_fixture.h"

#include <fstream>
#include <functional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "modelswarm/common/atomic_file.h"

namespace modelswarm::test {
namespace fs = std::filesystem;

namespace {

// n hex digits derived from `text` (a stand-in for the sha256/sha1 names huggingface_hub gives
// blobs and commits: resolution never looks inside them).
std::string hex_of(const std::string& text, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t round = 0; out.size() < n; ++round) {
    size_t h = std::hash<std::string>{}(text + '\0' + std::to_string(round));
    for (int i = 0; i < 16 && out.size() < n; ++i, h >>= 4) out += digits[h & 15];
  }
  return out;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

}  // namespace

std::string fake_commit(const std::string& seed) { return hex_of("commit:" + seed, 40); }

FakeHubCache::FakeHubCache(fs::path root) : root_(std::move(root)) { fs::create_directories(root_); }

fs::path FakeHubCache::repo_dir(const std::string& repo_id) const {
  std::string folder = "models--" + repo_id;
  folder.replace(folder.find('/'), 1, "--");
  return root_ / folder;
}

fs::path FakeHubCache::add_snapshot(const std::string& repo_id, const std::string& commit,
                                    const std::map<std::string, std::string>& files) {
  const fs::path repo = repo_dir(repo_id);
  const fs::path snapshot = repo / "snapshots" / commit;
  fs::create_directories(snapshot);
  for (const auto& [name, bytes] : files) {
    const std::string blob = hex_of(bytes, 64);
    if (!fs::exists(repo / "blobs" / blob)) write_bytes(repo / "blobs" / blob, bytes);
    const fs::path link = snapshot / name;
    fs::create_directories(link.parent_path());
    // ../../blobs/<hash> from snapshots/<commit>/, one more ../ per folder inside the repo.
    const fs::path relative(name);
    fs::path target;
    for (auto depth = std::distance(relative.begin(), relative.end()) + 1; depth > 0; --depth) target /= "..";
    fs::create_symlink(target / "blobs" / blob, link);
  }
  return snapshot;
}

fs::path FakeHubCache::add_snapshot_of(const std::string& repo_id, const std::string& commit,
                                       const std::vector<std::pair<std::string, fs::path>>& dirs) {
  std::map<std::string, std::string> files;
  for (const auto& [prefix, dir] : dirs)
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      if (entry.is_regular_file())
        files[(fs::path(prefix) / entry.path().lexically_relative(dir)).lexically_normal().string()] =
            read_file(entry.path());
  return add_snapshot(repo_id, commit, files);
}

void FakeHubCache::set_ref(const std::string& repo_id, const std::string& ref, const std::string& commit) {
  write_bytes(repo_dir(repo_id) / "refs" / ref, commit);
}

void FakeHubCache::write_tree_listing(const std::string& repo_id, const std::string& commit,
                                      const std::vector<std::string>& paths) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& p : paths) files[p] = {{"size", 1}, {"blob_id", hex_of(p, 40)}};
  write_bytes(repo_dir(repo_id) / "trees" / (commit + ".json"),
              nlohmann::json{{"format_version", 1}, {"files", files}}.dump(1));
}

}  // namespace modelswarm::test
