import Foundation
import Testing
import Tokenizers

// decode(encode(x)) == x, streaming decode, and character spans.

/// Without a normalizer or stripping added tokens, decoding gives back the text exactly.
@Test(arguments: ["gpt2", "llama3", "smollm"])
func decodeInvertsEncode(name: String) throws {
    let tokenizer = try TokenizerFixtures.tokenizer(name)
    let texts = try TokenizerFixtures.stressTexts().map(\.text) + (try gsm8kSample(count: 200))
    for text in texts {
        #expect(tokenizer.decode(tokenizer.encode(text, addSpecialTokens: false)) == text, "\(name): \(text.debugDescription)")
        if !text.contains("<|") {  // no special tokens in the text: skipping specials drops only the BOS
            #expect(tokenizer.decode(tokenizer.encode(text), skipSpecialTokens: true) == text, "\(name): \(text.debugDescription)")
        }
    }
}

@Test func streamingDecoderHoldsBackPartialCharacters() throws {
    let tokenizer = try TokenizerFixtures.tokenizer("gpt2")
    let text = "I love 🤗 and 👨‍👩‍👧 ok"
    let ids = tokenizer.encode(text, addSpecialTokens: false)
    // The small trained vocab has no emoji tokens: each emoji is cut into byte tokens.
    let pieces = ids.map { tokenizer.decode([$0]) }
    #expect(pieces.contains { $0.contains("\u{FFFD}") }, "expected some token to hold part of an emoji")

    var decoder = StreamingDecoder(tokenizer: tokenizer)
    var outputs: [String] = []
    for id in ids { outputs.append(decoder.append(id)) }
    let rest = decoder.finish()
    #expect(rest.isEmpty)
    #expect(outputs.joined() + rest == text)
    #expect(outputs.allSatisfy { !$0.contains("\u{FFFD}") })
    // The emoji's first byte tokens emit nothing; the token completing it emits the whole emoji.
    let emojiIDs = tokenizer.encode("🤗", addSpecialTokens: false)
    #expect(emojiIDs.count > 1)
    var single = StreamingDecoder(tokenizer: tokenizer)
    for id in emojiIDs.dropLast() { #expect(single.append(id) == "") }
    #expect(single.append(emojiIDs.last!) == "🤗")
    #expect(single.finish() == "")
}

@Test func streamingDecoderFlushesLossilyAndPassesInvalidBytes() throws {
    let tokenizer = try TokenizerFixtures.tokenizer("gpt2")
    let emojiIDs = tokenizer.encode("🤗", addSpecialTokens: false)
    var decoder = StreamingDecoder(tokenizer: tokenizer)
    #expect(decoder.append(emojiIDs[0]) == "")
    #expect(decoder.finish() == "\u{FFFD}")
    // An emoji's continuation bytes without their lead byte can never complete: out at once, as decode does.
    var orphan = StreamingDecoder(tokenizer: tokenizer)
    let tail = Array(emojiIDs.dropFirst())
    let streamed = tail.map { orphan.append($0) }.joined() + orphan.finish()
    #expect(streamed == tokenizer.decode(tail))
    // Skipping special tokens as decode does.
    let smol = try TokenizerFixtures.tokenizer("smollm")
    let chat = smol.encode("<|im_start|>user\nhi<|im_end|>", addSpecialTokens: false)
    var skipping = StreamingDecoder(tokenizer: smol, skipSpecialTokens: true)
    #expect(chat.map { skipping.append($0) }.joined() + skipping.finish() == "user\nhi")
}

@Test func characterSpansCoverWholeCharacters() throws {
    let tokenizer = try TokenizerFixtures.tokenizer("gpt2")
    let text = "a 👨‍👩‍👧 é!"
    let characters = Array(text)
    // Character i covers bytes characterBytes[i].
    var characterBytes: [Range<Int>] = []
    var offset = 0
    for character in characters {
        characterBytes.append(offset..<(offset + character.utf8.count))
        offset += character.utf8.count
    }
    let (ids, spans) = tokenizer.encodeWithSpans(text, addSpecialTokens: false)
    let mapped = BPETokenizer.characterSpans(spans, in: text)
    #expect(mapped.count == ids.count)
    for (span, characterSpan) in zip(spans, mapped) where !span.isEmpty {
        // The characters' bytes cover the token's bytes, and no fewer characters would.
        let covered = characterBytes[characterSpan.lowerBound].lowerBound..<characterBytes[characterSpan.upperBound - 1].upperBound
        #expect(covered.lowerBound <= span.lowerBound && span.upperBound <= covered.upperBound)
        #expect(characterBytes[characterSpan.lowerBound].contains(span.lowerBound))
        #expect(characterBytes[characterSpan.upperBound - 1].contains(span.upperBound - 1))
    }
    // The family emoji is one Character (index 2): every token inside it maps to 2..<3.
    let inside = zip(spans, mapped).filter { !$0.0.isEmpty && characterBytes[2].contains($0.0.lowerBound) }
    #expect(inside.count > 1 && inside.allSatisfy { $0.1 == 2..<3 })
    #expect(BPETokenizer.characterSpans([0..<0, 1..<2, 3..<4, 0..<text.utf8.count], in: text)
            == [0..<0, 1..<2, 2..<3, 0..<characters.count])
}
