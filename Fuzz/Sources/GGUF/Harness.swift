import FuzzSupport
import Foundation
import ModelIO

// The GGUF reader and importer: any file must open or give a `ModelFileError`; every tensor of a file that
// opens must dequantize or be refused; the model config, the tokenizer in the metadata and the whole import
// must succeed or be refused, never crash or allocate what the file merely claims.
let scratch = ScratchFile(suffix: ".gguf")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    scratch.write(data, size)
    guard let file = try? GGUFFile(path: scratch.path) else { return 0 }
    for tensor in file.tensors { _ = try? file.floats(tensor.name) }
    _ = try? GGUFImporter.config(of: file)
    if let tokenizer = (try? GGUFImporter.tokenizer(of: file)) ?? nil {
        let ids = tokenizer.encode("Natalia sold 48/2 = 24 clips in May.\n<|im_end|>")
        _ = tokenizer.decode(ids)
    }
    _ = try? GGUFImporter.load(path: scratch.path)
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzGGUF) }
}
