#!/usr/bin/env bash
# A Slurm batch script for one search over several GPUs and nodes: one task (rank) per GPU, each
# scoring its share of every iteration's rows; rank 0 writes the run directory (README, "Many
# GPUs, many machines"). output.dir must be on a file system every node sees.
#
#   sbatch --nodes 2 --gpus-per-node 8 scripts/slurm_search.sh task.json [--resume]
#
# srun starts one task per GPU and sets SLURM_PROCID (the rank), SLURM_NTASKS (the world size)
# and SLURM_LOCALID (the GPU of the node); this script adds MASTER_ADDR and MASTER_PORT (the first
# node serves the rendezvous store). modelswarm reads those as it reads torchrun's WORLD_SIZE,
# RANK, LOCAL_RANK. With "device": "auto" or "cuda" in the config, each rank uses the GPU
# LOCAL_RANK modulo the GPUs it sees: with --gpus-per-task=1 (below) it sees one, its own.
#SBATCH --job-name=modelswarm
#SBATCH --ntasks-per-node=8
#SBATCH --gpus-per-task=1
#SBATCH --output=modelswarm-%j.log
set -euo pipefail
config=${1:?usage: sbatch scripts/slurm_search.sh task.json [--resume]}
shift
MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
MASTER_PORT=${MASTER_PORT:-$((20000 + SLURM_JOB_ID % 20000))}
export MASTER_ADDR MASTER_PORT
modelswarm=${MODELSWARM:-modelswarm}
srun --kill-on-bad-exit=1 bash -c 'export OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}; exec "$0" search --config "$1" "${@:2}"' \
  "$modelswarm" "$config" "$@"
