#!/usr/bin/env python3
"""Tiny random Hugging Face models and their logits, for the ModelIO importer tests.

Run with a virtualenv holding torch and transformers (`pip install torch==2.13.0+cpu transformers`):
    python scripts/make_hf_fixtures.py
Writes Tests/ModelIOTests/Fixtures/hf/<name>/ (config.json, safetensors as transformers' save_pretrained
writes them) and <name>/logits.json: the token ids and the float32 logits transformers computes for them.
Models: a Llama with Llama 3 rotary scaling and tied embeddings (float32), a Qwen2 (QKV bias) saved in
bfloat16 and sharded, a Qwen3 (q/k norms, explicit head_dim different from hidden/heads) in float16, and a tiny
chat model for curriculum tests: a Qwen2 over a 400-token byte-level BPE tokenizer trained by the `tokenizers`
library on GSM8K text, with ChatML special tokens and chat template (tokenizer.json, tokenizer_config.json).
"""
import json
import os
import shutil

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ModelIOTests", "Fixtures", "hf")
QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
TOKENS = [1, 17, 5, 42, 63, 0, 8, 8, 31, 2, 55, 12, 40, 7, 3, 60, 21, 9, 44, 30]


def randomize(model, seed):
    # HF's init leaves norms at 1 and biases at 0; random values test that every tensor is read.
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale = 0.5 if "norm" in name else 0.2
            base = 1.0 if "norm" in name else 0.0
            p.copy_(base + scale * torch.randn(p.shape, generator=g))


def write(name, model, dtype, shard=None):
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    model.eval()
    if dtype is not torch.float32:
        model = model.to(dtype)
    kwargs = {"max_shard_size": shard} if shard else {}
    model.save_pretrained(folder, safe_serialization=True, **kwargs)
    # The reference: the folder as saved, loaded back by transformers in float32 (as a user would; the rotary
    # frequencies are recomputed in float32 rather than kept at the save dtype's precision).
    model = type(model).from_pretrained(folder, dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([TOKENS])).logits[0]
    with open(os.path.join(folder, "logits.json"), "w") as f:
        json.dump({"tokens": TOKENS, "shape": list(logits.shape), "logits": [float(x) for x in logits.flatten()]}, f)
    print(name, sorted(os.listdir(folder)))


def chat_tokenizer(folder):
    """A 400-token byte-level BPE with ChatML specials, trained on GSM8K questions and answers."""
    data = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "gsm8k", "train.jsonl")
    rows = [json.loads(line) for line in open(data)][:2000]
    texts = [r["question"] + "\n" + r["answer"] for r in rows]
    # Qwen2's own normalizer and pre-tokenizer (single digits), so transformers' Qwen2Tokenizer, which rebuilds them
    # from the model type, encodes exactly as this tokenizer.json does
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer)
    tok.save(os.path.join(folder, "tokenizer.json"))
    template = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
                "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"chat_template": template, "eos_token": "<|im_end|>", "bos_token": None, "pad_token": "<|endoftext|>",
                   "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=1)
    return tok.get_vocab_size()


def main():
    torch.manual_seed(0)
    common = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5)
    llama = LlamaForCausalLM(LlamaConfig(**common, tie_word_embeddings=True, rope_theta=10000.0,
                                         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                       "high_freq_factor": 4.0, "original_max_position_embeddings": 16}))
    randomize(llama, 1)
    write("llama3-tied-f32", llama, torch.float32)

    qwen2 = Qwen2ForCausalLM(Qwen2Config(**common, tie_word_embeddings=False, rope_theta=1000000.0))
    randomize(qwen2, 2)
    write("qwen2-bf16-sharded", qwen2, torch.bfloat16, shard="20KB")

    qwen3 = Qwen3ForCausalLM(Qwen3Config(**common, head_dim=16, tie_word_embeddings=False, rope_theta=1000000.0))
    randomize(qwen3, 3)
    write("qwen3-f16", qwen3, torch.float16)

    folder = os.path.join(OUT, "qwen2-chat")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    vocab = chat_tokenizer(folder)
    chat = Qwen2ForCausalLM(Qwen2Config(**dict(common, vocab_size=vocab, max_position_embeddings=256),
                                        tie_word_embeddings=True, rope_theta=10000.0))
    randomize(chat, 4)
    chat.eval()
    chat.save_pretrained(folder, safe_serialization=True)
    print("qwen2-chat", sorted(os.listdir(folder)), "vocab", vocab)


if __name__ == "__main__":
    main()
