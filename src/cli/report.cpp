#include <iostream>

#include "cli/commands.h"
#include "modelswarm/report/html_report.h"

namespace modelswarm::cli {

CommandRunner add_report_command(CLI::App& app) {
  auto run_dir = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("report", "Write RUN_DIR/report.html from a run's report.json and history.jsonl");
  sub->add_option("RUN_DIR", *run_dir, "Run directory (the config's output.dir)")->required();
  return [run_dir]() {
    std::cout << report::write_html_report(*run_dir).string() << "\n";
    return 0;
  };
}

}  // namespace modelswarm::cli
