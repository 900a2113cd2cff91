import Foundation

/// The project's one JSON text helper: string literals and numbers for rows assembled by hand (metrics.jsonl,
/// trace datasets), the small dialect of metrics.jsonl (flat objects of string keys and number, string or null
/// values), and one-line output of a JSON-compatible value (the CLI's `--json`).
///
/// Rows are written and read here rather than with JSONSerialization so that they keep a fixed, readable key
/// order, numbers keep their exact text (a Double's shortest round-trip form parses back bit for bit with
/// `Double(String)`) and a parse error can say exactly where a line went wrong.
public enum JSONText {
    /// A value of a flat object.
    public enum Value: Equatable, Sendable {
        /// A number, as written.
        case number(String)
        /// A string, unescaped.
        case string(String)
        /// null.
        case null

        /// The value as a Double: numbers, and the strings "nan", "inf", "-inf" for non-finite values.
        public var double: Double? {
            switch self {
            case .number(let text): return Double(text)
            case .string("nan"): return .nan
            case .string("inf"): return .infinity
            case .string("-inf"): return -.infinity
            default: return nil
            }
        }
    }

    /// Why a line is not a flat JSON object, with the character offset.
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        /// The 0-based offset in the line (in Unicode scalars).
        public let offset: Int
        /// What was expected.
        public let reason: String
        public var description: String { "not a JSON object: \(reason) at character \(offset + 1)" }
    }

    /// A JSON string literal for `text`: quotes, backslashes and control characters escaped; `/` and other
    /// characters kept as they are.
    public static func quoted(_ text: String) -> String {
        var s = "\""
        for u in text.unicodeScalars {
            switch u {
            case "\"": s += "\\\""
            case "\\": s += "\\\\"
            case "\n": s += "\\n"
            case "\r": s += "\\r"
            case "\t": s += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    s += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    s.unicodeScalars.append(u)
                }
            }
        }
        return s + "\""
    }

    /// A Double as JSON: the shortest text that parses back to the same value, or "nan"/"inf"/"-inf" as strings.
    public static func number(_ value: Double) -> String {
        if value.isNaN { return "\"nan\"" }
        if value.isInfinite { return value < 0 ? "\"-inf\"" : "\"inf\"" }
        return "\(value)"
    }

    /// A finite Double as a JSON number with whole values (below 10^15) written as integers (`1`, not `1.0`): the
    /// trace dataset's `step_confidence`. A non-finite value is written as `number` writes it.
    public static func compactNumber(_ value: Double) -> String {
        guard value.isFinite else { return number(value) }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return "\(value)"
    }

    /// `value` (dictionaries with String keys, arrays, strings, numbers, Bools, NSNull) as one line of JSON with
    /// sorted keys and `/` unescaped. JSON has no NaN or infinity: a non-finite number (a controller that has not
    /// measured anything yet, a log-prob of an impossible token) is written as `null`.
    /// - Throws: Foundation's error when `value` holds something JSON cannot represent.
    public static func line(_ value: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: replacingNonFinite(value), options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// `value` with every non-finite Double or Float, at any depth, replaced by `NSNull`.
    public static func replacingNonFinite(_ value: Any) -> Any {
        switch value {
        case let i as Int: return i
        case let d as Double: return d.isFinite ? d : NSNull()
        case let f as Float: return f.isFinite ? f : NSNull()
        case let dict as [String: Any]: return dict.mapValues(replacingNonFinite)
        case let array as [Any]: return array.map(replacingNonFinite)
        default: return value
        }
    }

    /// Parses `{"key": value, ...}` with number, string or null values (no nested objects or arrays).
    /// - Returns: the fields in the order written.
    /// - Throws: `ParseError` with the offset and what was expected there.
    public static func parseFlatObject(_ text: String) throws -> [(key: String, value: Value)] {
        var p = Parser(scalars: Array(text.unicodeScalars))
        return try p.object()
    }

    private struct Parser {
        let scalars: [Unicode.Scalar]
        var i = 0

        init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

        func error(_ reason: String) -> ParseError { ParseError(offset: i, reason: reason) }

        mutating func skipSpace() {
            while i < scalars.count, [" ", "\t", "\r", "\n"].contains(scalars[i]) { i += 1 }
        }

        mutating func expect(_ c: Unicode.Scalar) throws {
            skipSpace()
            guard i < scalars.count else { throw error("expected '\(c)' but the line ends") }
            guard scalars[i] == c else { throw error("expected '\(c)', found '\(scalars[i])'") }
            i += 1
        }

        mutating func object() throws -> [(key: String, value: Value)] {
            try expect("{")
            var fields: [(key: String, value: Value)] = []
            skipSpace()
            if i < scalars.count, scalars[i] == "}" {
                i += 1
            } else {
                while true {
                    skipSpace()
                    guard i < scalars.count, scalars[i] == "\"" else { throw error("expected a quoted key") }
                    let key = try string()
                    try expect(":")
                    fields.append((key, try value()))
                    skipSpace()
                    guard i < scalars.count else { throw error("expected ',' or '}' but the line ends") }
                    if scalars[i] == "," { i += 1; continue }
                    if scalars[i] == "}" { i += 1; break }
                    throw error("expected ',' or '}', found '\(scalars[i])'")
                }
            }
            skipSpace()
            guard i == scalars.count else { throw error("unexpected text after the closing '}'") }
            return fields
        }

        mutating func value() throws -> Value {
            skipSpace()
            guard i < scalars.count else { throw error("expected a value but the line ends") }
            let c = scalars[i]
            if c == "\"" { return .string(try string()) }
            if c == "n" {
                guard i + 4 <= scalars.count, String(String.UnicodeScalarView(scalars[i..<i + 4])) == "null" else {
                    throw error("expected null")
                }
                i += 4
                return .null
            }
            if c == "-" || ("0"..."9").contains(c) { return .number(try number()) }
            throw error("expected a number, a string or null, found '\(c)'")
        }

        /// A JSON number (grammar checked, so "1." or "01" are rejected as the spec says).
        mutating func number() throws -> String {
            let start = i
            func digits() -> Int {
                let s = i
                while i < scalars.count, ("0"..."9").contains(scalars[i]) { i += 1 }
                return i - s
            }
            if scalars[i] == "-" { i += 1 }
            let intStart = i
            let n = digits()
            guard n > 0 else { throw error("expected digits") }
            if n > 1 && scalars[intStart] == "0" { throw ParseError(offset: intStart, reason: "a number may not start with 0") }
            if i < scalars.count, scalars[i] == "." {
                i += 1
                guard digits() > 0 else { throw error("expected digits after '.'") }
            }
            if i < scalars.count, scalars[i] == "e" || scalars[i] == "E" {
                i += 1
                if i < scalars.count, scalars[i] == "+" || scalars[i] == "-" { i += 1 }
                guard digits() > 0 else { throw error("expected digits in the exponent") }
            }
            return String(String.UnicodeScalarView(scalars[start..<i]))
        }

        mutating func string() throws -> String {
            i += 1  // the opening quote
            var out = String.UnicodeScalarView()
            while true {
                guard i < scalars.count else { throw error("unterminated string") }
                let c = scalars[i]
                i += 1
                if c == "\"" { break }
                if c.value < 0x20 { throw ParseError(offset: i - 1, reason: "control character in a string") }
                guard c == "\\" else { out.append(c); continue }
                guard i < scalars.count else { throw error("unterminated escape") }
                let e = scalars[i]
                i += 1
                switch e {
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "/": out.append("/")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "n": out.append("\n")
                case "r": out.append("\r")
                case "t": out.append("\t")
                case "u":
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard i + 1 < scalars.count, scalars[i] == "\\", scalars[i + 1] == "u" else {
                            throw error("unpaired surrogate")
                        }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                    out.append(u)
                default: throw ParseError(offset: i - 1, reason: "unknown escape '\\\(e)'")
                }
            }
            return String(out)
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= scalars.count, let v = UInt32(String(String.UnicodeScalarView(scalars[i..<i + 4])), radix: 16) else {
                throw error("expected four hex digits after \\u")
            }
            i += 4
            return v
        }
    }
}
