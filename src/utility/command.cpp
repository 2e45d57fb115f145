// command: the user's own scorer. Each particle's greedy generations are written as JSONL to the
// stdin of `command` (an argv list, run without a shell), one line per example:
//   {"particle": p, "index": i, "prompt": ..., "output": ..., "answer": ..., "fields": {record}}
// and the command prints its utility on stdout: {"utility": x} or a bare number.
#include <ATen/core/Tensor.h>

#include <cmath>

#include "modelswarm/common/json_reader.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/model/evaluator.h"
#include "utility/builtin.h"
#include "utility/common.h"
#include "utility/subprocess.h"

namespace modelswarm::utility {

namespace {

std::string shorten(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n) + "..."; }

class CommandUtility : public Utility {
 public:
  CommandUtility(JsonReader& config, const UtilityContext& context) {
    argv_ = config.get<std::vector<std::string>>("command");
    if (argv_.empty()) config.fail("command", "needs at least the program");
    // A program given as a path resolves against the config's directory, like data paths.
    if (argv_[0].find('/') != std::string::npos && std::filesystem::path(argv_[0]).is_relative())
      argv_[0] = (context.base_dir / argv_[0]).lexically_normal().string();
    timeout_ = config.in_range<double>("timeout_seconds", config.get_or<double>("timeout_seconds", 300.0), 0.001, 1e6);
    max_output_ = static_cast<size_t>(config.in_range<int64_t>(
        "max_output_bytes", config.get_or<int64_t>("max_output_bytes", 1 << 20), 1, int64_t(1) << 32));
    format_ = PromptFormat::read(config);
    generation_ = read_generation_options(config, /*default_max_new_tokens=*/64, {"\n\n"});
    JsonReader data = config.object("data");
    data_ = load_task_data(data, context.base_dir, {{Role::kPrompt}, {Role::kAnswer}});
  }

  Scores score(model::Evaluator& evaluator, const TokenEncoder& encoder, const at::Tensor& particles,
               Split split) override {
    const auto& examples = split_examples(data_, split);
    const auto outputs =
        generate_for_split(evaluator, encoder, particles, examples, split, format_, generation_, cache_);
    Scores s;
    for (size_t p = 0; p < outputs.size(); ++p) s.utility.push_back(run(static_cast<int64_t>(p), examples, outputs[p]));
    s.metrics["command"] = s.utility;
    return s;
  }

  UtilityInfo info() const override {
    return task_data_info("command", "command", data_, cat("command ", argv_[0]));
  }

  /// Runs the command on one particle's outputs and parses its utility.
  double run(int64_t particle, const std::vector<Example>& examples, const std::vector<std::string>& outputs) const {
    std::string input;
    for (size_t i = 0; i < examples.size(); ++i) {
      nlohmann::json line = {{"particle", particle},
                             {"index", examples[i].record},
                             {"prompt", examples[i].prompt},
                             {"output", outputs.at(i)},
                             {"fields", examples[i].fields}};
      if (!examples[i].answer.empty()) line["answer"] = examples[i].answer;
      input += line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    }
    const ProcessResult r = run_process(argv_, input, timeout_, max_output_);
    const std::string who = cat("particle ", particle, ": command ", argv_[0]);
    const std::string tail = r.err_tail.empty() ? "" : cat("; its stderr ends with: ", trim(shorten(r.err_tail, 2000)));
    if (r.timed_out) throw Error(cat(who, " did not finish within ", timeout_, " s (utility.timeout_seconds)", tail));
    if (r.output_overflow)
      throw Error(cat(who, " printed more than ", max_output_, " bytes (utility.max_output_bytes)", tail));
    if (r.signal) throw Error(cat(who, " was killed by signal ", r.signal, tail));
    if (r.exit_code != 0) throw Error(cat(who, " exited with code ", r.exit_code, tail));
    const std::string text = trim(r.out);
    double value = NAN;
    try {
      const auto j = nlohmann::json::parse(text);
      if (j.is_number()) value = j.get<double>();
      else if (j.is_object() && j.contains("utility") && j["utility"].is_number()) value = j["utility"].get<double>();
    } catch (const nlohmann::json::parse_error&) {
    }
    if (!std::isfinite(value))
      throw Error(cat(who, " printed neither a finite number nor {\"utility\": x} on stdout: \"", shorten(text, 200),
                      "\"", tail));
    return value;
  }

 private:
  std::vector<std::string> argv_;
  double timeout_ = 300;
  size_t max_output_ = 1 << 20;
  PromptFormat format_;
  model::GenerationOptions generation_;
  TaskData data_;
  SplitCache<std::vector<model::GenerationRequest>> cache_;
};

}  // namespace

void register_command() { register_utility<CommandUtility>("command"); }

}  // namespace modelswarm::utility
