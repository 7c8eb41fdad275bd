#!/usr/bin/env bash
# The main job: builds `wts`, trains the embedded world if it is missing (tokenizers and the tiny model zoo of
# the three synthetic tasks, into $WTS_ZOO_DIR or ~/.cache/weak-to-strong/zoo), runs every experiment in
# experiments/*.yaml and writes results/: per experiment the generations, CSV tables and figures, and
# results/README.md with the summary tables and the figures inline.
#   ./run-all.sh           full zoo and configs (about 30 minutes on 2 CPU cores)
#   ./run-all.sh --quick   quick zoo, 12 prompts, first seed, into results/quick/ (a smoke run of a few minutes)
# Interrupted? Run it again: finished runs are kept and unfinished ones resume where they stopped.
set -euo pipefail
cd "$(dirname "$0")"
quick=()
results=results
if [[ "${1:-}" == "--quick" ]]; then quick=(--quick); results=results/quick; fi
dotnet build src/WeakToStrong.Cli -c Release -v quiet -nologo
wts() { dotnet src/WeakToStrong.Cli/bin/Release/net10.0/wts.dll "$@"; }

start=$SECONDS
wts zoo build "${quick[@]}"
runs=()
for config in experiments/*.yaml; do
  name=$(basename "$config" .yaml)
  wts run "$config" "${quick[@]}" --output "$results/$name" --resume
  runs+=("$results/$name")
done
wts report "${runs[@]}" --out "$results/README.md"
echo "run-all: done in $((SECONDS - start)) s; see $results/README.md"
