import Checkpoint
import Foundation
import Model
import Tensor

// Shared helpers for the Eval tests: the published data files, scratch folders, tiny models and checkpoints.

/// `../shared/data/<relative>` from the package root (located from this file, so tests run from any directory).
func sharedData(_ relative: String) -> String {
    URL(fileURLWithPath: #filePath)          // <root>/Tests/EvalTests/EvalTestSupport.swift
        .deletingLastPathComponent()         // <root>/Tests/EvalTests
        .deletingLastPathComponent()         // <root>/Tests
        .deletingLastPathComponent()         // <root>
        .deletingLastPathComponent()         // the folder holding the repository and shared/
        .appendingPathComponent("shared/data")
        .appendingPathComponent(relative).path
}

/// Runs `body` with a new empty folder and removes it afterwards.
func withScratchFolder<T>(_ label: String, _ body: (String) throws -> T) throws -> T {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("eval-tests-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Writes `text` to `folder/name` and returns the path.
@discardableResult
func writeText(_ text: String, to folder: String, _ name: String) throws -> String {
    let path = (folder as NSString).appendingPathComponent(name)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
}

/// A tiny transformer over the math tokenizer (random weights: it writes nonsense, fast).
func tinyModel(seed: UInt64, hidden: Int = 16, layers: Int = 1, context: Int = 96) throws -> Transformer {
    var rng = RandomGenerator(seed: seed)
    let config = TransformerConfig(vocabSize: Tokenizer.math.vocabularySize, hiddenSize: hidden, intermediateSize: 2 * hidden,
                                   numHiddenLayers: layers, numAttentionHeads: 2, maxPositionEmbeddings: context)
    return try Transformer(config: config, rng: &rng)
}

/// Writes a checkpoint holding `roles` (role name -> model) with the math tokenizer (unless `tokenizer` is false).
func writeCheckpoint(_ path: String, roles: [(String, Transformer)], tokenizer: Bool = true) throws {
    try CheckpointWriter.save(CheckpointContents(curriculum: "stages: []\n",
                                                 models: roles.map { ModelSnapshot(role: $0.0, configJSON: $0.1.config.jsonString(), store: $0.1.parameters) },
                                                 tokenizer: tokenizer ? .math : nil), to: path)
}

/// Parses a JSON file into a dictionary.
func readJSONObject(_ path: String) throws -> [String: Any]? {
    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
}
