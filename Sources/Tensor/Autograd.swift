/// Backward information of a tensor produced by a recorded op: the inputs that need gradients and
/// the kernel that turns the output's gradient into their gradients (accumulating with `+=`).
struct Node {
    let parents: [Tensor]
    let backward: (_ outputGrad: Tensor) -> Void
}

/// Whether ops record backward information. Off inside `withNoGrad` (teacher forward, sampling).
public enum GradMode {
    /// True when ops record their backward kernels (task-local, so concurrent tasks do not interfere).
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording any op: outputs never require gradients.
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(false) { try body() }
}

extension Tensor {
    /// Attaches `backward` to `output` when grad mode is on and any input requires a gradient.
    ///
    /// The closure receives the output gradient and must accumulate into each input that
    /// `requiresGrad` (through `gradPointer()`); it must not capture `output` itself (that would
    /// keep the graph alive in a cycle).
    @inline(__always)
    public static func record(_ output: Tensor, inputs: [Tensor], _ backward: @escaping (Tensor) -> Void) {
        guard GradMode.isEnabled else { return }
        let parents = inputs.filter { $0.requiresGrad }
        guard !parents.isEmpty else { return }
        output.requiresGrad = true
        output.node = Node(parents: parents, backward: backward)
    }

    /// Reverse-mode differentiation from this tensor.
    ///
    /// Seeds the gradient with ones (or `seed`), walks the graph once in reverse topological order and
    /// accumulates into every leaf that requires a gradient (parameters, inputs). Intermediate graph
    /// nodes and their gradients are released as soon as they have been used.
    /// - Parameter seed: the gradient of some outer objective with respect to this tensor; ones if nil.
    public func backward(seed: Tensor? = nil) {
        precondition(requiresGrad, "backward() on a tensor that does not require a gradient")
        if let seed {
            precondition(seed.shape == shape, "backward seed shape \(seed.shape) != tensor shape \(shape)")
            let g = gradPointer()
            for i in 0..<count { g[i] += seed.ptr[i] }
        } else {
            let g = gradPointer()
            for i in 0..<count { g[i] += 1 }
        }
        for t in topologicalOrder().reversed() {
            precondition(!t.nodeConsumed, "backward() through a graph that an earlier backward() already consumed; "
                         + "add the losses and call backward() once, or recompute the forward pass")
            guard let node = t.node else { continue }
            t.node = nil
            t.nodeConsumed = true
            guard let g = t.grad else { continue }
            precondition(g.shape == t.shape, "gradient shape \(g.shape) != value shape \(t.shape)")
            node.backward(g)
            t.grad = nil  // an intermediate's gradient is never read again
        }
    }

    /// Tensors reachable through recorded nodes, each after all of its parents.
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            guard visited.insert(ObjectIdentifier(t)).inserted else { continue }
            stack.append((t, true))
            for p in t.node?.parents ?? [] where !visited.contains(ObjectIdentifier(p)) {
                stack.append((p, false))
            }
        }
        return order
    }
}
