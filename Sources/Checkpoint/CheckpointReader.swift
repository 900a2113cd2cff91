import Foundation
import Model
import Tensor

/// An open checkpoint: the root attributes are checked on open, everything else is read on demand and
/// checked against what the caller expects (names, shapes, checksums).
public final class CheckpointReader {
    /// The file path.
    public let path: String
    let file: HDF5Object
    /// Root attributes.
    public let formatVersion: Int
    public let createdUTC: String
    public let libraryVersion: String
    public let curriculum: String
    public let curriculumSHA256: String
    /// The resolved configuration stored beside the curriculum (every default filled in), nil in checkpoints
    /// written before it was stored.
    public let resolvedCurriculum: String?

    /// Opens `path` and checks the format name and version.
    /// - Throws: `CheckpointError` (not found, a directory, wrong format, unsupported version, damaged).
    public init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CheckpointError.notFound(file: path) }
        guard !isDirectory.boolValue else {
            // A run folder: name its newest checkpoint (a folder that cannot be listed gets the generic example).
            let newest: String?
            do { newest = try CheckpointDirectory(path: path).files().last?.path } catch { newest = nil }
            throw CheckpointError.isDirectory(path: path, newest: newest)
        }
        do {
            file = try HDF5Object.open(path)
        } catch let e as HDF5Error {
            throw CheckpointError.corrupt(file: path, object: e.path, reason: e.message)
        }
        let format = file.hasAttribute("format") ? ((try? file.stringAttribute("format")) ?? "") : ""
        guard format == checkpointFormat else { throw CheckpointError.wrongFormat(file: path, found: format) }
        do {
            formatVersion = try file.intAttribute("format_version")
            guard formatVersion == checkpointFormatVersion else {
                throw CheckpointError.unsupportedVersion(file: path, found: formatVersion, supported: checkpointFormatVersion)
            }
            createdUTC = try file.stringAttribute("created_utc")
            libraryVersion = try file.stringAttribute("library_version")
            curriculum = try file.stringAttribute("curriculum")
            curriculumSHA256 = try file.stringAttribute("curriculum_sha256")
            resolvedCurriculum = file.hasAttribute("curriculum_resolved") ? try file.stringAttribute("curriculum_resolved") : nil
        } catch let e as HDF5Error {
            throw CheckpointError(e)
        }
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as HDF5Error { throw CheckpointError(e) }
    }

    /// Model roles present, in name order.
    public func roles() throws -> [String] {
        try wrap { file.exists("models") ? try file.group("models").children() : [] }
    }

    private func roleGroup(_ role: String) throws -> HDF5Object {
        let available = try roles()
        guard available.contains(role) else { throw CheckpointError.missingRole(file: path, role: role, available: available) }
        return try wrap { try file.group("models/\(role)") }
    }

    /// The config JSON stored with a role, if any.
    public func configJSON(role: String) throws -> String? {
        let g = try roleGroup(role)
        return try wrap { g.hasAttribute("config") ? try g.stringAttribute("config") : nil }
    }

    /// The transformer config stored with a role.
    public func transformerConfig(role: String) throws -> TransformerConfig {
        guard let json = try configJSON(role: role) else {
            throw CheckpointError.corrupt(file: path, object: "/models/\(role)", reason: "no config attribute; this role is not a transformer")
        }
        do { return try TransformerConfig.fromJSON(json) } catch {
            throw CheckpointError.corrupt(file: path, object: "/models/\(role)@config", reason: "\(error)")
        }
    }

    /// Parameter names and shapes of a role, in the order they were written.
    public func parameters(role: String) throws -> [(name: String, shape: [Int])] {
        let g = try roleGroup(role)
        return try wrap {
            let names = g.hasAttribute("parameter_order")
                ? try g.stringAttribute("parameter_order").split(separator: "\n").map(String.init)
                : try g.children()
            return try names.map { ($0, try g.datasetInfo($0).shape) }
        }
    }

    /// Loads a role's weights into `store`; names and shapes must match exactly.
    /// - Parameter atomic: when true (the default) everything is read and verified into a staging buffer
    ///   first, so the store is left untouched when anything differs or a dataset is damaged. A caller that
    ///   discards the store on error (a freshly built model) may pass false to read in place.
    public func load(role: String, into store: ParameterStore, atomic: Bool = true) throws {
        let g = try roleGroup(role)
        try readStore(g, object: "/models/\(role)", role: role, into: store, base: store.values.base, atomic: atomic)
    }

    /// Restores AdamW state (step and both moments) for a role into `optimizer`; nothing changes unless
    /// both moments and the step read cleanly.
    public func loadOptimizer(role: String, into optimizer: AdamW) throws {
        let object = "/optimizer/\(role)"
        guard try wrap({ file.exists("optimizer/\(role)") }) else {
            throw CheckpointError.corrupt(file: path, object: object, reason: "missing optimizer state for role \"\(role)\"")
        }
        let g = try wrap { try file.group("optimizer/\(role)") }
        let step: [Int64] = try wrap { try g.readArray("step", .int64, as: Int64.self) }
        let mg = try wrap { try g.group("m") }, vg = try wrap { try g.group("v") }
        let count = optimizer.store.count
        // both moments go to scratch buffers first (one spare float each for in-place chunk reads)
        let m = Storage(count: count + 1, zeroed: false), v = Storage(count: count + 1, zeroed: false)
        try readStore(mg, object: object + "/m", role: role, into: optimizer.store, base: m.base, atomic: false, spareFloat: true)
        try readStore(vg, object: object + "/v", role: role, into: optimizer.store, base: v.base, atomic: false, spareFloat: true)
        optimizer.m.base.update(from: m.base, count: count)
        optimizer.v.base.update(from: v.base, count: count)
        optimizer.stepCount = Int(step.first ?? 0)
    }

    /// Reads every dataset of `store`'s layout from group `g`: into a staging buffer that is copied to
    /// `base` only when all of them read cleanly (`atomic`), or straight into `base`.
    /// - Parameter spareFloat: `base` has one writable float after the store's last element.
    private func readStore(_ g: HDF5Object, object: String, role: String, into store: ParameterStore,
                           base: UnsafeMutablePointer<Float>, atomic: Bool, spareFloat: Bool = false) throws {
        // a quantized role's int8 layers sit in subgroups beside the float datasets
        let names = try wrap {
            try g.children().filter { name in
                guard QuantizedGroups.all.contains(name) else { return true }
                return try g.datasetInfoIfDataset(name) != nil
            }
        }
        let expected = Set(store.names), present = Set(names)
        if expected != present {
            throw CheckpointError.parameterNames(file: path, role: role, missing: expected.subtracting(present).sorted(),
                                                 unexpected: present.subtracting(expected).sorted())
        }
        for v in store.views {
            let info = try wrap { try g.datasetInfo(v.name) }
            guard info.shape == v.shape else {
                throw CheckpointError.shapeMismatch(file: path, dataset: "\(object)/\(v.name)", expected: v.shape, actual: info.shape)
            }
        }
        // One spare float after the last view: a checksummed chunk is read in place with its 4-byte
        // checksum landing on the next view's first element, which that view's read then overwrites.
        let staging = atomic ? Storage(count: store.count + 1, zeroed: false) : nil
        let target = staging?.base ?? base
        let ordered = store.views.sorted { $0.offset < $1.offset }
        let targets = ordered.enumerated().map { i, v in
            HDF5Object.BulkTarget(name: v.name, shape: v.shape, data: UnsafeMutableRawPointer(target + v.offset),
                                  slack: staging != nil || spareFloat || i + 1 < ordered.count)
        }
        try wrap { try g.readChecksummed(targets, .float32) }
        if let staging { base.update(from: staging.base, count: store.count) }
    }

    /// How a role was quantized, and the names of its int8 layers; nil for a float model.
    public func quantization(role: String) throws -> (record: QuantizationRecord, layers: [String])? {
        let g = try roleGroup(role)
        return try wrap {
            guard g.hasAttribute("quantized_order") else { return nil }
            let layers = try g.stringAttribute("quantized_order").split(separator: "\n").map(String.init)
            let range = g.hasAttribute("quantization_activation_range") ? try g.stringAttribute("quantization_activation_range") : "unknown"
            let rows = g.hasAttribute("quantization_calibration_rows") ? try g.intAttribute("quantization_calibration_rows") : 0
            let kept = g.hasAttribute("quantization_kept_fp32") ? try g.stringAttribute("quantization_kept_fp32") : ""
            return (QuantizationRecord(activationRange: range, calibrationRows: rows,
                                       keptFP32: kept.split(separator: ",").map(String.init)), layers)
        }
    }

    /// A quantized role's int8 layers (empty for a float model), each checked: values and per-row scales of matching
    /// sizes, every scale finite and positive.
    public func quantizedLinears(role: String) throws -> [String: QuantizedLinear] {
        guard let (_, layers) = try quantization(role: role) else { return [:] }
        let g = try roleGroup(role)
        var out: [String: QuantizedLinear] = [:]
        for name in layers {
            let object = "/models/\(role)/\(QuantizedGroups.weights)/\(name)"
            let (values, shape, scales, input): ([Int8], [Int], [Float], [Float]) = try wrap {
                let wg = try g.group(QuantizedGroups.weights)
                return (try wg.readArray(name, .int8, as: Int8.self), try wg.datasetInfo(name).shape,
                        try g.group(QuantizedGroups.scales).readArray(name, .float32, as: Float.self),
                        try g.group(QuantizedGroups.inputScales).readArray(name, .float32, as: Float.self))
            }
            guard shape.count == 2, scales.count == shape[0], input.count == 1 else {
                throw CheckpointError.corrupt(file: path, object: object,
                                              reason: "int8 weight \(shape) with \(scales.count) row scales and \(input.count) input scales; expected one scale per row and one input scale")
            }
            guard scales.allSatisfy({ $0.isFinite && $0 > 0 }), input[0].isFinite, input[0] >= 0 else {  // input 0: per row
                throw CheckpointError.corrupt(file: path, object: object, reason: "a scale is zero, negative or not finite")
            }
            guard values.allSatisfy({ $0 != -128 }) else {
                throw CheckpointError.corrupt(file: path, object: object, reason: "an int8 value is -128; symmetric int8 uses -127...127")
            }
            out[name] = QuantizedLinear(weight: Int8Matrix(rows: shape[0], columns: shape[1], values: values, scales: scales), inputScale: input[0])
        }
        return out
    }

    /// Reads a role's weights as (name, shape, values) without a model (inspect, hashing).
    public func rawParameters(role: String) throws -> [(name: String, shape: [Int], values: [Float])] {
        let g = try roleGroup(role)
        return try parameters(role: role).map { p in
            let values = try wrap { try g.readArray(p.name, .float32, as: Float.self) }
            return (p.name, p.shape, values)
        }
    }

    /// Run-level record.
    public func run() throws -> RunRecord {
        try wrap {
            let g = try file.group("run")
            return RunRecord(stageIndex: try g.intAttribute("stage_index"), globalStep: try g.intAttribute("global_step"),
                             rngState: try g.readArray("rng_state", .uint8, as: UInt8.self),
                             validationMetric: g.hasAttribute("validation_metric") ? try g.doubleAttribute("validation_metric") : nil,
                             rowsDroppedForLength: g.hasAttribute("rows_dropped_for_length") ? try g.intAttribute("rows_dropped_for_length") : nil)
        }
    }

    /// Every stage's record, in curriculum order.
    public func stages() throws -> [StageRecord] {
        try wrap {
            guard file.exists("run/stages") else { return [] }
            let sg = try file.group("run/stages")
            let indices = try sg.children().compactMap(Int.init).sorted()
            return try indices.map { i in
                let g = try sg.group(String(i))
                var controllers: [String: [String: Double]] = [:]
                if g.exists("controllers") {
                    let cg = try g.group("controllers")
                    for name in try cg.children() {
                        let one = try cg.group(name)
                        var values: [String: Double] = [:]
                        for k in try one.attributeNames() { values[k] = try one.doubleAttribute(k) }
                        controllers[name] = values
                    }
                }
                return StageRecord(kind: try g.stringAttribute("kind"), state: try g.stringAttribute("state"),
                                   step: try g.intAttribute("step"),
                                   data: DataPosition(epoch: try g.intAttribute("data_epoch"), index: try g.intAttribute("data_index")),
                                   failureReason: g.hasAttribute("failure_reason") ? try g.stringAttribute("failure_reason") : nil,
                                   controllers: controllers)
            }
        }
    }

    /// The tokenizer saved with the run, if any.
    public func tokenizer() throws -> Tokenizer? {
        guard try wrap({ file.exists("tokenizer/symbols") }) else { return nil }
        let symbols = try wrap { try file.readStrings("tokenizer/symbols") }
        let json = try JSONEncoder().encode(["symbols": symbols])
        do { return try JSONDecoder().decode(Tokenizer.self, from: json) } catch {
            throw CheckpointError.corrupt(file: path, object: "/tokenizer/symbols", reason: "\(error)")
        }
    }

    /// The byte-level BPE tokenizer's `tokenizer.json` text saved with the model (`/tokenizer/json`), if any.
    public func tokenizerJSON() throws -> String? {
        guard try wrap({ file.exists("tokenizer/json") }) else { return nil }
        let bytes = try wrap { try file.readArray("tokenizer/json", .uint8, as: UInt8.self) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CheckpointError.corrupt(file: path, object: "/tokenizer/json", reason: "the stored tokenizer.json is not valid UTF-8")
        }
        return text
    }

    /// The chat template stored with an imported model's tokenizer, if any.
    public func chatTemplate() throws -> String? {
        try wrap {
            guard file.exists("tokenizer") else { return nil }
            let g = try file.group("tokenizer")
            return g.hasAttribute("chat_template") ? try g.stringAttribute("chat_template") : nil
        }
    }

    /// The prompt template stored with a BPE tokenizer (`PromptTemplate` text), if any.
    public func promptTemplate() throws -> String? {
        try wrap {
            guard file.exists("tokenizer") else { return nil }
            let g = try file.group("tokenizer")
            return g.hasAttribute("prompt_template") ? try g.stringAttribute("prompt_template") : nil
        }
    }

    /// The run's named byte blobs (`/run/artifacts`), empty when there are none.
    public func artifacts() throws -> [String: [UInt8]] {
        try wrap {
            guard file.exists("run/artifacts") else { return [:] }
            let g = try file.group("run/artifacts")
            var out: [String: [UInt8]] = [:]
            for name in try g.children() { out[name] = try g.readArray(name, .uint8, as: UInt8.self) }
            return out
        }
    }

    /// Per-stage metric history.
    public func metrics() throws -> [Int: [String: [Double]]] {
        try wrap {
            guard file.exists("metrics") else { return [:] }
            let mg = try file.group("metrics")
            var out: [Int: [String: [Double]]] = [:]
            for s in try mg.children() {
                guard let i = Int(s) else { continue }
                let g = try mg.group(s)
                var series: [String: [Double]] = [:]
                for name in try g.children() {
                    series[name.replacingOccurrences(of: metricSlashEscape, with: "/")] = try g.readArray(name, .float64, as: Double.self)
                }
                out[i] = series
            }
            return out
        }
    }

    /// Reads every dataset in the file (verifying each checksum); throws the first damage found.
    public func verify() throws {
        func walk(_ g: HDF5Object) throws {
            for name in try g.children() {
                let info = try g.datasetInfoIfDataset(name)
                if let info {
                    if info.type == "string" {
                        _ = try g.readStrings(name)
                    } else if let t = HDF5Scalar.named(info.type) {
                        let bytes = info.shape.reduce(1, *) * t.size
                        let buf = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
                        defer { buf.deallocate() }
                        try g.readDataset(name, t, expectedShape: info.shape, into: buf)
                    }
                } else {
                    try walk(try g.group(name))
                }
            }
        }
        try wrap { try walk(file) }
        _ = try run()
        _ = try stages()
    }
}

extension HDF5Scalar {
    static func named(_ name: String) -> HDF5Scalar? {
        switch name {
        case "float32": return .float32
        case "float64": return .float64
        case "int64": return .int64
        case "uint8": return .uint8
        case "int8": return .int8
        default: return nil
        }
    }

    var size: Int {
        switch self {
        case .float32: return 4
        case .float64, .int64: return 8
        case .uint8, .int8: return 1
        }
    }
}

extension CheckpointReader {
    /// Builds the transformer stored under `role` (its config and weights).
    /// - Throws: `CheckpointError`, including `.nonFiniteWeights` when a weight is NaN or infinite (such a model
    ///   only produces NaN logits: empty completions and a silent 0% in an evaluation).
    public func loadTransformer(role: String) throws -> Transformer {
        let config = try transformerConfig(role: role)
        let quantized = try quantizedLinears(role: role)
        let model: Transformer
        do { model = try Transformer(config: config, quantized: quantized) } catch let e as ConfigurationError {  // weights overwritten below
            throw CheckpointError.corrupt(file: path, object: "/models/\(role)/\(QuantizedGroups.weights)", reason: "\(e)")
        }
        try load(role: role, into: model.parameters, atomic: false)  // a failed load discards the model
        try checkFinite(model.parameters, role: role)
        return model
    }

    /// Throws `.nonFiniteWeights` naming the first tensor of `store` with a NaN or infinite value.
    private func checkFinite(_ store: ParameterStore, role: String) throws {
        var first: (name: String, count: Int, nan: Int, total: Int)?
        var others = 0
        for v in store.views {
            let values = UnsafeBufferPointer(start: store.values.base + v.offset, count: v.count)
            var bad = 0, nan = 0
            for x in values where !x.isFinite {
                bad += 1
                if x.isNaN { nan += 1 }
            }
            guard bad > 0 else { continue }
            if first == nil { first = (v.name, bad, nan, v.count) } else { others += 1 }
        }
        if let first {
            throw CheckpointError.nonFiniteWeights(file: path, role: role, tensor: first.name, count: first.count, nan: first.nan,
                                                   total: first.total, otherTensors: others)
        }
    }

    /// SHA-256 over a role's parameters: for each, in stored order, its name, shape and float32 bytes.
    /// Equal hashes mean bit-identical weights.
    public func parameterHash(role: String) throws -> String {
        var data = Data()
        for p in try rawParameters(role: role) {
            data.append(contentsOf: Array(p.name.utf8))
            data.append(contentsOf: Array(p.shape.map(String.init).joined(separator: "x").utf8))
            p.values.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        for (name, q) in try quantizedLinears(role: role).sorted(by: { $0.key < $1.key }) {  // int8 layers after the floats
            data.append(contentsOf: Array(("int8:" + name).utf8))
            q.weight.values.withUnsafeBytes { data.append(contentsOf: $0) }
            q.weight.scales.withUnsafeBytes { data.append(contentsOf: $0) }
            withUnsafeBytes(of: q.inputScale) { data.append(contentsOf: $0) }
        }
        return sha256Hex(data)
    }
}
