import Foundation
import StrictConfig
import Testing
import Yams

// The strict layer over the two decoders settings come through: Yams' (curricula) and Foundation's JSON (PPO and
// reward settings, config.json). Each case is a small text written by hand whose mistake, key path and message
// are known before the test runs.

/// A small settings type read through the layer: an integer with a floor, a number in a range, a choice, an
/// optional that null turns off, and a nested settings object.
private struct Sample: Decodable, Equatable {
    var count = 4
    var rate = 0.5
    var mode = "fast"
    var limit: Double? = 1
    var inner = Inner()

    struct Inner: Decodable, Equatable {
        var flag = false
        init() {}
        init(from decoder: Decoder) throws {
            let c = try StrictContainer(decoder, known: ["flag"])
            flag = try c.bool("flag") ?? flag
        }
    }

    init() {}
    init(from decoder: Decoder) throws {
        let c = try StrictContainer(decoder, known: ["count", "rate", "mode", "limit", "inner"])
        count = try c.int("count", min: 1) ?? count
        rate = try c.double("rate", range: 0...1) ?? rate
        mode = try c.choice("mode", ["fast", "slow"]) ?? mode
        if let l = try c.nullable("limit", Double.self, expected: "a number or null") { limit = l }
        inner = try c.value("inner", Inner.self, expected: "a mapping") ?? inner
    }
}

/// `text` composed as the curriculum reader composes it (Yams' default resolver), then decoded by Yams' decoder.
private func yaml(_ text: String) throws -> Sample {
    try YAMLDecoder().decode(Sample.self, from: try #require(try Yams.compose(yaml: text)))
}

private func yamlIssue(_ text: String) -> ConfigIssue? {
    do { _ = try yaml(text); return nil } catch { return error as? ConfigIssue }
}

private func jsonIssue(_ text: String) -> ConfigIssue? {
    do { _ = try JSONDecoder().decode(Sample.self, from: Data(text.utf8)); return nil } catch { return error as? ConfigIssue }
}

@Suite("strict settings layer")
struct StrictContainerTests {
    @Test("omitted keys keep the struct's defaults; written keys are read; null turns off only what reads it as a value")
    func defaultsAndValues() throws {
        #expect(try yaml("{}") == Sample())
        let s = try yaml("count: 9\nrate: 0.25\nmode: slow\nlimit: ~\ninner: {flag: true}\n")
        #expect(s.count == 9 && s.rate == 0.25 && s.mode == "slow" && s.limit == nil && s.inner.flag)
        let j = try JSONDecoder().decode(Sample.self, from: Data(#"{"count": 9, "rate": 0.25, "mode": "slow", "limit": null, "inner": {"flag": true}}"#.utf8))
        #expect(j == s)
    }

    @Test("an unknown key is named with its path, and the known keys are listed (both decoders, nested too)")
    func unknownKeys() {
        #expect(yamlIssue("count: 2\ncuont: 3\n") == ConfigIssue(path: [ConfigKey("cuont")], .unknownKey(known: ["count", "rate", "mode", "limit", "inner"])))
        #expect(yamlIssue("inner: {flag: true, flags: 1}\n")?.keyPath == "inner.flags")
        #expect(jsonIssue(#"{"inner": {"flags": 1}}"#)?.keyPath == "inner.flags")
        #expect(yamlIssue("cuont: 3\n")?.message == "unknown key; known keys here: count, inner, limit, mode, rate")
    }

    @Test("wrong types say what was expected and what was written")
    func wrongTypes() {
        #expect(yamlIssue("count: many\n")?.description == "count: expected an integer, found 'many'")
        #expect(yamlIssue("rate: {a: 1}\n")?.description == "rate: expected a number, found a mapping")
        #expect(yamlIssue("count: [1, 2]\n")?.description == "count: expected an integer, found a list")
        #expect(yamlIssue("rate: .inf\n")?.description == "rate: expected a number, found '.inf'")
        #expect(jsonIssue(#"{"count": "many"}"#)?.description == "count: expected an integer, found 'many'")
        #expect(yamlIssue("inner: 3\n")?.description == "inner: expected a mapping of keys to values")
    }

    @Test("null is refused where it would silently mean the default")
    func nulls() {
        #expect(yamlIssue("count:\n")?.problem == .null)
        #expect(yamlIssue("count: null\n")?.keyPath == "count")
        #expect(jsonIssue(#"{"count": null}"#)?.problem == .null)
        #expect(yamlIssue("count: \"\"\n")?.problem == .wrongType(expected: "an integer", found: "''"), "a quoted empty text is a value, not null")
    }

    @Test("ranges and choices name the bound or the choices")
    func ranges() {
        #expect(yamlIssue("count: 0\n")?.description == "count: must be at least 1, found 0")
        #expect(yamlIssue("rate: 1.5\n")?.description == "rate: must be in 0.0...1.0, found 1.5")
        #expect(yamlIssue("mode: medium\n")?.description == "mode: 'medium' is not one of: fast, slow")
        // a number written as text is still a number (as the curriculum reader always read it), and still range-checked
        #expect(yamlIssue("rate: \"2\"\n")?.description == "rate: must be in 0.0...1.0, found 2.0")
    }

    @Test("key paths spell list indices in brackets")
    func paths() {
        let issue = ConfigIssue(path: [ConfigKey("stages"), ConfigKey(intValue: 2), ConfigKey("temperature"), ConfigKey("start")], .invalid("x"))
        #expect(issue.keyPath == "stages[2].temperature.start")
    }
}
