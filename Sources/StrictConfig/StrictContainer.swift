/// A settings object read strictly through any `Decoder` (Yams' for curricula, Foundation's for JSON): keys it
/// does not know, values of the wrong type, nulls and out-of-range values become a `ConfigIssue` at the key's
/// path. Codable alone ignores unknown keys and says little about the rest, hence this layer.
///
///     public init(from decoder: Decoder) throws {
///         self.init()
///         let c = try StrictContainer(decoder, known: CodingKeys.allCases.map(\.rawValue))
///         batchSize = try c.int("batch_size", min: 1) ?? batchSize
///     }
///
/// Every reader returns nil for an absent key, so the default stays in the struct.
public struct StrictContainer {
    let container: KeyedDecodingContainer<ConfigKey>
    /// The path of the object itself.
    public let codingPath: [CodingKey]

    /// Opens `decoder`'s value as a mapping. With `known`, a key outside it is an `unknownKey` issue (the first in
    /// sorted order, so the message does not depend on the decoder's key order); nil checks nothing, for a type
    /// whose keys sit beside others' at the same level (the owner checks the union).
    public init(_ decoder: Decoder, known: [String]?) throws {
        codingPath = decoder.codingPath
        do { container = try decoder.container(keyedBy: ConfigKey.self) } catch {
            throw ConfigIssue(path: decoder.codingPath, .wrongType(expected: "a mapping of keys to values", found: nil))
        }
        if let known, let unknown = Self.unknownKeys(container.allKeys.map(\.stringValue), known: known).first {
            throw ConfigIssue(path: codingPath + [ConfigKey(unknown)], .unknownKey(known: known))
        }
    }

    /// The keys of `written` outside `known`, sorted.
    public static func unknownKeys(_ written: [String], known: [String]) -> [String] {
        let k = Set(known)
        return written.filter { !k.contains($0) }.sorted()
    }

    /// The keys written here.
    public var keys: [String] { container.allKeys.map(\.stringValue) }

    /// True when `key` is written (with any value, null included).
    public func contains(_ key: String) -> Bool { container.contains(ConfigKey(key)) }

    /// An issue at `key` (for range and combination checks the caller makes).
    public func issue(_ key: String, _ message: String) -> ConfigIssue {
        ConfigIssue(path: codingPath + [ConfigKey(key)], .invalid(message))
    }

    /// An issue about this object as a whole.
    public func issue(_ message: String) -> ConfigIssue { ConfigIssue(path: codingPath, .invalid(message)) }

    /// True when `key` is written as null.
    public func isNull(_ key: String) -> Bool {
        contains(key) && ((try? container.decodeNil(forKey: ConfigKey(key))) ?? false)
    }

    /// The value at `key` as `T`, nil when absent. Null is a `null` issue; a value `T` cannot be read from is a
    /// `wrongType` issue saying `expected` and what was written. Other errors from inside `T` pass through unchanged.
    public func value<T: Decodable>(_ key: String, _ type: T.Type, expected: String) throws -> T? {
        guard contains(key) else { return nil }
        if isNull(key) { throw ConfigIssue(path: codingPath + [ConfigKey(key)], .null) }
        return try decode(key, type, expected: expected)
    }

    /// The value at `key` where null is a value (an optional setting turned off): nil when absent, `.some(nil)`
    /// when null.
    public func nullable<T: Decodable>(_ key: String, _ type: T.Type, expected: String) throws -> T?? {
        guard contains(key) else { return nil }
        if isNull(key) { return .some(nil) }
        return .some(try decode(key, type, expected: expected))
    }

    private func decode<T: Decodable>(_ key: String, _ type: T.Type, expected: String) throws -> T {
        let k = ConfigKey(key)
        // A decoding error is the value's type; anything else (an issue or a typed error from inside `T`) passes.
        do {
            return try container.decode(type, forKey: k)
        } catch is DecodingError {
            throw ConfigIssue(path: codingPath + [k], .wrongType(expected: expected, found: found(k)))
        }
    }

    /// How the value at `k` reads in a message: `'text'` for a single value, else `a mapping` or `a list`
    /// (nil when the decoder cannot say, as Foundation's JSON decoder for a number read as text).
    private func found(_ k: ConfigKey) -> String? {
        if let text = try? container.decode(String.self, forKey: k) { return "'\(text)'" }
        if (try? container.nestedContainer(keyedBy: ConfigKey.self, forKey: k)) != nil { return "a mapping" }
        if (try? container.nestedUnkeyedContainer(forKey: k)) != nil { return "a list" }
        return nil
    }

    /// An integer, at least `min`.
    public func int(_ key: String, min: Int? = nil) throws -> Int? {
        guard let v = try value(key, Int.self, expected: "an integer") else { return nil }
        if let min, v < min { throw issue(key, "must be at least \(min), found \(v)") }
        return v
    }

    /// A finite number within `range`.
    /// A number written as text (quoted) is read too, as the curriculum reader always has.
    public func double(_ key: String, range: ClosedRange<Double>? = nil) throws -> Double? {
        let v: Double
        do {
            guard let number = try value(key, Double.self, expected: "a number") else { return nil }
            v = number
        } catch let issue as ConfigIssue {
            guard case .wrongType = issue.problem, let text = try? container.decode(String.self, forKey: ConfigKey(key)),
                  let number = Double(text) else { throw issue }
            v = number
        }
        guard v.isFinite else { throw ConfigIssue(path: codingPath + [ConfigKey(key)], .wrongType(expected: "a number", found: found(ConfigKey(key)))) }
        if let range, !range.contains(v) { throw issue(key, "must be in \(range.lowerBound)...\(range.upperBound), found \(v)") }
        return v
    }

    /// A `Float` read as a `Double` first (range checked on the double, then rounded once), within `range`.
    public func float(_ key: String, range: ClosedRange<Double>? = nil) throws -> Float? {
        try double(key, range: range).map(Float.init)
    }

    /// `true` or `false`.
    public func bool(_ key: String) throws -> Bool? { try value(key, Bool.self, expected: "true or false") }

    /// A single value as text.
    public func string(_ key: String) throws -> String? { try value(key, String.self, expected: "a string") }

    /// A text that must be one of `choices`.
    public func choice(_ key: String, _ choices: [String]) throws -> String? {
        guard let text = try value(key, String.self, expected: "one of \(choices.joined(separator: ", "))") else { return nil }
        guard choices.contains(text) else { throw issue(key, "'\(text)' is not one of: \(choices.joined(separator: ", "))") }
        return text
    }

    /// A value of a `RawRepresentable` enum by its raw text.
    public func choice<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type) throws -> E? where E.RawValue == String {
        try choice(key, E.allCases.map(\.rawValue)).flatMap(E.init(rawValue:))
    }
}
