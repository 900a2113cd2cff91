import Foundation
import Telemetry
import TestSupport
import Testing

// The metric files of a run folder that cannot be written (issue #27, item 9): the error names the path, the cause
// in words and what to do, not a raw Foundation error. (Tests run as root, so the causes are ones root meets too.)

@Suite struct MetricsWriteErrorTests {
    private func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func runFolderUnderARegularFile() throws {
        try withTemporaryFolder("metrics-under-file") { dir in
            try "notes\n".write(toFile: dir + "/file.txt", atomically: true, encoding: .utf8)
            let m = message { _ = try MetricsFilesTests.monitor(dir + "/file.txt/run", resumingAfterStep: nil) }
            #expect(m.contains(dir + "/file.txt/run") && m.contains("\(dir)/file.txt is a file, not a directory"), "\(m)")
            #expect(!m.contains("NSCocoaErrorDomain") && !m.contains("Code="), "\(m)")
        }
    }

    @Test func metricFileThatIsAFolder() throws {
        try withTemporaryFolder("metrics-folder") { dir in
            try FileManager.default.createDirectory(atPath: dir + "/metrics.csv", withIntermediateDirectories: true)
            let m = message { _ = try MetricsFilesTests.monitor(dir, resumingAfterStep: nil) }
            #expect(m.contains(dir + "/metrics.csv") && m.contains("is a directory"), "\(m)")
            #expect(m.contains("remove") || m.contains("rename"), "says what to do: \(m)")
        }
    }
}
