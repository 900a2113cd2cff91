import CHDF5
import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// Checkpoint-specific test helpers: temporary folders, a full sample checkpoint with every kind of
// value, bit-pattern comparison of stores, running child processes with a timeout (the `distill`
// binary, h5py in a virtualenv, sha256sum, h5ls/h5dump), damaging files on disk, and a hand-made
// HDF5 writer (the C API directly, not the project's wrapper) for files CheckpointWriter refuses to
// produce. (`@testable import Checkpoint` is not an option: `swift test -c release` does not build
// the library for testing.)

// MARK: - Bit patterns

/// The bit patterns of a store's whole flat buffer.
func storeBits(_ store: ParameterStore) -> [UInt32] {
    UnsafeBufferPointer(start: store.values.base, count: store.count).map(\.bitPattern)
}

/// The bit patterns of a raw float buffer (an optimizer moment).
func bufferBits(_ storage: Storage) -> [UInt32] {
    UnsafeBufferPointer(start: storage.base, count: storage.count).map(\.bitPattern)
}

/// Records an issue naming the first differing element when two bit-pattern arrays differ.
@discardableResult
func expectSameBits<T: BinaryInteger>(_ actual: [T], _ expected: [T], _ what: String,
                                      sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
    guard actual.count == expected.count else {
        Issue.record("\(what): \(actual.count) elements, expected \(expected.count)", sourceLocation: sourceLocation)
        return false
    }
    guard let i = actual.indices.first(where: { actual[$0] != expected[$0] }) else { return true }
    let differing = actual.indices.filter { actual[$0] != expected[$0] }.count
    Issue.record("\(what): \(differing) of \(actual.count) elements differ; first at [\(i)]: bits 0x\(String(actual[i], radix: 16)) expected 0x\(String(expected[i], radix: 16))",
                 sourceLocation: sourceLocation)
    return false
}

/// Fills every parameter of `store` (norms and biases too) with seeded normal values, then plants
/// awkward floats (negative zero, a subnormal, the largest finite, a tiny normal) at the start, so a
/// round trip that rounds, flushes or reorders anything shows up in the bit patterns.
func scramble(_ store: ParameterStore, seed: UInt64) {
    var rng = RandomGenerator(seed: seed)
    let p = store.values.base
    for i in 0..<store.count { p[i] = rng.nextNormal() * 0.5 }
    let awkward: [Float] = [-0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.leastNormalMagnitude, 1e-30, -3.0e38]
    for (i, x) in awkward.enumerated() where i < store.count { p[i] = x }
}

/// A small transformer with grouped-query attention and q/k/v biases (so every kind of HF name appears).
func studentConfig() -> TransformerConfig {
    TransformerConfig(vocabSize: 13, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4,
                      numKeyValueHeads: 2, rmsNormEps: 1e-5, ropeTheta: 500_000, maxPositionEmbeddings: 32, qkvBias: true)
}

/// A second, different architecture (tied embeddings, three layers, wider).
func teacherConfig() -> TransformerConfig {
    TransformerConfig(vocabSize: 13, hiddenSize: 24, intermediateSize: 40, numHiddenLayers: 3, numAttentionHeads: 4,
                      maxPositionEmbeddings: 32, tieWordEmbeddings: true)
}

/// A transformer with scrambled weights.
func scrambledTransformer(_ config: TransformerConfig, seed: UInt64) throws -> Transformer {
    var rng = RandomGenerator(seed: seed)
    let model = try Transformer(config: config, rng: &rng)
    scramble(model.parameters, seed: seed &+ 1000)
    return model
}

/// A store with the same layout as `store` whose every value is `value` (a sentinel that a failed load must not touch).
func fill(_ store: ParameterStore, with value: Float) {
    store.values.base.update(repeating: value, count: store.count)
}

// MARK: - A full sample checkpoint

/// Checkpoint contents with every kind of value, plus the live objects they came from.
struct SampleCheckpoint {
    let student: Transformer
    let teacher: Transformer
    let projection: HiddenProjection
    let valueHead: ValueHead
    let studentOptimizer: AdamW
    let valueHeadOptimizer: AdamW
    let contents: CheckpointContents

    /// Curriculum YAML with non-ASCII text (a Greek key, CJK in a string, an arrow).
    static let curriculum = """
        # resolved curriculum
        name: demo
        stages:
          - kind: output-distill
            α: 0.9
            temperature: {initial: 2.0, final: 1.0}
            note: "温度 → 1"
          - kind: ppo
            kl: {target: 6.0}

        """

    /// Training batch for the student's real optimizer steps.
    static let batchTokens: [Int32] = [1, 5, 7, 3, 9, 11, 2, 4, 1, 8, 6, 10, 12, 3, 5, 7]
    static let batchTargets: [Int32] = [5, 7, 3, 9, 11, 2, 4, 0, 8, 6, 10, 12, 3, 5, 7, 0]

    /// One real AdamW step of the student on the fixed batch (cross-entropy, backward, update).
    static func studentStep(_ model: Transformer, _ optimizer: AdamW) {
        model.parameters.zeroGradients()
        let loss = crossEntropy(model.forward(tokens: batchTokens, batch: 2, length: 8).logits, targets: batchTargets)
        loss.backward()
        optimizer.step(learningRate: 3e-3)
    }

    static func make() throws -> SampleCheckpoint {
        let student = try scrambledTransformer(studentConfig(), seed: 11)
        let teacher = try scrambledTransformer(teacherConfig(), seed: 22)
        var rng = RandomGenerator(seed: 33)
        let projection = HiddenProjection(layerMap: HiddenProjection.uniformLayerMap(studentLayers: 2, teacherLayers: 3),
                                          studentWidth: 16, teacherWidth: 24, rng: &rng)
        let valueHead = ValueHead(hiddenSize: 16, rng: &rng)
        scramble(valueHead.parameters, seed: 44)

        // Real AdamW steps: three on the student, two on the value head with seeded gradients.
        let studentOptimizer = AdamW(store: student.parameters, weightDecay: 0.01)
        for _ in 0..<3 { studentStep(student, studentOptimizer) }
        let valueHeadOptimizer = AdamW(store: valueHead.parameters, beta2: 0.99, weightDecay: 0)
        for step in 0..<2 {
            var g = RandomGenerator(seed: 55 &+ UInt64(step))
            for i in 0..<valueHead.parameters.count { valueHead.parameters.gradients.base[i] = g.nextNormal() }
            valueHeadOptimizer.step(learningRate: 1e-2)
        }

        var runRng = RandomGenerator(seed: 66)
        for _ in 0..<17 { _ = runRng.next() }
        let run = RunRecord(stageIndex: 2, globalStep: (1 << 33) + 7, rngState: runRng.stateBytes, validationMetric: 0.1 + 0.2)

        var stages: [StageRecord] = [
            StageRecord(kind: "output-distill", state: "completed", step: 500, data: DataPosition(epoch: 3, index: 0),
                        controllers: ["temperature": ["value": 1.0, "initial": 2.0, "final": 1.0, "decay": 0.995]]),
            StageRecord(kind: "hidden-distill", state: "running", step: 17, data: DataPosition(epoch: 2, index: 1023),
                        controllers: ["kl": ["coefficient": 0.05, "target": 6.0, "horizon": 10_000],
                                      "alpha": ["value": -0.0, "min": .leastNonzeroMagnitude, "max": 1e300, "third": 1.0 / 3.0]]),
            StageRecord(kind: "ppo", state: "failed", step: 3, data: DataPosition(epoch: 0, index: 96),
                        failureReason: "loss became NaN at step 3 (α = 0.9, kl → ∞)",
                        controllers: ["kl": ["coefficient": 0.2, "target": 6.0]]),
        ]
        // Twelve stages in all, so "10" and "11" must sort after "2" (numeric, not name, order).
        for i in 3..<12 {
            stages.append(StageRecord(kind: "eval-\(i)", state: "pending", step: 0, data: DataPosition(epoch: i, index: i * 7)))
        }

        let metrics: [Int: [String: [Double]]] = [
            0: ["step": [1, 2, 3, 4], "loss": [2.5, 2.25, 0.1 + 0.2, Double.leastNormalMagnitude / 7], "temperature": [2.0, 1.5, 1.25, 1.0]],
            1: ["loss": [-0.0, .infinity, -.infinity, .nan], "kl": [0.5, 0.25]],
            2: ["reward": []],
            10: ["reward": [0.75], "kl": [Double.pi]],
        ]

        let contents = CheckpointContents(
            curriculum: curriculum,
            models: [
                ModelSnapshot(role: "student", configJSON: student.config.jsonString(), store: student.parameters),
                ModelSnapshot(role: "teacher", configJSON: teacher.config.jsonString(), store: teacher.parameters),
                ModelSnapshot(role: "projection", configJSON: #"{"layer_map": [[0, 1], [1, 2]]}"#, store: projection.parameters),
                ModelSnapshot(role: "value_head", configJSON: nil, store: valueHead.parameters),
            ],
            optimizers: [OptimizerSnapshot(role: "student", optimizer: studentOptimizer),
                         OptimizerSnapshot(role: "value_head", optimizer: valueHeadOptimizer)],
            run: run, stages: stages,
            tokenizer: Tokenizer(characters: Array("0123456789+-=αβ→ ")),
            metrics: metrics)
        return SampleCheckpoint(student: student, teacher: teacher, projection: projection, valueHead: valueHead,
                                studentOptimizer: studentOptimizer, valueHeadOptimizer: valueHeadOptimizer, contents: contents)
    }
}

/// Writes a checkpoint holding one transformer under `role` (plus the math tokenizer) and returns the model.
@discardableResult
func writeModelCheckpoint(_ path: String, config: TransformerConfig = studentConfig(), seed: UInt64 = 7,
                          role: String = "student", run: RunRecord = RunRecord(),
                          prepare: (Transformer) -> Void = { _ in }) throws -> Transformer {
    let model = try scrambledTransformer(config, seed: seed)
    prepare(model)
    try CheckpointWriter.save(CheckpointContents(curriculum: "stages: []\n",
                                                 models: [ModelSnapshot(role: role, configJSON: config.jsonString(), store: model.parameters)],
                                                 run: run, tokenizer: .math), to: path)
    return model
}

// MARK: - Damaging files

/// A copy of `source` cut to its first `length` bytes.
func writeTruncatedCopy(of source: String, to target: String, length: Int) throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: source))
    try data.prefix(length).write(to: URL(fileURLWithPath: target))
}

/// Every offset at which `pattern` occurs in `data`.
func offsets(of pattern: Data, in data: Data) -> [Int] {
    var found: [Int] = []
    var start = data.startIndex
    while let r = data.range(of: pattern, in: start..<data.endIndex) {
        found.append(r.lowerBound - data.startIndex)
        start = r.lowerBound + 1
    }
    return found
}

/// Flips every bit of the byte at `offset` in the file at `path`.
func flipByte(in path: String, at offset: Int) throws {
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    data[data.startIndex + offset] ^= 0xFF
    try data.write(to: URL(fileURLWithPath: path))
}

/// 64 floats no initialiser produces (1000.25, 1001.5, ...), for finding a dataset's bytes in a file.
let distinctivePattern: [Float] = (0..<64).map { 1000.25 + Float($0) * 1.25 }

/// The little-endian bytes of `values`.
func littleEndianBytes(_ values: [Float]) -> Data {
    var d = Data()
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
    return d
}

// MARK: - Hand-made files (HDF5 C API)

/// A minimal HDF5 writer on the C API, for files with chosen (wrong) root attributes.
final class HandmadeHDF5File {
    private let file: hid_t
    private var open: [hid_t] = []

    init(creating path: String) throws {
        file = H5Fcreate(path, td_H5F_ACC_TRUNC(), td_H5P_DEFAULT(), td_H5P_DEFAULT())
        guard file >= 0 else { throw SetupFailure("H5Fcreate \(path) failed") }
    }

    /// The root group's id.
    var root: hid_t { file }

    /// Creates a group (with intermediate groups) and returns its id.
    func group(_ name: String) throws -> hid_t {
        let lcpl = H5Pcreate(td_H5P_LINK_CREATE())
        defer { H5Pclose(lcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        let g = H5Gcreate2(file, name, lcpl, td_H5P_DEFAULT(), td_H5P_DEFAULT())
        guard g >= 0 else { throw SetupFailure("H5Gcreate2 \(name) failed") }
        open.append(g)
        return g
    }

    private func scalarAttribute(_ object: hid_t, _ name: String, fileType: hid_t, memoryType: hid_t, _ value: UnsafeRawPointer) throws {
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let a = H5Acreate2(object, name, fileType, space, td_H5P_DEFAULT(), td_H5P_DEFAULT())
        guard a >= 0 else { throw SetupFailure("H5Acreate2 \(name) failed") }
        defer { H5Aclose(a) }
        guard H5Awrite(a, memoryType, value) >= 0 else { throw SetupFailure("H5Awrite \(name) failed") }
    }

    /// A variable-length UTF-8 string attribute.
    func setString(_ object: hid_t, _ name: String, _ value: String) throws {
        let t = H5Tcopy(td_H5T_C_S1())
        defer { H5Tclose(t) }
        H5Tset_size(t, td_H5T_VARIABLE())
        H5Tset_cset(t, H5T_CSET_UTF8)
        let c = strdup(value)
        defer { free(c) }
        var p: UnsafeMutablePointer<CChar>? = c
        try scalarAttribute(object, name, fileType: t, memoryType: t, &p)
    }

    /// A 64-bit integer attribute.
    func setInt(_ object: hid_t, _ name: String, _ value: Int) throws {
        var v = Int64(value)
        try scalarAttribute(object, name, fileType: td_H5T_STD_I64LE(), memoryType: td_H5T_NATIVE_INT64(), &v)
    }

    /// A contiguous dataset (no filters) of `shape` from `data`.
    func writeDataset(_ object: hid_t, _ name: String, fileType: hid_t, memoryType: hid_t, shape: [Int], data: UnsafeRawPointer) throws {
        let dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), dims, nil)
        defer { H5Sclose(space) }
        let ds = H5Dcreate2(object, name, fileType, space, td_H5P_DEFAULT(), td_H5P_DEFAULT(), td_H5P_DEFAULT())
        guard ds >= 0 else { throw SetupFailure("H5Dcreate2 \(name) failed") }
        defer { H5Dclose(ds) }
        guard H5Dwrite(ds, memoryType, td_H5S_ALL(), td_H5S_ALL(), td_H5P_DEFAULT(), data) >= 0 else {
            throw SetupFailure("H5Dwrite \(name) failed")
        }
    }

    func close() {
        for g in open.reversed() { H5Gclose(g) }
        open = []
        H5Fclose(file)
    }
}

/// Writes a checkpoint-shaped file with chosen root attributes (CheckpointWriter always writes the
/// right ones): `format` nil leaves the attribute out. It holds /models/student from `store` and /run.
func writeHandmadeCheckpoint(_ path: String, format: String?, version: Int, store: ParameterStore,
                             configJSON: String) throws {
    let f = try HandmadeHDF5File(creating: path)
    defer { f.close() }
    if let format { try f.setString(f.root, "format", format) }
    try f.setInt(f.root, "format_version", version)
    try f.setString(f.root, "created_utc", "2024-01-01T00:00:00Z")
    try f.setString(f.root, "library_version", "0.0.0-test")
    try f.setString(f.root, "curriculum", "")
    try f.setString(f.root, "curriculum_sha256", sha256Hex(""))
    let g = try f.group("models/student")
    try f.setString(g, "config", configJSON)
    for v in store.views {
        try f.writeDataset(g, v.name, fileType: td_H5T_IEEE_F32LE(), memoryType: td_H5T_NATIVE_FLOAT(), shape: v.shape,
                           data: UnsafeRawPointer(store.values.base + v.offset))
    }
    let run = try f.group("run")
    try f.setInt(run, "stage_index", 0)
    try f.setInt(run, "global_step", 0)
    var rng: [UInt8] = [9]
    try f.writeDataset(run, "rng_state", fileType: td_H5T_STD_U8LE(), memoryType: td_H5T_NATIVE_UINT8(), shape: [1], data: &rng)
}

/// SHA-256 of bytes as computed by coreutils' `sha256sum` (independent of the project's hashing).
func sha256sum(_ data: Data) throws -> String {
    let path = NSTemporaryDirectory() + "checkpoint-tests-sha-\(UUID().uuidString)"
    try data.write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    guard let tool = toolPath("sha256sum") else { throw SetupFailure("sha256sum (coreutils) is not installed") }
    let r = try runProcess(tool, [path], timeout: 30)
    guard r.succeeded, let hex = r.stdout.split(separator: " ").first else { throw SetupFailure("sha256sum failed: \(r)") }
    return String(hex)
}

// MARK: - Python with h5py

/// A Python virtualenv with h5py, made once per test process (and reused across runs) at
/// .build/checkpoint-tests-venv. Built under a temporary name and renamed into place, so a concurrent
/// test run never sees a half-made one.
enum PythonH5py {
    static let folder = packageRoot + "/.build/checkpoint-tests-venv"

    /// The venv's python, or why it could not be made.
    static let interpreter = PythonVirtualenv(folder: folder, packages: ["h5py"], probe: "import h5py, numpy",
                                              purpose: "the h5py interoperability tests").make()

    /// The interpreter, or nil after recording a failure that says why (never a silent pass).
    static func require(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        interpreter.require("the h5py interoperability test", sourceLocation: sourceLocation)
    }

    /// Runs a Python script (given as text) with arguments and returns its standard output parsed as JSON.
    static func runJSON(_ python: String, script: String, arguments: [String]) throws -> Any {
        try PythonVirtualenv.runJSON(python, script: script, arguments: arguments)
    }
}

/// Parses hex bit patterns printed by Python (`format(x, '08x')`).
func hexBits<T: FixedWidthInteger>(_ value: Any?, as: T.Type) -> [T]? {
    guard let strings = value as? [String] else { return nil }
    let parsed = strings.compactMap { T($0, radix: 16) }
    return parsed.count == strings.count ? parsed : nil
}
