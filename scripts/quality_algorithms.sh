#!/usr/bin/env bash
# The search algorithms side by side on the search-quality suite (docs/QUALITY.md, "Search
# algorithms"): scripts/quality.sh once per algorithm with the same targets, seeds, data splits
# and budget, then one comparison table (scripts/quality_compare.py).
#
#   bash scripts/quality_algorithms.sh [--algorithms all|NAME,NAME] [--out runs/quality-algorithms]
#                                      [quality.sh's options: --seeds, --targets, --set, ...]
#
# Same budget: every search runs all of search.max_iterations (patience is set above it), so each
# algorithm scores swarm_size × (max_iterations + 1) rows per run. --algorithms all asks the
# binary for its registered algorithms (modelswarm search --list-algorithms). Writes
# OUT/<algorithm>/ (quality.sh's --out for that algorithm) and OUT/compare.md (what is printed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

algorithms=all
out=$root/runs/quality-algorithms
build_dir=$(cd "$root" && absolute "${MODELSWARM_BUILD_DIR:-build}")
build=1
python=${PYTHON:-python3}
passed=()
while [ $# -gt 0 ]; do
  case "$1" in
    --algorithms) algorithms=$2; shift 2 ;;
    --out) out=$(absolute "$2"); shift 2 ;;
    --build-dir) build_dir=$(absolute "$2"); passed+=(--build-dir "$build_dir"); shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --seeds|--targets|--set|--template|--data) passed+=("$1" "$2"); shift 2 ;;
    *) echo "quality_algorithms.sh: unknown argument '$1' (--help lists them)" >&2; exit 2 ;;
  esac
done
cd "$root"
if [ "$build" = 1 ]; then  # as quality.sh does; its own runs below skip the build
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    generator=()
    if command -v ninja > /dev/null; then generator=(-G Ninja); fi
    cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release > /dev/null
  fi
  cmake --build "$build_dir" --target modelswarm make_demo >&2
fi
if [ "$algorithms" = all ]; then
  algorithms=$("$build_dir/modelswarm" search --list-algorithms | awk '{print $1}' | paste -sd, -)
fi
IFS=, read -r -a algorithm_list <<< "$algorithms"
# patience above max_iterations: the template's max_iterations, or a --set of it.
max_iterations=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["search"].get("max_iterations", 200))' \
  "$root/configs/quality/task.json")
for ((i = 0; i < ${#passed[@]}; i++)); do
  if [[ "${passed[$i]}" == --set && "${passed[$((i + 1))]}" == search.max_iterations=* ]]; then
    max_iterations=${passed[$((i + 1))]#search.max_iterations=}
  fi
done
start=$SECONDS
for algorithm in "${algorithm_list[@]}"; do
  echo "quality_algorithms.sh: $algorithm" >&2
  bash scripts/quality.sh --no-build "${passed[@]+"${passed[@]}"}" --out "$out/$algorithm" \
    --set "search.algorithm=$algorithm" --set "search.patience=$((max_iterations + 1))" > /dev/null
done
echo "quality_algorithms.sh: ${#algorithm_list[@]} algorithms in $((SECONDS - start)) s" >&2
"$python" scripts/quality_compare.py "${algorithm_list[@]/#/$out/}" | tee "$out/compare.md"
