import Foundation
import ModelIO
import Testing
import Tokenizers

// The read side of a model folder (issue 27: every file error names the path, the cause in words and the fix):
// a config.json, tokenizer.json or weight index that is a directory says so instead of Foundation's text.

@Suite("model folder read errors")
struct ReadPathErrorTests {
    private func folder(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "read-path-\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("config.json, tokenizer.json and model.safetensors.index.json that are folders: the path and 'is a directory'")
    func directoriesWhereFilesBelong() throws {
        let dir = try folder("dirs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["config.json", "tokenizer.json"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + name, withIntermediateDirectories: true)
        }
        var messages: [String] = []
        do { _ = try HuggingFaceImporter.readConfig(folder: dir) } catch { messages.append("\(error)") }
        do { _ = try BPETokenizer.load(path: dir + "/tokenizer.json") } catch { messages.append("\(error)") }
        #expect(messages.count == 2)
        for (m, file) in zip(messages, ["config.json", "tokenizer.json"]) {
            #expect(m.contains(dir + "/" + file), "\(m)")
            #expect(m.contains("is a directory, not a file"), "\(m)")
            #expect(!m.contains("NSCocoaErrorDomain") && !m.contains("couldn’t be opened"), "\(m)")
        }
    }
}
