#!/usr/bin/env python3
"""Independent forward references for the tensor engine's ops (Tests/TensorTests/Fixtures/ops.json).

Every op is recomputed here in float64 numpy from the same float32 inputs the Swift tests feed to the
engine, so the tests compare the fused Swift kernels against straightforward textbook formulas written
separately. Inputs are seeded and rounded to 4 decimals (short JSON that parses to the identical float32
on both sides); expected outputs carry 9 significant digits (more than float32 resolves).

Layout: {"version", "generator", "cases": {"<op>/<label>": case}} where a case is
  {"op": str, "inputs": {name: {"shape": [...], "data": [...]}}, "expected": {name: array},
   "ints": {name: [int]}, "floats": {name: float}}
Non-finite expected values (causalMask's -inf) are written as the strings "inf", "-inf", "nan".

Usage: python3 scripts/make_tensor_fixtures.py  (numpy only; rerun after changing a case)
"""

import json
import math
import os

import numpy as np

rng = np.random.default_rng(20240611)
cases = {}


# ---------------------------------------------------------------------------------------------- helpers

def f32(x):
    """Rounds to 4 decimals, then to float32, returned as float64 for the reference math."""
    return np.round(np.asarray(x, dtype=np.float64), 4).astype(np.float32).astype(np.float64)


def normal(shape, std=1.0):
    return f32(rng.normal(0.0, std, size=shape))


def uniform(shape, low, high):
    return f32(rng.uniform(low, high, size=shape))


def away_from(x, points, margin):
    """Moves every element at least `margin` away from each kink in `points` (finite differences with
    h = 1e-2 must not straddle a kink)."""
    x = np.array(x, dtype=np.float64)
    for p in points:
        d = x - p
        close = np.abs(d) < margin
        x[close] = p + np.where(d[close] >= 0, 1.0, -1.0) * (margin + 0.01)
    return f32(x)


def out_value(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(f"{v:.9g}")


def arr_in(x):
    x = np.asarray(x, dtype=np.float64)
    return {"shape": list(x.shape), "data": [float(v) for v in np.round(x.reshape(-1), 4)]}


def arr_out(x):
    x = np.asarray(x, dtype=np.float64)
    return {"shape": list(x.shape), "data": [out_value(v) for v in x.reshape(-1)]}


def add_case(op, label, inputs, expected, ints=None, floats=None):
    key = f"{op}/{label}"
    assert key not in cases, key
    cases[key] = {
        "op": op,
        "inputs": {k: arr_in(v) for k, v in inputs.items()},
        "expected": {k: arr_out(v) for k, v in expected.items()},
        "ints": {k: [int(i) for i in np.asarray(v).reshape(-1)] for k, v in (ints or {}).items()},
        "floats": {k: float(v) for k, v in (floats or {}).items()},
    }


def shape_label(*shapes):
    return "_".join("x".join(str(d) for d in s) if len(s) else "scalar" for s in shapes)


# ------------------------------------------------------------------------------------------ references

def sigmoid(x):
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def gelu_tanh(x):
    # PyTorch gelu(approximate="tanh")
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def cross_entropy(logits, targets, ignore, eps):
    v = logits.shape[-1]
    lp = log_softmax(logits.reshape(-1, v))
    losses = []
    for r, t in enumerate(targets):
        if t == ignore:
            continue
        losses.append(-(1 - eps) * lp[r, t] - eps / v * np.sum(lp[r]))
    return np.array(np.mean(losses) if losses else 0.0)


# ------------------------------------------------------------------------------------------------ cases

# matmul: 2-D, all four transpose combinations, K and N not multiples of 16
for (m, k, n) in [(3, 5, 17), (1, 33, 5), (17, 1, 33), (5, 17, 1)]:
    for ta in (0, 1):
        for tb in (0, 1):
            a = normal((k, m) if ta else (m, k))
            b = normal((n, k) if tb else (k, n))
            opa = a.T if ta else a
            opb = b.T if tb else b
            add_case("matmul", f"{'t' if ta else 'n'}{'t' if tb else 'n'}_{m}x{k}x{n}",
                     {"a": a, "b": b}, {"out": opa @ opb}, ints={"transposeA": [ta], "transposeB": [tb]})

# matmul: batched A against a shared 2-D B, and batched A against batched B
for (batch, m, k, n) in [(2, 3, 17, 5), (3, 5, 1, 33)]:
    for ta in (0, 1):
        for tb in (0, 1):
            a = normal((batch,) + ((k, m) if ta else (m, k)))
            b = normal((n, k) if tb else (k, n))
            opa = np.swapaxes(a, -1, -2) if ta else a
            opb = b.T if tb else b
            add_case("matmul", f"shared{'t' if ta else 'n'}{'t' if tb else 'n'}_{batch}x{m}x{k}x{n}",
                     {"a": a, "b": b}, {"out": np.matmul(opa, opb)},
                     ints={"transposeA": [ta], "transposeB": [tb]})
for (lead, m, k, n) in [((2,), 5, 17, 33), ((2, 2), 3, 5, 1)]:
    for ta in (0, 1):
        for tb in (0, 1):
            a = normal(lead + ((k, m) if ta else (m, k)))
            b = normal(lead + ((n, k) if tb else (k, n)))
            opa = np.swapaxes(a, -1, -2) if ta else a
            opb = np.swapaxes(b, -1, -2) if tb else b
            add_case("matmul",
                     f"batched{'t' if ta else 'n'}{'t' if tb else 'n'}_{'x'.join(map(str, lead))}x{m}x{k}x{n}",
                     {"a": a, "b": b}, {"out": np.matmul(opa, opb)},
                     ints={"transposeA": [ta], "transposeB": [tb]})

# linear: x W^T + b with W stored [out, in]
for (xs, out_f, bias) in [((2, 3, 17), 5, True), ((4, 33), 1, True), ((3, 5), 17, False)]:
    x = normal(xs)
    w = normal((out_f, xs[-1]), 0.5)
    inputs = {"x": x, "weight": w}
    y = x @ w.T
    if bias:
        b = normal((out_f,))
        inputs["bias"] = b
        y = y + b
    add_case("linear", shape_label(xs, (out_f,)) + ("" if bias else "_nobias"), inputs, {"out": y})

# binary ops with broadcasting over leading dims (the smaller shape is a suffix of the larger)
binary_shapes = [((2, 3, 5), (2, 3, 5)), ((2, 3, 17), (17,)), ((33,), (2, 33)), ((2, 3, 5), (3, 5)),
                 ((4, 1), (1,))]
for op, fn in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.divide)]:
    for sa, sb in binary_shapes:
        a = normal(sa)
        if op == "div":
            b = f32(rng.uniform(0.5, 2.0, size=sb) * rng.choice([-1.0, 1.0], size=sb))
        else:
            b = normal(sb)
        add_case(op, shape_label(sa, sb), {"a": a, "b": b}, {"out": fn(a, b)})

for shape, s in [((2, 17), -1.5), ((33,), 0.25), ((1,), 3.0)]:
    x = normal(shape)
    add_case("scale", shape_label(shape), {"x": x}, {"out": x * np.float32(s)}, floats={"s": s})
for shape, s in [((3, 5), 2.5), ((17,), -0.75)]:
    x = normal(shape)
    add_case("addScalar", shape_label(shape), {"x": x}, {"out": x + np.float32(s)}, floats={"s": s})

# unary ops; "wide" cases reach the saturated tails of the vectorised exp
unary_shapes = [(1,), (5,), (2, 17), (3, 33)]
unary = {
    "exp": (np.exp, lambda s: uniform(s, -5, 5)),
    "log": (np.log, lambda s: uniform(s, 0.5, 5)),
    "tanh": (np.tanh, lambda s: normal(s, 1.5)),
    "sigmoid": (sigmoid, lambda s: normal(s, 2.0)),
    "silu": (lambda x: x * sigmoid(x), lambda s: normal(s, 2.0)),
    "gelu": (gelu_tanh, lambda s: normal(s, 2.0)),
    "relu": (lambda x: np.maximum(x, 0), lambda s: away_from(rng.normal(0, 1, size=s), [0.0], 0.05)),
}
for op, (fn, gen) in unary.items():
    for shape in unary_shapes:
        x = gen(shape)
        add_case(op, shape_label(shape), {"x": x}, {"out": fn(x)})
for op in ["tanh", "sigmoid", "silu", "gelu", "exp"]:
    x = uniform((17,), -20, 20)
    x[:4] = f32([-20.0, -9.5, 9.5, 20.0])
    add_case(op, "wide_17", {"x": x}, {"out": unary[op][0](x)})

for shape, lo, hi in [((2, 17), -0.5, 0.7), ((33,), 0.0, 1.0), ((5,), -1.0, -0.25)]:
    x = away_from(rng.normal(0, 1, size=shape), [lo, hi], 0.05)
    add_case("clamp", shape_label(shape), {"x": x}, {"out": np.clip(x, lo, hi)}, floats={"low": lo, "high": hi})
for op, fn in [("minimum", np.minimum), ("maximum", np.maximum)]:
    for shape in [(2, 17), (5,), (33,)]:
        a = normal(shape)
        b = normal(shape)
        gap = b - a
        b = f32(np.where(np.abs(gap) < 0.05, a + np.where(gap >= 0, 0.06, -0.06), b))
        add_case(op, shape_label(shape), {"a": a, "b": b}, {"out": fn(a, b)})

# reductions over one axis (keepDims on some) and over everything
for shape, axis, keep in [((2, 3, 5), 0, 0), ((2, 3, 5), 1, 1), ((2, 3, 5), 2, 0), ((2, 3, 5), -1, 1),
                          ((4, 17), 1, 0), ((4, 17), 0, 0), ((33,), 0, 0), ((3, 33, 1), 1, 0)]:
    x = normal(shape)
    for op, fn in [("sum", np.sum), ("mean", np.mean)]:
        add_case(op, f"{shape_label(shape)}_axis{axis}{'_keep' if keep else ''}", {"x": x},
                 {"out": fn(x, axis=axis, keepdims=bool(keep))}, ints={"axis": [axis], "keepDims": [keep]})
for shape in [(2, 3, 5), (33,), (1,), (4, 17)]:
    x = normal(shape)
    add_case("sumAll", shape_label(shape), {"x": x}, {"out": np.array(np.sum(x))})
    add_case("meanAll", shape_label(shape), {"x": x}, {"out": np.array(np.mean(x))})

# softmax family over the last axis; "wide" rows need the max subtraction
for shape, std in [((3, 1), 1.0), ((2, 5), 1.0), ((4, 17), 1.0), ((2, 33), 1.0), ((2, 2, 5), 1.0),
                   ((2, 17), 30.0)]:
    x = normal(shape, std)
    label = shape_label(shape) + ("_wide" if std > 1 else "")
    add_case("softmax", label, {"x": x}, {"out": softmax(x)})
    add_case("logSoftmax", label, {"x": x}, {"out": log_softmax(x)})

for shape in [(3, 3), (2, 3, 5), (2, 1, 17), (1, 2, 4, 4)]:
    x = normal(shape)
    t, s = shape[-2], shape[-1]
    out = x.copy()
    for i in range(t):
        out[..., i, s - t + i + 1:] = -np.inf
    add_case("causalMask", shape_label(shape), {"x": x}, {"out": out})
    add_case("maskedSoftmax", shape_label(shape), {"x": x}, {"out": softmax(out)})

# norms over the last axis
for shape in [(3, 17), (2, 2, 5), (4, 33), (3, 1)]:
    c = shape[-1]
    x = normal(shape)
    w = f32(1 + 0.3 * rng.normal(size=(c,)))
    b = normal((c,), 0.5)
    eps = 1e-5
    rms = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w
    mu = np.mean(x, axis=-1, keepdims=True)
    var = np.mean((x - mu) ** 2, axis=-1, keepdims=True)
    ln = (x - mu) / np.sqrt(var + eps) * w + b
    add_case("rmsNorm", shape_label(shape), {"x": x, "weight": w}, {"out": rms}, floats={"eps": eps})
    add_case("layerNorm", shape_label(shape), {"x": x, "weight": w, "bias": b}, {"out": ln}, floats={"eps": eps})

# index ops (repeated ids exercise the scatter-add backward)
for (v, c), ids_shape, ids in [((7, 5), (2, 3), [1, 3, 1, 6, 0, 3]), ((11, 17), (5,), [4, 4, 10, 0, 4]),
                               ((3, 33), (1,), [2])]:
    table = normal((v, c))
    ids = np.array(ids)
    add_case("embedding", shape_label((v, c), ids_shape), {"table": table},
             {"out": table[ids].reshape(ids_shape + (c,))}, ints={"ids": ids, "shape": list(ids_shape)})
for shape, index in [((4, 17), [16, 0, 5, 16]), ((2, 3, 5), [0, 4, 2, 2, 1, 3]), ((3, 1), [0, 0, 0])]:
    x = normal(shape)
    rows = x.reshape(-1, shape[-1])
    add_case("gatherRows", shape_label(shape), {"x": x},
             {"out": rows[np.arange(len(index)), index].reshape(shape[:-1])}, ints={"index": index})

# shape ops
for shapes, axis in [([(2, 3), (2, 5)], 1), ([(1, 4), (3, 4)], 0), ([(2, 1, 5), (2, 2, 5), (2, 3, 5)], 1),
                     ([(2, 3, 1), (2, 3, 17)], -1)]:
    xs = [normal(s) for s in shapes]
    add_case("concat", shape_label(*shapes) + f"_axis{axis}", {f"x{i}": x for i, x in enumerate(xs)},
             {"out": np.concatenate(xs, axis=axis)}, ints={"axis": [axis]})
for shape, sizes, axis in [((2, 10), [3, 7], 1), ((6, 5), [1, 2, 3], 0), ((2, 6, 5), [1, 5], 1),
                           ((2, 3, 33), [16, 17], -1)]:
    x = normal(shape)
    pieces = np.split(x, np.cumsum(sizes)[:-1], axis=axis)
    add_case("split", shape_label(shape) + f"_axis{axis}", {"x": x},
             {f"out{i}": p for i, p in enumerate(pieces)}, ints={"sizes": sizes, "axis": [axis]})
for shape, order in [((2, 3, 5), [2, 0, 1]), ((2, 3, 4, 5), [0, 2, 1, 3]), ((2, 3, 4, 5), [3, 1, 0, 2]),
                     ((17,), [0]), ((5, 17), [1, 0])]:
    x = normal(shape)
    add_case("permute", shape_label(shape) + "_" + "".join(map(str, order)), {"x": x},
             {"out": np.transpose(x, order)}, ints={"order": order})
for shape, (d0, d1) in [((2, 3, 17), (1, 2)), ((5, 33), (0, 1)), ((2, 3, 5), (0, -1))]:
    x = normal(shape)
    add_case("transpose", shape_label(shape) + f"_{d0}{d1}", {"x": x}, {"out": np.swapaxes(x, d0, d1)},
             ints={"dims": [d0, d1]})
for shape, new in [((2, 3, 5), [6, 5]), ((2, 3, 5), [-1, 15]), ((4, 17), [2, 2, 17])]:
    x = normal(shape)
    add_case("reshape", shape_label(shape) + "_to_" + "x".join(map(str, new)).replace("-1", "m1"), {"x": x},
             {"out": x.reshape(new)}, ints={"shape": new})

# losses
for shape in [(2, 17), (33,), (1,)]:
    a = normal(shape)
    b = normal(shape)
    add_case("mseLoss", shape_label(shape), {"a": a, "b": b}, {"out": np.array(np.mean((a - b) ** 2))})
for shape, targets, eps in [((5, 17), [3, -100, 16, 0, 7], 0.0), ((5, 17), [3, -100, 16, 0, 7], 0.1),
                            ((3, 33), [32, 1, 20], 0.2), ((4, 5), [-100, 2, -100, 4], 0.0),
                            ((2, 3, 5), [0, 1, 2, 3, 4, -100], 0.05), ((2, 1), [0, 0], 0.0)]:
    x = normal(shape, 2.0)
    add_case("crossEntropy", shape_label(shape) + f"_eps{eps}", {"logits": x},
             {"out": cross_entropy(x, targets, -100, eps)}, ints={"targets": targets},
             floats={"labelSmoothing": eps})


# fused ops added with the Model target (appended so earlier cases keep their random draws)
for shape in [(5,), (2, 17), (3, 33)]:
    g = normal(shape, 2.0)
    u = normal(shape)
    add_case("swiglu", shape_label(shape), {"gate": g, "up": u}, {"out": g * sigmoid(g) * u})


def attention_reference(q, k, v, heads, kv_heads, key_count):
    """P = softmax(causal(Q K^T / sqrt(D))) per head with grouped kv heads; O = P V, (B, T, H*D)."""
    b, t, hd = q.shape
    d = hd // heads
    group = heads // kv_heads
    s = key_count
    p = np.zeros((b, heads, t, s))
    o = np.zeros((b, t, hd))
    for bi in range(b):
        for h in range(heads):
            kh = h // group
            qh = q[bi, :, h * d:(h + 1) * d]
            kk = k[bi, :s, kh * d:(kh + 1) * d]
            vv = v[bi, :s, kh * d:(kh + 1) * d]
            scores = qh @ kk.T / math.sqrt(d)
            for i in range(t):
                scores[i, s - t + i + 1:] = -np.inf
            p[bi, h] = softmax(scores)
            o[bi, :, h * d:(h + 1) * d] = p[bi, h] @ vv
    return p, o


for (b, t, rows, key_count, heads, kv_heads, d) in [(2, 3, 6, 5, 4, 2, 5), (1, 4, 4, 4, 2, 1, 17),
                                                     (1, 1, 3, 3, 3, 3, 2)]:
    q = normal((b, t, heads * d))
    k = normal((b, rows, kv_heads * d))
    v = normal((b, rows, kv_heads * d))
    p, o = attention_reference(q, k, v, heads, kv_heads, key_count)
    add_case("attention", f"b{b}_t{t}_s{key_count}of{rows}_h{heads}_kv{kv_heads}_d{d}", {"q": q, "k": k, "v": v},
             {"probabilities": p, "out": o},
             ints={"heads": [heads], "kvHeads": [kv_heads], "keyCount": [key_count]})

for (b, t, heads, d, offset) in [(2, 3, 2, 6, 0), (1, 5, 3, 4, 7), (1, 2, 1, 34, 2)]:
    theta = 10000.0
    x = normal((b, t, heads * d))
    half = d // 2
    inv_freq = (1.0 / theta ** (np.arange(half) * 2.0 / d)).astype(np.float32)
    out = np.zeros_like(x)
    for ti in range(t):
        angle = (np.float32(offset + ti) * inv_freq).astype(np.float64)  # float32 product, as HF
        c, sn = np.cos(angle), np.sin(angle)
        for h in range(heads):
            xa = x[:, ti, h * d:h * d + half]
            xb = x[:, ti, h * d + half:(h + 1) * d]
            out[:, ti, h * d:h * d + half] = xa * c - xb * sn
            out[:, ti, h * d + half:(h + 1) * d] = xb * c + xa * sn
    add_case("rotary", f"b{b}_t{t}_h{heads}_d{d}_offset{offset}", {"x": x}, {"out": out},
             ints={"heads": [heads], "positionOffset": [offset], "positions": [offset + t + 3]},
             floats={"theta": theta})


# --------------------------------------------------------------------------------------------- output

def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "Tests", "TensorTests", "Fixtures", "ops.json")
    doc = {"version": 1, "generator": "scripts/make_tensor_fixtures.py (numpy %s, float64)" % np.__version__,
           "cases": cases}
    text = json.dumps(doc, separators=(",", ":"), sort_keys=True, allow_nan=False)
    with open(path, "w") as f:
        f.write(text + "\n")
    ops = sorted({c["op"] for c in cases.values()})
    print(f"wrote {len(cases)} cases for {len(ops)} ops ({len(text) / 1024:.0f} KB) to {path}")


if __name__ == "__main__":
    main()
