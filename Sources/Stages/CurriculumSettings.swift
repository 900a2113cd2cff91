import Data
import Foundation
import Model
import StrictConfig

/// Everything a curriculum sets besides its stages: the root keys `name`, `seed`, `run`, `data`, `teacher` and
/// `student`, decoded strictly from the file's root mapping (Yams' decoder, `StrictContainer`) and encoded back to
/// the same keys for the resolved configuration.
///
///     name: smoke
///     seed: 7
///     run: {checkpoint_every: 20}
///     data: {domains: [addition, subtraction], train_size: 128}
///     teacher: {hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 172}
///     student: {layers: 1, hidden_size: 32, heads: 2, intermediate_size: 86}
public struct CurriculumSettings: Sendable, Equatable, Codable {
    /// The run's name (folder names, reports).
    public var name = "curriculum"
    /// The seed every generator of the run derives from.
    public var seed: UInt64 = 0
    public var run = RunSettings()
    public var data = DataSettings()
    /// `teacher:` and `student:`.
    public var models = ModelSettings()

    /// Every field, each with its default.
    public init(name: String = "curriculum", seed: UInt64 = 0, run: RunSettings = RunSettings(), data: DataSettings = DataSettings(),
                models: ModelSettings = ModelSettings()) {
        self.name = name
        self.seed = seed
        self.run = run
        self.data = data
        self.models = models
    }

    /// The root keys, `stages` included (the curriculum reads the stages through the registry of stage kinds).
    public static let keys = ["name", "seed", "run", "data", "teacher", "student", "stages"]

    /// `userInfo` key of the folder relative paths (`data.train_file`, `teacher.checkpoint`, ...) start at; absent:
    /// the current directory.
    public static let baseDirectoryKey = CodingUserInfoKey(rawValue: "tracedistill.curriculum-base-directory")!

    /// The folder relative paths start at, from `decoder`'s user info.
    static func baseDirectory(_ decoder: Decoder) -> String {
        decoder.userInfo[baseDirectoryKey] as? String ?? FileManager.default.currentDirectoryPath
    }

    public init(from decoder: Decoder) throws {
        self.init()
        let c = try StrictContainer(decoder, known: Self.keys)
        name = try c.string("name") ?? name
        seed = UInt64(try c.int("seed", min: 0) ?? 0)
        run = try c.value("run", RunSettings.self, expected: "a mapping of keys to values") ?? run
        data = try c.value("data", DataSettings.self, expected: "a mapping of keys to values") ?? data
        models = try ModelSettings(from: decoder)
        let context = min(models.teacher.maxPositionEmbeddings, models.studentConfig.maxPositionEmbeddings)
        if data.maxLength > context {
            throw ConfigIssue(path: c.codingPath + [ConfigKey("data"), ConfigKey("max_length")],
                              .invalid("\(data.maxLength) exceeds the models' max_position_embeddings \(context); lower it or raise teacher.max_position_embeddings"))
        }
    }

    enum CodingKeys: String, CodingKey { case name, seed, run, data }

    /// The root keys in file order: name, seed, run, data, then `models`' teacher and student.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(seed, forKey: .seed)
        try c.encode(run, forKey: .run)
        try c.encode(data, forKey: .data)
        try models.encode(to: encoder)
    }
}

/// A path at `key` that must name an existing file or folder, relative to `base` unless absolute.
func existingFile(_ c: StrictContainer, _ key: String, base: String) throws -> String? {
    guard let raw = try c.string(key) else { return nil }
    let path = raw.hasPrefix("/") ? raw : base + "/" + raw
    guard FileManager.default.fileExists(atPath: path) else {
        throw c.issue(key, "no file at \(path); fix the path (relative paths start at the curriculum's folder)")
    }
    return path
}

extension DataSettings: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case domains, domainShares = "domain_shares", difficulty, trainSize = "train_size", referenceTraces = "reference_traces", validationSize = "validation_size", seed
        case maxLength = "max_length", trainFile = "train_file", validationFile = "validation_file", promptTemplate = "prompt_template"
    }

    /// One list entry read as text (`expected a string` at its index otherwise).
    private struct Word: Decodable {
        let text: String
        init(from decoder: Decoder) throws {
            guard let text = try? decoder.singleValueContainer().decode(String.self) else {
                throw ConfigIssue(path: decoder.codingPath, .wrongType(expected: "a string", found: nil))
            }
            self.text = text
        }
    }

    /// Reads `data:`; relative file paths start at `CurriculumSettings.baseDirectoryKey`'s folder, and the files
    /// must exist.
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try StrictContainer(decoder, known: CodingKeys.allCases.map(\.rawValue))
        let base = CurriculumSettings.baseDirectory(decoder)
        if let names = try c.value("domains", [Word].self, expected: "a list") {
            var chosen: [TaskDomain] = []
            for (i, word) in names.enumerated() {
                if word.text == "all" { chosen = TaskDomain.allCases; continue }
                guard let domain = TaskDomain(rawValue: word.text) else {
                    throw c.issue("domains", "entry \(i) '\(word.text)' is not a domain; use: all, " + TaskDomain.allCases.map(\.rawValue).joined(separator: ", "))
                }
                if !chosen.contains(domain) { chosen.append(domain) }
            }
            if chosen.isEmpty { throw c.issue("domains", "name at least one domain") }
            domains = chosen
        }
        if let shares = try c.value("domain_shares", [String: Double].self, expected: "a mapping from domain to a positive number") {
            let example = "e.g. {" + domains.map { "\($0.rawValue): 1" }.joined(separator: ", ") + "}"
            for (name, share) in shares.sorted(by: { $0.key < $1.key }) {
                guard let domain = TaskDomain(rawValue: name), domains.contains(domain) else {
                    throw c.issue("domain_shares", "'\(name)' is not one of data.domains (\(domains.map(\.rawValue).joined(separator: ", "))); \(example)")
                }
                guard share.isFinite, share > 0 else {
                    throw c.issue("domain_shares", "\(name)'s share \(share) must be a positive number; \(example)")
                }
            }
            let missing = domains.filter { shares[$0.rawValue] == nil }
            guard missing.isEmpty else {
                throw c.issue("domain_shares", "no share for \(missing.map(\.rawValue).joined(separator: ", ")); give every domain of data.domains one, \(example)")
            }
            domainShares = domains.map { shares[$0.rawValue]! }
        }
        difficulty = try c.int("difficulty", min: 1) ?? difficulty
        if !TaskDomain.difficultyLevels.contains(difficulty) { throw c.issue("difficulty", "must be 1 to 5, found \(difficulty)") }
        trainSize = try c.int("train_size", min: 1) ?? trainSize
        referenceTraces = try c.int("reference_traces", min: 1)
        validationSize = try c.int("validation_size", min: 1) ?? validationSize
        seed = try c.int("seed", min: 0).map(UInt64.init)
        maxLength = try c.int("max_length", min: 8) ?? maxLength
        trainFile = try existingFile(c, "train_file", base: base)
        validationFile = try existingFile(c, "validation_file", base: base)
        if let text = try c.string("prompt_template") {
            guard let template = PromptTemplate(text) else {
                throw c.issue("prompt_template", "use one of \(PromptTemplate.names.joined(separator: ", ")), or a text with {question} where the question goes")
            }
            promptTemplate = template
        }
        if let n = referenceTraces, trainFile == nil, n > trainSize {
            throw c.issue("reference_traces", "\(n) exceeds train_size \(trainSize); lower it or raise train_size")
        }
    }

    /// Every key with a value; the optional ones only when set (absent reads back as unset).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(domains.map(\.rawValue), forKey: .domains)
        if let shares = domainShares {
            // in `domains` order, as the reward weights are written: a dictionary's order changes from one instance to the next
            var m = c.nestedContainer(keyedBy: ConfigKey.self, forKey: .domainShares)
            for (domain, share) in zip(domains, shares) { try m.encode(share, forKey: ConfigKey(domain.rawValue)) }
        }
        try c.encode(difficulty, forKey: .difficulty)
        try c.encode(trainSize, forKey: .trainSize)
        try c.encodeIfPresent(referenceTraces, forKey: .referenceTraces)
        try c.encode(validationSize, forKey: .validationSize)
        try c.encodeIfPresent(seed, forKey: .seed)
        try c.encode(maxLength, forKey: .maxLength)
        try c.encodeIfPresent(trainFile, forKey: .trainFile)
        try c.encodeIfPresent(validationFile, forKey: .validationFile)
        try c.encodeIfPresent(promptTemplate?.description, forKey: .promptTemplate)
    }
}
