#!/usr/bin/env bash
# The main job: builds `wts`, trains the embedded world (tokenizers and the tiny model zoo for the three
# synthetic tasks; only what is missing, into $WTS_ZOO_DIR or ~/.cache/weak-to-strong/zoo), then prints the
# checks that show the paper's shape: base models improve with size, the gold evaluators are accurate, the
# tuned small model beats the untuned one, and weak-to-strong search (CBS 4,4,5 on the largest base, guided by
# the small pair) beats both sampling that base and sampling the small tuned model.
# Pass --quick for the two-minute zoo. The YAML experiment harness (CSV tables and figures) comes next.
set -euo pipefail
cd "$(dirname "$0")"
quick=()
[[ "${1:-}" == "--quick" ]] && quick=(--quick)
dotnet build src/WeakToStrong.Cli -c Release -v quiet -nologo
wts() { dotnet src/WeakToStrong.Cli/bin/Release/net10.0/wts.dll "$@"; }

wts zoo build "${quick[@]}"
wts zoo check "${quick[@]}" --prompts 100
