import Data
import Foundation

/// One key of a resolved curriculum whose value differs between two versions (`old` nil: added; `new` nil: removed).
public struct CurriculumKeyChange: Equatable, Sendable, CustomStringConvertible {
    /// The dotted key path, e.g. `stages[3].steps` or `teacher.hidden_size`.
    public let key: String
    public let old: String?
    public let new: String?

    public init(key: String, old: String?, new: String?) {
        self.key = key
        self.old = old
        self.new = new
    }

    /// `key: old -> new`, `key: added, new` or `key: removed, was old`.
    public var description: String {
        switch (old, new) {
        case (let o?, let n?): return "\(key): \(o) -> \(n)"
        case (nil, let n?): return "\(key): added, \(n)"
        case (let o?, nil): return "\(key): removed, was \(o)"
        case (nil, nil): return "\(key): unchanged"
        }
    }
}

/// What changed between the curriculum a run was started with and an edited one, compared on the resolved
/// configurations (every default filled in), key by key: a comment, a layout change or writing out a default
/// value is no change.
public enum CurriculumDiff {
    /// The keys whose resolved values differ, in the order of `new` (then the keys only `old` has).
    public static func changes(from old: Curriculum, to new: Curriculum) -> [CurriculumKeyChange] {
        let before = old.resolvedKeys, after = new.resolvedKeys
        let oldValues = Dictionary(before, uniquingKeysWith: { a, _ in a })
        let newValues = Dictionary(after, uniquingKeysWith: { a, _ in a })
        var out: [CurriculumKeyChange] = []
        for (key, value) in after where oldValues[key] != value {
            out.append(CurriculumKeyChange(key: key, old: oldValues[key], new: value))
        }
        for (key, value) in before where newValues[key] == nil {
            out.append(CurriculumKeyChange(key: key, old: value, new: nil))
        }
        return out
    }

    /// The changes that cannot apply to a run that stopped in stage `stageIndex` (`stageCompleted`: that stage had
    /// finished), each with the reason. Allowed: `name`, `run.*`, `student_dropout`, the settings of the stage in
    /// progress (not its kind), and every stage after it (added, removed or changed). Refused: the models'
    /// architecture and origin and the seed and data (the run's weights, data positions and the teacher's traces
    /// were made from them), and any stage before the current one or already completed.
    public static func refused(_ changes: [CurriculumKeyChange], stageIndex: Int, stageCompleted: Bool)
        -> [(change: CurriculumKeyChange, reason: String)] {
        changes.compactMap { change in
            let key = change.key
            let top = String(key.prefix { $0 != "." && $0 != "[" })
            switch top {
            case "name", "run", "student_dropout":
                return nil
            case "teacher", "student", "teacher_checkpoint", "teacher_hf", "teacher_gguf", "student_checkpoint",
                 "student_from_teacher_layers":
                return (change, "the models' architecture and origin are fixed when a run starts; its weights have this shape")
            case "seed", "data":
                return (change, "the data and the initial weights were made from these when the run started; data positions and the teacher's traces refer to them")
            case "stages":
                guard let open = key.firstIndex(of: "["), let close = key.firstIndex(of: "]"), open < close,
                      let index = Int(key[key.index(after: open)..<close]) else {
                    return (change, "not a stage key")
                }
                let field = key[key.index(after: close)...]
                if index < stageIndex { return (change, "stage \(index) is already completed") }
                if index == stageIndex && stageCompleted { return (change, "stage \(index) is already completed") }
                if index == stageIndex && field == ".kind" { return (change, "stage \(index) is in progress as \(change.old ?? "?"); its kind cannot change") }
                if index == stageIndex && field == ".restore_best" {
                    return (change, "stage \(index) is in progress: its best weights so far were kept (or not) under the old setting")
                }
                return nil
            default:
                return (change, "not a key this build can change in a run in progress")
            }
        }
    }
}

extension Curriculum {
    /// The resolved configuration (as `resolvedDescription` prints it) as dotted key paths and values: `run.*`,
    /// `data.*`, `teacher.<config.json key>`, `student.<config.json key>`, `stages[i].kind`, `stages[i].<setting>`.
    public var resolvedKeys: [(key: String, value: String)] {
        var out: [(String, String)] = [("name", name), ("seed", "\(seed)")]
        out += ResolvedKeys.flatten(prefix: "run", run)
        out += ResolvedKeys.flatten(prefix: "data", data)
        out += Self.flattenJSON(prefix: "teacher", models.teacher.jsonString())
        if let c = models.teacherCheckpoint { out.append(("teacher_checkpoint", c)) }
        switch models.teacherImport {
        case .huggingFace(let p)?: out.append(("teacher_hf", p))
        case .gguf(let p)?: out.append(("teacher_gguf", p))
        case nil: break
        }
        if let c = models.studentCheckpoint {
            out.append(("student_checkpoint", c))
        } else {
            out += Self.flattenJSON(prefix: "student", studentConfig.jsonString())
        }
        if let cut = models.studentFromTeacher { out.append(("student_from_teacher_layers", "\(cut)")) }
        out.append(("student_dropout", "\(models.studentDropout)"))
        for s in stages {
            out.append(("stages[\(s.index)].kind", s.kind))
            out += ResolvedKeys.flatten(prefix: "stages[\(s.index)]", s.configuration)
        }
        return out
    }

    private static func flattenJSON(prefix: String, _ json: String) -> [(String, String)] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else { return [(prefix, json)] }
        return object.keys.sorted().map { key in
            let value = object[key]!
            if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
                return (prefix + "." + key, String(decoding: data, as: UTF8.self))
            }
            return (prefix + "." + key, "\(value)")
        }
    }
}

/// A settings value as dotted snake_case key paths and scalar texts, walked by reflection, so every field of every
/// settings struct takes part in the comparison without a list to keep in step.
enum ResolvedKeys {
    /// The fields of `value` under `prefix`, with a stage's training settings at the stage's level as the curriculum
    /// file writes them.
    static func flatten(prefix: String, _ value: Any) -> [(String, String)] {
        var out: [(String, String)] = []
        for child in Mirror(reflecting: value).children {
            guard let name = child.label else { continue }
            // a stage's training settings are written at the stage's own level (`steps:`, not `training.steps:`)
            if child.value is TrainingSettings {
                out += flatten(prefix: prefix, child.value)
                continue
            }
            let key = prefix + "." + snake(name)
            let m = Mirror(reflecting: child.value)
            if m.displayStyle == .struct && !m.children.isEmpty && !(child.value is CustomStringConvertible) {
                out += flatten(prefix: key, child.value)
            } else {
                out.append((key, scalar(child.value)))
            }
        }
        return out
    }

    static func scalar(_ value: Any) -> String {
        let m = Mirror(reflecting: value)
        if m.displayStyle == .optional { return m.children.first.map { scalar($0.value) } ?? "null" }
        if let a = value as? [Any] { return "[" + a.map(scalar).joined(separator: ", ") + "]" }
        // a dictionary's own description follows its hash order, which differs between processes and insertion orders
        if let d = value as? [String: Any] { return "[" + d.keys.sorted().map { "\"\($0)\": " + scalar(d[$0]!) }.joined(separator: ", ") + "]" }
        if let d = value as? TaskDomain { return d.rawValue }
        return "\(value)"
    }

    static func snake(_ name: String) -> String {
        var out = ""
        for ch in name {
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
        return out
    }
}
