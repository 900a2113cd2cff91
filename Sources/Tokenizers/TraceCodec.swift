/// Why a tokenizer and a prompt template cannot be used together.
public struct TraceCodecError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// How a question and its trace become token ids and back, for one tokenizer and prompt template.
///
/// Training, teacher sampling, PPO rollouts and evaluation all go through this one layout, so a model trained by
/// one stage is prompted the same way by the next:
///
///     [BOS] template(QUESTION)          prompt (the model reads it; the loss ignores it)
///     STEP 1\n...\nanswer: VALUE END    completion (the model writes it); END is the template's end token
///
/// With the character tokenizer and the plain template this is `<bos>QUESTION\n` then the trace and `<eos>`.
public struct TraceCodec: Sendable {
    /// The tokenizer.
    public let tokenizer: any TextTokenizer
    /// The prompt layout.
    public let template: PromptTemplate
    /// The id that ends a completion (appended to training completions; sampling stops at it).
    public let endID: Int32
    /// Every id that stops sampling: `endID` and the tokenizer's end-of-sequence id.
    public let stopIDs: Set<Int32>

    /// - Throws: `TraceCodecError` when the template's end token is not in the vocabulary, or there is none.
    public init(tokenizer: any TextTokenizer, template: PromptTemplate = .plain) throws {
        self.tokenizer = tokenizer
        self.template = template
        if let name = template.endToken {
            guard let id = tokenizer.id(ofToken: name) else {
                throw TraceCodecError(message: "the \(template) prompt template ends completions with \(name), which the tokenizer does not have; choose the template of the model's family (\(PromptTemplate.names.joined(separator: ", ")))")
            }
            endID = id
        } else {
            guard let id = tokenizer.endOfSequenceID else {
                throw TraceCodecError(message: "the tokenizer has no end-of-sequence token for the \(template) template to end completions with; use a chat template (chatml, llama3)")
            }
            endID = id
        }
        stopIDs = Set([endID] + (tokenizer.endOfSequenceID.map { [$0] } ?? []))
    }

    /// A character tokenizer with the plain template (every character tokenizer has `<eos>` to end completions).
    public init(characters tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
        template = .plain
        endID = Tokenizer.eos
        stopIDs = [Tokenizer.eos]
    }

    /// The math tokenizer with the plain template: the built-in models' layout.
    public static let math = TraceCodec(characters: Tokenizer.math)

    /// The prompt ids for `question`: BOS (when the tokenizer puts one) and the template's text.
    public func prompt(question: String) throws -> [Int32] {
        (tokenizer.beginningOfSequenceID.map { [$0] } ?? []) + (try tokenizer.ids(of: template.prompt(question: question)))
    }

    /// The completion ids of a trace's text: its ids, then `endID`.
    public func completion(_ text: String) throws -> [Int32] { try tokenizer.ids(of: text) + [endID] }

    /// The text of sampled completion ids up to the first stop id, with the index of the id that wrote each
    /// character (rewards on character spans of the text are credited to those ids).
    public func decode(completion ids: [Int32]) -> (text: String, tokenOfCharacter: [Int]) {
        let end = ids.firstIndex(where: stopIDs.contains) ?? ids.count
        var text = "", tokenOfScalar: [Int] = []
        for (k, piece) in tokenizer.textPieces(Array(ids[..<end])).enumerated() {
            tokenOfScalar += Array(repeating: k, count: piece.unicodeScalars.count)
            text += piece
        }
        // A character (grapheme) may join scalars of several ids (a letter, then a combining mark): it belongs to
        // the id that wrote its last scalar.
        var map: [Int] = [], scalar = 0
        map.reserveCapacity(tokenOfScalar.count)
        for ch in text {
            scalar += ch.unicodeScalars.count
            map.append(tokenOfScalar[scalar - 1])
        }
        return (text, map)
    }
}
