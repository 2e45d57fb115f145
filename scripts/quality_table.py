#!/usr/bin/env python3
"""The search-quality suite's tables (scripts/quality.sh, docs/QUALITY.md), from its runs' report.json.

    python3 scripts/quality_table.py OUT [--json FILE]

OUT is quality.sh's --out directory: OUT/suite.json (targets, seeds, --set overrides; optional) and
OUT/<target>/seed-<S>/report.json. Prints one markdown table per target: dev, validation and test
accuracy (percent) of each expert, of the uniform average, of every merge baseline in the report
(`baselines`, when present) and of the returned adapter (`best`); test as mean ± std and min–max
over seeds. Then, per target, the returned adapter's mean dev and validation accuracy (settings are
chosen on validation, never on test), its dev→test gap, in how many seeds it beats both the best
expert and the uniform average on test by ≥ 5 points, and how many of its reports carry a warning;
last a summary line. --json FILE also writes these numbers as JSON. Standard library only.
"""
import argparse
import glob
import json
import math
import os
import re
import statistics
import sys

MARGIN = 5.0  # points of test accuracy the returned adapter must win by
CONTROL = "control"  # the negative control's target name


def percent(value):
    """A report's utility (a fraction for accuracy) as a percentage, or None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return 100.0 * value
    return None


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


def fmt(value, digits=1):
    return "–" if value is None else f"{value:.{digits}f}"


def fmt_mean_std(values):
    mean, std = mean_std(values)
    if mean is None:
        return "–"
    return fmt(mean) if std is None else f"{fmt(mean)} ± {fmt(std)}"


def fmt_range(values):
    values = [v for v in values if v is not None]
    return f"{fmt(min(values))}–{fmt(max(values))}" if values else "–"


def load_runs(out, suite):
    """{target: [(seed, report)]}, in the suite's target order (else sorted), seeds ascending."""
    runs = {}
    for path in glob.glob(os.path.join(out, "*", "seed-*", "report.json")):
        target = os.path.basename(os.path.dirname(os.path.dirname(path)))
        match = re.fullmatch(r"seed-(\d+)", os.path.basename(os.path.dirname(path)))
        if not match:
            continue
        seed = int(match.group(1))
        if suite and (target not in suite.get("targets", [target]) or seed not in suite.get("seeds", [seed])):
            continue  # an earlier run in the same directory, not part of this suite
        with open(path) as f:
            runs.setdefault(target, []).append((seed, json.load(f)))
    order = suite.get("targets", []) if suite else []
    targets = [t for t in order if t in runs] + sorted(t for t in runs if t not in order)
    return {t: sorted(runs[t], key=lambda r: r[0]) for t in targets}


def rows_of(reports):
    """[(label, kind, [{dev, validation, test} per seed])]: experts, uniform average, baselines, returned."""
    rows, index = [], {}

    def add(label, kind, seed_index, entry):
        if label not in index:
            index[label] = len(rows)
            rows.append((label, kind, [None] * len(reports)))
        rows[index[label]][2][seed_index] = {k: percent((entry or {}).get(k)) for k in ("dev", "validation", "test")}

    for i, report in enumerate(reports):
        for expert in report.get("experts", []):
            add(expert.get("name", "?"), "expert", i, expert)
        add("uniform average", "uniform", i, report.get("uniform_average"))
        for baseline in report.get("baselines") or []:
            add(f"merge: {baseline.get('name', '?')}", "baseline", i, baseline)
        add("**returned adapter**", "returned", i, report.get("best"))
    # The reference the returned adapter must beat: per seed, the expert best on test.
    experts = [r[2] for r in rows if r[1] == "expert"]
    best = []
    for i in range(len(reports)):
        scored = [e[i] for e in experts if e[i] and e[i]["test"] is not None]
        best.append(max(scored, key=lambda e: e["test"]) if scored else None)
    rows.append(("*best expert on test (per seed)*", "best_expert", best))
    order = ["expert", "best_expert", "uniform", "baseline", "returned"]
    return sorted(rows, key=lambda r: order.index(r[1]))  # stable: report order within a kind


def column(row_seeds, key):
    return [s.get(key) if s else None for s in row_seeds]


def target_summary(target, runs):
    seeds = [seed for seed, _ in runs]
    reports = [report for _, report in runs]
    rows = rows_of(reports)
    returned = next(r[2] for r in rows if r[1] == "returned")
    uniform = next(r[2] for r in rows if r[1] == "uniform")
    best = next(r[2] for r in rows if r[1] == "best_expert")
    wins, gaps, warned, sources = 0, [], [], {}
    for i, report in enumerate(reports):
        test = returned[i]["test"]
        best_expert = best[i]["test"] if best[i] else None
        average = uniform[i]["test"]
        if test is not None and best_expert is not None and average is not None:
            wins += test >= best_expert + MARGIN and test >= average + MARGIN
        if test is not None and returned[i]["dev"] is not None:
            gaps.append(returned[i]["dev"] - test)
        if report.get("warnings"):
            warned.append((seeds[i], report["warnings"]))
        source = (report.get("best") or {}).get("source")
        if source is not None:
            sources[str(source)] = sources.get(str(source), 0) + 1
    first = reports[0]
    utility = first.get("utility", {})
    data = first.get("config", {}).get("utility", {}).get("data", {})
    return {
        "target": target,
        "seeds": seeds,
        "rows": rows,
        "wins": wins,
        "gaps": gaps,
        "warned": warned,
        "sources": sources,
        "returned": returned,
        "splits": (utility.get("dev_examples", data.get("dev_size")),
                   utility.get("validation_examples", data.get("validation_size")),
                   utility.get("test_examples", data.get("test_size"))),
        "seconds": [r.get("wall_time_s") for r in reports if isinstance(r.get("wall_time_s"), (int, float))],
        "search": first.get("config", {}).get("search", {}),
    }


def print_target(s, out):
    n = len(s["seeds"])
    dev, val, test = s["splits"]
    seconds = statistics.mean(s["seconds"]) if s["seconds"] else None
    out.write(f"### {s['target']}\n\n")
    out.write(f"{n} seed(s) ({', '.join(map(str, s['seeds']))}); dev {dev if dev is not None else '–'} / "
              f"validation {val if val else '–'} / test {test if test is not None else '–'} examples; "
              f"{fmt(seconds, 0)} s per search\n\n")
    out.write("| adapter | dev % | validation % | test % (mean ± std) | test min–max |\n")
    out.write("|---|---:|---:|---:|---:|\n")
    for label, _, per_seed in s["rows"]:
        dev_mean, _ = mean_std(column(per_seed, "dev"))
        val_mean, _ = mean_std(column(per_seed, "validation"))
        tests = column(per_seed, "test")
        out.write(f"| {label} | {fmt(dev_mean)} | {fmt(val_mean)} | {fmt_mean_std(tests)} | {fmt_range(tests)} |\n")
    returned = s["returned"]
    dev_mean, _ = mean_std(column(returned, "dev"))
    val_mean, _ = mean_std(column(returned, "validation"))
    out.write("\n")
    out.write(f"- returned adapter: mean dev {fmt(dev_mean)} %, mean validation {fmt(val_mean)} %; "
              f"dev→test gap {fmt_mean_std(s['gaps'])} points\n")
    out.write(f"- beats the best expert and the uniform average on test by ≥ {MARGIN:.0f} points: "
              f"{s['wins']}/{n} seeds\n")
    if s["sources"]:
        out.write("- returned adapter's source: " +
                  ", ".join(f"{k} {v}" for k, v in sorted(s["sources"].items())) + "\n")
    warned = s["warned"]
    out.write(f"- report warning: {len(warned)}/{n} seeds")
    if warned:
        out.write(f" (seed {warned[0][0]}: \"{warned[0][1][0]}\")")
    out.write("\n\n")


def summary_line(summaries):
    """The issue's criterion: ≥ 5-point wins in ≥ 4 of 5 seeds (80 %) on the targets; the control warned."""
    tasks = [s for s in summaries if s["target"] != CONTROL]
    needed = {s["target"]: math.ceil(0.8 * len(s["seeds"])) for s in tasks}
    winning = [s["target"] for s in tasks if s["wins"] >= needed[s["target"]]]
    text = (f"**Summary**: the returned adapter beats the best expert and the uniform average by ≥ {MARGIN:.0f} test "
            f"points in ≥ 80 % of the seeds on {len(winning)} of {len(tasks)} targets"
            + (f" ({', '.join(winning)})" if winning else ""))
    control = next((s for s in summaries if s["target"] == CONTROL), None)
    if control:
        tests = column(control["returned"], "test")
        text += (f"; control: returned adapter {fmt_mean_std(tests)} % on test (chance 25 %), "
                 f"report warning in {len(control['warned'])}/{len(control['seeds'])} seeds")
    return text + "."


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="quality.sh's --out directory")
    parser.add_argument("--json", help="also write the per-target numbers to this file")
    args = parser.parse_args()
    suite_path = os.path.join(args.out, "suite.json")
    suite = json.load(open(suite_path)) if os.path.isfile(suite_path) else None
    runs = load_runs(args.out, suite)
    if not runs:
        sys.exit(f"quality_table.py: no {args.out}/<target>/seed-<S>/report.json found")
    summaries = [target_summary(target, target_runs) for target, target_runs in runs.items()]

    out = sys.stdout
    out.write("## Search-quality suite\n\n")
    if suite:
        total = suite.get("total_time_s")
        out.write(f"commit {suite.get('commit', '?')}, {suite.get('started', '?')}; template {suite.get('template', '?')}; "
                  f"--set {' '.join(suite.get('sets') or []) or '(none)'}; "
                  f"total {fmt(total / 60 if isinstance(total, (int, float)) else None)} min\n\n")
    search = summaries[0]["search"]
    if search:
        out.write("search: " + ", ".join(f"{k} {json.dumps(v)}" for k, v in sorted(search.items()) if k != "seed") + "\n\n")
    for s in summaries:
        print_target(s, out)
    out.write(summary_line(summaries) + "\n")

    if args.json:
        def mean_of(rows_seeds, key):
            return mean_std(column(rows_seeds, key))[0]
        document = {"suite": suite, "summary": summary_line(summaries), "targets": [{
            "target": s["target"], "seeds": s["seeds"], "wins": s["wins"],
            "warnings": len(s["warned"]), "dev_test_gap": mean_std(s["gaps"])[0],
            "rows": [{"adapter": label.strip("*"), "kind": kind, "dev": mean_of(p, "dev"),
                      "validation": mean_of(p, "validation"), "test": mean_std(column(p, "test"))[0],
                      "test_std": mean_std(column(p, "test"))[1], "test_per_seed": column(p, "test")}
                     for label, kind, p in s["rows"]],
        } for s in summaries]}
        with open(args.json, "w") as f:
            json.dump(document, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
