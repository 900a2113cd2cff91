import Checkpoint
import Foundation
import Model
import ModelIO
import StrictConfig

/// `teacher:` and `student:`, two keys of the curriculum's root read into one `ModelSettings` (the student's checks
/// need the teacher): decoded from the root, whose other keys its owner (`CurriculumSettings`) checks.
extension ModelSettings: Codable {
    /// The teacher's architecture keys (Hugging Face `config.json` spelling).
    static let architectureKeys = ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                                   "rms_norm_eps", "rope_theta", "max_position_embeddings", "tie_word_embeddings", "qkv_bias"]
    static let teacherKeys = ["checkpoint", "hf", "gguf"] + architectureKeys + ["hidden_dropout"]
    /// The shrink's keys (`ShrinkSpec`).
    static let shrinkKeys = ["layers", "hidden_size", "heads", "kv_heads", "intermediate_size"]
    static let studentKeys = ["checkpoint", "from_teacher"] + shrinkKeys + ["hidden_dropout"]

    /// The `teacher:` mapping: where the teacher comes from and its architecture.
    private struct Teacher: Decodable {
        var settings = ModelSettings()

        init(from decoder: Decoder) throws {
            let t = try StrictContainer(decoder, known: ModelSettings.teacherKeys)
            let base = CurriculumSettings.baseDirectory(decoder)
            settings.teacherCheckpoint = try existingFile(t, "checkpoint", base: base)
            if let dir = try existingFile(t, "hf", base: base) { settings.teacherImport = .huggingFace(dir) }
            if let file = try existingFile(t, "gguf", base: base) {
                if settings.teacherImport != nil { throw t.issue("gguf", "give one teacher: `hf: DIR` or `gguf: FILE`, not both") }
                settings.teacherImport = .gguf(file)
            }
            if let source = settings.teacherImport {
                let key = source.key
                if settings.teacherCheckpoint != nil { throw t.issue("checkpoint", "give one teacher: `checkpoint`, `hf` or `gguf`") }
                for k in ModelSettings.architectureKeys where t.contains(k) {
                    throw t.issue(k, "the teacher's \(key == "hf" ? "config.json" : "GGUF metadata") fixes its architecture; remove `\(k)`")
                }
                do {
                    switch source {
                    case .huggingFace(let dir): settings.teacher = try HuggingFaceImporter.readConfig(folder: dir)
                    case .gguf(let file): settings.teacher = try GGUFImporter.config(of: try GGUFFile(path: file))
                    }
                } catch {
                    throw t.issue(key, "cannot use this teacher: \(error)")
                }
            }
            var tc = settings.teacher
            tc.hiddenSize = try t.int("hidden_size", min: 1) ?? tc.hiddenSize
            tc.intermediateSize = try t.int("intermediate_size", min: 1) ?? tc.intermediateSize
            tc.numHiddenLayers = try t.int("num_hidden_layers", min: 1) ?? tc.numHiddenLayers
            tc.numAttentionHeads = try t.int("num_attention_heads", min: 1) ?? tc.numAttentionHeads
            // kv heads follow the heads when only the heads are written
            tc.numKeyValueHeads = try t.int("num_key_value_heads", min: 1) ?? (t.contains("num_attention_heads") ? tc.numAttentionHeads : tc.numKeyValueHeads)
            tc.rmsNormEps = try t.float("rms_norm_eps", range: 1e-12...1) ?? tc.rmsNormEps
            tc.ropeTheta = try t.double("rope_theta", range: 1...1e9) ?? tc.ropeTheta
            tc.maxPositionEmbeddings = try t.int("max_position_embeddings", min: 8) ?? tc.maxPositionEmbeddings
            tc.tieWordEmbeddings = try t.bool("tie_word_embeddings") ?? tc.tieWordEmbeddings
            tc.qkvBias = try t.bool("qkv_bias") ?? tc.qkvBias
            tc.hiddenDropout = try t.float("hidden_dropout", range: 0...0.9) ?? tc.hiddenDropout
            do { try tc.validate() } catch let e as ConfigurationError { throw t.issue(e.key, e.message) }
            settings.teacher = tc
        }
    }

    /// The `student:` mapping: a checkpoint, a cut of the teacher's layers, or a shrink of the teacher. The checks
    /// against the teacher are the owner's.
    private struct Student: Decodable {
        var settings = ModelSettings()

        init(from decoder: Decoder) throws {
            let s = try StrictContainer(decoder, known: ModelSettings.studentKeys)
            settings.studentCheckpoint = try existingFile(s, "checkpoint", base: CurriculumSettings.baseDirectory(decoder))
            if let path = settings.studentCheckpoint {
                for key in ModelSettings.shrinkKeys + ["from_teacher"] where s.contains(key) {
                    throw s.issue(key, "the student's checkpoint fixes its architecture; remove `\(key)` (or remove `checkpoint` to shrink the teacher)")
                }
                do {
                    settings.studentCheckpointConfig = try CheckpointReader(path: path).transformerConfig(role: "student")
                } catch {
                    throw s.issue("checkpoint", "cannot read the student from \(path): \(error); give a checkpoint written by `distill run` or `distill init --role student`")
                }
            }
            if s.contains("from_teacher") {
                for key in ModelSettings.shrinkKeys where s.contains(key) {
                    throw s.issue(key, "a student cut from the teacher has the teacher's width and heads; remove `\(key)` (or remove `from_teacher` to shrink the teacher)")
                }
                settings.studentFromTeacher = try s.value("from_teacher", TeacherLayerChoice.self, expected: "a mapping of keys to values")
            }
            let spec = settings.shrink
            settings.shrink = ShrinkSpec(layers: try s.int("layers", min: 1) ?? spec.layers,
                                         hiddenSize: try s.int("hidden_size", min: 1) ?? spec.hiddenSize,
                                         heads: try s.int("heads", min: 1) ?? spec.heads,
                                         kvHeads: try s.int("kv_heads", min: 1) ?? (s.contains("heads") ? nil : spec.kvHeads),
                                         intermediateSize: try s.int("intermediate_size", min: 1) ?? spec.intermediateSize)
            settings.studentDropout = try s.float("hidden_dropout", range: 0...0.9) ?? settings.studentDropout
        }
    }

    /// Reads `teacher:` and `student:` of the mapping `decoder` holds (its other keys are the owner's), then checks
    /// the student against the teacher: a cut's layers must be the teacher's, a shrink must give a valid model.
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try StrictContainer(decoder, known: nil)
        let teacher = try c.value("teacher", Teacher.self, expected: "a mapping of keys to values")?.settings ?? ModelSettings()
        let student = try c.value("student", Student.self, expected: "a mapping of keys to values")?.settings ?? ModelSettings()
        self.teacher = teacher.teacher
        teacherCheckpoint = teacher.teacherCheckpoint
        teacherImport = teacher.teacherImport
        studentCheckpoint = student.studentCheckpoint
        studentCheckpointConfig = student.studentCheckpointConfig
        studentFromTeacher = student.studentFromTeacher
        shrink = student.shrink
        studentDropout = student.studentDropout
        let path = c.codingPath + [ConfigKey("student")]
        // A teacher from a checkpoint is checked when it is loaded; the curriculum's own teacher now.
        if let cut = studentFromTeacher, teacherCheckpoint == nil {
            let count = self.teacher.numHiddenLayers
            let layers = cut.resolve(teacherLayers: count)
            if layers.isEmpty || Set(layers).count != layers.count || layers.contains(where: { $0 < 0 || $0 >= count }) {
                throw ConfigIssue(path: path + [ConfigKey("from_teacher"), ConfigKey(cut.key)],
                                  .invalid("\(layers) is not a list of distinct layers among the teacher's 0 to \(count - 1)"))
            }
        }
        do { _ = try self.teacher.shrunk(by: shrink) } catch let e as ConfigurationError {
            throw ConfigIssue(path: path, .invalid("the student this shrink gives is invalid: \(e.key): \(e.message)"))
        }
    }

    /// `teacher:` (the file it comes from, else its architecture; then its dropout) and `student:` (its checkpoint,
    /// its cut of the teacher's layers or its shrink; then its dropout), at the encoder's level.
    public func encode(to encoder: Encoder) throws {
        var root = encoder.container(keyedBy: ConfigKey.self)
        var t = root.nestedContainer(keyedBy: ConfigKey.self, forKey: ConfigKey("teacher"))
        switch teacherImport {
        case .huggingFace(let dir)?: try t.encode(dir, forKey: ConfigKey("hf"))
        case .gguf(let file)?: try t.encode(file, forKey: ConfigKey("gguf"))
        case nil:
            // The file fixes an imported teacher's architecture, so its keys are written only for the others.
            try t.encodeIfPresent(teacherCheckpoint, forKey: ConfigKey("checkpoint"))
            let c = teacher
            try t.encode(c.hiddenSize, forKey: ConfigKey("hidden_size"))
            try t.encode(c.intermediateSize, forKey: ConfigKey("intermediate_size"))
            try t.encode(c.numHiddenLayers, forKey: ConfigKey("num_hidden_layers"))
            try t.encode(c.numAttentionHeads, forKey: ConfigKey("num_attention_heads"))
            try t.encode(c.numKeyValueHeads, forKey: ConfigKey("num_key_value_heads"))
            try t.encode(c.rmsNormEps, forKey: ConfigKey("rms_norm_eps"))
            try t.encode(c.ropeTheta, forKey: ConfigKey("rope_theta"))
            try t.encode(c.maxPositionEmbeddings, forKey: ConfigKey("max_position_embeddings"))
            try t.encode(c.tieWordEmbeddings, forKey: ConfigKey("tie_word_embeddings"))
            try t.encode(c.qkvBias, forKey: ConfigKey("qkv_bias"))
        }
        try t.encode(teacher.hiddenDropout, forKey: ConfigKey("hidden_dropout"))

        var s = root.nestedContainer(keyedBy: ConfigKey.self, forKey: ConfigKey("student"))
        if let path = studentCheckpoint {
            try s.encode(path, forKey: ConfigKey("checkpoint"))
        } else if let cut = studentFromTeacher {
            try s.encode(cut, forKey: ConfigKey("from_teacher"))
        } else {
            try s.encode(shrink.layers, forKey: ConfigKey("layers"))
            try s.encode(shrink.hiddenSize, forKey: ConfigKey("hidden_size"))
            try s.encode(shrink.heads, forKey: ConfigKey("heads"))
            try s.encodeIfPresent(shrink.kvHeads, forKey: ConfigKey("kv_heads"))
            try s.encode(shrink.intermediateSize, forKey: ConfigKey("intermediate_size"))
        }
        try s.encode(studentDropout, forKey: ConfigKey("hidden_dropout"))
    }

    /// The student's architecture: the checkpoint's, the teacher with the cut's layer count, or the teacher shrunk.
    public var studentConfig: TransformerConfig {
        // validated when the settings were read
        if let cut = studentFromTeacher {
            var c = teacher
            c.numHiddenLayers = cut.resolve(teacherLayers: c.numHiddenLayers).count
            return c
        }
        return studentCheckpointConfig ?? (try? teacher.shrunk(by: shrink)) ?? teacher
    }
}

extension TeacherImport {
    /// The key it is written under: `hf` or `gguf`.
    var key: String {
        switch self { case .huggingFace: return "hf"; case .gguf: return "gguf" }
    }
}

extension TeacherLayerChoice: Codable {
    /// The key it is written under: `layers` or `every`.
    var key: String {
        switch self { case .layers: return "layers"; case .every: return "every" }
    }

    /// One entry of `layers` (`expected a layer number` at its index otherwise).
    private struct LayerNumber: Decodable {
        let value: Int
        init(from decoder: Decoder) throws {
            guard let value = try? decoder.singleValueContainer().decode(Int.self) else {
                throw ConfigIssue(path: decoder.codingPath, .invalid("expected a layer number"))
            }
            self.value = value
        }
    }

    /// Reads `{layers: [0, 4, 8]}` or `{every: K}`, one of the two.
    public init(from decoder: Decoder) throws {
        let c = try StrictContainer(decoder, known: ["layers", "every"])
        let every = try c.int("every", min: 1)
        guard c.contains("layers") != (every != nil) else {
            throw c.issue("give either `layers: [0, 4, 8, ...]` (the teacher layers to keep) or `every: K` (layers 0, K, 2K, ...)")
        }
        if let every {
            self = .every(every)
        } else {
            self = .layers(try c.value("layers", [LayerNumber].self, expected: "a list")!.map(\.value))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: ConfigKey.self)
        switch self {
        case .layers(let list): try c.encode(list, forKey: ConfigKey(key))
        case .every(let k): try c.encode(k, forKey: ConfigKey(key))
        }
    }
}
