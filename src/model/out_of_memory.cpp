#include "modelswarm/model/out_of_memory.h"

#include <c10/util/Exception.h>

#include <new>

#include "modelswarm/common/error.h"

namespace modelswarm::model {

namespace {

// Forwards to the wrapped engine; an allocation failure becomes advice naming the settings.
class OutOfMemoryAdvisor : public Evaluator {
 public:
  OutOfMemoryAdvisor(std::unique_ptr<Evaluator> engine, const EngineOptions& options)
      : engine_(std::move(engine)), options_(options) {}

  at::Tensor loglikelihood(const at::Tensor& particles, const std::vector<ScoringRequest>& requests) override {
    try {
      return engine_->loglikelihood(particles, requests);
    } catch (const std::exception& e) {
      rethrow_with_advice(e, particles, "scoring", "");
    }
  }

  std::vector<std::vector<std::string>> generate(const at::Tensor& particles,
                                                 const std::vector<GenerationRequest>& requests,
                                                 const GenerationOptions& options) override {
    try {
      return engine_->generate(particles, requests, options);
    } catch (const std::exception& e) {
      rethrow_with_advice(e, particles, "generating",
                          cat(", or fewer max_new_tokens (now ", options.max_new_tokens, ")"));
    }
  }

  const tokenizer::Tokenizer& tokenizer() const override { return engine_->tokenizer(); }
  int64_t tokens_processed() const override { return engine_->tokens_processed(); }
  c10::Device device() const override { return engine_->device(); }
  c10::ScalarType dtype() const override { return engine_->dtype(); }

 private:
  [[noreturn]] void rethrow_with_advice(const std::exception& e, const at::Tensor& particles, const char* what,
                                        const std::string& more) const {
    if (!is_out_of_memory(e)) throw;
    const int64_t P = particles.defined() ? particles.size(0) : 1;
    throw Error(cat("out of memory while ", what, " ", P,
                    " particle(s) at once: lower engine.max_batch_tokens (now ", options_.max_batch_tokens,
                    ") in the task config, use a smaller search.swarm_size", more));
  }

  std::unique_ptr<Evaluator> engine_;
  EngineOptions options_;
};

}  // namespace

bool is_out_of_memory(const std::exception& e) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e) || dynamic_cast<const std::bad_alloc*>(&e)) return true;
  // libtorch's CPU allocator raises a plain c10::Error.
  return dynamic_cast<const c10::Error*>(&e) &&
         std::string(e.what()).find("can't allocate memory") != std::string::npos;
}

std::string out_of_memory_advice() {
  return "out of memory: lower engine.max_batch_tokens in the task config, use a smaller search.swarm_size or "
         "dtype \"bfloat16\", or a device with more memory";
}

std::unique_ptr<Evaluator> advise_on_out_of_memory(std::unique_ptr<Evaluator> engine, const EngineOptions& options) {
  return std::make_unique<OutOfMemoryAdvisor>(std::move(engine), options);
}

}  // namespace modelswarm::model
