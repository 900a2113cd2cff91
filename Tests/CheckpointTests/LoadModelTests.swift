import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// CheckpointReader.loadModel: the one loader eval, generate, score, export and quantize share. The vocabulary check
// is against the math tokenizer's own size, and the weights against the model that was written.

@Suite("CheckpointReader.loadModel: a model with its codec, and the vocabulary check")
struct LoadModelTests {
    @Test("a model of the tokenizer's vocabulary loads with the written weights and the plain template of the character tokenizer")
    func loadsModelAndCodec() throws {
        try withTemporaryFolder("load-model") { dir in
            var config = studentConfig()
            config.vocabSize = Tokenizer.math.vocabularySize
            let path = dir + "/m.h5"
            let written = try writeModelCheckpoint(path, config: config)
            let (model, codec) = try CheckpointReader(path: path).loadModel(role: "student")
            #expect(model.config == config)
            #expect(storeBits(model.parameters) == storeBits(written.parameters))
            #expect(codec.tokenizer.vocabularySize == Tokenizer.math.vocabularySize)
            #expect(codec.template == .plain)
            // the codec encodes as the math tokenizer itself does
            #expect(try codec.tokenizer.ids(of: "12 + 30 = 42") == (try Tokenizer.math.ids(of: "12 + 30 = 42")))
        }
    }

    @Test("a tokenizer with more ids than the model's vocabulary is refused: the file, /tokenizer, both sizes and what it means")
    func vocabularyMismatch() throws {
        try withTemporaryFolder("load-model-vocab") { dir in
            let path = dir + "/m.h5"
            try writeModelCheckpoint(path)  // vocab_size 13, far below the math tokenizer's
            let symbols = Tokenizer.math.vocabularySize
            #expect(symbols > 13)
            #expect(throws: CheckpointError.corrupt(file: path, object: "/tokenizer",
                                                    reason: "the tokenizer has \(symbols) ids but role student has vocab_size 13; the tokenizer does not belong to this model")) {
                _ = try CheckpointReader(path: path).loadModel(role: "student")
            }
        }
    }

    @Test("a checkpoint without a tokenizer is refused, saying which commands write one")
    func noTokenizer() throws {
        try withTemporaryFolder("load-model-none") { dir in
            let path = dir + "/m.h5"
            var config = studentConfig()
            config.vocabSize = Tokenizer.math.vocabularySize
            let model = try scrambledTransformer(config, seed: 3)
            try CheckpointWriter.save(CheckpointContents(models: [ModelSnapshot(role: "student", configJSON: config.jsonString(), store: model.parameters)]),
                                      to: path)
            do {
                _ = try CheckpointReader(path: path).loadModel(role: "student")
                Issue.record("a checkpoint without a tokenizer must not load a codec")
            } catch let CheckpointError.corrupt(file, object, reason) {
                #expect(file == path && object == "/tokenizer")
                #expect(reason.contains("no tokenizer stored") && reason.contains("distill init"), "\(reason)")
            }
        }
    }
}
