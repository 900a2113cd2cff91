import Logging
import Telemetry
import TestSupport
import Testing

// The standard-error log handler: line format, level filtering, metadata.
@Suite struct LoggingTests {
    @Test func linesCarryLevelLabelAndMetadata() {
        let out = CapturedOutput()
        var logger = Logger(label: "tracedistill.run") { TelemetryLogHandler(label: $0, level: .notice, console: out.console(), timestamps: false) }
        logger[metadataKey: "stage"] = "ppo-trace"
        logger.info("not shown: below notice")
        logger.notice("resuming", metadata: ["step": "120"])
        logger.error("checkpoint failed")
        #expect(out.lines == [
            "notice [tracedistill.run] resuming stage=ppo-trace step=120",
            "error [tracedistill.run] checkpoint failed stage=ppo-trace",
        ])
        logger.logLevel = .trace
        logger.trace("now shown")
        #expect(out.lines.last == "trace [tracedistill.run] now shown stage=ppo-trace")
    }

    @Test func timestampsAreISO8601UTC() throws {
        let out = CapturedOutput()
        let logger = Logger(label: "x") { TelemetryLogHandler(label: $0, console: out.console()) }
        logger.warning("w")
        let line = try #require(out.lines.first)
        #expect(line.wholeMatch(of: try Regex(#"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warning \[x\] w"#)) != nil, "\(line)")
    }
}
