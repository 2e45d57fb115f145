// Each subcommand lives in its own file and registers itself on the top-level CLI11 app,
// returning the function that runs it once the command line has been parsed.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace modelswarm::cli {

using CommandRunner = std::function<int()>;

CommandRunner add_inspect_command(CLI::App& app);
CommandRunner add_search_command(CLI::App& app);
CommandRunner add_sweep_command(CLI::App& app);
CommandRunner add_report_command(CLI::App& app);
CommandRunner add_convert_command(CLI::App& app);
CommandRunner add_generate_command(CLI::App& app);
CommandRunner add_bench_command(CLI::App& app);
CommandRunner add_eval_command(CLI::App& app);
CommandRunner add_finetune_command(CLI::App& app);
CommandRunner add_merge_command(CLI::App& app);

}  // namespace modelswarm::cli
