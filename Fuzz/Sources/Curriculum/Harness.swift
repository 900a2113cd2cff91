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
    if let node = try? ConfigNode.parse(yaml: text, file: "fuzz.yaml") {
        var budget = 100_000
        walk(node, budget: &budget)
    }
    _ = try? Curriculum(text: text, file: "fuzz.yaml", baseDirectory: baseDirectory)
    return 0
}

/// Reads every node of the tree through the accessors a settings reader uses (keys, child, elements, values), at most
/// `budget` nodes: aliases can make a small text a very large tree.
func walk(_ node: ConfigNode, budget: inout Int) {
    guard budget > 0 else { return }
    budget -= 1
    _ = (node.intValue, node.line, node.isScalar, node.isPresent)
    for key in node.keys {
        if let child = try? node.child(key) { walk(child, budget: &budget) }
    }
    if let items = try? node.elements() {
        for item in items { walk(item, budget: &budget) }
    }
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzCurriculum) }
}
