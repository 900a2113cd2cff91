#!/usr/bin/env python3
"""Independent NumPy reference for the Llama/Qwen2 forward pass (Hugging Face semantics), used as a
fixture by Tests/ModelTests. Float64 throughout, written from the transformers formulas, not from
the Swift code: RMSNorm (x * rsqrt(mean(x^2) + eps) * w), RoPE with rotate_half and
inv_freq = theta^(-2i/D) (cos/sin tables over cat(freqs, freqs)), GQA via repeat_kv, causal softmax
attention with scale 1/sqrt(D), SwiGLU down(silu(gate(x)) * up(x)), optional q/k/v bias, optional
tied lm_head. Weights use the HF state-dict names, Linear stored [out, in].

Run: python3 scripts/make_model_fixtures.py  (writes Tests/ModelTests/Fixtures/model.json)
"""
import json
import os

import numpy as np


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], -1)


def forward(cfg, W, ids):
    B, T = ids.shape
    d, H, KV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = d // H
    inv_freq = 1.0 / (cfg["rope_theta"] ** (np.arange(0, D, 2, dtype=np.float64) / D))
    freqs = np.arange(T, dtype=np.float64)[:, None] * inv_freq[None, :]
    emb = np.concatenate([freqs, freqs], -1)
    cos, sin = np.cos(emb), np.sin(emb)  # (T, D)
    x = W["model.embed_tokens.weight"][ids]  # (B, T, d)
    hidden = []
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = rms_norm(x, W[p + "input_layernorm.weight"], cfg["rms_norm_eps"])

        def proj(name, n):
            y = a @ W[p + f"self_attn.{name}_proj.weight"].T
            if cfg["qkv_bias"]:
                y = y + W[p + f"self_attn.{name}_proj.bias"]
            return y.reshape(B, T, n, D).transpose(0, 2, 1, 3)  # (B, n, T, D)

        q, k, v = proj("q", H), proj("k", KV), proj("v", KV)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = np.repeat(k, H // KV, axis=1)
        v = np.repeat(v, H // KV, axis=1)
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(D)
        s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
        s = np.exp(s - s.max(-1, keepdims=True))
        probs = s / s.sum(-1, keepdims=True)
        o = (probs @ v).transpose(0, 2, 1, 3).reshape(B, T, H * D)
        x = x + o @ W[p + "self_attn.o_proj.weight"].T
        m = rms_norm(x, W[p + "post_attention_layernorm.weight"], cfg["rms_norm_eps"])
        g = m @ W[p + "mlp.gate_proj.weight"].T
        u = m @ W[p + "mlp.up_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ W[p + "mlp.down_proj.weight"].T
        hidden.append(x)
    h = rms_norm(x, W["model.norm.weight"], cfg["rms_norm_eps"])
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return h @ head.T, hidden


def make_case(name, cfg, seed, B, T):
    rng = np.random.default_rng(seed)
    d, H, KV, F, V = (cfg[k] for k in ("hidden_size", "num_attention_heads", "num_key_value_heads",
                                       "intermediate_size", "vocab_size"))
    D = d // H
    W = {"model.embed_tokens.weight": rng.normal(0, 0.5, (V, d))}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        W[p + "self_attn.q_proj.weight"] = rng.normal(0, 0.3, (H * D, d))
        W[p + "self_attn.k_proj.weight"] = rng.normal(0, 0.3, (KV * D, d))
        W[p + "self_attn.v_proj.weight"] = rng.normal(0, 0.3, (KV * D, d))
        if cfg["qkv_bias"]:
            W[p + "self_attn.q_proj.bias"] = rng.normal(0, 0.2, H * D)
            W[p + "self_attn.k_proj.bias"] = rng.normal(0, 0.2, KV * D)
            W[p + "self_attn.v_proj.bias"] = rng.normal(0, 0.2, KV * D)
        W[p + "self_attn.o_proj.weight"] = rng.normal(0, 0.3, (d, H * D))
        W[p + "mlp.gate_proj.weight"] = rng.normal(0, 0.3, (F, d))
        W[p + "mlp.up_proj.weight"] = rng.normal(0, 0.3, (F, d))
        W[p + "mlp.down_proj.weight"] = rng.normal(0, 0.3, (d, F))
        W[p + "input_layernorm.weight"] = 1 + rng.normal(0, 0.2, d)
        W[p + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.2, d)
    W["model.norm.weight"] = 1 + rng.normal(0, 0.2, d)
    if not cfg["tie_word_embeddings"]:
        W["lm_head.weight"] = rng.normal(0, 0.3, (V, d))
    W = {k: v.astype(np.float32).astype(np.float64) for k, v in W.items()}  # exactly representable
    ids = rng.integers(0, V, (B, T))
    logits, hidden = forward(cfg, W, ids)
    return {"name": name, "config": cfg, "batch": B, "length": T, "tokens": ids.reshape(-1).tolist(),
            "weights": {k: v.reshape(-1).tolist() for k, v in W.items()},
            "logits": logits.reshape(-1).tolist(), "hidden_last": hidden[-1].reshape(-1).tolist()}


def main():
    base = dict(vocab_size=23, hidden_size=16, intermediate_size=40, num_hidden_layers=2,
                num_attention_heads=4, rms_norm_eps=1e-6, rope_theta=10000.0, max_position_embeddings=32)
    cases = [
        make_case("qwen2_gqa_bias", dict(base, num_key_value_heads=2, qkv_bias=True, tie_word_embeddings=False), 1, 2, 9),
        make_case("llama_tied", dict(base, num_key_value_heads=4, qkv_bias=False, tie_word_embeddings=True,
                                     rope_theta=500.0), 2, 3, 7),
    ]
    out = os.path.join(os.path.dirname(__file__), "..", "Tests", "ModelTests", "Fixtures", "model.json")
    with open(out, "w") as f:
        json.dump({"generator": "scripts/make_model_fixtures.py", "cases": cases}, f)
    print("wrote", os.path.normpath(out))


if __name__ == "__main__":
    main()
