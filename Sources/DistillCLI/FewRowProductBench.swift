import Foundation
import Model
import Tensor

/// `distill bench --lm-phase products` (not in the lm list): one decoding step's products at SmolLM2-135M's shape,
/// x (M, K) W^T over every Linear weight of the 30 layers and the tied output layer (540 MB, more than the L3
/// cache), through `fewRowProduct` and through split sgemm, for M from 1 to 64: where the few-row kernel stops
/// paying (`FewRowProduct.maximumRows`). Figures `products_m<M>_few_row_ms` and `products_m<M>_sgemm_ms`, each a
/// median over `reps` steps.
struct FewRowProductBench {
    let reps: Int
    static let rowCounts = [1, 4, 8, 16, 24, 32, 40, 48, 64]

    func run() throws -> [String: Double] {
        var rng = RandomGenerator(seed: 0)
        let model = try Transformer(config: LMBench.teacher, rng: &rng)
        let weights = model.parameters.views.filter { $0.shape.count == 2 && $0.name != "model.embed_tokens.weight" }
            .map { model.parameters[$0.name] } + [model.fusedOutputWeight!]
        let widest = weights.map { $0.shape[1] }.max()!, tallest = weights.map { $0.shape[0] }.max()!
        var out: [String: Double] = [:]
        for m in Self.rowCounts {
            let x = randomInputs(m * widest, seed: UInt64(m))
            let y = Tensor.uninitialized([m, tallest])
            func step(fewRows: Bool) {
                for w in weights {
                    let n = w.shape[0], k = w.shape[1]
                    if fewRows {
                        fewRowProduct(m: m, n: n, k: k, x: x.ptr, ldx: k, w: w.ptr, ldw: k, y: y.ptr, ldy: n)
                    } else {
                        sgemm(transA: false, transB: true, m: m, n: n, k: k, a: x.ptr, lda: k, b: w.ptr, ldb: k, beta: 0, c: y.ptr, ldc: n)
                    }
                }
            }
            // interleaved rounds, so that both see the same load
            var few: [Double] = [], blas: [Double] = []
            step(fewRows: true); step(fewRows: false)
            for _ in 0..<reps {
                few.append(seconds { step(fewRows: true) })
                blas.append(seconds { step(fewRows: false) })
            }
            out["products_m\(m)_few_row_ms"] = median(few) * 1e3
            out["products_m\(m)_sgemm_ms"] = median(blas) * 1e3
        }
        return out
    }

    private func randomInputs(_ count: Int, seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return Tensor(shape: [count], values: (0..<count).map { _ in rng.nextNormal() })
    }

    private func seconds(_ body: () -> Void) -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }

    private func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
