#!/usr/bin/python3
"""Write the small model pairs that the scoring goldens are computed on (tests/fixtures/scoring/).

Usage (from the repository root):  /usr/bin/python3 tests/reference/make_scoring_fixtures.py [--out DIR]

Two tuned/untuned pairs with real vocabularies, so that scoring meets real tokenization:
  gpt2-tuned, gpt2-untuned    GPT2LMHeadModel, GPT-2's byte-level BPE (tests/fixtures/tokenizers/gpt2-json, 50257 tokens)
  llama-tuned, llama-untuned  LlamaForCausalLM, Mistral-7B's SentencePiece BPE (tests/fixtures/tokenizers/mistral-7b-legacy,
                              32000 tokens, the legacy form zephyr-7b-beta ships)
The networks are tiny (hidden 8) so that the vocabulary matrices dominate and the four directories stay near 3.5 MB.
Weights are stored as F16: the C# side and the reference both read exactly these values and compute from there.
The two models of a pair have different seeds, so their log-probs, and the implicit value, are not zero.

Deterministic like make_fixtures.py (fixed seeds, one thread, sorted JSON, fixed safetensors layout); the tokenizer
files are copied byte for byte, so git stores them once however many directories hold them.
"""

from __future__ import annotations

import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep tests/reference free of __pycache__
sys.path.insert(0, HERE)
import hf_reference as ref  # noqa: E402
import make_fixtures as mf  # noqa: E402  (its weight builders and config writers; importing it sets one thread)

TOKENIZERS = os.path.normpath(os.path.join(HERE, "..", "fixtures", "tokenizers"))
OUT = os.path.normpath(os.path.join(HERE, "..", "fixtures", "scoring"))

# The files HfTokenizer.Load and transformers.js's AutoTokenizer read; nothing else is copied.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")

# Long enough for the longest case (texts sampled by the GPT-2 pair re-tokenized by Mistral's vocabulary).
MAX_POSITIONS = 512


def gpt2_model(seed):
    rnd = mf.Rand(seed)
    cfg = mf.gpt2_config(V=50257, E=8, L=2, H=2, P=MAX_POSITIONS, eps=1e-5, arch="GPT2LMHeadModel")
    cfg["bos_token_id"] = cfg["eos_token_id"] = 50256  # <|endoftext|>
    cfg["torch_dtype"] = "float16"
    w = mf.gpt2_weights(rnd, cfg, prefix="")  # the hub gpt2 layout: no "transformer.", lm_head tied to wte
    # Wider logits than the default init, so that which token is scored after which context matters by whole nats.
    w["wte.weight"] = w["wte.weight"] * 3.0
    return cfg, w


def llama_model(seed):
    rnd = mf.Rand(seed)
    cfg = mf.llama_config("llama", "LlamaForCausalLM", V=32000, Hd=8, I=16, L=2, Hq=2, Hkv=1, extra={
        "bos_token_id": 1,
        "eos_token_id": 2,
        "max_position_embeddings": MAX_POSITIONS,
        "tie_word_embeddings": False,
        "torch_dtype": "float16",
    })
    w = mf.llama_weights(rnd, cfg)
    w["lm_head.weight"] = w["lm_head.weight"] * 3.0
    return cfg, w


PAIRS = {
    # name: (builder, tokenizer directory, seed)
    "gpt2-tuned": (gpt2_model, "gpt2-json", 3101),
    "gpt2-untuned": (gpt2_model, "gpt2-json", 3102),
    "llama-tuned": (llama_model, "mistral-7b-legacy", 3201),
    "llama-untuned": (llama_model, "mistral-7b-legacy", 3202),
}


def write_model(out, name, build, tokenizer, seed):
    d = os.path.join(out, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    cfg, w = build(seed)
    mf.write_json(os.path.join(d, "config.json"), cfg)
    ref.write_safetensors(os.path.join(d, "model.safetensors"), {k: v.to(torch.float16) for k, v in w.items()})
    for f in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(TOKENIZERS, tokenizer, f), os.path.join(d, f))
    return d


def check(d):
    """Reads a directory back as the scoring reference will and returns the logits of a few tokens."""
    cfg, sd = ref.load_model_dir(d, torch.float64)
    for k, v in ref.read_model_dir_raw(d).items():
        assert v.dtype == torch.float16 and torch.isfinite(v.float()).all(), k
    ids = torch.tensor([[100, 200, 300, 400, 500]])
    with torch.no_grad():
        logits = ref.forward_logits(sd, cfg, ids)
    logp = logits.log_softmax(-1)
    spread = logp.std().item()
    assert spread > 1.0, (d, spread)  # far from uniform: a wrongly placed token moves a sum by nats
    return logits, spread


def main():
    out = OUT
    args = sys.argv[1:]
    if args[:1] == ["--out"] and len(args) == 2:
        out = os.path.abspath(args[1])
    elif args:
        sys.exit("usage: make_scoring_fixtures.py [--out DIR]")
    os.makedirs(out, exist_ok=True)
    logits = {}
    for name, (build, tokenizer, seed) in PAIRS.items():
        d = write_model(out, name, build, tokenizer, seed)
        logits[name], spread = check(d)
        print(f"{name:14} {mf.dir_size(d):8d} bytes  log-prob std {spread:.2f}  tokenizer {tokenizer}")
    for family in ("gpt2", "llama"):
        gap = (logits[f"{family}-tuned"] - logits[f"{family}-untuned"]).abs().max().item()
        assert gap > 1.0, (family, gap)  # the two models of a pair differ
        print(f"{family}: max |tuned - untuned logit| {gap:.2f}")


if __name__ == "__main__":
    main()
