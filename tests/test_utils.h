// Shared test helpers: paths, temporary directories, the Python oracles and tensor checks.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace modelswarm::test {

std::filesystem::path source_dir();                 // the repository root
std::filesystem::path shared_dir();                 // ../shared beside the repository
/// ../shared/fixtures/stories260K, or GTEST_SKIP()s the calling test when absent: use
/// through the MS_REQUIRE_SHARED() macro.
bool shared_available();
#define MS_REQUIRE_SHARED()                                                            \
  do {                                                                                 \
    if (!::modelswarm::test::shared_available())                                       \
      GTEST_SKIP() << "../shared is absent: test needs the shared fixtures/datasets"; \
  } while (0)

/// A fresh empty directory under the build tree, removed at the end of the test process.
std::filesystem::path temp_dir(const std::string& name);

/// Runs a Python oracle script from tests/python with the venv's interpreter; fails the test
/// (ADD_FAILURE + returns false) when it exits non-zero, printing its output.
bool run_python(const std::string& script, const std::vector<std::string>& args, std::string* output = nullptr);

/// Output directory of `script make-like-args... OUT` run once and shared by every test process:
/// build/oracle-cache/<name>-<hash of the script and args>. The script gets the directory to fill
/// as its last argument; it is generated in a temporary sibling and renamed into place, so
/// concurrent test processes never see half an output. Empty path (and a test failure) when
/// the script fails.
std::filesystem::path cached_oracle(const std::string& name, const std::string& script,
                                    const std::vector<std::string>& args);

/// Runs the modelswarm binary; returns the exit code and captures stdout+stderr.
struct CliResult {
  int exit_code;
  std::string output;
};
CliResult run_cli(const std::vector<std::string>& args);

/// The message of the E that f() throws, or "" when it throws none.
template <typename E, typename F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

/// Max |a - b| after both are brought to fp32 CPU.
double max_abs_diff(const at::Tensor& a, const at::Tensor& b);

}  // namespace modelswarm::test
