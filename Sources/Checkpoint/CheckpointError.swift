/// Why a checkpoint could not be written, read or used: each case names the file and what differs.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist.
    case notFound(file: String)
    /// A folder was given where a checkpoint file belongs; `newest` is the newest `step-N.h5` in it, if any.
    case isDirectory(path: String, newest: String?)
    /// The file is not a TraceDistill checkpoint (missing or different `format` attribute).
    case wrongFormat(file: String, found: String)
    /// The checkpoint's format version is not one this build reads.
    case unsupportedVersion(file: String, found: Int, supported: Int)
    /// A role (student, teacher, ...) the caller needs is not in the file.
    case missingRole(file: String, role: String, available: [String])
    /// Parameter names differ between the file and the model that should receive them.
    case parameterNames(file: String, role: String, missing: [String], unexpected: [String])
    /// A dataset's shape differs from the expected one.
    case shapeMismatch(file: String, dataset: String, expected: [Int], actual: [Int])
    /// The file is damaged: truncated, checksum mismatch, unreadable object.
    case corrupt(file: String, object: String, reason: String)
    /// A role's weights hold NaN or infinite values (stored faithfully, so the checksums are valid): `count` of the
    /// `total` values of `tensor` (`nan` of them NaN), and `otherTensors` more tensors with such values.
    case nonFiniteWeights(file: String, role: String, tensor: String, count: Int, nan: Int, total: Int, otherTensors: Int)
    /// The operating system refused a write, rename or fsync.
    case io(file: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let f):
            return "\(f): no such checkpoint file"
        case .isDirectory(let path, let newest):
            let example = newest ?? (path.hasSuffix("/") ? path : path + "/") + "step-N.h5"
            return "\(path) is a directory; give a checkpoint file such as \(example), or use `distill status \(path)` to see the run it holds"
        case .wrongFormat(let f, let found):
            return "\(f): not a TraceDistill checkpoint (format attribute is \(found.isEmpty ? "missing" : "\"\(found)\""), expected \"\(checkpointFormat)\")"
        case .unsupportedVersion(let f, let found, let supported):
            return "\(f): checkpoint format version \(found) is not supported by this build (reads version \(supported)); use the TraceDistill version that wrote it"
        case .missingRole(let f, let role, let available):
            return "\(f): no model role \"\(role)\" (the file has: \(available.isEmpty ? "none" : available.joined(separator: ", ")))"
        case .parameterNames(let f, let role, let missing, let unexpected):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.prefix(5).joined(separator: ", "))\(missing.count > 5 ? " and \(missing.count - 5) more" : "")") }
            if !unexpected.isEmpty { parts.append("unexpected \(unexpected.prefix(5).joined(separator: ", "))\(unexpected.count > 5 ? " and \(unexpected.count - 5) more" : "")") }
            return "\(f): role \"\(role)\" parameters do not match the model: \(parts.joined(separator: "; ")) (was it written for another architecture?)"
        case .shapeMismatch(let f, let ds, let expected, let actual):
            return "\(f): dataset \(ds) has shape \(actual), the model expects \(expected) (different model config?)"
        case .corrupt(let f, let object, let reason):
            return "\(f): damaged checkpoint at \(object): \(reason)"
        case .nonFiniteWeights(let f, let role, let tensor, let count, let nan, let total, let others):
            let also = others == 0 ? "" : " (and \(others) more tensor\(others == 1 ? "" : "s") of the role)"
            return "\(f): role \(role): \(tensor) holds \(count) non-finite values of \(total) (\(nan) NaN, \(count - nan) infinite)\(also); "
                + "the checksums are valid, so they were saved this way (a run that diverged?) and the model cannot run: "
                + "use an earlier checkpoint of the run (distill status lists the newest valid one) or retrain with a lower learning rate"
        case .io(let f, let reason):
            return "\(f): \(reason)"
        }
    }
}

extension CheckpointError {
    /// Maps a low-level HDF5 failure to a damaged-file error naming the object.
    init(_ e: HDF5Error) { self = .corrupt(file: e.file, object: e.path, reason: e.message) }
}
