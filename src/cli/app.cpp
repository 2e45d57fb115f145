#include <CLI/CLI.hpp>

#include <cctype>
#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "modelswarm/cli/cli.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"
#include "modelswarm/model/out_of_memory.h"

namespace modelswarm {

namespace {

// Every error is one line on stderr, whatever the message carries: libtorch appends a C++
// backtrace, and an external command's stderr tail or a file's bad bytes may hold newlines and
// control characters: newlines become " | ", other control characters "\xNN".
std::string one_line(std::string message) {
  const auto backtrace = message.find("\nException raised from");
  if (backtrace != std::string::npos) message.resize(backtrace);
  while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back()))) message.pop_back();
  std::string out;
  out.reserve(message.size());
  for (char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') out += " | ";
    else if (c == '\r') continue;
    else if (c == '\t') out += ' ';
    else if (u < 0x20 || u == 0x7f) out += cat("\\x", "0123456789abcdef"[u >> 4], "0123456789abcdef"[u & 15]);
    else out += c;
  }
  return out;
}

int report_error(const std::string& message, ExitCode code) {
  const std::string line = one_line(message);
  log::error_to_files(line);
  std::cerr << "modelswarm: error: " << line << "\n";
  return static_cast<int>(code);
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"modelswarm: adapt LLMs by particle swarm search over LoRA experts (Model Swarms)",
               "modelswarm"};
  app.set_version_flag("--version", std::string("modelswarm ") + MODELSWARM_VERSION);
  app.require_subcommand(1);
  bool verbose = false, quiet = false;
  app.add_flag("-v,--verbose", verbose, "Log debug details");
  app.add_flag("-q,--quiet", quiet, "Log warnings and errors only");

  std::vector<std::pair<CLI::App*, cli::CommandRunner>> commands;
  auto add = [&](cli::CommandRunner (*adder)(CLI::App&)) {
    cli::CommandRunner runner = adder(app);
    commands.emplace_back(app.get_subcommands({}).back(), std::move(runner));
  };
  add(cli::add_inspect_command);
  add(cli::add_search_command);
  add(cli::add_sweep_command);
  add(cli::add_report_command);
  add(cli::add_convert_command);
  add(cli::add_generate_command);
  add(cli::add_bench_command);
  add(cli::add_eval_command);
  add(cli::add_finetune_command);
  add(cli::add_merge_command);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int printed = app.exit(e);  // prints help, version or the usage error
    return printed == 0 ? 0 : static_cast<int>(ExitCode::kUsageError);
  }
  setup_logging(quiet ? Verbosity::kQuiet : verbose ? Verbosity::kVerbose : Verbosity::kNormal);

  try {
    for (auto& [sub, run] : commands)
      if (sub->parsed()) return run();
    return static_cast<int>(ExitCode::kUsageError);
  } catch (const Error& e) {
    return report_error(e.what(), e.code());
  } catch (const std::exception& e) {
    if (model::is_out_of_memory(e)) return report_error(model::out_of_memory_advice(), ExitCode::kRuntimeFailure);
    return report_error(e.what(), ExitCode::kRuntimeFailure);
  }
}

}  // namespace modelswarm
