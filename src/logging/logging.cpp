#include "modelswarm/common/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "modelswarm/common/error.h"
#include <spdlog/spdlog.h>

namespace modelswarm {

namespace {
std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console->set_pattern("[%H:%M:%S] %^%l%$ %v");
    console->set_level(spdlog::level::info);
    auto l = std::make_shared<spdlog::logger>("modelswarm", console);
    l->set_level(spdlog::level::debug);  // sinks filter: the console by verbosity, files keep all
    l->flush_on(spdlog::level::info);
    return l;
  }();
  return instance;
}
}  // namespace

void setup_logging(Verbosity verbosity) {
  auto& console = logger()->sinks().front();
  switch (verbosity) {
    case Verbosity::kQuiet: console->set_level(spdlog::level::warn); break;
    case Verbosity::kNormal: console->set_level(spdlog::level::info); break;
    case Verbosity::kVerbose: console->set_level(spdlog::level::debug); break;
  }
}

void add_log_file(const std::string& path) {
  try {
    auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
    file->set_pattern("[%Y-%m-%d %H:%M:%S.%e] %l %v");
    file->set_level(spdlog::level::debug);
    logger()->sinks().push_back(file);
  } catch (const spdlog::spdlog_ex& e) {
    throw Error(cat(path, ": cannot open the log file: ", e.what()));
  }
}

namespace log {
void debug(const std::string& message) { logger()->debug(message); }
void info(const std::string& message) { logger()->info(message); }
void warn(const std::string& message) { logger()->warn(message); }
void error(const std::string& message) { logger()->error(message); }
void error_to_files(const std::string& message) {
  try {
    auto l = logger();
    const spdlog::details::log_msg line(l->name(), spdlog::level::err, message);
    for (size_t i = 1; i < l->sinks().size(); ++i) {  // sinks()[0] is the console
      l->sinks()[i]->log(line);
      l->sinks()[i]->flush();
    }
  } catch (...) {
  }
}
bool debug_enabled() { return logger()->sinks().front()->should_log(spdlog::level::debug); }
}  // namespace log

}  // namespace modelswarm
