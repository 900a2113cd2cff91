import FuzzSupport
import Foundation
import Stages

// The YAML curriculum and its strict decoding: any text must give a `Curriculum` or a `CurriculumError`
// (file, line, key), never a crash, a hang or unbounded memory. The base directory is an empty folder, so
// relative file names in the input refer to nothing.
let baseDirectory: String = {
    let path = NSTemporaryDirectory() + "tracedistill-fuzz-curriculum-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCurriculum(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = fuzzText(data, size)
    if let node = try? ConfigNode.parse(yaml: text, file: "fuzz.yaml") { _ = node.jsonValue() }
    _ = try? Curriculum(text: text, file: "fuzz.yaml", baseDirectory: baseDirectory)
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzCurriculum) }
}
