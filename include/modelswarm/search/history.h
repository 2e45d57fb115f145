// RUN_DIR/history.jsonl: one JSON object per iteration (swarm::IterationRecord::to_json).
// Lines are appended and fsynced; a crash can at worst leave a torn last line, which readers
// ignore (report::read_history) and a resume replaces by rewriting the file, atomically, from
// the checkpoint's own copy of the history.
#pragma once

#include <filesystem>
#include <vector>

#include "modelswarm/swarm/state.h"

namespace modelswarm::search {

/// Appends one line and fsyncs it. Throws Error naming the file on failure.
void append_history(const std::filesystem::path& file, const swarm::IterationRecord& record);

/// Replaces the file with exactly these records (temp + rename).
void rewrite_history(const std::filesystem::path& file, const std::vector<swarm::IterationRecord>& history);

}  // namespace modelswarm::search
