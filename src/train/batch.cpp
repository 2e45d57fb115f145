#include "train/batch.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace modelswarm::train {

Batch make_batch(const std::vector<TokenizedExample>& data, const std::vector<int64_t>& indices) {
  const int64_t B = static_cast<int64_t>(indices.size());
  int64_t T = 2;
  for (int64_t i : indices) T = std::max<int64_t>(T, static_cast<int64_t>(data[i].tokens.size()));
  Batch batch;
  batch.tokens = at::zeros({B, T}, at::kLong);
  batch.valid = at::zeros({B, T}, at::kBool);
  batch.loss_mask = at::zeros({B, T - 1}, at::kFloat);
  auto tokens = batch.tokens.accessor<int64_t, 2>();
  auto valid = batch.valid.accessor<bool, 2>();
  auto mask = batch.loss_mask.accessor<float, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const TokenizedExample& e = data[indices[b]];
    const int64_t n = static_cast<int64_t>(e.tokens.size());
    for (int64_t t = 0; t < n; ++t) {
      tokens[b][t] = e.tokens[t];
      valid[b][t] = true;
      // Position t predicts token t+1, which is scored when it belongs to the completion.
      if (t + 1 < n && t + 1 >= e.prompt_tokens) mask[b][t] = 1.0f;
    }
  }
  return batch;
}

at::Tensor completion_loss(const model::Transformer& model, const Batch& batch, const model::LoraBatch* lora) {
  const int64_t T = batch.tokens.size(1);
  const at::Tensor logits = model.forward(batch.tokens, batch.valid, lora);       // (B,T,V)
  const at::Tensor log_probs = at::log_softmax(logits.narrow(1, 0, T - 1), -1);  // (B,T-1,V)
  const at::Tensor targets = batch.tokens.narrow(1, 1, T - 1).to(logits.device()).unsqueeze(-1);  // (B,T-1,1)
  const at::Tensor token_loss = -log_probs.gather(-1, targets).squeeze(-1);     // (B,T-1)
  const at::Tensor mask = batch.loss_mask.to(logits.device());
  return (token_loss * mask).sum() / mask.sum().clamp_min(1.0);
}

}  // namespace modelswarm::train
