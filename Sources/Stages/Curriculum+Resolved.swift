import Foundation
import Model
import PPO
import Reward
import StrictConfig

// The resolved configuration: every default filled in, printed at the start of a run as YAML that `distill run`
// reads back to a curriculum with the same meaning (what each stage runs, not only what the file said: a
// baseline-ce without `steps` prints the steps it runs). What has no key (the student's resolved layers, an
// imported teacher's architecture) is printed as a `#` comment. Every line with a key is a settings struct's own
// encoding (`ConfigTree`, the same keys its decoder reads): the root settings' (`CurriculumSettings`), then each
// stage's.

extension Curriculum {
    /// The root settings (`name` to `student`) as they are.
    public var settings: CurriculumSettings { CurriculumSettings(name: name, seed: seed, run: run, data: data, models: models) }

    /// The root settings with what depends on the rest filled in: the data seed (the curriculum's when unset), the
    /// student's shrink as the student it gives (kv heads included), a cut of the curriculum's own teacher as its
    /// layer list. `resolvedDescription` writes these; the text reads back to them.
    public var resolvedSettings: CurriculumSettings {
        var s = settings
        s.data.seed = data.seed ?? seed
        if models.studentCheckpoint == nil, let cut = models.studentFromTeacher {
            // a checkpoint's teacher is known only when it is loaded
            if models.teacherCheckpoint == nil { s.models.studentFromTeacher = .layers(cut.resolve(teacherLayers: models.teacher.numHiddenLayers)) }
        } else if models.studentCheckpoint == nil {
            let c = studentConfig
            s.models.shrink = ShrinkSpec(layers: c.numHiddenLayers, hiddenSize: c.hiddenSize, heads: c.numAttentionHeads,
                                         kvHeads: c.numKeyValueHeads, intermediateSize: c.intermediateSize)
        }
        return s
    }

    /// The settings with every default filled in, as curriculum YAML (printed at the start of a run): the root
    /// settings' encoding (`resolvedSettings`), comments for what has no key, then each stage's lines.
    public var resolvedDescription: String {
        let tree: ConfigTree
        do { tree = try ConfigTree.encoding(resolvedSettings) } catch { preconditionFailure("settings encode without failing: \(error)") }
        var lines: [String] = []
        for entry in tree.entries {
            guard ["data", "teacher", "student"].contains(entry.key) else {
                lines += ConfigTree.mapping([entry]).yamlLines
                continue
            }
            lines.append(entry.key + ":")
            lines += entry.value.yamlLines.map { "  " + $0 }
            lines += resolvedComments(entry.key).map { "  # " + $0 }
        }
        lines.append("stages:")
        for entry in stages {
            lines.append("  - kind: \(entry.kind)")
            lines += entry.configuration.resolvedLines(in: self, index: entry.index).map { "    " + $0 }
        }
        return lines.joined(separator: "\n")
    }

    /// What a root section leaves to a file or to a default without a key of its own.
    private func resolvedComments(_ section: String) -> [String] {
        switch section {
        case "data":
            return (data.referenceTraces == nil ? ["reference_traces: every training row"] : [])
                + (data.promptTemplate == nil ? ["prompt_template: the teacher's family (plain for the built-in models)"] : [])
        case "teacher":
            guard let source = models.teacherImport else { return [] }
            return ["teacher_\(source)", "architecture from the file: " + models.teacher.jsonString()]
        case "student":
            if models.studentCheckpoint != nil { return ["architecture from the checkpoint: " + studentConfig.jsonString()] }
            guard let cut = models.studentFromTeacher else { return [] }
            if models.teacherCheckpoint == nil { return ["student_from_teacher_layers: \(cut.resolve(teacherLayers: models.teacher.numHiddenLayers))"] }
            return ["student_from_teacher_layers: \(cut) of the checkpoint's teacher"]
        default:
            return []
        }
    }
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
