import Foundation
import Logging
import Telemetry
import TestSupport
import Testing

// metrics.jsonl and metrics.csv: exact contents for a sequence of records, number round trips, resume
// truncation after crashes (torn lines included), and the typed errors.
@Suite struct MetricsFilesTests {
    /// A monitor with no progress output, no TensorBoard file, logging into `log`.
    static func monitor(_ dir: String, resumingAfterStep: Int?, log: CapturedOutput = CapturedOutput(),
                        tensorBoard: Bool = false, clock: ManualClock = ManualClock(1000)) throws -> RunMonitor {
        let console = log.console()
        return try RunMonitor(runDirectory: dir, resumingAfterStep: resumingAfterStep, progress: .none, tensorBoard: tensorBoard,
                              logger: Logger(label: "test") { TelemetryLogHandler(label: $0, level: .debug, console: console, timestamps: false) },
                              console: console, clock: clock.function)
    }

    @Test func jsonlAndCSVContentsForASequence() throws {
        try withTemporaryFolder("sequence") { dir in
            let clock = ManualClock(1000)
            let m = try Self.monitor(dir, resumingAfterStep: nil, clock: clock)
            try m.record(step: 1, stageIndex: 0, stageKind: "output-distill", stageStep: 1, values: ["loss": 2.5, "kl": 0.125])
            clock.now = 1000.5
            try m.record(step: 2, stageIndex: 0, stageKind: "output-distill", stageStep: 2, values: ["loss": 2.25, "kl": 0.0625])
            try m.record(step: 2, stageIndex: 0, stageKind: "output-distill", stageStep: 2, values: ["validation/loss": 2.75], time: 1001.25)
            try m.record(step: 3, stageIndex: 1, stageKind: "ppo-trace", stageStep: 1, values: ["reward": 0.5, "reward/answer": 1])
            try m.close()
            #expect(try readText(dir + "/metrics.jsonl") == """
                {"step":1,"stage":"output-distill","stage_index":0,"stage_step":1,"time":1000.0,"kl":0.125,"loss":2.5}
                {"step":2,"stage":"output-distill","stage_index":0,"stage_step":2,"time":1000.5,"kl":0.0625,"loss":2.25}
                {"step":2,"stage":"output-distill","stage_index":0,"stage_step":2,"time":1001.25,"validation/loss":2.75}
                {"step":3,"stage":"ppo-trace","stage_index":1,"stage_step":1,"time":1000.5,"reward":0.5,"reward/answer":1.0}

                """)
            // New columns (validation/loss, then the rewards) widened the header; missing cells are empty.
            #expect(try readText(dir + "/metrics.csv") == """
                step,stage,stage_index,stage_step,time,kl,loss,reward,reward/answer,validation/loss
                1,output-distill,0,1,1000.0,0.125,2.5,,,
                2,output-distill,0,2,1000.5,0.0625,2.25,,,
                2,output-distill,0,2,1001.25,,,,,2.75
                3,ppo-trace,1,1,1000.5,,,0.5,1.0,

                """)
        }
    }

    @Test func numbersRoundTripBitForBit() throws {
        let awkward: [String: Double] = [
            "a": 0.1, "b": 1.0 / 3, "c": .leastNonzeroMagnitude, "d": .greatestFiniteMagnitude, "e": -0.0, "f": 1e-7,
            "g": 123_456_789.123_456_78, "h": -2.2250738585072014e-308, "i": .nan, "j": .infinity, "k": -.infinity, "l": 1e21,
        ]
        try withTemporaryFolder("roundtrip") { dir in
            let m = try Self.monitor(dir, resumingAfterStep: nil)
            try m.record(step: 7, stageIndex: 0, stageKind: "x", stageStep: 7, values: awkward, time: 1_763_838_301.123_456_7)
            try m.close()
            let rows = try MetricsLog.read(path: dir + "/metrics.jsonl").rows
            #expect(rows.count == 1)
            for (k, v) in awkward { #expect(rows[0].values[k]?.bitPattern == v.bitPattern, "metric \(k)") }
            #expect(rows[0].time.bitPattern == 1_763_838_301.123_456_7.bitPattern)
            // The text is the shortest round-trip form, as Python's repr (an independent implementation) prints it.
            let line = String(try readText(dir + "/metrics.jsonl").split(separator: "\n")[0])
            #expect(line == #"{"step":7,"stage":"x","stage_index":0,"stage_step":7,"time":1763838301.1234567,"a":0.1,"b":0.3333333333333333,"c":5e-324,"d":1.7976931348623157e+308,"e":-0.0,"f":1e-07,"g":123456789.12345678,"h":-2.2250738585072014e-308,"i":"nan","j":"inf","k":"-inf","l":1e+21}"#)
            // Foundation's JSON parser accepts the line. (It is not correctly rounded: it reads "g" one ulp off,
            // which is why MetricsLog parses numbers itself.)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            for (k, v) in awkward where v.isNormal {
                let parsed = try #require((object[k] as? NSNumber)?.doubleValue, "metric \(k)")
                #expect(abs(parsed - v) <= abs(v) * 1e-15, "metric \(k) through JSONSerialization")
            }
            #expect(object["i"] as? String == "nan")
            #expect(object["k"] as? String == "-inf")
            // The CSV cells parse back too.
            let csv = try readText(dir + "/metrics.csv").split(separator: "\n")
            let header = csv[0].split(separator: ",").map(String.init), cells = csv[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            for (k, v) in awkward where v.isFinite {
                let cell = cells[try #require(header.firstIndex(of: k))]
                #expect(Double(cell)?.bitPattern == v.bitPattern, "CSV metric \(k): \(cell)")
            }
        }
    }

    @Test func resumeDropsLaterRowsAndTornLine() throws {
        try withTemporaryFolder("resume") { dir in
            let log = CapturedOutput()
            // First attempt: steps 1...5, then a crash (no close) while writing step 6.
            do {
                let m = try Self.monitor(dir, resumingAfterStep: nil, log: log)
                for s in 1...5 { try m.record(step: s, stageIndex: 0, stageKind: "sft", stageStep: s, values: ["loss": Double(s)]) }
            }
            let torn = #"{"step":6,"stage":"sft","stage_ind"#
            let handle = try #require(FileHandle(forWritingAtPath: dir + "/metrics.jsonl"))
            handle.seekToEndOfFile()
            handle.write(Data(torn.utf8))
            try handle.close()
            #expect(try MetricsLog.read(path: dir + "/metrics.jsonl").tornLine == torn)

            // Resume from the checkpoint of step 3: rows 4 and 5 and the torn line go; 4...6 are recomputed.
            do {
                let m = try Self.monitor(dir, resumingAfterStep: 3, log: log)
                #expect(try MetricsLog.read(path: dir + "/metrics.jsonl").rows.map(\.step) == [1, 2, 3])
                #expect(try readText(dir + "/metrics.csv").split(separator: "\n").count == 4)
                for s in 4...6 { try m.record(step: s, stageIndex: 0, stageKind: "sft", stageStep: s, values: ["loss": Double(s) + 0.5]) }
            }
            #expect(log.text.contains("dropping the torn last line"))
            #expect(log.text.contains("dropping 2 metric rows after step 3"))

            // A second crash and a resume from step 5, then a clean finish with a new metric.
            do {
                let m = try Self.monitor(dir, resumingAfterStep: 5, log: log)
                try m.record(step: 6, stageIndex: 1, stageKind: "ppo", stageStep: 1, values: ["reward": 0.75])
                try m.record(step: 7, stageIndex: 1, stageKind: "ppo", stageStep: 2, values: ["reward": 1])
                try m.close()
            }
            let rows = try MetricsLog.read(path: dir + "/metrics.jsonl").rows
            #expect(rows.map(\.step) == [1, 2, 3, 4, 5, 6, 7])
            #expect(rows.map { $0.values["loss"] } == [1, 2, 3, 4.5, 5.5, nil, nil])
            #expect(rows.last?.values == ["reward": 1])
            #expect(try readText(dir + "/metrics.csv") == """
                step,stage,stage_index,stage_step,time,loss,reward
                1,sft,0,1,1000.0,1.0,
                2,sft,0,2,1000.0,2.0,
                3,sft,0,3,1000.0,3.0,
                4,sft,0,4,1000.0,4.5,
                5,sft,0,5,1000.0,5.5,
                6,ppo,1,1,1000.0,,0.75
                7,ppo,1,2,1000.0,,1.0

                """)
            #expect(!folderListing(dir).contains { $0.hasSuffix(".tmp") })
        }
    }

    @Test func freshRunDiscardsAnEarlierRun() throws {
        try withTemporaryFolder("fresh") { dir in
            do {
                let m = try Self.monitor(dir, resumingAfterStep: nil)
                try m.record(step: 1, stageIndex: 0, stageKind: "sft", stageStep: 1, values: ["loss": 1])
                try m.close()
            }
            let log = CapturedOutput()
            let m = try Self.monitor(dir, resumingAfterStep: nil, log: log)
            try m.close()
            #expect(try readText(dir + "/metrics.jsonl") == "")
            #expect(try readText(dir + "/metrics.csv") == "step,stage,stage_index,stage_step,time\n")
            #expect(log.text.contains("dropping 1 metric rows of a previous run"))
        }
    }

    @Test func tornAndMalformedLines() throws {
        let good = #"{"step":1,"stage":"s","stage_index":0,"stage_step":1,"time":5.0,"loss":1.5}"#
        // Unterminated last line: torn.
        var c = try MetricsLog.parse(Array((good + "\n" + #"{"step":2,"st"#).utf8), file: "m.jsonl")
        #expect(c.rows.count == 1 && c.tornLine == #"{"step":2,"st"#)
        // A complete but unparsable last line (zero bytes after a power loss): torn as well.
        c = try MetricsLog.parse(Array((good + "\n\0\0\0\n").utf8), file: "m.jsonl")
        #expect(c.rows.count == 1 && c.tornLine == "\0\0\0")
        // The same damage before the last line is an error naming the line.
        #expect(throws: TelemetryError.malformedMetrics(file: "m.jsonl", line: 2, reason: "not a JSON object: expected '{', found '\0' at character 1")) {
            try MetricsLog.parse(Array((good + "\n\0\n" + good + "\n").utf8), file: "m.jsonl")
        }
        #expect(throws: TelemetryError.malformedMetrics(file: "m.jsonl", line: 1, reason: "'step' must be an integer")) {
            try MetricsLog.parse(Array((#"{"step":1.5,"stage":"s","stage_index":0,"stage_step":1,"time":5}"# + "\n" + good + "\n").utf8), file: "m.jsonl")
        }
        #expect(throws: TelemetryError.malformedMetrics(file: "m.jsonl", line: 1, reason: "missing 'time'")) {
            try MetricsLog.parse(Array((#"{"step":1,"stage":"s","stage_index":0,"stage_step":1}"# + "\n" + good + "\n").utf8), file: "m.jsonl")
        }
        // A missing file reads as empty; an empty file too.
        #expect(try MetricsLog.read(path: "/nonexistent/metrics.jsonl").rows.isEmpty)
        #expect(try MetricsLog.parse([], file: "m.jsonl").rows.isEmpty)
    }

    @Test func namesAreEscapedAndQuoted() throws {
        try withTemporaryFolder("names") { dir in
            let m = try Self.monitor(dir, resumingAfterStep: nil)
            try m.record(step: 1, stageIndex: 0, stageKind: "odd, \"stage\"", stageStep: 1, values: ["a,b": 1, "q\"uote": 2, "é/ü": 3])
            try m.close()
            let row = try #require(try MetricsLog.read(path: dir + "/metrics.jsonl").rows.first)
            #expect(row.stage == "odd, \"stage\"")
            #expect(row.values == ["a,b": 1, "q\"uote": 2, "é/ü": 3])
            #expect(try readText(dir + "/metrics.csv") == #"""
                step,stage,stage_index,stage_step,time,"a,b","q""uote",é/ü
                1,"odd, ""stage""",0,1,1000.0,1.0,2.0,3.0

                """#)
        }
    }

    @Test func typedErrors() throws {
        try withTemporaryFolder("errors") { dir in
            let m = try Self.monitor(dir, resumingAfterStep: nil)
            try m.record(step: 5, stageIndex: 0, stageKind: "s", stageStep: 5, values: ["loss": 1])
            #expect(throws: TelemetryError.stepWentBackwards(step: 4, previous: 5)) {
                try m.record(step: 4, stageIndex: 0, stageKind: "s", stageStep: 4, values: ["loss": 1])
            }
            #expect(throws: TelemetryError.reservedMetricName(name: "step")) {
                try m.record(step: 6, stageIndex: 0, stageKind: "s", stageStep: 6, values: ["step": 1])
            }
            #expect(throws: TelemetryError.invalidMetricName(name: "a\nb", reason: "contains a control character")) {
                try m.record(step: 6, stageIndex: 0, stageKind: "s", stageStep: 6, values: ["a\nb": 1])
            }
            try m.close()
            #expect(throws: TelemetryError.closed(runDirectory: dir)) {
                try m.record(step: 6, stageIndex: 0, stageKind: "s", stageStep: 6, values: ["loss": 1])
            }
            // Rejected records left no trace.
            #expect(try MetricsLog.read(path: dir + "/metrics.jsonl").rows.count == 1)
        }
        #expect(throws: TelemetryError.self) {
            _ = try Self.monitor("/proc/telemetry-cannot-create-this", resumingAfterStep: nil)
        }
    }
}
