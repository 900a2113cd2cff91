import Checkpoint
import Foundation
import Model
import ModelIO
import Tensor
import TestSupport
import Testing
import Tokenizers

// `distill export --format gguf`: the quantizers' bytes equal gguf-py's (committed fixtures); gguf-py reads the file
// back (metadata, tensor names and types, values exact at f32 and within each block's error bound otherwise);
// `distill import` reads it back with logits equal to the checkpoint's (llama with a BPE tokenizer, qwen2, a
// character-tokenizer student); bad input fails with the path or value and the fix.

/// gguf-py and numpy for the read-back check, in a venv made once under .build/ (as the Hugging Face export tests
/// make theirs).
private enum GGUFPython {
    static let interpreter = PythonVirtualenv(folder: packageRoot + "/.build/gguf-tests-venv", packages: ["gguf", "numpy"],
                                              probe: "import gguf, numpy", purpose: "the GGUF export tests").make()
    static var available: Bool {
        if case .failure(let e) = interpreter {
            print("skipping the gguf-py read-back check: \(e)")
            return false
        }
        return true
    }

    /// gguf-py's reading of `path`: metadata, tensor infos, and each tensor dequantized by `gguf.quants.dequantize`
    /// into `<folder>/<name>.f32`, with llama's q/k rows put back in Hugging Face order by numpy (the inverse of
    /// convert_hf_to_gguf.py's `permute`).
    static func read(_ path: String, into folder: String) throws -> [String: Any] {
        let script = """
            import json, os, sys
            import numpy as np
            from gguf import GGUFReader, GGUFValueType
            from gguf.quants import dequantize
            r = GGUFReader(sys.argv[1])
            meta = {}
            for f in r.fields.values():
                if f.name.startswith("GGUF."):
                    continue
                v = f.contents()
                if isinstance(v, (np.floating, float)):
                    v = float(v)
                # an array's element type as stored (parts: key length, key, type, element type, count, ...)
                element = GGUFValueType(int(f.parts[3][0])).name if f.types[0] == GGUFValueType.ARRAY else None
                meta[f.name] = {"type": f.types[0].name, "element": element, "value": v}
            arch = meta["general.architecture"]["value"]
            tensors = []
            for t in r.tensors:
                shape = [int(x) for x in reversed(t.shape.tolist())]
                w = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(shape)
                heads = {"attn_q": "attention.head_count", "attn_k": "attention.head_count_kv"}.get(t.name.split(".")[-2])
                if arch == "llama" and heads and t.name.endswith(".weight"):
                    n = meta[arch + "." + heads]["value"]
                    w = w.reshape(n, shape[0] // n // 2, 2, shape[1]).swapaxes(1, 2).reshape(shape)
                w.astype("<f4").tofile(os.path.join(sys.argv[2], t.name + ".f32"))
                tensors.append({"name": t.name, "type": t.tensor_type.name, "shape": shape, "offset": int(t.data_offset)})
            print(json.dumps({"alignment": int(r.alignment), "data_offset": int(r.data_offset), "metadata": meta, "tensors": tensors}))
            """
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return try #require(try PythonVirtualenv.runJSON(interpreter.get(), script: script, arguments: [path, folder]) as? [String: Any])
    }
}

/// Hugging Face parameter name -> llama.cpp tensor name, written out here from llama.cpp's tensor table
/// (gguf-py's constants.py TENSOR_NAMES), independently of the importer's map.
private func llamaCppName(_ hf: String) -> String {
    let fixed = ["model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"]
    if let name = fixed[hf] { return name }
    let modules = ["self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
                   "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
                   "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"]
    let parts = hf.split(separator: ".").map(String.init)  // model.layers.N.<module>.<sub>.weight|bias
    return "blk.\(parts[2]).\(modules[parts[3..<(parts.count - 1)].joined(separator: ".")] ?? "?").\(parts.last!)"
}

@Suite("GGUF export")
struct GGUFExportTests {
    private func scratch(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "gguf-export-\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    private static func randomize(_ model: Transformer, seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        for view in model.parameters.views {
            let t = model.parameters[view.name]
            let norm = view.name.hasSuffix("norm.weight")
            for i in 0..<view.count { t.ptr[i] = norm ? 1 + rng.nextNormal() * 0.1 : rng.nextNormal() * 0.08 }
        }
    }

    /// A llama-shaped character-tokenizer student (the built-in models' layout), every width a multiple of 32.
    private func characterCheckpoint(_ path: String, intermediate: Int = 96) throws -> Transformer {
        var rng = RandomGenerator(seed: 7)
        let config = TransformerConfig(vocabSize: Tokenizer.math.vocabularySize, hiddenSize: 64, intermediateSize: intermediate, numHiddenLayers: 2,
                                       numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 64)
        let model = try Transformer(config: config, rng: &rng)
        Self.randomize(model, seed: 8)
        try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: config.jsonString(), store: model.parameters)],
                                                     tokenizer: .math), to: path)
        return model
    }

    /// A llama-shaped model, untied, with the qwen2-chat fixture's byte-level BPE tokenizer and chat template, and a
    /// vocabulary 16 ids larger than the tokenizer's (padded in the file as llama.cpp's converter pads).
    private func llamaBPECheckpoint(_ path: String) throws -> (model: Transformer, tokenizerJSON: String) {
        let folder = try HFFixture.folder("qwen2-chat")
        let json = try String(contentsOfFile: folder + "/tokenizer.json", encoding: .utf8)
        let template = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/tokenizer_config.json"))) as? [String: Any])["chat_template"] as? String
        let vocab = try BPETokenizer(json: json).vocabularySize + 16
        var rng = RandomGenerator(seed: 9)
        let config = TransformerConfig(vocabSize: vocab, hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 2, numAttentionHeads: 4,
                                       numKeyValueHeads: 2, rmsNormEps: 1e-5, ropeTheta: 500_000, maxPositionEmbeddings: 128)
        let model = try Transformer(config: config, rng: &rng)
        Self.randomize(model, seed: 10)
        try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: config.jsonString(), store: model.parameters)],
                                                     tokenizerJSON: json, chatTemplate: template, promptTemplate: "chatml"), to: path)
        return (model, json)
    }

    private func logits(_ model: Transformer, _ ids: [Int32]) -> [Float] {
        withNoGrad { model.forward(tokens: ids, batch: 1, length: ids.count).logits.toArray() }
    }

    /// `distill export` to GGUF at `type`, then `distill import` of that file; returns the re-imported checkpoint.
    private func exportAndImport(_ distill: String, _ checkpoint: String, type: String, dir: String) throws -> (gguf: String, back: String) {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let gguf = dir + "/model-\(type).gguf", back = dir + "/back-\(type).h5"
        let export = try runDistill(distill, ["export", checkpoint, "--format", "gguf", "--type", type, "--out", gguf])
        #expect(export.succeeded && export.stdout.contains("GGUF v3"), "\(export)")
        let imported = try runDistill(distill, ["import", gguf, "--out", back, "--role", "student"])
        #expect(imported.succeeded, "\(imported)")
        return (gguf, back)
    }

    /// Largest |a - b| over two logit arrays of the same length.
    private func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    // MARK: - Quantizers against gguf-py

    @Test("q8_0, q4_0 and f16 bytes equal gguf-py's gguf.quants.quantize for the same input (committed fixture)")
    func quantizerBytes() throws {
        let input = try IOFixtures.floats("gguf-export/quant-input.f32")
        #expect(input.count == 64 * 32)
        for (type, file) in [(GGMLType.q8_0, "quant-q8_0.bin"), (.q4_0, "quant-q4_0.bin"), (.f16, "quant-f16.bin")] {
            let expected = try IOFixtures.bytes("gguf-export/" + file)
            let ours = try #require(input.withUnsafeBufferPointer { type.quantize($0) })
            #expect(ours.count == expected.count, "\(type)")
            let firstDifference = zip(ours, expected).enumerated().first { $0.element.0 != $0.element.1 }
            #expect(ours == expected, "\(type): first differing byte \(firstDifference.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "none")")
        }
        // not a whole number of blocks: no bytes rather than a partial block
        #expect([Float](repeating: 1, count: 33).withUnsafeBufferPointer { GGMLType.q8_0.quantize($0) } == nil)
        #expect([Float](repeating: 1, count: 4).withUnsafeBufferPointer { GGMLType.q4_K.quantize($0) } == nil)
    }

    // MARK: - gguf-py reads it back

    /// Checks gguf-py's reading of `gguf` against `model` at `type`: alignment, the architecture keys, the tensor set
    /// and types, and every value exact (f32) or within its block's bound (bounds from the formats: f16 rounds to
    /// 11 significant bits; q8_0 is d = amax/127 with q rounded to nearest and d stored as f16; q4_0 is |d| = amax/8
    /// with one step lost at the clip to 15, d stored as f16).
    private func checkWithGGUFPy(_ gguf: String, model: Transformer, type: String, architecture: String, fileType: Int,
                                 dir: String) throws -> [String: [String: Any]] {
        let folder = dir + "/py-\(type)"
        let read = try GGUFPython.read(gguf, into: folder)
        let meta = try #require(read["metadata"] as? [String: [String: Any]])
        func value(_ key: String) -> Any? { meta[key]?["value"] }
        let c = model.config
        #expect(read["alignment"] as? Int == 32 && value("general.alignment") as? Int == 32)
        #expect((read["data_offset"] as? Int ?? 1) % 32 == 0)
        #expect(value("general.architecture") as? String == architecture)
        #expect(value("general.file_type") as? Int == fileType)
        #expect((value("general.quantization_version") as? Int) == (type.hasPrefix("q") ? 2 : nil))
        let expectedInts: [String: Int] = [
            "context_length": c.maxPositionEmbeddings, "embedding_length": c.hiddenSize, "block_count": c.numHiddenLayers,
            "feed_forward_length": c.intermediateSize, "attention.head_count": c.numAttentionHeads,
            "attention.head_count_kv": c.numKeyValueHeads, "vocab_size": c.vocabSize,
        ]
        for (key, expected) in expectedInts {
            #expect(value("\(architecture).\(key)") as? Int == expected, "\(key)")
            #expect(meta["\(architecture).\(key)"]?["type"] as? String == "UINT32", "\(key)")
        }
        #expect(value("\(architecture).attention.layer_norm_rms_epsilon") as? Double == Double(c.rmsNormEps))
        #expect(value("\(architecture).rope.freq_base") as? Double == c.ropeTheta)
        #expect(meta["\(architecture).attention.key_length"] == nil, "no explicit head_dim: no key_length")

        let tensors = try #require(read["tensors"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0["name"] as? String ?? "", $0) })
        let expectedNames = Set(model.parameters.names.map(llamaCppName))
        #expect(Set(byName.keys) == expectedNames)
        for t in tensors { #expect((t["offset"] as? Int ?? 1) % 32 == 0, "\(t["name"] ?? "") is not 32-byte aligned") }

        for view in model.parameters.views {
            let name = llamaCppName(view.name)
            let info = try #require(byName[name], "\(name)")
            #expect(info["shape"] as? [Int] == view.shape, "\(name)")
            let original = model.parameters[view.name].toArray()
            let theirs = try IOFixtures.floatsAt(folder + "/\(name).f32")
            #expect(theirs.count == original.count, "\(name)")
            guard theirs.count == original.count else { continue }
            let width = view.shape.last ?? 1
            // the type llama.cpp's conversion rules give this tensor
            let expectedType: String
            if view.shape.count == 1 { expectedType = "F32" }
            else if !type.hasPrefix("q") { expectedType = type.uppercased() }
            else if width % 32 != 0 { expectedType = "F16" }
            else if type == "q4_0" && (name == "output.weight" || (c.tieWordEmbeddings && name == "token_embd.weight")) { expectedType = "Q8_0" }
            else { expectedType = type.uppercased() }
            #expect(info["type"] as? String == expectedType, "\(name)")
            expectWithinFormatBound(theirs, original, type: expectedType, name)
        }
        return meta
    }

    /// Checks `decoded` against `original` as the ggml type `type` allows: F32 bit for bit; F16 within half an ulp of
    /// 11 significant bits; Q8_0 per block of 32 within d/2 (d = amax/127) plus 127 times d's rounding to f16; Q4_0
    /// per block within |d| (= amax/8: half a step, or a whole one at the clip of q to 15) plus 8 times d's rounding.
    private func expectWithinFormatBound(_ decoded: [Float], _ original: [Float], type: String, _ name: String,
                                         sourceLocation: SourceLocation = #_sourceLocation) {
        switch type {
        case "F32":
            #expect(sameBits(decoded, original), "\(name): \(firstDifference(decoded, original))", sourceLocation: sourceLocation)
        case "F16":
            let bad = zip(original, decoded).first { x, y in abs(x - y) > max(abs(x) * 0x1p-11, 0x1p-25) }
            #expect(bad == nil, "\(name): \(String(describing: bad))", sourceLocation: sourceLocation)
        default:
            for block in stride(from: 0, to: original.count, by: 32) {
                let x = original[block..<(block + 32)], y = decoded[block..<(block + 32)]
                let amax = x.map(abs).max() ?? 0
                let bound: Float = type == "Q8_0"
                    ? amax / 127 / 2 + 127 * max(amax / 127 * 0x1p-11, 0x1p-25) + amax * 1e-6
                    : amax / 8 + 8 * max(amax / 8 * 0x1p-11, 0x1p-25) + amax * 1e-6
                let worst = zip(x, y).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= bound, "\(name) block \(block / 32): error \(worst) > bound \(bound)", sourceLocation: sourceLocation)
                if worst > bound { break }
            }
        }
    }

    @Test("a block of magnitudes near 1e-38 (its scale's reciprocal overflows) quantizes to zeros instead of trapping")
    func tinyBlocks() throws {
        for type in [GGMLType.q8_0, GGMLType.q4_0] {
            var values = [Float](repeating: 0, count: 64)
            values[3] = 3e-38
            values[40] = -1e-39  // second block: a subnormal maximum
            let bytes = try #require(values.withUnsafeBufferPointer { type.quantize($0) })
            // every half scale is +0 or -0 (the float scales are far below half's range), so the blocks decode to zeros
            let blockBytes = bytes.count / 2
            for b in 0..<2 {
                #expect(bytes[b * blockBytes] == 0 && bytes[b * blockBytes + 1] & 0x7F == 0, "\(type) block \(b) scale")
            }
        }
    }

    @Test("gguf-py reads a character-tokenizer student at f32, f16, q8_0 and q4_0: metadata, vocabulary, values within bounds")
    func characterStudentWithGGUFPy() throws {
        guard let distill = requireDistill(), GGUFPython.available else { return }
        let dir = try scratch("chars-py")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // intermediate 80: ffn_down's rows are 80 wide, not a multiple of 32, so quantized files keep it F16
        let model = try characterCheckpoint(dir + "/student.h5", intermediate: 80)
        for (type, fileType) in [("f32", 0), ("f16", 1), ("q8_0", 7), ("q4_0", 2)] {
            let gguf = dir + "/\(type).gguf"
            let r = try runDistill(distill, ["export", dir + "/student.h5", "--format", "gguf", "--type", type, "--out", gguf])
            #expect(r.succeeded, "\(r)")
            let meta = try checkWithGGUFPy(gguf, model: model, type: type, architecture: "llama", fileType: fileType, dir: dir)
            func value(_ key: String) -> Any? { meta[key]?["value"] }
            // GPT-2's byte alphabet (bytes_to_unicode): printable ASCII is itself, space is U+0120, newline U+010A
            let spelled = Tokenizer.math.symbols.dropFirst(3).map { $0 == " " ? "\u{120}" : $0 == "\n" ? "\u{10A}" : $0 }
            #expect(value("tokenizer.ggml.model") as? String == "gpt2")
            #expect(value("tokenizer.ggml.pre") as? String == "gpt-2")
            #expect(value("tokenizer.ggml.tokens") as? [String] == ["<pad>", "<bos>", "<eos>"] + spelled)
            #expect(value("tokenizer.ggml.token_type") as? [Int] == [3, 3, 3] + Array(repeating: 1, count: spelled.count))
            // present (llama.cpp refuses a gpt2 vocabulary without the key) and empty
            #expect(value("tokenizer.ggml.merges") as? [String] == [] && meta["tokenizer.ggml.merges"]?["element"] as? String == "STRING")
            #expect(value("tokenizer.ggml.bos_token_id") as? Int == 1 && value("tokenizer.ggml.eos_token_id") as? Int == 2)
            #expect(value("tokenizer.ggml.padding_token_id") as? Int == 0 && value("tokenizer.ggml.add_bos_token") as? Bool == true)
            #expect((value("tokenizer.chat_template") as? String)?.contains("{{ bos_token }}") == true)
            #expect(value("general.name") as? String == "student student")
            if type == "q4_0" {
                #expect(r.stdout.contains("kept wider than q4_0") && r.stdout.contains("blk.0.ffn_down.weight (F16)")
                        && r.stdout.contains("output.weight (Q8_0)"), "\(r)")
            }
        }
    }

    @Test("gguf-py reads a BPE llama (permuted q/k, untied, padded vocabulary) and an imported qwen2 chat model")
    func bpeModelsWithGGUFPy() throws {
        guard let distill = requireDistill(), GGUFPython.available else { return }
        let dir = try scratch("bpe-py")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (llama, json) = try llamaBPECheckpoint(dir + "/llama.h5")
        // the fixture's own tokenizer.json, read here with JSONSerialization: tokens by id, merges, added tokens
        let description = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let modelPart = try #require(description["model"] as? [String: Any])
        let vocab = try #require(modelPart["vocab"] as? [String: Int])
        var tokens = [String](repeating: "", count: llama.config.vocabSize), types = [Int](repeating: 1, count: llama.config.vocabSize)
        for (text, id) in vocab { tokens[id] = text }
        for added in description["added_tokens"] as? [[String: Any]] ?? [] {
            let id = try #require(added["id"] as? Int)
            tokens[id] = try #require(added["content"] as? String)
            types[id] = added["special"] as? Bool == true ? 3 : 4
        }
        let used = Set(vocab.values).union((description["added_tokens"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int })
        for id in 0..<tokens.count where !used.contains(id) {
            tokens[id] = "[PAD\(id)]"
            types[id] = 5
        }
        let merges = (modelPart["merges"] as? [Any] ?? []).map { m in (m as? [String])?.joined(separator: " ") ?? (m as? String ?? "") }
        for type in ["f32", "q4_0"] {
            let gguf = dir + "/llama-\(type).gguf"
            #expect(try runDistill(distill, ["export", dir + "/llama.h5", "--format", "gguf", "--type", type, "--out", gguf]).succeeded)
            let meta = try checkWithGGUFPy(gguf, model: llama, type: type, architecture: "llama", fileType: type == "f32" ? 0 : 2, dir: dir)
            func value(_ key: String) -> Any? { meta[key]?["value"] }
            #expect(value("tokenizer.ggml.tokens") as? [String] == tokens)
            #expect(value("tokenizer.ggml.token_type") as? [Int] == types)
            #expect(value("tokenizer.ggml.merges") as? [String] == merges)
            #expect(value("tokenizer.ggml.pre") as? String == "qwen2")
            #expect(value("tokenizer.ggml.eos_token_id") as? Int == vocab["<|im_end|>"] ?? tokens.firstIndex(of: "<|im_end|>"))
            #expect((value("tokenizer.chat_template") as? String)?.contains("<|im_start|>") == true)
        }

        let qwen = dir + "/qwen2.h5"
        #expect(try runDistill(distill, ["import", try HFFixture.folder("qwen2-chat"), "--out", qwen, "--role", "student"]).succeeded)
        let qwenModel = try CheckpointReader(path: qwen).loadTransformer(role: "student")
        let gguf = dir + "/qwen2-q8_0.gguf"
        #expect(try runDistill(distill, ["export", qwen, "--format", "gguf", "--type", "q8_0", "--out", gguf]).succeeded)
        let meta = try checkWithGGUFPy(gguf, model: qwenModel, type: "q8_0", architecture: "qwen2", fileType: 7, dir: dir)
        #expect(meta["tokenizer.ggml.tokens"]?["value"] as? [String] == Array(tokens.prefix(qwenModel.config.vocabSize)))
    }

    @Test("a Llama 3-scaled model with an explicit head_dim: key/value_length and rope_freqs as convert_hf_to_gguf.py computes them")
    func llama3Scaling() throws {
        guard let distill = requireDistill(), GGUFPython.available else { return }
        let dir = try scratch("llama3")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let scaling = Llama3RopeScaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16)
        var rng = RandomGenerator(seed: 12)
        let config = TransformerConfig(vocabSize: Tokenizer.math.vocabularySize, hiddenSize: 64, intermediateSize: 96, numHiddenLayers: 1,
                                       numAttentionHeads: 4, numKeyValueHeads: 2, ropeTheta: 500_000, maxPositionEmbeddings: 64,
                                       headDim: 32, ropeScaling: scaling)
        let model = try Transformer(config: config, rng: &rng)
        try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: config.jsonString(), store: model.parameters)],
                                                     tokenizer: .math), to: dir + "/s.h5")
        let gguf = dir + "/s.gguf"
        #expect(try runDistill(distill, ["export", dir + "/s.h5", "--format", "gguf", "--out", gguf]).succeeded)
        // convert_hf_to_gguf.py's LlamaModel.generate_extra_tensors, in numpy/Python as it is written there
        let script = """
            import json, math, sys
            import numpy as np
            from gguf import GGUFReader
            r = GGUFReader(sys.argv[1])
            base, dim, factor, low, high, old = 500000.0, 32, 8.0, 1.0, 4.0, 16
            freqs = 1.0 / (base ** (np.arange(0, dim, 2, dtype=np.float32) / dim))
            expected = []
            for freq in freqs:
                wavelen = 2 * math.pi / freq
                if wavelen < old / high: expected.append(1)
                elif wavelen > old / low: expected.append(factor)
                else:
                    smooth = (old / wavelen - low) / (high - low)
                    expected.append(1 / ((1 - smooth) / factor + smooth))
            t = [t for t in r.tensors if t.name == "rope_freqs.weight"][0]
            f = lambda k: int(r.fields[k].contents())
            print(json.dumps({"expected": [float(np.float32(x)) for x in expected], "actual": [float(x) for x in t.data],
                              "type": t.tensor_type.name, "key_length": f("llama.attention.key_length"),
                              "value_length": f("llama.attention.value_length"), "rope_dimensions": f("llama.rope.dimension_count")}))
            """
        let out = try #require(try PythonVirtualenv.runJSON(GGUFPython.interpreter.get(), script: script, arguments: [gguf]) as? [String: Any])
        let expected = try #require(out["expected"] as? [Double]), actual = try #require(out["actual"] as? [Double])
        #expect(expected.count == 16 && actual.count == 16 && out["type"] as? String == "F32")
        for (a, e) in zip(actual, expected) { #expect(abs(a - e) <= 1e-6 * e, "rope_freqs \(actual) vs \(expected)") }
        #expect(out["key_length"] as? Int == 32 && out["value_length"] as? Int == 32 && out["rope_dimensions"] as? Int == 32)
        // distill import does not read rope_freqs yet, and says so
        let back = try runDistill(distill, ["import", gguf, "--out", dir + "/back.h5"])
        #expect(!back.succeeded && back.stderr.contains("rope_freqs.weight"), "\(back)")
    }

    // MARK: - distill import reads it back

    @Test("distill import reads the export back: logits equal the checkpoint's at f32 (1e-5), close at f16, q8_0, q4_0; ids alike")
    func roundTripThroughImport() throws {
        guard let distill = requireDistill() else { return }
        let dir = try scratch("roundtrip")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = "Compute 12 + 7.\n2 + 7 = 9\nanswer: 19"
        // The largest logit difference: at f32 absolute; otherwise relative to the largest logit, about twice what was
        // measured on these small random models (f16 0.14%, q8_0 2.7%, q4_0 42% at most; q4_0 is coarse for 64-wide
        // Gaussian weights, so there the per-weight bound below is the real check). See the README.
        let tolerance: [String: Float] = ["f32": 1e-5, "f16": 3e-3, "q8_0": 6e-2, "q4_0": 0.8]

        let chars = try characterCheckpoint(dir + "/chars.h5")
        let (llama, _) = try llamaBPECheckpoint(dir + "/llama.h5")
        let qwenCheckpoint = dir + "/qwen2.h5"
        #expect(try runDistill(distill, ["import", try HFFixture.folder("qwen2-chat"), "--out", qwenCheckpoint, "--role", "student"]).succeeded)
        let qwen = try CheckpointReader(path: qwenCheckpoint).loadTransformer(role: "student")
        for (label, checkpoint, model) in [("characters", dir + "/chars.h5", chars), ("llama", dir + "/llama.h5", llama), ("qwen2", qwenCheckpoint, qwen)] {
            let originalReader = try CheckpointReader(path: checkpoint)
            let originalCodec = try originalReader.codec(vocabularySize: model.config.vocabSize, role: "student")
            for type in ["f32", "f16", "q8_0", "q4_0"] {
                let (gguf, back) = try exportAndImport(distill, checkpoint, type: type, dir: dir + "/\(label)")
                let reader = try CheckpointReader(path: back)
                let imported = try reader.loadTransformer(role: "student")
                #expect(imported.config == model.config, "\(label) \(type)")
                // the tokenizer as the importer reads it from the file: same ids, BOS and EOS
                let tokenizer = try #require(try GGUFImporter.tokenizer(of: GGUFFile(path: gguf)))
                let ids = try originalCodec.tokenizer.ids(of: text)
                #expect(try tokenizer.ids(of: text) == ids, "\(label) \(type): the tokenizer encodes differently")
                #expect(tokenizer.beginningOfSequenceID == originalCodec.tokenizer.beginningOfSequenceID, "\(label)")
                #expect(tokenizer.endOfSequenceID == originalCodec.endID, "\(label)")
                if label != "characters" {
                    // and as the re-imported checkpoint lays out prompts (a chat template: its end token by name). The
                    // character student's plain layout needs the tokenizer's EOS, which the checkpoint's tokenizer.json
                    // cannot carry for a GGUF tokenizer (see the README); its ids are checked above.
                    let codec = try reader.codec(vocabularySize: imported.config.vocabSize, role: "student")
                    #expect(try codec.tokenizer.ids(of: text) == ids && codec.endID == originalCodec.endID, "\(label)")
                }
                let prompt = (originalCodec.tokenizer.beginningOfSequenceID.map { [$0] } ?? []) + ids
                let expected = logits(model, prompt)
                let scale = expected.map(abs).max() ?? 1
                let difference = maxDifference(logits(imported, prompt), expected)
                let allowed = type == "f32" ? tolerance[type]! : tolerance[type]! * scale
                #expect(difference <= allowed, "\(label) \(type): logits differ by \(difference), largest logit \(scale)")
                // every weight as read back by the importer, within its format's bound (bit for bit at f32)
                for view in model.parameters.views {
                    let width = view.shape.last ?? 1
                    let ggml = view.shape.count == 1 ? "F32" : !type.hasPrefix("q") ? type.uppercased() : width % 32 != 0 ? "F16"
                        : type == "q4_0" && (view.name == "lm_head.weight" || (model.config.tieWordEmbeddings && view.name == "model.embed_tokens.weight"))
                        ? "Q8_0" : type.uppercased()
                    expectWithinFormatBound(imported.parameters[view.name].toArray(), model.parameters[view.name].toArray(), type: ggml,
                                            "\(label) \(type) \(view.name)")
                }
                print("GGUF round trip \(label) \(type): largest logit difference \(difference), relative \(difference / scale)")
            }
        }
    }

    @Test("a character tokenizer with a symbol of more than one byte is refused, naming the symbol")
    func multiByteSymbol() throws {
        let t = Tokenizer(characters: Array("ab×"))
        do {
            _ = try t.ggufSpec(vocabularySize: t.vocabularySize, eos: Tokenizer.eos, chatTemplate: nil, file: "out.gguf")
            Issue.record("expected a TokenizerFileError")
        } catch let e as TokenizerFileError {
            #expect(e.key.contains("\"×\"") && e.key.contains("5") && e.message.contains("2 bytes") && e.message.contains("--format hf"), "\(e)")
        }
    }

    // MARK: - Bad input

    @Test("bad --out, unknown --type, a missing role, --out on the checkpoint, --dtype with gguf: refused with the path or value and the fix")
    func badInput() throws {
        guard let distill = requireDistill() else { return }
        let dir = try scratch("bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let checkpoint = dir + "/student.h5"
        _ = try characterCheckpoint(checkpoint)
        let before = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        func export(_ extra: [String]) throws -> ProcessResult { try runDistill(distill, ["export", checkpoint, "--format", "gguf"] + extra) }

        let noFolder = try export(["--out", dir + "/missing/model.gguf"])
        #expect(!noFolder.succeeded && noFolder.stderr.contains(dir + "/missing/model.gguf") && noFolder.stderr.contains("does not exist"), "\(noFolder)")
        let onFolder = try export(["--out", dir])
        #expect(!onFolder.succeeded && onFolder.stderr.contains(dir) && onFolder.stderr.contains("is a directory"), "\(onFolder)")
        let readOnly = dir + "/locked"
        try FileManager.default.createDirectory(atPath: readOnly, withIntermediateDirectories: true)
        chmod(readOnly, 0o500)
        defer { chmod(readOnly, 0o700) }
        if access(readOnly, W_OK) != 0 {  // root may write anywhere: then there is nothing to refuse
            let denied = try export(["--out", readOnly + "/model.gguf"])
            #expect(!denied.succeeded && denied.stderr.contains("permission denied"), "\(denied)")
        }
        let unknownType = try export(["--out", dir + "/m.gguf", "--type", "q5_k"])
        #expect(!unknownType.succeeded && unknownType.stderr.contains("q5_k") && unknownType.stderr.contains("q4_0"), "\(unknownType)")
        let noRole = try export(["--out", dir + "/m.gguf", "--role", "teacher"])
        #expect(!noRole.succeeded && noRole.stderr.contains("teacher"), "\(noRole)")
        let overCheckpoint = try export(["--out", checkpoint])
        #expect(!overCheckpoint.succeeded && overCheckpoint.stderr.contains("is the checkpoint being exported"), "\(overCheckpoint)")
        let dtype = try export(["--out", dir + "/m.gguf", "--dtype", "bf16"])
        #expect(!dtype.succeeded && dtype.stderr.contains("--type"), "\(dtype)")
        let typeForHF = try runDistill(distill, ["export", checkpoint, "--format", "hf", "--type", "q8_0", "--out", dir + "/hf"])
        #expect(!typeForHF.succeeded && typeForHF.stderr.contains("--dtype"), "\(typeForHF)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoint)) == before, "the checkpoint changed")
        #expect(!FileManager.default.fileExists(atPath: dir + "/m.gguf"))
        // no temporary file is left behind by the failed writes
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).allSatisfy { !$0.contains(".tmp-") })
    }
}

extension IOFixtures {
    /// A raw little-endian float32 file at an absolute path.
    static func floatsAt(_ path: String) throws -> [Float] {
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        return stride(from: 0, to: b.count, by: 4).map { i in
            Float(bitPattern: UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
        }
    }
}
