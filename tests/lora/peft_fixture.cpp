#include "lora/peft_fixture.h"

#include "modelswarm/formats/safetensors.h"
#include "test_utils.h"

namespace modelswarm::test {

const std::filesystem::path& peft_fixture() {
  static const std::filesystem::path dir = cached_oracle("peft", "peft_oracle.py", {"make"});
  return dir;
}

std::map<std::string, at::Tensor> read_deltas(const std::filesystem::path& file) {
  auto f = safetensors::File::open(file);
  std::map<std::string, at::Tensor> out;
  for (const auto& e : f.entries()) out[e.name] = f.tensor(e);
  return out;
}

}  // namespace modelswarm::test
