import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// The seal (README "Checkpoint format"): a SHA-256 over every byte HDF5 parses, checked before HDF5 sees the file,
// and the child-process read of files without one (older checkpoints, h5py's). The seal is read here from its
// documented layout and its digest recomputed with coreutils' sha256sum, independently of the reader.

/// The seal of a file as the README lays it out: the header fields and the table of left-out ranges.
private struct DocumentedSeal {
    let version: UInt64, tableOffset: Int, length: Int, digest: [UInt8]
    let ranges: [Range<Int>]

    init?(_ bytes: [UInt8]) {
        func u64(_ at: Int) -> Int { (0..<8).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        guard bytes.count >= 512, Array(bytes[0..<24]) == Array("tracedistill-checkpoint\n".utf8) else { return nil }
        let table = u64(32)
        version = UInt64(u64(24))
        tableOffset = table
        length = u64(48)
        digest = Array(bytes[56..<88])
        ranges = (0..<u64(40)).map { i in u64(table + 16 * i)..<(u64(table + 16 * i) + u64(table + 16 * i + 8)) }
    }

    /// The bytes the digest covers, in order.
    func covered(_ bytes: [UInt8]) -> Data {
        var data = Data(bytes[0..<56])
        var p = 512
        for r in ranges {
            data.append(contentsOf: bytes[p..<r.lowerBound])
            p = r.upperBound
        }
        data.append(contentsOf: bytes[p..<tableOffset])
        data.append(contentsOf: bytes[tableOffset..<length])
        return data
    }

    /// File offsets outside the left-out ranges (what HDF5 parses), seal header excluded.
    func parsedOffsets() -> [Int] {
        var out: [Int] = []
        var p = 512
        for r in ranges {
            out += Array(p..<r.lowerBound)
            p = r.upperBound
        }
        return out + Array(p..<tableOffset)
    }
}

/// Every accessor of the reader, as fuzz-checkpoint calls them; the errors they throw.
private func readEverything(_ path: String) -> [Error] {
    var errors: [Error] = []
    func attempt(_ body: () throws -> Void) {
        do { try body() } catch { errors.append(error) }
    }
    let reader: CheckpointReader
    do { reader = try CheckpointReader(path: path) } catch { return [error] }
    attempt { try reader.verify() }
    attempt { _ = try reader.run() }
    attempt { _ = try reader.stages() }
    attempt { _ = try reader.tokenizer() }
    attempt { _ = try reader.tokenizerJSON() }
    attempt { _ = try reader.chatTemplate() }
    attempt { _ = try reader.promptTemplate() }
    attempt { _ = try reader.artifacts() }
    attempt { _ = try reader.metrics() }
    for role in (try? reader.roles()) ?? [] {
        attempt { _ = try reader.configJSON(role: role) }
        attempt { _ = try reader.parameters(role: role) }
        attempt { _ = try reader.rawParameters(role: role) }
        attempt { _ = try reader.parameterHash(role: role) }
        attempt { _ = try reader.loadTransformer(role: role) }
    }
    return errors
}

@Suite("Checkpoint seal and unsealed files")
struct CheckpointSealTests {
    @Test("the seal follows the documented layout: its SHA-256 (sha256sum) covers all but the weights' chunks, which the table lists")
    func documentedLayout() throws {
        try withTemporaryFolder("seal-layout") { dir in
            let path = dir + "/step-1.h5"
            try writeModelCheckpoint(path) { model in
                let head = model.parameters["lm_head.weight"].ptr
                for (i, x) in distinctivePattern.enumerated() { head[i] = x }
            }
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let seal = try #require(DocumentedSeal(bytes), "a new checkpoint starts with the seal's text")
            #expect(seal.version == 1)
            #expect(seal.length == bytes.count)
            #expect(Array(bytes[512..<520]) == [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a], "HDF5's superblock after the user block")
            #expect(bytes[88..<512].allSatisfy { $0 == 0 })
            let digest = seal.digest.map { String(format: "%02x", $0) }.joined()
            #expect(try sha256sum(seal.covered(bytes)) == digest)
            // One left-out range per parameter (the file's only non-empty float datasets; the tokenizer's strings
            // are parsed, so covered), each a whole Fletcher-32 chunk: lm_head's starts with the pattern and ends
            // with the chunk's 4 checksum bytes.
            let student = Transformer.parameterSpecs(studentConfig())
            #expect(seal.ranges.count == student.count, "\(seal.ranges.count) ranges")
            let at = try #require(offsets(of: littleEndianBytes(distinctivePattern), in: Data(bytes)).first)
            let head = try #require(seal.ranges.first { $0.contains(at) })
            #expect(head.lowerBound == at && head.count == 13 * 16 * 4 + 4, "lm_head's chunk \(head), pattern at \(at)")
        }
    }

    @Test("every changed byte HDF5 would parse is refused before HDF5 reads it: .corrupt naming the seal, no crash")
    func changedStructureRefused() throws {
        try withTemporaryFolder("seal-structure") { dir in
            let good = dir + "/good.h5"
            try writeModelCheckpoint(good)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
            let seal = try #require(DocumentedSeal(bytes))
            let parsed = seal.parsedOffsets()
            #expect(parsed.count > 1000, "\(parsed.count) parsed bytes")
            // 64 spread over the structure (superblock first), each flipped on its own in a fresh copy.
            let chosen = [512, 512 + 9] + stride(from: 0, to: parsed.count, by: max(1, parsed.count / 62)).map { parsed[$0] }
            for offset in chosen {
                var damaged = bytes
                damaged[offset] ^= 0x5A
                let path = dir + "/flip-\(offset).h5"
                try Data(damaged).write(to: URL(fileURLWithPath: path))
                do {
                    _ = try CheckpointReader(path: path)
                    Issue.record("byte \(offset) changed and the file opened")
                } catch let CheckpointError.corrupt(file, object, reason) {
                    #expect(file == path && object == "/")
                    // A flip inside a global heap collection's header may be named by the heap walk, which runs first.
                    #expect(reason.contains("SHA-256 in its seal") || reason.contains("global heap"), "byte \(offset): \(reason)")
                } catch {
                    Issue.record("byte \(offset): expected .corrupt, got \(error)")
                }
            }
        }
    }

    @Test("a damaged seal, a cut file or added bytes are .corrupt errors saying which")
    func damagedSeal() throws {
        try withTemporaryFolder("seal-header") { dir in
            let good = dir + "/good.h5"
            try writeModelCheckpoint(good)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
            func reason(_ change: ([UInt8]) -> [UInt8], _ name: String) throws -> String {
                let path = dir + "/" + name + ".h5"
                try Data(change(bytes)).write(to: URL(fileURLWithPath: path))
                do {
                    _ = try CheckpointReader(path: path)
                    return "opened"
                } catch let CheckpointError.corrupt(file, _, reason) {
                    #expect(file == path)
                    return reason
                }
            }
            #expect(try reason({ Array($0.dropLast(100)) }, "cut").contains("truncated"))
            #expect(try reason({ $0 + [0] }, "longer").contains("added after its end"))
            #expect(try reason({ Array($0.prefix(300)) }, "short").contains("fewer than its 512-byte seal"))
            #expect(try reason({ var b = $0; b[24] = 9; return b }, "version").contains("seal version 9"))
            #expect(try reason({ var b = $0; b[200] = 1; return b }, "reserved").contains("reserved bytes"))
            #expect(try reason({ var b = $0; b[60] ^= 1; return b }, "digest").contains("SHA-256 in its seal"))
            #expect(try reason({ var b = $0; b[40] &+= 1; return b }, "entries").contains("table"))
        }
    }

    @Test("a checkpoint without a seal (the HDF5 part of a sealed one: an older checkpoint) reads the same weights")
    func unsealedReads() throws {
        try withTemporaryFolder("seal-none") { dir in
            let sealed = dir + "/sealed.h5", old = dir + "/old.h5"
            let model = try writeModelCheckpoint(sealed)
            // HDF5 finds the superblock at byte 0 and reads the file as an older build wrote it (no user block).
            let bytes = try Data(contentsOf: URL(fileURLWithPath: sealed))
            let seal = try #require(DocumentedSeal([UInt8](bytes)))
            try bytes[512..<seal.tableOffset].write(to: URL(fileURLWithPath: old))
            let reader = try CheckpointReader(path: old)
            try reader.verify()
            let loaded = ParameterStore(Transformer.parameterSpecs(studentConfig()))
            try reader.load(role: "student", into: loaded)
            #expect(storeBits(loaded) == storeBits(model.parameters))
            #expect(try reader.parameterHash(role: "student") == CheckpointReader(path: sealed).parameterHash(role: "student"))
        }
        // A checkpoint the build before the seal wrote (`distill import` of llama-f16.gguf, the fuzzing seed).
        let committed = packageRoot + "/Fuzz/Corpus/checkpoint/llama-f16-import.h5"
        let head = try #require(FileHandle(forReadingAtPath: committed)?.readData(ofLength: 8))
        #expect([UInt8](head) == [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a], "HDF5 at byte 0: no seal")
        let reader = try CheckpointReader(path: committed)
        try reader.verify()
        let teacher = try reader.loadTransformer(role: "teacher")
        #expect(teacher.parameters.count == 17_568)
    }

    // Found by fuzz-checkpoint: memory errors inside HDF5 1.10.8 on damaged older (unsealed) checkpoints. Each file
    // gives a typed error naming it; the 4 GB string allocation is stopped in the child process, not made here.
    @Test("every input in Fuzz/Findings is a CheckpointError naming the file, without a crash or a hang",
          .timeLimit(.minutes(2)))
    func fuzzFindings() throws {
        let folder = packageRoot + "/Fuzz/Findings"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("checkpoint-") }.sorted()
        #expect(files.count == 5, "\(files)")
        for name in files {
            let path = folder + "/" + name
            let start = Date()
            let errors = readEverything(path)
            let seconds = Date().timeIntervalSince(start)
            #expect(!errors.isEmpty, "\(name) is damaged, yet every accessor returned")
            for e in errors {
                #expect(e is CheckpointError, "\(name): \(e)")
                #expect("\(e)".contains(path), "\(name): the message names the file: \(e)")
            }
            #expect(seconds < 20, "\(name) took \(seconds) s")
        }
        let blowUp = folder + "/checkpoint-hdf5-vlen-4gb-allocation.h5"
        let first = try #require(readEverything(blowUp).first as? CheckpointError)
        guard case .corrupt(_, _, let reason) = first else { Issue.record("\(first)"); return }
        #expect(reason.contains("memory"), "\(reason)")
    }
}
