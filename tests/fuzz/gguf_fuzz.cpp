// libFuzzer target: any byte string given to the GGUF reader either opens, with every tensor
// inside the file, sized as its type says, and its first small tensors dequantised or refused
// with modelswarm::Error; or raises modelswarm::Error. Nothing else. An opened file's config
// and tokenizer files are made and written out as `convert gguf` writes them, with the same rule. File::open takes a path
// (it maps the file), so each input is written to a file of this process first.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "modelswarm/common/error.h"
#include "modelswarm/formats/gguf.h"
#include "modelswarm/formats/gguf_convert.h"

namespace {

namespace fs = std::filesystem;
using namespace modelswarm;

// The input file, removed when the fuzzer exits.
struct InputFile {
  fs::path path = fs::temp_directory_path() / cat("gguf_fuzz_", ::getpid(), ".gguf");
  ~InputFile() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

void check(const gguf::File& file, size_t size) {
  int read = 0;
  for (const auto& t : file.tensors()) {
    if (t.offset > size || t.bytes > size - t.offset) __builtin_trap();  // a tensor outside the file
    if (gguf::is_supported(t.type)) {
      // dequantize() reads numel/block_elements blocks: the directory must agree with the type.
      const auto type = static_cast<gguf::TensorType>(t.type);
      if (t.numel() % gguf::block_elements(type) != 0 ||
          t.bytes != static_cast<uint64_t>(t.numel() / gguf::block_elements(type) * gguf::block_bytes(type)))
        __builtin_trap();
    }
    // Dequantise the first few small tensors (a large one only costs time).
    if (read < 4 && t.numel() <= (1 << 16)) {
      ++read;
      try {
        if (file.read(t).numel() != t.numel()) __builtin_trap();
      } catch (const Error&) {
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const InputFile input;
  {
    std::ofstream out(input.path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) __builtin_trap();  // the harness itself failed, not the reader
  }
  try {
    const gguf::File file = gguf::File::open(input.path);
    check(file, size);
    try {
      (void)gguf::hf_config(file).dump(2);
    } catch (const Error&) {
    }
    const gguf::TokenizerFiles tokenizer = gguf::hf_tokenizer(file);
    (void)tokenizer.tokenizer.dump(2);
    (void)tokenizer.tokenizer_config.dump(2);
  } catch (const Error&) {
  }
  return 0;
}
