// The committed demo's task (configs/demo.json) made small for CLI tests: absolute paths, 40 dev,
// 20 validation and 40 test questions in file order, 8 rows for 4 iterations, seed 3, on CPU.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

namespace modelswarm::test {

nlohmann::json small_demo_task();

/// Writes `task` with output.dir DIR/run as DIR/task.json (creating DIR); returns its path.
std::filesystem::path write_demo_task(const std::filesystem::path& dir, nlohmann::json task);

}  // namespace modelswarm::test
