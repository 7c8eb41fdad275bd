"""Independent plain-PyTorch reference of Hugging Face transformer forward semantics.

Written from scratch (no `transformers` dependency) to produce golden fixtures for the
C# (TorchSharp) model code.  Everything is functional: a model is a `cfg` dict (the
content of config.json) plus a state dict `sd` of tensors keyed by the *canonical* HF
parameter names of the HF head class:

  GPT2LMHeadModel / GPT2ForSequenceClassification : transformer.*, lm_head.weight / score.weight
  Llama/Qwen2/Mistral ForCausalLM / ForSeqCls      : model.*,       lm_head.weight / score.weight
  DistilBertForSequenceClassification             : distilbert.*,  pre_classifier.*, classifier.*

`load_model_dir` reads an HF-format directory (single or sharded safetensors, F32/F16/BF16)
and normalises names to that canonical form (adds the missing `transformer.` prefix of old
GPT-2 checkpoints, drops the legacy `attn.bias`/`attn.masked_bias` buffers, materialises
tied lm_head weights).

Computation happens in the dtype of the tensors in `sd` (callers use float64 for goldens and
float32 for the self-checks).  Dropout is ignored (eval mode).

Masking conventions (HF eager attention):
  * causal LMs: key j is visible from query i iff j <= i and attention_mask[b, j] == 1;
    invisible scores are set to torch.finfo(float32).min before the softmax.
    Query rows whose every key is masked (left-padding positions) are don't-care.
  * position_ids default to HF generate's convention:
        position_ids = attention_mask.cumsum(-1) - 1; position_ids.masked_fill_(attention_mask == 0, 1)
  * sequence classification pooling (GPT2/Llama): logits at the last non-pad token,
        last = (arange(T) * (input_ids != pad_token_id)).argmax(-1)
  * DistilBERT: keys masked with finfo(float32).min, positions arange(T), CLS = position 0.
"""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np
import torch

MASK_MIN = torch.finfo(torch.float32).min

# ----------------------------------------------------------------------------------------
# safetensors I/O (written from the format description, no external package)
# ----------------------------------------------------------------------------------------

_DTYPE_TO_ST = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
}
_ST_SIZE = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}


def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2", copy=False).tobytes()
    if t.dtype == torch.float32:
        return t.numpy().astype("<f4", copy=False).tobytes()
    if t.dtype == torch.float16:
        return t.numpy().astype("<f2", copy=False).tobytes()
    if t.dtype == torch.int64:
        return t.numpy().astype("<i8", copy=False).tobytes()
    raise TypeError(f"unsupported dtype {t.dtype}")


def safetensors_bytes(tensors: dict, metadata: dict | None = None) -> bytes:
    """Serialise {name: tensor} to the safetensors format.

    Tensors are laid out sorted by (element size descending, name) so that every tensor
    starts at an offset aligned to its element size; the header is space-padded so that
    the data region starts at a multiple of 8.
    """
    meta = {"format": "pt"}
    if metadata:
        meta.update({str(k): str(v) for k, v in metadata.items()})
    order = sorted(tensors, key=lambda n: (-_ST_SIZE[_DTYPE_TO_ST[tensors[n].dtype]], n))
    header = {"__metadata__": meta}
    blobs = []
    offset = 0
    for name in order:
        t = tensors[name]
        b = _tensor_bytes(t)
        header[name] = {
            "dtype": _DTYPE_TO_ST[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(b)],
        }
        blobs.append(b)
        offset += len(b)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    return struct.pack("<Q", len(hjson)) + hjson + b"".join(blobs)


def write_safetensors(path: str, tensors: dict, metadata: dict | None = None) -> None:
    with open(path, "wb") as f:
        f.write(safetensors_bytes(tensors, metadata))


def read_safetensors(path: str) -> tuple[dict, dict]:
    """Returns ({name: tensor in stored dtype}, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    assert n % 8 == 0, "header length must be a multiple of 8"
    meta = header.pop("__metadata__", {})
    # offsets must tile the data region exactly (no gaps, no overlap)
    spans = sorted(tuple(info["data_offsets"]) for info in header.values())
    pos = 0
    for b0, b1 in spans:
        assert b0 == pos and b1 >= b0, "non-contiguous safetensors data"
        pos = b1
    assert pos == len(data) - (8 + n), "trailing or missing bytes in safetensors data"
    out = {}
    for name, info in header.items():
        b0, b1 = info["data_offsets"]
        raw = data[base + b0 : base + b1]
        shape = info["shape"]
        dt = info["dtype"]
        if dt == "F32":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<f4").astype(np.float32))
        elif dt == "F16":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<f2").astype(np.float16))
        elif dt == "BF16":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<i2").astype(np.int16)).view(torch.bfloat16)
        elif dt == "I64":
            t = torch.from_numpy(np.frombuffer(raw, dtype="<i8").astype(np.int64))
        else:
            raise TypeError(f"unsupported safetensors dtype {dt}")
        assert t.numel() * _ST_SIZE[dt] == b1 - b0
        out[name] = t.reshape(shape).clone()
    return out, meta


# ----------------------------------------------------------------------------------------
# Loading an HF model directory into canonical names
# ----------------------------------------------------------------------------------------


def read_model_dir_raw(model_dir: str) -> dict:
    idx = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            wmap = json.load(f)["weight_map"]
        sd = {}
        for fname in sorted(set(wmap.values())):
            part, _ = read_safetensors(os.path.join(model_dir, fname))
            for k, v in part.items():
                assert wmap[k] == fname, k
                sd[k] = v
        assert set(sd) == set(wmap)
        return sd
    sd, _ = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    return sd


def canonicalize(cfg: dict, raw: dict) -> dict:
    mt = cfg["model_type"]
    arch = cfg["architectures"][0]
    sd = {}
    if mt == "gpt2":
        for k, v in raw.items():
            if k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"):
                continue  # legacy causal-mask buffers, not parameters
            if k.startswith(("transformer.", "lm_head.", "score.")):
                sd[k] = v
            else:
                sd["transformer." + k] = v
        if arch == "GPT2LMHeadModel" and "lm_head.weight" not in sd:
            sd["lm_head.weight"] = sd["transformer.wte.weight"]
    elif mt in ("llama", "qwen2", "mistral"):
        sd = dict(raw)
        if arch.endswith("ForCausalLM") and "lm_head.weight" not in sd:
            assert cfg.get("tie_word_embeddings", True)
            sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    elif mt == "distilbert":
        sd = dict(raw)
    else:
        raise ValueError(mt)
    return sd


def load_model_dir(model_dir: str, dtype=torch.float32) -> tuple[dict, dict]:
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    sd = canonicalize(cfg, read_model_dir_raw(model_dir))
    return cfg, {k: v.to(dtype) for k, v in sd.items()}


# ----------------------------------------------------------------------------------------
# Shared pieces
# ----------------------------------------------------------------------------------------


def default_position_ids(attention_mask: torch.Tensor) -> torch.Tensor:
    """HF generate's convention for (left-)padded batches."""
    pos = attention_mask.long().cumsum(-1) - 1
    return pos.masked_fill(attention_mask == 0, 1)


def linear(x, w, b=None):
    y = x @ w.t()
    return y if b is None else y + b


def gelu_new(x):
    # tanh approximation ("gelu_new" / "gelu_pytorch_tanh")
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


# HF ACT2FN names used by the supported configs
ACT = {
    "gelu": gelu_erf,  # exact erf GELU
    "gelu_new": gelu_new,  # tanh approximation
    "gelu_pytorch_tanh": gelu_new,
    "relu": torch.relu,
    "silu": torch.nn.functional.silu,
}


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased variance
    return (x - mu) / torch.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    # HF LlamaRMSNorm: computed in fp32 (or wider), weight applied after casting back.
    in_dtype = x.dtype
    h = x.to(torch.float64 if in_dtype == torch.float64 else torch.float32)
    var = h.pow(2).mean(-1, keepdim=True)
    h = h * torch.rsqrt(var + eps)
    return w * h.to(in_dtype)


def causal_attention(q, k, v, attention_mask, past_len, scale):
    """q: [B,H,Tq,d]; k,v: [B,H,Tk,d] (Tk = past_len + Tq); attention_mask: [B,Tk] (1 = keep)."""
    Tq, Tk = q.shape[2], k.shape[2]
    qi = torch.arange(past_len, past_len + Tq).unsqueeze(1)
    kj = torch.arange(Tk).unsqueeze(0)
    allowed = (kj <= qi).unsqueeze(0).unsqueeze(0) & (attention_mask[:, None, None, :] != 0)
    scores = (q @ k.transpose(-1, -2)) * scale
    scores = scores.masked_fill(~allowed, MASK_MIN)
    probs = torch.softmax(scores, dim=-1)
    return probs @ v


def pool_last_non_pad(logits, input_ids, pad_token_id):
    """logits [B,T,L] -> [B,L] at the last non-pad token (HF's modern rule)."""
    B, T = input_ids.shape
    non_pad = (input_ids != pad_token_id).long()
    last = (torch.arange(T).unsqueeze(0) * non_pad).argmax(-1)
    return logits[torch.arange(B), last]


class KVCache:
    """Per-layer list of (key, value) with keys/values as fed to attention
    (GPT-2: per-head k/v; Llama: post-RoPE k and v, *before* GQA repetition)."""

    def __init__(self, n_layers):
        self.layers = [None] * n_layers

    @property
    def length(self):
        return 0 if self.layers[0] is None else self.layers[0][0].shape[2]

    def update(self, i, k, v):
        if self.layers[i] is not None:
            pk, pv = self.layers[i]
            k = torch.cat([pk, k], dim=2)
            v = torch.cat([pv, v], dim=2)
        self.layers[i] = (k, v)
        return k, v


# ----------------------------------------------------------------------------------------
# GPT-2
# ----------------------------------------------------------------------------------------


def gpt2_hidden(sd, cfg, input_ids, attention_mask=None, position_ids=None, cache: KVCache | None = None):
    """Returns final hidden states (after ln_f), [B,Tnew,E].

    With a cache, `input_ids` are only the new tokens, `attention_mask` covers past + new
    tokens and `position_ids` (if given) only the new tokens.
    """
    p = "transformer."
    E, H = cfg["n_embd"], cfg["n_head"]
    d = E // H
    eps = cfg["layer_norm_epsilon"]
    act = ACT[cfg.get("activation_function", "gelu_new")]
    assert not cfg.get("scale_attn_by_inverse_layer_idx", False)
    assert not cfg.get("reorder_and_upcast_attn", False)
    B, T = input_ids.shape
    past_len = cache.length if cache is not None else 0
    if attention_mask is None:
        attention_mask = torch.ones(B, past_len + T, dtype=torch.long)
    if position_ids is None:
        position_ids = default_position_ids(attention_mask)[:, past_len:]
    wte = sd[p + "wte.weight"]
    x = wte[input_ids] + sd[p + "wpe.weight"][position_ids]
    for i in range(cfg["n_layer"]):
        L = f"{p}h.{i}."
        h = layer_norm(x, sd[L + "ln_1.weight"], sd[L + "ln_1.bias"], eps)
        qkv = h @ sd[L + "attn.c_attn.weight"] + sd[L + "attn.c_attn.bias"]  # Conv1D: [in,out]
        q, k, v = qkv.split(E, dim=-1)
        q, k, v = (t.view(B, T, H, d).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k, v = cache.update(i, k, v)
        a = causal_attention(q, k, v, attention_mask, past_len, 1.0 / math.sqrt(d))
        a = a.transpose(1, 2).reshape(B, T, E)
        a = a @ sd[L + "attn.c_proj.weight"] + sd[L + "attn.c_proj.bias"]
        x = x + a
        h = layer_norm(x, sd[L + "ln_2.weight"], sd[L + "ln_2.bias"], eps)
        h = act(h @ sd[L + "mlp.c_fc.weight"] + sd[L + "mlp.c_fc.bias"])
        h = h @ sd[L + "mlp.c_proj.weight"] + sd[L + "mlp.c_proj.bias"]
        x = x + h
    return layer_norm(x, sd[p + "ln_f.weight"], sd[p + "ln_f.bias"], eps)


def gpt2_lm_logits(sd, cfg, input_ids, attention_mask=None, position_ids=None, cache=None):
    h = gpt2_hidden(sd, cfg, input_ids, attention_mask, position_ids, cache)
    return h @ sd["lm_head.weight"].t()  # tied to wte unless a separate lm_head was stored


def gpt2_seqcls_logits(sd, cfg, input_ids, attention_mask=None, position_ids=None):
    h = gpt2_hidden(sd, cfg, input_ids, attention_mask, position_ids)
    return pool_last_non_pad(h @ sd["score.weight"].t(), input_ids, cfg["pad_token_id"])


# ----------------------------------------------------------------------------------------
# Llama / Qwen2 / Mistral
# ----------------------------------------------------------------------------------------


def llama_head_dim(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def llama_inv_freq(cfg) -> torch.Tensor:
    """inv_freq in float32 as HF computes it, including rope_scaling 'llama3'."""
    d = llama_head_dim(cfg)
    base = float(cfg.get("rope_theta", 10000.0))
    inv_freq = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    rs = cfg.get("rope_scaling")
    if rs is None:
        return inv_freq
    rope_type = rs.get("rope_type", rs.get("type"))
    if rope_type == "default":
        return inv_freq
    if rope_type != "llama3":
        raise NotImplementedError(f"rope_type {rope_type}")
    factor = float(rs["factor"])
    low_ff = float(rs["low_freq_factor"])
    high_ff = float(rs["high_freq_factor"])
    old_ctx = float(rs["original_max_position_embeddings"])
    low_freq_wavelen = old_ctx / low_ff
    high_freq_wavelen = old_ctx / high_ff
    wavelen = 2 * math.pi / inv_freq
    # long wavelengths (low frequencies) are slowed down by `factor`
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    # in between, interpolate smoothly between scaled and unscaled
    smooth = (old_ctx / wavelen - low_ff) / (high_ff - low_ff)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen)
    return torch.where(is_medium, smoothed, scaled)


def rope_cos_sin(cfg, position_ids, dtype):
    inv_freq = llama_inv_freq(cfg)  # float32, like HF's buffer
    # HF: freqs = inv_freq @ position_ids in float32; emb = cat(freqs, freqs); cos/sin (attention_scaling 1.0)
    if dtype == torch.float64:
        freqs = position_ids.double().unsqueeze(-1) * inv_freq.double()
    else:
        freqs = position_ids.float().unsqueeze(-1) * inv_freq
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)  # [B,T,d]


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def apply_rope(x, cos, sin):
    # x [B,H,T,d]; cos/sin [B,T,d]
    cos = cos.unsqueeze(1)
    sin = sin.unsqueeze(1)
    return x * cos + rotate_half(x) * sin


def _apply_rope_interleaved(x, cos, sin):
    """NOT HF semantics: rotates adjacent pairs (x0,x1),(x2,x3)...; used only as a negative control."""
    h = x.shape[-1] // 2
    c = cos[..., :h].repeat_interleave(2, dim=-1).unsqueeze(1)
    s_ = sin[..., :h].repeat_interleave(2, dim=-1).unsqueeze(1)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    rot = torch.stack([-x2, x1], dim=-1).flatten(-2)
    return x * c + rot * s_


def _llama_biases(cfg):
    mt = cfg["model_type"]
    if mt == "qwen2":
        return True, False  # q/k/v bias always, o_proj never
    if mt == "mistral":
        return False, False
    ab = bool(cfg.get("attention_bias", False))
    return ab, ab  # llama: attention_bias applies to q, k, v and o


def llama_hidden(sd, cfg, input_ids, attention_mask=None, position_ids=None, cache: KVCache | None = None):
    """Final hidden states after model.norm, [B,Tnew,hidden]."""
    assert cfg.get("hidden_act", "silu") == "silu"
    assert not cfg.get("mlp_bias", False)
    p = "model."
    Hq, Hkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads") or cfg["num_attention_heads"]
    d = llama_head_dim(cfg)
    eps = cfg["rms_norm_eps"]
    qkv_bias, o_bias = _llama_biases(cfg)
    B, T = input_ids.shape
    past_len = cache.length if cache is not None else 0
    if attention_mask is None:
        attention_mask = torch.ones(B, past_len + T, dtype=torch.long)
    sw = cfg.get("sliding_window")
    if sw is not None and (cfg["model_type"] == "mistral" or cfg.get("use_sliding_window", False)):
        assert sw >= past_len + T, "sliding window not implemented (inactive for fixtures)"
    if position_ids is None:
        position_ids = default_position_ids(attention_mask)[:, past_len:]
    x = sd[p + "embed_tokens.weight"][input_ids]
    dtype = x.dtype
    cos, sin = rope_cos_sin(cfg, position_ids, dtype)
    n_rep = Hq // Hkv
    for i in range(cfg["num_hidden_layers"]):
        L = f"{p}layers.{i}."
        A = L + "self_attn."
        h = rms_norm(x, sd[L + "input_layernorm.weight"], eps)
        q = linear(h, sd[A + "q_proj.weight"], sd[A + "q_proj.bias"] if qkv_bias else None)
        k = linear(h, sd[A + "k_proj.weight"], sd[A + "k_proj.bias"] if qkv_bias else None)
        v = linear(h, sd[A + "v_proj.weight"], sd[A + "v_proj.bias"] if qkv_bias else None)
        q = q.view(B, T, Hq, d).transpose(1, 2)
        k = k.view(B, T, Hkv, d).transpose(1, 2)
        v = v.view(B, T, Hkv, d).transpose(1, 2)
        if cfg.get("_control_rope_interleaved"):  # deliberately wrong (GPT-J style), negative control only
            q = _apply_rope_interleaved(q, cos, sin)
            k = _apply_rope_interleaved(k, cos, sin)
        else:
            q = apply_rope(q, cos, sin)
            k = apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.update(i, k, v)
        # GQA: query head h uses kv head h // n_rep
        if cfg.get("_control_gqa_tile"):  # deliberately wrong (h % Hkv), negative control only
            k = k.repeat(1, n_rep, 1, 1)
            v = v.repeat(1, n_rep, 1, 1)
        else:
            k = k.repeat_interleave(n_rep, dim=1)
            v = v.repeat_interleave(n_rep, dim=1)
        a = causal_attention(q, k, v, attention_mask, past_len, d ** -0.5)
        a = a.transpose(1, 2).reshape(B, T, Hq * d)
        a = linear(a, sd[A + "o_proj.weight"], sd[A + "o_proj.bias"] if o_bias else None)
        x = x + a
        h = rms_norm(x, sd[L + "post_attention_layernorm.weight"], eps)
        M = L + "mlp."
        g = linear(h, sd[M + "gate_proj.weight"])
        u = linear(h, sd[M + "up_proj.weight"])
        h = linear(torch.nn.functional.silu(g) * u, sd[M + "down_proj.weight"])
        x = x + h
    return rms_norm(x, sd[p + "norm.weight"], eps)


def llama_lm_logits(sd, cfg, input_ids, attention_mask=None, position_ids=None, cache=None):
    h = llama_hidden(sd, cfg, input_ids, attention_mask, position_ids, cache)
    return h @ sd["lm_head.weight"].t()


def llama_seqcls_logits(sd, cfg, input_ids, attention_mask=None, position_ids=None):
    h = llama_hidden(sd, cfg, input_ids, attention_mask, position_ids)
    return pool_last_non_pad(h @ sd["score.weight"].t(), input_ids, cfg["pad_token_id"])


# ----------------------------------------------------------------------------------------
# DistilBERT
# ----------------------------------------------------------------------------------------


def distilbert_hidden(sd, cfg, input_ids, attention_mask=None):
    act = ACT[cfg.get("activation", "gelu")]
    assert not cfg.get("sinusoidal_pos_embds", False)
    p = "distilbert."
    D, H = cfg["dim"], cfg["n_heads"]
    d = D // H
    eps = 1e-12
    B, T = input_ids.shape
    if attention_mask is None:
        attention_mask = torch.ones(B, T, dtype=torch.long)
    E = p + "embeddings."
    x = sd[E + "word_embeddings.weight"][input_ids] + sd[E + "position_embeddings.weight"][torch.arange(T)].unsqueeze(0)
    x = layer_norm(x, sd[E + "LayerNorm.weight"], sd[E + "LayerNorm.bias"], eps)
    key_masked = (attention_mask == 0)[:, None, None, :]
    for i in range(cfg["n_layers"]):
        L = f"{p}transformer.layer.{i}."
        A = L + "attention."
        q = linear(x, sd[A + "q_lin.weight"], sd[A + "q_lin.bias"]).view(B, T, H, d).transpose(1, 2)
        k = linear(x, sd[A + "k_lin.weight"], sd[A + "k_lin.bias"]).view(B, T, H, d).transpose(1, 2)
        v = linear(x, sd[A + "v_lin.weight"], sd[A + "v_lin.bias"]).view(B, T, H, d).transpose(1, 2)
        q = q / math.sqrt(d)
        scores = (q @ k.transpose(-1, -2)).masked_fill(key_masked, MASK_MIN)
        a = torch.softmax(scores, dim=-1) @ v
        a = a.transpose(1, 2).reshape(B, T, D)
        a = linear(a, sd[A + "out_lin.weight"], sd[A + "out_lin.bias"])
        x = layer_norm(a + x, sd[L + "sa_layer_norm.weight"], sd[L + "sa_layer_norm.bias"], eps)
        F = L + "ffn."
        h = act(linear(x, sd[F + "lin1.weight"], sd[F + "lin1.bias"]))
        h = linear(h, sd[F + "lin2.weight"], sd[F + "lin2.bias"])
        x = layer_norm(h + x, sd[L + "output_layer_norm.weight"], sd[L + "output_layer_norm.bias"], eps)
    return x


def distilbert_seqcls_logits(sd, cfg, input_ids, attention_mask=None):
    h = distilbert_hidden(sd, cfg, input_ids, attention_mask)[:, 0]
    h = torch.relu(linear(h, sd["pre_classifier.weight"], sd["pre_classifier.bias"]))
    return linear(h, sd["classifier.weight"], sd["classifier.bias"])


# ----------------------------------------------------------------------------------------
# Dispatch
# ----------------------------------------------------------------------------------------


def is_causal_lm(cfg):
    return cfg["architectures"][0].endswith(("LMHeadModel", "ForCausalLM"))


def forward_logits(sd, cfg, input_ids, attention_mask=None, position_ids=None, cache=None):
    mt = cfg["model_type"]
    arch = cfg["architectures"][0]
    if mt == "gpt2":
        if arch == "GPT2LMHeadModel":
            return gpt2_lm_logits(sd, cfg, input_ids, attention_mask, position_ids, cache)
        if arch == "GPT2ForSequenceClassification":
            assert cache is None
            return gpt2_seqcls_logits(sd, cfg, input_ids, attention_mask, position_ids)
    elif mt in ("llama", "qwen2", "mistral"):
        if arch.endswith("ForCausalLM"):
            return llama_lm_logits(sd, cfg, input_ids, attention_mask, position_ids, cache)
        if arch.endswith("ForSequenceClassification"):
            assert cache is None
            return llama_seqcls_logits(sd, cfg, input_ids, attention_mask, position_ids)
    elif mt == "distilbert" and arch == "DistilBertForSequenceClassification":
        assert cache is None and position_ids is None
        return distilbert_seqcls_logits(sd, cfg, input_ids, attention_mask)
    raise ValueError(f"unsupported {mt}/{arch}")


def n_layers(cfg):
    return cfg.get("n_layer") or cfg.get("num_hidden_layers") or cfg["n_layers"]
