import Foundation
import StrictConfig
import Yams

/// A curriculum that cannot be used as written: names the file, the key path and the line, and says what to do.
public struct CurriculumError: Error, CustomStringConvertible, Equatable {
    /// The curriculum file (or "<text>" for text given directly).
    public let file: String
    /// Dotted key path, e.g. `stages[2].temperature.start`.
    public let keyPath: String
    /// 1-based line of the offending node, when known.
    public let line: Int?
    /// What is wrong and how to fix it.
    public let message: String

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return keyPath.isEmpty ? "\(place): \(message)" : "\(place): \(keyPath): \(message)"
    }
}

/// One node of a curriculum's YAML with its key path and line, read through typed accessors that record which
/// keys were used, so that `finish()` can reject unknown keys (Codable would silently ignore them).
public final class ConfigNode {
    /// The file the node came from, for messages.
    public let file: String
    /// The dotted key path of this node.
    public let path: String
    let node: Yams.Node?
    var used: Set<String> = []

    init(file: String, path: String, node: Yams.Node?) {
        self.file = file
        self.path = path
        self.node = node
    }

    /// Parses YAML text into its root node; syntax errors name the line.
    public static func parse(yaml: String, file: String) throws -> ConfigNode {
        do {
            guard let root = try Yams.compose(yaml: yaml) else {
                throw CurriculumError(file: file, keyPath: "", line: nil, message: "the file is empty; start from curricula/smoke.yaml")
            }
            return ConfigNode(file: file, path: "", node: root)
        } catch let e as CurriculumError {
            throw e
        } catch YamlError.duplicatedKeysInMapping(let keys, let context) {
            throw DuplicateKey.error(yaml: yaml, file: file, key: keys.first ?? "", first: context.mark)
        } catch let e as YamlError {
            throw CurriculumError(file: file, keyPath: "", line: Self.line(of: e), message: "not valid YAML: \(e)")
        } catch {
            throw CurriculumError(file: file, keyPath: "", line: nil, message: "not valid YAML: \(error)")
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    /// The line of this node, if it exists in the file.
    public var line: Int? { node?.mark?.line }

    /// True when the node is a single value (not a mapping or list).
    public var isScalar: Bool { if case .scalar? = node { return true } else { return false } }

    /// The node's value as an integer, when it is one.
    public var intValue: Int? { node?.int }

    /// True when the key was written in the file.
    public var isPresent: Bool { node != nil }

    /// An error about this node.
    public func error(_ message: String) -> CurriculumError {
        CurriculumError(file: file, keyPath: path, line: line, message: message)
    }

    private func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private var mapping: Yams.Node.Mapping? {
        if case .mapping(let m)? = node { return m }
        return nil
    }

    /// Fails unless this node is a mapping (or absent).
    public func requireMapping() throws {
        if node != nil && mapping == nil { throw error("expected a mapping of keys to values") }
    }

    /// The keys written under this mapping.
    public var keys: [String] { mapping?.keys.compactMap(\.string) ?? [] }

    /// The child at `key` (absent children are allowed; their accessors return the default).
    /// - Throws: a `CurriculumError` when the key is written with a null value (`~`, `null` or nothing): null
    ///   would silently mean the default, so the message says to delete the line instead.
    public func child(_ key: String) throws -> ConfigNode {
        try requireMapping()
        used.insert(key)
        let c = ConfigNode(file: file, path: childPath(key), node: mapping?[key])
        if c.isNull {
            throw c.error("is null; a key without a value is not read as its default: delete the line to get the default, or give a value")
        }
        return c
    }

    /// True when the node is YAML's null (`~`, `null`, or a key with nothing after the colon).
    var isNull: Bool {
        guard case .scalar(let s)? = node else { return false }
        if s.tag.description == "tag:yaml.org,2002:null" { return true }
        return s.style == .plain && ["~", "null", "Null", "NULL", ""].contains(s.string)
    }

    /// The elements of a sequence node (empty when absent).
    public func elements() throws -> [ConfigNode] {
        guard let node else { return [] }
        guard case .sequence(let s) = node else { throw error("expected a list") }
        return s.enumerated().map { ConfigNode(file: file, path: "\(path)[\($0.offset)]", node: $0.element) }
    }

    private func scalar(_ key: String, _ what: String) throws -> (ConfigNode, String)? {
        let c = try child(key)
        guard let n = c.node else { return nil }
        guard case .scalar(let s) = n else { throw c.error("expected \(what), found a \(n.isMapping ? "mapping" : "list")") }
        return (c, s.string)
    }

    /// An integer at `key`, or `defaultValue` when absent.
    public func int(_ key: String, _ defaultValue: Int, min: Int? = nil) throws -> Int {
        guard let (c, text) = try scalar(key, "an integer") else { return defaultValue }
        guard let v = c.node?.int else { throw c.error("expected an integer, found '\(text)'") }
        if let min, v < min { throw c.error("must be at least \(min), found \(v)") }
        return v
    }

    /// An optional integer at `key`.
    public func optionalInt(_ key: String, min: Int? = nil) throws -> Int? {
        guard try scalar(key, "an integer") != nil else { return nil }
        return try int(key, 0, min: min)
    }

    /// A number at `key`, or `defaultValue` when absent.
    public func double(_ key: String, _ defaultValue: Double, range: ClosedRange<Double>? = nil) throws -> Double {
        guard let (c, text) = try scalar(key, "a number") else { return defaultValue }
        guard let v = c.node?.float ?? Double(text), v.isFinite else { throw c.error("expected a number, found '\(text)'") }
        if let range, !range.contains(v) { throw c.error("must be in \(range.lowerBound)...\(range.upperBound), found \(v)") }
        return v
    }

    /// A Float at `key`, or `defaultValue` when absent.
    public func float(_ key: String, _ defaultValue: Float, range: ClosedRange<Double>? = nil) throws -> Float {
        Float(try double(key, Double(defaultValue), range: range))
    }

    /// An optional number at `key`.
    public func optionalDouble(_ key: String, range: ClosedRange<Double>? = nil) throws -> Double? {
        guard try scalar(key, "a number") != nil else { return nil }
        return try double(key, 0, range: range)
    }

    /// A boolean at `key`, or `defaultValue` when absent.
    public func bool(_ key: String, _ defaultValue: Bool) throws -> Bool {
        guard let (c, text) = try scalar(key, "true or false") else { return defaultValue }
        guard let v = c.node?.bool else { throw c.error("expected true or false, found '\(text)'") }
        return v
    }

    /// A string at `key`, or `defaultValue` when absent.
    public func string(_ key: String, _ defaultValue: String) throws -> String {
        try optionalString(key) ?? defaultValue
    }

    /// An optional string at `key`.
    public func optionalString(_ key: String) throws -> String? {
        try scalar(key, "a string")?.1
    }

    /// A string at `key` that must be one of `choices`.
    public func choice(_ key: String, _ defaultValue: String, _ choices: [String]) throws -> String {
        guard let (c, text) = try scalar(key, "one of \(choices.joined(separator: ", "))") else { return defaultValue }
        guard choices.contains(text) else { throw c.error("'\(text)' is not one of: \(choices.joined(separator: ", "))") }
        return text
    }

    /// A list of strings at `key`, or `defaultValue` when absent.
    public func strings(_ key: String, _ defaultValue: [String]) throws -> [String] {
        let c = try child(key)
        guard c.isPresent else { return defaultValue }
        return try c.elements().map { e in
            guard case .scalar(let s)? = e.node else { throw e.error("expected a string") }
            return s.string
        }
    }

    /// Rejects keys that no accessor asked for: the message lists the keys this place accepts.
    public func finish(allowed extra: [String] = []) throws {
        guard let m = mapping else { return }
        for (k, _) in m {
            guard let name = k.string else { continue }
            if !used.contains(name) && !extra.contains(name) {
                let known = (Array(used) + extra).sorted().joined(separator: ", ")
                throw CurriculumError(file: file, keyPath: childPath(name), line: k.mark?.line,
                                      message: "unknown key; known keys here: \(known)")
            }
        }
    }
}

extension ConfigNode {
    /// Decodes the subtree with `T`'s Codable through Yams' decoder (the node as the parser gave it: no detour
    /// through JSON). The strict layer's issues (`ConfigIssue`), and `PPOConfigError` / `RewardConfigError` whose
    /// field `field(of:)` names, become a `CurriculumError` at the key path and line. `keys` are marked as read,
    /// for `finish()` (a settings type whose keys sit beside the caller's, as a stage's training settings).
    /// - Parameters:
    ///   - userInfo: contextual defaults for `T` (as `TrainingSettings.defaultsKey`).
    public func decode<T: Decodable>(_ type: T.Type, keys: [String] = [], userInfo: [CodingUserInfoKey: Any] = [:],
                                     field: (Error) -> (field: String, message: String)? = { _ in nil }) throws -> T {
        for key in keys { used.insert(key) }
        guard let node else {
            // an absent key decodes as an empty mapping: every default
            return try ConfigNode(file: file, path: path, node: .mapping(.init([]))).decode(type, userInfo: userInfo, field: field)
        }
        do {
            return try YAMLDecoder().decode(T.self, from: node, userInfo: userInfo)
        } catch let issue as ConfigIssue {
            throw error(at: issue.path.map { $0 as CodingKey }, unknownKey: { if case .unknownKey = issue.problem { return true } else { return false } }(),
                        message: issue.message)
        } catch let e as CurriculumError {
            throw e
        } catch {
            guard let (name, message) = field(error) else { throw self.error("\(error)") }
            let keys: [CodingKey] = name.split(separator: ".").map { ConfigKey(String($0)) }
            throw self.error(at: keys, unknownKey: false, message: message)
        }
    }

    /// An error at `relative` below this node: its full key path, and the line of the deepest node of the path that
    /// is written (of the key itself for an unknown key, of the value otherwise).
    func error(at relative: [CodingKey], unknownKey: Bool, message: String) -> CurriculumError {
        var line = self.line
        var current = node
        for (i, key) in relative.enumerated() {
            switch current {
            case .mapping(let m)?:
                guard let pair = m.first(where: { $0.key.string == key.stringValue }) else { current = nil; break }
                line = (unknownKey && i == relative.count - 1 ? pair.key.mark?.line : pair.value.mark?.line) ?? line
                current = pair.value
            case .sequence(let s)?:
                guard let index = key.intValue, s.indices.contains(index) else { current = nil; break }
                line = s[index].mark?.line ?? line
                current = s[index]
            default:
                current = nil
            }
            if current == nil { break }
        }
        let rest = relative.dottedPath
        let keyPath = rest.isEmpty ? path : path.isEmpty ? rest : rest.hasPrefix("[") ? path + rest : path + "." + rest
        return CurriculumError(file: file, keyPath: keyPath, line: line, message: message)
    }
}

private extension Yams.Node {
    var isMapping: Bool { if case .mapping = self { return true } else { return false } }
}
