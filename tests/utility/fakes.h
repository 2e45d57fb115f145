// Deterministic stand-ins for the engine in utility tests: a byte-level encoder and an evaluator
// whose log-likelihoods and generations are functions of the decoded text and the particle.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "modelswarm/model/evaluator.h"
#include "modelswarm/model/reward_model.h"
#include "modelswarm/utility/utility.h"

namespace modelswarm::test {

/// One token per byte: id = byte + 3; BOS = 1, EOS = 2.
class ByteEncoder : public utility::TokenEncoder {
 public:
  static constexpr int64_t kBos = 1, kEos = 2;
  std::vector<int64_t> encode(std::string_view text, bool add_special_tokens) const override {
    ++encode_calls;
    std::vector<int64_t> ids;
    if (add_special_tokens) ids.push_back(kBos);
    for (unsigned char c : text) ids.push_back(static_cast<int64_t>(c) + 3);
    return ids;
  }
  std::optional<int64_t> bos_id() const override { return kBos; }
  std::vector<int64_t> eos_ids() const override { return {kEos}; }
  std::string token_text(int64_t id) const override { return id == kBos ? "<s>" : id == kEos ? "</s>" : decode({id}); }

  static std::string decode(const std::vector<int64_t>& ids) {
    std::string s;
    for (int64_t id : ids) {
      if (id == kBos) s += "<s>";
      else if (id == kEos) s += "</s>";
      else s += static_cast<char>(id - 3);
    }
    return s;
  }
  mutable int64_t encode_calls = 0;
};

/// Log-likelihood and generation scripted per particle on decoded text. The particle index p is
/// the row of the particle tensor; an undefined tensor is particle -1 (the base model).
class ScriptedEvaluator : public model::Evaluator {
 public:
  using LogLik = std::function<double(int64_t particle, const std::string& context, const std::string& continuation)>;
  using Generate = std::function<std::string(int64_t particle, const std::string& prompt)>;

  LogLik loglik = [](int64_t, const std::string&, const std::string&) { return 0.0; };
  Generate generator = [](int64_t, const std::string&) { return std::string(); };

  at::Tensor loglikelihood(const at::Tensor& particles, const std::vector<model::ScoringRequest>& requests) override {
    ++loglikelihood_calls;
    last_scoring = requests;
    const int64_t P = particles.defined() ? particles.size(0) : 1;
    at::Tensor out = at::zeros({P, static_cast<int64_t>(requests.size())}, at::kDouble);
    auto acc = out.accessor<double, 2>();
    for (int64_t p = 0; p < P; ++p)
      for (size_t r = 0; r < requests.size(); ++r)
        acc[p][r] = loglik(particles.defined() ? p : -1, ByteEncoder::decode(requests[r].context),
                           ByteEncoder::decode(requests[r].continuation));
    return out;
  }

  std::vector<std::vector<std::string>> generate(const at::Tensor& particles,
                                                 const std::vector<model::GenerationRequest>& requests,
                                                 const model::GenerationOptions& options) override {
    ++generate_calls;
    last_options = options;
    const int64_t P = particles.defined() ? particles.size(0) : 1;
    std::vector<std::vector<std::string>> out(P);
    for (int64_t p = 0; p < P; ++p) {
      for (const auto& r : requests) {
        std::string text = generator(particles.defined() ? p : -1, ByteEncoder::decode(r.prompt));
        for (const auto& stop : options.stop) {  // the engine cuts at (and excludes) a stop string
          const auto at = text.find(stop);
          if (at != std::string::npos) text.resize(at);
        }
        out[p].push_back(text);
      }
    }
    return out;
  }

  const tokenizer::Tokenizer& tokenizer() const override {
    throw std::logic_error("ScriptedEvaluator has no tokenizer: score through a ByteEncoder");
  }
  int64_t tokens_processed() const override { return 0; }
  c10::Device device() const override { return at::kCPU; }
  c10::ScalarType dtype() const override { return at::kFloat; }

  int64_t loglikelihood_calls = 0;
  int64_t generate_calls = 0;
  std::vector<model::ScoringRequest> last_scoring;
  model::GenerationOptions last_options;
};

/// A reward scripted on the decoded text of each sequence.
class ScriptedRewardModel : public model::RewardModel {
 public:
  std::function<double(const std::string& text)> reward = [](const std::string&) { return 0.0; };

  at::Tensor score(const std::vector<std::vector<int64_t>>& sequences) override {
    ++score_calls;
    std::vector<double> out;
    for (const auto& ids : sequences) out.push_back(reward(ByteEncoder::decode(ids)));
    return at::tensor(out, at::kDouble);
  }
  const tokenizer::Tokenizer& tokenizer() const override {
    throw std::logic_error("ScriptedRewardModel has no tokenizer: encode through a ByteEncoder");
  }
  int64_t tokens_processed() const override { return 0; }

  int64_t score_calls = 0;
};

/// (P, 1) particle tensor; the value is unused by the scripted evaluator, only the row count.
inline at::Tensor particles(int64_t P) { return at::zeros({P, 1}); }

}  // namespace modelswarm::test
