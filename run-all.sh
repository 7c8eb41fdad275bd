#!/usr/bin/env bash
# The main job. Today: builds the CLI, checks the model stack end to end on the committed HF-format
# fixtures (log-probs and a reward through `wts`), and prints the forward-pass benchmark table.
# The experiment harness (YAML experiments → CSV tables and figures under results/) replaces this body.
set -euo pipefail
cd "$(dirname "$0")"
dotnet build src/WeakToStrong.Cli -c Release -v quiet -nologo
wts() { dotnet src/WeakToStrong.Cli/bin/Release/net10.0/wts.dll "$@"; }

echo "== per-token log-probs, GPT-2 fixture (tests/fixtures/gpt2-tied)"
wts logprobs --model tests/fixtures/gpt2-tied --ids 5,17,42,7,99,3 --json
echo "== DistilBERT classifier as a reward (tests/fixtures/distilbert-cls)"
wts reward --model tests/fixtures/distilbert-cls --text "a good film"
echo "== forward benchmark: random GPT-2-small weights, fp32, 2 threads"
wts bench forward --random gpt2-small --threads 2 --batch-sizes 1,16 --repeats 2 --memory-steps 1000
