import Tensor

extension Transformer {
    /// A student made of this model's chosen decoder layers, in the given order, with its embeddings, final norm
    /// and output head (DistilBERT's initialisation: Sanh et al. 2019 took every second layer of BERT). Student
    /// layer i is a copy of teacher layer `layers[i]`; the weights are copied, not shared.
    /// - Throws: `ConfigurationError` (key `from_teacher.layers`) for an empty list, a repeated layer or one out of range.
    public func cut(layers: [Int]) throws -> Transformer {
        let n = config.numHiddenLayers
        guard !layers.isEmpty else {
            throw ConfigurationError(key: "from_teacher.layers", message: "list at least one of the teacher's \(n) layers (0 to \(n - 1))")
        }
        if let bad = layers.first(where: { $0 < 0 || $0 >= n }) {
            throw ConfigurationError(key: "from_teacher.layers", message: "layer \(bad) does not exist; the teacher has layers 0 to \(n - 1)")
        }
        guard Set(layers).count == layers.count else {
            throw ConfigurationError(key: "from_teacher.layers", message: "\(layers) names a layer twice; list each teacher layer once")
        }
        var c = config
        c.numHiddenLayers = layers.count
        let student = try Transformer(config: c)
        student.dropoutProbability = dropoutProbability
        student.copyLayers(from: self, layers: layers)
        return student
    }

    /// Overwrites this model's weights with `teacher`'s: layer i from teacher layer `layers[i]`, embeddings, final
    /// norm and head as they are (a student cut from a teacher that has since been trained further).
    public func copyLayers(from teacher: Transformer, layers: [Int]) {
        precondition(layers.count == config.numHiddenLayers && layers.allSatisfy { $0 >= 0 && $0 < teacher.config.numHiddenLayers },
                     "copyLayers: \(layers) for \(config.numHiddenLayers) layers from a teacher of \(teacher.config.numHiddenLayers)")
        for view in parameters.views {
            var name = view.name
            if let (index, rest) = Transformer.layerOf(name) { name = "model.layers.\(layers[index])." + rest }
            let source = teacher.parameters[name]
            precondition(source.shape == view.shape, "copyLayers: \(name) is \(source.shape) in the teacher, \(view.shape) here")
            parameters[view.name].ptr.update(from: source.ptr, count: view.count)
        }
    }

    /// The decoder layer a parameter name belongs to and the rest of the name (`model.layers.3.mlp.up_proj.weight`
    /// -> (3, `mlp.up_proj.weight`)); nil for the embeddings, the final norm and the head.
    static func layerOf(_ name: String) -> (index: Int, rest: Substring)? {
        guard name.hasPrefix("model.layers.") else { return nil }
        let tail = name.dropFirst("model.layers.".count)
        guard let index = Int(tail.prefix { $0.isNumber }) else { return nil }
        return (index, tail.drop { $0.isNumber }.dropFirst())
    }

    /// The layers `every: K` keeps of `count`: 0, K, 2K, ... (DistilBERT's every-other-layer is K = 2).
    public static func everyKthLayer(_ k: Int, of count: Int) -> [Int] { Array(stride(from: 0, to: count, by: max(k, 1))) }
}
