#include "modelswarm/dist/world.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "modelswarm/common/error.h"
#include "modelswarm/common/logging.h"

namespace modelswarm::dist {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int64_t integer_env(const char* name, int64_t fallback) {
  const char* v = env(name);
  if (!v) return fallback;
  char* end = nullptr;
  const long long parsed = std::strtoll(v, &end, 10);
  if (*end != '\0' || parsed < 0)
    throw ConfigError(cat("environment: ", name, "=", v, ": expected a non-negative integer"));
  return parsed;
}

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

// c10d's messages carry a C++ stack trace after their first line.
std::string first_line(const std::string& message) { return message.substr(0, message.find('\n')); }

}  // namespace

World World::from_environment() {
  World w;
  // torchrun's names first; Slurm's when only srun set the job up.
  const bool torchrun = env("WORLD_SIZE") != nullptr;
  w.world_size = integer_env(torchrun ? "WORLD_SIZE" : "SLURM_NTASKS", 1);
  if (w.world_size <= 1) return World();
  w.rank = integer_env(torchrun ? "RANK" : "SLURM_PROCID", 0);
  w.local_rank = integer_env(torchrun ? "LOCAL_RANK" : "SLURM_LOCALID", 0);
  if (w.rank >= w.world_size)
    throw ConfigError(cat("environment: rank ", w.rank, " is not below the world size ", w.world_size));
  if (const char* addr = env("MASTER_ADDR")) w.master_addr = addr;
  else if (!torchrun) throw ConfigError("environment: MASTER_ADDR is not set (a Slurm job sets it in its batch script)");
  w.port = static_cast<int>(integer_env("MASTER_PORT", 29500));
  if (w.port <= 0 || w.port > 65535) throw ConfigError(cat("environment: MASTER_PORT=", w.port, " is not a port"));
  const char* agent = env("TORCHELASTIC_USE_AGENT_STORE");
  w.agent_store = agent && std::string(agent) == "True";
  w.prefix = cat("modelswarm/", env("TORCHELASTIC_RUN_ID") ? env("TORCHELASTIC_RUN_ID") : "job", "/",
                 integer_env("TORCHELASTIC_RESTART_COUNT", 0), "/");
  return w;
}

struct RankGroup::Store {
  c10::intrusive_ptr<c10d::TCPStore> tcp;
};

RankGroup::RankGroup(World world, std::chrono::milliseconds timeout)
    : world_(std::move(world)), timeout_(timeout), store_(std::make_unique<Store>()) {
  // c10d warns on stderr of every timed-out wait, with socket details: our own error says it in
  // one line. Its warnings stay for -v.
  if (!log::debug_enabled()) FLAGS_caffe2_log_level = std::max(FLAGS_caffe2_log_level, 2);
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(world_.port);
  options.isServer = !world_.agent_store && world_.rank == 0;
  options.numWorkers = world_.agent_store ? std::nullopt : std::optional<std::size_t>(world_.world_size);
  options.waitWorkers = !world_.agent_store;
  options.timeout = timeout_;
  try {
    store_->tcp = c10::make_intrusive<c10d::TCPStore>(world_.master_addr, options);
  } catch (const std::exception& e) {
    throw Error(cat("rank ", world_.rank, " of ", world_.world_size, ": cannot reach the rendezvous store at ",
                    world_.master_addr, ":", world_.port, " within ", timeout_.count() / 1000, " s (", first_line(e.what()), ")"));
  }
  log::debug(cat("rank ", world_.rank, " of ", world_.world_size, " joined the store at ", world_.master_addr, ":",
                 world_.port));
}

// The rank that serves the store (rank 0 outside torchrun) must not take it down while another
// rank still reads its last exchange: every other rank counts itself out, and the server waits for
// them (bounded; not at all once a rank is known lost).
RankGroup::~RankGroup() {
  try {
    const std::string left = world_.prefix + "left";
    const bool serves = !world_.agent_store && world_.rank == 0;
    if (!serves) {
      store_->tcp->add(left, 1);
      return;
    }
    if (lost_rank_) return;
    const auto deadline = std::chrono::steady_clock::now() + std::min(timeout_, std::chrono::milliseconds(10000));
    while (store_->tcp->add(left, 0) < world_.world_size - 1 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  } catch (...) {
    // Leaving is best effort: the run's outcome is decided already.
  }
}

std::vector<std::string> RankGroup::exchange(const std::string& tag, const std::string& mine) {
  const std::string base = world_.prefix + tag + "/";
  try {
    store_->tcp->set(base + std::to_string(world_.rank), bytes(mine));
  } catch (const std::exception& e) {
    lost_rank_ = true;
    throw Error(cat("rank ", world_.rank, ": lost the store at ", world_.master_addr, ":", world_.port,
                    " (rank 0 or torchrun's agent ended?): ", first_line(e.what())));
  }
  std::vector<std::string> out(world_.world_size);
  for (int64_t r = 0; r < world_.world_size; ++r) {
    if (r == world_.rank) {
      out[r] = mine;
      continue;
    }
    const std::string key = base + std::to_string(r);
    try {
      store_->tcp->wait({key}, timeout_);
      out[r] = text(store_->tcp->get(key));
    } catch (const std::exception& e) {
      lost_rank_ = true;
      throw Error(cat("rank ", r, " sent nothing for ", tag, " within ", timeout_.count() / 1000,
                      " s: it died or hangs (", first_line(e.what()), ")"));
    }
  }
  return out;
}

void RankGroup::check_same_run(const std::string& fingerprint) {
  const std::vector<std::string> all = exchange("fingerprint", fingerprint);
  for (int64_t r = 1; r < world_.world_size; ++r)
    if (all[r] != all[0])
      throw ConfigError(cat("rank ", r, " runs another config or build than rank 0 (fingerprint ", all[r], " vs ",
                            all[0], "): start every rank with the same config and binary"));
}

}  // namespace modelswarm::dist
