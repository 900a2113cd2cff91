/// A settings value as the structs' `Encodable` writes it, in their key order, with every scalar already in its
/// YAML text: the resolved configuration is this tree, printed (`yaml`), so the structs and not a hand-written
/// emitter decide what a resolved file says.
public indirect enum ConfigTree: Equatable, Sendable {
    /// A single value as YAML text (`0.01`, `true`, `forward_kl`, `"a name"`).
    case scalar(String)
    case null
    case list([ConfigTree])
    /// Keys in the order the encoder wrote them.
    case mapping([Entry])

    public struct Entry: Equatable, Sendable {
        public var key: String
        public var value: ConfigTree
        public init(_ key: String, _ value: ConfigTree) {
            self.key = key
            self.value = value
        }
    }

    /// `value` as the tree its `Encodable` conformance writes.
    public static func encoding<T: Encodable>(_ value: T) throws -> ConfigTree {
        let root = TreeNode()
        try TreeEncoder(node: root, codingPath: []).encodeValue(value)
        return root.tree
    }

    /// The entries of a mapping (empty for anything else).
    public var entries: [Entry] {
        if case .mapping(let e) = self { return e }
        return []
    }

    /// The value at `key` of a mapping.
    public subscript(key: String) -> ConfigTree? { entries.first { $0.key == key }?.value }

    /// Block-style YAML lines, each nested level indented by two spaces; a mapping or list of single values is
    /// written in flow style on its key's line (`run: {checkpoint_every: 50, keep_checkpoints: 3}`).
    public var yamlLines: [String] {
        switch self {
        case .mapping(let entries):
            return entries.flatMap { e -> [String] in
                if let flow = e.value.flow { return ["\(e.key): \(flow)"] }
                return ["\(e.key):"] + e.value.yamlLines.map { "  " + $0 }
            }
        case .list(let items):
            return items.flatMap { item -> [String] in
                if let flow = item.flow { return ["- \(flow)"] }
                let lines = item.yamlLines
                return lines.enumerated().map { $0.offset == 0 ? "- " + $0.element : "  " + $0.element }
            }
        case .scalar, .null:
            return [flow ?? ""]
        }
    }

    /// The flow form when the value holds only single values (nil for a mapping or list that nests one).
    public var flow: String? {
        switch self {
        case .scalar(let text): return text
        case .null: return "null"
        case .list(let items):
            // single values, or lists of them (`layer_map: [[0, 1], [1, 3]]`); a list of mappings is written in blocks
            let parts = items.map(\.flow)
            guard parts.allSatisfy({ $0 != nil }), items.allSatisfy({ $0.isSingle || $0.isFlatList }) else { return nil }
            return "[" + parts.map { $0! }.joined(separator: ", ") + "]"
        case .mapping(let entries):
            guard entries.allSatisfy({ $0.value.isSingle }) else { return nil }
            return "{" + entries.map { "\($0.key): \($0.value.flow!)" }.joined(separator: ", ") + "}"
        }
    }

    /// The flow form at every depth (`{schedule: step, base: 2.0, unit: epoch}`, `{a: {b: 1}}`).
    public var inlineFlow: String {
        switch self {
        case .scalar(let text): return text
        case .null: return "null"
        case .list(let items): return "[" + items.map(\.inlineFlow).joined(separator: ", ") + "]"
        case .mapping(let entries): return "{" + entries.map { "\($0.key): \($0.value.inlineFlow)" }.joined(separator: ", ") + "}"
        }
    }

    private var isFlatList: Bool {
        if case .list(let items) = self { return items.allSatisfy(\.isSingle) }
        return false
    }

    private var isSingle: Bool {
        switch self {
        case .scalar, .null: return true
        case .list(let items): return items.allSatisfy { if case .scalar = $0 { return true } else { return false } }
        case .mapping: return false
        }
    }

    /// A text as a YAML scalar that reads back as the same text: plain when it is a simple word no reader takes
    /// for a number, boolean or null, double-quoted otherwise.
    public static func text(_ s: String) -> String {
        let words: Set<String> = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"]
        let simple = !s.isEmpty && s.unicodeScalars.allSatisfy { ($0.properties.isAlphabetic && $0.isASCII) || "_-".unicodeScalars.contains($0) || ("0"..."9").contains($0) }
            && !(("0"..."9").contains(s.unicodeScalars.first!) || s.first == "-") && !words.contains(s.lowercased())
        return simple ? s : quoted(s)
    }

    /// A double-quoted YAML string: every character kept, nothing read as a number, boolean or null. It is the
    /// JSON string literal (`JSONText.quoted`): YAML 1.2's double-quoted style reads every JSON escape.
    public static func quoted(_ s: String) -> String { JSONText.quoted(s) }

    /// A number in Swift's shortest round-trip form, with a decimal point before any exponent (`1.0e-05`: a YAML
    /// 1.1 reader takes `1e-05` for text).
    public static func number<F: BinaryFloatingPoint & LosslessStringConvertible>(_ value: F) -> String {
        if value.isNaN { return ".nan" }
        if value.isInfinite { return value < 0 ? "-.inf" : ".inf" }
        var text = value.description
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }), !text[..<e].contains(".") {
            text.insert(contentsOf: ".0", at: e)
        }
        return text
    }
}

/// What the encoder builds: a node that becomes a scalar, null, a list or a mapping when first written to.
final class TreeNode {
    enum Kind { case unset, scalar(String), null, list, mapping }
    var kind = Kind.unset
    var children: [(key: String?, node: TreeNode)] = []

    var tree: ConfigTree {
        switch kind {
        case .unset: return .mapping([])
        case .scalar(let s): return .scalar(s)
        case .null: return .null
        case .list: return .list(children.map(\.node.tree))
        case .mapping: return .mapping(children.map { ConfigTree.Entry($0.key ?? "", $0.node.tree) })
        }
    }

    func child(_ key: String?) -> TreeNode {
        let c = TreeNode()
        children.append((key, c))
        return c
    }
}

struct TreeEncoder: Encoder {
    let node: TreeNode
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .unset = node.kind { node.kind = .mapping }
        return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if case .unset = node.kind { node.kind = .list }
        return Unkeyed(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }

    /// Writes `value` into `node`: single values as their YAML text, everything else through its `Encodable`.
    func encodeValue<T: Encodable>(_ value: T) throws {
        switch value {
        case let v as String: node.kind = .scalar(ConfigTree.text(v))
        case let v as Bool: node.kind = .scalar(v ? "true" : "false")
        case let v as Float: node.kind = .scalar(ConfigTree.number(v))
        case let v as Double: node.kind = .scalar(ConfigTree.number(v))
        case let v as any BinaryInteger: node.kind = .scalar("\(v)")
        default: try value.encode(to: self)
        }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: TreeNode
        let codingPath: [CodingKey]
        mutating func encodeNil(forKey key: Key) throws { node.child(key.stringValue).kind = .null }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try TreeEncoder(node: node.child(key.stringValue), codingPath: codingPath + [key]).encodeValue(value)
        }
        mutating func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) -> KeyedEncodingContainer<N> {
            TreeEncoder(node: node.child(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
            TreeEncoder(node: node.child(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
        }
        mutating func superEncoder() -> Encoder { TreeEncoder(node: node.child("super"), codingPath: codingPath) }
        mutating func superEncoder(forKey key: Key) -> Encoder { TreeEncoder(node: node.child(key.stringValue), codingPath: codingPath + [key]) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: TreeNode
        let codingPath: [CodingKey]
        var count: Int { node.children.count }
        mutating func encodeNil() throws { node.child(nil).kind = .null }
        mutating func encode<T: Encodable>(_ value: T) throws {
            try TreeEncoder(node: node.child(nil), codingPath: codingPath + [ConfigKey(intValue: count)]).encodeValue(value)
        }
        mutating func nestedContainer<N: CodingKey>(keyedBy type: N.Type) -> KeyedEncodingContainer<N> {
            TreeEncoder(node: node.child(nil), codingPath: codingPath + [ConfigKey(intValue: count)]).container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
            TreeEncoder(node: node.child(nil), codingPath: codingPath + [ConfigKey(intValue: count)]).unkeyedContainer()
        }
        mutating func superEncoder() -> Encoder { TreeEncoder(node: node.child(nil), codingPath: codingPath) }
    }

    struct Single: SingleValueEncodingContainer {
        let node: TreeNode
        let codingPath: [CodingKey]
        mutating func encodeNil() throws { node.kind = .null }
        mutating func encode<T: Encodable>(_ value: T) throws { try TreeEncoder(node: node, codingPath: codingPath).encodeValue(value) }
        mutating func encode(_ value: Bool) throws { node.kind = .scalar(value ? "true" : "false") }
        mutating func encode(_ value: String) throws { node.kind = .scalar(ConfigTree.text(value)) }
        mutating func encode(_ value: Double) throws { node.kind = .scalar(ConfigTree.number(value)) }
        mutating func encode(_ value: Float) throws { node.kind = .scalar(ConfigTree.number(value)) }
        mutating func encode(_ value: Int) throws { node.kind = .scalar("\(value)") }
        mutating func encode(_ value: Int8) throws { node.kind = .scalar("\(value)") }
        mutating func encode(_ value: Int16) throws { node.kind = .scalar("\(value)") }
        mutating func encode(_ value: Int32) throws { node.kind = .scalar("\(value)") }
        mutating func encode(_ value: Int64) throws { node.kind = .scalar("\(value)") }
        mutating func encode(_ value: UInt) throws { node.kind = .scalar("\(value)") }
        mutating func encode(_ value: UInt8) throws { node.kind = .scalar("\(value)") }
        mutating func encode(_ value: UInt16) throws { node.kind = .scalar("\(value)") }
        mutating func encode(_ value: UInt32) throws { node.kind = .scalar("\(value)") }
        mutating func encode(_ value: UInt64) throws { node.kind = .scalar("\(value)") }
    }
}
