// A sequence-classification checkpoint as a reward model: the decoder's final hidden state at the
// last token of each text, times the score head. Letters: see reward_model.h.
#include "modelswarm/model/reward_model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>

#include "modelswarm/common/device.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/formats/safetensors.h"
#include "modelswarm/formats/tokenizer.h"
#include "model/host_to_device.h"
#include "model/packing.h"

namespace modelswarm::model {
namespace {

constexpr const char* kScoreHead = "score.weight";

class CheckpointRewardModel final : public RewardModel {
 public:
  CheckpointRewardModel(Transformer decoder, at::Tensor score_head, tokenizer::Tokenizer tokenizer,
                        int64_t max_batch_tokens)
      : decoder_(std::move(decoder)),
        score_head_(std::move(score_head)),
        tokenizer_(std::move(tokenizer)),
        max_batch_tokens_(max_batch_tokens) {}

  at::Tensor score(const std::vector<std::vector<int64_t>>& sequences) override {
    c10::InferenceMode guard;
    return score_last_token(decoder_, score_head_, sequences, max_batch_tokens_, &tokens_)
        .select(1, 0)
        .to(at::kDouble);  // (R)
  }

  const tokenizer::Tokenizer& tokenizer() const override { return tokenizer_; }
  int64_t tokens_processed() const override { return tokens_; }

 private:
  Transformer decoder_;
  at::Tensor score_head_;  // (1, D) on the decoder's device and dtype
  tokenizer::Tokenizer tokenizer_;
  int64_t max_batch_tokens_;
  int64_t tokens_ = 0;
};

void check_sequences(const std::vector<std::vector<int64_t>>& sequences, int64_t vocab_size) {
  for (size_t r = 0; r < sequences.size(); ++r) {
    MS_CHECK(!sequences[r].empty(), "reward model: text ", r, " has no tokens");
    for (int64_t id : sequences[r])
      MS_CHECK(id >= 0 && id < vocab_size, "reward model: text ", r, ": token id ", id,
               " outside the vocabulary [0, ", vocab_size, ")");
  }
}

}  // namespace

std::string check_reward_model(const std::filesystem::path& model_dir) {
  const ModelConfig config = read_model_config(model_dir);
  const std::string dir = model_dir.string();
  const auto entries = safetensors::checkpoint_entries(model_dir);
  const auto head = std::find_if(entries.begin(), entries.end(),
                                 [](const safetensors::TensorEntry& e) { return e.name == kScoreHead; });
  if (head == entries.end())
    throw Error(cat(dir, ": no score head (", kScoreHead, "): a reward model is a *ForSequenceClassification "
                    "checkpoint, and this one is a ", config.architecture));
  if (config.head != Head::kSequenceClassification)
    throw Error(cat(dir, ": config.json says ", config.architecture,
                    "; a reward model's architecture is *ForSequenceClassification"));
  if (head->shape.size() != 2 || head->shape[1] != config.hidden_size)
    throw Error(cat(dir, ": ", kScoreHead, " must be (num_labels, ", config.hidden_size, "), got ",
                    at::IntArrayRef(head->shape)));
  if (head->shape[0] != 1)
    throw Error(cat(dir, ": the score head has ", head->shape[0],
                    " labels; a reward model gives one number per text (num_labels 1)"));
  return config.architecture;
}

std::unique_ptr<RewardModel> load_reward_model(const std::filesystem::path& model_dir, const EngineOptions& options) {
  MS_CHECK(options.max_batch_tokens > 0, "engine: max_batch_tokens must be positive, got ", options.max_batch_tokens);
  const std::string architecture = check_reward_model(model_dir);
  configure_runtime();
  const c10::Device device = parse_device(options.device);
  const DtypeChoice choice = choose_dtype(options.dtype, device);
  const c10::ScalarType dtype = choice.dtype;
  const auto tensors = safetensors::load_checkpoint(model_dir);
  Transformer decoder(read_model_config(model_dir), tensors, device, dtype, model_dir.string());
  at::Tensor score_head = tensors.at(kScoreHead).to(device, dtype).contiguous();  // (1, D)
  auto tokenizer = tokenizer::Tokenizer::from_model_dir(model_dir);
  log::info(cat("reward model: ", architecture, " from ", model_dir.string(),
                " on ", device.str(), " in ", describe(choice)));
  return std::make_unique<CheckpointRewardModel>(std::move(decoder), std::move(score_head), std::move(tokenizer),
                                                 options.max_batch_tokens);
}

at::Tensor score_last_token(const Transformer& decoder, const at::Tensor& score_head,
                            const std::vector<std::vector<int64_t>>& sequences, int64_t max_batch_tokens,
                            int64_t* tokens_processed) {
  MS_CHECK(max_batch_tokens > 0, "max_batch_tokens must be positive, got ", max_batch_tokens);
  TORCH_CHECK(score_head.dim() == 2 && score_head.size(1) == decoder.config().hidden_size,
              "score head must be (L, ", decoder.config().hidden_size, "), got ", score_head.sizes());
  check_sequences(sequences, decoder.config().vocab_size);
  const int64_t R = static_cast<int64_t>(sequences.size()), L = score_head.size(0);
  const c10::Device device = decoder.device();
  auto length = [&](int64_t r) { return static_cast<int64_t>(sequences[r].size()); };
  const std::vector<int64_t> order = longest_first(R, length);

  at::Tensor scores = at::zeros({R, L}, at::TensorOptions().device(device).dtype(at::kFloat));  // (R,L)
  for (int64_t first = 0; first < R;) {
    const int64_t T = length(order[first]);  // longest text of this pass
    const int64_t rows = rows_per_pass(R - first, T, max_batch_tokens);

    // Host-side packing (right padding with id 0); row i's last real token is slot last[i] of the
    // flattened (B·T) pass.
    at::Tensor tokens = at::zeros({rows, T}, at::kLong);  // (B,T)
    at::Tensor valid = at::zeros({rows, T}, at::kBool);   // (B,T)
    at::Tensor last = at::empty({rows}, at::kLong);       // (B)
    at::Tensor out_row = at::empty({rows}, at::kLong);    // (B) row of `scores`
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t r = order[first + i], n = length(r);
      std::copy(sequences[r].begin(), sequences[r].end(), tokens[i].data_ptr<int64_t>());
      valid[i].narrow(0, 0, n).fill_(true);
      last[i] = i * T + n - 1;
      out_row[i] = r;
    }
    first += rows;
    if (tokens_processed) *tokens_processed += rows * T;

    const at::Tensor valid_d = host_to_device(valid, device);
    const at::Tensor hidden =
        decoder.hidden_states(host_to_device(tokens, device), positions_from_valid(valid_d), valid_d);  // (B,T,D)
    const at::Tensor picked = hidden.reshape({rows * T, -1}).index_select(0, host_to_device(last, device));  // (B,D)
    scores.index_copy_(0, host_to_device(out_row, device), at::linear(picked, score_head).to(at::kFloat));  // (B,L)
  }
  return scores.cpu();
}

}  // namespace modelswarm::model
