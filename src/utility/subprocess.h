// Runs an external command without a shell: argv through posix_spawnp, stdin fed from a string,
// stdout and stderr collected, a wall-clock timeout and a cap on stdout. The command runs in a
// process group of its own, so that a timeout also stops what it started.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace modelswarm::utility {

struct ProcessResult {
  int exit_code = -1;        // when it exited normally
  int signal = 0;            // when a signal ended it (SIGKILL after a timeout or overflow)
  bool timed_out = false;
  bool output_overflow = false;  // stdout exceeded max_output_bytes
  std::string out;
  std::string err_tail;      // the last few KiB of stderr
};

/// Throws Error when the command cannot be started (not found, not executable).
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input, double timeout_seconds,
                          size_t max_output_bytes);

}  // namespace modelswarm::utility
