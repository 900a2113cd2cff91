import Foundation

/// The JSON header of a safetensors file, decoded: `__metadata__` and one entry per tensor. Decoding errors
/// become `ModelFileError.malformed` naming the tensor key and field.
struct SafetensorsHeader: Decodable {
    /// One tensor's header entry.
    struct Entry: Decodable {
        let dtype: String
        let shape: [Int]
        let offsets: [Int]

        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case offsets = "data_offsets"
        }
    }

    private struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    private(set) var metadata: [String: String] = [:]
    private(set) var entries: [String: Entry] = [:]

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys {
            if key.stringValue == "__metadata__" {
                metadata = try container.decode([String: String].self, forKey: key)
            } else {
                entries[key.stringValue] = try container.decode(Entry.self, forKey: key)
            }
        }
    }

    /// Decodes `json` (the header bytes, trailing spaces allowed) of the file at `file`.
    init(_ json: Data, file: String) throws {
        guard json.first(where: { $0 != 0x20 }) == UInt8(ascii: "{") else {
            throw ModelFileError.malformed(
                file: file, offset: 8,
                reason: "the header does not start with '{': not a safetensors file, or its header length is wrong")
        }
        do {
            self = try JSONDecoder().decode(SafetensorsHeader.self, from: json)
        } catch let error as DecodingError {
            throw ModelFileError.malformed(file: file, offset: 8, reason: "header JSON: " + Self.explain(error))
        }
    }

    /// A one-line account of a decoding error: where in the header, and what was wrong.
    private static func explain(_ error: DecodingError) -> String {
        func place(_ path: [CodingKey]) -> String {
            guard !path.isEmpty else { return "the header" }
            return path.enumerated().map { i, key in
                key.intValue.map { "[\($0)]" } ?? (i == 0 ? key.stringValue : "." + key.stringValue)
            }.joined()
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(place(context.codingPath)) is not \(type == String.self ? "a string" : type == Int.self ? "an integer" : "\(type)") (\(context.debugDescription))"
        case .valueNotFound(_, let context):
            return "\(place(context.codingPath)) is null (\(context.debugDescription))"
        case .keyNotFound(let key, let context):
            return "\(place(context.codingPath)) has no \"\(key.stringValue)\""
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return "\(place(context.codingPath)): invalid JSON (\(underlying ?? context.debugDescription))"
        @unknown default:
            return "\(error)"
        }
    }
}
