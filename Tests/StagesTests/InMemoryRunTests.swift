import Checkpoint
import Foundation
import Model
import Stages
import Tensor
import TestSupport
import Testing

// The runner on models the caller holds, as a script uses it: with no checkpoint directory it writes nothing, and
// its results are those of `distill run` on the same curriculum (a run into a folder), bit for bit.

@Suite("in-memory run", .serialized)
struct InMemoryRunTests {
    /// teacher-sft, teacher-traces (whose kept traces the folder run also writes to teacher-traces.jsonl), output-distill
    /// on both kinds of traces with validation, and a stage kind defined in the tests that draws from the run generator.
    static let text = tinyRunHead + """

    stages:
      - kind: teacher-sft
        steps: 6
        batch_size: 4
        learning_rate: 0.01
      - kind: teacher-traces
        samples: 1
        limit: 4
        max_new_tokens: 8
      - kind: output-distill
        steps: 4
        batch_size: 2
        data: both
        eval_every: 2
      - kind: count-up
        steps: 2

    """

    static var registry: StageRegistry {
        var registry = StageRegistry.standard
        registry.register(CountUpStage.kind)
        return registry
    }

    static func bits(_ store: ParameterStore) -> [UInt32] { snapshot(store).map(\.bitPattern) }
    /// Every logged value's bits, except the wall-clock `tokens_per_second`.
    static func bits(_ history: [Int: [String: [Double]]]) -> [Int: [String: [UInt64]]] {
        history.mapValues { $0.filter { $0.key != "tokens_per_second" }.mapValues { $0.map(\.bitPattern) } }
    }

    @Test("an in-memory run on the caller's teacher and student creates no file and ends bit-identical to the folder run of the same curriculum")
    func equalsFolderRun() throws {
        try withRunFolder("in-memory") { dir in
            try FileManager.default.createDirectory(atPath: dir + "/base", withIntermediateDirectories: true)
            let curriculum = try Curriculum(text: Self.text, baseDirectory: dir + "/base", registry: Self.registry)
            let folder = try CurriculumRunner(curriculum: curriculum, runDirectory: dir + "/run", registry: Self.registry)
            #expect(try folder.run() == .completed)
            #expect(FileManager.default.fileExists(atPath: dir + "/run/teacher-traces.jsonl"))

            let models = try CurriculumModels(curriculum: curriculum)
            var events: [RunEvent] = []
            let memory = try CurriculumRunner(curriculum: curriculum, teacher: models.teacher, student: models.student,
                                              registry: Self.registry, observer: { events.append($0) })
            #expect(try memory.run() == .completed)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/base").isEmpty)
            #expect(!memory.context.writesFiles)
            let written = events.filter { if case .checkpointWritten = $0 { return true } else { return false } }
            #expect(written.isEmpty)
            let kept = events.compactMap { e -> String? in if case .stageFinished(_, _, let c) = e { return c } else { return nil } }
            #expect(kept == ["", "", "", ""])

            // the caller's objects are the ones trained
            #expect(memory.context.teacher === models.teacher && memory.context.student === models.student)
            #expect(Self.bits(memory.context.teacher.parameters) == Self.bits(folder.context.teacher.parameters))
            #expect(Self.bits(memory.context.student.parameters) == Self.bits(folder.context.student.parameters))
            #expect(Self.bits(memory.metricsHistory) == Self.bits(folder.metricsHistory))
            #expect(memory.context.stageRecords == folder.context.stageRecords)
            #expect(memory.context.artifacts == folder.context.artifacts)
            #expect(memory.context.rng.stateBytes == folder.context.rng.stateBytes)
            // something was learned at all (the comparison above is not between two untouched models)
            #expect(Self.bits(memory.context.student.parameters) != Self.bits(try CurriculumModels(curriculum: curriculum).student.parameters))
        }
    }

    @Test("a caller's student of another vocabulary is refused before anything runs, naming the student and both sizes")
    func vocabularyMismatch() throws {
        let curriculum = try Curriculum(text: Self.text, registry: Self.registry)
        let models = try CurriculumModels(curriculum: curriculum)
        var config = models.student.config
        config.vocabSize = 50
        var rng = RandomGenerator(seed: 3)
        let student = try Transformer(config: config, rng: &rng)
        do {
            _ = try CurriculumRunner(curriculum: curriculum, teacher: models.teacher, student: student, registry: Self.registry)
            Issue.record("a student of vocabulary 50 must be refused")
        } catch let e as RunModelError {
            #expect(e.role == "student" && e.message.contains("50") && e.message.contains("\(models.teacher.config.vocabSize)"), "\(e)")
        }
    }

    @Test("teacher-logits in an in-memory run stops with what to do instead of writing its cache somewhere")
    func teacherLogitsNeedsFolder() throws {
        let text = tinyRunHead + "\nstages:\n  - kind: teacher-logits\n    k: 4\n"
        let curriculum = try Curriculum(text: text)
        let models = try CurriculumModels(curriculum: curriculum)
        let runner = try CurriculumRunner(curriculum: curriculum, teacher: models.teacher, student: models.student)
        do {
            try runner.run()
            Issue.record("teacher-logits must refuse to run in memory")
        } catch StageError.cannotRun(let stage, let reason) {
            #expect(stage == 0 && reason.contains("in memory") && reason.contains("checkpoint directory"), "\(reason)")
        }
    }

    @Test("a run on the caller's models into a checkpoint directory, stopped and resumed into fresh models of that shape, ends as the in-memory run")
    func stopAndResumeCallerModels() throws {
        let text = tinyRunHead + "\nstages:\n  - kind: teacher-sft\n    steps: 6\n    batch_size: 4\n  - kind: output-distill\n    steps: 4\n    batch_size: 2\n"
        let curriculum = try Curriculum(text: text)
        // not the curriculum's shapes: the runner must train these, and resume must load into them
        func models(seed: UInt64) throws -> (Transformer, Transformer) {
            var rng = RandomGenerator(seed: seed)
            let teacher = try Transformer(config: TransformerConfig(vocabSize: Tokenizer.math.vocabularySize, hiddenSize: 24, intermediateSize: 40,
                                                                    numHiddenLayers: 1, numAttentionHeads: 2, maxPositionEmbeddings: 128), rng: &rng)
            let student = try Transformer(config: teacher.config.shrunk(by: ShrinkSpec(layers: 1, hiddenSize: 16, heads: 2, intermediateSize: 24)),
                                          rng: &rng)
            return (teacher, student)
        }
        let (t0, s0) = try models(seed: 5)
        let reference = try CurriculumRunner(curriculum: curriculum, teacher: t0, student: s0)
        #expect(try reference.run() == .completed)
        try withRunFolder("caller-resume") { dir in
            let (t1, s1) = try models(seed: 5)
            var steps = 0
            let first = try CurriculumRunner(curriculum: curriculum, teacher: t1, student: s1, checkpointDirectory: dir,
                                             observer: { if case .stepFinished = $0 { steps += 1 } })
            first.stopRequested = { steps >= 5 ? SIGINT : nil }
            guard case .interrupted(_, let path) = try first.run() else {
                Issue.record("the run did not stop")
                return
            }
            #expect(path.hasSuffix("step-5.h5"))
            let (t2, s2) = try models(seed: 99)
            let resumed = try CurriculumRunner(resuming: dir, teacher: t2, student: s2)
            #expect(try resumed.run() == .completed)
            #expect(resumed.context.student === s2)
            #expect(Self.bits(s2.parameters) == Self.bits(reference.context.student.parameters))
            #expect(Self.bits(t2.parameters) == Self.bits(reference.context.teacher.parameters))
            #expect(FileManager.default.fileExists(atPath: dir + "/stage-1-output-distill.h5"))
        }
    }
}
