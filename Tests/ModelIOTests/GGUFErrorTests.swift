import Foundation
import ModelIO
import Testing

// Damaged and hostile GGUF files: each must fail with a typed error naming the file and what is wrong, never
// crash or allocate what a corrupt count asks for. Built by patching Fixtures/tiny.gguf.

/// Opens `bytes` (written to a scratch file named `name`) and returns the error.
private func openError(_ name: String, _ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> ModelFileError? {
    let path = try writeScratch(name, bytes)
    return modelFileError({ _ = try GGUFFile(path: path) }, sourceLocation: sourceLocation)
}

/// Offset of the value of metadata `key` (after its key string and u32 type).
private func valueOffset(_ bytes: [UInt8], key: String) throws -> Int {
    guard let at = bytes.ggufString(key) else { throw FixtureMissing(description: "no key \(key)") }
    return at + 8 + key.utf8.count + 4
}

/// A GGUF v3 file with no tensors and one metadata key whose value bytes (type code first) are `value`.
private func oneKeyGGUF(_ key: String, value: [UInt8]) -> [UInt8] {
    var bytes = Array("GGUF".utf8) + [UInt8](repeating: 0, count: 28 + key.utf8.count)
    bytes.put(UInt32(3), at: 4)
    bytes.put(UInt64(0), at: 8)
    bytes.put(UInt64(1), at: 16)
    bytes.put(UInt64(key.utf8.count), at: 24)
    bytes.replaceSubrange(32..<(32 + key.utf8.count), with: Array(key.utf8))
    return bytes + value
}

/// Little-endian bytes of `value`.
private func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    var b = [UInt8](repeating: 0, count: MemoryLayout<T>.size)
    b.put(value, at: 0)
    return b
}

@Suite struct GGUFErrorTests {
    @Test func missingFile() {
        let e = modelFileError { _ = try GGUFFile(path: "/nonexistent/folder/model.gguf") }
        guard case .unreadable? = e else { Issue.record("not unreadable: \(String(describing: e))"); return }
        expectMessage(e, contains: ["/nonexistent/folder/model.gguf", "No such file"])
    }

    @Test func directory() throws {
        let folder = try IOFixtures.folder()
        let e = modelFileError { _ = try GGUFFile(path: folder) }
        guard case .unreadable? = e else { Issue.record("not unreadable: \(String(describing: e))"); return }
        expectMessage(e, contains: [folder, "is a directory"])
    }

    @Test func badMagic() throws {
        var bytes = try IOFixtures.bytes("tiny.gguf")
        bytes[3] = UInt8(ascii: "X")
        let e = try openError("magic.gguf", bytes)
        guard case .malformed(_, 0, _)? = e else { Issue.record("not malformed at 0: \(String(describing: e))"); return }
        expectMessage(e, contains: ["magic.gguf", "not a GGUF file", "47 47 55 58"])
        // A safetensors file given as GGUF fails the same way.
        let st = try IOFixtures.path("dtypes.safetensors")
        expectMessage(modelFileError { _ = try GGUFFile(path: st) }, contains: ["dtypes.safetensors", "not a GGUF file"])
    }

    @Test func versions1And99AreRefused() throws {
        for version: UInt32 in [1, 99] {
            var bytes = try IOFixtures.bytes("tiny.gguf")
            bytes.put(version, at: 4)
            let e = try openError("v\(version).gguf", bytes)
            guard case .unsupported? = e else { Issue.record("not unsupported: \(String(describing: e))"); continue }
            expectMessage(e, contains: ["v\(version).gguf", "GGUF version \(version)", "versions 2 and 3"])
        }
        var bytes = try IOFixtures.bytes("tiny.gguf")
        bytes.put(UInt32(3).byteSwapped, at: 4)
        expectMessage(try openError("big.gguf", bytes), contains: ["big.gguf", "big-endian"])
    }

    @Test func truncatedInsideTheHeader() throws {
        let bytes = try IOFixtures.bytes("tiny.gguf")
        expectMessage(try openError("cut2.gguf", Array(bytes[0..<2])), contains: ["cut2.gguf", "2 bytes", "GGUF"])
        expectMessage(try openError("cut6.gguf", Array(bytes[0..<6])), contains: ["cut6.gguf", "GGUF version", "truncated"])
        let e = try openError("cut12.gguf", Array(bytes[0..<12]))
        guard case .malformed(_, 8, _)? = e else { Issue.record("not malformed at 8: \(String(describing: e))"); return }
        expectMessage(e, contains: ["cut12.gguf", "tensor count", "truncated"])
    }

    @Test func truncatedInAMetadataString() throws {
        let bytes = try IOFixtures.bytes("tiny.gguf")
        let value = try valueOffset(bytes, key: "test.string")
        let e = try openError("cutstring.gguf", Array(bytes[0..<(value + 8 + 5)]))
        guard case .malformed(_, value, _)? = e else { Issue.record("not malformed at \(value): \(String(describing: e))"); return }
        expectMessage(e, contains: ["cutstring.gguf", "metadata test.string",
                                    "has length \("héllo, wörld ✓ 日本語 🙂".utf8.count)", "truncated"])
    }

    @Test func truncatedInTensorInfos() throws {
        let bytes = try IOFixtures.bytes("tiny.gguf")
        let fields = try GGUFTensorFields(bytes, tensor: "quant.q4_1")
        let e = try openError("cutinfo.gguf", Array(bytes[0..<(fields.dimensionCount + 4 + 3)]))
        expectMessage(e, contains: ["cutinfo.gguf", "dimension 0 of tensor quant.q4_1", "truncated"])
    }

    @Test func truncatedInTensorData() throws {
        let bytes = try IOFixtures.bytes("tiny.gguf")
        let e = try openError("cutdata.gguf", Array(bytes[0..<(bytes.count - 100)]))
        guard case .malformed? = e else { Issue.record("not malformed: \(String(describing: e))"); return }
        expectMessage(e, contains: ["cutdata.gguf", "tensor kquant.q6_k's data", "Q6_K", "truncated"])
    }

    @Test func stringLengthLargerThanTheFile() throws {
        var bytes = try IOFixtures.bytes("tiny.gguf")
        guard let key = bytes.ggufString("test.string") else { throw FixtureMissing(description: "no test.string") }
        bytes.put(UInt64(1) << 40, at: key)
        let e = try openError("longstring.gguf", bytes)
        guard case .malformed(_, key, _)? = e else { Issue.record("not malformed at \(key): \(String(describing: e))"); return }
        expectMessage(e, contains: ["longstring.gguf", "metadata key", "1099511627776", "bytes left"])
    }

    @Test func arrayCountOf2To60() throws {
        var bytes = try IOFixtures.bytes("tiny.gguf")
        let value = try valueOffset(bytes, key: "test.strings")
        bytes.put(UInt64(1) << 60, at: value + 4)
        let e = try openError("hugearray.gguf", bytes)
        guard case .malformed(_, value + 4, _)? = e else { Issue.record("not malformed at the count: \(String(describing: e))"); return }
        expectMessage(e, contains: ["hugearray.gguf", "element count of metadata test.strings", "1152921504606846976"])
        // The same for the tensor and metadata counts in the header.
        var header = try IOFixtures.bytes("tiny.gguf")
        header.put(UInt64(1) << 60, at: 8)
        expectMessage(try openError("hugetensors.gguf", header), contains: ["tensor count", "1152921504606846976"])
        header = try IOFixtures.bytes("tiny.gguf")
        header.put(UInt64.max, at: 16)
        expectMessage(try openError("hugekeys.gguf", header), contains: ["metadata key count", "18446744073709551615"])
    }

    @Test func unknownTensorType() throws {
        var bytes = try IOFixtures.bytes("tiny.gguf")
        let fields = try GGUFTensorFields(bytes, tensor: "quant.q4_0")
        bytes.put(UInt32(99), at: fields.type)
        let e = try openError("type99.gguf", bytes)
        guard case .unsupported? = e else { Issue.record("not unsupported: \(String(describing: e))"); return }
        expectMessage(e, contains: ["type99.gguf", "tensor quant.q4_0", "type number 99", "Q4_0, Q4_1, Q8_0, Q4_K"])
    }

    @Test func tensorDataBeyondTheFile() throws {
        var bytes = try IOFixtures.bytes("tiny.gguf")
        let fields = try GGUFTensorFields(bytes, tensor: "plain.f32")
        bytes.put(UInt64(bytes.count), at: fields.offset)
        let e = try openError("farfetched.gguf", bytes)
        guard case .malformed? = e else { Issue.record("not malformed: \(String(describing: e))"); return }
        expectMessage(e, contains: ["farfetched.gguf", "tensor plain.f32's data", "runs past the end"])
        bytes.put(UInt64.max - 4, at: fields.offset)
        expectMessage(try openError("overflow.gguf", bytes), contains: ["overflow.gguf", "plain.f32"])
    }

    @Test func tooManyDimensionsAndBlockMisfits() throws {
        var bytes = try IOFixtures.bytes("tiny.gguf")
        let fields = try GGUFTensorFields(bytes, tensor: "plain.f16")
        bytes.put(UInt32(5), at: fields.dimensionCount)
        expectMessage(try openError("dims5.gguf", bytes), contains: ["dims5.gguf", "plain.f16", "5 dimensions", "at most 4"])
        // A Q8_0 row of 64 elements relabelled Q4_K (block 256).
        bytes = try IOFixtures.bytes("tiny.gguf")
        let small = try GGUFTensorFields(bytes, tensor: "quant.q8_0_small")
        bytes.put(UInt32(12), at: small.type)
        expectMessage(try openError("misfit.gguf", bytes),
                      contains: ["misfit.gguf", "quant.q8_0_small", "Q4_K", "64 elements", "block size 256"])
    }

    @Test func badValueTypeBoolAndAlignment() throws {
        var bytes = try IOFixtures.bytes("tiny.gguf")
        let type = try valueOffset(bytes, key: "test.uint16") - 4
        bytes.put(UInt32(13), at: type)
        expectMessage(try openError("vtype.gguf", bytes), contains: ["vtype.gguf", "metadata test.uint16", "13", "not a GGUF value type"])
        bytes = try IOFixtures.bytes("tiny.gguf")
        bytes[try valueOffset(bytes, key: "test.bool_true")] = 7
        expectMessage(try openError("bool.gguf", bytes), contains: ["bool.gguf", "test.bool_true", "stored as 7"])
        bytes = try IOFixtures.bytes("aligned64.gguf")
        bytes.put(UInt32(48), at: try valueOffset(bytes, key: "general.alignment"))
        let e = try openError("align48.gguf", bytes)
        #expect(e.map { if case .badKey(_, "general.alignment", _) = $0 { return true } else { return false } } == true)
        expectMessage(e, contains: ["align48.gguf", "general.alignment", "power of two"])
    }

    @Test func invalidUTF8AndDuplicateKeys() throws {
        var bytes = try IOFixtures.bytes("tiny.gguf")
        let value = try valueOffset(bytes, key: "test.string")
        bytes[value + 8] = 0xFF
        expectMessage(try openError("utf8.gguf", bytes), contains: ["utf8.gguf", "metadata test.string", "UTF-8"])
        // Renaming test.uint16 to test.uint32 (same length) makes the later test.uint32 a duplicate.
        bytes = try IOFixtures.bytes("tiny.gguf")
        guard let u16 = bytes.ggufString("test.uint16") else { throw FixtureMissing(description: "no test.uint16") }
        bytes.replaceSubrange((u16 + 8)..<(u16 + 19), with: Array("test.uint32".utf8))
        expectMessage(try openError("dupkey.gguf", bytes), contains: ["dupkey.gguf", "test.uint32", "appears twice"])
    }

    @Test func deepNestingAndOversizedMetadataArrays() throws {
        // Arrays of arrays nine deep: refused before the recursion goes further.
        var deep = le(UInt32(9))
        for _ in 0..<9 { deep += le(UInt32(9)) + le(UInt64(1)) }
        deep += le(UInt32(0)) + le(UInt64(1)) + [7]
        expectMessage(try openError("deep.gguf", oneKeyGGUF("deep", value: deep)), contains: ["deep.gguf", "deep", "nests arrays"])
        // A well-formed file (the bytes are there) whose 1-byte array elements would take 24 times the file in
        // memory: refused past the element budget.
        let count = GGUFValue.maximumArrayElements + 1
        let big = le(UInt32(9)) + le(UInt32(0)) + le(UInt64(count)) + [UInt8](repeating: 1, count: count)
        let e = try openError("bigarray.gguf", oneKeyGGUF("big", value: big))
        guard case .unsupported? = e else { Issue.record("not unsupported: \(String(describing: e))"); return }
        expectMessage(e, contains: ["bigarray.gguf", "metadata big", "\(count) elements"])
        // Just under the budget reads.
        let fits = le(UInt32(9)) + le(UInt32(0)) + le(UInt64(3)) + [1, 2, 3]
        let file = try GGUFFile(path: writeScratch("fits.gguf", oneKeyGGUF("fits", value: fits)))
        #expect(file.metadata["fits"] == .array([.uint8(1), .uint8(2), .uint8(3)]))
        #expect(file.tensors.isEmpty)
    }

    @Test func damagedCopiesFailWithTypedErrorsNeverACrash() throws {
        // Truncations and byte overwrites across the header, metadata and tensor infos (the first 1,400 bytes):
        // each copy either opens and reads or throws a ModelFileError; a trap would end the test process.
        let original = try IOFixtures.bytes("tiny.gguf")
        var damaged: [[UInt8]] = stride(from: 0, to: 1400, by: 7).map { Array(original[0..<$0]) }
        for i in stride(from: 0, to: 1400, by: 5) {
            for value: UInt8 in [0x00, 0xFF] {
                var b = original
                b[i] = value
                damaged.append(b)
            }
        }
        var opened = 0, refused = 0
        for (n, bytes) in damaged.enumerated() {
            let path = try writeScratch("damaged-\(n).gguf", bytes)
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                let file = try GGUFFile(path: path)
                for t in file.tensors {
                    do { _ = try file.floats(t.name) } catch is ModelFileError {}
                }
                opened += 1
            } catch is ModelFileError {
                refused += 1
            }
        }
        #expect(opened + refused == damaged.count && refused > damaged.count / 2)
    }
}
