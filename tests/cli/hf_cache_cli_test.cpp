// The command line with Hugging Face ids: the committed demo model and experts placed in a fake
// hub cache (HF_HUB_CACHE, set for the child only) give `generate` and `eval` exactly what
// their directories give, `inspect` finds them, and an id the cache lacks is one error line with
// the download command.
#include "cli/child_process_fixture.h"
#include "formats/hf_cache_fixture.h"
#include "modelswarm/common/atomic_file.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

class HfCacheCli : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = test::temp_dir("hf-cli");
    test::FakeHubCache cache(work_ / "hub");
    const fs::path demo = test::source_dir() / "demo";
    const std::string base_commit = test::fake_commit("demo base");
    cache.add_snapshot_of("demo-org/tiny-llama", base_commit, {{"", demo / "base"}});
    cache.set_ref("demo-org/tiny-llama", "main", base_commit);
    // One repository holding two experts in subfolders, at a tag.
    const std::string experts_commit = test::fake_commit("demo experts");
    cache.add_snapshot_of("demo-org/atlas-experts", experts_commit,
                          {{"capital-2000", demo / "experts" / "capital-2000"},
                           {"currency-2000", demo / "experts" / "currency-2000"}});
    cache.set_ref("demo-org/atlas-experts", "v1", experts_commit);
    env_.env = {{"HF_HUB_CACHE", cache.root().string()}};
  }

  // An eval task on the demo quiz (20 dev, 20 test questions) with these models.
  fs::path task(const std::string& name, const std::string& base, const std::vector<std::string>& experts) {
    const json t = {
        {"base_model", base},
        {"experts", experts},
        {"device", "cpu"},
        {"dtype", "float32"},
        {"utility", {{"type", "multiple_choice"},
                     {"data", {{"path", (test::source_dir() / "demo" / "data" / "quiz.jsonl").string()},
                               {"dev_size", 20}, {"test_size", 20}, {"shuffle", false}}}}},
        {"output", {{"dir", (work_ / "run").string()}}}};
    const fs::path path = work_ / name;
    write_text_atomic(path, t.dump(2));
    return path;
  }

  fs::path work_;
  test::ChildOptions env_;
};

TEST_F(HfCacheCli, GenerateAndEvalTakeIdsFromTheCacheAsTheyTakeDirectories) {
  const fs::path demo = test::source_dir() / "demo";
  const std::vector<std::string> prompt = {"--prompt", "The capital of Retodo in the north is", "--max-new-tokens",
                                           "4", "--device", "cpu", "--dtype", "float32"};
  auto generate = [&](const std::vector<std::string>& models) {
    std::vector<std::string> args = {"-q", "generate"};
    args.insert(args.end(), models.begin(), models.end());
    args.insert(args.end(), prompt.begin(), prompt.end());
    return test::run_modelswarm(args, env_);
  };
  const auto by_path = generate({"--model", (demo / "base").string(), "--adapter",
                                 (demo / "experts" / "capital-2000").string()});
  ASSERT_EQ(by_path.exit_code, 0) << by_path.err;
  const auto by_id = generate({"--model", "demo-org/tiny-llama", "--adapter", "demo-org/atlas-experts@v1/capital-2000"});
  ASSERT_EQ(by_id.exit_code, 0) << by_id.err;
  EXPECT_FALSE(by_id.out.empty());
  EXPECT_EQ(by_id.out, by_path.out);

  const std::string experts_dir = (demo / "experts").string();
  const auto eval = [&](const fs::path& config) {
    return test::run_modelswarm({"-q", "eval", "--config", config.string(), "--json"}, env_);
  };
  const auto paths = eval(task("paths.json", (demo / "base").string(),
                               {experts_dir + "/capital-2000", experts_dir + "/currency-2000"}));
  ASSERT_EQ(paths.exit_code, 0) << paths.err;
  const auto ids = eval(task("ids.json", "demo-org/tiny-llama",
                             {"demo-org/atlas-experts@v1/capital-2000", "demo-org/atlas-experts@v1/currency-2000"}));
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  const json a = json::parse(paths.out), b = json::parse(ids.out);
  ASSERT_EQ(a["models"].size(), 3u) << paths.out;
  ASSERT_EQ(b["models"].size(), 3u) << ids.out;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(b["models"][i]["name"], a["models"][i]["name"]);
    for (const char* split : {"dev", "test"})
      EXPECT_EQ(b["models"][i][split]["utility"], a["models"][i][split]["utility"]) << split << " " << i;
  }
  EXPECT_EQ(b["models"][1]["name"], "capital-2000");

  // inspect: a model, an adapter in a subfolder, a file.
  const auto model = test::run_modelswarm({"inspect", "demo-org/tiny-llama"}, env_);
  EXPECT_EQ(model.exit_code, 0) << model.err;
  EXPECT_NE(model.out.find("snapshots/" + test::fake_commit("demo base") + ": model directory"), std::string::npos)
      << model.out;
  const auto adapter = test::run_modelswarm({"inspect", "demo-org/atlas-experts@v1/capital-2000"}, env_);
  EXPECT_EQ(adapter.exit_code, 0) << adapter.err;
  EXPECT_NE(adapter.out.find("capital-2000: PEFT LoRA adapter"), std::string::npos) << adapter.out;
  const auto file = test::run_modelswarm({"inspect", "demo-org/tiny-llama/model.safetensors"}, env_);
  EXPECT_EQ(file.exit_code, 0) << file.err;
  EXPECT_NE(file.out.find("model.safetensors: safetensors file"), std::string::npos) << file.out;
}

TEST_F(HfCacheCli, ASearchByIdRecordsTheResolvedSnapshotsInItsReport) {
  json config = json::parse(read_file(task("search.json", "demo-org/tiny-llama",
                                           {"demo-org/atlas-experts@v1/capital-2000",
                                            "demo-org/atlas-experts@v1/currency-2000"})));
  config["search"] = {{"swarm_size", 3}, {"max_iterations", 1}};
  config["baselines"] = {{"merges", json::array()}};
  write_text_atomic(work_ / "search.json", config.dump(2));
  const auto r = test::run_modelswarm({"-q", "search", "--config", (work_ / "search.json").string()}, env_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(read_file(work_ / "run" / "report.json"));
  const json& sources = report["sources"];
  EXPECT_EQ(sources["base_model"]["id"], "demo-org/tiny-llama") << sources.dump();
  EXPECT_EQ(sources["base_model"]["revision"], test::fake_commit("demo base")) << sources.dump();
  ASSERT_EQ(sources["experts"].size(), 2u);
  EXPECT_EQ(sources["experts"][1]["id"], "demo-org/atlas-experts");
  EXPECT_EQ(sources["experts"][1]["revision"], test::fake_commit("demo experts"));
  EXPECT_EQ(sources["experts"][1]["subpath"], "currency-2000");
  EXPECT_EQ(report["experts"][1]["name"], "currency-2000");
}

TEST_F(HfCacheCli, AnIdMissingFromTheCacheIsOneLineWithTheDownloadCommand) {
  const auto r = test::run_modelswarm(
      {"eval", "--config", task("missing.json", "demo-org/absent-model@v2", {"demo-org/x/a", "demo-org/x/b"}).string()},
      env_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto lines = test::lines_of(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find("missing.json: base_model: demo-org/absent-model@v2: no such path"), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("not in the Hugging Face cache " + (work_ / "hub").string() +
                          "; download it with: hf download demo-org/absent-model --revision v2"),
            std::string::npos)
      << lines[0];

  const auto generate = test::run_modelswarm(
      {"generate", "--model", "demo-org/tiny-llama@v9", "--prompt", "x", "--device", "cpu"}, env_);
  EXPECT_EQ(generate.exit_code, 1);
  EXPECT_NE(generate.err.find("revision v9 is not in the Hugging Face cache"), std::string::npos) << generate.err;
  EXPECT_NE(generate.err.find("(cached refs: main); download it with: hf download demo-org/tiny-llama --revision v9"),
            std::string::npos)
      << generate.err;
}

}  // namespace
}  // namespace modelswarm
