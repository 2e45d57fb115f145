#include "modelswarm/formats/hf_cache.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "modelswarm/common/error.h"

namespace modelswarm::hf {
namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// Hub ids (huggingface_hub/utils/_validators.py: validate_repo_id)

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// One part of a repo id: [\w\-.]{1,96} between word boundaries (ASCII), i.e. starting and
// ending with a letter, digit or '_'.
bool valid_id_part(const std::string& s) {
  if (s.empty() || s.size() > 96 || !is_word_char(s.front()) || !is_word_char(s.back())) return false;
  for (char c : s)
    if (!is_word_char(c) && c != '-' && c != '.') return false;
  return true;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A '/'-separated relative path without empty, "." or ".." parts (it must stay inside the
// repository).
bool valid_relative(const std::string& s) {
  if (s.empty()) return false;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, '/');)
    if (part.empty() || part == "." || part == "..") return false;
  return s.back() != '/';
}

bool is_commit_hash(const std::string& s) {  // huggingface_hub's REGEX_COMMIT_HASH, fullmatch
  if (s.size() != 40) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)) && !(c >= 'a' && c <= 'f')) return false;
  return true;
}

// The length of a special revision at the start of `s` (HfFileSystem's
// `(^refs\/convert\/\w+)|(^refs\/pr\/\d+)`), or 0.
size_t special_revision_length(const std::string& s) {
  for (const std::string prefix : {"refs/convert/", "refs/pr/"}) {
    if (s.compare(0, prefix.size(), prefix) != 0) continue;
    const bool digits = prefix == "refs/pr/";
    size_t n = prefix.size();
    while (n < s.size() && (digits ? std::isdigit(static_cast<unsigned char>(s[n])) != 0 : is_word_char(s[n]))) ++n;
    if (n > prefix.size()) return n;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The cache root (huggingface_hub/constants.py), with Python's posixpath expansions.

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::optional<std::string>(v) : std::nullopt;
}

// os.path.expanduser: "~" and "~/..." from $HOME (else the password database), "~user/...".
std::string expand_user(const std::string& path) {
  if (path.empty() || path[0] != '~') return path;
  size_t i = path.find('/', 1);
  if (i == std::string::npos) i = path.size();
  std::string home;
  if (i == 1) {
    if (auto h = env("HOME")) {
      home = *h;
    } else {
      const passwd* pw = ::getpwuid(::getuid());
      if (!pw) return path;
      home = pw->pw_dir;
    }
  } else {
    const passwd* pw = ::getpwnam(path.substr(1, i - 1).c_str());
    if (!pw) return path;
    home = pw->pw_dir;
  }
  while (!home.empty() && home.back() == '/') home.pop_back();
  const std::string out = home + path.substr(i);
  return out.empty() ? "/" : out;
}

// os.path.expandvars: $name and ${name} (name: \w+, ASCII) replaced when set, else kept.
std::string expand_vars(const std::string& path) {
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] != '$') {
      out += path[i++];
      continue;
    }
    size_t end = i + 1;
    std::string name;
    if (end < path.size() && path[end] == '{') {
      const size_t close = path.find('}', end + 1);
      if (close == std::string::npos) {
        out += path[i++];
        continue;
      }
      name = path.substr(end + 1, close - end - 1);
      end = close + 1;
    } else {
      while (end < path.size() && is_word_char(path[end])) ++end;
      name = path.substr(i + 1, end - i - 1);
      if (name.empty()) {
        out += path[i++];
        continue;
      }
    }
    if (auto value = env(name.c_str())) out += *value;
    else out += path.substr(i, end - i);
    i = end;
  }
  return out;
}

// os.path.join(a, b) for a relative or absolute b.
std::string join(const std::string& a, const std::string& b) {
  if (!b.empty() && b[0] == '/') return b;
  if (a.empty() || a.back() == '/') return a + b;
  return a + "/" + b;
}

// ---------------------------------------------------------------------------------------------

// Filesystem queries that answer false on any error (a name too long, a permission denied):
// resolution only asks whether something is there.
bool present(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}
bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}
bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::string repo_folder(const std::string& repo_id) {  // file_download.repo_folder_name
  std::string out = "models";
  std::stringstream in(repo_id);
  for (std::string part; std::getline(in, part, '/');) out += "--" + part;
  return out;
}

// The bytes of a regular file, or nullopt (absent, a directory, unreadable).
std::optional<std::string> read_whole(const fs::path& path) {
  if (!is_file(path)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool is_xet_hash(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// The files of trees/<commit>.json, or nullopt where huggingface_hub's read_tree_cache gives
// None (absent, unreadable, another format_version, an entry without size or blob_id, an
// invalid xet_hash).
std::optional<std::vector<std::string>> tree_listing(const fs::path& repo, const std::string& commit) {
  const auto text = read_whole(repo / "trees" / (commit + ".json"));
  if (!text) return std::nullopt;
  const auto json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || json.value("format_version", nlohmann::json()) != 1) return std::nullopt;
  const auto files = json.find("files");
  if (files == json.end() || !files->is_object()) return std::nullopt;
  std::vector<std::string> names;
  for (const auto& [name, info] : files->items()) {
    if (!info.is_object() || !info.contains("size") || !info.contains("blob_id")) return std::nullopt;
    const auto xet = info.find("xet_hash");
    if (xet != info.end() && !xet->is_null() && !(xet->is_string() && is_xet_hash(xet->get<std::string>())))
      return std::nullopt;
    names.push_back(name);
  }
  return names;
}

std::string download_command(const HubRef& ref) {
  return cat("hf download ", ref.repo_id, ref.revision_given ? " --revision " + ref.revision : "");
}

std::string ref_text(const HubRef& ref) {
  return cat(ref.repo_id, ref.revision_given ? "@" + ref.revision : "", ref.subpath.empty() ? "" : "/" + ref.subpath);
}

// The one line for a Hub id that the cache lacks: what is missing, then how to fetch it.
std::string not_cached_message(const std::string& given, const fs::path& as_path, const HubRef& ref,
                               const fs::path& cache) {
  const fs::path repo = cache / repo_folder(ref.repo_id);
  std::string what;
  if (!is_dir(repo)) {
    what = cat("not in the Hugging Face cache ", cache.string());
  } else {
    std::optional<std::string> commit;
    if (is_commit_hash(ref.revision)) commit = ref.revision;
    else commit = read_whole(repo / "refs" / ref.revision);
    if (!commit || !present(repo / "snapshots" / *commit)) {
      std::vector<std::string> refs;
      std::error_code ec;
      for (fs::recursive_directory_iterator it(repo / "refs", ec), end; !ec && it != end; it.increment(ec))
        if (is_file(it->path())) refs.push_back(it->path().lexically_relative(repo / "refs").string());
      std::sort(refs.begin(), refs.end());
      std::string known;
      for (size_t i = 0; i < refs.size() && i < 8; ++i) known += (i ? ", " : "") + refs[i];
      if (refs.size() > 8) known += cat(", ... (", refs.size() - 8, " more)");
      what = cat("revision ", ref.revision, " is not in the Hugging Face cache ", repo.string(),
                 known.empty() ? "" : " (cached refs: " + known + ")");
    } else {
      what = cat("the cached snapshot ", (repo / "snapshots" / *commit).string(), " has no ", ref.subpath);
    }
  }
  const std::string path_note = as_path.string() == given ? "no such path" : "no such path " + as_path.string();
  return cat(given, ": ", path_note, ", and ", what, "; download it with: ", download_command(ref));
}

}  // namespace

std::optional<HubRef> parse_hub_ref(const std::string& text) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const std::string org = text.substr(0, slash);
  size_t end = text.find_first_of("@/", slash + 1);
  if (end == std::string::npos) end = text.size();
  const std::string name = text.substr(slash + 1, end - slash - 1);
  if (!valid_id_part(org) || !valid_id_part(name)) return std::nullopt;

  HubRef ref;
  ref.repo_id = org + "/" + name;
  if (ref.repo_id.find("--") != std::string::npos || ref.repo_id.find("..") != std::string::npos ||
      ends_with(ref.repo_id, ".git"))
    return std::nullopt;
  ref.revision = "main";  // huggingface_hub's DEFAULT_REVISION
  std::string rest = text.substr(end);
  if (!rest.empty() && rest[0] == '@') {
    rest.erase(0, 1);
    size_t length = special_revision_length(rest);
    if (length == 0) length = std::min(rest.find('/'), rest.size());
    ref.revision = rest.substr(0, length);
    ref.revision_given = true;
    if (!valid_relative(ref.revision)) return std::nullopt;
    rest.erase(0, length);
  }
  if (!rest.empty()) {
    ref.subpath = rest.substr(1);  // after the '/'
    if (!valid_relative(ref.subpath)) return std::nullopt;
  }
  return ref;
}

fs::path hub_cache_dir() {
  // constants.py: HF_HOME, then the legacy HUGGINGFACE_HUB_CACHE, then HF_HUB_CACHE.
  const std::string default_home = join(expand_user("~"), ".cache");
  const std::string hf_home =
      expand_vars(expand_user(env("HF_HOME").value_or(join(env("XDG_CACHE_HOME").value_or(default_home), "huggingface"))));
  const std::string legacy = env("HUGGINGFACE_HUB_CACHE").value_or(join(hf_home, "hub"));
  return fs::path(expand_vars(expand_user(env("HF_HUB_CACHE").value_or(legacy))));
}

std::optional<Snapshot> find_in_cache(const HubRef& ref, const fs::path& cache) {
  // _snapshot_download.snapshot_download with local_files_only=True.
  const fs::path repo = cache / repo_folder(ref.repo_id);
  if (!is_dir(repo)) return std::nullopt;
  std::string commit;
  if (is_commit_hash(ref.revision)) {
    commit = ref.revision;
  } else {
    const fs::path ref_file = repo / "refs" / ref.revision;
    auto text = read_whole(ref_file);  // read as is: huggingface_hub does not strip it either
    if (!text) return std::nullopt;
    commit = *text;
  }
  const fs::path snapshot = repo / "snapshots" / commit;
  if (commit.empty() || !present(snapshot)) return std::nullopt;

  // _raise_if_incomplete_snapshot: every file the cached listing names must be there (for a
  // subpath, those below it).
  if (const auto listing = tree_listing(repo, commit)) {
    std::vector<std::string> missing;
    for (const auto& name : *listing) {
      const bool wanted = ref.subpath.empty() || name == ref.subpath ||
                          name.compare(0, ref.subpath.size() + 1, ref.subpath + "/") == 0;
      if (wanted && !is_file(snapshot / name)) missing.push_back(name);
    }
    if (!missing.empty()) {
      std::string sample;
      for (size_t i = 0; i < missing.size() && i < 3; ++i) sample += (i ? ", " : "") + missing[i];
      if (missing.size() > 3) sample += cat(", ... (", missing.size() - 3, " more)");
      throw Error(cat(ref_text(ref), ": the cached snapshot ", snapshot.string(), " (commit ", commit,
                      ") is incomplete: ", missing.size(), " file(s) missing (", sample,
                      "); complete it with: ", download_command(ref)));
    }
  }
  if (ref.subpath.empty()) return Snapshot{snapshot, commit};
  const fs::path inside = snapshot / ref.subpath;
  if (!present(inside)) return std::nullopt;
  return Snapshot{inside, commit};
}

Source resolve(const std::string& ref, const fs::path& base_dir, const std::string& where) {
  const fs::path given(ref);
  const fs::path as_path =
      given.is_absolute() || base_dir.empty() ? given : (base_dir / given).lexically_normal();
  if (ref.empty() || present(as_path)) return Source{as_path, std::nullopt, ""};
  auto hub = parse_hub_ref(ref);
  if (!hub) return Source{as_path, std::nullopt, ""};
  const fs::path cache = hub_cache_dir();
  const std::string prefix = where.empty() ? "" : where + ": ";
  std::optional<Snapshot> snapshot;
  try {
    snapshot = find_in_cache(*hub, cache);
  } catch (const Error& e) {
    throw Error(prefix + e.what());
  }
  if (!snapshot) throw Error(prefix + not_cached_message(ref, as_path, *hub, cache));
  return Source{snapshot->path, std::move(hub), snapshot->commit};
}

fs::path resolve_path(const std::string& ref, const fs::path& base_dir, const std::string& where) {
  return resolve(ref, base_dir, where).path;
}

nlohmann::json describe_source(const fs::path& path) {
  const fs::path absolute = fs::absolute(path).lexically_normal();
  nlohmann::json out = {{"path", absolute.string()}};
  const std::vector<fs::path> parts(absolute.begin(), absolute.end());
  for (size_t i = 0; i + 2 < parts.size(); ++i) {
    const std::string folder = parts[i].string();
    if (folder.compare(0, 8, "models--") != 0 || folder.size() == 8 || parts[i + 1] != "snapshots") continue;
    std::string id = folder.substr(8);
    if (const size_t sep = id.find("--"); sep != std::string::npos) id.replace(sep, 2, "/");
    out["id"] = id;
    out["revision"] = parts[i + 2].string();
    std::string subpath;
    for (size_t j = i + 3; j < parts.size(); ++j)
      if (!parts[j].empty()) subpath += (subpath.empty() ? "" : "/") + parts[j].string();
    if (!subpath.empty()) out["subpath"] = subpath;
    break;
  }
  return out;
}

nlohmann::json describe_sources(const std::vector<fs::path>& paths) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : paths) out.push_back(describe_source(p));
  return out;
}

std::string display_name(const fs::path& path) {
  const fs::path p = path.filename().empty() ? path.parent_path() : path;
  const std::string repo = p.parent_path().parent_path().filename().string();
  if (p.parent_path().filename() == "snapshots" && repo.compare(0, 8, "models--") == 0 && repo.size() > 8) {
    const size_t sep = repo.rfind("--");
    return repo.substr(sep + 2);
  }
  return p.filename().string();
}

}  // namespace modelswarm::hf
