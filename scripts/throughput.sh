#!/usr/bin/env bash
# Dev-set throughput of every example utility (configs/examples/*.json) on the converted
# stories260K and its experts (run scripts/stories_demo.sh first): `modelswarm eval --split dev` on each,
# printing the examples scored per second per particle that eval measures (dev examples × models
# scored / seconds spent scoring), and the load average, since the figures depend on it.
set -euo pipefail
cd "$(dirname "$0")/.."
for f in build/stories260K/model.safetensors build/stories260K-experts/expert3/adapter_model.safetensors \
         build/stories260K-reward/model.safetensors; do
  [ -f "$f" ] || { echo "throughput: $f not found (run scripts/stories_demo.sh first)"; exit 1; }
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s %8s %7s %10s %20s\n' utility examples models seconds "examples/s/particle"
for config in configs/examples/*.json; do
  # eval's last line: "dev: 5 models x 20 examples scored in 1.23 s (81.30 examples/s per particle)"
  build/modelswarm -q eval --config "$config" --split dev | grep '^dev: ' |
    awk -v name="$(basename "$config" .json)" \
      '{ sub(/\(/, "", $11); printf "%-16s %8s %7s %10s %20s\n", name, $5, $2, $9, $11 }'
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
