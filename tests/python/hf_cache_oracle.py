"""Oracle for the Hugging Face cache tests: huggingface_hub itself resolves ids offline.

  cache-dir              prints constants.HF_HUB_CACHE as the environment makes it
  resolve QUERIES.json   QUERIES is [{"cache_dir", "repo_id", "revision" (null: the default),
                         "filename" (optional)}]; prints one result per query:
                         {"snapshot": snapshot_download(..., local_files_only=True) or null,
                          "snapshot_error": the exception's class name or null,
                          "file": try_to_load_from_cache(...) when a filename is given (a path,
                                  or null when not cached)}
Nothing is downloaded: every call is offline.
"""
import json
import sys


def main() -> None:
    mode = sys.argv[1]
    if mode == "cache-dir":
        from huggingface_hub import constants

        print(constants.HF_HUB_CACHE)
        return
    if mode != "resolve":
        sys.exit(f"unknown mode {mode}")
    from huggingface_hub import snapshot_download, try_to_load_from_cache

    with open(sys.argv[2]) as f:
        queries = json.load(f)
    results = []
    for q in queries:
        r = {"snapshot": None, "snapshot_error": None}
        try:
            r["snapshot"] = snapshot_download(
                repo_id=q["repo_id"], revision=q.get("revision"), cache_dir=q["cache_dir"], local_files_only=True
            )
        except Exception as e:  # noqa: BLE001 - the class name is the answer
            r["snapshot_error"] = type(e).__name__
        if q.get("filename"):
            found = try_to_load_from_cache(
                repo_id=q["repo_id"], filename=q["filename"], cache_dir=q["cache_dir"], revision=q.get("revision")
            )
            r["file"] = found if isinstance(found, str) else None
        results.append(r)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
