// Several processes, one search: the ranks of a job launched by torchrun or Slurm, and the c10d
// TCPStore they share (PyTorch's own rendezvous store, linked from libtorch; no networking of
// our own). Every rank scores a share of each iteration's rows and publishes its utilities in
// the store; every rank reads all of them and applies the same update, so no weights travel.
//
// The environment, as torchrun sets it (Slurm's srun: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID,
// with MASTER_ADDR and MASTER_PORT set by the batch script; scripts/slurm_search.sh):
//   WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR, MASTER_PORT
//   TORCHELASTIC_USE_AGENT_STORE=True  torchrun's agent already serves the store at
//                                      MASTER_ADDR:MASTER_PORT: every rank connects as a client
//                                      (else rank 0 serves it)
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace modelswarm::dist {

struct World {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int port = 29500;
  bool agent_store = false;  // torchrun's agent serves the store
  std::string prefix;        // keys of this job's attempt (torchrun restarts get new keys)

  bool distributed() const { return world_size > 1; }
  bool writer() const { return rank == 0; }

  /// Reads the environment; a single process when WORLD_SIZE (or SLURM_NTASKS) is unset or 1.
  /// Throws ConfigError naming the variable when one is malformed or inconsistent.
  static World from_environment();
};

/// The store of a distributed job, and the few exchanges a search needs.
class RankGroup {
 public:
  /// Connects to (rank 0: or serves) the store; waits up to `timeout` for the other ranks.
  RankGroup(World world, std::chrono::milliseconds timeout);
  /// Leaves the group; the rank serving the store first waits (up to the timeout, 10 s at most)
  /// for the others to leave, so that none loses the store while reading its last exchange.
  ~RankGroup();

  const World& world() const { return world_; }

  /// Every rank's `mine` for exchange `tag`, in rank order. Throws Error naming the first rank
  /// that did not publish within the timeout (it died or hangs), or the lost store.
  std::vector<std::string> exchange(const std::string& tag, const std::string& mine);

  /// Refuses (ConfigError) a rank whose config differs from rank 0's: all ranks publish the hash
  /// of what they run and compare it with rank 0's before anything is scored.
  void check_same_run(const std::string& fingerprint);

 private:
  struct Store;  // the c10d TCPStore, kept out of this header
  World world_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Store> store_;
  bool lost_rank_ = false;  // an exchange failed: no rank is waited for at the end
};

}  // namespace modelswarm::dist
