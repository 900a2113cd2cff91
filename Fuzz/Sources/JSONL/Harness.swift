import Data
import FuzzSupport
import Foundation

// JSONL traces and GSM8K / MATH rows: any file must load or give a `DataError` naming file, line and field.
// The rows that load go through what a run does with them next (trace text, the JSONL line written back,
// cleaning with the step verifier).
let scratch = ScratchFile(suffix: ".jsonl")
let cleaner: TraceCleaner = {
    do { return try TraceCleaner() } catch { fatalError("the default cleaning settings are valid: \(error)") }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONL(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    scratch.write(data, size)
    if let dataset = try? TraceDataset.load(scratch.path) {
        for record in dataset.records {
            _ = record.traceText
            _ = record.jsonLine
        }
        _ = cleaner.clean(dataset.records)
    }
    if let traces = try? GSM8KProblem.loadTraces(scratch.path) {
        for record in traces.records { _ = record.traceText }
    }
    if let rows = try? MATHProblem.load(scratch.path) {
        for row in rows { _ = row.problem.traceRecord().traceText }
    }
    return 0
}

@main
enum Harness {
    static func main() { runFuzzer(fuzzJSONL) }
}
