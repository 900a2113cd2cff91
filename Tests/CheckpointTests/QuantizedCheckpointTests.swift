import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// An int8 model in a checkpoint (issue 24): the int8 values, their row scales and input scales round-trip
// exactly, the float weights they replace are not stored, a flipped int8 byte fails the checksum naming the
// dataset, and values outside the symmetric range are refused on load.

@Suite("quantized checkpoints")
struct QuantizedCheckpointTests {
    private let config = TransformerConfig(vocabSize: Tokenizer.math.vocabularySize, hiddenSize: 64, intermediateSize: 96,
                                           numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 64)
    private let marked = "model.layers.1.mlp.down_proj.weight"

    /// A random model of `config` with its Linear layers int8 except layer 0's attention; the first row of
    /// `marked` holds the distinctive bytes 1, 2, ..., 64 (findable in the file).
    private func quantizedModel() throws -> Transformer {
        var rng = RandomGenerator(seed: 21)
        let model = try Transformer(config: config, rng: &rng)
        let w = model.parameters[marked].ptr
        for c in 0..<64 { w[c] = Float(c + 1) / 64 * 0.5 }  // row 0: peak 0.5 -> int8 values round(127 (c+1) / 64)
        let calibration: [[Int32]] = [[1, 5, 9, 13, 40], [2, 7, 7, 30]]
        try model.quantize(keeping: Set(try model.linearWeights(selectedBy: "model.layers.0.self_attn")), calibration: calibration, range: .percentile(99))
        return model
    }

    private func save(_ model: Transformer, _ path: String, values: [String: QuantizedLinear]? = nil) throws {
        let record = QuantizationRecord(activationRange: "percentile 99.0", calibrationRows: 2, keptFP32: ["model.layers.0.self_attn"])
        try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: config.jsonString(),
                                                                            store: model.floatParametersKept(),
                                                                            quantized: values ?? model.quantizedLinears, quantization: record)],
                                                     tokenizer: .math), to: path)
    }

    @Test("int8 layers round-trip exactly; the model read back gives the same logits; no float copy of them is stored")
    func roundTrip() throws {
        try withTemporaryFolder("int8-roundtrip") { dir in
            let model = try quantizedModel()
            let path = dir + "/int8.h5"
            try save(model, path)
            let reader = try CheckpointReader(path: path)
            try reader.verify()
            let loaded = try reader.loadTransformer(role: "student")
            #expect(loaded.quantizedLinears == model.quantizedLinears)
            #expect(loaded.quantizedLinears.count == 15 - 4)  // 2 blocks of 7 and the untied head, less layer 0's attention
            for name in model.quantizedLinears.keys { #expect(!loaded.parameters.contains(name), "\(name) has a float copy") }
            #expect(loaded.parameters.contains("model.layers.0.self_attn.q_proj.weight"))
            let tokens: [Int32] = [3, 17, 22, 5, 9, 41]
            let a = model.forward(tokens: tokens, batch: 1, length: tokens.count).logits.toArray()
            let b = loaded.forward(tokens: tokens, batch: 1, length: tokens.count).logits.toArray()
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
            #expect(loaded.weightBytes == model.weightBytes)
            let (record, layers) = try #require(try reader.quantization(role: "student"))
            #expect(record.activationRange == "percentile 99.0" && record.calibrationRows == 2)
            #expect(layers == model.quantizedLinears.keys.sorted())
            // the stored bytes: one per int8 value (the hand-computed row 0 of the marked weight included)
            let row0 = loaded.quantizedLinears[marked]!.weight.values.prefix(64).map(Int.init)
            #expect(zip(row0, 1...64).allSatisfy { abs(Double($0) - 127 * Double($1) / 64) <= 0.5 }, "\(row0)")
        }
    }

    @Test("a flipped int8 byte fails the checksum, naming the dataset; the parameter hash covers the int8 values")
    func damageIsCaught() throws {
        try withTemporaryFolder("int8-damage") { dir in
            let model = try quantizedModel()
            let path = dir + "/int8.h5", other = dir + "/other.h5"
            try save(model, path)
            let bytes = Data(model.quantizedLinears[marked]!.weight.values.prefix(64).map { UInt8(bitPattern: $0) })
            let found = offsets(of: bytes, in: try Data(contentsOf: URL(fileURLWithPath: path)))
            try #require(found.count == 1, "the marked row should occur once in the file, found \(found.count)")
            // a second file whose int8 values differ in one place has another hash
            var changed = model.quantizedLinears
            let q = changed[marked]!
            var values = q.weight.values
            values[5] = values[5] == 1 ? 2 : 1
            changed[marked] = QuantizedLinear(weight: Int8Matrix(rows: q.weight.rows, columns: q.weight.columns, values: values,
                                                                 scales: q.weight.scales), inputScale: q.inputScale)
            try save(model, other, values: changed)
            #expect(try CheckpointReader(path: path).parameterHash(role: "student") != CheckpointReader(path: other).parameterHash(role: "student"))
            try flipByte(in: path, at: found[0] + 10)
            let reader = try CheckpointReader(path: path)
            do {
                try reader.verify()
                Issue.record("verify passed a damaged int8 dataset")
            } catch let e as CheckpointError {
                #expect("\(e)".contains(marked), "\(e)")
            }
            #expect(throws: CheckpointError.self) { try reader.loadTransformer(role: "student") }
        }
    }

    @Test("an int8 value of -128 (outside the symmetric range) is refused on load, naming the layer")
    func outOfRangeValueRefused() throws {
        try withTemporaryFolder("int8-range") { dir in
            let model = try quantizedModel()
            var bad = model.quantizedLinears
            let q = bad[marked]!
            var values = q.weight.values
            values[0] = -128
            bad[marked] = QuantizedLinear(weight: Int8Matrix(rows: q.weight.rows, columns: q.weight.columns, values: values,
                                                             scales: q.weight.scales), inputScale: q.inputScale)
            let path = dir + "/bad.h5"
            try save(model, path, values: bad)
            do {
                _ = try CheckpointReader(path: path).loadTransformer(role: "student")
                Issue.record("loaded an int8 value of -128")
            } catch let e as CheckpointError {
                #expect("\(e)".contains(marked) && "\(e)".contains("-128"), "\(e)")
            }
        }
    }
}
