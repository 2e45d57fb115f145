// Hugging Face ids resolved offline from the local cache: the cache root, branches, tags, commit
// hashes, paths inside a repository and incomplete snapshots, each checked against
// huggingface_hub's own snapshot_download(local_files_only=True) and try_to_load_from_cache
// (tests/python/hf_cache_oracle.py) on a fake cache laid out as huggingface_hub writes it.
#include "modelswarm/formats/hf_cache.h"

#include <cstdlib>
#include <optional>

#include "formats/hf_cache_fixture.h"
#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

// Sets (or unsets, for nullopt) environment variables for one scope, then restores them.
class ScopedEnv {
 public:
  explicit ScopedEnv(const std::vector<std::pair<std::string, std::optional<std::string>>>& vars) {
    for (const auto& [name, value] : vars) {
      const char* old = std::getenv(name.c_str());
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      set(name, value);
    }
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) set(it->first, it->second);
  }

 private:
  static void set(const std::string& name, const std::optional<std::string>& value) {
    if (value) ::setenv(name.c_str(), value->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

const std::vector<std::string> kCacheVariables = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME",
                                                  "XDG_CACHE_HOME"};

TEST(HfCache, ParsesIdsTheWayHuggingfaceHubValidatesThem) {
  const auto ref = hf::parse_hub_ref("HuggingFaceTB/SmolLM2-135M-Instruct");
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->repo_id, "HuggingFaceTB/SmolLM2-135M-Instruct");
  EXPECT_EQ(ref->revision, "main");
  EXPECT_FALSE(ref->revision_given);
  EXPECT_EQ(ref->subpath, "");

  const auto pinned = hf::parse_hub_ref("org/name@v1.0/experts/math");
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->repo_id, "org/name");
  EXPECT_EQ(pinned->revision, "v1.0");
  EXPECT_TRUE(pinned->revision_given);
  EXPECT_EQ(pinned->subpath, "experts/math");

  const auto pr = hf::parse_hub_ref("org/name@refs/pr/12/adapter");
  ASSERT_TRUE(pr);
  EXPECT_EQ(pr->revision, "refs/pr/12");
  EXPECT_EQ(pr->subpath, "adapter");

  const auto inside = hf::parse_hub_ref("karpathy/tinyllamas/stories260K/stories260K.bin");
  ASSERT_TRUE(inside);
  EXPECT_EQ(inside->repo_id, "karpathy/tinyllamas");
  EXPECT_EQ(inside->subpath, "stories260K/stories260K.bin");

  // Paths that cannot be ids, and ids validate_repo_id refuses.
  for (const char* text : {"model", "./org/name", "../org/name", "/abs/org/name", "org//name", "org/name/",
                           "org--x/name", "org/na..me", "org/name.git", "-org/name", "org/name-", "org/.name",
                           "org/name@", "org/name@v1//x", "org/name/../x", "org/na me", "o:rg/name"})
    EXPECT_FALSE(hf::parse_hub_ref(text)) << text;
  EXPECT_FALSE(hf::parse_hub_ref("org/" + std::string(97, 'a')));
  EXPECT_TRUE(hf::parse_hub_ref("org/" + std::string(96, 'a')));
}

TEST(HfCache, CacheRootFollowsHuggingfaceHubsPrecedence) {
  const fs::path home = test::temp_dir("home");
  // Each case: the variables set (the others unset), as huggingface_hub/constants.py reads them.
  const std::vector<std::vector<std::pair<std::string, std::string>>> cases = {
      {},
      {{"XDG_CACHE_HOME", "/xdg"}},
      {{"XDG_CACHE_HOME", "/xdg"}, {"HF_HOME", "/hf-home"}},
      {{"HF_HOME", "~/hf-home"}, {"MS_HF_TEST_VAR", "expanded"}},
      {{"HF_HOME", "/data/$MS_HF_TEST_VAR/${MS_HF_TEST_VAR}/$MS_HF_UNSET_VAR"}, {"MS_HF_TEST_VAR", "x"}},
      {{"HF_HOME", "/hf-home"}, {"HUGGINGFACE_HUB_CACHE", "/legacy"}},
      {{"HUGGINGFACE_HUB_CACHE", "/legacy"}, {"HF_HUB_CACHE", "~/hub-cache"}},
      {{"HF_HUB_CACHE", "relative/cache"}},
  };
  for (const auto& c : cases) {
    std::vector<std::pair<std::string, std::optional<std::string>>> vars = {
        {"HOME", home.string()}, {"MS_HF_UNSET_VAR", std::nullopt}};
    for (const auto& name : kCacheVariables) vars.emplace_back(name, std::nullopt);
    for (const auto& [name, value] : c) vars.emplace_back(name, value);
    ScopedEnv env(vars);
    std::string printed;
    ASSERT_TRUE(test::run_python("hf_cache_oracle.py", {"cache-dir"}, &printed));
    while (!printed.empty() && printed.back() == '\n') printed.pop_back();
    EXPECT_EQ(hf::hub_cache_dir().string(), printed) << json(c).dump();
  }
}

// A cache with every case the resolution distinguishes, and the queries to ask of it.
struct Scenario {
  test::FakeHubCache cache;
  std::string main_commit = test::fake_commit("main");
  std::string tag_commit = test::fake_commit("v1");
  std::string loose_commit = test::fake_commit("no ref points here");
  std::string broken_commit = test::fake_commit("interrupted download");

  explicit Scenario(const fs::path& root) : cache(root) {
    const std::map<std::string, std::string> files = {
        {"config.json", "{\"model_type\": \"llama\"}"},
        {"model.safetensors", "weights"},
        {"experts/math/adapter_config.json", "{\"r\": 8}"},
        {"experts/math/adapter_model.safetensors", "lora"}};
    cache.add_snapshot("org/model", main_commit, files);
    cache.set_ref("org/model", "main", main_commit);
    cache.add_snapshot("org/model", tag_commit, {{"config.json", "{\"v\": 1}"}});
    cache.set_ref("org/model", "v1.0", tag_commit);
    cache.set_ref("org/model", "refs/pr/3", tag_commit);
    cache.add_snapshot("org/model", loose_commit, {{"config.json", "{}"}});
    cache.set_ref("org/model", "dangling", test::fake_commit("never downloaded"));
    // A complete snapshot whose listing the cache holds, and one missing a listed file.
    cache.write_tree_listing("org/model", main_commit, {"config.json", "model.safetensors",
                                                       "experts/math/adapter_config.json",
                                                       "experts/math/adapter_model.safetensors"});
    cache.add_snapshot("org/broken", broken_commit, {{"config.json", "{}"}});
    cache.set_ref("org/broken", "main", broken_commit);
    cache.write_tree_listing("org/broken", broken_commit, {"config.json", "model.safetensors"});
    // A repository folder with no snapshots at all (a download that never started).
    fs::create_directories(cache.repo_dir("org/empty") / "blobs");
  }
};

TEST(HfCache, ResolutionMatchesSnapshotDownloadAndTryToLoadFromCache) {
  const fs::path work = test::temp_dir("hf");
  Scenario s(work / "hub");
  struct Query {
    std::string repo_id;
    std::optional<std::string> revision;
    std::string filename;  // "": the snapshot folder only
  };
  const std::vector<Query> queries = {
      {"org/model", std::nullopt, "config.json"},
      {"org/model", "main", "experts/math/adapter_config.json"},
      {"org/model", "v1.0", "config.json"},
      {"org/model", "refs/pr/3", "config.json"},
      {"org/model", "v1.0", "model.safetensors"},  // not in that revision
      {"org/model", s.loose_commit, "config.json"},
      {"org/model", s.main_commit, "model.safetensors"},
      {"org/model", test::fake_commit("unknown"), ""},
      {"org/model", "nonexistent-branch", ""},
      {"org/model", "dangling", ""},
      {"org/other", std::nullopt, ""},
      {"org/empty", std::nullopt, ""},
      {"org/broken", std::nullopt, ""},
  };
  json oracle_queries = json::array();
  for (const auto& q : queries)
    oracle_queries.push_back({{"cache_dir", s.cache.root().string()}, {"repo_id", q.repo_id},
                              {"revision", q.revision ? json(*q.revision) : json(nullptr)},
                              {"filename", q.filename}});
  write_text_atomic(work / "queries.json", oracle_queries.dump());
  std::string printed;
  ASSERT_TRUE(test::run_python("hf_cache_oracle.py", {"resolve", (work / "queries.json").string()}, &printed));
  const json expected = json::parse(printed);
  ASSERT_EQ(expected.size(), queries.size());

  size_t found = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    const Query& q = queries[i];
    const json& e = expected[i];
    hf::HubRef ref{q.repo_id, q.revision.value_or("main"), q.revision.has_value(), ""};
    SCOPED_TRACE(q.repo_id + "@" + ref.revision);
    // The snapshot folder, as snapshot_download gives it (an incomplete one is an error).
    std::optional<hf::Snapshot> snapshot;
    const std::string error = test::message_of<Error>([&] { snapshot = hf::find_in_cache(ref, s.cache.root()); });
    if (e["snapshot_error"] == "IncompleteSnapshotError") {
      EXPECT_NE(error.find("is incomplete: 1 file(s) missing (model.safetensors)"), std::string::npos) << error;
      continue;
    }
    EXPECT_EQ(error, "");
    if (e["snapshot"].is_null()) {
      EXPECT_FALSE(snapshot) << snapshot->path;
      continue;
    }
    ASSERT_TRUE(snapshot) << e.dump();
    EXPECT_EQ(snapshot->path.string(), e["snapshot"].get<std::string>());
    EXPECT_EQ(snapshot->commit, snapshot->path.filename().string());
    ++found;
    // A file inside the repository, as try_to_load_from_cache finds it.
    if (q.filename.empty()) continue;
    ref.subpath = q.filename;
    const auto file = hf::find_in_cache(ref, s.cache.root());
    if (e["file"].is_null()) {
      EXPECT_FALSE(file) << file->path;
    } else {
      ASSERT_TRUE(file);
      EXPECT_EQ(file->path.string(), e["file"].get<std::string>());
      EXPECT_EQ(read_file(file->path), read_file(e["file"].get<std::string>()));
    }
  }
  EXPECT_EQ(found, 7u) << "the scenario should find 7 snapshots:\n" << expected.dump(1);
}

TEST(HfCache, ResolvesIdsFromTheEnvironmentsCacheAndAnExistingPathWins) {
  const fs::path work = test::temp_dir("hf");
  Scenario s(work / "hub");
  ScopedEnv env({{"HF_HUB_CACHE", s.cache.root().string()}});
  const fs::path main_snapshot = s.cache.repo_dir("org/model") / "snapshots" / s.main_commit;

  const hf::Source source = hf::resolve("org/model");
  EXPECT_EQ(source.path, main_snapshot);
  EXPECT_EQ(source.commit, s.main_commit);
  ASSERT_TRUE(source.hub);
  EXPECT_EQ(source.hub->repo_id, "org/model");
  EXPECT_EQ(hf::resolve_path("org/model@v1.0"), s.cache.repo_dir("org/model") / "snapshots" / s.tag_commit);
  EXPECT_EQ(hf::resolve_path("org/model@" + s.loose_commit + "/config.json"),
            s.cache.repo_dir("org/model") / "snapshots" / s.loose_commit / "config.json");
  EXPECT_EQ(hf::resolve_path("org/model/experts/math", work / "config-dir"), main_snapshot / "experts" / "math");
  EXPECT_EQ(read_file(hf::resolve_path("org/model/experts/math/adapter_config.json")), "{\"r\": 8}");

  // A path that exists wins over the cache: relative to the base directory given, or to the
  // working directory without one.
  fs::create_directories(work / "config-dir" / "org" / "model");
  EXPECT_EQ(hf::resolve_path("org/model", work / "config-dir"), work / "config-dir" / "org" / "model");
  EXPECT_FALSE(hf::resolve("org/model", work / "config-dir").hub);
  EXPECT_EQ(hf::resolve_path((work / "config-dir" / "org" / "model").string()), work / "config-dir" / "org" / "model");
  // What is neither a path nor an id goes to its loader as a path.
  EXPECT_EQ(hf::resolve_path("missing-model", work), work / "missing-model");
  EXPECT_EQ(hf::resolve_path("/nonexistent/org/model"), fs::path("/nonexistent/org/model"));
}

TEST(HfCache, AnIdNotInTheCacheIsOneLineWithTheDownloadCommand) {
  const fs::path work = test::temp_dir("hf");
  Scenario s(work / "hub");
  ScopedEnv env({{"HF_HUB_CACHE", s.cache.root().string()}});
  const std::string cache = s.cache.root().string();
  auto message = [&](const std::string& ref) {
    return test::message_of<Error>([&] { hf::resolve(ref, work); });
  };

  EXPECT_EQ(message("HuggingFaceTB/SmolLM2-135M-Instruct"),
            "HuggingFaceTB/SmolLM2-135M-Instruct: no such path " + (work / "HuggingFaceTB/SmolLM2-135M-Instruct").string() +
                ", and not in the Hugging Face cache " + cache +
                "; download it with: hf download HuggingFaceTB/SmolLM2-135M-Instruct");
  EXPECT_EQ(message("org/model@v2"),
            "org/model@v2: no such path " + (work / "org/model@v2").string() +
                ", and revision v2 is not in the Hugging Face cache " + s.cache.repo_dir("org/model").string() +
                " (cached refs: dangling, main, refs/pr/3, v1.0); download it with: hf download org/model --revision v2");
  const std::string inside = message("org/model@v1.0/experts/math");
  EXPECT_NE(inside.find("has no experts/math; download it with: hf download org/model --revision v1.0"), std::string::npos)
      << inside;
  const std::string broken = message("org/broken");
  EXPECT_NE(broken.find("org/broken: the cached snapshot "), std::string::npos) << broken;
  EXPECT_NE(broken.find("is incomplete: 1 file(s) missing (model.safetensors); complete it with: hf download org/broken"),
            std::string::npos) << broken;
  for (const auto& m : {inside, broken}) EXPECT_EQ(m.find('\n'), std::string::npos);
}

TEST(HfCache, DescribesSourcesForReports) {
  const fs::path work = test::temp_dir("hf");
  Scenario s(work / "hub");
  const fs::path snapshot = s.cache.repo_dir("org/model") / "snapshots" / s.main_commit;
  EXPECT_EQ(hf::describe_source(snapshot),
            (json{{"path", snapshot.string()}, {"id", "org/model"}, {"revision", s.main_commit}}));
  EXPECT_EQ(hf::describe_source(snapshot / "experts" / "math"),
            (json{{"path", (snapshot / "experts" / "math").string()}, {"id", "org/model"},
                  {"revision", s.main_commit}, {"subpath", "experts/math"}}));
  EXPECT_EQ(hf::describe_source(work / "plain" / ".." / "dir"), (json{{"path", (work / "dir").string()}}));
  const json both = hf::describe_sources({snapshot, work});
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1], (json{{"path", work.string()}}));

  EXPECT_EQ(hf::display_name(snapshot), "model");
  EXPECT_EQ(hf::display_name(snapshot / ""), "model");
  EXPECT_EQ(hf::display_name(snapshot / "experts" / "math"), "math");
  EXPECT_EQ(hf::display_name(work / "capital-2000"), "capital-2000");
}

}  // namespace
}  // namespace modelswarm
