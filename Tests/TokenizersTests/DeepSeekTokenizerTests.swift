import Foundation
import Testing
import TestSupport
import Tokenizers

// DeepSeek-R1's distilled Qwen models read Qwen2's tokenizer.json (the same normalizer and split regex) with
// DeepSeek's special tokens added: full-width bars and U+2581 in `<｜begin▁of▁sentence｜>`, `<｜User｜>`,
// `<｜Assistant｜>`, `<｜end▁of▁sentence｜>`, `<think>`. Made here from the Qwen2-shaped fixture with those added
// tokens (as that tokenizer.json lists them) and BOS put first by TemplateProcessing, then encoded by the
// `tokenizers` library for the reference ids.

@Test(.enabled(if: TokenizerPython.available))
func deepSeekDistillTokenizerMatchesLibrary() throws {
    var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: TokenizerFixtures.url("qwen2.tokenizer.json"))) as? [String: Any])
    let model = try #require(object["model"] as? [String: Any])
    let vocab = try #require(model["vocab"] as? [String: Int])
    var added = (object["added_tokens"] as? [[String: Any]]) ?? []
    let next = max(vocab.values.max() ?? 0, added.compactMap { $0["id"] as? Int }.max() ?? 0) + 1
    let specials = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>"]
    for (i, content) in specials.enumerated() {
        added.append(["id": next + i, "content": content, "single_word": false, "lstrip": false, "rstrip": false,
                      "normalized": false, "special": i < 4])
    }
    object["added_tokens"] = added
    object["post_processor"] = [
        "type": "TemplateProcessing",
        "single": [["SpecialToken": ["id": specials[0], "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
        "pair": [["SpecialToken": ["id": specials[0], "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                 ["Sequence": ["id": "B", "type_id": 1]]],
        "special_tokens": [specials[0]: ["id": specials[0], "ids": [next], "tokens": [specials[0]]]],
    ] as [String: Any]
    let path = NSTemporaryDirectory() + "deepseek-\(UUID().uuidString.prefix(8)).json"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))

    let tokenizer = try BPETokenizer.load(path: path)
    #expect(tokenizer.bosID == Int32(next) && tokenizer.addBOS)
    let codec = try TraceCodec(tokenizer: tokenizer, template: .deepseek)
    #expect(codec.endID == Int32(next + 1))
    let texts = [
        PromptTemplate.deepseek.prompt(question: "Natalia sold 48 clips in April and half as many in May. How many in all?"),
        "<think>\n48 / 2 = 24\n48 + 24 = 72\n</think>\nanswer: 72<｜end▁of▁sentence｜>",
        "<｜User｜>数学 ½ + ¼ = ¾?<｜Assistant｜>",
    ]
    let script = """
        import json, sys
        from tokenizers import Tokenizer
        t = Tokenizer.from_file(sys.argv[1])
        print(json.dumps([t.encode(x).ids for x in json.loads(sys.argv[2])]))
        """
    let textsJSON = String(decoding: try JSONSerialization.data(withJSONObject: texts), as: UTF8.self)
    let expected = try #require(try TokenizerPython.runJSON(script: script, arguments: [path, textsJSON]) as? [[Int]])
    for (text, ids) in zip(texts, expected) {
        #expect(tokenizer.encode(text).map(Int.init) == ids, "\(text)")
    }
    // the prompt as the codec lays it out: BOS, then the template's text with its specials as single ids
    let prompt = try codec.prompt(question: "2 + 2?")
    #expect(prompt.first == Int32(next) && prompt.contains(Int32(next + 2)) && prompt.last == Int32(next + 3))
}
