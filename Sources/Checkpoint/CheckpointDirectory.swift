import FileErrors
import Foundation

/// A run's checkpoint folder: `step-<global step>.h5` files, the latest valid one, and retention.
public struct CheckpointDirectory {
    /// The run folder, e.g. `checkpoints/default`.
    public let path: String

    public init(path: String) { self.path = path }

    /// The file name for a global step.
    public func file(step: Int) -> String { path + "/step-\(step).h5" }

    /// Checkpoint files present, oldest step first (temporary files are ignored). A run folder that does
    /// not exist yet has none; one that exists but cannot be read is an error (not "no checkpoints").
    public func files() throws -> [(step: Int, path: String)] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else {
            throw CheckpointError.io(file: path, reason: "is a file, not a run folder of checkpoints")
        }
        let names: [String]
        do { names = try ReadFailure.entries(of: path) } catch let e as ReadFailure {
            throw CheckpointError.io(file: path, reason: "cannot list the run folder: \(e.reason)")
        }
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("step-"), name.hasSuffix(".h5"),
                  let step = Int(name.dropFirst(5).dropLast(3)) else { return nil }
            return (step, path + "/" + name)
        }.sorted { $0.0 < $1.0 }
    }

    /// A checkpoint passed over while looking for the latest valid one, and why.
    public struct Skipped: CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "skipped \(path): \(reason)" }
    }

    /// The newest checkpoint that opens and whose every dataset verifies, with the newer ones it skipped.
    /// - Returns: nil path when no valid checkpoint exists.
    public func latestValid() throws -> (path: String?, skipped: [Skipped]) {
        var skipped: [Skipped] = []
        for f in try files().reversed() {
            do {
                try CheckpointReader(path: f.path).verify()
                return (f.path, skipped)
            } catch {
                skipped.append(Skipped(path: f.path, reason: "\(error)"))
            }
        }
        return (nil, skipped)
    }

    /// Deletes old checkpoints, keeping the newest `keepLast`, the one with the best validation metric
    /// when `keepBest` (lowest, or highest when `lowerIsBetter` is false, e.g. accuracy), and always the
    /// newest valid one. Returns what it deleted.
    @discardableResult
    public func prune(keepLast: Int, keepBest: Bool = true, lowerIsBetter: Bool = true) throws -> [String] {
        precondition(keepLast >= 1, "keepLast must be at least 1")
        let all = try files()
        var keep = Set(all.suffix(keepLast).map(\.path))
        if let newestValid = try latestValid().path { keep.insert(newestValid) }
        if keepBest {
            var best: (String, Double)?
            for f in all {
                // a file that does not open or carries no metric cannot be the best one; it is not an error
                guard let reader = try? CheckpointReader(path: f.path), let m = try? reader.run().validationMetric else { continue }
                if best == nil || (lowerIsBetter ? m < best!.1 : m > best!.1) { best = (f.path, m) }
            }
            if let best { keep.insert(best.0) }
        }
        var deleted: [String] = []
        for f in all where !keep.contains(f.path) {
            guard unlink(f.path) == 0 else {
                throw CheckpointError.io(file: f.path, reason: "cannot delete old checkpoint: \(String(cString: strerror(errno)))")
            }
            deleted.append(f.path)
        }
        return deleted
    }
}
