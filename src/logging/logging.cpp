#include "modelswarm/common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace modelswarm {

namespace {
std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto l = spdlog::stderr_color_mt("modelswarm");
    l->set_pattern("[%H:%M:%S] %^%l%$ %v");
    l->set_level(spdlog::level::info);
    return l;
  }();
  return instance;
}
}  // namespace

void setup_logging(Verbosity verbosity) {
  switch (verbosity) {
    case Verbosity::kQuiet: logger()->set_level(spdlog::level::warn); break;
    case Verbosity::kNormal: logger()->set_level(spdlog::level::info); break;
    case Verbosity::kVerbose: logger()->set_level(spdlog::level::debug); break;
  }
}

namespace log {
void debug(const std::string& message) { logger()->debug(message); }
void info(const std::string& message) { logger()->info(message); }
void warn(const std::string& message) { logger()->warn(message); }
void error(const std::string& message) { logger()->error(message); }
bool debug_enabled() { return logger()->should_log(spdlog::level::debug); }
}  // namespace log

}  // namespace modelswarm
