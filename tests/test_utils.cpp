#include "test_utils.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace modelswarm::test {
namespace fs = std::filesystem;

fs::path source_dir() { return fs::path(MODELSWARM_SOURCE_DIR); }
fs::path shared_dir() { return source_dir().parent_path() / "shared"; }
bool shared_available() { return fs::exists(shared_dir() / "fixtures" / "stories260K" / "stories260K.bin"); }

fs::path temp_dir(const std::string& name) {
  static const fs::path root = fs::path(MODELSWARM_BINARY_DIR) / "test-tmp" / std::to_string(::getpid());
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = root / (info ? std::string(info->test_suite_name()) + "." + info->name() : "global") / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int run_capture(const std::string& command, std::string* output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  std::array<char, 4096> buffer{};
  std::string out;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  int status = ::pclose(pipe);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

bool run_python(const std::string& script, const std::vector<std::string>& args, std::string* output) {
  std::string command = shell_quote(MODELSWARM_TEST_PYTHON) + " " +
                        shell_quote((source_dir() / "tests" / "python" / script).string());
  // Appended in two steps, not as " " + shell_quote(a): GCC 12 at -O3 inlines
  // operator+(const char*, std::string&&) into a memcpy it wrongly bounds above PTRDIFF_MAX and
  // warns (-Wstringop-overflow), a known false positive of that compiler.
  for (const auto& a : args) command.append(" ").append(shell_quote(a));
  std::string out;
  int rc = run_capture(command, &out);
  if (output) *output = out;
  if (rc != 0) {
    ADD_FAILURE() << "oracle " << script << " exited " << rc << ":\n" << out;
    return false;
  }
  return true;
}

fs::path cached_oracle(const std::string& name, const std::string& script, const std::vector<std::string>& args) {
  std::string key;
  {
    std::ifstream in(source_dir() / "tests" / "python" / script, std::ios::binary);
    std::ostringstream contents;
    contents << in.rdbuf();
    key = contents.str();
  }
  for (const auto& a : args) key += '\0' + a;
  const fs::path cache = fs::path(MODELSWARM_BINARY_DIR) / "oracle-cache";
  const fs::path dir = cache / (name + "-" + std::to_string(std::hash<std::string>{}(key)));
  if (fs::exists(dir)) return dir;
  const fs::path tmp = cache / (name + ".tmp-" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  std::vector<std::string> full_args = args;
  full_args.push_back(tmp.string());
  if (!run_python(script, full_args)) return {};
  std::error_code ec;
  fs::rename(tmp, dir, ec);  // another process may have won the race: use its copy
  if (ec) fs::remove_all(tmp);
  return dir;
}

CliResult run_cli(const std::vector<std::string>& args) {
  std::string command = shell_quote(MODELSWARM_CLI);
  for (const auto& a : args) command.append(" ").append(shell_quote(a));  // see run_python
  CliResult r;
  r.exit_code = run_capture(command, &r.output);
  return r;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return INFINITY;
  if (a.numel() == 0) return 0;
  return (a.to(at::kCPU, at::kFloat) - b.to(at::kCPU, at::kFloat)).abs().max().item<double>();
}

}  // namespace modelswarm::test
