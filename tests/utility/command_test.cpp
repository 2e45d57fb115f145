#include <sys/stat.h>

#include <chrono>

#include "modelswarm/common/atomic_file.h"
#include "modelswarm/common/error.h"
#include "modelswarm/utility/utility.h"
#include "test_utils.h"
#include "utility/fakes.h"
#include "utility/subprocess.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using test::ByteEncoder;
using test::ScriptedEvaluator;
using utility::Split;

using test::message_of;

void write_script(const fs::path& path, const std::string& body) {
  write_text_atomic(path, "#!/bin/sh\n" + body);
  ::chmod(path.c_str(), 0755);
}

// Four prompts; particle p answers "yes" to the first p of them.
struct CommandFixture {
  fs::path dir = test::temp_dir("cmd");
  ScriptedEvaluator ev;
  ByteEncoder enc;
  CommandFixture() {
    write_text_atomic(dir / "p.jsonl",
                      "{\"prompt\": \"p0\", \"answer\": \"yes\"}\n{\"prompt\": \"p1\", \"answer\": \"yes\"}\n"
                      "{\"prompt\": \"p2\", \"answer\": \"yes\"}\n{\"prompt\": \"p3\", \"answer\": \"yes\"}\n");
    ev.generator = [](int64_t p, const std::string& prompt) {
      return std::string(prompt.back() - '0' < p ? "yes" : "no");
    };
  }
  std::vector<double> run(const std::string& script_body, const json& extra = json::object()) {
    write_script(dir / "score.sh", script_body);
    json config = {{"type", "command"}, {"command", {"./score.sh", "--flag"}}, {"data", {{"path", "p.jsonl"}, {"shuffle", false}}}};
    for (const auto& item : extra.items()) config[item.key()] = item.value();
    auto u = utility::make_utility(config, "task.json", utility::UtilityContext{dir, nullptr});
    return u->score(ev, enc, test::particles(3), Split::kDev).utility;
  }
};

TEST(UtilityCommand, ReadsUtilityObjectFromStdout) {
  CommandFixture f;
  // Counts the examples answered "yes" among the JSONL lines on stdin.
  const auto u = f.run("test \"$1\" = --flag || exit 9\nn=$(grep -c '\"output\":\"yes\"')\necho \"{\\\"utility\\\": $n}\"\n");
  EXPECT_EQ(u, (std::vector<double>{0, 1, 2}));
}

TEST(UtilityCommand, AcceptsABareNumberAndSeesEveryField) {
  CommandFixture f;
  // Every line carries particle, index, prompt, output, answer and the record.
  const auto u = f.run(
      "lines=$(grep -c '\"answer\":\"yes\",\"fields\":{\"answer\":\"yes\",\"prompt\":\"p[0-3]\"},\"index\":[0-3],"
      "\"output\":\"[a-z]*\",\"particle\":[0-2],\"prompt\":\"p[0-3]\"')\necho \"  $lines.5\"\n");
  EXPECT_EQ(u, (std::vector<double>{4.5, 4.5, 4.5}));
}

TEST(UtilityCommand, NonZeroExitNamesParticleAndStderrTail) {
  CommandFixture f;
  const std::string m = message_of<Error>([&] {
    f.run("cat > /dev/null\nif grep -q x /dev/null; then :; fi\necho 'scorer: model 7 broke' >&2\nexit 3\n");
  });
  EXPECT_NE(m.find("particle 0: command " + (f.dir / "score.sh").string() + " exited with code 3"), std::string::npos) << m;
  EXPECT_NE(m.find("scorer: model 7 broke"), std::string::npos) << m;
}

TEST(UtilityCommand, GarbageOutputIsAnError) {
  CommandFixture f;
  std::string m = message_of<Error>([&] { f.run("cat > /dev/null\necho 'accuracy is high'\n"); });
  EXPECT_NE(m.find("printed neither a finite number nor {\"utility\": x} on stdout: \"accuracy is high\""),
            std::string::npos)
      << m;
  m = message_of<Error>([&] { f.run("cat > /dev/null\necho '{\"utility\": \"0.5\"}'\n"); });
  EXPECT_NE(m.find("printed neither"), std::string::npos) << m;
}

TEST(UtilityCommand, TimeoutKillsTheCommandAndWhatItStarted) {
  CommandFixture f;
  const auto start = std::chrono::steady_clock::now();
  const std::string m = message_of<Error>([&] { f.run("sleep 30\necho 1\n", {{"timeout_seconds", 0.5}}); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(m.find("particle 0: command"), std::string::npos) << m;
  EXPECT_NE(m.find("did not finish within 0.5 s (utility.timeout_seconds)"), std::string::npos) << m;
  EXPECT_LT(seconds, 10.0) << "the sleeping child must not hold the pipe open";
}

TEST(UtilityCommand, OutputIsBounded) {
  CommandFixture f;
  const std::string m = message_of<Error>([&] { f.run("yes 1\n", {{"max_output_bytes", 1000}}); });
  EXPECT_NE(m.find("printed more than 1000 bytes (utility.max_output_bytes)"), std::string::npos) << m;
}

TEST(UtilityCommand, CommandThatIgnoresStdinStillWorks) {
  CommandFixture f;
  // Exiting without reading must not kill this process with SIGPIPE.
  EXPECT_EQ(f.run("echo 0.25\n"), (std::vector<double>{0.25, 0.25, 0.25}));
}

TEST(UtilityCommand, MissingProgramAndEmptyCommand) {
  CommandFixture f;
  auto make = [&](const json& command) {
    return utility::make_utility({{"type", "command"}, {"command", command}, {"data", {{"path", "p.jsonl"}}}}, "task.json",
                                 utility::UtilityContext{f.dir, nullptr});
  };
  auto u = make({"no-such-scorer-xyz"});
  const std::string m = message_of<Error>([&] { u->score(f.ev, f.enc, test::particles(1), Split::kDev); });
  EXPECT_NE(m.find("cannot run \"no-such-scorer-xyz\""), std::string::npos) << m;
  EXPECT_NE(message_of<ConfigError>([&] { make(json::array()); }).find("utility.command: needs at least the program"),
            std::string::npos);
  EXPECT_NE(message_of<ConfigError>([&] { make("score.sh --all"); }).find("utility.command: expected an array of strings"),
            std::string::npos);
}

TEST(UtilitySubprocess, NoShellArgumentsArePassedVerbatim) {
  const auto r = utility::run_process({"printf", "%s|", "a b", "$HOME", ";ls"}, "", 10, 1000);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "a b|$HOME|;ls|");
  const auto echo = utility::run_process({"cat"}, std::string(300000, 'x'), 10, 1 << 20);
  EXPECT_EQ(echo.out.size(), 300000u) << "large stdin and stdout at once must not deadlock";
}

}  // namespace
}  // namespace modelswarm
