// Logging goes to stderr (spdlog behind this interface); stdout stays free for results (--json).
// Messages are plain strings: build them with modelswarm::cat(...). spdlog is compiled in its
// own small target because libtorch ships an incompatible copy of fmt in its include path.
#pragma once

#include <string>

namespace modelswarm {

enum class Verbosity { kQuiet, kNormal, kVerbose };

/// Installs the stderr logger at the given level. Safe to call more than once.
void setup_logging(Verbosity verbosity);

/// Also writes every log line (debug included) to `path`, appending. Throws Error when the
/// file cannot be opened.
void add_log_file(const std::string& path);

namespace log {
void debug(const std::string& message);
void info(const std::string& message);
void warn(const std::string& message);
void error(const std::string& message);
/// An error line written to the log files only (main prints it on stderr itself). Never throws:
/// it runs while reporting another failure, perhaps a full disk.
void error_to_files(const std::string& message);
bool debug_enabled();
}  // namespace log

}  // namespace modelswarm
