#!/usr/bin/env python3
"""The search algorithms side by side on the search-quality suite (scripts/quality_algorithms.sh).

    python3 scripts/quality_compare.py OUT/ALGORITHM [OUT/ALGORITHM ...]

Each argument is scripts/quality.sh's --out directory of one algorithm's runs (same targets and
seeds). Prints, per target, one row per algorithm: test accuracy (percent, mean ± std over seeds)
of the search's own best (report.json `swarm_best`: what the algorithm found, baselines aside)
and of the returned adapter (`best`, which may be a baseline), the search's best on dev, rows
scored (`evaluations`) and seconds per search; then the best expert and the uniform average on
test for reference, and a last table of the means over the targets other than the control.
Runs of the same algorithm (e.g. two settings of it) are named by their directories.
Standard library only.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quality_table import CONTROL, fmt, fmt_mean_std, load_runs, mean_std, percent  # noqa: E402


def algorithm_of(reports, directory):
    names = {r.get("algorithm") or r.get("search", {}).get("algorithm") for r in reports}
    names.discard(None)
    return names.pop() if len(names) == 1 else os.path.basename(os.path.normpath(directory))


def per_seed(reports, section, key):
    return [percent((r.get(section) or {}).get(key)) for r in reports]


def best_expert_test(report):
    tests = [percent(e.get("test")) for e in report.get("experts", [])]
    tests = [t for t in tests if t is not None]
    return max(tests) if tests else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="quality.sh --out directories, one per algorithm")
    args = parser.parse_args()

    algorithms = []  # (name, {target: [report per seed]}, suite)
    for directory in args.runs:
        suite_path = os.path.join(directory, "suite.json")
        suite = json.load(open(suite_path)) if os.path.isfile(suite_path) else None
        runs = load_runs(directory, suite)
        if not runs:
            sys.exit(f"quality_compare.py: no {directory}/<target>/seed-<S>/report.json found")
        by_target = {t: [report for _, report in seeds] for t, seeds in runs.items()}
        name = algorithm_of([r for reports in by_target.values() for r in reports], directory)
        algorithms.append((name, by_target, suite, directory))
    names = [a[0] for a in algorithms]
    if len(set(names)) < len(names):  # the same algorithm twice: tell the settings apart by directory
        algorithms = [(os.path.basename(os.path.normpath(d)), b, s) for _, b, s, d in algorithms]
    else:
        algorithms = [(n, b, s) for n, b, s, _ in algorithms]

    targets = [t for t in algorithms[0][1] if all(t in a[1] for a in algorithms)]
    out = sys.stdout
    out.write("## Search algorithms side by side\n\n")
    first_suite = algorithms[0][2] or {}
    first_report = algorithms[0][1][targets[0]][0]
    search = first_report.get("search", {})
    out.write(f"commit {first_suite.get('commit', '?')}; seeds {first_suite.get('seeds', '?')}; "
              f"swarm_size {search.get('swarm_size', '?')}, max_iterations {search.get('max_iterations', '?')}, "
              f"patience {search.get('patience', '?')} (every algorithm the same budget)\n\n")

    means = {name: {"found": [], "returned": []} for name, _, _ in algorithms}
    for target in targets:
        reports0 = algorithms[0][1][target]
        out.write(f"### {target}\n\n")
        out.write("| algorithm | search's best, test % | returned adapter, test % | search's best, dev % "
                  "| rows scored | s per search |\n")
        out.write("|---|---:|---:|---:|---:|---:|\n")
        for name, by_target, _ in algorithms:
            reports = by_target[target]
            found = per_seed(reports, "swarm_best", "test")
            returned = per_seed(reports, "best", "test")
            dev = mean_std(per_seed(reports, "swarm_best", "dev"))[0]
            evaluations = [r.get("evaluations") for r in reports if isinstance(r.get("evaluations"), (int, float))]
            seconds = [r.get("wall_time_s") for r in reports if isinstance(r.get("wall_time_s"), (int, float))]
            out.write(f"| {name} | {fmt_mean_std(found)} | {fmt_mean_std(returned)} | {fmt(dev)} | "
                      f"{fmt(statistics.mean(evaluations), 0) if evaluations else '–'} | "
                      f"{fmt(statistics.mean(seconds), 0) if seconds else '–'} |\n")
            if target != CONTROL:
                means[name]["found"].append(mean_std(found)[0])
                means[name]["returned"].append(mean_std(returned)[0])
        experts = [best_expert_test(r) for r in reports0]
        average = per_seed(reports0, "uniform_average", "test")
        out.write(f"\nbest expert on test (per seed) {fmt_mean_std(experts)} %, uniform average "
                  f"{fmt_mean_std(average)} %; {len(reports0)} seeds\n\n")

    out.write("### Mean over the targets (control excluded)\n\n")
    out.write("| algorithm | search's best, test % | returned adapter, test % |\n|---|---:|---:|\n")
    for name, _, _ in algorithms:
        found = [v for v in means[name]["found"] if v is not None]
        returned = [v for v in means[name]["returned"] if v is not None]
        out.write(f"| {name} | {fmt(statistics.mean(found)) if found else '–'} | "
                  f"{fmt(statistics.mean(returned)) if returned else '–'} |\n")


if __name__ == "__main__":
    main()
