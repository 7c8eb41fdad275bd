#!/usr/bin/env bash
# The main job: builds `wts`, trains the embedded world if it is missing (tokenizers and the tiny model zoo of
# the three synthetic tasks, into $WTS_ZOO_DIR or ~/.cache/weak-to-strong/zoo), runs every experiment in
# experiments/*.yaml and writes results/: per experiment the generations, CSV tables and figures, and
# results/README.md with the summary tables and the figures inline.
#   ./run-all.sh           full zoo and configs (about 20 minutes on 2 idle CPU cores; README.md has the measured times)
#   ./run-all.sh --quick   quick zoo, 12 prompts, first seed, into results/quick/ (a smoke run of a few minutes)
# Interrupted? Run it again: finished runs are kept and unfinished ones resume where they stopped. A run made by other
# weights than the zoo here (the committed results on a new machine, or after a zoo rebuild) is moved aside to
# results/NAME.previous-DATE and generated again: one run never mixes generations of two sets of weights.
set -euo pipefail
cd "$(dirname "$0")"
quick=()
results=results
if [[ "${1:-}" == "--quick" ]]; then quick=(--quick); results=results/quick; fi
dotnet build src/WeakToStrong.Cli -c Release -v quiet -nologo
wts_dll=src/WeakToStrong.Cli/bin/Release/net10.0/wts.dll
wts() { dotnet "$wts_dll" "$@"; }

# A black-box config (experiments/blackbox-TASK.yaml) searches TASK's base-large only through the completions API:
# `wts serve` runs it on the loopback port the config's base_url names, for that config's run, and stops after it.
zoo="${WTS_ZOO_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/weak-to-strong/zoo}"
server=
stop_server() { if [[ -n "$server" ]]; then kill "$server" 2> /dev/null || true; wait "$server" 2> /dev/null || true; server=; fi; }
trap stop_server EXIT
start_server() {
  local config=$1 task port log
  task=$(sed -n 's/^task: *\([a-z]*\).*/\1/p' "$config")
  port=$(sed -n 's|.*base_url: *"http://127\.0\.0\.1:\([0-9]*\)/v1".*|\1|p' "$config" | head -1)
  log=$(mktemp "${TMPDIR:-/tmp}/wts-serve-$task.XXXXXX.log")
  # dotnet itself in the background, not the wts function: $! must be the server's process, which stop_server kills.
  dotnet "$wts_dll" serve --model "$zoo/$task${quick[*]:+-quick}/base-large" --served-model-name base-large --port "$port" 2> "$log" &
  server=$!
  for _ in $(seq 1200); do   # up to 2 minutes to load the model and bind
    if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then echo "run-all: wts serve of $task's base-large on port $port (log: $log)"; return; fi
    if ! kill -0 "$server" 2> /dev/null; then echo "run-all: wts serve for $config did not start:" >&2; tail -n 3 "$log" >&2; exit 3; fi
    sleep 0.1
  done
  echo "run-all: wts serve for $config is not listening on port $port after 2 minutes (log: $log)" >&2
  exit 3
}

# A run is generated in $shards processes side by side, each on one TorchSharp thread (prompt p in shard p mod $shards),
# then merged and tabulated: the search's tiny forward passes leave a second thread of one process mostly waiting, so
# shards keep every core busy (2 cores: 21 s against 33 s for results/sentiment's first 20 prompts; every response the
# same). Shard logs stay beside the merged run for --resume and are not committed (.gitignore). A run generated whole
# (no shard logs: committed results, or a run from before) is resumed whole.
shards="${WTS_SHARDS:-$(( $(nproc) < 4 ? $(nproc) : 4 ))}"
generate() {
  local config=$1 run=$2 i pids=() failed=0
  if [[ "$shards" -le 1 ]] || { [[ -f "$run/manifest.json" ]] && ! compgen -G "$run/manifest.shard-*.json" > /dev/null; }; then
    wts run "$config" "${quick[@]}" --output "$run" --resume
    return
  fi
  for ((i = 0; i < shards; i++)); do
    # Not a terminal, so each shard writes plain progress lines, marked with its shard.
    wts run "$config" "${quick[@]}" --output "$run" --resume --shard "$i/$shards" --threads 1 > /dev/null 2> >(sed -u "s|^|[shard $i/$shards] |" >&2) &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=$?; done
  if [[ "$failed" -ne 0 ]]; then echo "run-all: a shard of $config failed (exit $failed); ./run-all.sh again resumes it" >&2; exit "$failed"; fi
  wts merge "$run"   # and the tables and figures
}

# What a black-box config's run was generated against: the SHA-256 of the served model's files, in one line.
served_model_digest() {
  local task
  task=$(sed -n 's/^task: *\([a-z]*\).*/\1/p' "$1")
  (cd "$zoo/$task${quick[*]:+-quick}/base-large" && sha256sum -- * | sha256sum | cut -d' ' -f1)
}

start=$SECONDS
wts zoo build "${quick[@]}"
runs=()
for config in experiments/*.yaml; do
  name=$(basename "$config" .yaml)
  run="$results/$name"
  served=
  if [[ "$name" == blackbox-* ]]; then start_server "$config"; served=$(served_model_digest "$config"); fi
  if [[ -f "$run/manifest.json" ]] || compgen -G "$run/manifest.shard-*.json" > /dev/null; then
    changed=$(wts changed-models "$run")
    # The run knows its API model only by URL; the weights behind it are the ones run-all served, recorded beside the run.
    if [[ -n "$served" && "$(cat "$run/served-model.sha256" 2> /dev/null)" != "$served" ]]; then
      changed+="${changed:+$'\n'}the model behind wts serve is not the one the run was generated against (its files' SHA-256 is not $run/served-model.sha256)"
    fi
    if [[ -n "$changed" ]]; then
      previous="$run.previous-$(date -u +%Y%m%dT%H%M%SZ)"
      echo "run-all: $run was generated by other weights than the zoo here:" >&2
      sed 's/^/  /' <<< "$changed" >&2
      mv "$run" "$previous"
      echo "run-all: moved it to $previous; generating $run again" >&2
    fi
  fi
  generate "$config" "$run"
  if [[ -n "$served" ]]; then echo "$served" > "$run/served-model.sha256"; fi
  stop_server
  runs+=("$run")
done
wts report "${runs[@]}" --out "$results/README.md"
echo "run-all: done in $((SECONDS - start)) s; see $results/README.md"
