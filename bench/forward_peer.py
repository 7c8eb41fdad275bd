"""PyTorch eager peer for `wts bench forward`: a GPT-2-small-shaped model with random fp32 weights,
prefill of 64 tokens then cached decode of 50 at batch 1 and 16, the way transformers' eager GPT-2 computes
(addmm Conv1D, tanh GELU, matmul-softmax attention, KV cache by concatenation), logits of the last position only.

Run with OpenBLAS's OpenMP build and 2 threads (Debian's default reference BLAS is no fair peer, and is what
torch loads when the openblas-openmp folder is missing: the first line says which BLAS was loaded):
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=2 /usr/bin/python3 bench/forward_peer.py
With --serve it builds the model once, then runs one measurement per stdin line "batch prompt_tokens new_tokens seed"
and answers "prefill_seconds decode_seconds_per_step cpu_seconds", so `wts bench forward --peer` can alternate with it.
"""
import argparse
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def random_gpt2(layers=12, width=768, heads=12, vocab=50257, positions=1024, seed=0):
    g = torch.Generator().manual_seed(seed)
    def normal(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std
    w = {"wte": normal(vocab, width), "wpe": normal(positions, width), "ln_f": (torch.ones(width), torch.zeros(width))}
    w["h"] = [{
        "ln_1": (torch.ones(width), torch.zeros(width)), "ln_2": (torch.ones(width), torch.zeros(width)),
        "c_attn": (normal(width, 3 * width), torch.zeros(3 * width)), "attn_proj": (normal(width, width), torch.zeros(width)),
        "c_fc": (normal(width, 4 * width), torch.zeros(4 * width)), "mlp_proj": (normal(4 * width, width), torch.zeros(width)),
    } for _ in range(layers)]
    w["heads"] = heads
    return w


def conv1d(x, weight_bias):
    weight, bias = weight_bias
    shape = x.shape[:-1] + (weight.shape[1],)
    return torch.addmm(bias, x.reshape(-1, x.shape[-1]), weight).view(shape)


def forward(w, ids, past):
    """ids [B, T]; past: list of (k, v) per layer or None. Returns last-position logits and the new past."""
    batch, steps = ids.shape
    width = w["wte"].shape[1]
    heads = w["heads"]
    head_dim = width // heads
    start = 0 if past is None else past[0][0].shape[2]
    positions = torch.arange(start, start + steps)
    x = w["wte"][ids] + w["wpe"][positions]
    new_past = []
    for i, block in enumerate(w["h"]):
        h = F.layer_norm(x, (width,), *block["ln_1"], 1e-5)
        q, k, v = conv1d(h, block["c_attn"]).split(width, dim=2)
        q, k, v = (t.view(batch, steps, heads, head_dim).transpose(1, 2) for t in (q, k, v))
        if past is not None:
            k = torch.cat([past[i][0], k], dim=2)
            v = torch.cat([past[i][1], v], dim=2)
        new_past.append((k, v))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(head_dim)
        if steps > 1:
            total = k.shape[2]
            causal = torch.ones(steps, total, dtype=torch.bool).tril(total - steps)
            scores = scores.masked_fill(~causal, torch.finfo(scores.dtype).min)
        attended = torch.matmul(scores.softmax(-1), v).transpose(1, 2).reshape(batch, steps, width)
        x = x + conv1d(attended, block["attn_proj"])
        h = F.layer_norm(x, (width,), *block["ln_2"], 1e-5)
        x = x + conv1d(F.gelu(conv1d(h, block["c_fc"]), approximate="tanh"), block["mlp_proj"])
    x = F.layer_norm(x[:, -1:], (width,), *w["ln_f"], 1e-5)
    return x @ w["wte"].t(), new_past


def generate(w, batch, prompt_tokens, new_tokens, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, w["wte"].shape[0], (batch, prompt_tokens), generator=g)
    start = time.perf_counter()
    logits, past = forward(w, ids, None)
    prefill = time.perf_counter() - start
    token = logits.argmax(-1)
    start = time.perf_counter()
    for _ in range(new_tokens):
        logits, past = forward(w, token, past)
        token = logits.argmax(-1)
    return prefill, (time.perf_counter() - start) / new_tokens


def loaded_blas():
    """The BLAS library this process mapped (torch's build info says only "generic" on Debian)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "/" in line}
    for name in ("openblas", "mkl_", "blis", "libblas"):
        found = sorted(p for p in paths if name in p.rsplit("/", 1)[-1])
        if found:
            return found[0]
    return "unknown"


def serve(w):
    """One measurement per stdin line, so a caller can interleave its own runs with these in the same session."""
    print(f"PyTorch {torch.__version__} eager, threads {torch.get_num_threads()}, BLAS {loaded_blas()}", flush=True)
    for line in sys.stdin:
        batch, prompt_tokens, new_tokens, seed = (int(f) for f in line.split())
        cpu = time.process_time()
        prefill, decode = generate(w, batch, prompt_tokens, new_tokens, seed)
        print(f"{prefill!r} {decode!r} {time.process_time() - cpu!r}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-sizes", default="1,16")
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help="answer measurement requests on stdin (for wts bench forward --peer)")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    w = random_gpt2()
    if args.serve:
        return serve(w)
    print(f"PyTorch {torch.__version__} eager, threads {torch.get_num_threads()}, BLAS {loaded_blas()}, random gpt2-small fp32")
    print(f"{'batch':>5}  {'prefill tok':>11}  {'prefill ms':>10}  {'prefill tok/s':>13}  {'decode ms/step':>14}  {'decode tok/s':>12}")
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        runs = [generate(w, batch, args.prompt_tokens, args.new_tokens, seed) for seed in range(args.repeats + 1)][1:]
        prefill = statistics.median(r[0] for r in runs)
        decode = statistics.median(r[1] for r in runs)
        print(f"{batch:>5}  {args.prompt_tokens:>11}  {prefill * 1000:>10.1f}  {batch * args.prompt_tokens / prefill:>13.1f}  "
              f"{decode * 1000:>14.2f}  {batch / decode:>12.1f}")


if __name__ == "__main__":
    main()
