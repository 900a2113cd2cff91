import Foundation
import TestSupport
import Testing

/// Which OpenBLAS `distill` runs: the scipy-openblas32 wheel's 0.3.34 when TRACEDISTILL_BLAS is "wheel" and `make
/// setup` unpacked it into .cache/scipy-openblas32, else Debian's; found without LD_LIBRARY_PATH.
@Suite("The OpenBLAS distill links")
struct OpenBLASLibraryTests {
    /// The wheel's unpacked folder, as Package.swift and `make openblas-wheel` name it.
    static let wheelFolder = packageRoot + "/.cache/scipy-openblas32"

    @Test("distill --version names the OpenBLAS the build chose, loaded through the rpath alone, and its version is the library's own")
    func versionNamesTheLibrary() throws {
        guard let distill = requireDistill() else { return }
        var env = childEnvironment()
        env["LD_LIBRARY_PATH"] = nil
        let result = try runProcess(distill, ["--version"], environment: env)
        #expect(result.succeeded, "\(result)")
        // "0.1.0 (OpenBLAS 0.3.34.481.3, SkylakeX core, /path/libscipy_openblas.so)"
        let line = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let open = line.range(of: " (OpenBLAS "), line.hasSuffix(")") else {
            Issue.record("distill --version does not name its OpenBLAS: \(line)")
            return
        }
        let parts = line[open.upperBound..<line.index(before: line.endIndex)].components(separatedBy: ", ")
        try #require(parts.count == 3, "\(line)")
        let (version, core, library) = (parts[0], parts[1], parts[2])
        #expect(core.hasSuffix(" core") && core.count > " core".count, "\(line)")
        #expect(FileManager.default.fileExists(atPath: library), "\(line)")

        let choice = ProcessInfo.processInfo.environment["TRACEDISTILL_BLAS"] ?? ""
        let wheelThere = FileManager.default.fileExists(atPath: Self.wheelFolder + "/unprefixed.h")
            && FileManager.default.fileExists(atPath: Self.wheelFolder + "/scipy_openblas32/lib/libscipy_openblas.so")
        if wheelThere && choice == "wheel" {
            // the wheel's own metadata: `version=0.3.34.481.3` in its pkg-config file
            let pc = try String(contentsOfFile: Self.wheelFolder + "/scipy_openblas32/lib/pkgconfig/scipy-openblas.pc",
                                encoding: .utf8)
            let wheelVersion = pc.split(separator: "\n").first { $0.hasPrefix("version=") }.map { String($0.dropFirst(8)) }
            #expect(library == Self.wheelFolder + "/scipy_openblas32/lib/libscipy_openblas.so", "\(line)")
            #expect(version == wheelVersion, "\(line) against the wheel's scipy-openblas.pc version \(wheelVersion ?? "none")")
        } else {
            // Debian's: the upstream part of the version of the package that owns the file (0.3.21 of "0.3.21+ds-4")
            let owner = try runProcess("/usr/bin/dpkg-query", ["-S", library])
            try #require(owner.succeeded, "no Debian package owns \(library): \(owner)")
            let package = String(owner.stdout.split(separator: ":")[0])
            let query = try runProcess("/usr/bin/dpkg-query", ["-W", "-f", "${Version}", package])
            let upstream = query.stdout.split(separator: "+")[0].split(separator: "-")[0]
            #expect(version == String(upstream), "\(line) against \(package) \(query.stdout)")
            #expect(!library.hasPrefix(Self.wheelFolder), "\(line)")
        }
    }
}
