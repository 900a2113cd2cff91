import Foundation
import Model
import Testing

// The character/symbol tokenizer: round trips of math text, BOS/EOS, typed errors for characters it
// cannot encode (character and offset in characters), and the Codable form saved in checkpoints.

@Suite("Tokenizer")
struct TokenizerTests {
    static let text = "Compute 4821 + 379.\n1 + 9 = 10, write 0 carry 1\n(3/4)^2 * [x_1 - y] = {z}; 7 mod 2 < 5 > 1 & ~!?#%$'\"\\|\nanswer: 5200"

    @Test("math text round-trips; every character is one token")
    func roundTrip() throws {
        let tok = Tokenizer.math
        let ids = try tok.encode(Self.text, addBOS: false)
        #expect(ids.count == Self.text.count)
        #expect(tok.decode(ids) == Self.text)
        #expect(ids.allSatisfy { $0 >= 3 && Int($0) < tok.vocabularySize })
        // Distinct characters get distinct ids and the same character the same id.
        let pairs = Set(zip(Self.text, ids).map { "\($0.0)\u{0}\($0.1)" })
        #expect(pairs.count == Set(Self.text).count)
    }

    @Test("the built-in vocabulary: specials 0, 1, 2, then one id per documented symbol")
    func vocabulary() throws {
        let tok = Tokenizer.math
        #expect(Array(tok.symbols.prefix(3)) == ["<pad>", "<bos>", "<eos>"])
        #expect(Tokenizer.pad == 0 && Tokenizer.bos == 1 && Tokenizer.eos == 2)
        let documented = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ \n+-*/^=().,:;?!<>#%$'\"[]{}\\_|&~"
        #expect(tok.vocabularySize == 3 + documented.count)
        let ids = try tok.encode(documented, addBOS: false)
        #expect(Set(ids).count == documented.count)
        #expect(try tok.encode("0", addBOS: false) == [3])
    }

    @Test("BOS first and EOS last on request; decode drops specials and stops at EOS")
    func specials() throws {
        let tok = Tokenizer.math
        let plain = try tok.encode("1+1=2", addBOS: false)
        #expect(try tok.encode("1+1=2") == [Tokenizer.bos] + plain)  // BOS by default, no EOS
        let both = try tok.encode("1+1=2", addBOS: true, addEOS: true)
        #expect(both.first == Tokenizer.bos && both.last == Tokenizer.eos && both.count == 7)
        #expect(tok.decode(both) == "1+1=2")
        let tail = try tok.encode("junk", addBOS: false)
        #expect(tok.decode(both + tail) == "1+1=2")
        #expect(tok.decode(both + tail, stopAtEOS: false) == "1+1=2junk")
        #expect(tok.decode([Tokenizer.pad, Tokenizer.bos] + plain + [Tokenizer.pad]) == "1+1=2")
        #expect(try tok.encode("", addBOS: false).isEmpty)
        #expect(try tok.encode("", addBOS: true, addEOS: true) == [Tokenizer.bos, Tokenizer.eos])
    }

    /// [character, offset] of the TokenizerError `body` throws (empty, with an issue, otherwise).
    static func failure(_ body: () throws -> [Int32], sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        do {
            let ids = try body()
            Issue.record("encoded to \(ids) instead of throwing", sourceLocation: sourceLocation)
        } catch let e as TokenizerError {
            return [String(e.character), String(e.offset)]
        } catch {
            Issue.record("expected a TokenizerError, got \(error)", sourceLocation: sourceLocation)
        }
        return []
    }

    @Test("a character with no token is a TokenizerError with the character and its offset")
    func unknownCharacter() throws {
        let tok = Tokenizer.math
        #expect(Self.failure { try tok.encode("1 + é = 2") } == ["é", "4"])
        do {
            _ = try tok.encode("x = 3\u{00E9}", addBOS: false)
            Issue.record("é was encoded")
        } catch let e as TokenizerError {
            #expect(e.character == "é" && e.offset == 5)
            #expect(e.description.contains("é") && e.description.contains("offset 5"), "\(e.description)")
        }
        // Offsets count characters (grapheme clusters), not bytes or scalars: a decomposed é is one.
        #expect(Self.failure { try tok.encode("ab" + "e\u{0301}" + "c", addBOS: false) } == ["e\u{0301}", "2"])
        #expect(Self.failure { try tok.encode("1\t2") } == ["\t", "1"])
    }

    @Test("Codable round trip keeps the ids")
    func codable() throws {
        let data = try JSONEncoder().encode(Tokenizer.math)
        let back = try JSONDecoder().decode(Tokenizer.self, from: data)
        #expect(back == Tokenizer.math)
        #expect(try back.encode(Self.text) == (try Tokenizer.math.encode(Self.text)))
        let custom = Tokenizer(characters: Array("ab1+="))
        let customBack = try JSONDecoder().decode(Tokenizer.self, from: JSONEncoder().encode(custom))
        #expect(customBack.symbols == ["<pad>", "<bos>", "<eos>", "a", "b", "1", "+", "="])
        #expect(try customBack.encode("a+b=1", addBOS: false) == [3, 6, 4, 7, 5])
    }

    @Test("a tampered symbol list fails to decode",
          arguments: [
            #"{"symbols": ["<bos>", "<pad>", "<eos>", "a"]}"#,   // specials out of order
            #"{"symbols": ["<pad>", "<bos>", "<eos>", "a", "a"]}"#,  // duplicate
            #"{"symbols": ["<pad>", "<bos>", "<eos>", "ab"]}"#,  // more than one character
            #"{"symbols": ["<pad>", "<bos>", "<eos>", ""]}"#,    // empty symbol
            #"{"symbols": ["<pad>", "<bos>"]}"#,                 // missing EOS
            #"{"vocab": ["<pad>", "<bos>", "<eos>"]}"#,          // wrong key
          ])
    func tampered(json: String) {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Tokenizer.self, from: Data(json.utf8)) }
    }
}
