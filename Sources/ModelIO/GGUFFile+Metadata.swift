/// Typed metadata getters: each names the key and the type it expected when the key is missing or holds
/// another type, so an importer's `try file.int("llama.block_count")` fails with a message that says what to fix.
extension GGUFFile {
    /// The string at `key`.
    /// - Throws: `ModelFileError.badKey` when the key is missing or not a string.
    public func string(_ key: String) throws -> String {
        try required(key, "a string", optionalString(key))
    }

    /// The integer at `key`, stored as any GGUF integer type.
    /// - Throws: `ModelFileError.badKey` when the key is missing, not an integer, or does not fit in `Int`.
    public func int(_ key: String) throws -> Int {
        try required(key, "an integer", optionalInt(key))
    }

    /// The number at `key`: a float32 or float64, or an integer (as Double).
    /// - Throws: `ModelFileError.badKey` when the key is missing or not a number.
    public func float(_ key: String) throws -> Double {
        try required(key, "a number", optionalFloat(key))
    }

    /// The bool at `key`.
    /// - Throws: `ModelFileError.badKey` when the key is missing or not a bool.
    public func bool(_ key: String) throws -> Bool {
        try required(key, "a bool", optionalBool(key))
    }

    /// The array of strings at `key` (a vocabulary, merges).
    /// - Throws: `ModelFileError.badKey` when the key is missing or not an array of strings.
    public func strings(_ key: String) throws -> [String] {
        let items = try array(key, "an array of strings")
        var out: [String] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item else { throw wrongElement(key, "an array of strings", i, item) }
            out.append(s)
        }
        return out
    }

    /// The array of integers (any GGUF integer type) at `key` (token types, token ids).
    /// - Throws: `ModelFileError.badKey` when the key is missing, not an array of integers, or an element does not
    ///   fit in `Int`.
    public func ints(_ key: String) throws -> [Int] {
        let items = try array(key, "an array of integers")
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard let v = item.integerValue else { throw wrongElement(key, "an array of integers", i, item) }
            out.append(v)
        }
        return out
    }

    /// The array of numbers (floats, or integers as Double) at `key` (token scores).
    /// - Throws: `ModelFileError.badKey` when the key is missing or not an array of numbers.
    public func doubles(_ key: String) throws -> [Double] {
        let items = try array(key, "an array of numbers")
        var out: [Double] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard let v = item.doubleValue else { throw wrongElement(key, "an array of numbers", i, item) }
            out.append(v)
        }
        return out
    }

    /// The string at `key`, or nil when the key is absent.
    /// - Throws: `ModelFileError.badKey` when the key holds another type.
    public func optionalString(_ key: String) throws -> String? {
        guard let value = metadata[key] else { return nil }
        guard case .string(let s) = value else { throw wrongType(key, "a string", value) }
        return s
    }

    /// The integer at `key`, or nil when the key is absent.
    /// - Throws: `ModelFileError.badKey` when the key holds another type or a value that does not fit in `Int`.
    public func optionalInt(_ key: String) throws -> Int? {
        guard let value = metadata[key] else { return nil }
        guard let v = value.integerValue else {
            if case .uint64(let big) = value {
                throw ModelFileError.badKey(file: path, key: key, reason: "is \(big), larger than the largest Int")
            }
            throw wrongType(key, "an integer", value)
        }
        return v
    }

    /// The number at `key`, or nil when the key is absent.
    /// - Throws: `ModelFileError.badKey` when the key holds a non-number.
    public func optionalFloat(_ key: String) throws -> Double? {
        guard let value = metadata[key] else { return nil }
        guard let v = value.doubleValue else { throw wrongType(key, "a number", value) }
        return v
    }

    /// The bool at `key`, or nil when the key is absent.
    /// - Throws: `ModelFileError.badKey` when the key holds another type.
    public func optionalBool(_ key: String) throws -> Bool? {
        guard let value = metadata[key] else { return nil }
        guard case .bool(let b) = value else { throw wrongType(key, "a bool", value) }
        return b
    }

    // MARK: - Messages

    private func required<T>(_ key: String, _ expected: String, _ value: T?) throws -> T {
        guard let value else {
            throw ModelFileError.badKey(file: path, key: key,
                                        reason: "is missing; expected \(expected) (is the file for another architecture?)")
        }
        return value
    }

    private func array(_ key: String, _ expected: String) throws -> [GGUFValue] {
        guard let value = metadata[key] else {
            throw ModelFileError.badKey(file: path, key: key, reason: "is missing; expected \(expected)")
        }
        guard case .array(let items) = value else { throw wrongType(key, expected, value) }
        return items
    }

    private func wrongType(_ key: String, _ expected: String, _ value: GGUFValue) -> ModelFileError {
        .badKey(file: path, key: key, reason: "is \(value.typeName), expected \(expected)")
    }

    private func wrongElement(_ key: String, _ expected: String, _ i: Int, _ item: GGUFValue) -> ModelFileError {
        .badKey(file: path, key: key, reason: "element \(i) is \(item.typeName), expected \(expected)")
    }
}
