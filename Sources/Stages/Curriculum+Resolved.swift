import Foundation
import Model
import PPO
import Reward
import StrictConfig

// The resolved configuration: every default filled in, printed at the start of a run as YAML that `distill run`
// reads back to a curriculum with the same meaning (what each stage runs, not only what the file said: a
// baseline-ce without `steps` prints the steps it runs). What has no key (the student's resolved layers, an
// imported teacher's architecture) is printed as a `#` comment. Settings that are Codable print their own
// encoding (`ConfigTree`, the same keys their decoder reads); the others still list their keys here.

extension Curriculum {
    /// The settings with every default filled in, as curriculum YAML (printed at the start of a run).
    public var resolvedDescription: String {
        var lines = ["name: " + YAMLText.string(name), "seed: \(seed)"]
        lines += ConfigTree.resolved(["run": run])
        lines.append("data:")
        lines.append("  domains: [" + data.domains.map(\.rawValue).joined(separator: ", ") + "]")
        lines.append("  difficulty: \(data.difficulty)")
        lines.append("  train_size: \(data.trainSize)")
        lines.append(data.referenceTraces.map { "  reference_traces: \($0)" } ?? "  # reference_traces: every training row")
        lines.append("  validation_size: \(data.validationSize)")
        lines.append("  seed: \(data.seed ?? seed)")
        lines.append("  max_length: \(data.maxLength)")
        if let f = data.trainFile { lines.append("  train_file: " + YAMLText.string(f)) }
        if let f = data.validationFile { lines.append("  validation_file: " + YAMLText.string(f)) }
        lines.append(data.promptTemplate.map { "  prompt_template: " + YAMLText.string($0.description) }
                     ?? "  # prompt_template: the teacher's family (plain for the built-in models)")

        let t = models.teacher
        lines.append("teacher:")
        if let source = models.teacherImport {
            // The file fixes the architecture, so its keys would be refused beside it: they are comments.
            switch source {
            case .huggingFace(let dir): lines.append("  hf: " + YAMLText.string(dir))
            case .gguf(let file): lines.append("  gguf: " + YAMLText.string(file))
            }
            lines.append("  # teacher_\(source)")
            lines.append("  # architecture from the file: " + t.jsonString())
        } else {
            if let c = models.teacherCheckpoint { lines.append("  checkpoint: " + YAMLText.string(c)) }
            lines.append("  hidden_size: \(t.hiddenSize)")
            lines.append("  intermediate_size: \(t.intermediateSize)")
            lines.append("  num_hidden_layers: \(t.numHiddenLayers)")
            lines.append("  num_attention_heads: \(t.numAttentionHeads)")
            lines.append("  num_key_value_heads: \(t.numKeyValueHeads)")
            lines.append("  rms_norm_eps: " + YAMLText.number(t.rmsNormEps))
            lines.append("  rope_theta: " + YAMLText.number(t.ropeTheta))
            lines.append("  max_position_embeddings: \(t.maxPositionEmbeddings)")
            lines.append("  tie_word_embeddings: \(t.tieWordEmbeddings)")
            lines.append("  qkv_bias: \(t.qkvBias)")
        }
        lines.append("  hidden_dropout: " + YAMLText.number(t.hiddenDropout))

        lines.append("student:")
        if let c = models.studentCheckpoint {
            lines.append("  checkpoint: " + YAMLText.string(c))
            lines.append("  # architecture from the checkpoint: " + studentConfig.jsonString())
        } else if let cut = models.studentFromTeacher {
            if models.teacherCheckpoint == nil {
                let layers = cut.resolve(teacherLayers: t.numHiddenLayers)
                lines.append("  from_teacher: {layers: \(layers)}")
                lines.append("  # student_from_teacher_layers: \(layers)")
            } else {
                switch cut {
                case .layers(let l): lines.append("  from_teacher: {layers: \(l)}")
                case .every(let k): lines.append("  from_teacher: {every: \(k)}")
                }
                lines.append("  # student_from_teacher_layers: \(cut) of the checkpoint's teacher")
            }
        } else {
            let s = studentConfig
            lines.append("  layers: \(s.numHiddenLayers)")
            lines.append("  hidden_size: \(s.hiddenSize)")
            lines.append("  heads: \(s.numAttentionHeads)")
            lines.append("  kv_heads: \(s.numKeyValueHeads)")
            lines.append("  intermediate_size: \(s.intermediateSize)")
        }
        lines.append("  hidden_dropout: " + YAMLText.number(models.studentDropout))
        lines.append("stages:")
        for entry in stages {
            lines.append("  - kind: \(entry.kind)")
            lines += entry.configuration.resolvedLines(in: self, index: entry.index).map { "    " + $0 }
        }
        return lines.joined(separator: "\n")
    }
}

/// YAML scalars and flow collections that read back exactly.
enum YAMLText {
    /// A number with a decimal point before any exponent (`1.0e-05`: a YAML 1.1 reader takes `1e-05` for a string).
    static func number<F: BinaryFloatingPoint & CustomStringConvertible>(_ value: F) -> String {
        var text = value.description
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }), !text[..<e].contains(".") {
            text.insert(contentsOf: ".0", at: e)
        }
        return text
    }

    /// A double-quoted string (every character kept, nothing read as a number, boolean or null).
    static func string(_ text: String) -> String { ConfigTree.quoted(text) }
}

extension ConfigTree {
    /// The YAML lines of `value`'s encoding (settings encode plain numbers, texts and flags: it cannot fail).
    static func resolved<T: Encodable>(_ value: T) -> [String] {
        do { return try ConfigTree.encoding(value).yamlLines } catch { preconditionFailure("settings encode without failing: \(error)") }
    }

    /// `value`'s encoding in flow style on one line.
    static func inline<T: Encodable>(_ value: T) -> String {
        do { return try ConfigTree.encoding(value).inlineFlow } catch { preconditionFailure("settings encode without failing: \(error)") }
    }
}

extension TrainingSettings {
    /// The shared training keys as the struct encodes them; `steps` is the count the stage runs.
    func resolvedLines(steps: Int) -> [String] {
        var settings = self
        settings.steps = steps
        var lines = ConfigTree.resolved(settings)
        if dropout == nil, let i = lines.firstIndex(where: { $0.hasPrefix("eval_every:") }) { lines.insert("# dropout: the model's", at: i) }
        return lines
    }
}

extension TeacherSFTConfiguration {
    public func resolvedLines(in curriculum: Curriculum, index: Int) -> [String] {
        var lines = training.resolvedLines(steps: training.steps)
        if curriculum.models.teacherCheckpoint != nil {
            lines.append("# runs 0 steps: the teacher comes trained from teacher.checkpoint")
        }
        return lines
    }
}

extension BaselineCEConfiguration {
    public func resolvedLines(in curriculum: Curriculum, index: Int) -> [String] {
        guard matchDistillationSteps else { return training.resolvedLines(steps: training.steps) }
        return training.resolvedLines(steps: max(1, distillationSteps(in: curriculum)))
            + ["# steps: as many as output-distill and feature-align together"]
    }
}

extension TemperatureSetting {
    /// The `temperature` value as it reads back: its encoding, a mapping with its schedule (a missing base stays
    /// missing, so an earlier temperature-search still fills it).
    var resolvedValue: String { ConfigTree.inline(self) }
}

extension OutputDistillConfiguration {
    /// The settings' encoding with `data` resolved; comments for what is left to the model or to a search.
    public func resolvedLines(in curriculum: Curriculum, index: Int) -> [String] {
        var resolved = self
        resolved.data = resolvedData(in: curriculum, index: index)
        var lines = ConfigTree.resolved(resolved)
        if training.dropout == nil { lines.append("# dropout: the model's") }
        if temperature.base == nil {
            lines.append("# temperature \(temperature.kind == .linearDecay ? "start" : "base"): an earlier temperature-search's T, else \(TemperatureSetting.defaultBase)")
        }
        return lines
    }
}

extension FeatureAlignConfiguration {
    /// The settings' encoding (output-distill's keys, then the feature keys) with `data` resolved.
    public func resolvedLines(in curriculum: Curriculum, index: Int) -> [String] {
        var resolved = self
        resolved.output.data = output.resolvedData(in: curriculum, index: index)
        var lines = ConfigTree.resolved(resolved)
        if output.training.dropout == nil { lines.append("# dropout: the model's") }
        if output.temperature.base == nil {
            lines.append("# temperature \(output.temperature.kind == .linearDecay ? "start" : "base"): an earlier temperature-search's T, else \(TemperatureSetting.defaultBase)")
        }
        if layerMap == nil, curriculum.models.studentFromTeacher != nil { lines.append("# layer_map: each student layer with the teacher layer it was cut from") }
        return lines
    }
}

extension TeacherTracesConfiguration {
    public func resolvedLines(in curriculum: Curriculum, index: Int) -> [String] {
        ConfigTree.resolved(self) + (topP == nil ? ["# top_p: off"] : []) + (limit == nil ? ["# limit: every training question"] : [])
    }
}

extension TemperatureSearchConfiguration {
    public func resolvedLines(in curriculum: Curriculum, index: Int) -> [String] {
        var resolved = self
        resolved.data = DistillationData.resolve(data, in: curriculum, index: index)
        return ConfigTree.resolved(resolved)
    }
}

extension OnPolicyDistillConfiguration {
    /// The settings' encoding, gkd's `data` resolved.
    public func resolvedLines(in curriculum: Curriculum, index: Int) -> [String] {
        var resolved = self
        if distillation.objective == .gkd { resolved.data = DistillationData.resolve(data, in: curriculum, index: index) }
        return ConfigTree.resolved(resolved)
    }
}

extension PPOTraceConfiguration {
    /// The settings' encoding (`reward` and `ppo` as nested mappings).
    public func resolvedLines(in curriculum: Curriculum, index: Int) -> [String] { ConfigTree.resolved(self) }
}
