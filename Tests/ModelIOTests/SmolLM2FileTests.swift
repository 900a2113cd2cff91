import Foundation
import ModelIO
import TestSupport
import Testing

// The real SmolLM2-135M-Instruct Q4_1 GGUF (98 MB, not committed), when this machine has it: metadata, the first
// and last 256 values of a Q8_0 and a Q4_1 tensor bit for bit, and every tensor's sum and absolute sum, against
// Fixtures/smollm2_reference.json (gguf-py's dequantize, written by scripts/make_modelio_fixtures.py).

private let smolLM2Path = smolLM2GGUFPath

private struct SmolLM2Reference: Decodable {
    struct Sample: Decodable { let first: [UInt32]; let last: [UInt32] }
    struct Tensor: Decodable { let type: String; let shape: [Int]; let sum: Double; let abs_sum: Double }
    struct Metadata: Decodable {
        let architecture: String
        let blockCount: Int
        let embeddingLength: Int
        let ropeFreqBase: Double
        let rmsEpsilon: Double
        let tokenCount: Int
        let firstTokens: [String]
        let firstMerges: [String]

        enum CodingKeys: String, CodingKey {
            case architecture = "general.architecture"
            case blockCount = "llama.block_count"
            case embeddingLength = "llama.embedding_length"
            case ropeFreqBase = "llama.rope.freq_base"
            case rmsEpsilon = "llama.attention.layer_norm_rms_epsilon"
            case tokenCount = "tokenizer.ggml.tokens.count"
            case firstTokens = "tokenizer.ggml.tokens.first"
            case firstMerges = "tokenizer.ggml.merges.first"
        }
    }

    let metadata: Metadata
    let tensor_count: Int
    let samples: [String: Sample]
    let tensors: [String: Tensor]
}

@Suite struct SmolLM2FileTests {
    @Test(.enabled(if: FileManager.default.fileExists(atPath: smolLM2Path),
                   "\(smolLM2Path) is not on this machine (it is not committed); skipping the real-file check"))
    func realFileMatchesGGUFPy() throws {
        let reference: SmolLM2Reference = try IOFixtures.json("smollm2_reference.json")
        let file = try GGUFFile(path: smolLM2Path)
        let m = reference.metadata
        #expect(file.version == 3)
        #expect(try file.string("general.architecture") == m.architecture)
        #expect(try file.int("llama.block_count") == m.blockCount)
        #expect(try file.int("llama.embedding_length") == m.embeddingLength)
        #expect(try file.float("llama.rope.freq_base") == m.ropeFreqBase)
        #expect(try file.float("llama.attention.layer_norm_rms_epsilon") == m.rmsEpsilon)
        let tokens = try file.strings("tokenizer.ggml.tokens")
        #expect(tokens.count == m.tokenCount && Array(tokens.prefix(5)) == m.firstTokens)
        #expect(Array(try file.strings("tokenizer.ggml.merges").prefix(3)) == m.firstMerges)
        #expect(file.tensors.count == reference.tensor_count)

        #expect(try file.tensor("token_embd.weight").type == .q8_0)
        #expect(try file.tensor("blk.0.ffn_down.weight").type == .q4_1)
        for (name, sample) in reference.samples {
            let values = try file.floats(name).map(\.bitPattern)
            #expect(Array(values.prefix(256)) == sample.first, "\(name): first 256 values")
            #expect(Array(values.suffix(256)) == sample.last, "\(name): last 256 values")
        }

        let largest = file.tensors.map(\.elementCount).max() ?? 0
        var buffer = [Float](repeating: 0, count: largest)
        for info in file.tensors {
            guard let expected = reference.tensors[info.name] else {
                Issue.record("\(info.name) is not in the reference")
                continue
            }
            #expect(info.type.name == expected.type && info.shape == expected.shape, "\(info.name)")
            try buffer.withUnsafeMutableBufferPointer { try file.read(info.name, into: $0.baseAddress!, count: info.elementCount) }
            var sum = 0.0, absSum = 0.0
            for v in buffer[0..<info.elementCount] {
                sum += Double(v)
                absSum += Double(abs(v))
            }
            // The reference sums with math.fsum (exact); a plain float64 sum of <= 28M floats is off by far less.
            #expect(abs(sum - expected.sum) <= 1e-9 * expected.abs_sum, "\(info.name): sum \(sum) vs \(expected.sum)")
            #expect(abs(absSum - expected.abs_sum) <= 1e-9 * expected.abs_sum, "\(info.name): abs sum")
        }
    }
}
