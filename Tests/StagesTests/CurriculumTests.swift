import Foundation
import Model
import Stages
import TestSupport
import Testing

// Curriculum files: the shipped ones load; every kind of mistake is a CurriculumError naming the key path and
// the line; defaults fill what a file leaves out.

@Suite("curriculum files")
struct CurriculumTests {
    static let tiny = TestCurricula.tiny

    private func error(_ text: String) -> CurriculumError? { curriculumError(text) }

    @Test("the shipped curricula (smoke, default, full-references, math-proof) load; each student has at most 25% of the teacher's parameters")
    func shipped() throws {
        for name in ["smoke", "default", "full-references", "math-proof"] {
            let c = try Curriculum.load(path: packageRoot + "/curricula/\(name).yaml")
            #expect(c.stages.map(\.kind).starts(with: ["teacher-sft", "teacher-traces"]), "\(name): \(c.stages.map(\.kind))")
            #expect(c.stages.contains { $0.kind == "output-distill" } && c.stages.contains { $0.kind == "feature-align" })
            let teacher = Transformer.parameterSpecs(c.models.teacher).reduce(0) { $0 + $1.shape.reduce(1, *) }
            let student = Transformer.parameterSpecs(c.studentConfig).reduce(0) { $0 + $1.shape.reduce(1, *) }
            #expect(Double(student) <= 0.25 * Double(teacher), "\(name): student \(student) vs teacher \(teacher)")
            #expect(c.resolvedDescription.contains("learning_rate:"))
        }
    }

    @Test("defaults live in the structs: a file with only overrides gets every other value from them")
    func defaults() throws {
        let c = try Curriculum(text: Self.tiny + "\nstages:\n  - kind: output-distill\n    steps: 7\n")
        let d = try #require(c.stages.first?.configuration as? OutputDistillConfiguration)
        #expect(d.training.steps == 7)
        #expect(d.training.batchSize == TrainingSettings(steps: 1).batchSize)
        #expect(d.alphaStart == 0.9 && d.alphaEnd == 0.5 && d.training.gradientClip == 1)
        #expect(c.run.checkpointEvery == RunSettings().checkpointEvery)
        #expect(c.models.teacher.numKeyValueHeads == 4, "kv heads follow the heads when only heads are given")
    }

    @Test("unknown key: named with its path and line, and the known keys listed")
    func unknownKey() {
        let e = error(Self.tiny + "\nstages:\n  - kind: output-distill\n    stepz: 7\n")
        #expect(e?.keyPath == "stages[0].stepz")
        #expect(e?.line == 8)
        #expect(e?.message.contains("steps") == true)
        let top = error(Self.tiny + "\nstages:\n  - kind: teacher-sft\nextra: 1\n")
        #expect(top?.keyPath == "extra" && top?.line == 8)
    }

    @Test("wrong types and bad values name the key and line")
    func wrongTypes() {
        let e1 = error(Self.tiny + "\nstages:\n  - kind: teacher-sft\n    steps: many\n")
        #expect(e1?.keyPath == "stages[0].steps" && e1?.line == 8 && e1?.message.contains("integer") == true)
        let e2 = error(Self.tiny + "\nstages:\n  - kind: output-distill\n    alpha: {start: 1.5}\n")
        #expect(e2?.keyPath == "stages[0].alpha.start")
        let e3 = error(Self.tiny + "\nstages:\n  - kind: output-distill\n    temperature: {schedule: cosine}\n")
        #expect(e3?.keyPath == "stages[0].temperature.schedule" && e3?.message.contains("linear_decay") == true)
        let e4 = error(Self.tiny.replacingOccurrences(of: "[addition]", with: "[addition, calculus]") + "\nstages:\n  - kind: teacher-sft\n")
        #expect(e4?.keyPath == "data.domains" && e4?.message.contains("calculus") == true)
        let e5 = error(Self.tiny + "\nstages:\n  - kind: distill-everything\n")
        #expect(e5?.keyPath == "stages[0].kind" && e5?.message.contains("output-distill") == true)
    }

    @Test("impossible combinations are rejected with a way out")
    func combinations() {
        let traces = error(Self.tiny + "\nstages:\n  - kind: output-distill\n    data: teacher_traces\n")
        #expect(traces?.message.contains("teacher-traces stage") == true)
        // 3 student heads cannot be matched with 4 teacher heads for attention maps
        let heads = error(Self.tiny.replacingOccurrences(of: "hidden_size: 16, heads: 2", with: "hidden_size: 24, heads: 3")
                          + "\nstages:\n  - kind: feature-align\n")
        #expect(heads?.keyPath == "stages[0].attention_weight")
        let student = error(Self.tiny.replacingOccurrences(of: "heads: 2", with: "heads: 5") + "\nstages:\n  - kind: teacher-sft\n")
        #expect(student?.keyPath == "student")
        let lr = error(Self.tiny + "\nstages:\n  - kind: teacher-sft\n    learning_rate: 0.001\n    min_learning_rate: 0.01\n")
        #expect(lr?.keyPath == "stages[0].min_learning_rate")
        let long = error(Self.tiny.replacingOccurrences(of: "max_length: 96", with: "max_length: 512") + "\nstages:\n  - kind: teacher-sft\n")
        #expect(long?.keyPath == "data.max_length")
        let none = error(Self.tiny + "\nstages: []\n")
        #expect(none?.keyPath == "stages")
        let references = error(Self.tiny.replacingOccurrences(of: "train_size: 8,", with: "train_size: 8, reference_traces: 9,")
                               + "\nstages:\n  - kind: teacher-sft\n")
        #expect(references?.keyPath == "data.reference_traces" && references?.message.contains("train_size 8") == true)
        // greedy decoding gives one trace per question: more samples or retries of it are a mistake, at their line
        let stage = Self.tiny + "\nstages:\n  - kind: teacher-sft\n  - kind: teacher-traces\n    temperature: 0\n"
        let samples = error(stage + "    samples: 4\n")
        #expect(samples?.keyPath == "stages[1].samples" && samples?.line == 10 && samples?.message.contains("samples: 1") == true)
        let retries = error(stage + "    samples: 1\n    retry_samples: 8\n")
        #expect(retries?.keyPath == "stages[1].retry_samples" && retries?.line == 11 && retries?.message.contains("temperature above 0") == true)
        #expect(throws: Never.self) { try Curriculum(text: stage + "    samples: 1\n") }
    }

    @Test("data.domain_shares: read in data.domains order, written back, and every mistake named at its key")
    func domainShares() throws {
        let three = Self.tiny.replacingOccurrences(of: "domains: [addition]", with: "domains: [addition, subtraction, divisibility]")
        let stages = "\nstages:\n  - kind: teacher-sft\n"
        let c = try Curriculum(text: three.replacingOccurrences(of: "train_size: 8,",
                                                                with: "domain_shares: {divisibility: 1, addition: 2, subtraction: 2}, train_size: 8,") + stages)
        #expect(c.data.domainShares == [2, 2, 1])
        #expect(c.resolvedDescription.contains("domain_shares"))
        #expect(try Curriculum(text: c.resolvedDescription).data.domainShares == [2, 2, 1])
        #expect(try Curriculum(text: three + stages).data.domainShares == nil)
        // written in data.domains order for every order of the domains, never in a dictionary's (which differs from one
        // dictionary to the next: the shipped math-proof.yaml's resolved text read back in another order under ASan)
        let names = ["addition", "subtraction", "divisibility"], share = ["addition": 3, "subtraction": 2, "divisibility": 1]
        for order in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]].map({ $0.map { names[$0] } }) {
            let text = Self.tiny.replacingOccurrences(of: "domains: [addition]", with: "domains: [\(order.joined(separator: ", "))]")
                .replacingOccurrences(of: "train_size: 8,", with: "domain_shares: {divisibility: 1, addition: 3, subtraction: 2}, train_size: 8,")
            let resolved = try Curriculum(text: text + stages).resolvedDescription
            let line = "  domain_shares: {" + order.map { "\($0): \(Double(share[$0]!))" }.joined(separator: ", ") + "}"
            #expect(resolved.split(separator: "\n").contains { $0 == line }, "\(order): \(resolved)")
        }
        for (shares, words) in [("{addition: 2, subtraction: 2}", "no share for divisibility"),
                                ("{addition: 2, subtraction: 2, divisibility: 1, gcd: 1}", "'gcd' is not one of data.domains"),
                                ("{addition: 2, subtraction: 0, divisibility: 1}", "must be a positive number"),
                                ("[2, 2, 1]", "a mapping")] {
            let e = error(three.replacingOccurrences(of: "train_size: 8,", with: "domain_shares: \(shares), train_size: 8,") + stages)
            #expect(e?.keyPath == "data.domain_shares" && e?.message.contains(words) == true, "\(shares): \(String(describing: e))")
        }
    }

    @Test("missing files and broken YAML are errors with a location, never a crash")
    func files() {
        let missing = error(Self.tiny.replacingOccurrences(of: "teacher: {", with: "teacher: {checkpoint: nowhere.h5, ") + "\nstages:\n  - kind: teacher-sft\n")
        #expect(missing?.keyPath == "teacher.checkpoint" && missing?.message.contains("nowhere.h5") == true)
        let syntax = error("name: [unclosed\nseed: 1\n")
        #expect(syntax?.line != nil && syntax?.message.contains("YAML") == true)
        #expect(throws: CurriculumError.self) { try Curriculum.load(path: "/no/such/curriculum.yaml") }
    }
}

/// The `CurriculumError` that reading `text` (as `file`) gives; records an issue when it reads, or fails otherwise.
func curriculumError(_ text: String, file: String = "c.yaml", sourceLocation: SourceLocation = #_sourceLocation) -> CurriculumError? {
    do {
        _ = try Curriculum(text: text, file: file)
        Issue.record("expected a CurriculumError for:\n\(text)", sourceLocation: sourceLocation)
        return nil
    } catch let e as CurriculumError {
        return e
    } catch {
        Issue.record("expected a CurriculumError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
