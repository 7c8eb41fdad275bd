#!/usr/bin/env bash
# The main job: builds `wts`, trains the embedded world if it is missing (tokenizers and the tiny model zoo of
# the three synthetic tasks, into $WTS_ZOO_DIR or ~/.cache/weak-to-strong/zoo), runs every experiment in
# experiments/*.yaml and writes results/: per experiment the generations, CSV tables and figures, and
# results/README.md with the summary tables and the figures inline.
#   ./run-all.sh           full zoo and configs (about 19 minutes on 2 idle CPU cores; README.md has the measured times)
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

# What a black-box config's run was generated against: the SHA-256 of the served model's files, in one line.
served_model_digest() {
  local task
  task=$(sed -n 's/^task: *\([a-z]*\).*/\1/p' "$1")
  (cd "$zoo/$task${quick[*]:+-quick}/base-large" && sha256sum -- * | sha256sum | cut -d' ' -f1)
}

# A run is generated in $shards processes side by side, each on one TorchSharp thread (prompt p in shard p mod $shards),
# then merged and tabulated: the search's tiny forward passes leave a second thread of one process mostly waiting, so
# shards keep every core busy (2 cores: 21 s against 33 s for results/sentiment's first 20 prompts; every response the
# same). Shard logs stay beside the merged run for --resume and are not committed (.gitignore). A run generated whole
# (no shard logs: committed results, or a run from before) is resumed whole, as is a sharded one sharded.
shards="${WTS_SHARDS:-$(( $(nproc) < 4 ? $(nproc) : 4 ))}"
# A shard or client stopped (TERM) loses at most the batch in flight: the next run-all resumes it.
client=
stop_client() { if [[ -n "$client" ]]; then kill "$client" 2> /dev/null || true; wait "$client" 2> /dev/null || true; client=; fi; }
shard_pids=()
stop_shards() {
  local pid
  for pid in "${shard_pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${shard_pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  shard_pids=()
}
# generate CONFIG RUN N THREADS: N shards (1: the run whole, on THREADS TorchSharp threads; 0 = wts's default).
generate() {
  local config=$1 run=$2 n=$3 threads=$4 name i pid failed=0
  name=$(basename "$run")
  if compgen -G "$run/manifest.shard-*.json" > /dev/null; then n=$shards; fi
  if [[ "$n" -le 1 ]] || { [[ -f "$run/manifest.json" ]] && ! compgen -G "$run/manifest.shard-*.json" > /dev/null; }; then
    if [[ "$threads" -eq 0 ]]; then
      wts run "$config" "${quick[@]}" --output "$run" --resume
    else
      # In the black-box lane: plain progress lines, marked with the run; in the background, so that the lane's TERM stops it at once.
      dotnet "$wts_dll" run "$config" "${quick[@]}" --output "$run" --resume --threads "$threads" > /dev/null 2> >(sed -u "s|^|[$name] |" >&2) &
      client=$!
      wait "$client"
      client=
    fi
    return
  fi
  shard_pids=()
  for ((i = 0; i < n; i++)); do
    # Not a terminal, so each shard writes plain progress lines, marked with its run and shard. dotnet itself in the
    # background, not the wts function: $! must be the shard's process, which stop_shards stops.
    dotnet "$wts_dll" run "$config" "${quick[@]}" --output "$run" --resume --shard "$i/$n" --threads 1 > /dev/null 2> >(sed -u "s|^|[$name $i/$n] |" >&2) &
    shard_pids+=($!)
  done
  for pid in "${shard_pids[@]}"; do wait "$pid" || failed=$?; done
  shard_pids=()
  if [[ "$failed" -ne 0 ]]; then echo "run-all: a shard of $config failed (exit $failed); ./run-all.sh again resumes it" >&2; exit "$failed"; fi
  wts merge "$run"   # and the tables and figures
}

# The black-box runs, one after another: each whole, on one thread, beside its server on one thread. Client and server
# take turns (the search waits for its chunks), so this lane keeps about one core busy and runs beside the other runs'
# shards: 2 cores sat a third idle while blackbox-sentiment's two shards shared one server (57 s wall, 78 s CPU).
blackbox_lane() {
  local config run
  for config in "$@"; do
    run="$results/$(basename "$config" .yaml)"
    start_server "$config"
    # Recorded before generating, so that an interrupted run is resumed, not redone; beside the run until it is
    # finished (`wts run` takes no foreign file into a new run directory), then inside it.
    served_model_digest "$config" > "$run.served-model.sha256"
    generate "$config" "$run" 1 1
    mv "$run.served-model.sha256" "$run/served-model.sha256"
    stop_server
  done
}

lane=
stop_lane() { if [[ -n "$lane" ]]; then kill "$lane" 2> /dev/null || true; wait "$lane" 2> /dev/null || true; lane=; fi; }
# Ctrl+C or a kill stops every process run-all started (background ones ignore the terminal's SIGINT), then exits.
trap 'stop_client; stop_shards; stop_lane; stop_server' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$SECONDS
wts zoo build "${quick[@]}"
runs=() blackbox=() whitebox=()
for config in experiments/*.yaml; do
  name=$(basename "$config" .yaml)
  run="$results/$name"
  served=
  if [[ "$name" == blackbox-* ]]; then served=$(served_model_digest "$config"); blackbox+=("$config"); else whitebox+=("$config"); fi
  if [[ -f "$run/manifest.json" ]] || compgen -G "$run/manifest.shard-*.json" > /dev/null; then
    changed=$(wts changed-models "$run")
    # The run knows its API model only by URL; the weights behind it are the ones run-all served, recorded in the run
    # (beside it while it is unfinished).
    record="$run/served-model.sha256"
    if [[ ! -f "$record" && -f "$run.served-model.sha256" ]]; then record="$run.served-model.sha256"; fi
    if [[ -n "$served" && "$(cat "$record" 2> /dev/null)" != "$served" ]]; then
      changed+="${changed:+$'\n'}the model behind wts serve is not the one the run was generated against (its files' SHA-256 is not $record)"
    fi
    if [[ -n "$changed" ]]; then
      previous="$run.previous-$(date -u +%Y%m%dT%H%M%SZ)"
      echo "run-all: $run was generated by other weights than the zoo here:" >&2
      sed 's/^/  /' <<< "$changed" >&2
      mv "$run" "$previous"
      if [[ "$record" == "$run.served-model.sha256" ]]; then mv "$record" "$previous/served-model.sha256"; fi
      echo "run-all: moved it to $previous; generating $run again" >&2
    fi
  fi
  runs+=("$run")
done

# With more than one core the black-box lane runs beside the others (a second lane on one core would only wait).
if [[ "$shards" -gt 1 && ${#blackbox[@]} -gt 0 ]]; then
  (
    trap 'stop_client; stop_shards; stop_server' EXIT
    trap 'exit 143' TERM
    blackbox_lane "${blackbox[@]}"
  ) &
  lane=$!
fi
for config in "${whitebox[@]}"; do generate "$config" "$results/$(basename "$config" .yaml)" "$shards" 0; done
if [[ -n "$lane" ]]; then
  status=0
  wait "$lane" || status=$?
  lane=
  if [[ "$status" -ne 0 ]]; then echo "run-all: the black-box runs failed (exit $status); ./run-all.sh again resumes them" >&2; exit "$status"; fi
elif [[ ${#blackbox[@]} -gt 0 ]]; then
  blackbox_lane "${blackbox[@]}"
fi
wts report "${runs[@]}" --out "$results/README.md"
echo "run-all: done in $((SECONDS - start)) s; see $results/README.md"
