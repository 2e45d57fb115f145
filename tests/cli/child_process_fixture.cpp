#include "cli/child_process_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "test_utils.h"

extern char** environ;

namespace modelswarm::test {
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

Child start_modelswarm(const std::vector<std::string>& args, const fs::path& log_dir, const ChildOptions& options) {
  fs::create_directories(log_dir);
  const std::string out_path = (log_dir / "stdout").string(), err_path = (log_dir / "stderr").string();
  std::vector<std::string> argv = {MODELSWARM_CLI};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> c_argv;
  for (auto& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  // The environment is built here: after fork only async-signal-safe calls are allowed.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    bool replaced = false;
    for (const auto& kv : options.env) replaced |= entry.rfind(kv.first + "=", 0) == 0;
    if (!replaced) env.push_back(entry);
  }
  for (const auto& [name, value] : options.env) env.push_back(name + "=" + value);
  std::vector<char*> c_env;
  for (auto& e : env) c_env.push_back(e.data());
  c_env.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) ::_exit(126);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (options.max_file_bytes) {
      ::signal(SIGXFSZ, SIG_IGN);  // ignored dispositions survive exec
      const rlimit limit{*options.max_file_bytes, *options.max_file_bytes};
      ::setrlimit(RLIMIT_FSIZE, &limit);
    }
    if (options.max_address_space_bytes) {
      const rlimit limit{*options.max_address_space_bytes, *options.max_address_space_bytes};
      ::setrlimit(RLIMIT_AS, &limit);
    }
    ::execve(c_argv[0], c_argv.data(), c_env.data());
    ::_exit(127);
  }
  EXPECT_GT(pid, 0) << "fork failed";
  return Child{pid, log_dir};
}

ChildResult wait_for(const Child& child) {
  ChildResult r;
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.out = slurp(child.log_dir / "stdout");
  r.err = slurp(child.log_dir / "stderr");
  return r;
}

ChildResult run_modelswarm(const std::vector<std::string>& args, const ChildOptions& options) {
  static std::atomic<int> counter{0};
  const fs::path logs = temp_dir("child-" + std::to_string(counter++));
  return wait_for(start_modelswarm(args, logs, options));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace modelswarm::test
