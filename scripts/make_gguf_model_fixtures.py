#!/usr/bin/env python3
"""Tiny GGUF models written by the `gguf` package, as llama.cpp's converter lays them out, with transformers' logits.

Run with a virtualenv holding torch, transformers and gguf:
    python scripts/make_gguf_model_fixtures.py
Writes Tests/ModelIOTests/Fixtures/gguf-models/:
  llama-f16.gguf     a tied Llama (no rotary scaling) in F16, q/k rows permuted as convert_hf_to_gguf.py does;
  qwen2-bf16.gguf    the qwen2-bf16-sharded fixture's weights (QKV biases) in BF16, with a byte-level BPE tokenizer;
  qwen3-f16.gguf     the qwen3-f16 fixture's weights (q/k norms, head_dim 16 != 32/4) in F16;
  <name>.logits.json the token ids and float32 logits transformers computes for the same weights;
  and small files the importer must refuse: another architecture, a mixture of experts, Llama 3.1 rope_freqs.
"""
import json
import os

import numpy as np
import torch
from gguf import GGMLQuantizationType, GGUFWriter
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ModelIOTests", "Fixtures")
OUT = os.path.join(ROOT, "gguf-models")
TOKENS = [1, 17, 5, 42, 63, 0, 8, 8, 31, 2, 55, 12, 40, 7, 3, 60, 21, 9, 44, 30]

NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
         "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
         "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
         "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}


def gguf_name(hf):
    if hf == "model.embed_tokens.weight": return "token_embd.weight"
    if hf == "model.norm.weight": return "output_norm.weight"
    if hf == "lm_head.weight": return "output.weight"
    parts = hf.split(".")  # model.layers.N.<module>.<sub>.weight|bias
    layer, module, kind = parts[2], ".".join(parts[3:-1]), parts[-1]
    return f"blk.{layer}.{NAMES[module]}.{kind}"


def permute(w, heads):
    # convert_hf_to_gguf.py LlamaModel.permute: interleave the two rotary halves of each head
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write(path, arch, config, state, dtype, extra=None, tokenizer=None, extra_tensors=None):
    w = GGUFWriter(path, arch)
    w.add_context_length(config.max_position_embeddings)
    w.add_embedding_length(config.hidden_size)
    w.add_block_count(config.num_hidden_layers)
    w.add_feed_forward_length(config.intermediate_size)
    w.add_head_count(config.num_attention_heads)
    w.add_head_count_kv(config.num_key_value_heads)
    w.add_layer_norm_rms_eps(config.rms_norm_eps)
    w.add_rope_freq_base(config.rope_parameters["rope_theta"])
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    for k, v in (extra or {}).items():
        w.add_uint32(k, v)
    if tokenizer:
        tokenizer(w)
    for name, t in state.items():
        a = t.detach().to(torch.float32).numpy()
        if arch == "llama" and name.endswith("q_proj.weight"): a = permute(a, config.num_attention_heads)
        if arch == "llama" and name.endswith("k_proj.weight"): a = permute(a, config.num_key_value_heads)
        if a.ndim == 1 or dtype == "f32":  # llama.cpp keeps norms and biases in F32
            w.add_tensor(gguf_name(name), a.astype(np.float32))
        elif dtype == "f16":
            w.add_tensor(gguf_name(name), a.astype(np.float16))
        else:  # bf16: the top half of each float32 (the weights are bfloat16 values already)
            bits = (a.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
            w.add_tensor(gguf_name(name), bits.view(np.uint8).reshape(a.shape[0], -1), raw_dtype=GGMLQuantizationType.BF16)
    for name, a in (extra_tensors or {}).items():
        w.add_tensor(name, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def logits(model, name):
    model = model.to(torch.float32).eval()
    with torch.no_grad():
        out = model(torch.tensor([TOKENS])).logits[0]
    with open(os.path.join(OUT, name + ".logits.json"), "w") as f:
        json.dump({"tokens": TOKENS, "shape": list(out.shape), "logits": [float(x) for x in out.flatten()]}, f)


def chat_tokenizer(w):
    tok = json.load(open(os.path.join(ROOT, "hf", "qwen2-chat", "tokenizer.json")))
    vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list([t for t, _ in vocab][:64])
    w.add_token_types([3 if t.startswith("<|") else 1 for t, _ in vocab][:64])
    kept = dict(vocab[:64])
    pairs = [m if isinstance(m, list) else m.split(" ") for m in tok["model"]["merges"]]
    w.add_token_merges([" ".join(p) for p in pairs if p[0] in kept and p[1] in kept and p[0] + p[1] in kept])
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                         rms_norm_eps=1e-5, tie_word_embeddings=True, rope_theta=10000.0))
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for n, p in llama.named_parameters():
            p.copy_((1.0 if "norm" in n else 0.0) + (0.5 if "norm" in n else 0.2) * torch.randn(p.shape, generator=g))
            if "norm" not in n: p.copy_(p.to(torch.float16).to(torch.float32))  # exactly representable in F16
    state = {k: v for k, v in llama.state_dict().items() if k != "lm_head.weight"}
    write(os.path.join(OUT, "llama-f16.gguf"), "llama", llama.config, state, "f16")
    logits(llama, "llama-f16")

    for name, arch, dtype in [("qwen2-bf16-sharded", "qwen2", "bf16"), ("qwen3-f16", "qwen3", "f16")]:
        model = AutoModelForCausalLM.from_pretrained(os.path.join(ROOT, "hf", name), dtype=torch.float32)
        short = name.split("-")[0] + "-" + dtype
        write(os.path.join(OUT, short + ".gguf"), arch, model.config, dict(model.state_dict()), dtype,
              tokenizer=chat_tokenizer if arch == "qwen2" else None)
        logits(model, short)

    # files to refuse: metadata is read before any tensor, so these carry only a few tensors
    write(os.path.join(OUT, "refuse-arch.gguf"), "gemma", llama.config, {}, "f16")
    write(os.path.join(OUT, "refuse-moe.gguf"), "llama", llama.config, {}, "f16", extra={"llama.expert_count": 8})
    # a whole llama plus Llama 3.1's rotary frequency factors
    write(os.path.join(OUT, "refuse-rope-freqs.gguf"), "llama", llama.config, state, "f16",
          extra_tensors={"rope_freqs.weight": np.ones(4, dtype=np.float32)})
    print(sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
