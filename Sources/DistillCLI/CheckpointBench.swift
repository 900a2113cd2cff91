import Checkpoint
import Foundation
import Tensor

/// Checkpoint save and load throughput (with fsync and checksums) against a raw sequential write and
/// read of the same bytes with fsync, measured in the same run on the same folder.
struct CheckpointBench {
    let reps: Int
    let folder: String
    /// 32 tensors of 1M floats: 128 MB, about the size of a 32M-parameter model.
    static let tensors = 32, perTensor = 1 << 20

    func run(into report: inout BenchReport, log: (String) -> Void) throws {
        let scratch = folder + "/.bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let store = ParameterStore((0..<Self.tensors).map { ("bench.\($0).weight", [1024, Self.perTensor / 1024], true) })
        var rng = RandomGenerator(seed: 3)
        for i in 0..<store.count { store.values.base[i] = rng.nextNormal() }
        let bytes = Double(store.count * 4)
        let contents = CheckpointContents(models: [ModelSnapshot(role: "bench", configJSON: nil, store: store)])
        let ck = scratch + "/step-0.h5", raw = scratch + "/raw.bin"
        let n = min(reps, 5)

        let save = try timed(n) { try CheckpointWriter.save(contents, to: ck) }
        let load = try timed(n) { try CheckpointReader(path: ck).load(role: "bench", into: store, atomic: false) }
        let rawWrite = try timed(n) { try rawWriteFile(raw, store.values.base, bytes: store.count * 4) }
        let rawRead = try timed(n) { try rawReadFile(raw, into: store.values.base, bytes: store.count * 4) }
        for (key, s) in [("checkpoint_save_mb_s", save), ("checkpoint_load_mb_s", load), ("raw_write_mb_s", rawWrite), ("raw_read_mb_s", rawRead)] {
            report[key] = .double(bytes / s / 1e6)
        }
        report["checkpoint_save_vs_raw"] = .double(rawWrite / save)
        report["checkpoint_load_vs_raw"] = .double(rawRead / load)
        log(String(format: "checkpoint %.0f MB: save %.0f MB/s (raw write %.0f), load %.0f MB/s (raw read %.0f)",
                   bytes / 1e6, bytes / save / 1e6, bytes / rawWrite / 1e6, bytes / load / 1e6, bytes / rawRead / 1e6))
    }

    /// Median seconds over `n` runs of a throwing body.
    private func timed(_ n: Int, _ body: () throws -> Void) throws -> Double {
        try body()  // warm-up (page cache, allocations)
        var samples: [Double] = []
        for _ in 0..<n {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return samples.sorted()[samples.count / 2]
    }

    private func rawWriteFile(_ path: String, _ p: UnsafeMutablePointer<Float>, bytes: Int) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CheckpointError.io(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var done = 0
        while done < bytes {
            let w = write(fd, UnsafeRawPointer(p) + done, min(bytes - done, 1 << 26))
            guard w > 0 else { throw CheckpointError.io(file: path, reason: String(cString: strerror(errno))) }
            done += w
        }
        guard fsync(fd) == 0 else { throw CheckpointError.io(file: path, reason: "fsync failed") }
    }

    private func rawReadFile(_ path: String, into p: UnsafeMutablePointer<Float>, bytes: Int) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CheckpointError.io(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var done = 0
        while done < bytes {
            let r = read(fd, UnsafeMutableRawPointer(p) + done, min(bytes - done, 1 << 26))
            guard r > 0 else { throw CheckpointError.io(file: path, reason: "short read") }
            done += r
        }
    }
}
