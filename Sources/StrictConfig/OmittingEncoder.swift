/// An encoder that writes through `base` but drops the keys in `omitted` at its own level: for a settings type that
/// embeds another's keys beside its own and fixes some of them itself (prune writes output-distill's keys but not
/// `steps`), so its encoding holds only keys its decoder reads.
public struct OmittingEncoder: Encoder {
    let base: Encoder
    let omitted: Set<String>
    public var codingPath: [CodingKey] { base.codingPath }
    public var userInfo: [CodingUserInfoKey: Any] { base.userInfo }

    /// `base` without the keys `omitted` (nested values are written in full).
    public init(_ base: Encoder, omitting omitted: Set<String>) {
        self.base = base
        self.omitted = omitted
    }

    public func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(Keyed(base: base.container(keyedBy: type), omitted: omitted))
    }

    public func unkeyedContainer() -> UnkeyedEncodingContainer { base.unkeyedContainer() }
    public func singleValueContainer() -> SingleValueEncodingContainer { base.singleValueContainer() }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        var base: KeyedEncodingContainer<Key>
        let omitted: Set<String>
        var codingPath: [CodingKey] { base.codingPath }

        mutating func encodeNil(forKey key: Key) throws {
            if !omitted.contains(key.stringValue) { try base.encodeNil(forKey: key) }
        }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            if !omitted.contains(key.stringValue) { try base.encode(value, forKey: key) }
        }
        mutating func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) -> KeyedEncodingContainer<N> {
            // an omitted key's nested value has to go somewhere: a detached encoder's container, never written
            omitted.contains(key.stringValue) ? TreeEncoder(node: TreeNode(), codingPath: []).container(keyedBy: type) : base.nestedContainer(keyedBy: type, forKey: key)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
            omitted.contains(key.stringValue) ? TreeEncoder(node: TreeNode(), codingPath: []).unkeyedContainer() : base.nestedUnkeyedContainer(forKey: key)
        }
        mutating func superEncoder() -> Encoder { base.superEncoder() }
        mutating func superEncoder(forKey key: Key) -> Encoder {
            omitted.contains(key.stringValue) ? TreeEncoder(node: TreeNode(), codingPath: []) : base.superEncoder(forKey: key)
        }
    }
}
