import FileErrors
import Data
import Foundation

/// A named list of evaluation problems: the built-in `math-proof` suite or a JSONL file in the trace, GSM8K or
/// MATH-500 format.
public struct EvalSuite: Sendable, Equatable {
    /// The suite's name in reports (`math-proof`, or the file name without extension).
    public var name: String
    /// Where the problems came from (a path, or `built-in (...)`).
    public var source: String
    /// The row format that was read.
    public var format: SuiteFormat
    /// The problems, in suite order.
    public var problems: [EvalProblem]

    /// A suite with the given fields.
    public init(name: String, source: String, format: SuiteFormat, problems: [EvalProblem]) {
        self.name = name
        self.source = source
        self.format = format
        self.problems = problems
    }

    /// The names `resolve` accepts besides file paths.
    public static let builtInNames = [MathProofSuite.name]

    /// The suite a `--suite` value names: a built-in name, or the path of a JSONL file.
    /// - Parameters:
    ///   - spec: `math-proof` or a file path.
    ///   - format: The file format (`auto` recognises it from the first row); ignored for built-in suites.
    ///   - mathProof: The definition used for `math-proof`.
    /// - Throws: `EvalError.unknownSuite` when `spec` is neither; the loaders' errors otherwise.
    public static func resolve(_ spec: String, format: SuiteFormat = .auto,
                               mathProof: MathProofSuite = MathProofSuite()) throws -> EvalSuite {
        if spec == MathProofSuite.name { return try mathProof.generate() }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: spec, isDirectory: &isFolder), !isFolder.boolValue else {
            throw EvalError.unknownSuite(name: spec, builtIn: builtInNames)
        }
        return try load(path: spec, format: format)
    }

    /// Loads a suite file. Rows are read strictly by the Data loaders, so a bad row is an error naming the file,
    /// line and field; no row is dropped.
    /// - Throws: `DataError` (unreadable file, malformed line), `EvalError.unrecognizedFormat` when `auto` cannot
    ///   tell the format, `EvalError.emptySuite` for a file without rows.
    public static func load(path: String, format: SuiteFormat = .auto) throws -> EvalSuite {
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let resolved = format == .auto ? try detectFormat(path: path, name: name) : format
        let problems: [EvalProblem]
        switch resolved {
        case .traces, .auto:
            let dataset = try TraceDataset.load(path)
            problems = try Self.problems(from: dataset.records, lines: dataset.lineNumbers, file: path)
        case .gsm8k:
            problems = try GSM8KProblem.load(path).map { line, p in
                EvalProblem(id: "gsm8k-\(line)", domain: "gsm8k", question: p.question, referenceSteps: p.steps,
                            referenceAnswer: p.finalAnswer, line: line)
            }
        case .math500:
            problems = try MATHProblem.load(path).map { line, p in
                let r = p.traceRecord()
                return EvalProblem(id: p.uniqueID, domain: r.domain ?? "math", question: p.problem, referenceSteps: r.steps,
                                   referenceAnswer: p.answer, line: line)
            }
        }
        guard !problems.isEmpty else { throw EvalError.emptySuite(name: name) }
        return EvalSuite(name: name, source: path, format: resolved, problems: problems)
    }

    /// The first `count` problems (all of them when `count` is nil or larger than the suite).
    /// - Throws: `EvalError.emptySuite` when `count` is below 1.
    public func limited(to count: Int?) throws -> EvalSuite {
        guard let count else { return self }
        guard count >= 1 else { throw EvalError.emptySuite(name: name) }
        var out = self
        out.problems = Array(problems.prefix(count))
        return out
    }

    /// Checks that no question of the suite appears in `training` (compared by the canonical question: case and
    /// spacing ignored), for suites that were not split by the plan (published files) or training data of unknown
    /// origin.
    /// - Throws: `DataError.splitOverlap` with the count and a few examples.
    public func checkDisjoint(from training: EvalSuite) throws {
        let asRecords = { (s: EvalSuite) in s.problems.map { TraceRecord(id: $0.id, question: $0.question, steps: [], answer: $0.referenceAnswer) } }
        try SplitPlan.checkDisjoint(asRecords(training), asRecords(self))
    }

    /// Problems from trace rows; every row needs a question (the model is prompted with it).
    static func problems(from records: [TraceRecord], lines: [Int], file: String) throws -> [EvalProblem] {
        try zip(records, lines).map { r, line in
            guard let question = r.question, !question.isEmpty else {
                throw DataError.malformedLine(file: file, line: line, field: "question",
                                              reason: "missing or empty; an evaluation suite prompts the model with every row's question")
            }
            return EvalProblem(id: r.id ?? "line-\(line)", domain: r.domain ?? "unknown", question: question,
                               referenceSteps: r.steps, referenceAnswer: r.answer, line: line)
        }
    }

    /// The format of the first non-blank row of `path`, recognised by its fields.
    static func detectFormat(path: String, name: String) throws -> SuiteFormat {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError.unreadableFile(path: path, reason: "no such file; check the path")
        }
        let data: Foundation.Data
        do { data = try ReadFailure.contents(of: path) } catch let e as ReadFailure {
            throw DataError.unreadableFile(path: path, reason: e.reason)
        }
        var lineNumber = 0, lineStart = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            defer { lineStart += line.count + 1 }
            guard line.contains(where: { $0 != 32 && $0 != 9 && $0 != 13 }) else { continue }
            let accepted = "a suite file is JSONL, one object per line, in one of the formats: traces (fields steps and answer), "
                + "gsm8k (question and answer) or math500 (problem, solution and answer)"
            if String(validating: line, as: UTF8.self) == nil {
                var parser = Unicode.UTF8.ForwardParser()
                var iterator = line.makeIterator()
                var at = 0
                while case .valid(let scalar) = parser.parseScalar(from: &iterator) { at += scalar.count }
                throw DataError.invalidEncoding(file: path, line: lineNumber, byteInLine: at, byteInFile: lineStart + at,
                                                byte: line[line.startIndex + at])
            }
            let parsed = try? JSONSerialization.jsonObject(with: Foundation.Data(line), options: [.fragmentsAllowed])
            guard let object = parsed as? [String: Any] else {
                let found: String
                switch parsed {
                case nil: found = "text that is not JSON (look for a missing quote, comma or brace)"
                case is [Any]: found = "a JSON list, not an object"
                case is String: found = "a JSON string, not an object"
                case is NSNull: found = "JSON null, not an object"
                default: found = "a JSON number or boolean, not an object"
                }
                throw DataError.malformedLine(file: path, line: lineNumber, field: nil,
                                              reason: "cannot tell the suite format: found \(found); \(accepted)")
            }
            let fields = Set(object.keys)
            guard let format = SuiteFormat.detect(fields: fields) else {
                throw EvalError.unrecognizedFormat(file: path, line: lineNumber, reason:
                    "its fields are {\(fields.sorted().joined(separator: ", "))}; a trace row has steps and answer, a GSM8K "
                    + "row exactly question and answer, a MATH-500 row problem, solution and answer")
            }
            return format
        }
        throw EvalError.emptySuite(name: name)
    }
}
