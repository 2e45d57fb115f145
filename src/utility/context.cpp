#include "modelswarm/model/evaluator.h"
#include "modelswarm/model/reward_model.h"
#include "modelswarm/utility/utility.h"

namespace modelswarm::utility {

UtilityContext task_context(const std::filesystem::path& config_file, const model::EngineOptions& engine) {
  UtilityContext context;
  context.base_dir = config_file.parent_path().empty() ? std::filesystem::path(".") : config_file.parent_path();
  context.load_model = [engine](const std::filesystem::path& dir) {
    LoadedModel judge;
    judge.evaluator = model::load_evaluator(dir, nullptr, engine);
    judge.encoder = tokenizer_encoder(*judge.evaluator);
    return judge;
  };
  context.load_reward_model = [engine](const std::filesystem::path& dir) {
    LoadedRewardModel reward;
    reward.model = model::load_reward_model(dir, engine);
    reward.encoder = tokenizer_encoder(reward.model->tokenizer());
    return reward;
  };
  return context;
}

}  // namespace modelswarm::utility
