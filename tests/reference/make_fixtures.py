#!/usr/bin/python3
"""Generate tiny random-weight HF-format model directories + golden logits.

Usage (from the repository root):  /usr/bin/python3 tests/reference/make_fixtures.py [--out DIR]
(default output: tests/fixtures/; only the fixture sub-directories it creates are replaced)

Deterministic: each fixture uses its own torch.Generator seeded with a fixed number, JSON is
written with sorted keys, safetensors headers are laid out deterministically, and golden
logits are computed in float64 and rounded to float32.  Re-running reproduces identical bytes.

After writing each fixture, the files are read back with the reference loader and checked:
  * causal LMs: incremental decoding with a KV cache == full forward (fp32, < 1e-5)
  * every padded row == the same row run alone without padding (fp32, < 1e-4)
  * fp32 forward vs the fp64 golden (informative; must be < 1e-4)
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep tests/reference free of __pycache__
sys.path.insert(0, HERE)
import hf_reference as ref  # noqa: E402

FIXTURES = os.path.normpath(os.path.join(HERE, "..", "fixtures"))

torch.set_num_threads(1)  # no reduction-order nondeterminism across thread counts


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------


class Rand:
    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def normal(self, *shape, std=1.0):
        return torch.randn(*shape, generator=self.g, dtype=torch.float32) * std

    def linear(self, out_f, in_f, gain=1.0):
        """Weight [out,in] with std gain/sqrt(in) (keeps activations O(1))."""
        return self.normal(out_f, in_f, std=gain / math.sqrt(in_f))

    def norm_weight(self, n, noise=0.1):
        return 1.0 + self.normal(n, std=noise)

    def bias(self, n, std=0.05):
        return self.normal(n, std=std)

    def ints(self, lo, hi, *shape):
        return torch.randint(lo, hi, shape, generator=self.g, dtype=torch.int64)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def fresh_dir(name):
    d = os.path.join(FIXTURES, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def padded_batch(rnd, lengths, T, pad_id, sides, lo, hi):
    """Random content tokens in [lo,hi); row b has lengths[b] real tokens, padded on sides[b]."""
    B = len(lengths)
    ids = torch.full((B, T), pad_id, dtype=torch.int64)
    mask = torch.zeros((B, T), dtype=torch.int64)
    for b, (n, side) in enumerate(zip(lengths, sides)):
        toks = rnd.ints(lo, hi, n)
        if side == "left":
            ids[b, T - n :] = toks
            mask[b, T - n :] = 1
        else:
            ids[b, :n] = toks
            mask[b, :n] = 1
    return ids, mask


def labels_cfg(names):
    return {
        "id2label": {str(i): n for i, n in enumerate(names)},
        "label2id": {n: i for i, n in enumerate(names)},
    }


def dir_size(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))


# ----------------------------------------------------------------------------------------
# weight builders (exact HF names; canonical prefixes)
# ----------------------------------------------------------------------------------------


def gpt2_config(V, E, L, H, P, eps, arch, extra=None):
    cfg = {
        "activation_function": "gelu_new",
        "architectures": [arch],
        "attn_pdrop": 0.1,
        "bos_token_id": V - 1,
        "embd_pdrop": 0.1,
        "eos_token_id": V - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": eps,
        "model_type": "gpt2",
        "n_ctx": P,
        "n_embd": E,
        "n_head": H,
        "n_inner": None,
        "n_layer": L,
        "n_positions": P,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": V,
    }
    cfg.update(extra or {})
    return cfg


def gpt2_weights(rnd, cfg, prefix):
    V, E, P = cfg["vocab_size"], cfg["n_embd"], cfg["n_positions"]
    I = cfg["n_inner"] or 4 * E
    w = {
        prefix + "wte.weight": rnd.normal(V, E, std=0.3),
        prefix + "wpe.weight": rnd.normal(P, E, std=0.2),
    }
    for i in range(cfg["n_layer"]):
        L = f"{prefix}h.{i}."
        w[L + "ln_1.weight"] = rnd.norm_weight(E)
        w[L + "ln_1.bias"] = rnd.bias(E)
        # Conv1D weights are [in, out]
        w[L + "attn.c_attn.weight"] = rnd.linear(3 * E, E, gain=1.0).t().contiguous()
        w[L + "attn.c_attn.bias"] = rnd.bias(3 * E)
        w[L + "attn.c_proj.weight"] = rnd.linear(E, E, gain=0.8).t().contiguous()
        w[L + "attn.c_proj.bias"] = rnd.bias(E)
        w[L + "ln_2.weight"] = rnd.norm_weight(E)
        w[L + "ln_2.bias"] = rnd.bias(E)
        w[L + "mlp.c_fc.weight"] = rnd.linear(I, E, gain=2.0).t().contiguous()
        w[L + "mlp.c_fc.bias"] = rnd.bias(I)
        w[L + "mlp.c_proj.weight"] = rnd.linear(E, I, gain=0.8).t().contiguous()
        w[L + "mlp.c_proj.bias"] = rnd.bias(E)
    w[prefix + "ln_f.weight"] = rnd.norm_weight(E)
    w[prefix + "ln_f.bias"] = rnd.bias(E)
    return w


def llama_config(model_type, arch, V, Hd, I, L, Hq, Hkv, extra):
    cfg = {
        "architectures": [arch],
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": Hd,
        "initializer_range": 0.02,
        "intermediate_size": I,
        "max_position_embeddings": 128,
        "model_type": model_type,
        "num_attention_heads": Hq,
        "num_hidden_layers": L,
        "num_key_value_heads": Hkv,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": V,
    }
    if model_type == "llama":
        cfg.update({
            "attention_bias": False,
            "head_dim": Hd // Hq,
            "mlp_bias": False,
            "pretraining_tp": 1,
            "rope_scaling": None,
        })
    elif model_type == "qwen2":
        cfg.update({
            "max_window_layers": L,
            "rope_scaling": None,
            "sliding_window": 32768,
            "use_sliding_window": False,
        })
    elif model_type == "mistral":
        cfg.update({"head_dim": Hd // Hq, "sliding_window": None})
    cfg.update(extra)
    return cfg


def llama_weights(rnd, cfg, head="lm_head"):
    V, Hd, I = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"]
    Hq, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = ref.llama_head_dim(cfg)
    qkv_bias, o_bias = ref._llama_biases(cfg)
    w = {"model.embed_tokens.weight": rnd.normal(V, Hd, std=0.5)}
    for i in range(cfg["num_hidden_layers"]):
        L = f"model.layers.{i}."
        A = L + "self_attn."
        w[L + "input_layernorm.weight"] = rnd.norm_weight(Hd)
        w[A + "q_proj.weight"] = rnd.linear(Hq * d, Hd, gain=1.5)
        w[A + "k_proj.weight"] = rnd.linear(Hkv * d, Hd, gain=1.5)
        w[A + "v_proj.weight"] = rnd.linear(Hkv * d, Hd, gain=1.0)
        w[A + "o_proj.weight"] = rnd.linear(Hd, Hq * d, gain=0.8)
        if qkv_bias:
            w[A + "q_proj.bias"] = rnd.bias(Hq * d, std=0.2)
            w[A + "k_proj.bias"] = rnd.bias(Hkv * d, std=0.2)
            w[A + "v_proj.bias"] = rnd.bias(Hkv * d, std=0.2)
        if o_bias:
            w[A + "o_proj.bias"] = rnd.bias(Hd, std=0.2)
        w[L + "post_attention_layernorm.weight"] = rnd.norm_weight(Hd)
        w[L + "mlp.gate_proj.weight"] = rnd.linear(I, Hd, gain=1.0)
        w[L + "mlp.up_proj.weight"] = rnd.linear(I, Hd, gain=1.0)
        w[L + "mlp.down_proj.weight"] = rnd.linear(Hd, I, gain=1.0)
    w["model.norm.weight"] = rnd.norm_weight(Hd)
    if head == "lm_head":
        if not cfg["tie_word_embeddings"]:
            w["lm_head.weight"] = rnd.normal(V, Hd, std=0.3)
    else:
        w["score.weight"] = rnd.normal(cfg["num_labels_"], Hd, std=0.3)
    return w


# ----------------------------------------------------------------------------------------
# fixture definitions
# ----------------------------------------------------------------------------------------

RESULTS = []


def finish(name, d, cfg, input_ids, attention_mask, notes="", controls=None):
    """Read the fixture back, compute goldens (fp64 -> fp32), run self-checks.

    `controls` maps a label to a config override dict: each such deliberately wrong
    variant must change the golden logits by > 1e-3, proving the fixture discriminates.
    Two controls are automatic: ignoring the attention mask (padded fixtures) and
    arange position ids instead of the cumsum convention (GPT-2 with left padding).
    """
    cfg_disk, sd64 = ref.load_model_dir(d, torch.float64)
    assert cfg_disk == json.loads(json.dumps(cfg))
    _, sd32 = ref.load_model_dir(d, torch.float32)
    # raw file sanity: every stored tensor is finite
    for k, v in ref.read_model_dir_raw(d).items():
        assert torch.isfinite(v.float()).all(), k
    with torch.no_grad():
        logits64 = ref.forward_logits(sd64, cfg, input_ids, attention_mask)
        golden = logits64.to(torch.float32)
        logits32 = ref.forward_logits(sd32, cfg, input_ids, attention_mask)
    assert torch.isfinite(golden).all()
    ref.write_safetensors(
        os.path.join(d, "golden.safetensors"),
        {"input_ids": input_ids, "attention_mask": attention_mask, "logits": golden},
        metadata={"fixture": name, "logits_dtype_of_computation": "float64 rounded to float32"},
    )

    causal = ref.is_causal_lm(cfg)
    valid = attention_mask.bool()
    if causal:
        sel = golden[valid]
        f32_diff = (logits32 - logits64)[valid].abs().max().item()
    else:
        sel = golden
        f32_diff = (logits32 - logits64).abs().max().item()
    assert f32_diff < 1e-4, (name, f32_diff)

    # non-degeneracy
    std = sel.std().item()
    amax = sel.abs().max().item()
    if causal:
        n_argmax = len(set(sel.argmax(-1).tolist()))
        assert std > 0.5 and amax < 60 and n_argmax >= 3, (name, std, amax, n_argmax)
    else:
        assert amax < 60 and sel.std(0).max().item() > 0.05, (name, sel)

    # negative controls: plausible mistakes must be visible in the golden logits
    def gdiff(logits):
        diff = (logits.to(torch.float32) - golden).abs()
        return (diff[valid] if causal else diff).max().item()

    ctrl = dict(controls or {})
    runs = {k: (dict(cfg, **v), attention_mask, None) for k, v in ctrl.items()}
    if not valid.all():
        runs["no attention mask"] = (cfg, torch.ones_like(attention_mask), None)
        if cfg["model_type"] == "gpt2" and not valid[:, 0].all():
            runs["arange position_ids"] = (cfg, attention_mask, torch.arange(input_ids.shape[1]).expand_as(input_ids))
    sens = {}
    with torch.no_grad():
        for k, (c, m, pos) in runs.items():
            sens[k] = gdiff(ref.forward_logits(sd64, c, input_ids, m, pos))
            assert sens[k] > 1e-3, (name, k, sens[k])

    # KV-cache incremental decoding == full forward (fp32)
    kv_diff = float("nan")
    if causal:
        B, T = input_ids.shape
        with torch.no_grad():
            cache = ref.KVCache(ref.n_layers(cfg))
            P = T // 2
            pieces = [ref.forward_logits(sd32, cfg, input_ids[:, :P], attention_mask[:, :P], cache=cache)]
            for t in range(P, T):
                pieces.append(ref.forward_logits(sd32, cfg, input_ids[:, t : t + 1], attention_mask[:, : t + 1], cache=cache))
        inc = torch.cat(pieces, dim=1)
        kv_diff = (inc - logits32)[valid].abs().max().item()
        assert kv_diff < 1e-5, (name, kv_diff)

    # each padded row == the same row alone, unpadded (fp32)
    pad_diff = float("nan")
    padded_rows = [b for b in range(input_ids.shape[0]) if not valid[b].all()]
    if padded_rows:
        pad_diff = 0.0
        with torch.no_grad():
            for b in padded_rows:
                ids_b = input_ids[b][valid[b]].unsqueeze(0)
                alone = ref.forward_logits(sd32, cfg, ids_b, torch.ones_like(ids_b))
                if causal:
                    diff = (alone[0] - logits32[b][valid[b]]).abs().max().item()
                else:
                    diff = (alone[0] - logits32[b]).abs().max().item()
                pad_diff = max(pad_diff, diff)
        assert pad_diff < 1e-4, (name, pad_diff)

    RESULTS.append({
        "name": name,
        "size": dir_size(d),
        "shape": "x".join(map(str, golden.shape)),
        "std": std,
        "amax": amax,
        "f32": f32_diff,
        "kv": kv_diff,
        "pad": pad_diff,
        "pads": "".join("L" if (not valid[b, 0]) else ("R" if not valid[b, -1] else "-") for b in range(valid.shape[0])),
        "notes": notes,
        "sens": sens,
    })


def make_gpt2_tied():
    name = "gpt2-tied"
    rnd = Rand(1001)
    d = fresh_dir(name)
    cfg = gpt2_config(V=101, E=32, L=2, H=4, P=32, eps=1e-5, arch="GPT2LMHeadModel")
    w = gpt2_weights(rnd, cfg, prefix="")  # hub gpt2 checkpoint: no "transformer." prefix, no lm_head
    P = cfg["n_positions"]
    for i in range(cfg["n_layer"]):
        # legacy causal-mask buffer carried by old checkpoints; loaders must ignore it
        w[f"h.{i}.attn.bias"] = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
    write_json(os.path.join(d, "config.json"), cfg)
    ref.write_safetensors(os.path.join(d, "model.safetensors"), w)
    ids, mask = padded_batch(rnd, [10, 10], 10, 0, ["left", "left"], 0, cfg["vocab_size"] - 1)
    finish(name, d, cfg, ids, mask, "no prefix, tied, legacy attn.bias buffers",
           controls={"erf gelu": {"activation_function": "gelu"}})


def make_gpt2_prefixed_padded():
    name = "gpt2-prefixed-padded"
    rnd = Rand(1002)
    d = fresh_dir(name)
    V = 97
    cfg = gpt2_config(V=V, E=32, L=2, H=2, P=24, eps=1e-3, arch="GPT2LMHeadModel",
                      extra={"pad_token_id": V - 1})
    w = gpt2_weights(rnd, cfg, prefix="transformer.")
    write_json(os.path.join(d, "config.json"), cfg)
    ref.write_safetensors(os.path.join(d, "model.safetensors"), w)
    ids, mask = padded_batch(rnd, [11, 8, 5], 11, cfg["pad_token_id"], ["left"] * 3, 0, V - 1)
    finish(name, d, cfg, ids, mask, "transformer. prefix, eps 1e-3, left pad",
           controls={"layer_norm_epsilon 1e-5": {"layer_norm_epsilon": 1e-5}})


def make_llama_gqa():
    name = "llama-gqa"
    rnd = Rand(1003)
    d = fresh_dir(name)
    rope_scaling = {
        "factor": 8.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 64,
        "rope_type": "llama3",
    }
    cfg = llama_config("llama", "LlamaForCausalLM", V=113, Hd=64, I=64, L=2, Hq=4, Hkv=2, extra={
        "rope_theta": 500000.0,
        "rope_scaling": rope_scaling,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
        "pad_token_id": 0,
    })
    assert ref.llama_head_dim(cfg) == 16
    # the llama3 scaling must exercise all three regimes: unchanged / smoothed / divided by factor
    base = ref.llama_inv_freq({**cfg, "rope_scaling": None})
    scaled = ref.llama_inv_freq(cfg)
    unchanged = torch.isclose(scaled, base, rtol=0, atol=0)
    divided = torch.isclose(scaled, base / rope_scaling["factor"], rtol=1e-6, atol=0)
    smoothed = ~unchanged & ~divided
    assert unchanged.any() and divided.any() and smoothed.any(), (base, scaled)
    w = llama_weights(rnd, cfg)
    write_json(os.path.join(d, "config.json"), cfg)
    ref.write_safetensors(os.path.join(d, "model.safetensors"), w)
    ids, mask = padded_batch(rnd, [8, 12], 12, cfg["pad_token_id"], ["left"] * 2, 3, cfg["vocab_size"])
    finish(name, d, cfg, ids, mask,
           f"llama3 rope: {int(unchanged.sum())} unchanged/{int(smoothed.sum())} smoothed/{int(divided.sum())} divided",
           controls={"rope_scaling null": {"rope_scaling": None}, "rope_theta 10000": {"rope_theta": 10000.0},
                     "GQA kv head h%Hkv": {"_control_gqa_tile": True},
                     "interleaved RoPE": {"_control_rope_interleaved": True}})


def make_qwen2_bias():
    name = "qwen2-bias"
    rnd = Rand(1004)
    d = fresh_dir(name)
    V = 128
    cfg = llama_config("qwen2", "Qwen2ForCausalLM", V=V, Hd=32, I=64, L=2, Hq=4, Hkv=2, extra={
        "rope_theta": 1000000.0,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": True,
        "bos_token_id": V - 3,
        "eos_token_id": V - 2,
        "pad_token_id": V - 1,
    })
    w = llama_weights(rnd, cfg)
    assert "lm_head.weight" not in w and "model.layers.0.self_attn.q_proj.bias" in w
    assert "model.layers.0.self_attn.o_proj.bias" not in w
    write_json(os.path.join(d, "config.json"), cfg)
    ref.write_safetensors(os.path.join(d, "model.safetensors"), w)
    ids, mask = padded_batch(rnd, [9, 7], 9, cfg["pad_token_id"], ["left"] * 2, 0, V - 3)
    finish(name, d, cfg, ids, mask, "qkv bias, tied, GQA 4/2",
           controls={"no qkv bias": {"model_type": "mistral", "sliding_window": None},
                     "GQA kv head h%Hkv": {"_control_gqa_tile": True}})


def make_mistral():
    name = "mistral"
    rnd = Rand(1005)
    d = fresh_dir(name)
    cfg = llama_config("mistral", "MistralForCausalLM", V=109, Hd=32, I=64, L=2, Hq=4, Hkv=1, extra={
        "rope_theta": 10000.0,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
        "pad_token_id": 0,
    })
    w = llama_weights(rnd, cfg)
    write_json(os.path.join(d, "config.json"), cfg)
    ref.write_safetensors(os.path.join(d, "model.safetensors"), w)
    ids, mask = padded_batch(rnd, [7, 8, 5], 8, cfg["pad_token_id"], ["left"] * 3, 3, cfg["vocab_size"])
    finish(name, d, cfg, ids, mask, "sliding_window null, GQA 4/1 (MQA)",
           controls={"interleaved RoPE": {"_control_rope_interleaved": True}})


def make_llama_bf16():
    name = "llama-bf16"
    rnd = Rand(1006)
    d = fresh_dir(name)
    cfg = llama_config("llama", "LlamaForCausalLM", V=103, Hd=32, I=64, L=2, Hq=4, Hkv=4, extra={
        "torch_dtype": "bfloat16",
        "tie_word_embeddings": True,
        "pad_token_id": 0,
    })
    w = {k: v.to(torch.bfloat16) for k, v in llama_weights(rnd, cfg).items()}
    write_json(os.path.join(d, "config.json"), cfg)
    ref.write_safetensors(os.path.join(d, "model.safetensors"), w)
    ids, mask = padded_batch(rnd, [10, 7], 10, cfg["pad_token_id"], ["left"] * 2, 3, cfg["vocab_size"])
    finish(name, d, cfg, ids, mask, "BF16 weights, tied, MHA 4/4")


def make_llama_sharded():
    name = "llama-sharded"
    rnd = Rand(1007)
    d = fresh_dir(name)
    cfg = llama_config("llama", "LlamaForCausalLM", V=107, Hd=32, I=64, L=2, Hq=4, Hkv=2, extra={
        "attention_bias": True,
        "tie_word_embeddings": False,
        "pad_token_id": 0,
    })
    w = llama_weights(rnd, cfg)
    assert "model.layers.0.self_attn.o_proj.bias" in w
    # shard 1 (F32): embeddings + layer 0; shard 2 (F16): layer 1, final norm, lm_head
    f1, f2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    s1 = {k: v for k, v in w.items() if k.startswith(("model.embed_tokens.", "model.layers.0."))}
    s2 = {k: v.to(torch.float16) for k, v in w.items() if k not in s1}
    ref.write_safetensors(os.path.join(d, f1), s1)
    ref.write_safetensors(os.path.join(d, f2), s2)
    total = sum(t.numel() * t.element_size() for t in list(s1.values()) + list(s2.values()))
    index = {"metadata": {"total_size": total}, "weight_map": {**{k: f1 for k in s1}, **{k: f2 for k in s2}}}
    write_json(os.path.join(d, "model.safetensors.index.json"), index)
    write_json(os.path.join(d, "config.json"), cfg)
    ids, mask = padded_batch(rnd, [6, 10], 10, cfg["pad_token_id"], ["left"] * 2, 3, cfg["vocab_size"])
    finish(name, d, cfg, ids, mask, "2 shards (F32 + F16), attention_bias true (q,k,v,o)",
           controls={"qwen2-style bias (no o_proj bias)": {"model_type": "qwen2"}})


def make_gpt2_reward():
    name = "gpt2-reward"
    rnd = Rand(1008)
    d = fresh_dir(name)
    V = 99
    cfg = gpt2_config(V=V, E=32, L=2, H=4, P=16, eps=1e-5, arch="GPT2ForSequenceClassification",
                      extra={"pad_token_id": 7, **labels_cfg(["LABEL_0"])})
    w = gpt2_weights(rnd, cfg, prefix="transformer.")
    w["score.weight"] = rnd.normal(1, cfg["n_embd"], std=0.5)
    write_json(os.path.join(d, "config.json"), cfg)
    ref.write_safetensors(os.path.join(d, "model.safetensors"), w)
    ids, mask = padded_batch(rnd, [6, 7, 9], 9, cfg["pad_token_id"], ["left", "right", "left"], 8, V - 1)
    finish(name, d, cfg, ids, mask, "num_labels 1, pad id 7, L/R padding",
           controls={"pool at T-1": {"pad_token_id": -1}})


def make_llama_reward():
    name = "llama-reward"
    rnd = Rand(1009)
    d = fresh_dir(name)
    cfg = llama_config("llama", "LlamaForSequenceClassification", V=101, Hd=32, I=64, L=2, Hq=2, Hkv=1, extra={
        "pad_token_id": 0,
        **labels_cfg(["LABEL_0", "LABEL_1"]),
    })
    cfg_w = dict(cfg, num_labels_=2)
    w = llama_weights(rnd, cfg_w, head="score")
    write_json(os.path.join(d, "config.json"), cfg)
    ref.write_safetensors(os.path.join(d, "model.safetensors"), w)
    ids, mask = padded_batch(rnd, [5, 6, 10], 10, cfg["pad_token_id"], ["left", "right", "right"], 3, cfg["vocab_size"])
    finish(name, d, cfg, ids, mask, "num_labels 2, L/R padding, GQA 2/1",
           controls={"pool at T-1": {"pad_token_id": -1}})


# --- DistilBERT -------------------------------------------------------------------------

DISTIL_WORDS = [
    "the", "movie", "film", "was", "is", "good", "great", "bad", "not", "it", "this",
    "and", "but", "very", "love", "hate", "plot", "act", "sur", "boring", "fun",
    "##ed", "##ing", "##ly", "##pr", "##is", "##ion",
]


def distil_vocab(V):
    toks = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "?", "'"]
    toks += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    toks += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    toks += DISTIL_WORDS
    assert len(toks) == len(set(toks)) and len(toks) <= V
    k = 0
    while len(toks) < V:  # filler tokens to reach vocab_size
        toks.append(f"[unused{k}]")
        k += 1
    return toks


def wordpiece(text, vocab):
    """Minimal BERT basic tokenizer (lowercase, split whitespace/punctuation) + greedy WordPiece."""
    idx = {t: i for i, t in enumerate(vocab)}
    words = re.findall(r"[a-z0-9]+|[^\sa-z0-9]", text.lower())
    out = []
    for w in words:
        start, pieces = 0, []
        while start < len(w):
            end, cur = len(w), None
            while start < end:
                s = w[start:end] if start == 0 else "##" + w[start:end]
                if s in idx:
                    cur = s
                    break
                end -= 1
            if cur is None:
                pieces = ["[UNK]"]
                break
            pieces.append(cur)
            start = end
        out += pieces
    return ["[CLS]"] + out + ["[SEP]"]


DISTIL_TEXTS = ["The movie was surprisingly fun!", "Boring plot, bad acting."]


def make_distilbert_cls():
    name = "distilbert-cls"
    rnd = Rand(1010)
    d = fresh_dir(name)
    V, D = 100, 32
    vocab = distil_vocab(V)
    cfg = {
        "activation": "gelu",
        "architectures": ["DistilBertForSequenceClassification"],
        "attention_dropout": 0.1,
        "dim": D,
        "dropout": 0.1,
        "hidden_dim": 64,
        "initializer_range": 0.02,
        "max_position_embeddings": 32,
        "model_type": "distilbert",
        "n_heads": 4,
        "n_layers": 2,
        "pad_token_id": 0,
        "qa_dropout": 0.1,
        "seq_classif_dropout": 0.2,
        "sinusoidal_pos_embds": False,
        "tie_weights_": True,
        "torch_dtype": "float32",
        "vocab_size": V,
        **labels_cfg(["NEGATIVE", "POSITIVE"]),
    }
    Hh = cfg["hidden_dim"]
    p = "distilbert."
    w = {
        p + "embeddings.word_embeddings.weight": rnd.normal(V, D, std=0.5),
        p + "embeddings.position_embeddings.weight": rnd.normal(cfg["max_position_embeddings"], D, std=0.3),
        p + "embeddings.LayerNorm.weight": rnd.norm_weight(D),
        p + "embeddings.LayerNorm.bias": rnd.bias(D),
    }
    for i in range(cfg["n_layers"]):
        L = f"{p}transformer.layer.{i}."
        for n in ("q_lin", "k_lin", "v_lin", "out_lin"):
            w[L + f"attention.{n}.weight"] = rnd.linear(D, D, gain=1.5 if n in ("q_lin", "k_lin") else 1.0)
            w[L + f"attention.{n}.bias"] = rnd.bias(D)
        w[L + "sa_layer_norm.weight"] = rnd.norm_weight(D)
        w[L + "sa_layer_norm.bias"] = rnd.bias(D)
        w[L + "ffn.lin1.weight"] = rnd.linear(Hh, D, gain=2.0)
        w[L + "ffn.lin1.bias"] = rnd.bias(Hh)
        w[L + "ffn.lin2.weight"] = rnd.linear(D, Hh)
        w[L + "ffn.lin2.bias"] = rnd.bias(D)
        w[L + "output_layer_norm.weight"] = rnd.norm_weight(D)
        w[L + "output_layer_norm.bias"] = rnd.bias(D)
    w["pre_classifier.weight"] = rnd.linear(D, D, gain=2.0)
    w["pre_classifier.bias"] = rnd.bias(D, std=0.2)
    w["classifier.weight"] = rnd.linear(2, D, gain=6.0)
    w["classifier.bias"] = rnd.bias(2, std=0.2)
    write_json(os.path.join(d, "config.json"), cfg)
    ref.write_safetensors(os.path.join(d, "model.safetensors"), w)
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab))
    write_json(os.path.join(d, "tokenizer_config.json"), {
        "clean_up_tokenization_spaces": True,
        "cls_token": "[CLS]",
        "do_lower_case": True,
        "mask_token": "[MASK]",
        "model_max_length": cfg["max_position_embeddings"],
        "pad_token": "[PAD]",
        "sep_token": "[SEP]",
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "tokenizer_class": "DistilBertTokenizer",
        "unk_token": "[UNK]",
    })
    toks = [wordpiece(t, vocab) for t in DISTIL_TEXTS]
    T = max(len(t) for t in toks)
    assert T <= 12, toks
    ids = torch.zeros(len(toks), T, dtype=torch.int64)
    mask = torch.zeros(len(toks), T, dtype=torch.int64)
    for b, t in enumerate(toks):
        ids[b, : len(t)] = torch.tensor([vocab.index(s) for s in t])
        mask[b, : len(t)] = 1
    assert not mask.all(), "want one right-padded row"
    finish(name, d, cfg, ids, mask, "tokens: " + " | ".join(" ".join(t) for t in toks),
           controls={"tanh gelu": {"activation": "gelu_new"}})


def main():
    global FIXTURES
    args = sys.argv[1:]
    if args[:1] == ["--out"] and len(args) == 2:
        FIXTURES = os.path.abspath(args[1])  # e.g. regenerate elsewhere and `diff -r` against tests/fixtures
    elif args:
        sys.exit("usage: make_fixtures.py [--out DIR]")
    os.makedirs(FIXTURES, exist_ok=True)
    make_gpt2_tied()
    make_gpt2_prefixed_padded()
    make_llama_gqa()
    make_qwen2_bias()
    make_mistral()
    make_llama_bf16()
    make_llama_sharded()
    make_gpt2_reward()
    make_llama_reward()
    make_distilbert_cls()

    def fmt(x):
        return "   -    " if x != x else f"{x:.1e}"

    print(f"{'fixture':22} {'bytes':>7} {'logits':>10} {'pad':>4} {'std':>5} {'max|l|':>6} "
          f"{'f32-f64':>8} {'kv-full':>8} {'pad-alone':>9}  notes")
    for r in RESULTS:
        print(f"{r['name']:22} {r['size']:7d} {r['shape']:>10} {r['pads']:>4} {r['std']:5.2f} {r['amax']:6.2f} "
              f"{fmt(r['f32']):>8} {fmt(r['kv']):>8} {fmt(r['pad']):>9}  {r['notes']}")
    print("negative controls (max |logit diff| vs golden when deliberately wrong; all > 1e-3):")
    for r in RESULTS:
        if r["sens"]:
            print(f"  {r['name']:22} " + ", ".join(f"{k}: {v:.2g}" for k, v in r["sens"].items()))
    print(f"total {sum(r['size'] for r in RESULTS)} bytes; all self-checks passed")


if __name__ == "__main__":
    main()
