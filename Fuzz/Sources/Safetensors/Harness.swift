import FuzzSupport
import Foundation
import ModelIO

// The safetensors reader: any file must open or give a `ModelFileError` with the offset; every tensor of a
// file that opens must read as floats or be refused the same way.
let scratch = ScratchFile(suffix: ".safetensors")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    scratch.write(data, size)
    guard let file = try? SafetensorsFile(path: scratch.path) else { return 0 }
    for name in file.tensorNames {
        _ = try? file.info(name)
        _ = try? file.floats(name)
    }
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzSafetensors) }
}
