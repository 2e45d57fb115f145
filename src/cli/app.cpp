#include <CLI/CLI.hpp>

#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "modelswarm/cli/cli.h"
#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"

namespace modelswarm {

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
  add(cli::add_report_command);
  add(cli::add_convert_command);
  add(cli::add_generate_command);
  add(cli::add_bench_command);
  add(cli::add_eval_command);
  add(cli::add_finetune_command);

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
    std::cerr << "modelswarm: error: " << e.what() << "\n";
    return static_cast<int>(e.code());
  } catch (const std::bad_alloc&) {
    std::cerr << "modelswarm: error: out of memory; try a smaller batch (engine.max_batch_tokens) "
                 "or fewer particles per pass\n";
    return static_cast<int>(ExitCode::kRuntimeFailure);
  } catch (const std::exception& e) {
    std::string message = e.what();
    // libtorch messages carry a C++ backtrace after the first line: keep the first line.
    const auto cut = message.find("\nException raised from");
    if (cut != std::string::npos) message.resize(cut);
    std::cerr << "modelswarm: error: " << message << "\n";
    return static_cast<int>(ExitCode::kRuntimeFailure);
  }
}

}  // namespace modelswarm
