import Foundation
import Tensor

/// SHA-256 over a parameter store's views in store order: for each, its name, its shape ("AxB") and its float32
/// bytes; the recipe of `CheckpointReader.parameterHash(role:)` (`distill inspect --hash`), computed from memory
/// without copying the weights.
public func parameterHash(_ store: ParameterStore) -> String {
    var hasher = SHA256()
    for v in store.views {
        hasher.update(data: Array(v.name.utf8))
        hasher.update(data: Array(v.shape.map(String.init).joined(separator: "x").utf8))
        hasher.update(bufferPointer: UnsafeRawBufferPointer(start: store.values.base + v.offset, count: v.count * 4))
    }
    return hasher.finalize().map { String(format: "%02x", $0) }.joined()
}
