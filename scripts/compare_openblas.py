#!/usr/bin/env python3
"""sgemm with Debian's OpenBLAS against the scipy-openblas32 wheel's (and PyTorch's torch.mm), back to back.

Builds scripts/openblas_sgemm.c with cc, then runs ROUNDS rounds; each round runs every configuration once, in an
order rotated per round, each in a fresh process with OPENBLAS_CORETYPE set as `make print-coretype` says and
OPENBLAS_NUM_THREADS as the configuration runs OpenBLAS (1 for split, as `distill` starts it; THREADS for own):
  debian own / debian split / wheel own / wheel split / torch
"own" lets OpenBLAS thread one product itself (THREADS threads); "split" runs OpenBLAS single-threaded on two halves
of the product at once, as Tensor's sgemm does (what `distill bench` measures). Prints each run as a JSON line, then
the median GFLOP/s per configuration and shape (2048x256x768 is the bench's sgemm; the others SmolLM2-135M's).
Usage: python3 scripts/compare_openblas.py [--rounds 5] [--threads 2] [--python /work/venv/bin/python] [--out FILE]
The wheel must be unpacked (`make openblas-wheel`); without --python (an interpreter with torch) torch is left out.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEBIAN = "/usr/lib/x86_64-linux-gnu/libopenblas.so.0"
WHEEL = os.path.join(ROOT, ".cache/scipy-openblas32/scipy_openblas32/lib/libscipy_openblas.so")
SHAPES = ["2048x256x768", "2048x576x1536", "16x576x1536", "2048x576x49152"]
TORCH = """
import json, time, torch
torch.set_num_threads(%d)
out = {"core": "torch " + torch.__version__}
for m, k, n in [(2048, 256, 768), (2048, 576, 1536), (16, 576, 1536), (2048, 576, 49152)]:
    a = torch.rand(m, k) - 0.5; b = torch.rand(k, n) - 0.5; c = torch.empty(m, n)
    flop = 2.0 * m * n * k
    reps = min(2000, max(5, int(0.6 / (flop / 200e9))))
    for _ in range(2 if reps < 20 else 10): torch.mm(a, b, out=c)
    t = []
    for _ in range(reps):
        t0 = time.perf_counter(); torch.mm(a, b, out=c); t.append(time.perf_counter() - t0)
    t.sort()
    out[f"{m}x{k}x{n}"] = round(flop / t[reps // 2] / 1e9, 1)
print(json.dumps(out))
"""


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--python", help="an interpreter with torch, for torch.mm at the same shapes")
    p.add_argument("--out", help="also append every run's JSON line to this file")
    a = p.parse_args()
    for lib in (DEBIAN, WHEEL):
        if not os.path.exists(lib):
            sys.exit(f"{lib} is missing: `make setup` installs Debian's libopenblas, `make openblas-wheel` the wheel")
    core = subprocess.run(["make", "-s", "-C", ROOT, "print-coretype"], capture_output=True, text=True).stdout.strip()
    harness = os.path.join(tempfile.mkdtemp(), "openblas_sgemm")
    subprocess.run(["cc", "-O2", "-o", harness, os.path.join(ROOT, "scripts/openblas_sgemm.c"), "-ldl", "-lpthread"],
                   check=True)
    env = dict(os.environ)
    env.pop("OPENBLAS_NUM_THREADS", None)
    env.pop("GOTO_NUM_THREADS", None)
    if core:
        env["OPENBLAS_CORETYPE"] = core
    # Each library starts with the threads it will use, as `distill` starts it: one for split (no idle worker spinning
    # on the other core through the process's first 0.13 s, README "Sapphire Rapids again, 2026-12-07"), --threads for own.
    own = {**env, "OPENBLAS_NUM_THREADS": str(a.threads)}
    split = {**env, "OPENBLAS_NUM_THREADS": "1"}
    configs = {"debian own": ([harness, DEBIAN, "", str(a.threads)], own),
               "debian split": ([harness, DEBIAN, "", str(a.threads), "split"], split),
               "wheel own": ([harness, WHEEL, "scipy_", str(a.threads)], own),
               "wheel split": ([harness, WHEEL, "scipy_", str(a.threads), "split"], split)}
    if a.python:
        configs["torch"] = ([a.python, "-c", TORCH % a.threads], env)
    names = list(configs)
    runs = {n: [] for n in names}
    for r in range(a.rounds):
        for i in range(len(names)):
            name = names[(i + r) % len(names)]
            command, environment = configs[name]
            out = subprocess.run(command, env=environment, capture_output=True, text=True, check=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            runs[name].append(row)
            line = json.dumps({"round": r + 1, "setup": name, **row})
            print(line, flush=True)
            if a.out:
                with open(a.out, "a") as f:
                    f.write(line + "\n")
    print(f"\nmedian GFLOP/s over {a.rounds} rounds (min-max), {a.threads} threads, OPENBLAS_CORETYPE={core or 'unset'}")
    print("| configuration | core | " + " | ".join(SHAPES) + " |")
    print("|---" * (len(SHAPES) + 2) + "|")
    for n in names:
        cells = [f"{statistics.median(x[s] for x in runs[n]):.1f} ({min(x[s] for x in runs[n]):.0f}-"
                 f"{max(x[s] for x in runs[n]):.0f})" for s in SHAPES]
        print(f"| {n} | {runs[n][0]['core']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
