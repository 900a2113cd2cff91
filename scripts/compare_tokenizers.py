#!/usr/bin/env python3
"""The Swift BPE tokenizer against the Hugging Face `tokenizers` library, back to back, on the same text and tokenizer.

    python scripts/compare_tokenizers.py [--rounds 3] [--tokenizer FILE]   (a venv with `tokenizers`)

Each round runs `distill bench --phases tokenize --json` (which also exports its tokenizer as tokenizer.json), then
the library on that exported file: the GSM8K train text (question, newline, answer per row; rows joined by
newlines) encoded one line per call on one thread (TOKENIZERS_PARALLELISM=false, no encode_batch), no special
tokens added. Both count tokens; the counts must agree. Prints each round's MB/s and the median ratio.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GSM8K = os.path.join(ROOT, "..", "shared", "data", "gsm8k", "train.jsonl")


def library(path, lines, megabytes):
    tok = Tokenizer.from_file(path)
    for line in lines[:2000]:  # warm up as the Swift side does (one untimed pass of part of the text)
        tok.encode(line, add_special_tokens=False)
    start = time.perf_counter()
    tokens = sum(len(tok.encode(line, add_special_tokens=False).ids) for line in lines)
    return megabytes / (time.perf_counter() - start), tokens


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokenizer", help="tokenizer.json or .gguf (default: distill bench's)")
    parser.add_argument("--distill", default=os.path.join(ROOT, ".build", "release", "distill"))
    args = parser.parse_args()
    with open(GSM8K, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    text = "\n".join(r["question"] + "\n" + r["answer"] for r in rows)
    lines, megabytes = text.split("\n"), len(text.encode("utf-8")) / 1e6
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        export = os.path.join(tmp, "tokenizer.json")
        for r in range(args.rounds):
            cmd = [args.distill, "bench", "--phases", "tokenize", "--json", "--reps", "3", "--text", GSM8K,
                   "--tokenizer-export", export] + (["--tokenizer", args.tokenizer] if args.tokenizer else [])
            ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout.strip().splitlines()[-1])
            theirs, tokens = library(export, lines, megabytes)
            if tokens != ours["tokenize_tokens"]:
                raise SystemExit(f"token counts differ: distill {ours['tokenize_tokens']}, tokenizers {tokens}")
            ratios.append(ours["tokenize_mb_s"] / theirs)
            print(f"round {r + 1}: distill {ours['tokenize_mb_s']:.2f} MB/s, tokenizers {theirs:.2f} MB/s "
                  f"({tokens} tokens, vocabulary {ours['tokenize_vocabulary']}): {ratios[-1]:.2f}x")
    print(f"median ratio distill / tokenizers: {statistics.median(ratios):.2f}x (goal >= 0.5x)")


if __name__ == "__main__":
    main()
