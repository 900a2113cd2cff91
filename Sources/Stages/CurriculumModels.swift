import Checkpoint
import Model
import ModelIO
import Tensor

/// The teacher, the student and the codec of a run: built from a curriculum's `teacher:`/`student:` settings, or
/// given by a caller that already holds its models. Either way the two vocabularies agree with each other and with
/// the tokenizer's, or it throws.
public struct CurriculumModels {
    public let teacher: Transformer
    public let student: Transformer
    /// How questions and traces become ids for these models.
    public let codec: TraceCodec
    /// The chat template that came with an imported teacher.
    public let chatTemplate: String?
    /// The teacher layer each student layer was copied from, when the student was cut from the teacher.
    public let studentSourceLayers: [Int]?

    /// Models a caller holds.
    /// - Throws: `RunModelError` when the student's or the teacher's vocabulary differs from the tokenizer's.
    public init(teacher: Transformer, student: Transformer, codec: TraceCodec, chatTemplate: String? = nil) throws {
        let vocabulary = codec.tokenizer.vocabularySize
        guard teacher.config.vocabSize == vocabulary else {
            throw RunModelError(role: "teacher", message: "vocabulary \(teacher.config.vocabSize) differs from the tokenizer's \(vocabulary); "
                                + "give a teacher of this tokenizer, or the codec of the teacher's own tokenizer")
        }
        guard student.config.vocabSize == vocabulary else {
            throw RunModelError(role: "student", message: "vocabulary \(student.config.vocabSize) differs from the tokenizer's and the teacher's "
                                + "\(vocabulary); give a student of the teacher's tokenizer")
        }
        self.teacher = teacher
        self.student = student
        self.codec = codec
        self.chatTemplate = chatTemplate
        studentSourceLayers = nil
    }

    /// The models `curriculum` describes: the teacher imported, loaded from its checkpoint or initialised from a seed
    /// derived from the curriculum seed; the student loaded, cut from the teacher or the teacher shrunk and initialised.
    /// - Throws: `CurriculumError` naming the key when a model file does not fit (vocabulary, int8, template).
    public init(curriculum: Curriculum) throws {
        var teacherRNG = RandomGenerator(seed: curriculum.seed &+ 0x7EAC_8E5)
        var studentRNG = RandomGenerator(seed: curriculum.seed &+ 0x57D_E27)
        let template = curriculum.data.promptTemplate
        func codec(_ tokenizer: any TextTokenizer, chatTemplate: String?, key: String) throws -> TraceCodec {
            do { return try TraceCodec(tokenizer: tokenizer, template: template ?? PromptTemplate.family(ofChatTemplate: chatTemplate)) }
            catch let e as TraceCodecError {
                throw CurriculumError(file: curriculum.file, keyPath: template == nil ? key : "data.prompt_template", line: nil, message: e.message)
            }
        }
        if let source = curriculum.models.teacherImport {
            let imported = try ModelImporter.load(source.path)
            guard let tokenizer = imported.tokenizer else {
                throw CurriculumError(file: curriculum.file, keyPath: "teacher", line: nil,
                                      message: "\(source.path) carries no tokenizer (tokenizer.json or tokenizer.ggml.*); a real teacher needs its own")
            }
            teacher = imported.model
            self.codec = try codec(tokenizer, chatTemplate: imported.chatTemplate, key: "teacher")
            chatTemplate = imported.chatTemplate
        } else if let path = curriculum.models.teacherCheckpoint {
            let reader = try CheckpointReader(path: path)
            let loaded = try reader.loadTransformer(role: "teacher")
            try RunContext.refuseQuantized(loaded, path: path, key: "teacher.checkpoint", file: curriculum.file)
            if try reader.tokenizerJSON() != nil {
                // an imported (or distilled-from-imported) teacher: its BPE tokenizer and templates travel with it
                do { self.codec = try reader.codec(vocabularySize: loaded.config.vocabSize, role: "teacher", template: template) }
                catch let e as CheckpointError {
                    throw CurriculumError(file: curriculum.file, keyPath: template == nil ? "teacher.checkpoint" : "data.prompt_template",
                                          line: nil, message: "\(e)")
                }
                chatTemplate = try reader.chatTemplate()
            } else {
                guard loaded.config.vocabSize == Tokenizer.math.vocabularySize else {
                    throw CurriculumError(file: curriculum.file, keyPath: "teacher.checkpoint", line: nil,
                                          message: "\(path) holds a teacher with vocabulary \(loaded.config.vocabSize), not the math tokenizer's \(Tokenizer.math.vocabularySize)")
                }
                chatTemplate = nil
                self.codec = try codec(Tokenizer.math, chatTemplate: nil, key: "teacher.checkpoint")
            }
            teacher = loaded
        } else {
            chatTemplate = nil
            self.codec = try codec(Tokenizer.math, chatTemplate: nil, key: "data.prompt_template")
            teacher = try Transformer(config: curriculum.models.teacher, rng: &teacherRNG)
        }
        if let path = curriculum.models.studentCheckpoint {
            let loaded = try CheckpointReader(path: path).loadTransformer(role: "student")
            try RunContext.refuseQuantized(loaded, path: path, key: "student.checkpoint", file: curriculum.file)
            guard loaded.config.vocabSize == teacher.config.vocabSize else {
                throw CurriculumError(file: curriculum.file, keyPath: "student.checkpoint", line: nil,
                                      message: "\(path) holds a student with vocabulary \(loaded.config.vocabSize), the teacher's is \(teacher.config.vocabSize); give a student of this tokenizer")
            }
            student = loaded
            studentSourceLayers = nil
        } else if let cut = curriculum.models.studentFromTeacher {
            let layers = cut.resolve(teacherLayers: teacher.config.numHiddenLayers)
            do { student = try teacher.cut(layers: layers) } catch let e as ConfigurationError {
                throw CurriculumError(file: curriculum.file, keyPath: "student.from_teacher", line: nil, message: e.message)
            }
            studentSourceLayers = layers
        } else {
            student = try Transformer(config: try teacher.config.shrunk(by: curriculum.models.shrink), rng: &studentRNG)
            studentSourceLayers = nil
        }
        student.dropoutProbability = curriculum.models.studentDropout
    }

    /// The math tokenizer with the curriculum's prompt template (plain when it names none).
    /// - Throws: `CurriculumError` at `key` when the template does not fit the tokenizer.
    public static func mathCodec(curriculum: Curriculum, key: String) throws -> TraceCodec {
        let template = curriculum.data.promptTemplate
        do { return try TraceCodec(tokenizer: Tokenizer.math, template: template ?? PromptTemplate.family(ofChatTemplate: nil)) }
        catch let e as TraceCodecError {
            throw CurriculumError(file: curriculum.file, keyPath: template == nil ? key : "data.prompt_template", line: nil, message: e.message)
        }
    }
}

/// A model a caller gave a run that does not fit it: which one (`teacher`, `student`), what and how to fix it.
public struct RunModelError: Error, CustomStringConvertible, Equatable {
    public let role: String
    public let message: String
    public var description: String { "\(role): \(message)" }
}
