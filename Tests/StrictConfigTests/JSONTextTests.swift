import Foundation
import StrictConfig
import Testing
import Yams

// The one JSON text helper (trace rows, metrics.jsonl, the CLI's --json), checked against Foundation's
// JSONSerialization: what it writes parses back there to the same value.

/// `text` parsed by JSONSerialization as the single element of an array (fragments at top level need an option).
private func foundationValue(_ text: String) throws -> Any {
    let parsed = try JSONSerialization.jsonObject(with: Data(("[" + text + "]").utf8))
    return try #require((parsed as? [Any])?.first)
}

@Suite("JSON text")
struct JSONTextTests {
    @Test("string literals: every control character, quotes and backslashes escaped; unicode and / kept; Foundation reads them back")
    func quotedRoundTrip() throws {
        let controls = String(String.UnicodeScalarView((0..<0x20).map { Unicode.Scalar(UInt8($0)) }))
        let samples = ["", "plain", "a\"b\\c", "x/y", controls, "caf\u{E9} \u{65E5}\u{672C} \u{1F600}", "\u{2028}\u{7F}", "e\u{301}"]
        for s in samples {
            let text = JSONText.quoted(s)
            #expect(try foundationValue(text) as? String == s, "\(text)")
            // no raw control character survives in the literal
            #expect(!text.unicodeScalars.contains { $0.value < 0x20 })
        }
        // the exact forms, written by hand from RFC 8259 section 7
        #expect(JSONText.quoted("a\"b\\c\n\t\r/") == #""a\"b\\c\n\t\r/""#)
        #expect(JSONText.quoted("\u{1}\u{1F}") == #""\u0001\u001f""#)
        #expect(JSONText.quoted("caf\u{E9}") == "\"caf\u{E9}\"")
    }

    @Test("numbers: shortest round-trip text Foundation parses to the same Double; non-finite as the strings nan, inf, -inf")
    func numbers() throws {
        for x in [0.0, 1.0, -2.5, 0.1, 1e-300, 123_456_789.123, Double.greatestFiniteMagnitude] {
            let text = JSONText.number(x)
            #expect((try foundationValue(text) as? NSNumber)?.doubleValue == x, "\(text)")
            #expect(JSONText.Value.number(text).double == x)
        }
        #expect(JSONText.number(.nan) == #""nan""# && JSONText.number(.infinity) == #""inf""# && JSONText.number(-.infinity) == #""-inf""#)
        #expect(try foundationValue(JSONText.number(.infinity)) as? String == "inf")
        #expect(JSONText.Value.string("nan").double?.isNaN == true && JSONText.Value.string("-inf").double == -.infinity)
    }

    @Test("compact numbers: whole values as integers, others as the shortest round-trip text")
    func compactNumbers() throws {
        #expect(JSONText.compactNumber(1.0) == "1" && JSONText.compactNumber(-3) == "-3" && JSONText.compactNumber(0.25) == "0.25")
        for x in [1.0, 0.98, 1e15, 0.3333333333333333] {
            #expect((try foundationValue(JSONText.compactNumber(x)) as? NSNumber)?.doubleValue == x)
        }
        #expect(JSONText.compactNumber(.nan) == #""nan""#)
    }

    @Test("a value as one line: sorted keys, / unescaped, non-finite numbers as null; Foundation reads it back")
    func line() throws {
        let value: [String: Any] = ["b": 1, "a": [Double.nan, 0.5, Float.infinity], "c": "x/y", "d": ["z": -Double.infinity]]
        let text = try JSONText.line(value)
        #expect(text == #"{"a":[null,0.5,null],"b":1,"c":"x/y","d":{"z":null}}"#)
        let back = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(back["c"] as? String == "x/y" && (back["b"] as? NSNumber)?.intValue == 1)
        #expect((back["a"] as? [Any])?.first is NSNull)
    }

    @Test("a flat metrics line reads back as Foundation reads it")
    func flatObject() throws {
        let line = "{\"step\":3,\"stage\":" + JSONText.quoted("t\u{E9}st \"x\"\n") + ",\"loss\":" + JSONText.number(0.1)
            + ",\"gap\":null,\"kl\":" + JSONText.number(.nan) + "}"
        let fields = try JSONText.parseFlatObject(line)
        let reference = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(fields.map(\.key) == ["step", "stage", "loss", "gap", "kl"])
        #expect(fields[1].value == .string(reference["stage"] as? String ?? "-"))
        #expect(fields[2].value.double == (reference["loss"] as? NSNumber)?.doubleValue)
        #expect(fields[3].value == .null && reference["gap"] is NSNull)
        #expect(fields[4].value.double?.isNaN == true)
        #expect(throws: JSONText.ParseError.self) { try JSONText.parseFlatObject("{\"a\": 01}") }
    }

    @Test("the YAML double-quoted scalar is the JSON literal, and Yams reads every control character back")
    func yamlQuoting() throws {
        // NUL aside: a YAML reader may hand scalars on as C strings
        let controls = String(String.UnicodeScalarView((1..<0x20).map { Unicode.Scalar(UInt8($0)) }))
        for s in [controls, "a\"b\\c: d # e", "caf\u{E9} \u{1F600}", "true", "1.5"] {
            #expect(ConfigTree.quoted(s) == JSONText.quoted(s))
            #expect(try YAMLDecoder().decode([String: String].self, from: "key: " + ConfigTree.quoted(s)) == ["key": s])
        }
    }
}
