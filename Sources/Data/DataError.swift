/// A data problem the user can fix: each case names the file, line, field or setting and says what to do.
public enum DataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file could not be read (missing, unreadable, not UTF-8).
    case unreadableFile(path: String, reason: String)
    /// A JSONL line that is not a valid row; `field` is nil when the line itself is not a JSON object.
    case malformedLine(file: String, line: Int, field: String?, reason: String)
    /// A JSONL line with bytes that are not UTF-8: the first bad byte, its offset in the line and in the file (0-based).
    case invalidEncoding(file: String, line: Int, byteInLine: Int, byteInFile: Int, byte: UInt8)
    /// A row whose question belongs to a different split than the file declares.
    case splitMismatch(file: String, line: Int, id: String, expected: DatasetSplit, actual: DatasetSplit)
    /// Two datasets that must be disjoint share questions.
    case splitOverlap(count: Int, examples: [String])
    /// A generator could not find enough distinct questions for a split.
    case notEnoughQuestions(domain: String, split: DatasetSplit, requested: Int, found: Int)
    /// More rows asked of a domain than its generator can write distinctly (questions are distinct by their text,
    /// ignoring case and spacing): `maximumCount` is the largest count the chosen domains allow.
    case beyondDistinctQuestions(domain: String, requested: Int, distinct: Int, maximumCount: Int, split: DatasetSplit, splitShare: Double)
    /// A generator setting out of range.
    case invalidGeneratorSetting(domain: String, setting: String, reason: String)
    /// A cleaning, balancing or generation setting out of range.
    case invalidSetting(setting: String, reason: String)
    /// The output file could not be written.
    case writeFailed(path: String, reason: String)

    /// The message shown to the user: what is wrong and how to fix it.
    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .malformedLine(let file, let line, let field, let reason):
            let place = field.map { "field '\($0)'" } ?? "the line"
            return "\(file):\(line): \(place): \(reason)"
        case .invalidEncoding(let file, let line, let byteInLine, let byteInFile, let byte):
            return "\(file):\(line): not valid UTF-8: byte 0x\(String(byte, radix: 16, uppercase: true)) at byte offset \(byteInLine) in the line "
                + "(byte offset \(byteInFile) in the file; `xxd -s \(byteInFile) -l 16 \(file)` shows it) does not start or continue "
                + "a UTF-8 character; the file must be UTF-8: re-save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`) or fix that byte"
        case .splitMismatch(let file, let line, let id, let expected, let actual):
            return "\(file):\(line): row '\(id)' has a \(actual.rawValue) question in a \(expected.rawValue) file; "
                + "held-out splits are assigned by a hash of the question, so this row leaks across splits: remove it "
                + "or regenerate the file with `distill generate-data --split \(expected.rawValue)`"
        case .splitOverlap(let count, let examples):
            return "\(count) question(s) appear in both datasets (e.g. \(examples.prefix(3).map { String(reflecting: $0) }.joined(separator: ", "))); "
                + "remove them from the held-out set"
        case .notEnoughQuestions(let domain, let split, let requested, let found):
            return "domain \(domain): found only \(found) distinct \(split.rawValue) questions of the \(requested) requested; "
                + "raise the difficulty (more digits give more distinct questions) or ask for fewer rows"
        case .beyondDistinctQuestions(let domain, let requested, let distinct, let maximumCount, let split, let splitShare):
            let inSplit = Int((Double(distinct) * splitShare).rounded())
            return "count: \(requested) rows of \(domain) asked, but its generator at these settings writes at most \(distinct) distinct "
                + "questions (distinct by the question's text, ignoring case and spacing), of which about \(inSplit) fall in the "
                + "\(split.rawValue) split (its \(Int((splitShare * 100).rounded()))% share by question hash); the largest count these domains "
                + "allow is \(maximumCount) (every question of the smallest domain; a split holds only its share of them, so near that "
                + "count generation can still come up short): ask for fewer rows, raise the difficulty, or add domains"
        case .invalidGeneratorSetting(let domain, let setting, let reason):
            return "generator \(domain), setting \(setting): \(reason)"
        case .invalidSetting(let setting, let reason):
            return "setting \(setting): \(reason)"
        case .writeFailed(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }
}
