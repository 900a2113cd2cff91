import Checkpoint
import Data
import Foundation
import Model
import Telemetry
import Tokenizers

/// A teacher/student attention heatmap from a checkpoint (`distill plot`): both models run on one problem, each
/// shown as one layer's attention averaged over heads, the student's layer beside the teacher layer the uniform
/// layer map pairs it with.
public struct AttentionFigure: Sendable {
    /// What the models are run on.
    public enum Problem: Sendable, Equatable {
        /// The generated test problem at this 0-based index (all domains, difficulty 2, seed 0): its prompt followed
        /// by its reference trace, the layout the models are trained on.
        case generated(index: Int)
        /// This text.
        case text(String)
    }

    /// The figure, or why the checkpoint cannot give it (a skip: the run's other plots are still written).
    public enum Outcome: Sendable {
        case drawn(AttentionFigure)
        case skipped(reason: String)
    }

    /// The SVG file's name, e.g. `attention-problem0-layer1.svg`.
    public let fileName: String
    /// The SVG document.
    public let svg: String
    /// One line saying which layers, which problem, how many tokens and which file.
    public let summary: String
    /// The problem's token count before `maxTokens` cut it (equal to the shown count when it was not cut).
    public let problemTokens: Int
    /// The tokens shown.
    public let shownTokens: Int

    /// Draws the figure from `file`'s teacher and student.
    /// - Parameters:
    ///   - layer: the student layer (0-based).
    ///   - maxTokens: at most this many tokens (BOS included) are shown; the models' contexts also cap it.
    /// - Returns: `.skipped` when the file lacks a teacher or a student, or stores no tokenizer.
    /// - Throws: `AttentionFigureError` for a layer the student does not have or a text the tokenizer cannot encode;
    ///   `CheckpointError` when the file cannot be read or its tokenizer has more symbols than a model's vocabulary.
    public static func draw(checkpoint file: String, layer: Int, problem: Problem, maxTokens: Int) throws -> Outcome {
        let reader = try CheckpointReader(path: file)
        let roles = try reader.roles()
        guard roles.contains("teacher"), roles.contains("student") else {
            return .skipped(reason: "\(file) holds roles [\(roles.joined(separator: ", "))]; it needs both teacher and student")
        }
        guard let tokenizer = try reader.tokenizer() else {
            return .skipped(reason: "\(file) stores no tokenizer, so the problem text cannot be encoded")
        }
        let teacher = try reader.loadTransformer(role: "teacher")
        let student = try reader.loadTransformer(role: "student")
        for (role, model) in [("teacher", teacher), ("student", student)] where tokenizer.vocabularySize > model.config.vocabSize {
            throw CheckpointError.corrupt(file: file, object: "/tokenizer/symbols",
                                          reason: "\(tokenizer.vocabularySize) symbols but role \(role) has vocab_size \(model.config.vocabSize); the tokenizer does not belong to this model")
        }
        let studentLayers = student.config.numHiddenLayers, teacherLayers = teacher.config.numHiddenLayers
        guard (0..<studentLayers).contains(layer) else {
            throw AttentionFigureError.layerOutOfRange(file: file, layer: layer, studentLayers: studentLayers)
        }
        let teacherLayer = HiddenProjection.uniformLayerMap(studentLayers: studentLayers, teacherLayers: teacherLayers)[layer].teacher

        let (problemText, caption) = try text(of: problem)
        var ids: [Int32]
        do { ids = try tokenizer.encode(problemText) } catch {
            throw AttentionFigureError.unencodable(problem: problem, reason: "\(error)")
        }
        let total = ids.count
        let limit = min(maxTokens, teacher.config.maxPositionEmbeddings, student.config.maxPositionEmbeddings)
        if ids.count > limit { ids = Array(ids.prefix(limit)) }
        let labels = ids.map { id -> String in
            let i = Int(id)
            guard i >= 0, i < tokenizer.symbols.count else { return "?" }
            return AttentionHeatmap.tokenLabel(tokenizer.symbols[i])
        }
        let teacherMap = teacher.meanAttention(ids: ids, layer: teacherLayer)
        let studentMap = student.meanAttention(ids: ids, layer: layer)
        let figure = AttentionHeatmap(
            title: "\(caption) (\((file as NSString).lastPathComponent), \(ids.count) tokens)",
            panels: [
                .init(title: "teacher layer \(teacherLayer) (mean over heads)", matrix: teacherMap, rowLabels: labels, columnLabels: labels),
                .init(title: "student layer \(layer) (mean over heads)", matrix: studentMap, rowLabels: labels, columnLabels: labels),
            ])
        let name: String
        if case .generated(let index) = problem { name = "attention-problem\(index)-layer\(layer).svg" } else { name = "attention-text-layer\(layer).svg" }
        return .drawn(AttentionFigure(
            fileName: name, svg: figure.svg(),
            summary: "attention of teacher layer \(teacherLayer) and student layer \(layer) on \(caption), \(ids.count) tokens, from \(file)",
            problemTokens: total, shownTokens: ids.count))
    }

    /// The text to run the models on and a caption for the figure.
    /// - Throws: `DataError` when the problems cannot be generated; `AttentionFigureError.noQuestion` for a generated
    ///   row without a question.
    public static func text(of problem: Problem) throws -> (text: String, caption: String) {
        switch problem {
        case .text(let text):
            return (text, "text \(String(reflecting: text))")
        case .generated(let index):
            let config = GenerationConfig(domains: TaskDomain.allCases, count: index + 1, split: .test, seed: 0, difficulty: 2)
            let record = try DatasetGenerator(config: config).generate()[index]
            guard let question = record.question else { throw AttentionFigureError.noQuestion(index: index) }
            return (TraceFormat.prompt(question: question) + TraceFormat.completion(of: record),
                    "problem \(index)" + (record.domain.map { " (\($0))" } ?? "") + ": \(question)")
        }
    }
}

/// A request the attention figure cannot answer: which part of it and how to fix it.
public enum AttentionFigureError: Error, Equatable, CustomStringConvertible {
    /// The student has no layer `layer`.
    case layerOutOfRange(file: String, layer: Int, studentLayers: Int)
    /// The problem's text has a character the checkpoint's tokenizer does not know.
    case unencodable(problem: AttentionFigure.Problem, reason: String)
    /// The generated problem has no question to show.
    case noQuestion(index: Int)

    public var description: String {
        switch self {
        case let .layerOutOfRange(file, layer, layers):
            return "layer \(layer): the student in \(file) has \(layers) layers (0...\(layers - 1))"
        case let .unencodable(problem, reason):
            if case .generated(let index) = problem { return "problem \(index): \(reason)" }
            return "text: \(reason)"
        case let .noQuestion(index):
            return "generated problem \(index) has no question; pass a text instead"
        }
    }
}
