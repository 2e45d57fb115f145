#include "cli/demo_task_fixture.h"

#include "modelswarm/common/atomic_file.h"
#include "test_utils.h"

namespace modelswarm::test {
namespace fs = std::filesystem;
using json = nlohmann::json;

json small_demo_task() {
  json task = json::parse(read_file(source_dir() / "configs" / "demo.json"));
  const fs::path configs = source_dir() / "configs";
  task["base_model"] = (configs / task["base_model"].get<std::string>()).string();
  for (auto& expert : task["experts"]) expert = (configs / expert.get<std::string>()).string();
  task["utility"]["data"] = {{"path", (configs / task["utility"]["data"]["path"].get<std::string>()).string()},
                             {"dev_size", 40}, {"validation_size", 20}, {"test_size", 40}, {"shuffle", false}};
  task["search"] = {{"swarm_size", 8}, {"max_iterations", 4}, {"seed", 3}};
  task["device"] = "cpu";
  return task;
}

fs::path write_demo_task(const fs::path& dir, json task) {
  fs::create_directories(dir);
  task["output"]["dir"] = (dir / "run").string();
  write_text_atomic(dir / "task.json", task.dump(2));
  return dir / "task.json";
}

}  // namespace modelswarm::test
