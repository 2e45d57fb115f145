#!/usr/bin/env python3
"""A sweep against the same trials run one `modelswarm search` at a time, in one run.

    python3 scripts/bench_sweep.py [--config configs/quality/sweep.json] [--out runs/bench-sweep]
                                   [--modelswarm build/modelswarm]

Runs, on this machine, one after the other:
  1. `modelswarm sweep` as configured (with its early stopping, if any);
  2. the same sweep without early stopping (every trial to its own end);
  3. each trial of (2) alone: `modelswarm search --search OUT/full/trials/NN/search.json`,
     the way a user without `sweep` runs them (a process, a model load and a data read each).
Prints wall time, rows scored and the ratios, and checks that every trial of (2) returned the
same adapter (dev, validation, test) as its search alone. Build first (scripts/build.sh); for
the quality config, write the targets first (build/make_demo --quality-targets build/quality/data).
Quote figures from an otherwise idle machine: the load average is printed before and after.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def absolute_paths(task, config_dir):
    """The config's paths made absolute, so that a copy of it can live elsewhere."""
    def resolve(p):
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(config_dir, p))
    task["base_model"] = resolve(task["base_model"])
    task["experts"] = [resolve(e) for e in task["experts"]]
    data = task["utility"].get("data", {})
    if "path" in data:
        data["path"] = resolve(data["path"])
    return task


def run(args, what):
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"bench_sweep: {what} failed (exit {done.returncode}):\n{done.stderr}")
    return seconds, done.stdout


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=os.path.join(ROOT, "configs/quality/sweep.json"))
    parser.add_argument("--out", default=os.path.join(ROOT, "runs/bench-sweep"))
    parser.add_argument("--modelswarm", default=os.path.join(ROOT, "build/modelswarm"))
    a = parser.parse_args()
    config = os.path.abspath(a.config)
    with open(config) as f:
        task = absolute_paths(json.load(f), os.path.dirname(config))
    if "sweep" not in task:
        sys.exit(f"bench_sweep: {config} has no sweep section")
    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(a.out)

    variants = {"sweep": task, "full": json.loads(json.dumps(task))}
    variants["full"]["sweep"].pop("early_stopping", None)
    summaries, seconds = {}, {}
    print(f"load average before: {load_average()}")
    for name, t in variants.items():
        t["output"]["dir"] = os.path.join(a.out, name)
        path = os.path.join(a.out, f"{name}.json")
        with open(path, "w") as f:
            json.dump(t, f, indent=1)
        seconds[name], out = run([a.modelswarm, "-q", "sweep", "--config", path, "--json"], f"sweep ({name})")
        summaries[name] = json.loads(out)

    full_dir = os.path.join(a.out, "full")
    with open(os.path.join(full_dir, "sweep.jsonl")) as f:
        trials = [json.loads(line) for line in f if line.strip()]
    seconds["alone"], rows_alone, mismatches, iterating_alone = 0.0, 0, [], 0.0
    for t in trials:
        out_dir = os.path.join(a.out, "alone", f"{t['trial']:02d}")
        s, out = run([a.modelswarm, "-q", "search", "--config", os.path.join(a.out, "full.json"), "--search",
                      t["config"], "--output-dir", out_dir, "--json"], f"search of trial {t['trial']}")
        seconds["alone"] += s
        best = json.loads(out)["best"]
        with open(os.path.join(out_dir, "report.json")) as f:
            report = json.load(f)
        rows_alone += report["evaluations"]
        iterating_alone += report["search_time_s"]
        if any(best[k] != t["returned"][k] for k in ("dev", "validation", "test")):
            mismatches.append(t["trial"])
    print(f"load average after:  {load_average()}")

    rows = [("searches one at a time", seconds["alone"], iterating_alone, rows_alone, rows_alone),
            ("sweep, no early stopping", seconds["full"], summaries["full"]["search_time_s"],
             summaries["full"]["evaluations"], summaries["full"]["engine_evaluations"]),
            ("sweep, as configured", seconds["sweep"], summaries["sweep"]["search_time_s"],
             summaries["sweep"]["evaluations"], summaries["sweep"]["engine_evaluations"])]
    print(f"\n{len(trials)} trials of {config}\n")
    print("| run | wall time (s) | of which iterating (s) | trial rows | rows the engine scored "
          "| wall time vs one at a time | iterating vs one at a time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, s, iterating, trial_rows, engine_rows in rows:
        print(f"| {name} | {s:.1f} | {iterating:.1f} | {trial_rows} | {engine_rows} | "
              f"{seconds['alone'] / s:.2f}× | {iterating_alone / iterating:.2f}× |")
    print("\n(iterating: the searches' iterations, scoring and updates; the rest is starting the process, "
          "loading the model and data, the baselines, outputs and checkpoints)")
    winner = summaries["sweep"]
    print(f"\nwinner (as configured): trial {winner['winner']} {json.dumps(winner['winner_search'])}, "
          f"{winner['selection']} {winner['winner_returned'][winner['selection']]}, "
          f"test {winner['winner_returned']['test']}")
    if mismatches:
        sys.exit(f"bench_sweep: trials {mismatches} returned another adapter alone than in the sweep")
    print("every trial returned the same adapter alone as in the sweep")


if __name__ == "__main__":
    main()
