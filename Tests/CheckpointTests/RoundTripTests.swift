import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// Write then read: every kind of value a checkpoint holds comes back bit for bit (float bit patterns,
// not closeness), and a restored model + optimizer continue training exactly as the original would.

@Suite("Checkpoint round trip")
struct RoundTripTests {
    @Test("a BPE tokenizer.json (any Unicode) and its chat template come back as written; a character tokenizer is then absent")
    func bpeTokenizerText() throws {
        // a tokenizer.json carries every byte-level symbol (Ġ, Ċ), CJK and emoji; Jinja templates carry quotes and newlines
        let json = #"{"model": {"type": "BPE", "vocab": {"Ġthe": 0, "Ċ": 1, "数学": 2, "🙂": 3}}, "added_tokens": [{"content": "<|im_end|>"}]}"#
        let template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m[\"content\"] }}<|im_end|>\n{% endfor %}"
        let model = try scrambledTransformer(studentConfig(), seed: 3)
        try withTemporaryFolder("roundtrip-bpe") { dir in
            let path = dir + "/imported.h5"
            try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "teacher", configJSON: model.config.jsonString(),
                                                                                store: model.parameters)],
                                                         tokenizerJSON: json, chatTemplate: template), to: path)
            let r = try CheckpointReader(path: path)
            #expect(try r.tokenizerJSON() == json)
            #expect(try r.chatTemplate() == template)
            #expect(try r.tokenizer() == nil)
        }
        // and a character-tokenizer checkpoint has no tokenizer.json
        try withTemporaryFolder("roundtrip-chars") { dir in
            let path = dir + "/chars.h5"
            _ = try writeModelCheckpoint(path)
            let r = try CheckpointReader(path: path)
            #expect(try r.tokenizerJSON() == nil && r.chatTemplate() == nil && r.tokenizer() == Tokenizer.math)
        }
    }

    @Test("model roles: HF names in order, shapes, config JSON and every float bit pattern")
    func models() throws {
        let sample = try SampleCheckpoint.make()
        try withTemporaryFolder("roundtrip-models") { dir in
            let path = dir + "/step-1.h5"
            try CheckpointWriter.save(sample.contents, to: path)
            let r = try CheckpointReader(path: path)
            #expect(try r.roles() == ["projection", "student", "teacher", "value_head"])

            for snapshot in sample.contents.models {
                let params = try r.parameters(role: snapshot.role)
                #expect(params.map(\.name) == snapshot.store.names, "role \(snapshot.role): names or their order differ")
                #expect(params.map(\.shape) == snapshot.store.views.map(\.shape), "role \(snapshot.role): shapes differ")
                #expect(try r.configJSON(role: snapshot.role) == snapshot.configJSON, "role \(snapshot.role): config JSON differs")

                // Into a fresh store of the same layout, pre-filled with a sentinel.
                let fresh = ParameterStore(snapshot.store.views.map { ($0.name, $0.shape, $0.decay) })
                fill(fresh, with: 42)
                try r.load(role: snapshot.role, into: fresh)
                expectSameBits(storeBits(fresh), storeBits(snapshot.store), "role \(snapshot.role) after load")

                // Raw reading (inspect/hash path) agrees too, tensor by tensor.
                for p in try r.rawParameters(role: snapshot.role) {
                    expectSameBits(p.values.map(\.bitPattern), bitPatterns(snapshot.store[p.name]), "raw \(snapshot.role)/\(p.name)")
                }
            }
            // The HF names of the GQA + bias student are all there (spot-check against a hand-written list).
            let names = Set(try r.parameters(role: "student").map(\.name))
            for n in ["model.embed_tokens.weight", "model.layers.1.self_attn.k_proj.bias", "model.layers.0.mlp.down_proj.weight",
                      "model.layers.1.post_attention_layernorm.weight", "model.norm.weight", "lm_head.weight"] {
                #expect(names.contains(n), "missing \(n)")
            }
            #expect(try r.parameters(role: "student").first { $0.name == "model.layers.0.self_attn.k_proj.weight" }?.shape == [8, 16])
            #expect(!(try r.parameters(role: "teacher").map(\.name).contains("lm_head.weight")), "tied teacher has no lm_head")
            #expect(try r.parameters(role: "projection").map(\.name) == ["projections.0.weight", "projections.1.weight"])
            #expect(try r.parameters(role: "value_head").map(\.name) == ["v_head.weight", "v_head.bias"])
        }
    }

    @Test("loadTransformer rebuilds both architectures from their config JSON; logits are bit-identical")
    func transformers() throws {
        let sample = try SampleCheckpoint.make()
        try withTemporaryFolder("roundtrip-transformer") { dir in
            let path = dir + "/step-1.h5"
            try CheckpointWriter.save(sample.contents, to: path)
            let r = try CheckpointReader(path: path)
            for (role, original) in [("student", sample.student), ("teacher", sample.teacher)] {
                #expect(try r.transformerConfig(role: role) == original.config, "\(role) config")
                let loaded = try r.loadTransformer(role: role)
                #expect(loaded.config == original.config)
                expectSameBits(storeBits(loaded.parameters), storeBits(original.parameters), "\(role) weights")
                let tokens: [Int32] = [1, 4, 9, 2, 7]
                let a = withNoGrad { loaded.forward(tokens: tokens, batch: 1, length: 5).logits }
                let b = withNoGrad { original.forward(tokens: tokens, batch: 1, length: 5).logits }
                expectSameBits(bitPatterns(a), bitPatterns(b), "\(role) logits")
            }
            // A role without a transformer config is refused with a typed error, not a crash.
            #expect(throws: CheckpointError.self) { try r.loadTransformer(role: "value_head") }
        }
    }

    @Test("AdamW state (step, m, v after real steps) round-trips and training continues bit-identically")
    func optimizerState() throws {
        let sample = try SampleCheckpoint.make()
        try withTemporaryFolder("roundtrip-adamw") { dir in
            let path = dir + "/step-1.h5"
            try CheckpointWriter.save(sample.contents, to: path)
            let r = try CheckpointReader(path: path)
            #expect(sample.studentOptimizer.stepCount == 3)
            // The moments really moved (a test of nothing would pass with zeros).
            #expect(bufferBits(sample.studentOptimizer.m).contains { $0 != 0 })

            // Restore into a differently initialised model and optimizer.
            let model = try scrambledTransformer(studentConfig(), seed: 999)
            let optimizer = AdamW(store: model.parameters, weightDecay: 0.01)
            try r.load(role: "student", into: model.parameters)
            try r.loadOptimizer(role: "student", into: optimizer)
            #expect(optimizer.stepCount == 3)
            expectSameBits(bufferBits(optimizer.m), bufferBits(sample.studentOptimizer.m), "student m")
            expectSameBits(bufferBits(optimizer.v), bufferBits(sample.studentOptimizer.v), "student v")

            var headRng = RandomGenerator(seed: 5)
            let head = ValueHead(hiddenSize: 16, rng: &headRng)
            let headOptimizer = AdamW(store: head.parameters)
            try r.loadOptimizer(role: "value_head", into: headOptimizer)
            #expect(headOptimizer.stepCount == 2)
            expectSameBits(bufferBits(headOptimizer.m), bufferBits(sample.valueHeadOptimizer.m), "value head m")
            expectSameBits(bufferBits(headOptimizer.v), bufferBits(sample.valueHeadOptimizer.v), "value head v")

            // One more step on each side: the parameters stay bit-identical (bias correction uses the step).
            SampleCheckpoint.studentStep(sample.student, sample.studentOptimizer)
            SampleCheckpoint.studentStep(model, optimizer)
            expectSameBits(storeBits(model.parameters), storeBits(sample.student.parameters), "student after one more step")
            #expect(optimizer.stepCount == 4)
        }
    }

    @Test("run record, stage records (epoch boundary, failure, controllers), tokenizer and metrics round-trip")
    func runStagesTokenizerMetrics() throws {
        let sample = try SampleCheckpoint.make()
        try withTemporaryFolder("roundtrip-run") { dir in
            let path = dir + "/step-1.h5"
            try CheckpointWriter.save(sample.contents, to: path)
            let r = try CheckpointReader(path: path)

            let run = try r.run()
            #expect(run == sample.contents.run)
            #expect(run.globalStep == (1 << 33) + 7, "global step needs 64 bits")
            #expect(run.validationMetric?.bitPattern == (0.1 + 0.2).bitPattern)
            // The RNG resumes the very stream it was saved from.
            var saved = RandomGenerator(seed: 66)
            for _ in 0..<17 { _ = saved.next() }
            var restored = try #require(RandomGenerator(stateBytes: run.rngState))
            #expect((0..<8).map { _ in restored.next() } == (0..<8).map { _ in saved.next() })

            let stages = try r.stages()
            #expect(stages.count == 12)
            #expect(stages.map(\.kind) == sample.contents.stages.map(\.kind), "stages out of order (name order sorts 10 before 2)")
            for (i, (got, want)) in zip(stages, sample.contents.stages).enumerated() {
                #expect(got.kind == want.kind && got.state == want.state && got.step == want.step, "stage \(i)")
                #expect(got.data == want.data, "stage \(i) data position")
                #expect(got.failureReason == want.failureReason, "stage \(i) failure reason")
                #expect(got.controllers.keys.sorted() == want.controllers.keys.sorted(), "stage \(i) controller names")
                for (name, values) in want.controllers {
                    #expect(got.controllers[name]?.keys.sorted() == values.keys.sorted(), "stage \(i) controller \(name) keys")
                    for (k, v) in values {
                        #expect(got.controllers[name]?[k]?.bitPattern == v.bitPattern, "stage \(i) controller \(name).\(k)")
                    }
                }
            }
            #expect(stages[0].data == DataPosition(epoch: 3, index: 0), "epoch boundary position")
            #expect(stages[2].state == "failed" && stages[2].failureReason?.contains("α") == true)
            #expect(stages[1].failureReason == nil)

            let tokenizer = try #require(try r.tokenizer())
            #expect(tokenizer.symbols == sample.contents.tokenizer!.symbols)
            #expect(try tokenizer.encode("12+α→") == (try sample.contents.tokenizer!.encode("12+α→")))

            let metrics = try r.metrics()
            #expect(metrics.keys.sorted() == [0, 1, 2, 10])
            for (stage, series) in sample.contents.metrics {
                #expect(metrics[stage]?.keys.sorted() == series.keys.sorted(), "stage \(stage) metric names")
                for (name, values) in series {
                    expectSameBits(metrics[stage]?[name]?.map(\.bitPattern) ?? [], values.map(\.bitPattern), "metrics \(stage)/\(name)")
                }
            }
        }
    }

    @Test("root attributes: format, version, created time, library version, curriculum text and its SHA-256")
    func rootAttributes() throws {
        let sample = try SampleCheckpoint.make()
        try withTemporaryFolder("roundtrip-root") { dir in
            let path = dir + "/step-1.h5"
            let before = Date()
            try CheckpointWriter.save(sample.contents, to: path)
            let r = try CheckpointReader(path: path)
            #expect(r.formatVersion == checkpointFormatVersion && checkpointFormatVersion == 1)
            #expect(r.libraryVersion == Checkpoint.libraryVersion)
            #expect(r.curriculum == SampleCheckpoint.curriculum)
            #expect(r.curriculum.contains("α: 0.9") && r.curriculum.contains("温度"))
            // SHA-256 of the same UTF-8 bytes computed by coreutils, independently of the project.
            #expect(r.curriculumSHA256 == (try sha256sum(Data(SampleCheckpoint.curriculum.utf8))))
            #expect(r.curriculumSHA256.count == 64)
            let created = try #require(ISO8601DateFormatter().date(from: r.createdUTC), "created_utc \(r.createdUTC) is not ISO 8601")
            #expect(created.timeIntervalSince(before) > -2 && created.timeIntervalSinceNow < 2, "created_utc \(r.createdUTC) is not now")
            #expect(r.createdUTC.hasSuffix("Z"), "created_utc must be UTC")
        }
    }

    @Test("empty contents: empty curriculum hashes to the known SHA-256 of \"\"; empty values survive")
    func emptyContents() throws {
        try withTemporaryFolder("roundtrip-empty") { dir in
            let path = dir + "/step-0.h5"
            try CheckpointWriter.save(CheckpointContents(), to: path)
            let r = try CheckpointReader(path: path)
            #expect(r.curriculum == "")
            #expect(r.curriculumSHA256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            #expect(try r.roles() == [])
            #expect(try r.run() == RunRecord())
            #expect(try r.stages() == [])
            #expect(try r.tokenizer() == nil)
            #expect(try r.metrics().isEmpty)
            try r.verify()
        }
        // And a known vector for the hashing helper itself.
        #expect(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("save replaces an existing checkpoint atomically and leaves no temporary file behind")
    func saveReplaces() throws {
        try withTemporaryFolder("roundtrip-replace") { dir in
            let path = dir + "/run/step-5.h5"  // the folder is created
            let first = try writeModelCheckpoint(path, seed: 1)
            let second = try writeModelCheckpoint(path, seed: 2)
            #expect(storeBits(first.parameters) != storeBits(second.parameters))
            let loaded = try CheckpointReader(path: path).loadTransformer(role: "student")
            expectSameBits(storeBits(loaded.parameters), storeBits(second.parameters), "after overwrite")
            #expect(folderListing(dir + "/run") == ["step-5.h5"], "temporary files left: \(folderListing(dir + "/run"))")
        }
    }

    @Test("a save that fails part-way throws a typed error and leaves the previous checkpoint untouched")
    func failedSaveKeepsPrevious() throws {
        try withTemporaryFolder("roundtrip-failed-save") { dir in
            let path = dir + "/step-5.h5"
            try writeModelCheckpoint(path, seed: 1)
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let model = try scrambledTransformer(studentConfig(), seed: 3)
            // Two snapshots under one role: the second group cannot be created, mid-write.
            let bad = CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: nil, store: model.parameters),
                                                  ModelSnapshot(role: "student", configJSON: nil, store: model.parameters)])
            do {
                try CheckpointWriter.save(bad, to: path)
                Issue.record("saving two models under one role should fail")
            } catch let e as CheckpointError {
                guard case .io(let file, let reason) = e else { Issue.record("expected .io, got \(e)"); return }
                #expect(file == path)
                #expect(reason.contains("student"), "reason should name the object: \(reason)")
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "previous checkpoint changed")
            #expect(folderListing(dir) == ["step-5.h5"], "temporary file left behind: \(folderListing(dir))")
            try CheckpointReader(path: path).verify()

            // A folder that cannot be created (a file is in the way) is an .io error naming the path.
            let blocked = dir + "/step-5.h5/inner/step-6.h5"
            #expect {
                try CheckpointWriter.save(CheckpointContents(), to: blocked)
            } throws: { e in
                guard case .io(let file, let reason)? = e as? CheckpointError else { return false }
                return file == blocked && reason.contains("cannot create folder")
            }
        }
    }
}
