#!/usr/bin/env python3
"""Run the PyTorch anchor (../shared/anchors/torch_anchor.py) and `distill bench` back to back, several
rounds interleaved, and print the median of each figure and the ratio ours / torch. With --lm, the
real-model-scale comparison instead: ../shared/anchors/torch_anchor_lm.py (transformers' LlamaForCausalLM on
SmolLM2-135M's shape) against `distill bench --phases lm`, the same figure names with `lm_` on ours.

The machine is shared and noisy: only ratios measured in the same window mean anything, so each round
runs both, and the medians over rounds are compared.

With --distill PATH given more than once (e.g. the binaries of two commits), every round runs the anchor and then
each binary in turn, and the table has a column and a ratio to PyTorch for each: "before and after" in one window.

Usage: python3 scripts/compare_with_torch.py [--rounds 3] [--python .venv-torch/bin/python] [--json OUT] [--ppo-only | --lm]
                                             [--distill PATH ...]
Needs a virtualenv with torch: python3 -m venv .venv-torch && .venv-torch/bin/pip install torch==2.13.0+cpu
(and `transformers` for --lm)
and a release build: swift build -c release
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANCHOR = os.path.join(ROOT, "..", "shared", "anchors", "torch_anchor.py")
ANCHOR_LM = os.path.join(ROOT, "..", "shared", "anchors", "torch_anchor_lm.py")
# (our key, torch key, what it is, target ratio from the issues)
PAIRS = [
    ("sgemm_2048x256x768_gflops", "sgemm_2048x256x768_gflops", "sgemm 2048x256x768 GFLOP/s", None),
    ("train_teacher_tok_s", "train_teacher_tok_s", "teacher training tokens/s", 1.1),
    ("train_teacher_mfu", "train_teacher_mfu", "teacher training MFU", None),
    ("train_student_tok_s", "train_student_tok_s", "student training tokens/s", 1.3),
    ("train_student_mfu", "train_student_mfu", "student training MFU", None),
    ("distill_tok_s", "distill_tok_s", "distillation step tokens/s", 1.2),
    ("sample_kv_tok_s", "sample_kv_tok_s", "KV-cache sampling new tokens/s", 3.0),
    ("ppo_update_ms", "ppo_update_ms", "PPO update ms (16 x 96, 2x4 minibatches)", 1.5),
]
# Issue 23's figures at SmolLM2-135M's shape (batch 8 x 256, student = 10 of the 30 layers).
PAIRS_LM = [
    ("lm_score_tok_s", "score_tok_s", "score: teacher forward + log-probs tok/s", 1.3),
    ("lm_train_student_tok_s", "train_student_tok_s", "train student (10 layers) tok/s", 1.3),
    ("lm_distill_tok_s", "distill_tok_s", "distill (full vocab, T 2, 0.5 KL + 0.5 CE) tok/s", 1.3),
    ("lm_distill_topk_tok_s", "distill_tok_s", "distill from the top-k cache (k 64) vs torch's full-vocab distill tok/s", 2.5),
    ("lm_generate_tok_s", "generate_tok_s", "generate (16 x 64, +64 greedy, KV) new tok/s", 3.0),
    ("lm_peak_rss_mb_score", "peak_rss_mb_score", "peak RSS MB, score", 1.0),
    ("lm_peak_rss_mb_train", "peak_rss_mb_train", "peak RSS MB, train", 1.0),
    ("lm_peak_rss_mb_distill", "peak_rss_mb_distill", "peak RSS MB, distill", 1.0),
    ("lm_peak_rss_mb_generate", "peak_rss_mb_generate", "peak RSS MB, generate", 1.0),
]
# Figures where smaller is better (times, memory): their ratio is torch / ours, so > 1 still means we are better.
LOWER_IS_BETTER = {"ppo_update_ms", "lm_peak_rss_mb_score", "lm_peak_rss_mb_train", "lm_peak_rss_mb_distill",
                   "lm_peak_rss_mb_generate", "lm_peak_rss_mb_distill_topk"}


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--python", default=os.path.join(ROOT, ".venv-torch", "bin", "python"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", default=None, help="also write all raw figures to this file")
    ap.add_argument("--ppo-only", action="store_true", help="compare only the PPO update (both sides run just that phase)")
    ap.add_argument("--distill", action="append", default=None, metavar="PATH",
                    help="a distill binary to compare (repeatable; default .build/release/distill)")
    ap.add_argument("--lm", action="store_true", help="compare at SmolLM2-135M's shape (torch_anchor_lm.py against --phases lm)")
    a = ap.parse_args()
    if a.ppo_only and a.lm:
        sys.exit("--ppo-only and --lm are two different comparisons: choose one")
    anchor = ANCHOR_LM if a.lm else ANCHOR
    torch_args = ["--retries", "0", "--phases", "ppo" if a.ppo_only else "sgemm,train_student,train_teacher,distill,sample_kv,ppo"]
    if a.lm:
        torch_args = ["--phases", "score,train,distill,generate"]
    our_phases = "lm" if a.lm else "ppo" if a.ppo_only else "kernels,model,ppo"
    pairs = PAIRS_LM if a.lm else [p for p in PAIRS if p[0] in LOWER_IS_BETTER] if a.ppo_only else PAIRS
    binaries = a.distill or [os.path.join(ROOT, ".build", "release", "distill")]
    for path, fix in [(b, "run `swift build -c release`") for b in binaries] + [(a.python, "make the torch virtualenv (see --help)")]:
        if not os.path.exists(path):
            sys.exit(f"missing {path}: {fix}")
    ours, theirs = [[] for _ in binaries], []
    for r in range(a.rounds):
        print(f"round {r + 1}/{a.rounds}: torch anchor", file=sys.stderr, flush=True)
        t = subprocess.run([a.python, anchor, "--json", "--reps", str(a.reps)] + torch_args,
                           capture_output=True, text=True, check=True)
        theirs.append(last_json(t.stdout))
        for i, binary in enumerate(binaries):
            print(f"round {r + 1}/{a.rounds}: {binary} bench", file=sys.stderr, flush=True)
            o = subprocess.run([binary, "bench", "--json", "--reps", str(a.reps), "--phases", our_phases],
                               capture_output=True, text=True, check=True, cwd=ROOT)
            ours[i].append(last_json(o.stdout))
    rows = []
    if len(binaries) > 1:
        for i, binary in enumerate(binaries):
            print(f"[{i + 1}] {binary}")
    heads = ["TraceDistill"] if len(binaries) == 1 else [f"[{i + 1}]" for i in range(len(binaries))]
    print(f"{'figure':34} " + " ".join(f"{h:>13}" for h in heads) + f" {'PyTorch':>10} "
          + " ".join(f"{'ratio' + ('' if len(binaries) == 1 else h):>9}" for h in heads) + f" {'goal':>6}")
    for ok, tk, name, goal in pairs:
        t = statistics.median(x[tk] for x in theirs if tk in x)
        values, ratios = [], []
        for runs in ours:
            o = statistics.median(x[ok] for x in runs if ok in x)
            values.append(o)
            if ok in LOWER_IS_BETTER:
                ratios.append(t / o if o else float("nan"))
            else:
                ratios.append(o / t if t else float("nan"))
        if len(binaries) == 1:
            rows.append(dict(figure=name, ours=values[0], torch=t, ratio=ratios[0], goal=goal))
        else:
            rows.append(dict(figure=name, ours=values, torch=t, ratio=ratios, goal=goal))
        print(f"{name:34} " + " ".join(f"{o:13.4g}" for o in values) + f" {t:10.4g} "
              + " ".join(f"{x:9.2f}" for x in ratios) + f" {('>=%.1fx' % goal) if goal else '':>6}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(rows=rows, binaries=binaries, ours=ours if len(binaries) > 1 else ours[0], torch=theirs),
                      f, indent=1)


if __name__ == "__main__":
    main()
