import Foundation
import Testing

/// A missing tool or environment the test needs.
public struct SetupFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A Python virtualenv with some PyPI packages, for tests that check our files with a reference reader (h5py,
/// the tensorboard package). Made once and reused across runs under `.build/`; built under a temporary name and
/// renamed into place, so a concurrent test process never sees a half-made one.
public struct PythonVirtualenv: Sendable {
    /// Where the venv lives.
    public let folder: String
    /// What `pip install` gets.
    public let packages: [String]
    /// Python source that must run without error in a usable venv (e.g. `import h5py, numpy`).
    public let probe: String
    /// What needs it, for messages ("the h5py interoperability tests").
    public let purpose: String

    public init(folder: String, packages: [String], probe: String, purpose: String) {
        self.folder = folder
        self.packages = packages
        self.probe = probe
        self.purpose = purpose
    }

    private func works(_ python: String) -> Bool {
        guard FileManager.default.isExecutableFile(atPath: python),
              let r = try? runProcess(python, ["-c", probe], timeout: 120) else { return false }
        return r.succeeded
    }

    /// The venv's python (making the venv when it is missing), or why it could not be made.
    public func make() -> Result<String, SetupFailure> {
        let python = folder + "/bin/python"
        if works(python) { return .success(python) }
        guard let python3 = toolPath("python3") else {
            return .failure(SetupFailure("python3 is not installed; \(purpose) need it (python3 -m venv)"))
        }
        let staging = folder + ".tmp-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        do {
            let venv = try runProcess(python3, ["-m", "venv", staging], timeout: 300)
            guard venv.succeeded else { return .failure(SetupFailure("`python3 -m venv \(staging)` failed: \(venv)")) }
            let pip = try runProcess(staging + "/bin/python", ["-m", "pip", "install", "-q"] + packages, timeout: 600)
            guard pip.succeeded else {
                return .failure(SetupFailure("`pip install \(packages.joined(separator: " "))` into \(staging) failed (no network to PyPI?): \(pip)"))
            }
        } catch {
            return .failure(SetupFailure("could not run python3 to make a virtualenv: \(error)"))
        }
        // Another test process may have finished first: then use its venv (never delete a working one).
        if rename(staging, folder) != 0 && !works(python) {
            try? FileManager.default.removeItem(atPath: folder)
            _ = rename(staging, folder)
        }
        return works(python) ? .success(python)
            : .failure(SetupFailure("made a virtualenv at \(folder) but `\(probe)` fails in it"))
    }

    /// Runs a Python script (given as text) with arguments and returns its standard output parsed as JSON.
    public static func runJSON(_ python: String, script: String, arguments: [String], timeout: TimeInterval = 180) throws -> Any {
        let scriptPath = NSTemporaryDirectory() + "tests-\(UUID().uuidString).py"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: scriptPath) }
        let r = try runProcess(python, [scriptPath] + arguments, timeout: timeout)
        guard r.succeeded else { throw SetupFailure("python script failed: \(r)") }
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
    }
}

extension Result where Success == String, Failure == SetupFailure {
    /// The interpreter, or nil after recording a failure that says why (never a silent pass).
    public func require(_ what: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        switch self {
        case .success(let p): return p
        case .failure(let e):
            Issue.record("cannot run \(what): \(e)", sourceLocation: sourceLocation)
            return nil
        }
    }
}
