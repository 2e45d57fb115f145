#include "utility/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "modelswarm/common/error.h"

extern char** environ;

namespace modelswarm::utility {

namespace {

constexpr size_t kStderrTail = 4096;

struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() {
    if (::pipe2(fd, O_CLOEXEC) != 0) throw Error(cat("cannot create a pipe: ", std::strerror(errno)));
  }
  ~Pipe() { close_both(); }
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
  void close_both() { close_end(0); close_end(1); }
};

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Writing to a pipe whose reader has exited raises SIGPIPE; this library must not change the
// process's signal disposition, so SIGPIPE is blocked in this thread and any pending one consumed.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SigpipeBlock() {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
      timespec zero{0, 0};
      sigtimedwait(&set_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t set_, old_;
};

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input, double timeout_seconds,
                          size_t max_output_bytes) {
  if (argv.empty()) throw Error("empty command");
  Pipe in, out, err;
  SigpipeBlock sigpipe_block;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.fd[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err.fd[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t no_signals, default_signals;
  sigemptyset(&no_signals);
  sigemptyset(&default_signals);
  sigaddset(&default_signals, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &no_signals);
  posix_spawnattr_setsigdefault(&attr, &default_signals);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw Error(cat("cannot run \"", argv[0], "\": ", std::strerror(rc)));

  in.close_end(0);
  out.close_end(1);
  err.close_end(1);
  set_nonblocking(in.fd[1]);
  set_nonblocking(out.fd[0]);
  set_nonblocking(err.fd[0]);

  ProcessResult result;
  std::string err_all;
  size_t written = 0;
  if (input.empty()) in.close_end(1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  auto kill_group = [&] { ::kill(-pid, SIGKILL); };

  while (out.fd[0] >= 0 || err.fd[0] >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill_group();
      break;
    }
    pollfd fds[3];
    int n = 0;
    int in_i = -1, out_i = -1, err_i = -1;
    if (in.fd[1] >= 0) { in_i = n; fds[n++] = {in.fd[1], POLLOUT, 0}; }
    if (out.fd[0] >= 0) { out_i = n; fds[n++] = {out.fd[0], POLLIN, 0}; }
    if (err.fd[0] >= 0) { err_i = n; fds[n++] = {err.fd[0], POLLIN, 0}; }
    const int ready = ::poll(fds, n, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) {
      kill_group();
      throw Error(cat("poll failed while running \"", argv[0], "\": ", std::strerror(errno)));
    }
    if (ready <= 0) continue;
    if (in_i >= 0 && fds[in_i].revents) {
      const ssize_t w = ::write(in.fd[1], input.data() + written, std::min<size_t>(input.size() - written, 65536));
      if (w > 0) written += static_cast<size_t>(w);
      // EPIPE: the command stopped reading; what it read is its business.
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) in.close_end(1);
    }
    char buffer[65536];
    if (out_i >= 0 && fds[out_i].revents) {
      const ssize_t r = ::read(out.fd[0], buffer, sizeof buffer);
      if (r > 0) {
        result.out.append(buffer, static_cast<size_t>(r));
        if (result.out.size() > max_output_bytes) {
          result.output_overflow = true;
          result.out.resize(max_output_bytes);
          kill_group();
          break;
        }
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        out.close_end(0);
      }
    }
    if (err_i >= 0 && fds[err_i].revents) {
      const ssize_t r = ::read(err.fd[0], buffer, sizeof buffer);
      if (r > 0) {
        err_all.append(buffer, static_cast<size_t>(r));
        if (err_all.size() > 4 * kStderrTail) err_all.erase(0, err_all.size() - kStderrTail);
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        err.close_end(0);
      }
    }
  }
  in.close_end(1);

  // Output is closed: wait for the exit, still bounded by the deadline.
  int status = 0;
  while (true) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (!result.timed_out && std::chrono::steady_clock::now() >= deadline) {
      result.timed_out = true;
      kill_group();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(result.timed_out || result.output_overflow ? 1 : 5));
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.err_tail = err_all.size() > kStderrTail ? err_all.substr(err_all.size() - kStderrTail) : err_all;
  return result;
}

}  // namespace modelswarm::utility
