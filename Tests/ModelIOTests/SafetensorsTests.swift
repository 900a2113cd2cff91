import Foundation
import ModelIO
import Testing

// SafetensorsFile and SafetensorsModel against files written by safetensors.torch (Fixtures/dtypes.safetensors,
// Fixtures/sharded/), values compared bit for bit with torch's float32 conversion; then damaged files.

/// Fixtures/dtypes.safetensors.json and sharded.json.
private struct SafetensorsManifest: Decodable {
    struct Tensor: Decodable {
        let name: String
        let dtype: String
        let shape: [Int]
        let reference: String
    }

    let metadata: [String: String]?
    let tensors: [Tensor]
    let shards: [String: String]?
}

/// A safetensors file made of `header` (JSON) and `data` bytes.
private func safetensorsBytes(_ header: String, data: [UInt8]) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 8)
    bytes.put(UInt64(header.utf8.count), at: 0)
    return bytes + Array(header.utf8) + data
}

/// Opens `bytes` (written to a scratch file named `name`) and returns the error.
private func openError(_ name: String, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> ModelFileError? {
    let path = try writeScratch(name, bytes)
    return modelFileError({ _ = try SafetensorsFile(path: path) }, sourceLocation: sourceLocation)
}

/// A copy of Fixtures/sharded in a scratch folder.
private func copyOfShardedFolder() throws -> String {
    let copy = scratchPath("sharded")
    try FileManager.default.copyItem(atPath: IOFixtures.path("sharded"), toPath: copy)
    return copy
}

@Suite struct SafetensorsTests {
    @Test func f32F16BF16AreExact() throws {
        let manifest: SafetensorsManifest = try IOFixtures.json("dtypes.safetensors.json")
        let file = try SafetensorsFile(path: IOFixtures.path("dtypes.safetensors"))
        #expect(file.metadata == manifest.metadata)
        #expect(file.tensorNames == manifest.tensors.map(\.name))
        for t in manifest.tensors {
            let info = try file.info(t.name)
            #expect(info.dtype == t.dtype && info.shape == t.shape, "\(t.name)")
            #expect(info.byteRange.count == info.elementCount * (t.dtype == "F32" ? 4 : 2))
            let expected = try IOFixtures.floats(t.reference)
            let values = try file.floats(t.name)
            #expect(sameBits(values, expected), "\(t.name) (\(t.dtype)) differs from torch at \(firstDifference(values, expected))")
            var into = [Float](repeating: .nan, count: expected.count)
            try into.withUnsafeMutableBufferPointer { try file.read(t.name, into: $0.baseAddress!, count: $0.count) }
            #expect(sameBits(into, expected), "\(t.name) read(into:)")
        }
        #expect(try file.info("scalar").shape == [] && file.floats("scalar") == [2.5])
    }

    @Test func shardedFolderReadsAcrossShards() throws {
        let manifest: SafetensorsManifest = try IOFixtures.json("sharded.json")
        let model = try SafetensorsModel(folder: IOFixtures.path("sharded"))
        #expect(model.indexPath?.hasSuffix("model.safetensors.index.json") == true)
        #expect(model.tensorNames == manifest.tensors.map(\.name))
        #expect(Set((manifest.shards ?? [:]).values).count == 2)
        for t in manifest.tensors {
            let info = try model.info(t.name)
            #expect(info.file.hasSuffix("/" + (manifest.shards?[t.name] ?? "?")), "\(t.name) is in \(info.file)")
            #expect(info.dtype == t.dtype && info.shape == t.shape)
            let expected = try IOFixtures.floats(t.reference)
            #expect(sameBits(try model.floats(t.name), expected), "\(t.name)")
            var into = [Float](repeating: .nan, count: expected.count)
            try into.withUnsafeMutableBufferPointer { try model.read(t.name, into: $0.baseAddress!, count: $0.count) }
            #expect(sameBits(into, expected), "\(t.name) read(into:)")
        }
        let missing = modelFileError { _ = try model.floats("model.layers.9.mlp.up_proj.weight") }
        #expect(missing == .missingTensor(file: model.folder, tensor: "model.layers.9.mlp.up_proj.weight"))
    }

    @Test func singleFileFolder() throws {
        let folder = scratchPath("single")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: IOFixtures.path("dtypes.safetensors"), toPath: folder + "/model.safetensors")
        let model = try SafetensorsModel(folder: folder)
        #expect(model.indexPath == nil)
        #expect(model.tensorNames == ["scalar", "weight.bf16", "weight.f16", "weight.f32"])
        #expect(sameBits(try model.floats("weight.bf16"), try IOFixtures.floats("dtypes.safetensors.ref/weight.bf16.bin")))
    }

    @Test func unsupportedDtypeAndMissingTensorAndWrongCount() throws {
        let file = try SafetensorsFile(path: IOFixtures.path("int64.safetensors"))
        #expect(try file.info("ids").dtype == "I64" && file.info("ids").shape == [4])
        #expect(try file.floats("weight") == [0.5, 1.5])
        let e = modelFileError { _ = try file.floats("ids") }
        guard case .unsupported? = e else { Issue.record("not unsupported: \(String(describing: e))"); return }
        expectMessage(e, contains: ["int64.safetensors", "tensor ids", "I64", "F32, F16, BF16"])
        let missing = modelFileError { _ = try file.info("lm_head.weight") }
        #expect(missing == .missingTensor(file: file.path, tensor: "lm_head.weight"))
        expectMessage(missing, contains: ["int64.safetensors", "lm_head.weight"])
        var buffer = [Float](repeating: 0, count: 3)
        let count = modelFileError {
            try buffer.withUnsafeMutableBufferPointer { try file.read("weight", into: $0.baseAddress!, count: 3) }
        }
        #expect(count == .tensorShape(file: file.path, tensor: "weight", expected: [3], actual: [2]))
    }

    @Test func halfDataAtAnOddOffset() throws {
        // The format does not require the header length to keep the data aligned; the reader must not assume it.
        var header = #"{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[6,10]}}"#
        if header.utf8.count % 2 == 0 { header += " " }
        let data: [UInt8] = [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00,  // f16 1.0, -2.0, smallest subnormal
                             0x80, 0x3F, 0xC0, 0xFF]              // bf16 1.0, NaN with the quiet bit
        let file = try SafetensorsFile(path: writeScratch("odd.safetensors", safetensorsBytes(header, data: data)))
        #expect(try file.info("h").byteRange.lowerBound % 2 == 1)
        #expect(try file.floats("h").map(\.bitPattern) == [Float(1).bitPattern, Float(-2).bitPattern, 0x3380_0000])
        #expect(try file.floats("b").map(\.bitPattern) == [0x3F80_0000, 0xFFC0_0000])
    }

    @Test func missingFileAndDirectory() throws {
        let e = modelFileError { _ = try SafetensorsFile(path: "/nonexistent/model.safetensors") }
        expectMessage(e, contains: ["/nonexistent/model.safetensors", "No such file"])
        let folder = try IOFixtures.path("sharded")
        expectMessage(modelFileError { _ = try SafetensorsFile(path: folder) }, contains: [folder, "is a directory"])
        expectMessage(modelFileError { _ = try SafetensorsModel(folder: "/nonexistent/model") },
                      contains: ["/nonexistent/model", "no such folder"])
        let empty = scratchPath("empty-model")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        expectMessage(modelFileError { _ = try SafetensorsModel(folder: empty) },
                      contains: [empty, "model.safetensors", "model.safetensors.index.json"])
    }

    @Test func headerLengthBeyondTheFile() throws {
        var bytes = try IOFixtures.bytes("dtypes.safetensors")
        bytes.put(UInt64(bytes.count), at: 0)
        let e = try openError("longheader.safetensors", bytes)
        guard case .malformed(_, 0, _)? = e else { Issue.record("not malformed at 0: \(String(describing: e))"); return }
        expectMessage(e, contains: ["longheader.safetensors", "header length \(bytes.count)", "past the end"])
        expectMessage(try openError("short.safetensors", [1, 2, 3]), contains: ["short.safetensors", "3 bytes"])
    }

    @Test func invalidHeaderJSON() throws {
        let e = try openError("badjson.safetensors", safetensorsBytes("{\"a\": {\"dtype\": \"F32\", \"shape\": [1", data: [0, 0, 0, 0]))
        guard case .malformed(_, 8, _)? = e else { Issue.record("not malformed at 8: \(String(describing: e))"); return }
        expectMessage(e, contains: ["badjson.safetensors", "header JSON", "invalid JSON"])
        expectMessage(try openError("notobject.safetensors", safetensorsBytes("[1, 2]", data: [])),
                      contains: ["notobject.safetensors", "does not start with '{'"])
        let wrongType = safetensorsBytes(#"{"a": {"dtype": "F32", "shape": ["x"], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0])
        expectMessage(try openError("wrongtype.safetensors", wrongType), contains: ["wrongtype.safetensors", "a.shape"])
        let noOffsets = safetensorsBytes(#"{"a": {"dtype": "F32", "shape": [1]}}"#, data: [0, 0, 0, 0])
        expectMessage(try openError("nooffsets.safetensors", noOffsets), contains: ["nooffsets.safetensors", "data_offsets"])
    }

    @Test func overlappingOutOfRangeAndUnindexedData() throws {
        let data = [UInt8](repeating: 0, count: 16)
        let overlap = safetensorsBytes(#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#, data: Array(data[0..<12]))
        expectMessage(try openError("overlap.safetensors", overlap), contains: ["overlap.safetensors", "tensor b", "overlaps tensor a"])
        let outside = safetensorsBytes(#"{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#, data: Array(data[0..<8]))
        expectMessage(try openError("outside.safetensors", outside),
                      contains: ["outside.safetensors", "tensor a", "[0, 16]", "within the 8 data bytes"])
        let reversed = safetensorsBytes(#"{"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}}"#, data: Array(data[0..<8]))
        expectMessage(try openError("reversed.safetensors", reversed), contains: ["reversed.safetensors", "tensor a", "[8, 0]"])
        let wrongSize = safetensorsBytes(#"{"a": {"dtype": "F16", "shape": [3], "data_offsets": [0, 8]}}"#, data: Array(data[0..<8]))
        expectMessage(try openError("size.safetensors", wrongSize), contains: ["size.safetensors", "tensor a", "F16 [3]", "6 bytes"])
        let hole = safetensorsBytes(#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}"#, data: Array(data[0..<12]))
        expectMessage(try openError("hole.safetensors", hole), contains: ["hole.safetensors", "after tensor a", "belong to no tensor"])
        let unknown = safetensorsBytes(#"{"a": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}}"#, data: [0])
        expectMessage(try openError("f4.safetensors", unknown), contains: ["f4.safetensors", "tensor a", "dtype F4"])
    }

    @Test func indexNamingAMissingShard() throws {
        let folder = try copyOfShardedFolder()
        let shard = folder + "/model-00002-of-00002.safetensors"
        try FileManager.default.removeItem(atPath: shard)
        let e = modelFileError { _ = try SafetensorsModel(folder: folder) }
        guard case .unreadable? = e else { Issue.record("not unreadable: \(String(describing: e))"); return }
        expectMessage(e, contains: [shard, "is missing", "model.safetensors.index.json", "lm_head.weight"])
    }

    @Test func indexProblems() throws {
        let folder = try copyOfShardedFolder()
        let index = folder + "/model.safetensors.index.json"
        try Data(#"{"metadata": {}}"#.utf8).write(to: URL(fileURLWithPath: index))
        expectMessage(modelFileError { _ = try SafetensorsModel(folder: folder) }, contains: [index, "weight_map", "missing"])
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: index))
        expectMessage(modelFileError { _ = try SafetensorsModel(folder: folder) }, contains: [index, "JSON"])
        try Data(#"{"weight_map": {"x": "../../etc/passwd"}}"#.utf8).write(to: URL(fileURLWithPath: index))
        expectMessage(modelFileError { _ = try SafetensorsModel(folder: folder) }, contains: [index, "weight_map.x", "../../etc/passwd"])
        try Data(#"{"weight_map": {"not.there": "model-00001-of-00002.safetensors"}}"#.utf8).write(to: URL(fileURLWithPath: index))
        let e = modelFileError { _ = try SafetensorsModel(folder: folder) }
        #expect(e == .missingTensor(file: folder + "/model-00001-of-00002.safetensors", tensor: "not.there"))
    }
}
