// What utility functions need from the inference engine, for P particles at once. A utility
// builds token-level requests once per run; the engine packs the rows of all particles into
// batched forward passes over the shared base weights (model/lora_batch.h).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace modelswarm::tokenizer { class Tokenizer; }
namespace modelswarm::lora { class PoolLayout; }

namespace modelswarm::model {

/// Score `continuation` given `context` (token ids; context includes BOS when the model wants it).
struct ScoringRequest {
  std::vector<int64_t> context;
  std::vector<int64_t> continuation;
};

struct GenerationRequest {
  std::vector<int64_t> prompt;
};

struct GenerationOptions {
  int64_t max_new_tokens = 32;
  double temperature = 0.0;          // 0 = greedy
  double top_p = 1.0;
  uint64_t seed = 0;
  std::vector<std::string> stop;     // generation stops at (and excludes) the first stop string
};

class Evaluator {
 public:
  virtual ~Evaluator() = default;

  /// Sum of log p(continuation | context) per particle and request: (P, R) float64 on CPU.
  /// `particles` is (P, D) in the pool layout; an undefined tensor means the base model alone (P = 1).
  virtual at::Tensor loglikelihood(const at::Tensor& particles, const std::vector<ScoringRequest>& requests) = 0;

  /// Decoded continuations (stop strings and EOS cut off), [P][R].
  virtual std::vector<std::vector<std::string>> generate(const at::Tensor& particles,
                                                         const std::vector<GenerationRequest>& requests,
                                                         const GenerationOptions& options) = 0;

  virtual const tokenizer::Tokenizer& tokenizer() const = 0;

  /// Tokens processed by forward passes so far (for reports and throughput figures).
  virtual int64_t tokens_processed() const = 0;

  /// Where and in which dtype the model runs, resolved once from EngineOptions at load: callers
  /// put particles there rather than parsing the options again.
  virtual c10::Device device() const = 0;
  virtual c10::ScalarType dtype() const = 0;
};

struct EngineOptions {
  std::string device = "auto";     // see common/device.h
  std::string dtype = "auto";
  int64_t max_batch_tokens = 8192; // tokens (all rows, padding included) per forward pass
};

/// The engine for a Hugging Face model directory (weights + tokenizer). `layout` describes the
/// particle tensors later passed in (null: base model only); it must outlive the evaluator.
std::unique_ptr<Evaluator> load_evaluator(const std::filesystem::path& model_dir,
                                          const lora::PoolLayout* layout, const EngineOptions& options);

}  // namespace modelswarm::model
