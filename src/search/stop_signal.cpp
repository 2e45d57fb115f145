#include "modelswarm/search/stop_signal.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace modelswarm::search {

namespace {

std::atomic<bool> g_stop{false};
struct sigaction g_previous_int;
struct sigaction g_previous_term;

void on_signal(int signal) {
  if (g_stop.exchange(true)) {
    // Second signal: give up at once, the default way.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  static const char kMessage[] =
      "\nstopping after the current iteration (its checkpoint will be written); signal again to kill\n";
  ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
  (void)ignored;
}

}  // namespace

StopSignal::StopSignal() {
  g_stop = false;
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // slow system calls resume: the iteration in flight completes
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

StopSignal::~StopSignal() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

bool stop_requested() { return g_stop.load(); }
void request_stop() { g_stop = true; }
void clear_stop_request() { g_stop = false; }

}  // namespace modelswarm::search
