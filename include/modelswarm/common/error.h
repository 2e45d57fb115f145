// Error policy: bad input and failed steps throw modelswarm::Error with one message that names
// the culprit (file, config key, particle) and the problem. Only main() catches, prints the
// message on one line and maps it to an exit code. Invariants use TORCH_INTERNAL_ASSERT.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace modelswarm {

/// Process exit codes, as documented in README.md.
enum class ExitCode : int {
  kOk = 0,
  kRuntimeFailure = 1,    // bad input file, failed external command, I/O error...
  kUsageError = 2,        // bad command line or invalid config
  kBelowExpectation = 3,  // --expect-min-utility was not met
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ExitCode code = ExitCode::kRuntimeFailure)
      : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

/// A problem in the task config or the command line (exit code 2).
class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& message) : Error(message, ExitCode::kUsageError) {}
};

/// Concatenates anything streamable: cat("tensor ", name, " has ", n, " elements").
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace modelswarm

/// Throws modelswarm::Error(cat(message...)) unless cond holds.
#define MS_CHECK(cond, ...)                                   \
  do {                                                        \
    if (!(cond)) throw ::modelswarm::Error(::modelswarm::cat(__VA_ARGS__)); \
  } while (0)
