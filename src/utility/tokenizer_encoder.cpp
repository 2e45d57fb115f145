// The engine's tokenizer behind the TokenEncoder interface. Kept apart so that code scoring
// through a substitute encoder (tests) does not link the tokenizer.
#include "modelswarm/formats/tokenizer.h"
#include "modelswarm/model/evaluator.h"
#include "modelswarm/utility/utility.h"

namespace modelswarm::utility {

namespace {

class TokenizerEncoder : public TokenEncoder {
 public:
  explicit TokenizerEncoder(const tokenizer::Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  std::vector<int64_t> encode(std::string_view text, bool add_special_tokens) const override {
    return tokenizer_.encode(text, add_special_tokens);
  }
  std::optional<int64_t> bos_id() const override { return tokenizer_.bos_id(); }
  std::vector<int64_t> eos_ids() const override { return tokenizer_.eos_ids(); }
  std::string token_text(int64_t id) const override { return tokenizer_.decode({id}, /*skip_special_tokens=*/false); }
  const void* identity() const override { return &tokenizer_; }

 private:
  const tokenizer::Tokenizer& tokenizer_;
};

}  // namespace

std::unique_ptr<TokenEncoder> tokenizer_encoder(model::Evaluator& evaluator) {
  return tokenizer_encoder(evaluator.tokenizer());
}

std::unique_ptr<TokenEncoder> tokenizer_encoder(const tokenizer::Tokenizer& tokenizer) {
  return std::make_unique<TokenizerEncoder>(tokenizer);
}

Scores Utility::score(model::Evaluator& evaluator, const at::Tensor& particles, Split split) {
  const auto encoder = tokenizer_encoder(evaluator);
  return score(evaluator, *encoder, particles, split);
}

}  // namespace modelswarm::utility
