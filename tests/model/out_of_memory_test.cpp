// Running out of memory gives advice (a smaller engine.max_batch_tokens...) on one line, never
// a libtorch backtrace: the engine boundary (model/out_of_memory.h) and the CLI end to end.
#include <c10/util/Exception.h>

#include <fstream>

#include "cli/child_process_fixture.h"
#include "modelswarm/common/error.h"
#include "modelswarm/model/out_of_memory.h"
#include "search/stories_fixture.h"
#include "test_utils.h"
#include "utility/fakes.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;  // reserves terabytes of shadow memory at start
#else
constexpr bool kAddressSanitizer = false;
#endif

// A real failed allocation of libtorch's CPU allocator (2^48 bytes: more than a process can map).
void allocate_too_much() { (void)at::empty({int64_t(1) << 46}, at::kFloat); }

TEST(OutOfMemory, RecognisesFailedAllocationsOfEveryKind) {
  try {
    allocate_too_much();
    FAIL() << "a 256 TiB allocation succeeded";
  } catch (const std::exception& e) {
    EXPECT_TRUE(model::is_out_of_memory(e)) << e.what();
  }
  EXPECT_TRUE(model::is_out_of_memory(std::bad_alloc()));
  EXPECT_FALSE(model::is_out_of_memory(std::runtime_error("can't allocate memory")));  // not from libtorch
  EXPECT_FALSE(model::is_out_of_memory(Error("data.jsonl:3: invalid JSON")));
}

TEST(OutOfMemory, AnEngineThatRunsOutAdvisesASmallerBatch) {
  auto fake = std::make_unique<test::ScriptedEvaluator>();
  fake->loglik = [](int64_t, const std::string&, const std::string&) {
    allocate_too_much();
    return 0.0;
  };
  fake->generator = [](int64_t, const std::string&) -> std::string { throw Error("particle 2: no such thing"); };
  const auto engine = model::advise_on_out_of_memory(std::move(fake), {"cpu", "float32", 65536});
  try {
    engine->loglikelihood(test::particles(3), {{{1, 2}, {3}}});
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("out of memory while scoring 3 particle(s) at once: lower engine.max_batch_tokens (now "
                           "65536)"),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  // Other failures pass through untouched.
  try {
    engine->generate(test::particles(3), {{{1, 2}}}, {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "particle 2: no such thing");
  }
}

TEST(OutOfMemory, ASearchThatRunsOutOfMemoryGivesAdviceOnOneLine) {
  MS_REQUIRE_SHARED();
  if (kAddressSanitizer) GTEST_SKIP() << "AddressSanitizer cannot start under a 4 GB address-space limit";
  ASSERT_EQ(test::stories_pool().experts.size(), 5u);
  // 4000 texts of ~360 tokens in one pass: the (4000, 361, 512) fp32 logits alone are 3 GB, and
  // the process may map 4 GB, of which libtorch's libraries take about 2.5.
  const fs::path dir = test::temp_dir("oom");
  std::ofstream data(dir / "long.jsonl");
  std::string text;
  for (int w = 0; w < 90; ++w) text += " Once upon a time";
  for (int i = 0; i < 4000; ++i) data << json{{"text", text}}.dump() << "\n";
  data.close();
  const json task = {{"utility", {{"type", "likelihood"},
                                  {"metric", "loglik_per_token"},
                                  {"data", {{"path", (dir / "long.jsonl").string()}, {"dev_size", 4000}, {"test_size", 0}}}}},
                     {"search", {{"swarm_size", 5}, {"max_iterations", 1}}},
                     {"engine", {{"max_batch_tokens", 1 << 24}}}};
  const fs::path config = test::write_stories_task(dir, task);
  test::ChildOptions small_memory;
  small_memory.max_address_space_bytes = rlim_t(4) << 30;
  const auto r = test::run_modelswarm({"-q", "search", "--config", config.string()}, small_memory);
  EXPECT_EQ(r.signal, 0) << r.err;
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto lines = test::lines_of(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find("out of memory while scoring"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("lower engine.max_batch_tokens (now 16777216)"), std::string::npos) << lines[0];
}

}  // namespace
}  // namespace modelswarm
