import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// Interoperability both ways: h5py (in a virtualenv the test makes) and the hdf5-tools read a file
// the project wrote, with the documented names, dtypes, shapes, values and root attributes; and a file
// h5py writes with the same layout (no fletcher32, no parameter_order) loads in the project.

/// Prints one JSON object describing an HDF5 file: root attributes with their Python types, and for
/// every object its kind, attributes and (datasets) dtype, shape, fletcher32 flag and values (floats as
/// hex bit patterns so nothing is lost in decimal).
private let describeScript = #"""
import hashlib, json, sys
import h5py, numpy as np

def attr(v):
    if isinstance(v, str):
        return {"type": "str", "value": v}
    if isinstance(v, (bytes, np.bytes_)):
        return {"type": "bytes", "value": v.decode("utf-8", "replace")}
    if isinstance(v, (int, np.integer)):
        return {"type": type(v).__name__, "value": int(v)}
    if isinstance(v, (float, np.floating)):
        return {"type": type(v).__name__, "bits": format(np.float64(v).view(np.uint64), "016x")}
    return {"type": type(v).__name__, "value": repr(v)}

def values(ds):
    enc = h5py.check_string_dtype(ds.dtype)
    if enc is not None:
        return {"encoding": enc.encoding, "strings": [s for s in ds.asstr()[()].tolist()]}
    a = np.asarray(ds[()]).ravel()
    if a.dtype == np.float32:
        return {"bits": [format(x, "08x") for x in a.view(np.uint32).tolist()]}
    if a.dtype == np.float64:
        return {"bits": [format(x, "016x") for x in a.view(np.uint64).tolist()]}
    return {"ints": [int(x) for x in a.tolist()]}

out = {"h5py": h5py.version.version, "hdf5": h5py.version.hdf5_version, "root": {}, "objects": {}}
with h5py.File(sys.argv[1], "r") as f:
    out["root"] = {k: attr(v) for k, v in f.attrs.items()}
    out["curriculum_sha256_hashlib"] = hashlib.sha256(f.attrs["curriculum"].encode("utf-8")).hexdigest()
    def visit(name, obj):
        e = {"attrs": {k: attr(v) for k, v in obj.attrs.items()}}
        if isinstance(obj, h5py.Dataset):
            e.update(kind="dataset", dtype=str(obj.dtype) if h5py.check_string_dtype(obj.dtype) is None else "str",
                     shape=list(obj.shape), fletcher32=bool(obj.fletcher32))
            e.update(values(obj))
        else:
            e["kind"] = "group"
        out["objects"][name] = e
    f.visititems(visit)
print(json.dumps(out))
"""#

/// Writes a checkpoint with h5py in the documented layout (contiguous datasets, no checksums, no
/// parameter_order attribute) and prints what it wrote as JSON.
private let writeScript = #"""
import hashlib, json, sys
import h5py, numpy as np

path = sys.argv[1]
V, D, I, L, H, KV = 16, 8, 16, 2, 2, 1
hd = D // H
config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_act": "silu",
          "vocab_size": V, "hidden_size": D, "intermediate_size": I, "num_hidden_layers": L,
          "num_attention_heads": H, "num_key_value_heads": KV, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
          "max_position_embeddings": 16, "tie_word_embeddings": False, "torch_dtype": "float32"}
shapes = {"model.embed_tokens.weight": (V, D)}
for i in range(L):
    p = f"model.layers.{i}."
    shapes[p + "self_attn.q_proj.weight"] = (H * hd, D)
    shapes[p + "self_attn.k_proj.weight"] = (KV * hd, D)
    shapes[p + "self_attn.v_proj.weight"] = (KV * hd, D)
    shapes[p + "self_attn.o_proj.weight"] = (D, H * hd)
    shapes[p + "mlp.gate_proj.weight"] = (I, D)
    shapes[p + "mlp.up_proj.weight"] = (I, D)
    shapes[p + "mlp.down_proj.weight"] = (D, I)
    shapes[p + "input_layernorm.weight"] = (D,)
    shapes[p + "post_attention_layernorm.weight"] = (D,)
shapes["model.norm.weight"] = (D,)
shapes["lm_head.weight"] = (V, D)

rng = np.random.default_rng(2024)
weights = {n: rng.standard_normal(s).astype(np.float32) for n, s in shapes.items()}
curriculum = "stages:\n  - kind: output-distill\n    α: 0.9\n"
symbols = ["<pad>", "<bos>", "<eos>"] + list("0123456789+=α")
rng_state = (np.arange(32, dtype=np.uint8) * 7 + 1).astype(np.uint8)

with h5py.File(path, "w") as f:
    f.attrs["format"] = "tracedistill-checkpoint"
    f.attrs["format_version"] = 1
    f.attrs["created_utc"] = "2025-01-02T03:04:05Z"
    f.attrs["library_version"] = "h5py-" + h5py.version.version
    f.attrs["curriculum"] = curriculum
    f.attrs["curriculum_sha256"] = hashlib.sha256(curriculum.encode("utf-8")).hexdigest()
    g = f.create_group("models/student")
    g.attrs["config"] = json.dumps(config)
    for n, w in weights.items():
        g.create_dataset(n, data=w)
    run = f.create_group("run")
    run.attrs["stage_index"] = 1
    run.attrs["global_step"] = 1234
    run.create_dataset("rng_state", data=rng_state)
    f.create_dataset("tokenizer/symbols", data=symbols, dtype=h5py.string_dtype("utf-8"))

print(json.dumps({"weights": {n: [format(x, "08x") for x in w.ravel().view(np.uint32).tolist()] for n, w in weights.items()},
                  "shapes": {n: list(s) for n, s in shapes.items()},
                  "config": config, "curriculum": curriculum, "symbols": symbols,
                  "rng_state": rng_state.tolist()}))
"""#

@Suite("HDF5 interoperability (h5py, hdf5-tools)")
struct InteropTests {
    @Test("h5py reads a project checkpoint: names, dtypes, shapes, values, checksums and root attributes")
    func h5pyReadsProjectCheckpoint() throws {
        guard let python = PythonH5py.require() else { return }
        let sample = try SampleCheckpoint.make()
        try withTemporaryFolder("interop-h5py-read") { dir in
            let path = dir + "/step-8589934599.h5"
            try CheckpointWriter.save(sample.contents, to: path)
            let json = try #require(try PythonH5py.runJSON(python, script: describeScript, arguments: [path]) as? [String: Any])
            let root = try #require(json["root"] as? [String: [String: Any]])
            let objects = try #require(json["objects"] as? [String: [String: Any]])

            // Root attributes: text as Python str (variable-length UTF-8), the version as an integer.
            func rootString(_ key: String) -> String? {
                guard root[key]?["type"] as? String == "str" else { return nil }
                return root[key]?["value"] as? String
            }
            #expect(rootString("format") == "tracedistill-checkpoint")
            #expect(root["format_version"]?["value"] as? Int == 1)
            #expect((root["format_version"]?["type"] as? String)?.hasPrefix("int") == true, "format_version type \(String(describing: root["format_version"]))")
            #expect(rootString("created_utc") == (try CheckpointReader(path: path).createdUTC))
            #expect(rootString("library_version") == Checkpoint.libraryVersion)
            #expect(rootString("curriculum") == SampleCheckpoint.curriculum, "curriculum must read back as str with its non-ASCII text")
            #expect(rootString("curriculum_sha256") == json["curriculum_sha256_hashlib"] as? String, "stored SHA-256 differs from Python's hashlib")

            // Every model parameter: float32, its shape, fletcher32, bit-identical values; config JSON on the group.
            for snapshot in sample.contents.models {
                let group = objects["models/\(snapshot.role)"]
                #expect(group?["kind"] as? String == "group", "models/\(snapshot.role)")
                let config = (group?["attrs"] as? [String: [String: Any]])?["config"]
                #expect(config?["value"] as? String == snapshot.configJSON, "models/\(snapshot.role)@config")
                for view in snapshot.store.views {
                    let name = "models/\(snapshot.role)/\(view.name)"
                    guard let ds = objects[name] else { Issue.record("h5py does not see \(name)"); continue }
                    #expect(ds["dtype"] as? String == "float32", "\(name) dtype \(String(describing: ds["dtype"]))")
                    #expect(ds["shape"] as? [Int] == view.shape, "\(name) shape")
                    #expect(ds["fletcher32"] as? Bool == true, "\(name) has no fletcher32 checksum")
                    expectSameBits(hexBits(ds["bits"], as: UInt32.self) ?? [], bitPatterns(snapshot.store[view.name]), "h5py \(name)")
                }
            }
            // Optimizer: step as int64, moments as float32.
            let step = objects["optimizer/student/step"]
            #expect(step?["dtype"] as? String == "int64" && step?["ints"] as? [Int] == [3], "optimizer step \(String(describing: step))")
            let vName = "optimizer/student/v/model.layers.0.mlp.up_proj.weight"
            let vOffset = try #require(sample.student.parameters.view("model.layers.0.mlp.up_proj.weight"))
            let vExpected = UnsafeBufferPointer(start: sample.studentOptimizer.v.base + vOffset.offset, count: vOffset.count).map(\.bitPattern)
            expectSameBits(hexBits(objects[vName]?["bits"], as: UInt32.self) ?? [], vExpected, "h5py \(vName)")

            // Run: attributes and the RNG bytes as uint8.
            let run = objects["run"]?["attrs"] as? [String: [String: Any]]
            #expect(run?["stage_index"]?["value"] as? Int == 2)
            #expect(run?["global_step"]?["value"] as? Int == (1 << 33) + 7)
            #expect(objects["run/rng_state"]?["dtype"] as? String == "uint8")
            #expect(objects["run/rng_state"]?["ints"] as? [Int] == sample.contents.run.rngState.map(Int.init))

            // Stages: kind/state as str, controllers as float64 attributes.
            let stage2 = objects["run/stages/2"]?["attrs"] as? [String: [String: Any]]
            #expect(stage2?["kind"]?["value"] as? String == "ppo" && stage2?["kind"]?["type"] as? String == "str")
            #expect(stage2?["failure_reason"]?["value"] as? String == sample.contents.stages[2].failureReason)
            let alpha = objects["run/stages/1/controllers/alpha"]?["attrs"] as? [String: [String: Any]]
            #expect(alpha?["third"]?["bits"] as? String == String(format: "%016llx", (1.0 / 3.0).bitPattern))
            #expect(objects["run/stages/11"]?["kind"] as? String == "group")

            // Tokenizer symbols: a UTF-8 string dataset that h5py decodes to str.
            let symbols = objects["tokenizer/symbols"]
            #expect(symbols?["encoding"] as? String == "utf-8")
            #expect(symbols?["strings"] as? [String] == sample.contents.tokenizer!.symbols)

            // Metrics: float64 series, bit for bit (NaN, infinities and -0 included).
            let loss = objects["metrics/1/loss"]
            #expect(loss?["dtype"] as? String == "float64")
            expectSameBits(hexBits(loss?["bits"], as: UInt64.self) ?? [], sample.contents.metrics[1]!["loss"]!.map(\.bitPattern), "h5py metrics/1/loss")
        }
    }

    @Test("h5ls -r and h5dump -H list the documented groups and datasets; h5dump shows the checksum filter")
    func hdf5ToolsListNames() throws {
        let sample = try SampleCheckpoint.make()
        guard let h5ls = toolPath("h5ls"), let h5dump = toolPath("h5dump") else {
            Issue.record("h5ls/h5dump not found: install hdf5-tools (`make setup`)")
            return
        }
        try withTemporaryFolder("interop-tools") { dir in
            let path = dir + "/step-1.h5"
            try CheckpointWriter.save(sample.contents, to: path)
            let ls = try runProcess(h5ls, ["-r", path], timeout: 60)
            #expect(ls.succeeded, "h5ls: \(ls)")
            let lines = Set(ls.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") })
            for expected in ["/models Group", "/models/student Group", "/models/teacher Group", "/models/value_head Group",
                             "/models/projection Group", "/models/student/model.embed_tokens.weight Dataset {13, 16}",
                             "/models/student/model.layers.1.self_attn.k_proj.bias Dataset {8}",
                             "/models/value_head/v_head.weight Dataset {1, 16}",
                             "/optimizer/student/m/lm_head.weight Dataset {13, 16}", "/optimizer/student/step Dataset {SCALAR}",
                             "/run Group", "/run/rng_state Dataset {32}", "/run/stages/11 Group",
                             "/run/stages/1/controllers/kl Group", "/tokenizer/symbols Dataset {20}", "/metrics/10/kl Dataset {1}"] {
                #expect(lines.contains(expected), "h5ls -r lacks \"\(expected)\"")
            }
            let header = try runProcess(h5dump, ["-H", "-A", path], timeout: 60)
            #expect(header.succeeded, "h5dump -H: \(header)")
            for expected in ["ATTRIBUTE \"format\"", "ATTRIBUTE \"curriculum_sha256\"", "ATTRIBUTE \"format_version\"",
                             "H5T_IEEE_F32LE", "DATASET \"lm_head.weight\"", "CSET H5T_CSET_UTF8"] {
                #expect(header.stdout.contains(expected), "h5dump -H lacks \(expected)")
            }
            let props = try runProcess(h5dump, ["-p", "-H", "-d", "/models/student/lm_head.weight", path], timeout: 60)
            #expect(props.stdout.contains("CHECKSUM FLETCHER32"), "no fletcher32 filter: \(props.stdout.prefix(600))")
            #expect(props.stdout.contains("( 13, 16 )"))
        }
    }

    @Test("HDF5's own fletcher32 filter (h5dump) accepts every checksum the project writes: odd sizes, many blocks")
    func hdf5VerifiesProjectChecksums() throws {
        guard let h5dump = toolPath("h5dump") else {
            Issue.record("h5dump not found: install hdf5-tools (`make setup`)")
            return
        }
        try withTemporaryFolder("interop-fletcher") { dir in
            // Float counts around HDF5's 360-word block and 16-word vector edges; byte counts for the
            // uint8 RNG state that are odd (the last byte is summed on its own).
            let sizes = [1, 2, 3, 7, 8, 9, 15, 16, 17, 179, 180, 181, 359, 360, 361, 719, 720, 721, 1000, 4099]
            let store = ParameterStore(sizes.map { ("w\($0)", [$0], true) })
            scramble(store, seed: 77)
            for (i, bytes) in [1, 3, 33, 721, 1441, 0].enumerated() {
                let path = dir + "/sizes-\(i).h5"
                try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "sizes", configJSON: nil, store: store)],
                                                             run: RunRecord(rngState: (0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }),
                                                             metrics: [0: ["odd": (0..<(bytes % 97)).map { Double($0) / 7 }]]), to: path)
                let r = try runProcess(h5dump, [path], timeout: 60)
                #expect(r.succeeded && !r.stderr.contains("error"), "h5dump cannot read \(path) (rng state \(bytes) bytes): \(r.stderr.prefix(500))")
            }
            // Control: h5dump does notice a damaged chunk (so the check above can fail).
            let damaged = dir + "/sizes-damaged.h5"
            try FileManager.default.copyItem(atPath: dir + "/sizes-2.h5", toPath: damaged)
            let w = store["w4099"].toArray()
            let found = offsets(of: littleEndianBytes(Array(w[100..<132])), in: try Data(contentsOf: URL(fileURLWithPath: damaged)))
            try flipByte(in: damaged, at: try #require(found.first) + 3)
            #expect(try runProcess(h5dump, [damaged], timeout: 60).succeeded == false, "h5dump read a damaged chunk without complaint")
        }
    }

    @Test("a checkpoint written by h5py (no checksums, no parameter_order) loads with the numbers h5py wrote")
    func projectReadsH5pyCheckpoint() throws {
        guard let python = PythonH5py.require() else { return }
        try withTemporaryFolder("interop-h5py-write") { dir in
            let path = dir + "/from-h5py.h5"
            let written = try #require(try PythonH5py.runJSON(python, script: writeScript, arguments: [path]) as? [String: Any])
            let weights = try #require(written["weights"] as? [String: Any])
            let shapes = try #require(written["shapes"] as? [String: [Int]])

            let r = try CheckpointReader(path: path)
            #expect(r.formatVersion == 1)
            #expect(r.curriculum == written["curriculum"] as? String && r.curriculum.contains("α: 0.9"))
            #expect(r.curriculumSHA256 == sha256Hex(r.curriculum))
            #expect(try r.roles() == ["student"])
            let model = try r.loadTransformer(role: "student")
            #expect(model.config == TransformerConfig(vocabSize: 16, hiddenSize: 8, intermediateSize: 16, numHiddenLayers: 2,
                                                      numAttentionHeads: 2, numKeyValueHeads: 1, rmsNormEps: 1e-5,
                                                      maxPositionEmbeddings: 16))
            #expect(Set(model.parameters.names) == Set(shapes.keys))
            for view in model.parameters.views {
                #expect(shapes[view.name] == view.shape, "\(view.name) shape")
                expectSameBits(bitPatterns(model.parameters[view.name]), hexBits(weights[view.name], as: UInt32.self) ?? [], "loaded \(view.name)")
            }
            // The h5py weights are not an initialiser's: a forward pass runs and gives finite logits.
            let logits = withNoGrad { model.forward(tokens: [1, 4, 5, 13], batch: 1, length: 4).logits }
            #expect(logits.toArray().allSatisfy { $0.isFinite })

            #expect(try r.run() == RunRecord(stageIndex: 1, globalStep: 1234, rngState: (written["rng_state"] as? [Int] ?? []).map(UInt8.init)))
            #expect(try r.tokenizer()?.symbols == written["symbols"] as? [String])
            #expect(try r.stages() == [])
            #expect(try r.metrics().isEmpty)
            try r.verify()
            // parameters(role:) falls back to the group's names (name order) when parameter_order is absent.
            #expect(try r.parameters(role: "student").map(\.name) == shapes.keys.sorted())
        }
    }
}
