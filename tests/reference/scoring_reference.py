#!/usr/bin/python3
"""Golden implicit values for tests/fixtures/scoring/cases.json, computed as the paper's reference implementation scores
a response (github.com/ZHZisZZ/weak-to-strong-search at 4767768: SFTDataMapFunc and get_batch_logps in
src/inference_time_alignment/utils.py, used by scorers.py), re-derived here in plain PyTorch.

Usage (from the repository root):
  /usr/bin/python3 tests/reference/scoring_reference.py                  # rewrites tests/fixtures/scoring/goldens.json
  /usr/bin/python3 tests/reference/scoring_reference.py --output F.json  # writes elsewhere (the C# live test does this)

Needs Debian's python3-torch and numpy, node, and `npm ci` in tests/reference/tokenizers. Nothing of ours computes a
number here: token ids come from @huggingface/transformers (tokenizers/tokenize.mjs), logits from hf_reference.py.

For each case and each model of the small pair (tuned pi*, untuned pi_ref), with that model's prompt template:
  prompt      = template.format(raw_prompt=raw_prompt)
  prompt_ids  = tokenize(prompt)             (add_special_tokens = false)
  ids         = tokenize(prompt + response)  (add_special_tokens = false), then + [eos_token_id] if the response finished
  L           = length of the longest common prefix of prompt_ids and ids
  logprob     = sum over i >= max(L, 1) of log softmax(logits[i - 1])[ids[i]]
The reference masks the first L labels with -100 and then shifts labels against logits by one, so label 0 is never
scored: that is the max(L, 1). Its batches are right-padded, which changes nothing for a causal model's real positions,
so each sequence runs alone here. The implicit value is logprob(tuned) - logprob(untuned).

Logits come from the fp16 weights upcast to float64, and log-softmax and sums are float64. The same sums from an fp32
forward are printed next to them, to show how much of the C# tests' 1e-4 an exact fp32 implementation uses.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep tests/reference free of __pycache__
sys.path.insert(0, HERE)
import hf_reference as ref  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SCORING = os.path.join(ROOT, "tests", "fixtures", "scoring")
TOKENIZE_SCRIPT = os.path.join(HERE, "tokenizers", "tokenize.mjs")

torch.set_num_threads(1)  # reduction order independent of the machine


def transformers_js_ids(texts_by_directory: dict) -> dict:
    """{directory: [text]} -> (generator, {directory: {"eos_token_id", "ids"}}) from transformers.js."""
    if not os.path.isdir(os.path.join(HERE, "node_modules", "@huggingface", "transformers")):
        sys.exit("tests/reference/node_modules is missing: run `npm ci` in tests/reference")
    # The directories are relative to the repository root (so that no machine's path lands in the goldens).
    run = subprocess.run(["node", TOKENIZE_SCRIPT], input=json.dumps(texts_by_directory).encode("utf-8"),
                         capture_output=True, check=False, cwd=ROOT)
    if run.returncode != 0:
        sys.exit(f"tokenize.mjs failed ({run.returncode}): {run.stderr.decode('utf-8', 'replace')}")
    answer = json.loads(run.stdout.decode("utf-8"))
    return answer["generator"], answer["tokenizers"]


def common_prefix_length(a, b):
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return n


def scored_logprob(logits, ids, prompt_len):
    """The reference's sum: labels before prompt_len masked, then labels[1:] scored against logits[:-1]."""
    labels = torch.tensor(ids)
    masked = torch.zeros(len(ids), dtype=torch.bool)
    masked[:prompt_len] = True
    labels, masked = labels[1:], masked[1:]  # position 0 has nothing before it: never scored
    per_token = logits[:-1].log_softmax(-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return per_token[~masked].sum().item()


class Models:
    """Each model directory loaded once, in float64 (goldens) and float32 (for the fp32 comparison)."""

    def __init__(self):
        self.loaded = {}

    def logits(self, name, ids, dtype):
        key = (name, dtype)
        if key not in self.loaded:
            self.loaded[key] = ref.load_model_dir(os.path.join(SCORING, name), dtype)
        cfg, sd = self.loaded[key]
        assert len(ids) <= (cfg.get("n_positions") or cfg["max_position_embeddings"]), (name, len(ids))
        with torch.no_grad():
            return ref.forward_logits(sd, cfg, torch.tensor([ids]))[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=os.path.join(SCORING, "cases.json"))
    parser.add_argument("--output", default=os.path.join(SCORING, "goldens.json"))
    args = parser.parse_args()
    with open(args.cases, encoding="utf-8") as f:
        groups = json.load(f)["groups"]

    # Every text each model's tokenizer must encode, in one node run.
    def directory(name):
        return os.path.relpath(os.path.join(SCORING, name), ROOT)

    def texts(group, role):
        template = group[f"{role}_template"]
        for case in group["cases"]:
            prompt = template.format(raw_prompt=case["prompt"])  # the reference fills templates with str.format
            yield prompt
            yield prompt + case["response"]

    request = {}
    for group in groups:
        for role in ("tuned", "untuned"):
            request.setdefault(directory(group[role]), []).extend(texts(group, role))
    generator, tokenized = transformers_js_ids(request)
    cursor = {d: 0 for d in tokenized}

    def next_ids(d):
        ids = tokenized[d]["ids"][cursor[d]]
        cursor[d] += 1
        return ids

    models = Models()
    out_groups = []
    fp32_gap = 0.0
    controls = {"no EOS on finished responses": 0, "split at len(prompt_ids) instead of the common prefix": 0}
    for group in groups:
        out_cases = []
        per_role_ids = {}
        for role in ("tuned", "untuned"):
            d = directory(group[role])
            per_role_ids[role] = [(next_ids(d), next_ids(d)) for _ in group["cases"]]
        for i, case in enumerate(group["cases"]):
            row = {"prompt": case["prompt"], "response": case["response"], "finished": case["finished"]}
            for role in ("tuned", "untuned"):
                d = directory(group[role])
                prompt_ids, ids = per_role_ids[role][i]
                ids = list(ids)
                if case["finished"]:
                    ids.append(tokenized[d]["eos_token_id"])
                split = common_prefix_length(prompt_ids, ids)
                logits64 = models.logits(group[role], ids, torch.float64)
                logprob = scored_logprob(logits64, ids, split)
                logprob32 = scored_logprob(models.logits(group[role], ids, torch.float32).double(), ids, split)
                fp32_gap = max(fp32_gap, abs(logprob32 - logprob))
                # Plausible mistakes must move the value, or these goldens could not catch them.
                if case["finished"] and abs(scored_logprob(logits64[:-1], ids[:-1], split) - logprob) > 1e-3:
                    controls["no EOS on finished responses"] += 1
                if split != len(prompt_ids) and abs(scored_logprob(logits64, ids, len(prompt_ids)) - logprob) > 1e-3:
                    controls["split at len(prompt_ids) instead of the common prefix"] += 1
                row[role] = {"prompt_ids": prompt_ids, "ids": ids, "common_prefix": split, "scored_from": max(split, 1),
                             "logprob": logprob}
            row["implicit_value"] = row["tuned"]["logprob"] - row["untuned"]["logprob"]
            out_cases.append(row)
        out_groups.append({key: group[key] for key in ("name", "tuned", "untuned", "tuned_template", "untuned_template")}
                          | {"cases": out_cases})
    assert all(cursor[d] == len(tokenized[d]["ids"]) for d in tokenized)
    assert fp32_gap < 1e-4, fp32_gap
    for control, caught in controls.items():
        assert caught > 0, f"no case catches: {control}"

    # One case per line keeps the file diffable.
    lines = ["{", f'  "generator": {json.dumps("tests/reference/scoring_reference.py; token ids from " + generator)},',
             f'  "note": {json.dumps(NOTE)},', '  "groups": [']
    for g, group in enumerate(out_groups):
        head = {k: v for k, v in group.items() if k != "cases"}
        lines.append("    " + json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": [')
        for c, case in enumerate(group["cases"]):
            lines.append("      " + json.dumps(case, ensure_ascii=False) + ("," if c < len(group["cases"]) - 1 else ""))
        lines.append("    ]}" + ("," if g < len(out_groups) - 1 else ""))
    lines += ["  ]", "}", ""]
    with open(args.output, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))

    n = sum(len(g["cases"]) for g in out_groups)
    values = [c["implicit_value"] for g in out_groups for c in g["cases"]]
    print(f"wrote {args.output}: {len(out_groups)} groups, {n} cases; implicit values {min(values):.3f} .. {max(values):.3f}")
    print(f"fp32 forward vs float64: max |logprob difference| {fp32_gap:.2e}")
    print("negative controls (model scores that move by > 1e-3 when deliberately wrong): "
          + ", ".join(f"{k}: {v}" for k, v in controls.items()))


NOTE = ("Per case and model: prompt_ids = tokens of the templated prompt; ids = tokens of prompt + response, with the EOS "
        "appended when finished; common_prefix = the length of their longest common prefix (the reference's prompt_len); "
        "scored_from = max(common_prefix, 1); logprob = sum of log p(ids[i] | ids[<i]) "
        "for i >= scored_from (float64 from the fp16 weights). implicit_value = tuned.logprob - untuned.logprob.")

if __name__ == "__main__":
    main()
