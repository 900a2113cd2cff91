import Yams

/// Finds where a key Yams reported as duplicated is written the second time, for a `FILE:LINE: key.path:` error
/// at the copy to remove. Yams stops at the first mapping with a repeated key and gives only the key's name and its
/// first occurrence; so that occurrence is renamed in the text to a placeholder and the text composed again (renaming
/// further duplicates the same way) until it composes, and the placeholder's mapping then shows the path and the
/// next occurrence.
enum DuplicateKey {
    /// The error for `key`, first written at `first`, in `yaml`.
    static func error(yaml: String, file: String, key: String, first: Mark) -> CurriculumError {
        let fallback = CurriculumError(file: file, keyPath: "", line: first.line,
                                       message: "duplicate key '\(key)' (first written here, and again later in the same mapping); keep one of them")
        var text = yaml
        var originals: [String: String] = [:]  // placeholder -> the key it replaced
        var current = (key: key, mark: first)
        for n in 0..<64 {
            let placeholder = "tracedistill-duplicate-probe-\(n)"
            guard let renamed = rename(text, key: current.key, at: current.mark, to: placeholder) else { return fallback }
            text = renamed
            originals[placeholder] = current.key
            do {
                guard let root = try Yams.compose(yaml: text),
                      let (path, line) = second(of: "tracedistill-duplicate-probe-0", in: root, path: "", originals: originals)
                else { return fallback }
                return CurriculumError(file: file, keyPath: path, line: line,
                                       message: "duplicate key: '\(key)' is already set on line \(first.line) of this mapping; keep one of them (delete or rename this one)")
            } catch YamlError.duplicatedKeysInMapping(let keys, let context) {
                guard let next = keys.first else { return fallback }
                current = (next, context.mark)
            } catch {
                return fallback
            }
        }
        return fallback
    }

    /// `text` with the key written at `mark` (1-based line and column, in characters; quoted or not) replaced by
    /// `placeholder`, or nil when the key is not found there.
    private static func rename(_ text: String, key: String, at mark: Mark, to placeholder: String) -> String? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Array(String($0).unicodeScalars) }
        guard mark.line >= 1, mark.line <= lines.count, mark.column >= 1 else { return nil }
        var line = lines[mark.line - 1]
        var start = mark.column - 1
        guard start < line.count else { return nil }
        if line[start] == "\"" || line[start] == "'" { start += 1 }
        let written = Array(key.unicodeScalars)
        guard start + written.count <= line.count, Array(line[start..<(start + written.count)]) == written else { return nil }
        line.replaceSubrange(start..<(start + written.count), with: placeholder.unicodeScalars)
        lines[mark.line - 1] = line
        return lines.map { String(String.UnicodeScalarView($0)) }.joined(separator: "\n")
    }

    /// The key path and line of the occurrence after `placeholder` of the key it replaced, in the mapping holding it.
    private static func second(of placeholder: String, in node: Node, path: String,
                               originals: [String: String]) -> (path: String, line: Int?)? {
        func name(_ key: Node) -> String { key.string.map { originals[$0] ?? $0 } ?? "\(key)" }
        switch node {
        case .mapping(let mapping):
            let pairs = Array(mapping)
            if let i = pairs.firstIndex(where: { $0.key.string == placeholder }) {
                let original = originals[placeholder] ?? placeholder
                let child = path.isEmpty ? original : "\(path).\(original)"
                guard let later = pairs[(i + 1)...].first(where: { name($0.key) == original }) else { return nil }
                return (child, later.key.mark?.line)
            }
            for (key, value) in pairs {
                let child = path.isEmpty ? name(key) : "\(path).\(name(key))"
                if let found = second(of: placeholder, in: value, path: child, originals: originals) { return found }
            }
            return nil
        case .sequence(let sequence):
            for (i, element) in sequence.enumerated() {
                if let found = second(of: placeholder, in: element, path: "\(path)[\(i)]", originals: originals) { return found }
            }
            return nil
        case .scalar, .alias:
            return nil
        }
    }
}
