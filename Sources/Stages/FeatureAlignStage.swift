import Foundation
import Model
import StrictConfig
import Tensor

/// Settings of `feature-align`: the output-distill settings plus the feature terms.
///
/// loss = output_weight * (output-distill loss)
///      + feature_gradient_scale * (hidden_weight * hidden MSE + attention_weight * attention MSE)
///
/// The hidden MSE compares projected student hidden states with teacher hidden states (FitNets, Romero et al.
/// 2015) on a layer map; the projections are learned with the student and saved as role `projection`. The
/// attention MSE compares attention probabilities on the same layer map (teacher heads averaged into student
/// heads). `feature_gradient_scale` multiplies the feature terms' contribution (and so their gradients) without
/// changing the reported values.
public struct FeatureAlignConfiguration: StageConfiguration, Equatable {
    public var output: OutputDistillConfiguration
    public var outputWeight: Float = 0.5
    public var hiddenWeight: Float = 0.3
    public var attentionWeight: Float = 0.2
    public var featureGradientScale: Float = 1
    /// Explicit (student layer, teacher layer) pairs; nil: the uniform map.
    public var layerMap: [[Int]]?

    /// Every field, each with its default (the output part: 200 steps).
    public init(output: OutputDistillConfiguration = OutputDistillConfiguration(training: TrainingSettings(steps: 200)),
                outputWeight: Float = 0.5, hiddenWeight: Float = 0.3, attentionWeight: Float = 0.2, featureGradientScale: Float = 1,
                layerMap: [[Int]]? = nil) {
        self.output = output
        self.outputWeight = outputWeight
        self.hiddenWeight = hiddenWeight
        self.attentionWeight = attentionWeight
        self.featureGradientScale = featureGradientScale
        self.layerMap = layerMap
    }

    public init(_ node: ConfigNode) throws {
        self = try node.decode(Self.self, keys: OutputDistillConfiguration.keys + CodingKeys.allCases.map(\.rawValue))
    }

    public func check(in curriculum: Curriculum, index: Int) throws {
        try output.check(in: curriculum, index: index)
        let t = curriculum.models.teacher, s = curriculum.studentConfig
        let path = "stages[\(index)]"
        for pair in layerMap ?? [] {
            guard pair[0] < s.numHiddenLayers, pair[1] < t.numHiddenLayers else {
                throw CurriculumError(file: curriculum.file, keyPath: path + ".layer_map", line: nil,
                                      message: "pair \(pair) is outside the student's \(s.numHiddenLayers) or the teacher's \(t.numHiddenLayers) layers")
            }
        }
        let hs = s.numAttentionHeads, ht = t.numAttentionHeads
        if attentionWeight > 0 && ht % hs != 0 && hs % ht != 0 {
            throw CurriculumError(file: curriculum.file, keyPath: path + ".attention_weight", line: nil,
                                  message: "attention maps need head counts that divide one another (student \(hs), teacher \(ht)); change student.heads or set attention_weight: 0")
        }
    }

    /// The (student, teacher) layer pairs: `layer_map` when given; else, for a student cut from the teacher, each
    /// layer with the teacher layer it was copied from (`sourceLayers`); else the uniform map.
    public func pairs(studentLayers: Int, teacherLayers: Int, sourceLayers: [Int]? = nil) -> [(student: Int, teacher: Int)] {
        if let layerMap { return layerMap.map { ($0[0], $0[1]) } }
        if let sourceLayers { return sourceLayers.enumerated().map { (student: $0.offset, teacher: $0.element) } }
        return HiddenProjection.uniformLayerMap(studentLayers: studentLayers, teacherLayers: teacherLayers)
    }
}

extension FeatureAlignConfiguration: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case outputWeight = "output_weight", hiddenWeight = "hidden_weight", attentionWeight = "attention_weight"
        case featureGradientScale = "feature_gradient_scale", layerMap = "layer_map"
    }

    /// Reads the output-distill keys (200 steps by default) and the feature keys beside them, strictly.
    public init(from decoder: Decoder) throws {
        let c = try StrictContainer(decoder, known: ["kind"] + OutputDistillConfiguration.keys + CodingKeys.allCases.map(\.rawValue))
        self.init(output: try OutputDistillConfiguration(from: decoder, trainingDefaults: TrainingSettings(steps: 200), embedded: true))
        outputWeight = try c.float("output_weight", range: 0...100) ?? outputWeight
        hiddenWeight = try c.float("hidden_weight", range: 0...100) ?? hiddenWeight
        attentionWeight = try c.float("attention_weight", range: 0...100) ?? attentionWeight
        featureGradientScale = try c.float("feature_gradient_scale", range: 0...1000) ?? featureGradientScale
        if let text = try? c.value("layer_map", String.self, expected: "a string") {
            guard text == "uniform" else { throw c.issue("layer_map", "use `uniform` or a list of [student, teacher] layer pairs such as [[0, 1], [1, 3]]") }
        } else if let pairs = try c.value("layer_map", [[Int]].self, expected: "`uniform` or a list of [student, teacher] layer pairs such as [[0, 1], [1, 3]]") {
            let at = c.codingPath + [ConfigKey("layer_map")]
            for (i, pair) in pairs.enumerated() {
                guard pair.count == 2 else { throw ConfigIssue(path: at + [ConfigKey(intValue: i)], .invalid("each pair is [student layer, teacher layer]")) }
                for (j, v) in pair.enumerated() where v < 0 {
                    throw ConfigIssue(path: at + [ConfigKey(intValue: i), ConfigKey(intValue: j)], .invalid("a layer index (0-based integer)"))
                }
            }
            if pairs.isEmpty { throw c.issue("layer_map", "list at least one pair, or write `uniform`") }
            layerMap = pairs
        }
        if outputWeight + hiddenWeight + attentionWeight <= 0 {
            throw c.issue("output_weight, hidden_weight and attention_weight are all 0; give at least one a positive weight")
        }
    }

    /// The output-distill keys and the feature keys (`layer_map: uniform` when no map is given).
    public func encode(to encoder: Encoder) throws {
        try output.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(outputWeight, forKey: .outputWeight)
        try c.encode(hiddenWeight, forKey: .hiddenWeight)
        try c.encode(attentionWeight, forKey: .attentionWeight)
        try c.encode(featureGradientScale, forKey: .featureGradientScale)
        if let layerMap { try c.encode(layerMap, forKey: .layerMap) } else { try c.encode("uniform", forKey: .layerMap) }
    }
}

/// `feature-align`: output distillation plus hidden-state and attention-map alignment.
enum FeatureAlignStage {
    static let featureKindName = "feature-align"
    static let featureKind = StageKind(name: featureKindName, parse: FeatureAlignConfiguration.init) { c, context, index in
        let objective = try FeatureAlignObjective(c, context: context, index: index)
        return try TrainingStage(settings: c.output.training, index: index, context: context, objective: objective, modelRole: "student",
                                 examples: objective.examples, validationExamples: context.data.validationTokens)
    }
}

/// The loss of `feature-align`: output_weight * (the output-distill loss) + feature_gradient_scale * (hidden_weight *
/// hidden MSE + attention_weight * attention MSE), the projections trained with the student.
final class FeatureAlignObjective: OutputDistillObjective {
    let features: FeatureAlignConfiguration
    let projections: ReplicaSet<HiddenProjection>
    var projection: HiddenProjection { projections.module }

    init(_ c: FeatureAlignConfiguration, context: RunContext, index: Int) throws {
        features = c
        // the curriculum checked the student's head count as it was written; a prune stage before may have changed it
        let hs = context.student.config.numAttentionHeads, ht = context.teacher.config.numAttentionHeads
        if c.attentionWeight > 0 && ht % hs != 0 && hs % ht != 0 {
            throw StageError.cannotRun(stage: index, reason: "attention maps need head counts that divide one another (the student has \(hs) "
                                       + "after pruning, the teacher \(ht)); set attention_weight: 0 here or prune to a count that divides \(ht)")
        }
        let map = c.pairs(studentLayers: context.student.config.numHiddenLayers, teacherLayers: context.teacher.config.numHiddenLayers,
                          sourceLayers: context.studentSourceLayers)
        var rng = RandomGenerator(seed: context.curriculum.seed &+ 0x9203 &+ UInt64(index))
        let projection = HiddenProjection(layerMap: map, studentWidth: context.student.config.hiddenSize,
                                          teacherWidth: context.teacher.config.hiddenSize, rng: &rng)
        projections = ReplicaSet(projection) { $0.replica() }
        context.register(role: "projection", store: projection.parameters)
        try super.init(c.output, context: context, index: index)
    }

    override var trained: [(role: String, store: ParameterStore)] { super.trained + [("projection", projection.parameters)] }

    override func replicaStores(_ replica: Int) -> [ParameterStore] { super.replicaStores(replica) + [projections[replica].parameters] }

    private var options: ForwardOptions {
        var o: ForwardOptions = []
        if features.hiddenWeight > 0 { o.insert(.hiddenStates) }
        if features.attentionWeight > 0 { o.insert(.attentions) }
        return o
    }

    private func attentionLoss(student: [Tensor], teacher: [Tensor]) -> Tensor {
        var total: Tensor?
        for pair in projection.layerMap {
            let l = attentionMapLoss(student: student[pair.student], teacher: teacher[pair.teacher])
            total = total.map { add($0, l) } ?? l
        }
        return scale(total!, 1 / Float(projection.layerMap.count))
    }

    // The output terms are means over target tokens, the feature terms means over every position of the rows.
    override func loss(_ shard: inout TraceShard, replica: Int) throws -> ShardLoss {
        let batch = shard.batch, studentModel = students[replica]
        let out: ShardLoss, student: HiddenOutput, teacher: HiddenOutput
        let cached = topK?.targets(shard: shard.index, of: shard.count, batch: batch)
        if topK == nil, let fused = fusedForward(batch, student: studentModel, options: options, dropout: &shard.dropout) {
            (out, student, teacher) = fused
        } else if let cached, let fused = fusedTopK(batch, student: studentModel, targets: cached, options: options, dropout: &shard.dropout) {
            // the teacher runs for its features only
            teacher = withNoGrad { teacherModel.forwardHidden(tokens: batch.tokens, batch: batch.batch, length: batch.length, options: options) }
            (out, student) = fused
        } else {
            let t = withNoGrad { teacherModel.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length, options: options) }
            let s = studentModel.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length, options: options, dropout: &shard.dropout)
            out = cached.map { outputLoss(student: s.logits, targets: $0, batch: batch) }
                ?? outputLoss(student: s.logits, teacher: t.logits, batch: batch)
            student = HiddenOutput(finalHidden: s.finalHidden, hiddenStates: s.hiddenStates, attentions: s.attentions)
            teacher = HiddenOutput(finalHidden: t.finalHidden, hiddenStates: t.hiddenStates, attentions: t.attentions)
        }
        var metrics = out.metrics
        metrics["output"] = (Double(out.perTarget!.toArray()[0]), .target)
        let projection = projections[replica]
        var feature: Tensor?
        if features.hiddenWeight > 0 {
            let h = projection.loss(studentHidden: student.hiddenStates, teacherHidden: teacher.hiddenStates)
            metrics["hidden_mse"] = (Double(h.toArray()[0]), .row)
            feature = scale(h, features.hiddenWeight)
        }
        if features.attentionWeight > 0 {
            let a = attentionLoss(student: student.attentions, teacher: teacher.attentions)
            metrics["attention_mse"] = (Double(a.toArray()[0]), .row)
            let term = scale(a, features.attentionWeight)
            feature = feature.map { add($0, term) } ?? term
        }
        return ShardLoss(perTarget: scale(out.perTarget!, features.outputWeight),
                         perRow: feature.map { scale($0, features.featureGradientScale) }, metrics: metrics)
    }

    override func validationMetrics(_ batch: TraceBatch, context: RunContext) throws -> [String: Double] {
        // one forward per model gives the output terms and the features
        let t = context.teacher.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length, options: options)
        let s = model.forward(tokens: batch.tokens, batch: batch.batch, length: batch.length, options: options)
        var m = outputValidationMetrics(student: s.logits, teacher: t.logits, batch: batch)
        if features.hiddenWeight > 0 {
            m["validation/hidden_mse"] = Double(projection.loss(studentHidden: s.hiddenStates, teacherHidden: t.hiddenStates).toArray()[0])
        }
        if features.attentionWeight > 0 {
            m["validation/attention_mse"] = Double(attentionLoss(student: s.attentions, teacher: t.attentions).toArray()[0])
        }
        return m
    }
}
