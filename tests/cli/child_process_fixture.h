// Runs the modelswarm binary as a child process the way a batch system would, with what the
// reliability tests need beyond test::run_cli: stdout and stderr apart, the exit status or the
// signal, extra environment variables, resource limits (a full disk, a small memory), and a
// handle to kill it mid-run.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace modelswarm::test {

struct ChildOptions {
  std::vector<std::pair<std::string, std::string>> env;  // set in the child only
  // RLIMIT_FSIZE with SIGXFSZ ignored: a write that would grow a file past it fails with EFBIG,
  // as on a full disk (which root, as in CI, cannot otherwise be made to hit).
  std::optional<rlim_t> max_file_bytes;
  std::optional<rlim_t> max_address_space_bytes;  // RLIMIT_AS: allocations beyond it fail
};

struct ChildResult {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  std::string out;
  std::string err;
};

/// A running modelswarm; its stdout and stderr go to files in `log_dir`.
struct Child {
  pid_t pid = -1;
  std::filesystem::path log_dir;
};

Child start_modelswarm(const std::vector<std::string>& args, const std::filesystem::path& log_dir,
                       const ChildOptions& options = {});
/// Waits for the child's end and collects its output.
ChildResult wait_for(const Child& child);
/// start_modelswarm + wait_for, with the output in a fresh temporary directory.
ChildResult run_modelswarm(const std::vector<std::string>& args, const ChildOptions& options = {});

/// Lines of `text` (a last line without '\n' counts).
std::vector<std::string> lines_of(const std::string& text);

}  // namespace modelswarm::test
