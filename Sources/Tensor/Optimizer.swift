import CPrefetch
import Foundation

/// An optimizer over one parameter store's flat buffers.
public protocol Optimizer: AnyObject {
    /// The store it updates.
    var store: ParameterStore { get }
    /// Number of updates applied so far.
    var stepCount: Int { get }
    /// Applies one update with learning rate `learningRate` using the store's current gradients.
    func step(learningRate: Float)
}

/// AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, applied only to views whose
/// `decay` flag is set; frozen views are skipped. Moments mirror the parameter buffer.
public final class AdamW: Optimizer {
    public let store: ParameterStore
    /// Exponential decay of the first moment.
    public var beta1: Float
    /// Exponential decay of the second moment.
    public var beta2: Float
    /// Denominator term for numerical stability.
    public var epsilon: Float
    /// Decoupled weight-decay coefficient (multiplied by the learning rate).
    public var weightDecay: Float
    /// First moments, same layout as the parameters.
    public let m: Storage
    /// Second moments, same layout as the parameters.
    public let v: Storage
    public var stepCount = 0

    /// - Parameters: the store and the usual hyperparameters (PyTorch defaults, weight decay 0.01).
    public init(store: ParameterStore, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0.01) {
        self.store = store
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        m = Storage(count: store.count)
        v = Storage(count: store.count)
    }

    public func step(learningRate lr: Float) {
        stepCount += 1
        let t = Float(stepCount)
        let c1 = 1 - Foundation.pow(beta1, t), c2 = 1 - Foundation.pow(beta2, t)
        let p = store.values.base, g = store.gradients.base, mp = m.base, vp = v.base
        let b1 = beta1, b2 = beta2, eps = epsilon
        for view in store.views where !view.frozen {
            let decay: Float = view.decay ? 1 - lr * weightDecay : 1
            // elementwise, so splitting a view across threads gives the same bits
            Parallel.forRanges(view.count, work: view.count * 12) { r in
                var i = view.offset + r.lowerBound
                let hi = view.offset + r.upperBound
                while i + simdWidth <= hi {
                    let gi = UnsafeRawPointer(g + i).loadUnaligned(as: Vec.self)
                    let mi = b1 * UnsafeRawPointer(mp + i).loadUnaligned(as: Vec.self) + (1 - b1) * gi
                    let vi = b2 * UnsafeRawPointer(vp + i).loadUnaligned(as: Vec.self) + (1 - b2) * gi * gi
                    UnsafeMutableRawPointer(mp + i).storeBytes(of: mi, as: Vec.self)
                    UnsafeMutableRawPointer(vp + i).storeBytes(of: vi, as: Vec.self)
                    let pi = UnsafeRawPointer(p + i).loadUnaligned(as: Vec.self)
                    // tracedistill_sqrt16: the same correctly rounded roots as squareRoot(), 16 at once
                    let update = pi * decay - lr * (mi / c1) / (tracedistill_sqrt16(vi / c2) + eps)
                    UnsafeMutableRawPointer(p + i).storeBytes(of: update, as: Vec.self)
                    i += simdWidth
                }
                while i < hi {
                    let gi = g[i]
                    let mi = b1 * mp[i] + (1 - b1) * gi
                    let vi = b2 * vp[i] + (1 - b2) * gi * gi
                    mp[i] = mi
                    vp[i] = vi
                    p[i] = p[i] * decay - lr * (mi / c1) / ((vi / c2).squareRoot() + eps)
                    i += 1
                }
            }
        }
    }
}

/// SGD with (heavy-ball) momentum and optional L2 weight decay on decay-flagged views, as PyTorch's SGD.
public final class SGD: Optimizer {
    public let store: ParameterStore
    /// Momentum coefficient (0 for plain SGD).
    public var momentum: Float
    /// L2 penalty added to the gradient of decay-flagged views.
    public var weightDecay: Float
    /// Velocity buffer, same layout as the parameters.
    public let velocity: Storage
    public var stepCount = 0

    public init(store: ParameterStore, momentum: Float = 0.9, weightDecay: Float = 0) {
        self.store = store
        self.momentum = momentum
        self.weightDecay = weightDecay
        velocity = Storage(count: store.count)
    }

    public func step(learningRate lr: Float) {
        let p = store.values.base, g = store.gradients.base, b = velocity.base
        let first = stepCount == 0
        stepCount += 1
        for view in store.views where !view.frozen {
            let wd: Float = view.decay ? weightDecay : 0
            for i in view.offset..<(view.offset + view.count) {
                let gi = g[i] + wd * p[i]
                b[i] = first ? gi : momentum * b[i] + gi
                p[i] -= lr * b[i]
            }
        }
    }
}
