/// One GGUF metadata value, with the exact type the file stores it as (GGUF value types 0-12).
public enum GGUFValue: Equatable, Sendable {
    /// GGUF type 0.
    case uint8(UInt8)
    /// GGUF type 1.
    case int8(Int8)
    /// GGUF type 2.
    case uint16(UInt16)
    /// GGUF type 3.
    case int16(Int16)
    /// GGUF type 4 (counts and sizes such as `llama.block_count`).
    case uint32(UInt32)
    /// GGUF type 5 (`tokenizer.ggml.token_type` elements).
    case int32(Int32)
    /// GGUF type 10.
    case uint64(UInt64)
    /// GGUF type 11.
    case int64(Int64)
    /// GGUF type 6 (`llama.rope.freq_base`, token scores).
    case float32(Float)
    /// GGUF type 12.
    case float64(Double)
    /// GGUF type 7, stored as one byte 0 or 1.
    case bool(Bool)
    /// GGUF type 8: u64 byte length, then UTF-8 without a terminator.
    case string(String)
    /// An array; GGUF arrays hold elements of one type, arrays of arrays included.
    case array([GGUFValue])

    /// The GGUF type's name as error messages show it: `uint32`, `string`, `array of string`.
    public var typeName: String {
        switch self {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .uint32: return "uint32"
        case .int32: return "int32"
        case .uint64: return "uint64"
        case .int64: return "int64"
        case .float32: return "float32"
        case .float64: return "float64"
        case .bool: return "bool"
        case .string: return "string"
        case .array(let items): return items.first.map { "array of \($0.typeName)" } ?? "empty array"
        }
    }

    /// The value as an `Int` when it is an integer of any width that fits, else nil.
    public var integerValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// The value as a `Double` when it is a float or an integer (64-bit integers rounded to the nearest double),
    /// else nil.
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        case .uint64(let v): return Double(v)
        case .int64(let v): return Double(v)
        default: return integerValue.map(Double.init)
        }
    }
}

extension GGUFValue {
    /// GGUF value type codes (gguf.h `enum gguf_type`).
    enum Code: UInt32 {
        case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64

        /// Fewest bytes one value of this type takes in the file (strings: their length; arrays: element type
        /// and count), for checking counts before reading.
        var minimumBytes: Int {
            switch self {
            case .uint8, .int8, .bool: return 1
            case .uint16, .int16: return 2
            case .uint32, .int32, .float32: return 4
            case .uint64, .int64, .float64, .string: return 8
            case .array: return 12
            }
        }
    }

    /// Arrays nested deeper than this are refused: real files nest at most once, and unbounded recursion on a
    /// hostile file would overflow the stack.
    static let maximumNesting = 8

    /// Most array elements all metadata may hold together. Each element becomes a `GGUFValue` of 24 bytes, so
    /// without a limit a file of 1-byte array elements would make 24 times its size in memory; the largest real
    /// metadata (a 262k vocabulary with scores and types, or 500k merges) is far below this.
    public static let maximumArrayElements = 1 << 24

    /// Reads one value of type `code` at the cursor; `what` names it (the key) for error messages.
    static func read(_ code: Code, from cursor: inout ByteCursor, what: @autoclosure () -> String,
                     depth: Int = 0) throws -> GGUFValue {
        switch code {
        case .uint8: return .uint8(try cursor.integer(UInt8.self, what()))
        case .int8: return .int8(try cursor.integer(Int8.self, what()))
        case .uint16: return .uint16(try cursor.integer(UInt16.self, what()))
        case .int16: return .int16(try cursor.integer(Int16.self, what()))
        case .uint32: return .uint32(try cursor.integer(UInt32.self, what()))
        case .int32: return .int32(try cursor.integer(Int32.self, what()))
        case .uint64: return .uint64(try cursor.integer(UInt64.self, what()))
        case .int64: return .int64(try cursor.integer(Int64.self, what()))
        case .float32: return .float32(Float(bitPattern: try cursor.u32(what())))
        case .float64: return .float64(Double(bitPattern: try cursor.u64(what())))
        case .bool:
            let at = cursor.offset
            let byte = try cursor.integer(UInt8.self, what())
            guard byte <= 1 else {
                throw ModelFileError.malformed(file: cursor.file.path, offset: at,
                                               reason: "\(what()) is a bool stored as \(byte); GGUF bools are 0 or 1")
            }
            return .bool(byte == 1)
        case .string: return .string(try cursor.string(what()))
        case .array:
            guard depth < maximumNesting else {
                throw ModelFileError.malformed(file: cursor.file.path, offset: cursor.offset,
                                               reason: "\(what()) nests arrays more than \(maximumNesting) deep")
            }
            let element = try readCode(from: &cursor, what: "the element type of \(what())")
            let count = try cursor.count("the element count of \(what())", minimumBytes: element.minimumBytes)
            guard count <= cursor.arrayElementBudget else {
                throw ModelFileError.unsupported(
                    file: cursor.file.path,
                    what: "\(what()) with \(count) elements (all metadata arrays together may hold \(maximumArrayElements))",
                    supported: "metadata arrays up to a vocabulary's size; the file is damaged or not a model")
            }
            cursor.arrayElementBudget -= count
            var items: [GGUFValue] = []
            items.reserveCapacity(count)
            for i in 0..<count {
                items.append(try read(element, from: &cursor, what: "\(what())[\(i)]", depth: depth + 1))
            }
            return .array(items)
        }
    }

    /// Reads a u32 value type code, refusing codes GGUF does not define.
    static func readCode(from cursor: inout ByteCursor, what: @autoclosure () -> String) throws -> Code {
        let at = cursor.offset
        let raw = try cursor.u32(what())
        guard let code = Code(rawValue: raw) else {
            throw ModelFileError.malformed(
                file: cursor.file.path, offset: at,
                reason: "\(what()) is \(raw), not a GGUF value type (0-12): the file is damaged or from a newer GGUF version")
        }
        return code
    }
}
