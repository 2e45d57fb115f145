#!/usr/bin/env bash
# The search-quality suite (docs/QUALITY.md): Model Swarms over the committed demo's six experts
# (demo/) on the suite's target quizzes, one search per target and seed, then one table per
# target (scripts/quality_table.py): each expert, the uniform average, the merge baselines and the
# returned adapter on test (mean ± std and min–max over seeds), dev→test gap, wins, warnings.
#
#   bash scripts/quality.sh [--seeds 5] [--targets all|NAME,NAME] [--out runs/quality]
#                           [--set KEY=VALUE ...] [--template configs/quality/task.json]
#                           [--build-dir build] [--no-build] [--data DIR]
#
# --set changes the task config of every run, KEY a dotted path (search.inertia=0.2,
#   search.patience=1000, utility.data.dev_size=100); VALUE is read as JSON, else as a string.
# --seeds N runs seeds 1..N; seed S is the search seed and the data split's seed.
# --data DIR takes the target files from DIR instead of generating them (make_demo
#   --quality-targets) into BUILD_DIR/quality/data; --no-build skips `cmake --build`.
# Writes OUT/configs/<target>-seed-S.json, OUT/<target>/seed-S/ (the run directory: report.json,
# report.html, best/...), OUT/<target>/seed-S.{json,stderr} (--json summary, log), OUT/suite.json
# and OUT/table.md (what is printed). OUT's earlier runs of the same targets and seeds are replaced.
# Paths given on the command line are relative to the current directory; the defaults to the
# repository root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

seeds=5
targets=all
out=$root/runs/quality
template=$root/configs/quality/task.json
build_dir=$(cd "$root" && absolute "${MODELSWARM_BUILD_DIR:-build}")
build=1
data=
sets=()
python=${PYTHON:-python3}
all_targets=(capital-currency-2000 currency-language-2000 capital-1900-language-2000 all-2000 control)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    --out) out=$(absolute "$2"); shift 2 ;;
    --set) sets+=("$2"); shift 2 ;;
    --template) template=$(absolute "$2"); shift 2 ;;
    --build-dir) build_dir=$(absolute "$2"); shift 2 ;;
    --no-build) build=0; shift ;;
    --data) data=$(absolute "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "quality.sh: unknown argument '$1' (--help lists them)" >&2; exit 2 ;;
  esac
done
[[ "$seeds" =~ ^[1-9][0-9]*$ ]] || { echo "quality.sh: --seeds must be a positive integer, got '$seeds'" >&2; exit 2; }
if [ "$targets" = all ]; then targets=$(IFS=,; echo "${all_targets[*]}"); fi
IFS=, read -r -a target_list <<< "$targets"
for t in "${target_list[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "quality.sh: unknown target '$t' (one of: ${all_targets[*]})" >&2; exit 2; }
done
for s in "${sets[@]+"${sets[@]}"}"; do
  [[ "$s" == *=* ]] || { echo "quality.sh: --set expects KEY=VALUE, got '$s'" >&2; exit 2; }
done
cd "$root"
mkdir -p "$out"

if [ "$build" = 1 ]; then
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then  # a fresh checkout: configure as scripts/build.sh does
    generator=()
    if command -v ninja > /dev/null; then generator=(-G Ninja); fi
    cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release > /dev/null
  fi
  cmake --build "$build_dir" --target modelswarm make_demo >&2
fi
modelswarm=$build_dir/modelswarm
[ -x "$modelswarm" ] || { echo "quality.sh: $modelswarm is missing (build it, or drop --no-build)" >&2; exit 1; }
if [ -z "$data" ]; then
  data=$build_dir/quality/data
  "$build_dir/make_demo" --quality-targets "$data" > /dev/null
fi

# One task config per target × seed: the template with absolute paths, the target's data, the
# seed (search and data split) and the --set overrides.
"$python" - "$template" "$data" "$out" "$seeds" "${target_list[*]}" "${sets[@]+"${sets[@]}"}" <<'EOF'
import json, os, sys
template, data, out, seeds, targets, sets = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5].split(), sys.argv[6:]
base = json.load(open(template))
here = os.path.dirname(template)
absolute = lambda p: os.path.normpath(os.path.join(here, p))
base["base_model"] = absolute(base["base_model"])
base["experts"] = [absolute(e) for e in base["experts"]]
overrides = []
for s in sets:
    key, value = s.split("=", 1)
    try:
        value = json.loads(value)
    except ValueError:
        pass
    overrides.append((key.split("."), value))
os.makedirs(os.path.join(out, "configs"), exist_ok=True)
for target in targets:
    path = os.path.join(data, target + ".jsonl")
    if not os.path.isfile(path):
        sys.exit(f"quality.sh: {path} is missing")
    for seed in range(1, seeds + 1):
        config = json.loads(json.dumps(base))
        config["utility"]["data"]["path"] = path
        config["utility"]["data"]["seed"] = seed
        config.setdefault("search", {})["seed"] = seed
        config.setdefault("output", {})["dir"] = os.path.join(out, target, f"seed-{seed}")
        for keys, value in overrides:
            node = config
            for k in keys[:-1]:
                node = node.setdefault(k, {})
            node[keys[-1]] = value
        with open(os.path.join(out, "configs", f"{target}-seed-{seed}.json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
EOF

# A bad template or --set fails here, before any search.
"$modelswarm" -q search --config "$out/configs/${target_list[0]}-seed-1.json" --validate-only > /dev/null

commit=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
write_suite() {  # OUT/suite.json: what was run, for the table's header
  "$python" - "$out/suite.json" "$seeds" "${template#"$root"/}" "$commit" "$started" "$1" "${target_list[*]}" \
    "${sets[@]+"${sets[@]}"}" <<'EOF'
import json, sys
path, seeds, template, commit, started, total, targets, sets = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7].split(), sys.argv[8:]
suite = {"targets": targets, "seeds": list(range(1, seeds + 1)), "sets": sets, "template": template,
         "commit": commit, "started": started, "total_time_s": float(total) if total else None}
with open(path, "w") as f:
    json.dump(suite, f, indent=2)
    f.write("\n")
EOF
}
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
write_suite ""
start=$SECONDS
runs=$(( ${#target_list[@]} * seeds ))
n=0
for t in "${target_list[@]}"; do
  for ((s = 1; s <= seeds; s++)); do
    n=$((n + 1))
    run="$out/$t/seed-$s"
    rm -rf "$run"
    mkdir -p "$out/$t"
    t0=$SECONDS
    if ! "$modelswarm" -q search --config "$out/configs/$t-seed-$s.json" --seed "$s" --json \
        > "$run.json" 2> "$run.stderr"; then
      echo "quality.sh: the search for $t seed $s failed; its log:" >&2
      tail -n 20 "$run.stderr" >&2
      exit 1
    fi
    echo "[$n/$runs] $t seed $s: $((SECONDS - t0)) s" >&2
  done
done
write_suite $((SECONDS - start))
echo "quality.sh: $runs searches in $((SECONDS - start)) s" >&2
"$python" scripts/quality_table.py "$out" | tee "$out/table.md"
