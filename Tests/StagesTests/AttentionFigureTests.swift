import Checkpoint
import Foundation
import Model
import Stages
import Tensor
import TestSupport
import Testing

// AttentionFigure, `distill plot`'s heatmap as a library call: skips and errors named with the file, and the figure's
// size from the text's own length (the math tokenizer is one token per character, plus BOS).

@Suite("AttentionFigure")
struct AttentionFigureTests {
    static func write(_ path: String, roles: [String]) throws {
        var rng = RandomGenerator(seed: 2)
        let v = Tokenizer.math.vocabularySize
        let teacher = try Transformer(config: .preset(.tiny, vocab: v, context: 64), rng: &rng)
        var studentConfig = TransformerConfig.preset(.tiny, vocab: v, context: 64)
        studentConfig.numHiddenLayers = 1
        let student = try Transformer(config: studentConfig, rng: &rng)
        let models = ["teacher": teacher, "student": student]
        try CheckpointWriter.save(CheckpointContents(models: roles.map { ModelSnapshot(role: $0, configJSON: models[$0]!.config.jsonString(),
                                                                                         store: models[$0]!.parameters) },
                                                     tokenizer: .math), to: path)
    }

    @Test("a text gives a (BOS + characters)-square map per model; a missing role is a skip; a layer the student lacks is an error naming the file")
    func drawSkipAndLayer() throws {
        try withRunFolder("attention-figure") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let both = dir + "/both.h5", single = dir + "/student.h5"
            try Self.write(both, roles: ["teacher", "student"])
            try Self.write(single, roles: ["student"])
            let text = "12 + 30 = 42"
            guard case .drawn(let figure) = try AttentionFigure.draw(checkpoint: both, layer: 0, problem: .text(text), maxTokens: 48) else {
                Issue.record("both roles are there: the figure must be drawn")
                return
            }
            #expect(figure.fileName == "attention-text-layer0.svg")
            #expect(figure.problemTokens == text.count + 1 && figure.shownTokens == text.count + 1)
            // the uniform map, (i + 1) * Lt / Ls - 1: student layer 0 of 1 meets teacher layer 1 of 2
            #expect(figure.summary.hasPrefix("attention of teacher layer 1 and student layer 0 on text \"12 + 30 = 42\", 13 tokens, from \(both)"))
            guard case .drawn(let cut) = try AttentionFigure.draw(checkpoint: both, layer: 0, problem: .text(text), maxTokens: 5) else {
                Issue.record("the figure must be drawn")
                return
            }
            #expect(cut.shownTokens == 5 && cut.problemTokens == 13)
            guard case .skipped(let reason) = try AttentionFigure.draw(checkpoint: single, layer: 0, problem: .text(text), maxTokens: 48) else {
                Issue.record("a file without a teacher must be skipped")
                return
            }
            #expect(reason == "\(single) holds roles [student]; it needs both teacher and student")
            #expect(throws: AttentionFigureError.layerOutOfRange(file: both, layer: 1, studentLayers: 1)) {
                _ = try AttentionFigure.draw(checkpoint: both, layer: 1, problem: .text(text), maxTokens: 48)
            }
            #expect("\(AttentionFigureError.layerOutOfRange(file: both, layer: 1, studentLayers: 1))" == "layer 1: the student in \(both) has 1 layers (0...0)")
        }
    }
}
