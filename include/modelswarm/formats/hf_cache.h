// Models and adapters named by Hugging Face id (`org/name`, `org/name@revision`, optionally
// followed by `/path/inside/the/repo`), found offline in the local Hugging Face cache exactly
// where huggingface_hub's snapshot_download(..., local_files_only=True) and
// try_to_load_from_cache find them. Nothing is ever downloaded.
//
// Cache root (huggingface_hub/constants.py, read from the environment at each call):
//   $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE (legacy), else $HF_HOME/hub,
//   else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub;
//   `~` and `$VAR`/`${VAR}` expanded as Python's os.path.expanduser/expandvars do.
// Layout of one model repository in it:
//   models--<org>--<name>/
//     refs/<branch or tag>      the commit hash it points to (the whole file, no newline)
//     snapshots/<commit>/...    the repository's files, symlinks into ../../blobs/
//     blobs/<sha256 or git sha1>
//     trees/<commit>.json       (recent huggingface_hub) the commit's file listing: a snapshot
//                               missing one of its files is incomplete
// A revision is a 40-hex commit hash (used directly) or a name under refs/ ("main" by default).
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace modelswarm::hf {

/// A parsed reference to something in a Hub model repository.
struct HubRef {
  std::string repo_id;   // "org/name"
  std::string revision;  // as written after '@'; "main" when none was given
  bool revision_given = false;
  std::string subpath;   // "" for the repository's root, else a '/'-separated path inside it
};

/// `text` as org/name[@revision][/path/inside], or nullopt when it is not of that form. org and
/// name follow huggingface_hub's validate_repo_id (ASCII letters, digits, '_', '-', '.'; each
/// starts and ends with a letter, digit or '_'; at most 96 characters; no "--" or ".."; name
/// not ending in ".git"). The revision runs to the next '/', except refs/pr/<n> and
/// refs/convert/<name>, which keep theirs (as in huggingface_hub's HfFileSystem paths).
std::optional<HubRef> parse_hub_ref(const std::string& text);

/// The cache root huggingface_hub uses in this environment (constants.HF_HUB_CACHE).
std::filesystem::path hub_cache_dir();

/// A snapshot found in the cache.
struct Snapshot {
  std::filesystem::path path;  // <cache>/models--org--name/snapshots/<commit>[/subpath]
  std::string commit;          // the snapshot folder's name (a 40-hex commit hash)
};

/// Where `ref` lives in the cache `cache`: nullopt when huggingface_hub would not find it
/// offline (no repository folder, no such ref, no snapshot folder, or a subpath the snapshot
/// lacks). Throws Error when the snapshot is there but its trees/<commit>.json listing names
/// files that are missing (an interrupted download), as snapshot_download refuses it then.
std::optional<Snapshot> find_in_cache(const HubRef& ref, const std::filesystem::path& cache);

/// A model or adapter argument once resolved.
struct Source {
  std::filesystem::path path;  // what to load
  std::optional<HubRef> hub;   // set when it came from the cache
  std::string commit;          // the snapshot's commit when it came from the cache
};

/// Resolves a model or adapter argument (a directory, or a file for `inspect`/`convert`):
///  - `ref` as a path (a relative one against `base_dir`) when that exists: a path always wins;
///  - else, when `ref` reads as org/name[@revision][/path], the cached snapshot;
///  - else the path as given, for its loader to report as missing.
/// Throws Error, one line naming `ref`, the cache and the `hf download` command that would
/// fetch it, when `ref` reads as a Hub id that is not in the cache; the message starts with
/// `where` (e.g. "task.json: base_model") when one is given.
Source resolve(const std::string& ref, const std::filesystem::path& base_dir = {}, const std::string& where = "");
/// resolve(ref, base_dir, where).path
std::filesystem::path resolve_path(const std::string& ref, const std::filesystem::path& base_dir = {},
                                   const std::string& where = "");

/// For report provenance: {"path": absolute path} for any path, plus "id" (org/name),
/// "revision" (the commit) and, when the path lies below the snapshot's root, "subpath", for a
/// path inside a Hub cache snapshot (models--org--name/snapshots/<commit>/...).
nlohmann::json describe_source(const std::filesystem::path& path);
/// describe_source of each path, as a JSON array.
nlohmann::json describe_sources(const std::vector<std::filesystem::path>& paths);

/// A short name for a model or adapter directory in tables: its folder name, or for a Hub
/// snapshot's root (whose folder is a commit hash) the repository's name.
std::string display_name(const std::filesystem::path& path);

}  // namespace modelswarm::hf
