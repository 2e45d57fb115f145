// model::Evaluator over a Hugging Face model directory: the Transformer, its tokenizer, and the
// packing of all particles' rows into shared forward passes (scoring.h, generate.h).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <numeric>

#include "modelswarm/common/device.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/formats/tokenizer.h"
#include "modelswarm/model/evaluator.h"
#include "modelswarm/model/generate.h"
#include "modelswarm/model/out_of_memory.h"
#include "modelswarm/model/scoring.h"
#include "modelswarm/model/transformer.h"
#include "model/packing.h"

namespace modelswarm::model {
namespace {

// Position of the first stop string in `text`, or npos.
size_t first_stop(const std::string& text, const std::vector<std::string>& stop) {
  size_t at = std::string::npos;
  for (const auto& s : stop)
    if (!s.empty()) at = std::min(at, text.find(s));
  return at;
}

class ModelEvaluator final : public Evaluator {
 public:
  ModelEvaluator(Transformer model, tokenizer::Tokenizer tokenizer, const lora::PoolLayout* layout,
                 const EngineOptions& options)
      : model_(std::move(model)), tokenizer_(std::move(tokenizer)), layout_(layout), options_(options) {
    MS_CHECK(options_.max_batch_tokens > 0, "engine: max_batch_tokens must be positive, got ",
             options_.max_batch_tokens);
    if (layout_) model_.check_layout(*layout_);
    eos_ids_ = tokenizer_.eos_ids();
    for (int64_t id : model_.config().eos_token_ids)
      if (std::find(eos_ids_.begin(), eos_ids_.end(), id) == eos_ids_.end()) eos_ids_.push_back(id);
  }

  at::Tensor loglikelihood(const at::Tensor& particles, const std::vector<ScoringRequest>& requests) override {
    c10::InferenceMode guard;
    check_particles(particles);
    return score_loglikelihood(model_, layout_, particles, requests, options_.max_batch_tokens, &tokens_);
  }

  std::vector<std::vector<std::string>> generate(const at::Tensor& particles,
                                                 const std::vector<GenerationRequest>& requests,
                                                 const GenerationOptions& options) override {
    c10::InferenceMode guard;
    check_particles(particles);
    const bool with_lora = particles.defined();
    const int64_t P = with_lora ? particles.size(0) : 1;
    const int64_t R = static_cast<int64_t>(requests.size());
    std::vector<std::vector<std::string>> out(P, std::vector<std::string>(R));
    if (R == 0) return out;

    SamplingOptions sampling;
    sampling.max_new_tokens = options.max_new_tokens;
    sampling.temperature = options.temperature;
    sampling.top_p = options.top_p;
    sampling.seed = options.seed;
    sampling.eos_ids = eos_ids_;

    LoraBatch lora;
    if (with_lora) {
      lora.layout = layout_;
      lora.particles = particles.to(model_.device(), model_.dtype());
    }
    // Rows (particle, request), requests sorted by prompt length so that a pass pads little.
    const std::vector<int64_t> order =
        longest_first(R, [&](int64_t r) { return static_cast<int64_t>(requests[r].prompt.size()); });
    const int64_t rows_total = P * R;
    for (int64_t first = 0; first < rows_total;) {
      const int64_t longest = static_cast<int64_t>(requests[order[first / P]].prompt.size()) + options.max_new_tokens;
      int64_t rows = rows_per_pass(rows_total - first, longest, options_.max_batch_tokens);
      if (rows >= P) rows = rows / P * P;  // whole particles: equal rows each (project() in transformer.cpp)
      // This pass's rows sorted by particle, so that each particle's LoRA delta is one batched matmul.
      std::vector<int64_t> pass_rows(rows);
      std::iota(pass_rows.begin(), pass_rows.end(), first);
      std::stable_sort(pass_rows.begin(), pass_rows.end(), [&](int64_t a, int64_t b) { return a % P < b % P; });
      std::vector<std::vector<int64_t>> prompts;
      std::vector<int64_t> particle_of_row;
      for (int64_t row : pass_rows) {
        prompts.push_back(requests[order[row / P]].prompt);
        particle_of_row.push_back(row % P);
      }
      if (with_lora) assign_rows(lora, particle_of_row, model_.device());
      StopCheck stop;
      if (!options.stop.empty())
        stop = [&](int64_t row, const std::vector<int64_t>& generated) {
          return first_stop(tokenizer_.decode_continuation(prompts[row], generated), options.stop) != std::string::npos;
        };
      const auto generated = generate_ids(model_, prompts, with_lora ? &lora : nullptr, sampling, stop);
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t row = pass_rows[i];
        std::string text = tokenizer_.decode_continuation(prompts[i], generated[i]);
        const size_t cut = first_stop(text, options.stop);
        if (cut != std::string::npos) text.resize(cut);
        out[row % P][order[row / P]] = std::move(text);
        tokens_ += static_cast<int64_t>(prompts[i].size() + generated[i].size());
      }
      first += rows;
    }
    return out;
  }

  const tokenizer::Tokenizer& tokenizer() const override { return tokenizer_; }
  int64_t tokens_processed() const override { return tokens_; }
  c10::Device device() const override { return model_.device(); }
  c10::ScalarType dtype() const override { return model_.dtype(); }

 private:
  void check_particles(const at::Tensor& particles) const {
    if (!particles.defined()) return;
    MS_CHECK(layout_ != nullptr, "engine: particles given, but the evaluator was loaded without a pool layout");
    MS_CHECK(particles.dim() == 2 && particles.size(1) == layout_->dim(), "engine: particles must be (P, ",
             layout_->dim(), "), got ", particles.sizes());
  }

  Transformer model_;
  tokenizer::Tokenizer tokenizer_;
  const lora::PoolLayout* layout_;
  EngineOptions options_;
  std::vector<int64_t> eos_ids_;
  int64_t tokens_ = 0;
};

}  // namespace

std::unique_ptr<Evaluator> load_evaluator(const std::filesystem::path& model_dir, const lora::PoolLayout* layout,
                                          const EngineOptions& options) {
  configure_runtime();
  const c10::Device device = parse_device(options.device);
  const DtypeChoice choice = choose_dtype(options.dtype, device);
  const c10::ScalarType dtype = choice.dtype;
  if (read_model_config(model_dir).head != Head::kCausalLM)
    throw Error(cat(model_dir.string(), ": a sequence-classification checkpoint (a reward model) cannot generate or "
                    "score text; use it as utility.reward_model"));
  Transformer model = Transformer::load(model_dir, device, dtype);
  auto tokenizer = tokenizer::Tokenizer::from_model_dir(model_dir);
  log::info(cat("engine: ", model.config().architecture, " from ", model_dir.string(),
                " on ", device.str(), " in ", describe(choice)));
  return advise_on_out_of_memory(std::make_unique<ModelEvaluator>(std::move(model), std::move(tokenizer), layout, options),
                                 options);
}

}  // namespace modelswarm::model
