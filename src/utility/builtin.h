// Registration functions of the built-in utilities, called once by the registry.
#pragma once

#include <map>

#include "modelswarm/common/error.h"
#include "modelswarm/utility/dataset.h"
#include "modelswarm/utility/utility.h"
#include "utility/common.h"

namespace modelswarm::utility {

void register_multiple_choice();
void register_generation();
void register_likelihood();
void register_command();
void register_composite();
void register_judge();
void register_reward_model();

/// Token ids of a utility's splits, built once per tokenizer.
template <typename Prepared>
class SplitCache {
 public:
  template <typename Build>
  const Prepared& get(const TokenEncoder& encoder, Split split, Build&& build) {
    if (identity_ != encoder.identity()) {
      cache_.clear();
      identity_ = encoder.identity();
    }
    auto it = cache_.find(split);
    if (it == cache_.end()) it = cache_.emplace(split, build()).first;
    return it->second;
  }

 private:
  const void* identity_ = nullptr;
  std::map<Split, Prepared> cache_;
};

/// What a utility built on a data set says of itself: its type and metric, the split sizes, and
/// `what` it measures followed by the data file's name.
inline UtilityInfo task_data_info(std::string type, std::string metric, const TaskData& data, const std::string& what) {
  UtilityInfo i;
  i.type = std::move(type);
  i.metric = std::move(metric);
  i.dev_examples = static_cast<int64_t>(data.dev.size());
  i.validation_examples = static_cast<int64_t>(data.validation.size());
  i.test_examples = static_cast<int64_t>(data.test.size());
  i.description = cat(what, " on ", data.path.filename().string());
  return i;
}

/// The examples of a split; throws when it is empty (a data set smaller than dev_size).
inline const std::vector<Example>& split_examples(const TaskData& data, Split split) {
  const auto& examples = data.split(split);
  if (examples.empty())
    throw Error(cat(data.path.string(), ": the ", split_name(split), " split is empty (lower data.dev_size or add examples)"));
  return examples;
}

/// Every particle's generations for the examples of a split, [P][examples]: prompts are formatted
/// and tokenised once per split (cached), then all particles generate in one engine call.
inline std::vector<std::vector<std::string>> generate_for_split(
    model::Evaluator& evaluator, const TokenEncoder& encoder, const at::Tensor& particles,
    const std::vector<Example>& examples, Split split, const PromptFormat& format,
    const model::GenerationOptions& options, SplitCache<std::vector<model::GenerationRequest>>& cache) {
  const auto& requests = cache.get(encoder, split, [&] {
    std::vector<model::GenerationRequest> r;
    for (const auto& ex : examples)
      r.push_back(generation_request(encoder, format.apply(ex.prompt, encoder), format.add_special_tokens()));
    return r;
  });
  auto outputs = evaluator.generate(particles, requests, options);
  MS_CHECK(static_cast<int64_t>(outputs.size()) == particle_count(particles), "evaluator returned ", outputs.size(),
           " generation rows for ", particle_count(particles), " particles");
  return outputs;
}

}  // namespace modelswarm::utility
