import Foundation
import Model
import Tensor
import Tokenizers

/// Writes a model as a llama.cpp GGUF file (v3), the way llama.cpp's convert_hf_to_gguf.py writes a Llama, Qwen2 or
/// Qwen3 model: the architecture metadata, `general.*`, the tokenizer as `tokenizer.ggml.*` with the chat template,
/// and the tensors under llama.cpp's names (`token_embd`, `blk.N.attn_q`, ..., `output_norm`, `output` when untied),
/// with the q/k rows of a llama model permuted as the converter permutes them (GGUFImporter undoes it), aligned to
/// 32 bytes. Only the model goes out: projections, value heads and optimizer state stay in the checkpoint.
public enum GGUFExporter {
    /// The file's weight type (`--type`), as `general.file_type` names it (llama.cpp's `LLAMA_FTYPE_*`).
    public enum FileType: String, CaseIterable, Sendable {
        case f32, f16, q8_0, q4_0

        /// The type the 2-D weights are written in.
        public var tensorType: GGMLType {
            switch self {
            case .f32: return .f32
            case .f16: return .f16
            case .q8_0: return .q8_0
            case .q4_0: return .q4_0
            }
        }

        /// `general.file_type`: LLAMA_FTYPE_ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q8_0 7.
        public var llamaFileType: UInt32 {
            switch self {
            case .f32: return 0
            case .f16: return 1
            case .q4_0: return 2
            case .q8_0: return 7
            }
        }

        var isQuantized: Bool { self == .q8_0 || self == .q4_0 }
    }

    /// What was written: each tensor's GGUF name and type, and the file's size.
    public struct Summary: Sendable {
        public let tensors: [(name: String, type: GGMLType)]
        public let byteCount: Int
        /// Decisions a user should know about (a pre-tokenizer llama.cpp has no name for, tensors kept wider).
        public let notes: [String]
    }

    /// ggml's quantization format version (`GGML_QNT_VERSION`), written as `general.quantization_version`.
    public static let quantizationVersion: UInt32 = 2

    /// Writes `model` with `codec`'s tokenizer and prompt layout to the GGUF file `path` (replaced atomically).
    /// - Parameters:
    ///   - chatTemplate: the imported model's own; without one a Jinja template for `codec.template` is written
    ///     (the one the Hugging Face export writes).
    ///   - name: `general.name`.
    ///   - type: the weights' type. 1-D tensors (norms, biases) stay F32 always, as llama.cpp keeps them; at q8_0
    ///     and q4_0 a weight whose rows are not a multiple of 32 is written F16 (convert_hf_to_gguf.py's fallback);
    ///     at q4_0 the output layer (`output`, or `token_embd` when tied) is written Q8_0: llama.cpp's quantizer
    ///     keeps it at Q6_K, a type this writer does not produce, and Q8_0 is the nearest wider one it does.
    /// - Throws: `ModelFileError` naming `path`: it cannot be written, a weight is not finite, the tokenizer is
    ///   larger than the model's vocabulary; `TokenizerFileError` when the character tokenizer has a symbol GGUF's
    ///   byte-level vocabulary cannot hold.
    @discardableResult
    public static func export(model: Transformer, codec: TraceCodec, chatTemplate: String?, name: String, to path: String,
                              type: FileType = .f32) throws -> Summary {
        let c = model.config
        var notes: [String] = []
        var metadata = architectureMetadata(c, name: name, type: type)
        let spec: GGUFTokenizerSpec
        let template = chatTemplate ?? HuggingFaceExporter.jinja(codec.template)
        guard codec.tokenizer.vocabularySize <= c.vocabSize else {
            throw ModelFileError.unsupported(file: path, what: "a tokenizer of \(codec.tokenizer.vocabularySize) tokens for a model vocabulary of \(c.vocabSize)",
                                             supported: "a tokenizer no larger than the model's vocab_size; the checkpoint is inconsistent")
        }
        if let bpe = codec.tokenizer as? BPETokenizer {
            spec = bpe.ggufSpec(vocabularySize: c.vocabSize, bos: bpe.beginningOfSequenceID, eos: codec.endID, chatTemplate: template, file: path)
            if spec.pre == nil {
                notes.append("tokenizer.ggml.pre is not written: the tokenizer's pre-tokenizer is none of those llama.cpp names "
                             + "(gpt-2, llama-bpe, qwen2, smollm); llama.cpp will use its default pre-tokenizer and may split text differently")
            }
        } else if let chars = codec.tokenizer as? Tokenizer {
            spec = try chars.ggufSpec(vocabularySize: c.vocabSize, eos: codec.endID, chatTemplate: template, file: path)
        } else {
            throw ModelFileError.unsupported(file: path, what: "exporting a \(Swift.type(of: codec.tokenizer)) tokenizer", supported: "byte-level BPE, the character tokenizer")
        }
        metadata += tokenizerMetadata(spec)

        let tensors = try self.tensors(model, type: type, file: path)
        let kept = tensors.filter { $0.type != type.tensorType && $0.shape.count >= 2 }
        if !kept.isEmpty {
            notes.append("kept wider than \(type.rawValue): " + kept.map { "\($0.name) (\($0.type.name))" }.joined(separator: ", "))
        }
        let writer = GGUFWriter(metadata: metadata, tensors: tensors)
        try writer.write(to: path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int ?? 0
        return Summary(tensors: tensors.map { ($0.name, $0.type) }, byteCount: size, notes: notes)
    }

    /// `general.*` and `<arch>.*`, in the order convert_hf_to_gguf.py writes them.
    static func architectureMetadata(_ c: TransformerConfig, name: String, type: FileType) -> [(key: String, value: GGUFValue)] {
        let arch = c.modelType
        var m: [(key: String, value: GGUFValue)] = [
            ("general.architecture", .string(arch)),
            ("general.type", .string("model")),
            ("general.name", .string(name)),
            ("general.file_type", .uint32(type.llamaFileType)),
        ]
        if type.isQuantized { m.append(("general.quantization_version", .uint32(quantizationVersion))) }
        m += [
            ("general.alignment", .uint32(UInt32(GGUFFile.defaultAlignment))),
            ("\(arch).vocab_size", .uint32(UInt32(c.vocabSize))),
            ("\(arch).context_length", .uint32(UInt32(c.maxPositionEmbeddings))),
            ("\(arch).embedding_length", .uint32(UInt32(c.hiddenSize))),
            ("\(arch).block_count", .uint32(UInt32(c.numHiddenLayers))),
            ("\(arch).feed_forward_length", .uint32(UInt32(c.intermediateSize))),
            ("\(arch).rope.dimension_count", .uint32(UInt32(c.headDim))),
            ("\(arch).attention.head_count", .uint32(UInt32(c.numAttentionHeads))),
            ("\(arch).attention.head_count_kv", .uint32(UInt32(c.numKeyValueHeads))),
        ]
        if let headDim = c.explicitHeadDim {
            m += [("\(arch).attention.key_length", .uint32(UInt32(headDim))), ("\(arch).attention.value_length", .uint32(UInt32(headDim)))]
        }
        m += [
            ("\(arch).attention.layer_norm_rms_epsilon", .float32(c.rmsNormEps)),
            ("\(arch).rope.freq_base", .float32(Float(c.ropeTheta))),
        ]
        return m
    }

    /// `tokenizer.ggml.*` and `tokenizer.chat_template` from `spec`.
    static func tokenizerMetadata(_ spec: GGUFTokenizerSpec) -> [(key: String, value: GGUFValue)] {
        var m: [(key: String, value: GGUFValue)] = [("tokenizer.ggml.model", .string(spec.model))]
        if let pre = spec.pre { m.append(("tokenizer.ggml.pre", .string(pre))) }
        m += [
            ("tokenizer.ggml.tokens", .array(spec.tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array((spec.tokenTypes ?? []).map { .int32($0) })),
            ("tokenizer.ggml.merges", .array(spec.merges.map { .string($0) })),
        ]
        for (key, id) in [("bos_token_id", spec.bosID), ("eos_token_id", spec.eosID), ("padding_token_id", spec.padID)] {
            if let id { m.append(("tokenizer.ggml.\(key)", .uint32(UInt32(id)))) }
        }
        m += [("tokenizer.ggml.add_bos_token", .bool(spec.addBOS)), ("tokenizer.ggml.add_eos_token", .bool(spec.addEOS))]
        if let template = spec.chatTemplate { m.append(("tokenizer.chat_template", .string(template))) }
        return m
    }

    /// The type tensor `name` (GGUF name, row-major `shape`) is written in for a `type` file.
    static func tensorType(_ name: String, shape: [Int], type: FileType, tied: Bool) -> GGMLType {
        // convert_hf_to_gguf.py: "Most of the codebase that takes in 1D tensors or norms only handles F32 tensors"
        if shape.count <= 1 || name.hasSuffix("_norm.weight") { return .f32 }
        guard type.isQuantized else { return type.tensorType }
        if (shape.last ?? 0) % 32 != 0 { return .f16 }
        let isOutput = name == "output.weight" || (tied && name == "token_embd.weight")
        return type == .q4_0 && isOutput ? .q8_0 : type.tensorType
    }

    /// The tensors in file order (the model's parameter order, then `rope_freqs` for Llama 3 scaling), each quantized
    /// when its turn comes.
    static func tensors(_ model: Transformer, type: FileType, file: String) throws -> [GGUFWriter.Tensor] {
        let c = model.config
        let names = GGUFImporter.tensorNames(c)
        let p = model.parameters
        var out: [GGUFWriter.Tensor] = []
        for view in p.views {
            guard let ggufName = names[view.name] else {
                throw ModelFileError.unsupported(file: file, what: "parameter \(view.name) of the \(c.modelType) model", supported: "the parameters llama.cpp's \(c.modelType) architecture has")
            }
            let tensorType = self.tensorType(ggufName, shape: view.shape, type: type, tied: c.tieWordEmbeddings)
            let heads = c.modelType == "llama" ? GGUFImporter.permutedHeads(view.name, c) : nil
            let source = UnsafeBufferPointer(start: p.values.base + view.offset, count: view.count)
            out.append(GGUFWriter.Tensor(name: ggufName, shape: view.shape, type: tensorType) {
                var values = Array(source)
                if let heads { values = permuteRotaryRows(values, heads: heads, rowWidth: view.shape.last ?? 1) }
                if tensorType != .f32 && tensorType != .f16, let bad = values.firstIndex(where: { !$0.isFinite }) {
                    throw ModelFileError.unsupported(file: file, what: "\(values[bad]) at element \(bad) of \(view.name)",
                                                     supported: "finite weights; the checkpoint's model diverged, export an earlier step")
                }
                // the shape was checked against the block size above, and every type tensorType picks is writable
                return values.withUnsafeBufferPointer { tensorType.quantize($0) } ?? []
            })
        }
        if let scaling = c.ropeScaling {
            let factors = ropeFactors(scaling, headDim: c.headDim, theta: c.ropeTheta)
            out.append(GGUFWriter.Tensor(name: "rope_freqs.weight", shape: [factors.count], type: .f32) {
                factors.withUnsafeBufferPointer { GGMLType.f32.quantize($0) } ?? []
            })
        }
        return out
    }

    /// convert_hf_to_gguf.py's `permute` for llama q/k weights: within each head of D rows, Hugging Face row
    /// j * D/2 + i goes to row 2i + j (j = 0, 1 selects the rotary half), so llama.cpp's interleaved rotary pairs
    /// act on the halves Hugging Face rotates together. The inverse of `GGUFImporter.unpermuteRotaryRows`.
    static func permuteRotaryRows(_ source: [Float], heads: Int, rowWidth: Int) -> [Float] {
        var out = source
        let rows = source.count / rowWidth, d = rows / heads, half = d / 2
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let from = (h * d + j * half + i) * rowWidth, to = (h * d + 2 * i + j) * rowWidth
                    out[to..<(to + rowWidth)] = source[from..<(from + rowWidth)]
                }
            }
        }
        return out
    }

    /// Llama 3 rotary scaling as llama.cpp takes it: one factor per rotary frequency that the frequency is divided
    /// by (`rope_freqs.weight`), as convert_hf_to_gguf.py's LlamaModel computes it: 1 for short wavelengths,
    /// `factor` for long ones, 1 / ((1 - s) / factor + s) in between.
    static func ropeFactors(_ r: Llama3RopeScaling, headDim: Int, theta: Double) -> [Float] {
        let lowWavelength = Double(r.originalMaxPositionEmbeddings) / r.lowFreqFactor
        let highWavelength = Double(r.originalMaxPositionEmbeddings) / r.highFreqFactor
        return RotaryTable.inverseFrequencies(headDim: headDim, theta: theta).map { frequency in
            let wavelength = 2 * Double.pi / Double(frequency)
            if wavelength < highWavelength { return 1 }
            if wavelength > lowWavelength { return Float(r.factor) }
            let smooth = (Double(r.originalMaxPositionEmbeddings) / wavelength - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor)
            return Float(1 / ((1 - smooth) / r.factor + smooth))
        }
    }
}
