#!/usr/bin/env python3
"""Reference bytes for the GGUF exporter's quantizers, from gguf-py's numpy quantizers (gguf.quants.quantize).

Run with a virtualenv holding gguf and numpy (the tests do not need it):
    python scripts/make_gguf_export_fixtures.py
Writes Tests/ModelIOTests/Fixtures/gguf-export/:
  quant-input.f32   float32 little-endian input: 64 blocks of 32 values (seeded normals at several scales, plus
                    hand-made edge blocks: all zeros, equal magnitudes of both signs, exact .5 steps, one outlier,
                    half-precision overflow and subnormals);
  quant-q8_0.bin, quant-q4_0.bin, quant-f16.bin   gguf.quants.quantize(input, Q8_0 / Q4_0 / F16) as bytes;
  quant.json        the gguf package version that made them.
"""
import json
import os
from importlib.metadata import version

import numpy as np
from gguf import GGMLQuantizationType
from gguf.quants import quantize

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ModelIOTests", "Fixtures", "gguf-export")


def blocks():
    rng = np.random.default_rng(24)
    out = [rng.standard_normal(32).astype(np.float32) * np.float32(s) for s in (1, 0.02, 3e-3, 40) for _ in range(12)]
    edge = [
        np.zeros(32, np.float32),                                        # d = 0: every q 0 (q4_0: 8)
        np.array([2.0, -2.0] * 16, np.float32),                          # equal magnitudes: the first (+2) is the max
        np.array([-2.0, 2.0] * 16, np.float32),                          # ... and here the first is -2
        np.arange(-16, 16, dtype=np.float32) + np.float32(0.5),          # ties
        np.concatenate([np.full(31, 1e-3, np.float32), [np.float32(50)]]),  # one outlier
        (np.arange(32, dtype=np.float32) - 16) * np.float32(127 / 16),   # x / d lands on .5 steps for q8_0
        np.concatenate([[np.float32(127)], np.arange(31, dtype=np.float32) + np.float32(0.5)]),  # d = 1 exactly
        np.array([70000, -70000, 65504, 65520, 1e-8, -1e-8, 6e-8, 3e-5] * 4, np.float32),  # f16 range edges
    ]
    out += edge
    while len(out) < 64:
        out.append((rng.uniform(-1, 1, 32) ** 3).astype(np.float32))
    return np.concatenate(out).astype(np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    x = blocks()
    assert x.size == 64 * 32
    x.astype("<f4").tofile(os.path.join(OUT, "quant-input.f32"))
    for name, qtype in [("q8_0", GGMLQuantizationType.Q8_0), ("q4_0", GGMLQuantizationType.Q4_0),
                        ("f16", GGMLQuantizationType.F16)]:
        with np.errstate(over="ignore"):
            q = quantize(x.reshape(64, 32), qtype)
        np.ascontiguousarray(q).view(np.uint8).tofile(os.path.join(OUT, f"quant-{name}.bin"))
    with open(os.path.join(OUT, "quant.json"), "w") as f:
        json.dump({"gguf": version("gguf"), "numpy": np.__version__, "blocks": 64, "block_size": 32}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
