import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Telemetry
import Testing

// Helpers of the command tests that moved here from StagesTests and TelemetryTests (the same code as there, so the
// moved files read unchanged): temporary folders, file text, a captured console, and the elements of a written SVG.

/// Runs `body` with a new empty folder under the system temp dir and removes the folder afterwards.
func withTemporaryFolder<T>(_ label: String, _ body: (String) throws -> T) throws -> T {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("cli-tests-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Runs `body` with a run folder path under the system temp dir (not created) and removes it afterwards.
func withRunFolder<T>(_ label: String, _ body: (String) throws -> T) throws -> T {
    let dir = NSTemporaryDirectory() + "stages-\(label)-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

/// The text of a file.
func readText(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8)
}

/// Names in a folder, sorted.
func folderListing(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// Text written to a console, collected for inspection.
final class CapturedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var collected = ""

    /// Everything written so far.
    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return collected
    }

    func append(_ s: String) {
        lock.lock()
        collected += s
        lock.unlock()
    }

    /// A console (not a terminal unless asked) that writes here.
    func console(isTerminal: Bool = false, width: Int = 100) -> TerminalConsole {
        TerminalConsole(isTerminal: isTerminal, width: width) { [self] in append($0) }
    }
}

/// True when `svg` is well-formed XML (checked by Foundation's XML parser, not by our writer).
func isWellFormedXML(_ svg: String) -> Bool {
    XMLParser(data: Data(svg.utf8)).parse()
}

/// The elements of `svg` (one per line, as SVGDocument writes them) carrying `class="name"`.
func elements(_ svg: String, class name: String) -> [String] {
    svg.split(separator: "\n").map(String.init).filter { $0.contains("class=\"\(name)\"") }
}

/// The text content of the elements with `class="name"`.
func texts(_ svg: String, class name: String) -> [String] {
    elements(svg, class: name).compactMap { line in
        guard let open = line.firstIndex(of: ">"), let close = line.range(of: "</text>") else { return nil }
        return String(line[line.index(after: open)..<close.lowerBound])
    }
}

/// The tiny curriculum the command tests run (the same text as StagesTests' `CurriculumTests.tiny`, which the
/// moved tests name): 2 x 32 teacher, 1 x 16 student, 8 addition rows.
enum CurriculumTests {
    static let tiny = """
    name: t
    seed: 1
    data: {domains: [addition], train_size: 8, validation_size: 4, max_length: 96}
    teacher: {hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128}
    student: {layers: 1, hidden_size: 16, heads: 2, intermediate_size: 32}
    """
}
