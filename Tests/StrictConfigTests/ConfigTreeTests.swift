import StrictConfig
import Testing
import Yams

// The resolved configuration is the settings structs' own encoding, printed as YAML: the printed text must read
// back (through Yams, as a curriculum is read) to the same values, and stay readable.

private struct Printed: Codable, Equatable {
    var name = "a run"
    var rate: Float = 1e-5
    var small: Double = 0.25
    var steps = 3
    var enabled = true
    var off: Double? = nil
    var list = [1, 2]
    var word = "forward_kl"
    var tricky = ["yes", "1.5", "null", "-x", "a: b"]
    var inner = Inner()

    struct Inner: Codable, Equatable {
        var mode = "fast"
        var deep = ["x": 1]
    }
}

@Suite("settings printed from their encoding")
struct ConfigTreeTests {
    @Test("block YAML for nested settings, flow for flat ones, numbers in shortest form with a point before the exponent")
    func lines() throws {
        let lines = try ConfigTree.encoding(Printed()).yamlLines
        #expect(lines == [
            "name: \"a run\"", "rate: 1.0e-05", "small: 0.25", "steps: 3", "enabled: true", "list: [1, 2]", "word: forward_kl",
            "tricky: [\"yes\", \"1.5\", \"null\", \"-x\", \"a: b\"]", "inner:", "  mode: fast", "  deep: {x: 1}",
        ])
        #expect(try ConfigTree.encoding(Printed.Inner()).inlineFlow == "{mode: fast, deep: {x: 1}}")
    }

    @Test("the printed text reads back through Yams to the same values (texts that look like other YAML stay texts)")
    func readsBack() throws {
        var value = Printed()
        value.rate = 3e-5
        value.off = 0.1
        let text = try ConfigTree.encoding(value).yamlLines.joined(separator: "\n")
        let node = try #require(try Yams.compose(yaml: text))
        #expect(try YAMLDecoder().decode(Printed.self, from: node) == value, "\(text)")
    }
}
