#pragma once

namespace modelswarm {

/// Parses the command line, runs the chosen command and returns the process exit code.
/// Every error is caught here and printed as one line on stderr.
int run_cli(int argc, char** argv);

}  // namespace modelswarm
