/// Where one named parameter lives in its store's flat buffers.
public struct ParameterView: Sendable, Equatable {
    /// Full name, e.g. `model.layers.0.self_attn.q_proj.weight`.
    public let name: String
    /// Element offset in the flat buffers.
    public let offset: Int
    /// Shape of the parameter.
    public let shape: [Int]
    /// Whether AdamW applies weight decay (false for norms, biases).
    public var decay: Bool
    /// Frozen parameters get no gradient and no optimizer update.
    public var frozen: Bool
    /// Number of elements.
    public var count: Int { shapeCount(shape) }
}

/// One model's parameters in one flat buffer, with named views; gradients in a mirror buffer.
///
/// Zeroing gradients, clipping, the optimizer step and checkpointing are each one pass over
/// contiguous memory. Parameter tensors are views into `values` whose `grad` views `gradients`.
public final class ParameterStore: @unchecked Sendable {
    /// The views in registration order.
    public private(set) var views: [ParameterView]
    /// All parameter values, concatenated in `views` order.
    public let values: Storage
    /// All gradients, same layout as `values`.
    public let gradients: Storage
    private var tensors: [Tensor]
    private var index: [String: Int]

    /// Builds a store for the given (name, shape, decay) specs, zero-initialised.
    public init(_ specs: [(name: String, shape: [Int], decay: Bool)]) {
        var views: [ParameterView] = []
        var index: [String: Int] = [:]
        var offset = 0
        for s in specs {
            precondition(index[s.name] == nil, "duplicate parameter name \(s.name)")
            index[s.name] = views.count
            views.append(ParameterView(name: s.name, offset: offset, shape: s.shape, decay: s.decay, frozen: false))
            offset += shapeCount(s.shape)
        }
        self.views = views
        self.index = index
        let values = Storage(count: offset), gradients = Storage(count: offset)
        self.values = values
        self.gradients = gradients
        tensors = views.map { v in
            let t = Tensor(shape: v.shape, storage: values, offset: v.offset, requiresGrad: true)
            t.grad = Tensor(shape: v.shape, storage: gradients, offset: v.offset)
            return t
        }
    }

    /// A store over the same values (and views, frozen flags included) with gradients of its own, zeroed:
    /// a model built on it computes gradients concurrently with this store's model without touching its
    /// gradients (data-parallel halves of a batch; sum them back with `addGradients(from:)`).
    public func sharingValues() -> ParameterStore { ParameterStore(sharing: self) }

    private init(sharing other: ParameterStore) {
        views = other.views
        index = other.index
        values = other.values
        let gradients = Storage(count: other.count)
        self.gradients = gradients
        tensors = other.views.map { v in
            let t = Tensor(shape: v.shape, storage: other.values, offset: v.offset, requiresGrad: !v.frozen)
            t.grad = Tensor(shape: v.shape, storage: gradients, offset: v.offset)
            return t
        }
    }

    /// Adds another store's gradients (same layout) to this store's.
    public func addGradients(from other: ParameterStore) {
        precondition(other.views.map(\.shape) == views.map(\.shape), "addGradients: parameter layouts differ")
        vaxpy(count, 1, other.gradients.base, gradients.base)
    }

    /// Total number of parameters.
    public var count: Int { values.count }

    /// Parameter names in order.
    public var names: [String] { views.map(\.name) }

    /// Whether a parameter of this name exists.
    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// The tensor view of parameter `name` (values and gradient share the flat buffers).
    public subscript(_ name: String) -> Tensor {
        guard let i = index[name] else { preconditionFailure("no parameter named \(name); have \(names.prefix(6))...") }
        return tensors[i]
    }

    /// The view record for `name`, if any.
    public func view(_ name: String) -> ParameterView? { index[name].map { views[$0] } }

    /// Freezes or unfreezes one parameter (a frozen one records no gradient and is not updated).
    public func setFrozen(_ name: String, _ frozen: Bool) {
        guard let i = index[name] else { preconditionFailure("no parameter named \(name)") }
        views[i].frozen = frozen
        tensors[i].requiresGrad = !frozen
    }

    /// Freezes or unfreezes every parameter.
    public func setAllFrozen(_ frozen: Bool) { for v in views { setFrozen(v.name, frozen) } }

    /// Sets every gradient to zero (one memset).
    public func zeroGradients() { gradients.base.update(repeating: 0, count: gradients.count) }

    /// Copies every value from another store with the same layout.
    public func copyValues(from other: ParameterStore) {
        precondition(other.views.map(\.shape) == views.map(\.shape), "copyValues: parameter layouts differ")
        values.base.update(from: other.values.base, count: count)
    }

    /// Fills every parameter through `initializer(view, rng)`.
    public func initialize(rng: inout RandomGenerator, _ initializer: (ParameterView, inout RandomGenerator) -> [Float]) {
        for v in views {
            let vals = initializer(v, &rng)
            precondition(vals.count == v.count, "initializer gave \(vals.count) values for \(v.name) \(v.shape)")
            vals.withUnsafeBufferPointer { (values.base + v.offset).update(from: $0.baseAddress!, count: v.count) }
        }
    }

    /// Global L2 norm of the gradients of trainable parameters.
    public func gradientNorm() -> Float {
        var total: Double = 0
        forEachTrainableRange { off, n in
            total += Double(vdot(gradients.base + off, gradients.base + off, n))
        }
        return Float(total.squareRoot())
    }

    /// Global-norm gradient clipping: scales all gradients by maxNorm / (norm + 1e-6) when norm > maxNorm
    /// (`GradientClip.apply` over this store alone). The direction is unchanged. Returns the norm before clipping.
    @discardableResult
    public func clipGradients(maxNorm: Float) -> Float { GradientClip.apply(to: [self], maxNorm: maxNorm) }

    /// Multiplies the gradient of every trainable (non-frozen) parameter by `factor`.
    public func scaleTrainableGradients(by factor: Float) {
        forEachTrainableRange { off, n in
            let g = gradients.base + off
            for i in 0..<n { g[i] *= factor }
        }
    }

    /// Calls `body(offset, count)` for each maximal run of trainable (non-frozen) parameters.
    func forEachTrainableRange(_ body: (Int, Int) -> Void) {
        var start = -1, end = -1
        for v in views where !v.frozen {
            if v.offset == end { end += v.count; continue }
            if start >= 0 { body(start, end - start) }
            start = v.offset; end = v.offset + v.count
        }
        if start >= 0 { body(start, end - start) }
    }
}
