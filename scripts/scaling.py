#!/usr/bin/env python3
"""Seconds per search iteration on one scorer and on N: N devices in one process and N ranks.

    python3 scripts/scaling.py [--device cpu|cuda] [--n 2] [--iterations 10] [--out runs/scaling]
                               [--modelswarm build/modelswarm] [--torchrun .venv/bin/torchrun]

Runs the search-quality template (configs/quality/task.json: the demo's six experts, all-2000,
swarm 20, dev 150) for a fixed number of iterations, three ways, one after the other:
  1. one process on one device;
  2. one process with `"device"` a list of N devices (cpu × N, or cuda:0 … cuda:N-1);
  3. `torchrun --standalone --nproc-per-node N --no-python modelswarm search` (one device each).
On CPU every run has OMP_NUM_THREADS=1 per process, as torchrun sets it, so that N scorers use N
cores. Prints seconds per iteration (report.json: search_time_s over the iterations), the speed-up
against (1), the ideal (N×), and the overhead per iteration over the ideal; and checks that the
three runs returned the same adapter to the byte. Needs build/quality/data
(build/make_demo --quality-targets build/quality/data).
"""
import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def task(device, iterations, out_dir):
    with open(os.path.join(ROOT, "configs/quality/task.json")) as f:
        t = json.load(f)
    base = os.path.join(ROOT, "configs/quality")
    t["base_model"] = os.path.normpath(os.path.join(base, t["base_model"]))
    t["experts"] = [os.path.normpath(os.path.join(base, e)) for e in t["experts"]]
    t["utility"]["data"]["path"] = os.path.join(ROOT, "build/quality/data/all-2000.jsonl")
    t["search"].update({"max_iterations": iterations, "patience": 100000})
    t["device"] = device
    t["output"]["dir"] = out_dir
    return t


def run(name, args, config, env, out):
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(config, f, indent=1)
    start = time.perf_counter()
    done = subprocess.run(args + ["--config", os.path.join(out, f"{name}.json")], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"scaling: {name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    with open(os.path.join(config["output"]["dir"], "report.json")) as f:
        report = json.load(f)
    return report["search_time_s"] / (report["iterations"] + 1), wall


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--n", type=int, default=2)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--out", default=os.path.join(ROOT, "runs/scaling"))
    p.add_argument("--modelswarm", default=os.path.join(ROOT, "build/modelswarm"))
    p.add_argument("--torchrun", default=os.path.join(ROOT, ".venv/bin/torchrun"))
    a = p.parse_args()
    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(a.out)
    env = dict(os.environ)
    if a.device == "cpu":
        env["OMP_NUM_THREADS"] = "1"
    one = "cpu" if a.device == "cpu" else "cuda:0"
    many = ["cpu"] * a.n if a.device == "cpu" else [f"cuda:{i}" for i in range(a.n)]
    search = [a.modelswarm, "-q", "search"]
    runs = [
        ("1 process, 1 device", "one", search, task(one, a.iterations, os.path.join(a.out, "one"))),
        (f"1 process, {a.n} devices", "devices", search, task(many, a.iterations, os.path.join(a.out, "devices"))),
        (f"{a.n} ranks (torchrun)", "ranks",
         [a.torchrun, "--standalone", f"--nproc-per-node={a.n}", "--no-python"] + search,
         task("auto" if a.device == "cuda" else "cpu", a.iterations, os.path.join(a.out, "ranks"))),
    ]
    with open("/proc/loadavg") as f:
        print(f"load average before: {' '.join(f.read().split()[:3])}")
    figures = []
    for label, name, args, config in runs:
        per_iteration, wall = run(name, args, config, env, a.out)
        figures.append((label, name, per_iteration, wall))
    with open("/proc/loadavg") as f:
        print(f"load average after:  {' '.join(f.read().split()[:3])}")

    t1 = figures[0][2]
    print(f"\n{a.iterations} iterations of 20 rows, dev 150, device {a.device}, OMP_NUM_THREADS "
          f"{env.get('OMP_NUM_THREADS', '(unset)')}\n")
    print("| run | s per iteration | speed-up | ideal | overhead per iteration over the ideal | wall (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, name, t, wall in figures:
        n = 1 if name == "one" else a.n
        print(f"| {label} | {t:.3f} | {t1 / t:.2f}× | {n}× | {t - t1 / n:+.3f} s | {wall:.1f} |")
    best = [os.path.join(a.out, name, "best", "adapter_model.safetensors") for _, name, _, _ in figures]
    same = all(filecmp.cmp(best[0], b, shallow=False) for b in best[1:])
    print("\nthe same best/ in all three runs" if same else "\nbest/ DIFFERS between the runs")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
