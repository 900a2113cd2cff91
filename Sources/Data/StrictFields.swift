import Foundation
import StrictConfig

/// Helpers for decoding JSON objects strictly: unknown keys, missing keys and wrong types become a
/// `FieldError` naming the field, which the loaders turn into `DataError.malformedLine` with file and line.
struct FieldError: Error {
    /// The field at fault, or nil when the whole line is wrong.
    let field: String?
    /// What is wrong and how to fix it.
    let reason: String
}

/// A strict view of one JSON object.
struct StrictObject {
    let container: KeyedDecodingContainer<ConfigKey>

    /// Opens the decoder's top level as an object and rejects keys outside `known`.
    init(_ decoder: Decoder, known: [String]) throws {
        do { container = try decoder.container(keyedBy: ConfigKey.self) } catch {
            throw FieldError(field: nil, reason: "expected a JSON object {...} on this line")
        }
        for key in StrictContainer.unknownKeys(container.allKeys.map(\.stringValue), known: known) {
            throw FieldError(field: key,
                             reason: "unknown field; the known fields are \(known.joined(separator: ", ")) (check the spelling)")
        }
    }

    /// A required field; `missing` replaces the default message when it is absent.
    func required<T: Decodable>(_ key: String, _ type: T.Type, _ expected: String, missing: String? = nil) throws -> T {
        guard container.contains(ConfigKey(key)) else {
            throw FieldError(field: key, reason: missing ?? "missing; every row needs it")
        }
        return try decode(key, type, expected)
    }

    /// An optional field (absent or null gives nil).
    func optional<T: Decodable>(_ key: String, _ type: T.Type, _ expected: String) throws -> T? {
        let k = ConfigKey(key)
        guard container.contains(k) else { return nil }
        if (try? container.decodeNil(forKey: k)) == true { return nil }
        return try decode(key, type, expected)
    }

    private func decode<T: Decodable>(_ key: String, _ type: T.Type, _ expected: String) throws -> T {
        do { return try container.decode(type, forKey: ConfigKey(key)) } catch {
            throw FieldError(field: key, reason: "expected \(expected)")
        }
    }
}
