// Running out of memory is a setting to change, not a crash: allocation failures of the engine
// (CUDA's c10::OutOfMemoryError, libtorch's CPU allocator, std::bad_alloc) become one Error
// that says which knob to turn.
#pragma once

#include <exception>
#include <memory>
#include <string>

#include "modelswarm/model/evaluator.h"

namespace modelswarm::model {

/// True when `e` reports a failed allocation, on any device.
bool is_out_of_memory(const std::exception& e);

/// The advice given when memory ran out outside a forward pass (e.g. while loading weights).
std::string out_of_memory_advice();

/// Wraps `engine` so that running out of memory in a forward pass throws Error advising a
/// smaller engine.max_batch_tokens (now `options.max_batch_tokens`), fewer particles, shorter
/// generations; other exceptions pass through unchanged.
std::unique_ptr<Evaluator> advise_on_out_of_memory(std::unique_ptr<Evaluator> engine, const EngineOptions& options);

}  // namespace modelswarm::model
