import CHDF5
import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// Damaged and mismatched files: truncation, a flipped data byte (fletcher32), wrong format name or
// version, a missing dataset, a shape mismatch. Each is its own CheckpointError case naming the file
// (and the object where there is one); nothing crashes; a failed load leaves the target unchanged.

@Suite("Damaged and mismatched checkpoints")
struct DamageTests {
    /// Opens, verifies and loads `path` into a sentinel-filled student store; returns the first error.
    /// Records an issue if the store changed although the load failed.
    private func firstError(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) -> Error? {
        let target = ParameterStore(Transformer.parameterSpecs(studentConfig()))
        fill(target, with: 7.5)
        let before = storeBits(target)
        do {
            let r = try CheckpointReader(path: path)
            try r.verify()
            try r.load(role: "student", into: target)
            return nil
        } catch {
            expectSameBits(storeBits(target), before, "target store after a failed load", sourceLocation: sourceLocation)
            return error
        }
    }

    @Test("truncation at 0, 10%, 50%, 90% and size-1 bytes is a .corrupt error naming the file and object",
          arguments: [0.0, 0.1, 0.5, 0.9, -1.0])
    func truncation(fraction: Double) throws {
        try withTemporaryFolder("damage-truncate") { dir in
            let good = dir + "/good.h5"
            try writeModelCheckpoint(good)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: good)[.size] as? Int)
            let length = fraction < 0 ? size - 1 : Int(Double(size) * fraction)
            let cut = dir + "/cut.h5"
            try writeTruncatedCopy(of: good, to: cut, length: length)

            let error = firstError(cut)
            guard case .corrupt(let file, let object, let reason)? = error as? CheckpointError else {
                Issue.record("truncated to \(length) of \(size) bytes: expected CheckpointError.corrupt, got \(String(describing: error))")
                return
            }
            #expect(file == cut)
            #expect(!object.isEmpty)
            #expect(!reason.isEmpty)
            #expect("\(error!)".contains(cut), "message should name the file: \(error!)")
            // The reader does not half-load: no dataset's numbers come out of the damaged file.
            #expect(throws: CheckpointError.self) { _ = try CheckpointReader(path: cut).rawParameters(role: "student") }
        }
    }

    @Test("a flipped byte inside a dataset's data fails its fletcher32 checksum instead of returning other numbers")
    func flippedDataByte() throws {
        try withTemporaryFolder("damage-flip") { dir in
            let path = dir + "/step-1.h5"
            try writeModelCheckpoint(path) { model in
                // A pattern no initialiser produces, at the start of the last dataset written.
                let head = model.parameters["lm_head.weight"].ptr
                for (i, x) in distinctivePattern.enumerated() { head[i] = x }
            }
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let found = offsets(of: littleEndianBytes(distinctivePattern), in: bytes)
            #expect(found.count == 1, "the pattern should occur once in the file, found at \(found)")
            let at = try #require(found.first) + 4 * 17 + 2  // inside element 17
            // Sanity: the undamaged file loads.
            #expect(firstError(path) == nil)
            try flipByte(in: path, at: at)

            let r = try CheckpointReader(path: path)  // root attributes are intact
            let target = ParameterStore(Transformer.parameterSpecs(studentConfig()))
            fill(target, with: -3)
            let before = storeBits(target)
            for (what, attempt) in [("load", { try r.load(role: "student", into: target) }),
                                    ("verify", { try r.verify() }),
                                    ("rawParameters", { _ = try r.rawParameters(role: "student") }),
                                    ("loadTransformer", { _ = try r.loadTransformer(role: "student") })] as [(String, () throws -> Void)] {
                do {
                    try attempt()
                    Issue.record("\(what) returned although lm_head.weight's data was damaged")
                } catch let e as CheckpointError {
                    guard case .corrupt(let file, let object, let reason) = e else { Issue.record("\(what): expected .corrupt, got \(e)"); continue }
                    #expect(file == path, "\(what)")
                    #expect(object == "/models/student/lm_head.weight", "\(what): object \(object)")
                    #expect(reason.lowercased().contains("checksum") || reason.lowercased().contains("fletcher"), "\(what): reason \(reason)")
                } catch {
                    Issue.record("\(what): expected a CheckpointError, got \(error)")
                }
            }
            expectSameBits(storeBits(target), before, "target store after the checksum failure (the load must not be partial)")
        }
    }

    @Test("a damaged optimizer moment leaves the optimizer untouched (m, v and step)")
    func flippedOptimizerByte() throws {
        try withTemporaryFolder("damage-optimizer") { dir in
            let path = dir + "/step-1.h5"
            let model = try scrambledTransformer(studentConfig(), seed: 4)
            let optimizer = AdamW(store: model.parameters)
            for _ in 0..<2 { SampleCheckpoint.studentStep(model, optimizer) }
            // A findable pattern at the start of the second moment (v), written after the first (m).
            for (i, x) in distinctivePattern.enumerated() { optimizer.v.base[i] = x }
            try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: model.config.jsonString(), store: model.parameters)],
                                                         optimizers: [OptimizerSnapshot(role: "student", optimizer: optimizer)]), to: path)
            let found = offsets(of: littleEndianBytes(distinctivePattern), in: try Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(found.count == 1, "pattern found at \(found)")
            try flipByte(in: path, at: try #require(found.first) + 9)

            let target = AdamW(store: model.parameters)
            target.m.base.update(repeating: 0.5, count: target.m.count)
            target.v.base.update(repeating: 0.25, count: target.v.count)
            target.stepCount = 99
            let (m0, v0) = (bufferBits(target.m), bufferBits(target.v))
            #expect {
                try CheckpointReader(path: path).loadOptimizer(role: "student", into: target)
            } throws: { e in
                guard case .corrupt(let file, let object, _)? = e as? CheckpointError else { return false }
                return file == path && object.hasPrefix("/optimizer/student/v/")
            }
            expectSameBits(bufferBits(target.m), m0, "optimizer m after a failed load (half-loaded: m restored, v not)")
            expectSameBits(bufferBits(target.v), v0, "optimizer v after a failed load")
            #expect(target.stepCount == 99)
        }
    }

    @Test("wrong format version is .unsupportedVersion with the found and supported versions", arguments: [0, 2, 99])
    func wrongVersion(version: Int) throws {
        try withTemporaryFolder("damage-version") { dir in
            let path = dir + "/v.h5"
            let model = try scrambledTransformer(studentConfig(), seed: 1)
            try writeHandmadeCheckpoint(path, format: checkpointFormat, version: version, store: model.parameters,
                                        configJSON: model.config.jsonString())
            #expect(throws: CheckpointError.unsupportedVersion(file: path, found: version, supported: 1)) {
                _ = try CheckpointReader(path: path)
            }
            let message = "\(CheckpointError.unsupportedVersion(file: path, found: version, supported: 1))"
            #expect(message.contains(path) && message.contains("\(version)"))
            // Control: the same hand-made file with version 1 opens and loads.
            let ok = dir + "/v1.h5"
            try writeHandmadeCheckpoint(ok, format: checkpointFormat, version: 1, store: model.parameters, configJSON: model.config.jsonString())
            #expect(firstError(ok) == nil)
        }
    }

    @Test("wrong or missing format name is .wrongFormat with what was found")
    func wrongFormat() throws {
        try withTemporaryFolder("damage-format") { dir in
            let model = try scrambledTransformer(studentConfig(), seed: 1)
            let other = dir + "/other.h5", none = dir + "/none.h5"
            try writeHandmadeCheckpoint(other, format: "someone-elses-checkpoint", version: 1, store: model.parameters, configJSON: "{}")
            try writeHandmadeCheckpoint(none, format: nil, version: 1, store: model.parameters, configJSON: "{}")
            #expect(throws: CheckpointError.wrongFormat(file: other, found: "someone-elses-checkpoint")) { _ = try CheckpointReader(path: other) }
            #expect(throws: CheckpointError.wrongFormat(file: none, found: "")) { _ = try CheckpointReader(path: none) }
            #expect("\(CheckpointError.wrongFormat(file: other, found: "x"))".contains(other))

            // Not HDF5 at all, and no file: their own cases, naming the file.
            let text = dir + "/notes.h5"
            try "just text\n".write(toFile: text, atomically: true, encoding: .utf8)
            #expect {
                _ = try CheckpointReader(path: text)
            } throws: { e in
                guard case .corrupt(let file, let object, let reason)? = e as? CheckpointError else { return false }
                return file == text && object == "/" && reason.contains("not an HDF5 file")
            }
            #expect(throws: CheckpointError.notFound(file: dir + "/missing.h5")) { _ = try CheckpointReader(path: dir + "/missing.h5") }
        }
    }

    @Test("a missing dataset names the missing parameter; a missing role names the roles present")
    func missingDataset() throws {
        try withTemporaryFolder("damage-missing") { dir in
            let path = dir + "/step-1.h5"
            let config = studentConfig()
            // A store with every student parameter except the final norm.
            let partial = ParameterStore(Transformer.parameterSpecs(config).filter { $0.name != "model.norm.weight" })
            scramble(partial, seed: 5)
            try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: config.jsonString(), store: partial)]), to: path)

            let expected = CheckpointError.parameterNames(file: path, role: "student", missing: ["model.norm.weight"], unexpected: [])
            let error = firstError(path)
            #expect(error as? CheckpointError == expected, "got \(String(describing: error))")
            #expect("\(expected)".contains("model.norm.weight") && "\(expected)".contains(path))
            #expect(throws: expected) { _ = try CheckpointReader(path: path).loadTransformer(role: "student") }

            // Both directions at once: the file has lm_head but no final norm; this store the reverse.
            let reversed = ParameterStore(Transformer.parameterSpecs(config).filter { $0.name != "lm_head.weight" })
            #expect(throws: CheckpointError.parameterNames(file: path, role: "student", missing: ["model.norm.weight"], unexpected: ["lm_head.weight"])) {
                try CheckpointReader(path: path).load(role: "student", into: reversed)
            }

            #expect(throws: CheckpointError.missingRole(file: path, role: "teacher", available: ["student"])) {
                _ = try CheckpointReader(path: path).loadTransformer(role: "teacher")
            }
        }
    }

    @Test("a shape mismatch names the dataset with the expected and actual shapes")
    func shapeMismatch() throws {
        try withTemporaryFolder("damage-shape") { dir in
            let config = studentConfig()
            // Same names, one shape different: lm_head.weight has an extra row.
            let path = dir + "/step-1.h5"
            let odd = ParameterStore(Transformer.parameterSpecs(config).map { $0.name == "lm_head.weight" ? ($0.name, [14, 16], $0.decay) : $0 })
            scramble(odd, seed: 8)
            try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: config.jsonString(), store: odd)]), to: path)
            let expected = CheckpointError.shapeMismatch(file: path, dataset: "/models/student/lm_head.weight", expected: [13, 16], actual: [14, 16])
            let error = firstError(path)  // also checks the target store is unchanged
            #expect(error as? CheckpointError == expected, "got \(String(describing: error))")
            let message = "\(expected)"
            #expect(message.contains(path) && message.contains("lm_head.weight") && message.contains("[13, 16]") && message.contains("[14, 16]"))

            // A whole different width: the first dataset in order is the one named.
            let wide = dir + "/wide.h5"
            var wideConfig = config
            wideConfig.hiddenSize = 32
            wideConfig.intermediateSize = 48
            try writeModelCheckpoint(wide, config: wideConfig)
            #expect(firstError(wide) as? CheckpointError
                    == .shapeMismatch(file: wide, dataset: "/models/student/model.embed_tokens.weight", expected: [13, 16], actual: [13, 32]))
        }
    }

    @Test("a failed read on another thread prints no HDF5 diagnostics of its own (the error is reported once, typed)")
    func noHDF5DiagnosticsOnOtherThreads() throws {
        try withTemporaryFolder("damage-diagnostics") { dir in
            let good = dir + "/good.h5", cut = dir + "/cut.h5"
            try writeModelCheckpoint(good)
            let size = try #require(try FileManager.default.attributesOfItem(atPath: good)[.size] as? Int)
            try writeTruncatedCopy(of: good, to: cut, length: size / 2)
            #expect(throws: CheckpointError.self) { _ = try CheckpointReader(path: cut) }  // this thread first

            // HDF5 (built thread-safe) keeps its automatic error printing per thread; a reader failing on
            // a new thread must not have it on, or HDF5-DIAG stacks land on the user's stderr.
            final class Outcome: @unchecked Sendable { var threw = false; var printing = false }
            let outcome = Outcome()
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                do { _ = try CheckpointReader(path: cut) } catch { outcome.threw = true }
                var printer: H5E_auto2_t? = nil
                var data: UnsafeMutableRawPointer? = nil
                H5Eget_auto2(td_H5E_DEFAULT(), &printer, &data)
                outcome.printing = printer != nil
                done.signal()
            }
            thread.start()
            done.wait()
            let (threw, printing) = (outcome.threw, outcome.printing)
            #expect(threw)
            #expect(printing == false, "HDF5's automatic error printing is still on for this thread: td_silence_errors ran only on the first thread that used HDF5, so failures on any other thread print HDF5-DIAG stacks to stderr")
        }
    }
}

@Suite("Checkpoint file locks")
struct CheckpointFileLockTests {
    @Test("a lock left on the file by another process (an inherited descriptor) does not stop a load")
    func lockedByAnotherProcess() throws {
        guard let flock = toolPath("flock") else {
            Issue.record("flock (util-linux) is not installed")
            return
        }
        try withTemporaryFolder("lock") { dir in
            let path = dir + "/step-1.h5"
            var rng = RandomGenerator(seed: 2)
            let cfg = TransformerConfig(vocabSize: 11, hiddenSize: 8, intermediateSize: 12, numHiddenLayers: 1, numAttentionHeads: 2)
            let model = try Transformer(config: cfg, rng: &rng)
            try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: cfg.jsonString(),
                                                                                store: model.parameters)]), to: path)
            // An exclusive flock held by a child, as when a process spawned during a save inherits the
            // writer's descriptor. HDF5's own file locking would refuse to open the file until it exits.
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: flock)
            holder.arguments = ["-x", path, "sleep", "5"]
            try holder.run()
            defer { holder.terminate(); holder.waitUntilExit() }
            Thread.sleep(forTimeInterval: 0.5)
            let loaded = try CheckpointReader(path: path).loadTransformer(role: "student")
            #expect(loaded.parameters.count == model.parameters.count)
        }
    }
}
