// Log-likelihood scoring. Two kinds of passes fill one (P·R) score vector on the device:
//   rows:   (particle, request) rows, context + continuation from scratch, length-bucketed;
//   shared: (particle, context group) units run the context once into a KV cache, whose last
//           position scores every continuation's first token; continuations of two or more
//           tokens then run as rows that attend to their unit's cached context (SharedPrefix).
// Letters: see transformer.h; u = units of a pass, N = continuation tokens scored in a pass.
#include "modelswarm/model/scoring.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "modelswarm/common/error.h"
#include "model/host_to_device.h"

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

int64_t size_of(const std::vector<int64_t>& ids) { return static_cast<int64_t>(ids.size()); }

// Host-side index vectors of the continuation tokens scored in one pass: hidden row `flat`
// predicts `target`, and its log-probability is added to score slot `slot`.
struct Picks {
  std::vector<int64_t> flat, target, slot;
  void add(int64_t flat_index, int64_t target_id, int64_t score_slot) {
    flat.push_back(flat_index);
    target.push_back(target_id);
    slot.push_back(score_slot);
  }
};

class Scorer {
 public:
  Scorer(const Transformer& model, const lora::PoolLayout* layout, const at::Tensor& particles,
         const std::vector<ScoringRequest>& requests, int64_t max_batch_tokens, int64_t* tokens_processed)
      : model_(model), requests_(requests), max_tokens_(max_batch_tokens), tokens_processed_(tokens_processed),
        device_(model.device()), with_lora_(particles.defined()), P_(with_lora_ ? particles.size(0) : 1),
        R_(static_cast<int64_t>(requests.size())) {
    if (with_lora_) {
      lora_.layout = layout;
      lora_.particles = particles.to(device_, model.dtype());
    }
    scores_ = at::zeros({P_ * R_}, at::TensorOptions().device(device_).dtype(at::kDouble));  // (P·R)
  }

  // Each (particle, request) row from scratch; rows of similar length share a pass.
  void score_rows(std::vector<int64_t> ids) {
    auto row_length = [&](int64_t r) {  // context + continuation minus its last token
      return size_of(requests_[r].context) + size_of(requests_[r].continuation) - 1;
    };
    std::stable_sort(ids.begin(), ids.end(), [&](int64_t a, int64_t b) { return row_length(a) > row_length(b); });
    const int64_t rows_total = P_ * size_of(ids);
    for (int64_t next_row = 0; next_row < rows_total;) {  // row i = (request ids[i / P], particle i % P)
      const int64_t T = row_length(ids[next_row / P_]);    // longest row of this pass
      const int64_t rows = whole_particles(std::clamp<int64_t>(max_tokens_ / T, 1, rows_total - next_row));

      at::Tensor tokens = at::zeros({rows, T}, at::kLong);  // (b,T) right padding with id 0
      at::Tensor valid = at::zeros({rows, T}, at::kBool);   // (b,T)
      std::vector<int64_t> row_particle(rows);
      Picks picks;
      const auto pass = particle_major(next_row, rows, ids);
      for (int64_t i = 0; i < rows; ++i) {
        const auto [p, r] = pass[i];
        const auto& req = requests_[r];
        const int64_t n = row_length(r), context = size_of(req.context);
        int64_t* out = tokens[i].data_ptr<int64_t>();
        std::copy(req.context.begin(), req.context.end(), out);
        std::copy(req.continuation.begin(), req.continuation.end() - 1, out + context);
        valid[i].narrow(0, 0, n).fill_(true);
        row_particle[i] = p;
        // Position t predicts token t + 1; continuation tokens start at |context|.
        for (int64_t t = context - 1; t < n; ++t) picks.add(i * T + t, req.continuation[t + 1 - context], p * R_ + r);
      }
      next_row += rows;
      count_tokens(rows * T);

      const at::Tensor valid_d = host_to_device(valid, device_);
      const at::Tensor hidden = model_.hidden_states(host_to_device(tokens, device_), positions_from_valid(valid_d),
                                                     valid_d, nullptr, lora_for(row_particle));  // (b,T,D)
      add_log_probs(hidden.reshape({rows * T, -1}), picks);
    }
  }

  // `groups`: requests with one context, all with non-empty continuations.
  void score_shared(std::vector<std::vector<int64_t>> groups) {
    auto context_length = [&](const std::vector<int64_t>& g) { return size_of(requests_[g[0]].context); };
    std::stable_sort(groups.begin(), groups.end(),
                     [&](const auto& a, const auto& b) { return context_length(a) > context_length(b); });
    const int64_t units_total = P_ * static_cast<int64_t>(groups.size());
    std::vector<int64_t> group_ids(groups.size());
    std::iota(group_ids.begin(), group_ids.end(), 0);
    for (int64_t first = 0; first < units_total;) {  // unit i = (group i / P, particle i % P)
      const int64_t Tc = context_length(groups[first / P_]);  // longest context of this pass
      // Units while the contexts (u·Tc) and the continuations (rows·T2) each fit in
      // max_batch_tokens, whole particles when possible; at least one unit.
      int64_t units = 0;
      for (int64_t rows = 0, T2 = 0; first + units < units_total; ++units) {
        int64_t more_rows = 0, longest = T2;
        for (int64_t r : groups[(first + units) / P_]) {
          const int64_t n = size_of(requests_[r].continuation) - 1;
          if (n > 0) ++more_rows, longest = std::max(longest, n);
        }
        if (units > 0 && ((units + 1) * Tc > max_tokens_ || (rows + more_rows) * longest > max_tokens_)) break;
        rows += more_rows, T2 = longest;
      }
      units = whole_particles(units);
      int64_t rows = 0, T2 = 0;  // continuation rows of these units and their longest input
      for (int64_t i = first; i < first + units; ++i)
        for (int64_t r : groups[i / P_]) {
          const int64_t n = size_of(requests_[r].continuation) - 1;
          if (n > 0) ++rows, T2 = std::max(T2, n);
        }

      // Context pass: units right-padded to Tc, into a cache of Tc slots.
      at::Tensor tokens = at::zeros({units, Tc}, at::kLong);  // (u,Tc)
      at::Tensor valid = at::zeros({units, Tc}, at::kBool);   // (u,Tc)
      std::vector<int64_t> unit_particle(units), last(units);  // last: flat index of a unit's last context token
      Picks first_tokens;  // flat index into the (u,V) log-probs of the units' last context position
      // Continuation rows: token t of row j is continuation token t, predicting token t + 1.
      at::Tensor row_tokens = at::zeros({rows, T2}, at::kLong);     // (rows,T2)
      at::Tensor row_positions = at::zeros({rows, T2}, at::kLong);  // (rows,T2)
      at::Tensor row_valid = at::zeros({rows, Tc + T2}, at::kBool); // (rows,Tc+T2) context slots, then own
      std::vector<int64_t> row_unit, row_particle;
      Picks continuation_tokens;
      const int64_t V = model_.config().vocab_size;
      const auto pass = particle_major(first, units, group_ids);
      for (int64_t i = 0; i < units; ++i) {
        const auto& group = groups[pass[i].second];
        const int64_t p = pass[i].first;
        const auto& context = requests_[group[0]].context;
        const int64_t n_context = size_of(context);
        std::copy(context.begin(), context.end(), tokens[i].data_ptr<int64_t>());
        valid[i].narrow(0, 0, n_context).fill_(true);
        unit_particle[i] = p;
        last[i] = i * Tc + n_context - 1;
        for (int64_t r : group) {
          const auto& continuation = requests_[r].continuation;
          first_tokens.add(i * V + continuation[0], 0, p * R_ + r);
          const int64_t n = size_of(continuation) - 1;
          if (n == 0) continue;
          const int64_t j = size_of(row_unit);
          std::copy(continuation.begin(), continuation.end() - 1, row_tokens[j].data_ptr<int64_t>());
          row_positions[j].copy_(at::arange(n_context, n_context + T2, at::kLong));
          row_valid[j].narrow(0, 0, n_context).fill_(true);
          row_valid[j].narrow(0, Tc, n).fill_(true);
          row_unit.push_back(i);
          row_particle.push_back(p);
          for (int64_t t = 0; t < n; ++t) continuation_tokens.add(j * T2 + t, continuation[t + 1], p * R_ + r);
        }
      }
      first += units;
      count_tokens(units * Tc + rows * T2);

      const at::Tensor valid_d = host_to_device(valid, device_);
      KVCache cache = model_.new_cache(units, Tc);
      const at::Tensor hidden = model_.hidden_states(host_to_device(tokens, device_), positions_from_valid(valid_d),
                                                     valid_d, &cache, lora_for(unit_particle));  // (u,Tc,D)
      const at::Tensor last_hidden =
          hidden.reshape({units * Tc, -1}).index_select(0, host_to_device(at::tensor(last, at::kLong), device_));
      const at::Tensor first_lp = first_token_log_probs(last_hidden, first_tokens, V);
      scores_.index_add_(0, host_to_device(at::tensor(first_tokens.slot, at::kLong), device_), first_lp.to(at::kDouble));

      if (rows == 0) continue;
      const SharedPrefix prefix{&cache, host_to_device(at::tensor(row_unit, at::kLong), device_)};
      const at::Tensor row_hidden =
          model_.hidden_states(host_to_device(row_tokens, device_), host_to_device(row_positions, device_),
                               host_to_device(row_valid, device_), nullptr, lora_for(row_particle),
                               &prefix);  // (rows,T2,D)
      add_log_probs(row_hidden.reshape({rows * T2, -1}), continuation_tokens);
    }
  }

  at::Tensor result() const { return scores_.view({P_, R_}).cpu(); }

 private:
  // A pass of `count` rows (or units) rounded down to whole particles (the same number of rows of
  // every particle, see project() in transformer.cpp) when it holds at least one of each.
  int64_t whole_particles(int64_t count) const { return count >= P_ ? count / P_ * P_ : count; }

  // Items [first, first + count) of the (item, particle) order i -> (items[i / P], i % P), as
  // (particle, item) pairs sorted by particle: each particle's rows are then one run.
  std::vector<std::pair<int64_t, int64_t>> particle_major(int64_t first, int64_t count,
                                                          const std::vector<int64_t>& items) const {
    std::vector<std::pair<int64_t, int64_t>> pass;
    for (int64_t i = first; i < first + count; ++i) pass.emplace_back(i % P_, items[i / P_]);
    std::stable_sort(pass.begin(), pass.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return pass;
  }

  // The LoRA batch for rows using these particles, or null for the base model.
  const LoraBatch* lora_for(const std::vector<int64_t>& row_particle) {
    if (!with_lora_) return nullptr;
    assign_rows(lora_, row_particle, device_);
    return &lora_;
  }

  // log p(target) = logit[target] − logsumexp(logits) at the picked hidden rows of `hidden`
  // (rows, D), in chunks of kLogitRows positions: the (N,V) float32 logits of a whole pass would
  // take gigabytes with a large vocabulary. Sums go to their slots.
  void add_log_probs(const at::Tensor& hidden, const Picks& picks) {
    constexpr int64_t kLogitRows = 1024;
    const int64_t N = size_of(picks.flat);
    if (N == 0) return;
    const at::Tensor flat = host_to_device(at::tensor(picks.flat, at::kLong), device_);      // (N)
    const at::Tensor targets = host_to_device(at::tensor(picks.target, at::kLong), device_); // (N)
    const at::Tensor slots = host_to_device(at::tensor(picks.slot, at::kLong), device_);     // (N)
    for (int64_t begin = 0; begin < N; begin += kLogitRows) {
      const int64_t n = std::min(kLogitRows, N - begin);
      const at::Tensor rows = hidden.index_select(0, flat.narrow(0, begin, n));  // (n,D)
      const at::Tensor logits = model_.logits(rows);                            // (n,V)
      const at::Tensor target = targets.narrow(0, begin, n).unsqueeze(1);      // (n,1)
      const at::Tensor target_logit =
          model_.rounds_logits() ? model_.exact_logits(rows, target) : logits.gather(1, target);  // (n,1)
      const at::Tensor token_lp = target_logit.squeeze(1) - logits.logsumexp(-1);                // (n)
      scores_.index_add_(0, slots.narrow(0, begin, n), token_lp.to(at::kDouble));
    }
  }

  // log p of each first token (flat index unit·V + token) from the units' last context position
  // (u,D): log_softmax in float32 logits; below float32, each token's own logit comes from
  // exact_logits, so that choices whose logits round alike do not tie.
  at::Tensor first_token_log_probs(const at::Tensor& last_hidden, const Picks& first_tokens, int64_t V) const {
    const at::Tensor flat = host_to_device(at::tensor(first_tokens.flat, at::kLong), device_);  // (n)
    const at::Tensor logits = model_.logits(last_hidden);                                         // (u,V)
    if (!model_.rounds_logits()) return at::log_softmax(logits, -1).reshape(-1).index_select(0, flat);
    const at::Tensor unit = flat.div(V, "floor"), token = flat.remainder(V);
    const at::Tensor exact = model_.exact_logits(last_hidden.index_select(0, unit), token.unsqueeze(1)).squeeze(1);
    return exact - logits.logsumexp(-1).index_select(0, unit);
  }

  void count_tokens(int64_t n) {
    if (tokens_processed_) *tokens_processed_ += n;
  }

  const Transformer& model_;
  const std::vector<ScoringRequest>& requests_;
  int64_t max_tokens_;
  int64_t* tokens_processed_;
  c10::Device device_;
  bool with_lora_;
  int64_t P_, R_;
  LoraBatch lora_;
  at::Tensor scores_;  // (P·R) float64 on the device: slot p·R + r
};

}  // namespace

at::Tensor score_loglikelihood(const Transformer& model, const lora::PoolLayout* layout, const at::Tensor& particles,
                               const std::vector<ScoringRequest>& requests, int64_t max_batch_tokens,
                               int64_t* tokens_processed, bool share_contexts) {
  MS_CHECK(max_batch_tokens > 0, "max_batch_tokens must be positive, got ", max_batch_tokens);
  check_requests(requests, model.config().vocab_size);
  MS_CHECK(!particles.defined() || layout != nullptr, "particles given without a pool layout");
  MS_CHECK(!particles.defined() || (particles.dim() == 2 && particles.size(1) == layout->dim()),
           "particles must be (P, ", layout ? layout->dim() : 0, "), got ", particles.sizes());
  Scorer scorer(model, layout, particles, requests, max_batch_tokens, tokens_processed);

  // Requests by context; empty continuations are skipped (their sum stays 0).
  std::map<std::vector<int64_t>, std::vector<int64_t>> by_context;
  std::vector<int64_t> alone;
  for (int64_t r = 0; r < static_cast<int64_t>(requests.size()); ++r) {
    if (requests[r].continuation.empty()) continue;
    if (share_contexts)
      by_context[requests[r].context].push_back(r);
    else
      alone.push_back(r);
  }
  std::vector<std::vector<int64_t>> groups;
  for (auto& [context, ids] : by_context) {
    if (ids.size() > 1)
      groups.push_back(std::move(ids));
    else
      alone.push_back(ids[0]);
  }
  std::sort(alone.begin(), alone.end());
  scorer.score_rows(alone);
  scorer.score_shared(std::move(groups));
  return scorer.result();
}

}  // namespace modelswarm::model
