// The training loop shared by LoRA fine-tuning and full-weight training: seeded epoch
// permutations give the batches, AdamW updates the trainable tensors, warmup then cosine decay.
#include "modelswarm/train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/utility/dataset.h"
#include "train/adamw.h"
#include "train/batch.h"

namespace modelswarm::train {
namespace {

constexpr const char* kProjections[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

void check_options(const std::vector<TokenizedExample>& data, const TrainOptions& o) {
  if (data.empty()) throw ConfigError(cat(o.label, ": no training examples"));
  if (o.steps < 1) throw ConfigError(cat(o.label, ": steps must be >= 1, got ", o.steps));
  if (o.batch_size < 1) throw ConfigError(cat(o.label, ": batch size must be >= 1, got ", o.batch_size));
  if (!(o.learning_rate > 0)) throw ConfigError(cat(o.label, ": learning rate must be > 0"));
  for (const auto& e : data)
    MS_CHECK(e.prompt_tokens < static_cast<int64_t>(e.tokens.size()), o.label, ": an example has no completion tokens");
}

double learning_rate_at(const TrainOptions& o, int64_t step) {
  if (step < o.warmup_steps) return o.learning_rate * static_cast<double>(step + 1) / static_cast<double>(o.warmup_steps);
  const double span = std::max<int64_t>(1, o.steps - o.warmup_steps - 1);
  const double progress = static_cast<double>(step - o.warmup_steps) / span;
  return o.learning_rate * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * std::min(1.0, progress))));
}

// Runs `options.steps` AdamW steps of `loss_of(batch)` over `params`.
std::vector<double> optimize(const std::vector<at::Tensor>& params, const std::vector<TokenizedExample>& data,
                             const TrainOptions& options, const std::function<at::Tensor(const Batch&)>& loss_of) {
  check_options(data, options);
  AdamW optimizer(params, options.weight_decay);
  const int64_t n = static_cast<int64_t>(data.size());
  std::vector<int64_t> order;
  size_t next = 0;
  int64_t epoch = 0;
  std::vector<double> losses;
  for (int64_t step = 0; step < options.steps; ++step) {
    std::vector<int64_t> indices;
    while (static_cast<int64_t>(indices.size()) < std::min(options.batch_size, n)) {
      if (next == order.size()) {
        order = utility::deterministic_permutation(n, options.seed * 1000003 + static_cast<uint64_t>(epoch++));
        next = 0;
      }
      indices.push_back(order[next++]);
    }
    const at::Tensor loss = loss_of(make_batch(data, indices));
    loss.backward();
    const double value = loss.item<double>();
    MS_CHECK(std::isfinite(value), options.label, ": the loss became ", value, " at step ", step + 1,
             "; lower the learning rate");
    optimizer.step(learning_rate_at(options, step));
    losses.push_back(value);
    if (options.log_every > 0 && ((step + 1) % options.log_every == 0 || step == 0 || step + 1 == options.steps))
      log::info(cat(options.label, ": step ", step + 1, "/", options.steps, " loss ", value));
  }
  return losses;
}

std::vector<lora::ModuleSlot> lora_slots(const model::Transformer& model, const LoraOptions& o) {
  if (o.rank < 1) throw ConfigError(cat("LoRA rank must be >= 1, got ", o.rank));
  if (o.target_modules.empty()) throw ConfigError("no LoRA target modules given");
  const bool all = o.target_modules.size() == 1 && o.target_modules[0] == "all-linear";
  if (!all)
    for (const auto& target : o.target_modules)
      if (std::find(std::begin(kProjections), std::end(kProjections), target) == std::end(kProjections))
        throw ConfigError(cat("target module '", target,
                              "' is not one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, all-linear"));
  std::vector<lora::ModuleSlot> slots;
  for (const auto& layer : model.weights().layers)
    for (const auto& linear : layer.proj) {
      const std::string short_name = linear.name.substr(linear.name.rfind('.') + 1);
      if (!all && std::find(o.target_modules.begin(), o.target_modules.end(), short_name) == o.target_modules.end())
        continue;
      slots.push_back(lora::ModuleSlot{linear.name, o.rank, linear.weight.size(1), linear.weight.size(0)});
    }
  return slots;
}

}  // namespace

LoraResult train_lora(const model::Transformer& model, const std::vector<TokenizedExample>& data,
                      const LoraOptions& lora_options, const TrainOptions& options) {
  MS_CHECK(model.dtype() == at::kFloat, options.label, ": training needs a float32 model");
  const lora::PoolLayout layout(lora_slots(model, lora_options));
  const double scaling = lora_options.alpha / static_cast<double>(lora_options.rank);

  // raw (1, D) holds PEFT's A and B; the engine reads raw · fold, which scales B by s (as PEFT's
  // forward does), so gradients and updates act on the same parameters PEFT would train.
  at::Tensor raw = at::zeros({1, layout.dim()}, at::kFloat);
  at::Tensor fold = at::ones({layout.dim()}, at::kFloat);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  for (const auto& slot : layout.slots()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(slot.in_features));  // kaiming_uniform_(a=√5)
    layout.a_view(raw, slot).uniform_(-bound, bound, generator);
    layout.b_view(fold, slot).fill_(scaling);
  }
  raw = raw.to(model.device()).requires_grad_(true);
  fold = fold.to(model.device());

  LoraResult result;
  result.losses = optimize({raw}, data, options, [&](const Batch& batch) {
    model::LoraBatch lora{&layout, raw * fold, at::Tensor(), /*runs=*/{}};
    return completion_loss(model, batch, &lora);
  });
  const at::Tensor trained = raw.detach().to(at::kCPU)[0];
  for (const auto& slot : layout.slots())
    result.modules.push_back(lora::Module{slot.name, layout.a_view(trained, slot).clone(),
                                          layout.b_view(trained, slot).clone(), scaling});
  return result;
}

std::vector<double> train_full(const model::ModelConfig& config, std::map<std::string, at::Tensor>& weights,
                               const std::vector<TokenizedExample>& data, const TrainOptions& options) {
  std::vector<at::Tensor> params;
  for (auto& [name, tensor] : weights) {
    MS_CHECK(tensor.scalar_type() == at::kFloat && tensor.device().is_cpu(), options.label, ": ", name,
             " must be a float32 CPU tensor");
    params.push_back(tensor.requires_grad_(true));
  }
  // The Transformer keeps these very tensors (no copy for matching device and dtype), so the
  // optimizer's in-place updates are what the next forward pass reads.
  const model::Transformer model(config, weights, c10::Device(c10::kCPU), at::kFloat, options.label);
  auto losses = optimize(params, data, options, [&](const Batch& batch) { return completion_loss(model, batch, nullptr); });
  for (auto& p : params) p.requires_grad_(false);
  return losses;
}

double mean_loss(const model::Transformer& model, const std::vector<TokenizedExample>& data,
                 const model::LoraBatch* lora, int64_t batch_size) {
  at::NoGradGuard no_grad;
  double total = 0, tokens = 0;
  for (size_t begin = 0; begin < data.size(); begin += static_cast<size_t>(batch_size)) {
    std::vector<int64_t> indices;
    for (size_t i = begin; i < std::min(data.size(), begin + batch_size); ++i) indices.push_back(static_cast<int64_t>(i));
    const Batch batch = make_batch(data, indices);
    const double count = batch.loss_mask.sum().item<double>();
    total += completion_loss(model, batch, lora).item<double>() * count;
    tokens += count;
  }
  return tokens > 0 ? total / tokens : 0.0;
}

}  // namespace modelswarm::train
