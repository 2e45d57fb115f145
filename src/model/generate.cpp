#include "modelswarm/model/generate.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "modelswarm/common/error.h"

namespace modelswarm::model {

at::Tensor choose_tokens(const at::Tensor& logits, double temperature, double top_p, at::Generator& generator) {
  const at::Tensor cpu = logits.to(at::kCPU, at::kFloat);  // (B,V)
  if (temperature <= 0) return cpu.argmax(-1);
  const at::Tensor probs = at::softmax(cpu / temperature, -1);  // (B,V)
  const auto [sorted, order] = probs.sort(-1, /*descending=*/true);
  // Keep a token while the mass before it is below top_p (the most likely one always stays).
  const at::Tensor mass_before = sorted.cumsum(-1) - sorted;
  const at::Tensor kept = sorted.masked_fill(mass_before >= top_p, 0.0);  // (B,V)
  const at::Tensor pick = at::multinomial(kept, 1, /*replacement=*/false, generator);  // (B,1)
  return order.gather(-1, pick).squeeze(-1);
}

namespace {

// Logits (B,V) of the last positions `hidden` (B,D). Where the model's logits round (bfloat16),
// the 8 largest are recomputed exactly, so that greedy decoding picks float32's argmax among
// them instead of the lowest id of a rounded tie.
at::Tensor next_token_logits(const Transformer& model, const at::Tensor& hidden) {
  at::Tensor logits = model.logits(hidden);
  if (!model.rounds_logits()) return logits;
  constexpr int64_t kRefined = 8;
  const at::Tensor top = std::get<1>(logits.topk(std::min<int64_t>(kRefined, logits.size(-1)), -1));  // (B,k)
  return logits.scatter_(1, top, model.exact_logits(hidden, top));
}

}  // namespace

std::vector<std::vector<int64_t>> generate_ids(const Transformer& model, const std::vector<std::vector<int64_t>>& prompts,
                                               const LoraBatch* lora, const SamplingOptions& options,
                                               const StopCheck& stop) {
  const int64_t B = static_cast<int64_t>(prompts.size());
  std::vector<std::vector<int64_t>> generated(B);
  if (B == 0 || options.max_new_tokens <= 0) return generated;
  MS_CHECK(options.temperature >= 0, "generation: temperature must be >= 0, got ", options.temperature);
  MS_CHECK(options.top_p > 0 && options.top_p <= 1, "generation: top_p must be in (0, 1], got ", options.top_p);
  const int64_t V = model.config().vocab_size;
  int64_t prompt_len = 0;  // Tp: the longest prompt
  for (int64_t b = 0; b < B; ++b) {
    MS_CHECK(!prompts[b].empty(), "generation: prompt ", b, " is empty (it needs at least one token, e.g. BOS)");
    for (int64_t id : prompts[b]) MS_CHECK(id >= 0 && id < V, "generation: prompt ", b, " has token id ", id,
                                          " outside the vocabulary [0, ", V, ")");
    prompt_len = std::max<int64_t>(prompt_len, prompts[b].size());
  }
  const int64_t capacity = prompt_len + options.max_new_tokens;

  // Left padding: prompt b occupies the last |prompt b| of the first Tp slots.
  at::Tensor tokens = at::zeros({B, prompt_len}, at::kLong);       // (B,Tp)
  at::Tensor valid = at::ones({B, capacity}, at::kBool);           // (B,Tp+N) generated slots are real
  std::vector<int64_t> next_position(B);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = prompts[b].size(), pad = prompt_len - n;
    std::copy(prompts[b].begin(), prompts[b].end(), tokens[b].data_ptr<int64_t>() + pad);
    valid[b].narrow(0, 0, pad).fill_(false);
    next_position[b] = n;
  }
  const c10::Device device = model.device();
  valid = valid.to(device);
  at::Tensor positions = at::tensor(next_position, at::kLong).to(device).unsqueeze(1);  // (B,1)

  KVCache cache = model.new_cache(B, capacity);
  const at::Tensor prefill_valid = valid.narrow(1, 0, prompt_len);
  at::Tensor hidden = model.hidden_states(tokens.to(device), positions_from_valid(prefill_valid), prefill_valid,
                                          &cache, lora);                          // (B,Tp,D)
  at::Tensor logits = next_token_logits(model, hidden.select(1, prompt_len - 1));  // (B,V)

  at::Generator generator = at::detail::createCPUGenerator(options.seed);
  std::vector<bool> done(B, false);
  int64_t running = B;
  for (int64_t step = 0; step < options.max_new_tokens && running > 0; ++step) {
    // One host transfer per step: the chosen tokens, needed for EOS and stop checks.
    const at::Tensor next = choose_tokens(logits, options.temperature, options.top_p, generator);  // (B) CPU
    const int64_t* ids = next.data_ptr<int64_t>();
    for (int64_t b = 0; b < B; ++b) {
      if (done[b]) continue;
      const bool eos = std::find(options.eos_ids.begin(), options.eos_ids.end(), ids[b]) != options.eos_ids.end();
      if (!eos) generated[b].push_back(ids[b]);
      if (eos || (stop && stop(b, generated[b]))) {
        done[b] = true;
        --running;
      }
    }
    if (running == 0 || step + 1 == options.max_new_tokens) break;
    // Finished rows keep decoding their last token; their output is ignored.
    const int64_t S = cache.length + 1;
    hidden = model.hidden_states(next.to(device).unsqueeze(1), positions + step, valid.narrow(1, 0, S), &cache,
                                 lora);                                          // (B,1,D)
    logits = next_token_logits(model, hidden.select(1, 0));                     // (B,V)
  }
  return generated;
}

}  // namespace modelswarm::model
