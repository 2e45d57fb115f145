// Graceful interruption: while a StopSignal is alive, the first SIGINT or SIGTERM only sets a
// flag (the search finishes its iteration, checkpoints and exits, see runner.h); a second one
// kills the process the default way (the checkpoint on disk stays valid).
#pragma once

namespace modelswarm::search {

class StopSignal {
 public:
  StopSignal();   // installs the handlers and clears any earlier request
  ~StopSignal();  // restores the previous handlers
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;
};

/// True once SIGINT/SIGTERM arrived under a StopSignal, or request_stop() was called.
bool stop_requested();
/// Asks the running search to stop after its current iteration (as the signals do).
void request_stop();
void clear_stop_request();

}  // namespace modelswarm::search
