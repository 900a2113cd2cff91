import Foundation
import Model
import Tokenizers

extension CheckpointReader {
    /// The tokenizer saved with the checkpoint (a BPE tokenizer.json, or the character symbols) and the prompt
    /// template to use with it: `template` when given, else the one stored with a BPE tokenizer, else the family of
    /// its chat template; plain for the character tokenizer.
    /// - Parameter vocabularySize: the model's vocabulary, which must hold every tokenizer id.
    /// - Throws: `CheckpointError.corrupt` naming `/tokenizer` when none is stored, it does not fit the model, or
    ///   the template's end token is not in it.
    public func codec(vocabularySize: Int, role: String, template: PromptTemplate? = nil) throws -> TraceCodec {
        let tokenizer: any TextTokenizer, chosen: PromptTemplate
        if let json = try tokenizerJSON() {
            do { tokenizer = try BPETokenizer(json: json, file: "\(path):/tokenizer/json") } catch let e as TokenizerFileError {
                throw CheckpointError.corrupt(file: path, object: "/tokenizer/json", reason: e.description)
            }
            chosen = try template ?? promptTemplate().flatMap(PromptTemplate.init) ?? PromptTemplate.family(ofChatTemplate: try chatTemplate())
        } else if let characters = try self.tokenizer() {
            tokenizer = characters
            chosen = template ?? .plain
        } else {
            throw CheckpointError.corrupt(file: path, object: "/tokenizer", reason: "no tokenizer stored; the prompts cannot be encoded. "
                                          + "Use a checkpoint written by `distill init`, `distill import` or `distill run`, which store it")
        }
        guard tokenizer.vocabularySize <= vocabularySize else {
            throw CheckpointError.corrupt(file: path, object: "/tokenizer",
                                          reason: "the tokenizer has \(tokenizer.vocabularySize) ids but role \(role) has vocab_size \(vocabularySize); the tokenizer does not belong to this model")
        }
        do { return try TraceCodec(tokenizer: tokenizer, template: chosen) } catch let e as TraceCodecError {
            throw CheckpointError.corrupt(file: path, object: "/tokenizer", reason: e.message)
        }
    }

    /// The model stored under `role` and the codec of the checkpoint's tokenizer, checked to fit it: what eval,
    /// generate, score, export and quantize run on.
    /// - Parameters:
    ///   - role: the model role (`student`, `teacher`, ...).
    ///   - template: the prompt template to use instead of the stored one (nil: the checkpoint's, as `codec` picks it).
    /// - Throws: `CheckpointError` from `loadTransformer(role:)` (a missing role, damaged or non-finite weights), then
    ///   `.corrupt` naming `/tokenizer` when no tokenizer is stored or it has more ids than the model's vocabulary.
    public func loadModel(role: String, template: PromptTemplate? = nil) throws -> (model: Transformer, codec: TraceCodec) {
        let model = try loadTransformer(role: role)
        return (model, try codec(vocabularySize: model.config.vocabSize, role: role, template: template))
    }
}
