import Checkpoint
import FuzzSupport
import Foundation

// The checkpoint reader (HDF5): any file must open and read, or give a `CheckpointError` naming the file and
// the object; every accessor is tried on its own so a refusal by one does not hide the others.
let scratch = ScratchFile(suffix: ".h5")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    scratch.write(data, size)
    guard let reader = try? CheckpointReader(path: scratch.path) else { return 0 }
    _ = try? reader.verify()
    _ = try? reader.run()
    _ = try? reader.stages()
    _ = try? reader.tokenizer()
    _ = try? reader.tokenizerJSON()
    _ = try? reader.chatTemplate()
    _ = try? reader.promptTemplate()
    _ = try? reader.artifacts()
    _ = try? reader.metrics()
    for role in (try? reader.roles()) ?? [] {
        _ = try? reader.configJSON(role: role)
        _ = try? reader.transformerConfig(role: role)
        _ = try? reader.parameters(role: role)
        _ = try? reader.rawParameters(role: role)
        _ = try? reader.parameterHash(role: role)
        _ = try? reader.loadTransformer(role: role)
    }
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzCheckpoint) }
}
