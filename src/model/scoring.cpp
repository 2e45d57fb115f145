#include "modelswarm/model/scoring.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "modelswarm/common/error.h"
#include "model/host_to_device.h"
#include "model/packing.h"

namespace modelswarm::model {
namespace {

void check_requests(const std::vector<ScoringRequest>& requests, int64_t vocab_size) {
  for (size_t r = 0; r < requests.size(); ++r) {
    MS_CHECK(!requests[r].context.empty(), "scoring request ", r,
             ": empty context (the first continuation token needs at least one token before it, e.g. BOS)");
    for (const auto* part : {&requests[r].context, &requests[r].continuation})
      for (int64_t id : *part)
        MS_CHECK(id >= 0 && id < vocab_size, "scoring request ", r, ": token id ", id, " outside the vocabulary [0, ",
                 vocab_size, ")");
  }
}

}  // namespace

at::Tensor score_loglikelihood(const Transformer& model, const lora::PoolLayout* layout, const at::Tensor& particles,
                               const std::vector<ScoringRequest>& requests, int64_t max_batch_tokens,
                               int64_t* tokens_processed) {
  MS_CHECK(max_batch_tokens > 0, "max_batch_tokens must be positive, got ", max_batch_tokens);
  check_requests(requests, model.config().vocab_size);
  const bool with_lora = particles.defined();
  MS_CHECK(!with_lora || layout != nullptr, "particles given without a pool layout");
  const int64_t P = with_lora ? particles.size(0) : 1;
  const int64_t R = static_cast<int64_t>(requests.size());
  const c10::Device device = model.device();

  LoraBatch lora;
  if (with_lora) {
    MS_CHECK(particles.dim() == 2 && particles.size(1) == layout->dim(), "particles must be (P, ", layout->dim(),
             "), got ", particles.sizes());
    lora.layout = layout;
    lora.particles = particles.to(device, model.dtype());
  }

  // A row (particle p, request r) reads context + continuation minus its last token, Tr tokens.
  auto row_length = [&](int64_t r) {
    return static_cast<int64_t>(requests[r].context.size() + requests[r].continuation.size()) - 1;
  };
  const std::vector<int64_t> order = longest_first(R, row_length);  // rows of similar length share a pass

  at::Tensor scores = at::zeros({P * R}, at::TensorOptions().device(device).dtype(at::kDouble));  // (P·R)
  const int64_t rows_total = P * R;
  int64_t next_row = 0;  // row i = (request order[i / P], particle i % P)
  while (next_row < rows_total) {
    const int64_t T = row_length(order[next_row / P]);  // longest row of this pass
    const int64_t rows = rows_per_pass(rows_total - next_row, T, max_batch_tokens);

    // Host-side packing (right padding with id 0).
    at::Tensor tokens = at::zeros({rows, T}, at::kLong);  // (b,T)
    at::Tensor valid = at::zeros({rows, T}, at::kBool);   // (b,T)
    at::Tensor row_particle = at::empty({rows}, at::kLong);
    at::Tensor out_slot = at::empty({rows}, at::kLong);   // where row i's sum goes in scores
    std::vector<int64_t> flat_index, targets, token_row;  // one entry per continuation token
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t row = next_row + i, r = order[row / P], p = row % P;
      const auto& req = requests[r];
      std::vector<int64_t> seq(req.context);
      seq.insert(seq.end(), req.continuation.begin(), req.continuation.end());
      const int64_t n = row_length(r);
      std::copy(seq.begin(), seq.begin() + n, tokens[i].data_ptr<int64_t>());
      valid[i].narrow(0, 0, n).fill_(true);
      row_particle[i] = p;
      out_slot[i] = p * R + r;
      // Position t predicts seq[t + 1]; continuation tokens are seq[|context| ..].
      for (size_t t = req.context.size() - 1; t + 1 < seq.size(); ++t) {
        flat_index.push_back(i * T + static_cast<int64_t>(t));
        targets.push_back(seq[t + 1]);
        token_row.push_back(i);
      }
    }
    next_row += rows;
    if (tokens_processed) *tokens_processed += rows * T;
    if (flat_index.empty()) continue;  // only empty continuations: their sums stay 0

    const at::Tensor valid_d = host_to_device(valid, device);                                   // (b,T)
    const at::Tensor flat_d = host_to_device(at::tensor(flat_index, at::kLong), device);         // (N)
    const at::Tensor targets_d = host_to_device(at::tensor(targets, at::kLong), device);         // (N)
    const at::Tensor token_row_d = host_to_device(at::tensor(token_row, at::kLong), device);     // (N)
    if (with_lora) lora.row_particle = host_to_device(row_particle, device);                    // (b)

    const at::Tensor hidden = model.hidden_states(host_to_device(tokens, device), positions_from_valid(valid_d),
                                                  valid_d, nullptr, with_lora ? &lora : nullptr);  // (b,T,D)
    const at::Tensor picked = hidden.reshape({rows * T, -1}).index_select(0, flat_d);              // (N,D)
    const at::Tensor log_probs = at::log_softmax(model.logits(picked), -1);                        // (N,V)
    const at::Tensor token_lp = log_probs.gather(1, targets_d.unsqueeze(1)).squeeze(1);           // (N)
    const at::Tensor row_sums =
        at::zeros({rows}, scores.options()).index_add_(0, token_row_d, token_lp.to(at::kDouble));  // (b)
    scores.index_copy_(0, host_to_device(out_slot, device), row_sums);
  }
  return scores.view({P, R}).cpu();
}

}  // namespace modelswarm::model
