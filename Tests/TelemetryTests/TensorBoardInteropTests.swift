import Foundation
import Logging
import Telemetry
import TestSupport
import Testing

// Event files read back by TensorBoard's own Python code (a virtualenv with `pip install tensorboard`, made
// on first use under .build): its record reader checks both CRCs of every record, its protobuf classes
// parse the events, and its EventAccumulator (what `tensorboard --logdir` uses) yields the scalar curves.
@Suite(.serialized) struct TensorBoardInteropTests {
    static let reader = """
        import json, os, struct, sys
        from tensorboard.compat.proto import event_pb2
        from tensorboard.compat.tensorflow_stub import errors
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New
        from tensorboard.backend.event_processing import event_accumulator

        run = sys.argv[1]
        def bits(v):
            return format(struct.unpack('<I', struct.pack('<f', v))[0], '08x')
        files = sorted(f for f in os.listdir(run) if 'tfevents' in f)
        raw, versions = [], []
        for f in files:
            reader = PyRecordReader_New(os.path.join(run, f))
            while True:
                try:
                    reader.GetNext()   # raises DataLossError on a bad length or data CRC
                except errors.OutOfRangeError:
                    break
                e = event_pb2.Event.FromString(reader.record())
                if e.file_version:
                    versions.append(e.file_version)
                for v in e.summary.value:
                    raw.append([e.step, v.tag, bits(v.simple_value), e.wall_time])
        acc = event_accumulator.EventAccumulator(run, size_guidance={event_accumulator.SCALARS: 0})
        acc.Reload()
        scalars = {t: [[s.step, bits(s.value)] for s in acc.Scalars(t)] for t in acc.Tags()['scalars']}
        print(json.dumps({"files": files, "versions": versions, "raw": raw, "scalars": scalars}))
        """

    static func bits(_ v: Double) -> String { String(format: "%08x", Float(v).bitPattern) }

    static func monitor(_ dir: String, resumingAfterStep: Int?, clock: ManualClock) throws -> RunMonitor {
        try RunMonitor(runDirectory: dir, resumingAfterStep: resumingAfterStep, progress: .none, tensorBoard: true,
                       logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }, console: CapturedOutput().console(),
                       clock: clock.function)
    }

    /// Values of a step: distinct per step and attempt, with awkward floats among them.
    static func values(step: Int, attempt: Int) -> [String: Double] {
        let s = Double(step), a = Double(attempt)
        var v = ["loss": 3 / (s + a), "kl": 1e-8 * s, "reward/answer": -s / 7 + a]
        if step % 2 == 0 { v["validation/loss"] = 1e30 * s }
        return v
    }

    @Test func tensorBoardReadsTheSameTagsStepsAndValuesAfterACrashAndResume() throws {
        guard let python = PythonTensorBoard.require() else { return }
        try withTemporaryFolder("tensorboard") { dir in
            let clock = ManualClock(1_700_000_000.25)
            do {
                let m = try Self.monitor(dir, resumingAfterStep: nil, clock: clock)
                for s in 1...6 {
                    clock.now += 1
                    try m.record(step: s, stageIndex: s <= 3 ? 0 : 1, stageKind: s <= 3 ? "output-distill" : "ppo-trace",
                                 stageStep: s, values: Self.values(step: s, attempt: 0))
                }
            }  // crash: no close, and a record cut short at the end of the event file
            let first = try #require(folderListing(dir).first { $0.contains("tfevents") })
            let handle = try #require(FileHandle(forWritingAtPath: dir + "/" + first))
            handle.seekToEndOfFile()
            handle.write(Data([0x30, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34]))
            try handle.close()

            clock.now += 100  // a later second: a differently named event file
            let m = try Self.monitor(dir, resumingAfterStep: 4, clock: clock)
            for s in 5...8 {
                clock.now += 1
                try m.record(step: s, stageIndex: 1, stageKind: "ppo-trace", stageStep: s - 3, values: Self.values(step: s, attempt: 1))
            }
            try m.close()

            // What TensorBoard must show: steps 1...4 of the first attempt, 5...8 of the second, each once.
            let rows = try MetricsLog.read(path: dir + "/metrics.jsonl").rows
            #expect(rows.map(\.step) == Array(1...8))
            var expected: [String: [[String]]] = [:]
            for r in rows { for (tag, v) in r.values { expected[tag, default: []].append([String(r.step), Self.bits(v)]) } }

            let result = try #require(try PythonTensorBoard.runJSON(python, script: Self.reader, arguments: [dir]) as? [String: Any])
            let files = try #require(result["files"] as? [String])
            #expect(files.count == 1, "one event file after the resume, got \(files)")
            #expect(files.first != first && files.first?.hasPrefix("events.out.tfevents.1700000106.") == true)
            #expect(result["versions"] as? [String] == ["brain.Event:2"])
            let raw = try #require(result["raw"] as? [[Any]])
            let pairs = raw.map { "\($0[0]) \($0[1])" }
            #expect(Set(pairs).count == pairs.count, "duplicate (step, tag) events: \(pairs)")
            #expect(raw.count == rows.reduce(0) { $0 + $1.values.count })
            for e in raw {
                let step = try #require(e[0] as? Int), tag = try #require(e[1] as? String), wallTime = try #require(e[3] as? Double)
                let row = try #require(rows.first { $0.step == step })
                #expect(e[2] as? String == Self.bits(try #require(row.values[tag])), "value of \(tag) at step \(step)")
                #expect(abs(wallTime - row.time) < 1e-6, "wall time at step \(step)")
            }
            let scalars = try #require(result["scalars"] as? [String: [[Any]]])
            #expect(Set(scalars.keys) == ["loss", "kl", "reward/answer", "validation/loss"])
            for (tag, points) in scalars {
                let got = points.map { ["\($0[0])", "\($0[1])"] }
                #expect(got == expected[tag], "EventAccumulator scalars of \(tag)")
            }
        }
    }

    @Test func tensorBoardRejectsACorruptedRecord() throws {
        guard let python = PythonTensorBoard.require() else { return }
        try withTemporaryFolder("tensorboard-corrupt") { dir in
            let m = try Self.monitor(dir, resumingAfterStep: nil, clock: ManualClock(1_700_000_000))
            try m.record(step: 1, stageIndex: 0, stageKind: "sft", stageStep: 1, values: ["loss": 1.5])
            try m.close()
            let path = try #require(m.eventFilePath)
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count - 6] ^= 0x01  // inside the last event's data
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect(throws: SetupFailure.self) { try PythonTensorBoard.runJSON(python, script: Self.reader, arguments: [dir]) }
            do { _ = try PythonTensorBoard.runJSON(python, script: Self.reader, arguments: [dir]) } catch {
                #expect("\(error)".contains("crc32 check"), "the reader should name the failed CRC: \(error)")
            }
        }
    }
}
