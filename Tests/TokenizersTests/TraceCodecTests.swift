import Testing
import Tokenizers

// The layout every stage shares: prompt ids, completion ids with the end token, and sampled ids back to text with
// the token that wrote each character. Expected values are counted by hand from the math vocabulary
// (<pad> 0, <bos> 1, <eos> 2, digits 3-12, ...).

@Suite("Trace codec")
struct TraceCodecTests {
    @Test("the math codec: <bos>QUESTION\\n, the trace, <eos>")
    func mathLayout() throws {
        let codec = TraceCodec.math
        let digit: (Character) -> Int32 = { Int32($0.wholeNumberValue! + 3) }
        let newline = try #require(Tokenizer.math.id(ofToken: "\n"))
        #expect(try codec.prompt(question: "12") == [1, digit("1"), digit("2"), newline])
        #expect(try codec.completion("3") == [digit("3"), 2])
        #expect(codec.endID == 2 && codec.stopIDs == [2])
    }

    @Test("decoding stops at the first stop id and maps each character to the id that wrote it; specials write nothing")
    func decodeMap() throws {
        let codec = TraceCodec.math
        let ids = try Tokenizer.math.ids(of: "1+2") + [0] + (try Tokenizer.math.ids(of: "=3")) + [2] + (try Tokenizer.math.ids(of: "99"))
        let decoded = codec.decode(completion: ids)
        #expect(decoded.text == "1+2=3")
        #expect(decoded.tokenOfCharacter == [0, 1, 2, 4, 5])  // id 3 is padding: no character
    }

    @Test("chat templates: the prompt text and the end token each names")
    func templates() throws {
        #expect(PromptTemplate.chatml.prompt(question: "Q?") == "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n")
        #expect(PromptTemplate.llama3.prompt(question: "Q?")
                == "<|start_header_id|>user<|end_header_id|>\n\nQ?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        #expect(PromptTemplate.chatml.endToken == "<|im_end|>" && PromptTemplate.llama3.endToken == "<|eot_id|>")
        #expect(PromptTemplate("Question: {question}\nAnswer:")?.prompt(question: "2+2") == "Question: 2+2\nAnswer:")
        #expect(PromptTemplate("no placeholder") == nil && PromptTemplate("chatml") == .chatml)
        #expect(PromptTemplate.family(ofChatTemplate: "{% for m in messages %}<|im_start|>{{ m.role }}") == .chatml)
        #expect(PromptTemplate.family(ofChatTemplate: "<|start_header_id|>") == .llama3)
        #expect(PromptTemplate.family(ofChatTemplate: nil) == .plain)
        // DeepSeek-R1 (and its Qwen / Llama distillations): full-width bars and the U+2581 block in its specials
        #expect(PromptTemplate.deepseek.prompt(question: "Q?") == "<｜User｜>Q?<｜Assistant｜>")
        #expect(PromptTemplate.deepseek.endToken == "<｜end▁of▁sentence｜>" && PromptTemplate("deepseek") == .deepseek)
        #expect(PromptTemplate.family(ofChatTemplate: "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}") == .deepseek)
    }

    @Test("a template whose end token the tokenizer lacks is an error that names it")
    func missingEndToken() {
        #expect(throws: TraceCodecError.self) { _ = try TraceCodec(tokenizer: Tokenizer.math, template: .chatml) }
        do { _ = try TraceCodec(tokenizer: Tokenizer.math, template: .llama3) } catch let e as TraceCodecError {
            #expect(e.message.contains("<|eot_id|>"))
        } catch { Issue.record("\(error)") }
    }

    @Test("a character split over several ids belongs to the id that completes it")
    func graphemesAcrossIds() throws {
        // a tokenizer whose ids are single Unicode scalars: "e" then U+0301 (combining acute) make one character
        struct Scalars: TextTokenizer {
            let table: [String] = ["<eos>", "e", "\u{301}", "x"]
            var vocabularySize: Int { table.count }
            var beginningOfSequenceID: Int32? { nil }
            var endOfSequenceID: Int32? { 0 }
            func ids(of text: String) throws -> [Int32] { text.unicodeScalars.map { s in Int32(table.firstIndex(of: String(s))!) } }
            func id(ofToken token: String) -> Int32? { table.firstIndex(of: token).map { Int32($0) } }
            func token(of id: Int32) -> String? { table.indices.contains(Int(id)) ? table[Int(id)] : nil }
            func textPieces(_ ids: [Int32]) -> [String] { ids.map { $0 == 0 ? "" : table[Int($0)] } }
        }
        let codec = try TraceCodec(tokenizer: Scalars())
        let decoded = codec.decode(completion: [3, 1, 2, 3, 0])
        #expect(decoded.text == "xe\u{301}x" && decoded.text.count == 3)
        #expect(decoded.tokenOfCharacter == [0, 2, 3])
    }
}
