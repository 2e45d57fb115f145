// The bad-input catalogue: damaged model files, adapters, data sets, task configs and external
// scorers, each given to the real CLI (search, eval or inspect) as a user would. Every case must
// end with the documented exit code, exactly one line on stderr that names the culprit (file,
// key, tensor, particle or command), no signal and no stack trace, and nothing in the run
// directory but the log. Inputs are generated into each case's temporary directory from the
// converted stories260K model and its PEFT experts.
#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <functional>

#include "cli/child_process_fixture.h"
#include "formats/gguf_builder_fixture.h"
#include "modelswarm/common/atomic_file.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/lora/adapter.h"
#include "search/stories_fixture.h"
#include "test_utils.h"

namespace modelswarm {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// A case's directory: private copies of the inputs it damages, and the task config.

class Workspace {
 public:
  explicit Workspace(fs::path dir) : dir_(std::move(dir)) {}

  const fs::path& dir() const { return dir_; }
  fs::path run() const { return dir_ / "run"; }

  /// A private copy of the base model (to damage), made the task's base_model.
  fs::path model() {
    const fs::path copy = dir_ / "model";
    if (!fs::exists(copy)) fs::copy(test::stories_pool().model, copy, fs::copy_options::recursive);
    stories_task()["base_model"] = copy.string();
    return copy;
  }
  /// A private copy of expert `e`, made the task's expert `slot`.
  fs::path expert(int e, int slot = 0) {
    const fs::path copy = dir_ / ("expert" + std::to_string(e));
    if (!fs::exists(copy)) fs::copy(test::stories_pool().experts.at(e), copy, fs::copy_options::recursive);
    stories_task()["experts"][slot] = copy.string();
    return copy;
  }
  /// Writes `contents` to DIR/name.
  fs::path file(const std::string& name, const std::string& contents) {
    std::ofstream(dir_ / name, std::ios::binary) << contents;
    return dir_ / name;
  }
  /// An executable shell script, for the command utility.
  fs::path script(const std::string& name, const std::string& body) {
    const fs::path path = file(name, "#!/bin/sh\n" + body + "\n");
    ::chmod(path.c_str(), 0755);
    return path;
  }
  /// The task's utility reads `path` instead of the stories questions.
  void data(const fs::path& path) { stories_task()["utility"]["data"]["path"] = path.string(); }
  /// A command utility running `argv` on 4 dev examples' short generations.
  void command(const json& argv, const json& extra = json::object()) {
    stories_task()["utility"] = {
        {"type", "command"}, {"command", argv}, {"max_new_tokens", 3},
        {"data", {{"path", (test::source_dir() / "configs" / "data" / "stories_mc.jsonl").string()},
                  {"dev_size", 4}, {"test_size", 0}}}};
    stories_task()["utility"].merge_patch(extra);
  }
  json& task() { return stories_task(); }

  /// The task written to DIR/task.json, merged with `patch`.
  fs::path task_file(const json& patch = json::object()) {
    json t = stories_task();
    t.merge_patch(patch);
    return file("task.json", t.dump(2));
  }
  std::vector<std::string> search(const json& patch = json::object()) {
    return {"search", "--config", task_file(patch).string()};
  }
  std::vector<std::string> eval() { return {"eval", "--config", task_file().string(), "--split", "dev"}; }
  /// `convert gguf` of `gguf` written to DIR/model.gguf, into the run directory (which must stay empty).
  std::vector<std::string> convert_gguf(const test::GgufBuilder& gguf) {
    return {"convert", "gguf", gguf.write(dir_ / "model.gguf").string(), (run() / "model").string()};
  }
  std::vector<std::string> convert_gguf_bytes(const std::string& bytes) {
    return {"convert", "gguf", file("model.gguf", bytes).string(), (run() / "model").string()};
  }
  std::string gguf_path() const { return (dir_ / "model.gguf").string(); }

 private:
  // The task on the stories260K pool, made on first use so that cases needing no model
  // (the GGUF files) run without ../shared.
  json& stories_task() {
    if (!task_.is_null()) return task_;
    const auto& pool = test::stories_pool();
    task_ = {{"base_model", pool.model.string()},
             {"experts", {pool.experts.at(0).string(), pool.experts.at(1).string()}},
             {"device", "cpu"},
             {"utility", {{"type", "multiple_choice"},
                          {"data", {{"path", (test::source_dir() / "configs" / "data" / "stories_mc.jsonl").string()},
                                    {"dev_size", 6}, {"test_size", 4}}}}},
             {"search", {{"swarm_size", 4}, {"max_iterations", 1}, {"seed", 1}}},
             {"output", {{"dir", run().string()}}}};
    return task_;
  }

  fs::path dir_;
  json task_;
};

// What a case runs, and what its error line must name.
struct Invocation {
  std::vector<std::string> args;
  std::string culprit;
};

struct BadInput {
  std::string name;
  int exit_code;  // README "Exit codes": 1 bad file / failed command, 2 bad config
  std::function<Invocation(Workspace&)> prepare;
};

// ---------------------------------------------------------------------------------------------
// Damage

// Rewrites a safetensors file after `change` edits its tensors.
void edit_tensors(const fs::path& file, const std::function<void(std::map<std::string, at::Tensor>&)>& change) {
  std::map<std::string, at::Tensor> tensors;
  {
    const auto f = safetensors::File::open(file);
    for (const auto& e : f.entries()) tensors[e.name] = f.tensor(e);
  }
  change(tensors);
  safetensors::NamedTensors named(tensors.begin(), tensors.end());
  safetensors::write(file, named);
}

// Rewrites a safetensors file's JSON header after `change` edits it (the data stays as is).
void edit_header(const fs::path& file, const std::function<void(json&)>& change) {
  const std::string bytes = read_file(file);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  json header = json::parse(bytes.substr(8, n));
  change(header);
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string length(8, '\0');
  for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
  write_text_atomic(file, length + text + bytes.substr(8 + n));
}

void edit_json(const fs::path& file, const json& patch) {
  json j = json::parse(read_file(file));
  j.merge_patch(patch);
  write_text_atomic(file, j.dump(2));
}

std::string stories_lines(int n) {
  std::ifstream in(test::source_dir() / "configs" / "data" / "stories_mc.jsonl");
  std::string out, line;
  for (int i = 0; i < n && std::getline(in, line); ++i) out += line + "\n";
  return out;
}

// ---------------------------------------------------------------------------------------------
// The catalogue

const std::vector<BadInput>& model_files() {
  static const std::vector<BadInput> cases = {
      {"truncated weights", 1, [](Workspace& w) {
         const fs::path f = w.model() / "model.safetensors";
         const std::string bytes = read_file(f);
         write_text_atomic(f, bytes.substr(0, bytes.size() * 3 / 5));
         return Invocation{w.search(), f.string()};
       }},
      {"header offsets past the end of the file", 1, [](Workspace& w) {
         const fs::path f = w.model() / "model.safetensors";
         edit_header(f, [](json& h) { h["model.norm.weight"]["data_offsets"][1] = 1ull << 40; });
         return Invocation{w.search(), f.string()};
       }},
      {"header shape larger than its bytes", 1, [](Workspace& w) {
         const fs::path f = w.model() / "model.safetensors";
         edit_header(f, [](json& h) { h["model.norm.weight"]["shape"] = {128}; });
         return Invocation{w.search(), f.string()};
       }},
      {"NaN in a weight", 1, [](Workspace& w) {
         edit_tensors(w.model() / "model.safetensors", [](auto& t) {
           t["model.layers.2.mlp.down_proj.weight"][3][5] = std::nan("");
         });
         return Invocation{w.search(), "model.layers.2.mlp.down_proj.weight holds NaN"};
       }},
      {"infinite weight", 1, [](Workspace& w) {
         edit_tensors(w.model() / "model.safetensors", [](auto& t) { t["model.norm.weight"][0] = INFINITY; });
         return Invocation{w.eval(), "model.norm.weight holds NaN or infinite values"};
       }},
      {"integer weights", 1, [](Workspace& w) {
         edit_tensors(w.model() / "model.safetensors", [](auto& t) {
           auto& q = t["model.layers.1.self_attn.q_proj.weight"];
           q = q.to(at::kInt);
         });
         return Invocation{w.search(), "model.layers.1.self_attn.q_proj.weight has non-float dtype"};
       }},
      {"missing tensor", 1, [](Workspace& w) {
         edit_tensors(w.model() / "model.safetensors", [](auto& t) { t.erase("model.layers.1.input_layernorm.weight"); });
         return Invocation{w.search(), "model.layers.1.input_layernorm.weight is missing"};
       }},
      {"config.json disagrees with the weights", 1, [](Workspace& w) {
         edit_json(w.model() / "config.json", {{"intermediate_size", 200}});
         return Invocation{w.eval(), "model.layers.0.mlp.gate_proj.weight has shape"};
       }},
      {"config.json is not JSON", 1, [](Workspace& w) {
         const fs::path f = w.model() / "config.json";
         write_text_atomic(f, "{\"architectures\": [\"LlamaForCausalLM\"],,");
         return Invocation{w.search(), f.string() + ": invalid JSON"};
       }},
      {"config.json negative size", 1, [](Workspace& w) {
         edit_json(w.model() / "config.json", {{"num_attention_heads", -8}});
         return Invocation{w.eval(), "num_attention_heads"};
       }},
      {"unsupported architecture", 1, [](Workspace& w) {
         edit_json(w.model() / "config.json", {{"architectures", {"GPT2LMHeadModel"}}});
         return Invocation{w.search(), "unsupported architecture \"GPT2LMHeadModel\""};
       }},
      {"pickle-only model", 1, [](Workspace& w) {
         const fs::path m = w.model();
         fs::remove(m / "model.safetensors");
         w.file("model/pytorch_model.bin", "\x80\x02}q\x00.");
         return Invocation{w.search(), "pytorch_model.bin"};
       }},
      {"tokenizer.json is not a tokenizer", 1, [](Workspace& w) {
         const fs::path f = w.model() / "tokenizer.json";
         write_text_atomic(f, "[1, 2, 3]");
         return Invocation{w.search(), "tokenizer.json"};
       }},
      {"inspect: empty file", 1, [](Workspace& w) {
         const fs::path f = w.file("empty.safetensors", "");
         return Invocation{{"inspect", f.string()}, f.string()};
       }},
      {"inspect: truncated weights", 1, [](Workspace& w) {
         const fs::path f = w.model() / "model.safetensors";
         const std::string bytes = read_file(f);
         write_text_atomic(f, bytes.substr(0, 100));
         return Invocation{{"inspect", w.model().string()}, f.string()};
       }},
  };
  return cases;
}

const std::vector<BadInput>& adapters() {
  static const std::vector<BadInput> cases = {
      {"adapter rank disagrees with its config", 1, [](Workspace& w) {
         const fs::path e = w.expert(0);  // rank 2
         edit_json(e / "adapter_config.json", {{"r", 8}});
         return Invocation{w.search(), "adapter_config.json says r = 8"};
       }},
      {"adapter for a module the base lacks", 1, [](Workspace& w) {
         const fs::path e = w.expert(1);
         edit_tensors(e / "adapter_model.safetensors", [](auto& t) {
           t["base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight"] = at::zeros({3, 64});
           t["base_model.model.model.layers.9.self_attn.q_proj.lora_B.weight"] = at::zeros({64, 3});
         });
         return Invocation{w.search(), "model.layers.9.self_attn.q_proj does not exist in the base model"};
       }},
      {"experts of different base models", 1, [](Workspace& w) {
         w.expert(0, 0);
         const fs::path other = w.expert(1, 1);
         edit_tensors(other / "adapter_model.safetensors", [](auto& t) {  // a base with hidden size 48
           for (auto& [name, tensor] : t)
             tensor = tensor.dim() == 2 && tensor.size(1) == 64 ? at::zeros({tensor.size(0), 48}) : tensor;
         });
         return Invocation{w.search(), other.string()};
       }},
      {"adapter_config.json is not JSON", 1, [](Workspace& w) {
         const fs::path f = w.expert(0) / "adapter_config.json";
         write_text_atomic(f, "{\"r\": 2, \"lora_alpha\": ");
         return Invocation{w.search(), f.string() + ": invalid JSON"};
       }},
      {"adapter_config.json field of the wrong type (found by fuzzing)", 1, [](Workspace& w) {
         const fs::path f = w.expert(0) / "adapter_config.json";
         edit_json(f, {{"peft_type", 16}});
         return Invocation{w.search(), f.string() + ": peft_type: expected a string, got 16"};
       }},
      {"pickle-only adapter", 1, [](Workspace& w) {
         const fs::path e = w.expert(1);
         fs::remove(e / "adapter_model.safetensors");
         w.file("expert1/adapter_model.bin", "\x80\x02}q\x00.");
         return Invocation{w.search(), e.string() + ": only adapter_model.bin (a pickle file)"};
       }},
      {"NaN in adapter weights", 1, [](Workspace& w) {
         edit_tensors(w.expert(0) / "adapter_model.safetensors", [](auto& t) {
           t["base_model.model.model.layers.0.mlp.up_proj.lora_B.weight"][1][1] = std::nan("");
         });
         return Invocation{w.search(), "model.layers.0.mlp.up_proj.lora_B.weight' holds NaN"};
       }},
      {"DoRA adapter", 1, [](Workspace& w) {
         edit_json(w.expert(0) / "adapter_config.json", {{"use_dora", true}});
         return Invocation{w.search(), "use_dora"};
       }},
      {"adapter directory missing", 1, [](Workspace& w) {
         w.task()["experts"][1] = (w.dir() / "no-such-expert").string();
         return Invocation{w.search(), (w.dir() / "no-such-expert").string()};
       }},
      {"eval --adapter without weights", 1, [](Workspace& w) {
         const fs::path e = w.expert(2);
         fs::remove(e / "adapter_model.safetensors");
         std::vector<std::string> args = w.eval();
         args.insert(args.end(), {"--adapter", e.string()});
         return Invocation{args, e.string() + ": no adapter_model.safetensors"};
       }},
  };
  return cases;
}

const std::vector<BadInput>& data_sets() {
  static const std::vector<BadInput> cases = {
      {"empty data set", 1, [](Workspace& w) {
         w.data(w.file("data.jsonl", "\n\n"));
         return Invocation{w.search(), "data.jsonl: the data set is empty"};
       }},
      {"malformed line", 1, [](Workspace& w) {
         w.data(w.file("data.jsonl", stories_lines(2) + "{\"query\": \"x\", \"choices\": [\n" + stories_lines(3)));
         return Invocation{w.search(), "data.jsonl:3: invalid JSON"};
       }},
      {"line that is not an object", 1, [](Workspace& w) {
         w.data(w.file("data.jsonl", stories_lines(1) + "[1, 2]\n"));
         return Invocation{w.search(), "data.jsonl:2: expected a JSON object"};
       }},
      {"choices of the wrong type", 1, [](Workspace& w) {
         w.data(w.file("data.jsonl", stories_lines(1) + R"({"query": "a", "choices": " b c", "gold": 0})" "\n"));
         return Invocation{w.search(), "data.jsonl:2: choices must be a non-empty array of strings"};
       }},
      {"gold out of range", 1, [](Workspace& w) {
         w.data(w.file("data.jsonl", R"({"query": "a", "choices": [" b", " c"], "gold": 7})" "\n" + stories_lines(8)));
         return Invocation{w.search(), "data.jsonl:1: gold 7 is out of range for 2 choices"};
       }},
      {"record without a prompt", 1, [](Workspace& w) {
         w.data(w.file("data.jsonl", stories_lines(3) + R"({"stem": "a", "choices": [" b", " c"], "gold": 0})" "\n"));
         return Invocation{w.search(), "data.jsonl:4: no field for the prompt"};
       }},
      {"invalid UTF-8", 1, [](Workspace& w) {
         w.data(w.file("data.jsonl", stories_lines(4) + "{\"query\": \"caf\xe9 \xff\xfe\", \"choices\": [\" b\"], \"gold\": 0}\n"));
         return Invocation{w.search(), "data.jsonl:5: invalid JSON"};
       }},
      {"lone UTF-16 surrogate escape", 1, [](Workspace& w) {
         w.data(w.file("data.jsonl", R"({"query": "half an emoji \ud83d", "choices": [" b", " c"], "gold": 0})" "\n"));
         return Invocation{w.search(), "data.jsonl:1: invalid JSON"};
       }},
      {"JSON file that is not an array", 1, [](Workspace& w) {
         w.data(w.file("data.json", R"({"query": "a", "choices": [" b"], "gold": 0})"));
         return Invocation{w.search(), "data.json: expected a JSON array of objects"};
       }},
      {"data file missing", 1, [](Workspace& w) {
         w.data(w.dir() / "missing.jsonl");
         return Invocation{w.search(), "missing.jsonl"};
       }},
  };
  return cases;
}

const std::vector<BadInput>& configs() {
  static const std::vector<BadInput> cases = {
      {"unknown key", 2, [](Workspace& w) { return Invocation{w.search({{"serach", {{"seed", 1}}}}), "serach"}; }},
      {"unknown nested key", 2, [](Workspace& w) {
         return Invocation{w.search({{"search", {{"inertial", 0.5}}}}), "search.inertial"};
       }},
      {"swarm size of the wrong type", 2, [](Workspace& w) {
         return Invocation{w.search({{"search", {{"swarm_size", "big"}}}}), "search.swarm_size: expected an integer"};
       }},
      {"swarm size 0", 2, [](Workspace& w) { return Invocation{w.search({{"search", {{"swarm_size", 0}}}}), "search.swarm_size"}; }},
      {"negative step length", 2, [](Workspace& w) {
         return Invocation{w.search({{"search", {{"step_length", -0.5}}}}), "search.step_length"};
       }},
      {"step decay above 1", 2, [](Workspace& w) {
         return Invocation{w.search({{"search", {{"step_decay", 1.5}}}}), "search.step_decay"};
       }},
      {"top_k 0", 2, [](Workspace& w) { return Invocation{w.search({{"output", {{"top_k", 0}}}}), "output.top_k"}; }},
      {"a single expert", 2, [](Workspace& w) {
         w.task()["experts"] = {test::stories_pool().experts.at(0).string()};
         return Invocation{w.search(), "experts"};
       }},
      {"max_batch_tokens 0", 2, [](Workspace& w) {
         return Invocation{w.search({{"engine", {{"max_batch_tokens", 0}}}}), "engine.max_batch_tokens"};
       }},
      {"utility data size of the wrong type", 2, [](Workspace& w) {
         return Invocation{w.search({{"utility", {{"data", {{"dev_size", "all"}}}}}}), "utility.data.dev_size"};
       }},
      {"JSON syntax error", 2, [](Workspace& w) {
         const fs::path f = w.file("task.json", "{\"base_model\": \"m\",\n \"experts\": [\"a\" \"b\"]}");
         return Invocation{{"search", "--config", f.string()}, f.string()};
       }},
      {"config that is not an object", 2, [](Workspace& w) {
         const fs::path f = w.file("task.json", "[\"base_model\"]");
         return Invocation{{"search", "--config", f.string()}, f.string()};
       }},
      {"base model directory missing", 1, [](Workspace& w) {
         w.task()["base_model"] = (w.dir() / "no-model").string();
         return Invocation{w.search(), (w.dir() / "no-model").string()};
       }},
  };
  return cases;
}

const std::vector<BadInput>& external_commands() {
  static const std::vector<BadInput> cases = {
      {"scorer times out", 1, [](Workspace& w) {
         const fs::path s = w.script("slow.sh", "cat > /dev/null; sleep 30; echo 1");
         w.command({s.string()}, {{"timeout_seconds", 0.5}});
         return Invocation{w.search(), "particle 0: command " + s.string() + " did not finish within 0.5 s"};
       }},
      {"scorer crashes", 1, [](Workspace& w) {
         const fs::path s = w.script("crash.sh", "cat > /dev/null; kill -SEGV $$");
         w.command({s.string()});
         return Invocation{w.search(), "particle 0: command " + s.string() + " was killed by signal 11"};
       }},
      {"scorer prints garbage", 1, [](Workspace& w) {
         const fs::path s = w.script("garbage.sh", "cat > /dev/null; echo 'looks good to me!'");
         w.command({s.string()});
         return Invocation{w.search(), "particle 0: command " + s.string() + " printed neither a finite number"};
       }},
      {"scorer prints NaN", 1, [](Workspace& w) {
         const fs::path s = w.script("nan.sh", "cat > /dev/null; echo NaN");
         w.command({s.string()});
         return Invocation{w.search(), "particle 0: command " + s.string() + " printed neither a finite number"};
       }},
      {"scorer fails with a multi-line stderr", 1, [](Workspace& w) {
         const fs::path s = w.script("fails.sh",
                                     "cat > /dev/null; echo 'Traceback (most recent call last):' >&2; "
                                     "printf '  File \"x.py\", line 1\\nValueError: bad\\n' >&2; exit 3");
         w.command({s.string()});
         return Invocation{w.search(), "particle 0: command " + s.string() + " exited with code 3"};
       }},
      {"scorer floods stdout", 1, [](Workspace& w) {
         const fs::path s = w.script("flood.sh", "yes 1");
         w.command({s.string()}, {{"max_output_bytes", 1000}});
         return Invocation{w.search(), "particle 0: command " + s.string() + " printed more than 1000 bytes"};
       }},
      {"scorer missing", 1, [](Workspace& w) {
         const fs::path s = w.dir() / "no-such-scorer";
         w.command({s.string()});
         return Invocation{w.search(), s.string()};
       }},
      {"scorer argument with shell syntax is not run by a shell", 1, [](Workspace& w) {
         // Were a shell involved, `$(touch pwned)` would run; argv passes it verbatim instead.
         const fs::path s = w.script("args.sh", "cat > /dev/null; echo \"$1\"");
         w.command({s.string(), "$(touch " + (w.dir() / "pwned").string() + ")"});
         return Invocation{w.search(), "printed neither a finite number nor {\"utility\": x} on stdout: \"$(touch"};
       }},
  };
  return cases;
}

// GGUF files given to `convert gguf`: a tiny valid llama model (tests/formats/gguf_builder_fixture)
// with one thing broken each, as a damaged download or a writer bug would break it.
const std::vector<BadInput>& gguf_files() {
  using test::GgufBuilder;
  auto u64_at = [](std::string bytes, size_t at, uint64_t value) {
    for (int i = 0; i < 8; ++i) bytes[at + i] = static_cast<char>((value >> (8 * i)) & 0xff);
    return bytes;
  };
  static const std::vector<BadInput> cases = {
      {"not a GGUF file", 1, [](Workspace& w) {
         GgufBuilder g = test::tiny_llama_gguf();
         g.magic = 0x46554746;
         return Invocation{w.convert_gguf(g), w.gguf_path() + ": not a GGUF file"};
       }},
      {"GGUF version 1", 1, [](Workspace& w) {
         GgufBuilder g = test::tiny_llama_gguf();
         g.version = 1;
         return Invocation{w.convert_gguf(g), w.gguf_path() + ": GGUF version 1 is not supported"};
       }},
      {"file cut inside the metadata", 1, [](Workspace& w) {
         const std::string bytes = test::tiny_llama_gguf().bytes();
         return Invocation{w.convert_gguf_bytes(bytes.substr(0, 300)), w.gguf_path() + ": truncated or corrupt GGUF"};
       }},
      {"file cut inside the tensor data", 1, [](Workspace& w) {
         const std::string bytes = test::tiny_llama_gguf().bytes();
         return Invocation{w.convert_gguf_bytes(bytes.substr(0, bytes.size() - 100)),
                           "tensor output_norm.weight (128 bytes at data offset"};
       }},
      {"tensor count beyond the file", 1, [u64_at](Workspace& w) {
         return Invocation{w.convert_gguf_bytes(u64_at(test::tiny_llama_gguf().bytes(), 8, uint64_t{1} << 40)),
                           "1099511627776 tensors cannot fit"};
       }},
      {"metadata count beyond the file", 1, [u64_at](Workspace& w) {
         return Invocation{w.convert_gguf_bytes(u64_at(test::tiny_llama_gguf().bytes(), 16, uint64_t{1} << 50)),
                           "metadata entries cannot fit"};
       }},
      {"string longer than the file", 1, [](Workspace& w) {
         GgufBuilder g = test::tiny_llama_gguf();
         std::string payload(8, '\0');
         payload[5] = 1;  // length 2^40
         g.raw("general.name", 8, payload + "SmolLM");
         return Invocation{w.convert_gguf(g), "truncated or corrupt GGUF: a string value"};
       }},
      {"unknown metadata value type", 1, [](Workspace& w) {
         GgufBuilder g = test::tiny_llama_gguf();
         g.raw("general.weird", 77, "");
         return Invocation{w.convert_gguf(g), "metadata general.weird: unknown value type 77"};
       }},
      {"unknown tensor type", 1, [](Workspace& w) {
         GgufBuilder g = test::tiny_llama_gguf();
         g.tensor("blk.0.ffn_norm.weight", {32}, 99, std::string(128, '\0'));
         return Invocation{w.convert_gguf(g), "tensor blk.0.ffn_norm.weight has unknown ggml type 99"};
       }},
      {"tensor offset past the end", 1, [](Workspace& w) {
         GgufBuilder g = test::tiny_llama_gguf();
         g.shift_offset("blk.0.attn_norm.weight", uint64_t{1} << 30);
         return Invocation{w.convert_gguf(g), "tensor blk.0.attn_norm.weight (128 bytes at data offset"};
       }},
      {"a quantisation modelswarm does not read", 1, [](Workspace& w) {
         GgufBuilder g = test::tiny_llama_gguf();
         g.tensor("blk.0.attn_v.weight", {16, 256}, /*IQ2_XXS*/ 16, std::string(16 * 66, '\0'));
         return Invocation{w.convert_gguf(g), "tensor blk.0.attn_v.weight has type IQ2_XXS, which modelswarm does not"};
       }},
      {"unsupported architecture", 1, [](Workspace& w) {
         return Invocation{w.convert_gguf(test::tiny_llama_gguf("mamba")), "architecture mamba is not supported"};
       }},
      {"missing model key", 1, [](Workspace& w) {
         GgufBuilder g = test::tiny_llama_gguf();
         g.erase("llama.embedding_length");
         return Invocation{w.convert_gguf(g), "metadata key llama.embedding_length is missing"};
       }},
      {"block count larger than the tensors", 1, [](Workspace& w) {
         GgufBuilder g = test::tiny_llama_gguf();
         g.u32("llama.block_count", 2);
         return Invocation{w.convert_gguf(g), "layer 1 has no tensor for input_layernorm.weight"};
       }},
      {"token types shorter than the tokens", 1, [](Workspace& w) {
         GgufBuilder g = test::tiny_llama_gguf();
         g.i32s("tokenizer.ggml.token_type", {3, 3, 1});
         return Invocation{w.convert_gguf(g), "tokenizer.ggml.token_type"};
       }},
      {"a token that is not UTF-8", 1, [](Workspace& w) {
         GgufBuilder g = test::tiny_llama_gguf();
         g.strings("tokenizer.ggml.tokens", {"<s>", "</s>", "a", "b", "c", "\xff\xfe", "ab", "Ġa", "Ġab", "d", "e", "."});
         return Invocation{w.convert_gguf(g), "tokenizer.ggml.tokens"};
       }},
      {"a directory instead of a file", 1, [](Workspace& w) {
         fs::create_directories(w.dir() / "model.gguf");
         return Invocation{{"convert", "gguf", w.gguf_path(), (w.run() / "model").string()},
                           w.gguf_path() + ": not a regular file"};
       }},
  };
  return cases;
}

// ---------------------------------------------------------------------------------------------
// The check

void expect_clean_failure(const BadInput& c) {
  SCOPED_TRACE(c.name);
  std::string slug;
  for (char ch : c.name) slug += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '-';
  Workspace w(test::temp_dir(slug));
  const Invocation invocation = c.prepare(w);
  std::vector<std::string> args = {"-q"};
  args.insert(args.end(), invocation.args.begin(), invocation.args.end());
  const test::ChildResult r = test::run_modelswarm(args);

  EXPECT_EQ(r.signal, 0) << "killed by signal " << r.signal << "\n" << r.err;
  EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
  const auto lines = test::lines_of(r.err);
  ASSERT_EQ(lines.size(), 1u) << "stderr must be one line:\n" << r.err;
  EXPECT_EQ(lines[0].rfind("modelswarm: error: ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(invocation.culprit), std::string::npos) << "does not name \"" << invocation.culprit
                                                                   << "\":\n" << lines[0];
  // inspect describes what it could read before the damage; search and eval print no result.
  if (invocation.args.front() != "inspect") EXPECT_TRUE(r.out.empty()) << r.out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(w.run(), ec))
    EXPECT_EQ(entry.path().filename().string(), "search.log") << "left in the run directory: " << entry.path().string();
  EXPECT_FALSE(fs::exists(w.dir() / "pwned"));
}

void run_catalogue(const std::vector<BadInput>& cases) {
  ASSERT_EQ(test::stories_pool().experts.size(), 5u);
  for (const auto& c : cases) expect_clean_failure(c);
}

TEST(BadInputs, CatalogueCoversEveryCategoryWithThirtyOrMoreCases) {
  const size_t total = model_files().size() + adapters().size() + data_sets().size() + configs().size() +
                       external_commands().size() + gguf_files().size();
  EXPECT_GE(total, 30u);
  EXPECT_GE(gguf_files().size(), 8u);
  for (size_t n : {model_files().size(), adapters().size(), data_sets().size(), configs().size(),
                   external_commands().size()})
    EXPECT_GE(n, 5u);
}

TEST(BadInputs, ModelFiles) {
  MS_REQUIRE_SHARED();
  run_catalogue(model_files());
}

TEST(BadInputs, Adapters) {
  MS_REQUIRE_SHARED();
  run_catalogue(adapters());
}

TEST(BadInputs, DataSets) {
  MS_REQUIRE_SHARED();
  run_catalogue(data_sets());
}

TEST(BadInputs, TaskConfigs) {
  MS_REQUIRE_SHARED();
  run_catalogue(configs());
}

TEST(BadInputs, GgufFiles) {
  // The undamaged file converts, so each case's error is its damage's.
  Workspace w(test::temp_dir("gguf-undamaged"));
  const auto r = test::run_modelswarm(w.convert_gguf(test::tiny_llama_gguf()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::is_regular_file(w.run() / "model" / "model.safetensors"));
  for (const auto& c : gguf_files()) expect_clean_failure(c);
}

TEST(BadInputs, ExternalCommands) {
  MS_REQUIRE_SHARED();
  run_catalogue(external_commands());
}

}  // namespace
}  // namespace modelswarm
