import Foundation
import ModelIO
import Testing

// GGUFFile against gguf-py: Fixtures/tiny.gguf (written by GGUFWriter) and its manifest and dequantized
// references (gguf.quants.dequantize), compared bit for bit.

/// A metadata value in the manifest: its GGUF type name and value (arrays: typed items).
struct ManifestValue: Decodable {
    let value: GGUFValue

    private enum Keys: String, CodingKey { case type, value, items }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "UINT8": value = .uint8(try c.decode(UInt8.self, forKey: .value))
        case "INT8": value = .int8(try c.decode(Int8.self, forKey: .value))
        case "UINT16": value = .uint16(try c.decode(UInt16.self, forKey: .value))
        case "INT16": value = .int16(try c.decode(Int16.self, forKey: .value))
        case "UINT32": value = .uint32(try c.decode(UInt32.self, forKey: .value))
        case "INT32": value = .int32(try c.decode(Int32.self, forKey: .value))
        case "UINT64": value = .uint64(try c.decode(UInt64.self, forKey: .value))
        case "INT64": value = .int64(try c.decode(Int64.self, forKey: .value))
        case "FLOAT32": value = .float32(Float(try c.decode(Double.self, forKey: .value)))
        case "FLOAT64": value = .float64(try c.decode(Double.self, forKey: .value))
        case "BOOL": value = .bool(try c.decode(Bool.self, forKey: .value))
        case "STRING": value = .string(try c.decode(String.self, forKey: .value))
        case "ARRAY": value = .array(try c.decode([ManifestValue].self, forKey: .items).map(\.value))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown GGUF type \(type)")
        }
    }
}

/// Fixtures/tiny.gguf.json.
struct GGUFManifest: Decodable {
    struct Entry: Decodable {
        let key: String
        let typed: ManifestValue

        private enum Keys: String, CodingKey { case key }
        init(from decoder: Decoder) throws {
            key = try decoder.container(keyedBy: Keys.self).decode(String.self, forKey: .key)
            typed = try ManifestValue(from: decoder)
        }
    }

    struct Tensor: Decodable {
        let name: String
        let type: UInt32
        let type_name: String
        let shape: [Int]
        let dims: [Int]
        let reference: String
    }

    let version: Int
    let alignment: Int
    let metadata: [Entry]
    let tensors: [Tensor]

    static func load() throws -> GGUFManifest { try IOFixtures.json("tiny.gguf.json") }
}

/// Checks every tensor of `file` against the manifest's references, bit for bit.
private func expectTensorsMatch(_ file: GGUFFile, _ manifest: GGUFManifest) throws {
    #expect(file.tensors.map(\.name) == manifest.tensors.map(\.name))
    for t in manifest.tensors {
        let info = try file.tensor(t.name)
        #expect(info.shape == t.shape, "\(t.name) shape")
        #expect(info.dimensions == t.dims, "\(t.name) dimensions")
        #expect(info.type == GGMLType(rawValue: t.type) && info.type.name == t.type_name, "\(t.name) type")
        #expect(info.elementCount == t.shape.reduce(1, *))
        let expected = try IOFixtures.floats(t.reference)
        let values = try file.floats(t.name)
        #expect(sameBits(values, expected), "\(t.name) (\(t.type_name)) differs from gguf-py at \(firstDifference(values, expected))")
        var into = [Float](repeating: .nan, count: info.elementCount)
        try into.withUnsafeMutableBufferPointer { try file.read(t.name, into: $0.baseAddress!, count: $0.count) }
        #expect(sameBits(into, expected), "\(t.name) read(into:) differs from floats()")
    }
}

@Suite struct GGUFReaderTests {
    @Test func tensorsOfEveryTypeEqualGGUFPyBitForBit() throws {
        let manifest = try GGUFManifest.load()
        let file = try GGUFFile(path: IOFixtures.path("tiny.gguf"))
        #expect(file.version == 3)
        #expect(file.alignment == 32)
        try expectTensorsMatch(file, manifest)
    }

    @Test func fixtureCoversEverySupportedType() throws {
        let manifest = try GGUFManifest.load()
        let covered = Set(manifest.tensors.map { GGMLType(rawValue: $0.type) })
        #expect(covered == Set(GGMLType.supported))
        #expect(GGMLType.supported.map(\.name) == ["F32", "F16", "Q4_0", "Q4_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "BF16"])
    }

    @Test func metadataEqualsManifestInFileOrder() throws {
        let manifest = try GGUFManifest.load()
        let file = try GGUFFile(path: IOFixtures.path("tiny.gguf"))
        #expect(file.metadataKeys == manifest.metadata.map(\.key))
        #expect(file.metadata.count == manifest.metadata.count)
        for entry in manifest.metadata {
            #expect(file.metadata[entry.key] == entry.typed.value, "\(entry.key)")
        }
    }

    @Test func version2FileReadsTheSame() throws {
        let manifest = try GGUFManifest.load()
        var bytes = try IOFixtures.bytes("tiny.gguf")
        bytes.put(UInt32(2), at: 4)
        let v2 = try GGUFFile(path: writeScratch("v2.gguf", bytes))
        let v3 = try GGUFFile(path: IOFixtures.path("tiny.gguf"))
        #expect(v2.version == 2)
        #expect(v2.metadataKeys == v3.metadataKeys)
        #expect(v2.metadata == v3.metadata)
        #expect(v2.tensors.map(\.offset) == v3.tensors.map(\.offset))
        try expectTensorsMatch(v2, manifest)
    }

    @Test func customAlignmentPlacesTheData() throws {
        struct Aligned: Decodable {
            struct Tensor: Decodable { let name: String; let offset: Int; let values: [UInt32] }
            let alignment: Int
            let tensors: [Tensor]
        }
        let manifest: Aligned = try IOFixtures.json("aligned64.gguf.json")
        let file = try GGUFFile(path: IOFixtures.path("aligned64.gguf"))
        #expect(file.alignment == 64)
        #expect(file.dataOffset % 64 == 0)
        for t in manifest.tensors {
            #expect(try file.tensor(t.name).offset == t.offset, "\(t.name) offset")
            #expect(try file.floats(t.name).map(\.bitPattern) == t.values, "\(t.name) values")
        }
    }

    @Test func typedGettersConvertAndName() throws {
        let file = try GGUFFile(path: IOFixtures.path("tiny.gguf"))
        #expect(try file.string("general.architecture") == "tiny")
        #expect(try file.string("test.string") == "héllo, wörld ✓ 日本語 🙂")
        #expect(try file.int("test.uint8") == 255)
        #expect(try file.int("test.int64") == Int.min)
        #expect(try file.int("test.uint32") == 4_294_967_295)
        #expect(try file.float("test.float32") == Double(Float(1e-5)))
        #expect(try file.float("test.small_int") == 7)
        #expect(try file.bool("test.bool_true") && !(try file.bool("test.bool_false")))
        #expect(try file.strings("test.strings") == ["<s>", "</s>", "Ġthe", "", "日本"])
        #expect(try file.ints("test.int32s") == [1, -2, 3, 2_147_483_647])
        #expect(try file.doubles("test.float32s") == [0.5, -1.25, Double(Float(3.1415927))])
        #expect(try file.optionalString("absent.key") == nil)
        #expect(try file.optionalInt("absent.key") == nil)
        #expect(try file.optionalFloat("absent.key") == nil)
        #expect(try file.optionalBool("absent.key") == nil)
        #expect(try file.optionalInt("test.int16") == -32768)

        expectMessage(modelFileError { _ = try file.string("llama.block_count") },
                      contains: ["tiny.gguf", "llama.block_count", "missing", "a string"])
        expectMessage(modelFileError { _ = try file.int("test.string") },
                      contains: ["test.string", "is string", "an integer"])
        expectMessage(modelFileError { _ = try file.int("test.uint64") },
                      contains: ["test.uint64", "18446744073709551615", "Int"])
        expectMessage(modelFileError { _ = try file.optionalBool("test.uint8") },
                      contains: ["test.uint8", "is uint8", "a bool"])
        expectMessage(modelFileError { _ = try file.strings("test.int32s") },
                      contains: ["test.int32s", "int32", "an array of strings"])
        expectMessage(modelFileError { _ = try file.ints("test.string") },
                      contains: ["test.string", "an array of integers"])
        expectMessage(modelFileError { _ = try file.float("test.bools") },
                      contains: ["test.bools", "array of bool", "a number"])
        if case .badKey(let f, let key, _)? = modelFileError({ _ = try file.bool("nope") }) {
            #expect(f.hasSuffix("tiny.gguf") && key == "nope")
        } else {
            Issue.record("a missing key is not badKey")
        }
    }

    @Test func readIntoChecksTheCountAndMissingTensorsAreNamed() throws {
        let file = try GGUFFile(path: IOFixtures.path("tiny.gguf"))
        var buffer = [Float](repeating: 0, count: 10)
        let e = modelFileError {
            try buffer.withUnsafeMutableBufferPointer { try file.read("quant.q4_1_small", into: $0.baseAddress!, count: 10) }
        }
        #expect(e == .tensorShape(file: file.path, tensor: "quant.q4_1_small", expected: [10], actual: [2, 64]))
        let missing = modelFileError { _ = try file.floats("blk.0.attn_q.weight") }
        #expect(missing == .missingTensor(file: file.path, tensor: "blk.0.attn_q.weight"))
        expectMessage(missing, contains: ["tiny.gguf", "blk.0.attn_q.weight"])
    }

    @Test func knownButUnsupportedTypeOpensAndNamesItOnRead() throws {
        // Q8_0 2x64 (4 blocks of 34 bytes) relabelled Q5_0 (4 blocks of 22): still inside the file, so the file
        // opens; reading that tensor is refused, the others read.
        var bytes = try IOFixtures.bytes("tiny.gguf")
        let fields = try GGUFTensorFields(bytes, tensor: "quant.q8_0_small")
        bytes.put(UInt32(6), at: fields.type)
        let file = try GGUFFile(path: writeScratch("q5_0.gguf", bytes))
        #expect(try file.tensor("quant.q8_0_small").type.name == "Q5_0")
        let e = modelFileError { _ = try file.floats("quant.q8_0_small") }
        expectMessage(e, contains: ["q5_0.gguf", "quant.q8_0_small", "Q5_0 (6)", "F32, F16, Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K, BF16"])
        #expect(try file.floats("quant.q4_1").count == 768)
    }
}
