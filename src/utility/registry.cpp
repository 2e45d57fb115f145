// The utility registry (CTranslate2 ModelFactory style): built-in types are registered lazily,
// once, the first time anyone asks for a utility.
#include <algorithm>
#include <map>
#include <mutex>

#include "modelswarm/common/error.h"
#include "modelswarm/common/strings.h"
#include "modelswarm/common/json_reader.h"
#include "modelswarm/utility/utility.h"
#include "utility/builtin.h"

namespace modelswarm::utility {

namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, UtilityFactory> factories;
};

Registry& registry() {
  static Registry instance;
  return instance;
}

void register_builtin_utilities() {
  register_multiple_choice();
  register_generation();
  register_likelihood();
  register_command();
  register_composite();
  register_judge();
  register_reward_model();
}

void ensure_builtins() {
  static std::once_flag flag;
  std::call_once(flag, register_builtin_utilities);
}

}  // namespace

const char* split_name(Split split) {
  switch (split) {
    case Split::kDev: return "dev";
    case Split::kValidation: return "validation";
    case Split::kTest: return "test";
  }
  return "?";
}

void register_utility_factory(const std::string& name, UtilityFactory factory) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[name] = std::move(factory);
}

std::vector<std::string> known_utilities() {
  ensure_builtins();
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& item : r.factories) names.push_back(item.first);
  return names;
}

std::unique_ptr<Utility> make_utility(JsonReader& config, const UtilityContext& context) {
  ensure_builtins();
  const std::string type = config.get<std::string>("type");
  UtilityFactory factory;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.factories.find(type);
    if (it != r.factories.end()) factory = it->second;
  }
  if (!factory) config.fail("type", cat("unknown utility type \"", type, "\" (known: ", join(known_utilities(), ", "), ")"));
  std::unique_ptr<Utility> utility = factory(config, context);
  config.reject_unknown_keys();
  return utility;
}

std::unique_ptr<Utility> make_utility(const nlohmann::json& config, const std::string& source_name,
                                      const UtilityContext& context, const std::string& key_path) {
  JsonReader reader(config, source_name, key_path);
  return make_utility(reader, context);
}

}  // namespace modelswarm::utility
