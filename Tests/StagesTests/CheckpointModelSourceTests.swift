import Checkpoint
import Eval
import Foundation
import Model
import Stages
import Tensor
import TestSupport
import Testing

// The evaluator's checkpoint reader (eval and report) and the curriculum defaults that come from the presets.

@Suite("CheckpointModelSource and the preset defaults")
struct CheckpointModelSourceTests {
    @Test("a missing role names the roles there are; a tokenizer larger than the model is EvalError.tokenizer naming the file")
    func errors() throws {
        try withRunFolder("model-source") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let path = dir + "/m.h5"
            var rng = RandomGenerator(seed: 0)
            let small = try Transformer(config: .preset(.tiny, vocab: 20), rng: &rng)  // the math tokenizer has more symbols
            try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: small.config.jsonString(),
                                                                                store: small.parameters)], tokenizer: .math), to: path)
            let source = CheckpointModelSource()
            #expect(try source.roles(inFile: path) == ["student"])
            #expect(throws: EvalError.missingRole(file: path, role: "teacher", available: ["student"])) {
                _ = try source.model(inFile: path, role: "teacher")
            }
            do {
                _ = try source.model(inFile: path, role: "student")
                Issue.record("a tokenizer of \(Tokenizer.math.vocabularySize) symbols must not load with a vocabulary of 20")
            } catch let EvalError.tokenizer(source, reason) {
                #expect(source == path)
                #expect(reason.contains("the tokenizer has \(Tokenizer.math.vocabularySize) ids but role student has vocab_size 20"), "\(reason)")
            }
        }
    }

    @Test("a curriculum's default teacher is the teacher preset, and its default student shrink gives the student preset")
    func curriculumDefaultsArePresets() throws {
        let settings = ModelSettings()
        let v = Tokenizer.math.vocabularySize
        #expect(settings.teacher == .preset(.teacher, vocab: v))
        #expect(try settings.teacher.shrunk(by: settings.shrink) == .preset(.student, vocab: v))
    }
}
