import Checkpoint
import Foundation
import Model
import Tensor
import TestSupport
import Testing

// A process killed with SIGKILL while it writes a checkpoint leaves the previous one valid under the
// real name. A shell loop runs `distill init --preset teacher` (about 13 MB) over the same file; the
// whole process group is killed at chosen moments — right after a temporary file appears (certainly
// mid-write), after a completed rename, and at random delays — and after every kill the file must
// verify, load, and hold exactly one of the two complete versions.

/// Starts `argv` in a new process group (pgid = its pid) with output discarded.
private func spawnGroup(_ argv: [String], environment: [String: String]) throws -> pid_t {
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
    posix_spawnattr_setpgroup(&attr, 0)
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let args = argv.map { strdup($0) } + [nil]
    let env = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (args + env).forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, argv[0], &actions, &attr, args, env)
    guard rc == 0 else { throw SetupFailure("posix_spawn \(argv[0]) failed: \(String(cString: strerror(rc)))") }
    return pid
}

/// Polls `condition` every millisecond until it holds or `timeout` seconds pass.
private func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if condition() { return true }
        usleep(1000)
    }
    return condition()
}

private func inode(_ path: String) -> UInt64? {
    var st = stat()
    return stat(path, &st) == 0 ? UInt64(st.st_ino) : nil
}

/// Inode, size and modification time: changes when the file is replaced or written in place.
private func fileIdentity(_ path: String) -> [Int] {
    var st = stat()
    guard stat(path, &st) == 0 else { return [] }
    return [Int(st.st_ino), Int(st.st_size), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec)]
}

@Suite("Crash safety")
struct CrashSafetyTests {
    @Test("SIGKILL during distill init leaves the previous checkpoint valid and loadable under the real name")
    func killDuringWrite() throws {
        guard let distill = requireDistill() else { return }
        try withTemporaryFolder("crash") { dir in
            let folder = CheckpointDirectory(path: dir)
            let path = folder.file(step: 1)
            let other = dir + "/reference/seed-2.h5"
            // The two complete versions the file may hold: seed 1 (before the loop) and seed 2 (the loop's).
            let references = [(path, "1"), (other, "2")]
            var made = [ProcessResult?](repeating: nil, count: references.count)
            made.withUnsafeMutableBufferPointer { slots in  // both at once: one element each, no shared writes
                DispatchQueue.concurrentPerform(iterations: references.count) { i in
                    slots[i] = try? runDistill(distill, ["init", "--preset", "teacher", "--seed", references[i].1, "--out", references[i].0], timeout: 300)
                }
            }
            for r in made {
                #expect(r?.succeeded == true, "distill init: \(String(describing: r))")
                guard r?.succeeded == true else { return }
            }
            // Both versions loaded once (into stores built from the specs: no initialiser, fast in debug builds).
            let config = try CheckpointReader(path: path).transformerConfig(role: "student")
            func loadStore(_ file: String) throws -> ParameterStore {
                let store = ParameterStore(Transformer.parameterSpecs(config))
                try CheckpointReader(path: file).load(role: "student", into: store)
                return store
            }
            let seed1 = try loadStore(path), seed2 = try loadStore(other)
            #expect(seed1.count == 3_214_080)
            func same(_ a: ParameterStore, _ b: ParameterStore) -> Bool {
                a.count == b.count && memcmp(a.values.base, b.values.base, a.count * 4) == 0
            }
            #expect(!same(seed1, seed2))

            let loop = "while true; do \"$0\" init --preset teacher --seed 2 --out \"$1\" || exit 3; done"
            let bash = toolPath("bash") ?? "/bin/bash"
            var rng = RandomGenerator(seed: 20_240_601)
            var killedMidWrite = 0, sawReplacement = false
            // Kill moments: 0 = as soon as a new temporary file appears, -1 = after a completed rename,
            // otherwise that many seconds after a new temporary file appears.
            let moments: [Double] = [0, -1, rng.nextDouble() * 0.4, 0.01, rng.nextDouble() * 0.4]
            for (round, moment) in moments.enumerated() {
                let tempsBefore = Set(folderListing(dir).filter { $0.contains(".tmp-") })
                let inodeBefore = inode(path)
                let pid = try spawnGroup([bash, "-c", loop, distill, path], environment: childEnvironment())
                let identityBefore = fileIdentity(path)
                let newTemp = { Set(folderListing(dir).filter { $0.contains(".tmp-") }).subtracting(tempsBefore).isEmpty == false }
                let started: Bool
                if moment < 0 {
                    started = waitUntil(timeout: 60) { inode(path) != inodeBefore }
                    // seen here, as it happened: by the kill, later saves may have brought the first inode number back
                    // (a freed inode is reused), so the comparison after the kill alone can miss a completed rename
                    if started { sawReplacement = true }
                    usleep(UInt32(rng.nextDouble() * 200_000))
                } else {
                    // A new temporary file, or (a writer that is not atomic) the real file itself changing.
                    started = waitUntil(timeout: 60) { newTemp() || fileIdentity(path) != identityBefore }
                    if moment > 0 { usleep(UInt32(moment * 1_000_000)) }
                }
                let tempPresent = newTemp()
                kill(-pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
                #expect(started, "round \(round): the loop never reached the write (is distill working?)")
                if tempPresent && moment >= 0 { killedMidWrite += 1 }
                if inode(path) != inodeBefore { sawReplacement = true }

                // The real name holds a complete checkpoint: it verifies, loads, and is one of the two versions.
                #expect(FileManager.default.fileExists(atPath: path), "round \(round): the checkpoint disappeared")
                do {
                    let reader = try CheckpointReader(path: path)
                    try reader.verify()
                    let loaded = try loadStore(path)
                    #expect(same(loaded, seed1) || same(loaded, seed2), "round \(round): weights are neither complete version")
                } catch {
                    Issue.record("round \(round) (kill moment \(moment)): the checkpoint under the real name is broken: \(error)")
                }
                // Leftover temporaries are allowed, but are never taken for checkpoints.
                let listed = try folder.files()
                #expect(listed.map(\.path) == [path], "round \(round): files() = \(listed)")
            }
            #expect(killedMidWrite >= 1, "no kill landed while a temporary file was being written; the test proved nothing")
            #expect(sawReplacement, "the loop never completed a save; the test did not exercise the rename")
            #expect(folderListing(dir).contains { $0.hasPrefix(".step-1.h5.tmp-") }, "expected leftover temporaries from killed writes: \(folderListing(dir))")
            #expect(try folder.latestValid().path == path, "the temporaries must not be taken for checkpoints")
            let model = try CheckpointReader(path: path).loadTransformer(role: "student")
            #expect(same(model.parameters, seed1) || same(model.parameters, seed2))
        }
    }
}
