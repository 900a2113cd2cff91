import Distributed
import Foundation
import Model
import Tensor

/// `bench --phases mpi`: the cost of summing gradients across ranks, on this machine. The parent runs
/// `mpirun -np 2 distill bench --mpi-worker` (rank 0 prints the figures as JSON), once on this host and, as root,
/// once across two network namespaces joined by a veth pair (two "hosts" whose traffic crosses a TCP link:
/// loopback speed, not a network's; made and removed here). Figures per gradient buffer (SmolLM2's 10-layer
/// student of `bench --phases lm`, the default curriculum's student): the exact, order-fixed sum (`MPIWorld.sum`:
/// Alltoallv + Allgatherv of subtree sums) and MPI_Allreduce, as GB/s of the buffer (its bytes / seconds per sum),
/// and one training step of the bench's student (batch 16 x 128) as 2 ranks x 1 thread against 1 process x 2 threads.
struct MPIBench {
    let reps: Int

    /// The gradient buffers measured, with their parameter counts.
    static func buffers() throws -> [(name: String, count: Int)] {
        var smol = LMBench.teacher
        smol.numHiddenLayers = LMBench.studentLayers
        // the default curriculum's student: teacher 4 x 128 (MLP 344, 4 heads) shrunk to 3 x 64, 2 heads, MLP 172
        let teacher = TransformerConfig(vocabSize: Tokenizer.math.vocabularySize, hiddenSize: 128, intermediateSize: 344,
                                        numHiddenLayers: 4, numAttentionHeads: 4, numKeyValueHeads: 4, maxPositionEmbeddings: 192)
        let student = try teacher.shrunk(by: ShrinkSpec(layers: 3, hiddenSize: 64, heads: 2, kvHeads: 2, intermediateSize: 172))
        var rng = RandomGenerator(seed: 0)
        return [("smollm2_student", try Transformer(config: smol, rng: &rng).parameters.count),
                ("default_student", try Transformer(config: student, rng: &rng).parameters.count)]
    }

    func run(into report: inout BenchReport, log: (String) -> Void) throws {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        // one training step of the bench's student at 1 process x 2 threads, as ModelBench measures it
        let threads = Parallel.threads
        Parallel.threads = 2
        defer { Parallel.threads = threads }
        let oneByTwo = try Self.trainStep(group: LocalProcess(), reps: reps)
        report["mpi_train_student_1x2_ms"] = .double(oneByTwo * 1e3)
        log(String(format: "mpi: training step of the bench's student, 1 process x 2 threads: %.2f ms", oneByTwo * 1e3))
        var mpirun = ["mpirun", "-np", "2", "--oversubscribe", "-x", "OPENBLAS_CORETYPE", "-x", "OPENBLAS_NUM_THREADS"]
        if getuid() == 0 { mpirun.append("--allow-run-as-root") }
        let worker = [exe, "bench", "--mpi-worker", "--reps", String(reps)]
        try add(try Self.launch(mpirun + worker), prefix: "mpi_", to: &report, log: log)
        let twoHosts = TwoNamespaces()
        if let reason = twoHosts.unavailable {
            report["mpi_two_hosts_skipped"] = .string(reason)
            log("mpi: two hosts skipped: \(reason)")
            return
        }
        try twoHosts.create()
        defer { twoHosts.remove() }
        try add(try Self.launch(["ip", "netns", "exec", TwoNamespaces.names[0]] + mpirun + twoHosts.mpirunOptions + worker),
                prefix: "mpi_two_hosts_", to: &report, log: log)
    }

    private func add(_ figures: [String: Double], prefix: String, to report: inout BenchReport, log: (String) -> Void) throws {
        for key in figures.keys.sorted() { report[prefix + key] = .double(figures[key]!) }
        for (name, _) in try Self.buffers() {
            log(String(format: "%@%@ (%.0f MB): exact %.2f GB/s, MPI_Allreduce %.2f GB/s", prefix, name,
                       figures["\(name)_mb"] ?? 0, figures["\(name)_exact_gb_s"] ?? 0, figures["\(name)_allreduce_gb_s"] ?? 0))
        }
        log(String(format: "%@training step of the bench's student, 2 ranks x 1 thread: %.2f ms", prefix, figures["train_student_2x1_ms"] ?? 0))
    }

    /// Runs `command` (mpirun ...) and returns rank 0's JSON line.
    static func launch(_ command: [String]) throws -> [String: Double] {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        child.arguments = command
        let pipe = Pipe(), errors = Pipe()
        child.standardOutput = pipe
        child.standardError = errors
        try child.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard child.terminationStatus == 0, let line = text.split(separator: "\n").last,
              let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
            throw BenchFailure(message: "\(command.prefix(8).joined(separator: " ")) ... failed (exit status \(child.terminationStatus)); "
                               + "its output ended: \(text.suffix(300)) \(String(decoding: err, as: UTF8.self).suffix(600))")
        }
        var figures: [String: Double] = [:]
        for (key, value) in object { figures[key] = (value as? NSNumber)?.doubleValue }
        return figures
    }

    /// Under mpirun: every rank measures, rank 0's figures are returned (nil on the other ranks).
    static func worker(reps: Int) throws -> [String: Double]? {
        let group = try Launch.world()
        guard let world = group as? MPIWorld else {
            throw BenchFailure(message: "--mpi-worker runs under mpirun (bench --phases mpi starts it)")
        }
        BLAS.useSingleThread()
        var out: [String: Double] = ["ranks": Double(world.size)]
        for (name, count) in try buffers() {
            var local = [Float](repeating: 0, count: count)
            var rng = RandomGenerator(seed: UInt64(world.rank))
            for i in 0..<count { local[i] = rng.nextFloat() - 0.5 }
            let bytes = Double(count * 4)
            var total: [Float] = []
            world.exact = true
            let exact = try timed(reps: reps, world) { try world.sum(local: [local], first: world.rank, shardCount: world.size, into: &total) }
            var plain = local
            let allreduce = try timed(reps: reps, world) { try world.allreduceSum(&plain) }
            out["\(name)_mb"] = bytes / 1e6
            out["\(name)_exact_ms"] = exact * 1e3
            out["\(name)_exact_gb_s"] = bytes / exact / 1e9
            out["\(name)_allreduce_ms"] = allreduce * 1e3
            out["\(name)_allreduce_gb_s"] = bytes / allreduce / 1e9
        }
        Parallel.threads = 1
        out["train_student_2x1_ms"] = try trainStep(group: world, reps: reps) * 1e3
        return world.isWriter ? out : nil
    }

    /// Median seconds of `body` over `reps` calls, every rank starting each call together.
    static func timed(reps: Int, _ world: MPIWorld, _ body: () throws -> Void) throws -> Double {
        try body()  // warm-up
        var samples: [Double] = []
        for _ in 0..<reps {
            try world.barrier()
            let s = DispatchTime.now().uptimeNanoseconds
            try body()
            // the slowest rank's time: a sum is done when every rank has it
            samples.append(Double(try world.maximum(Int64(DispatchTime.now().uptimeNanoseconds - s))) / 1e9)
        }
        samples.sort()
        return samples[samples.count / 2]
    }

    /// Median seconds of one training step of ModelBench's student on batch 16 x 128: in one process, the two halves
    /// on two threads (as the training stages run); over 2 ranks, one half per rank on one thread, the gradients
    /// summed exactly (the halves as 2 shards), then AdamW on every rank.
    static func trainStep(group: any Collective, reps: Int) throws -> Double {
        var rng = RandomGenerator(seed: 0)
        let b = ModelBench.batch, t = ModelBench.length, tokens = b * t
        let x = (0..<tokens).map { _ in Int32(rng.nextInt(below: 64)) }
        let y = (0..<tokens).map { _ in Int32(rng.nextInt(below: 64)) }
        let model = try Transformer(config: ModelBench.student, rng: &rng)
        let opt = AdamW(store: model.parameters, weightDecay: 0.01)
        let store = model.parameters
        if group.size == 1 {
            let models = [model, model.replica()]
            let xs = Parallel.halves(x), ys = Parallel.halves(y)
            return medianSeconds(reps: reps, warmup: 2, minSample: 0) {
                for m in models { m.parameters.zeroGradients() }
                Parallel.split(2) { i in
                    let out = models[i].forward(tokens: xs[i], batch: b / 2, length: t)
                    crossEntropy(out.logits, targets: ys[i]).backward(seed: Tensor(shape: [], values: [0.5]))
                }
                store.addGradients(from: models[1].parameters)
                opt.step(learningRate: 3e-4)
            }
        }
        guard group.size == 2, let world = group as? MPIWorld else { throw BenchFailure(message: "the training step runs on 1 or 2 ranks") }
        let xs = Parallel.halves(x), ys = Parallel.halves(y)
        var total: [Float] = []
        let step = {
            store.zeroGradients()
            let out = model.forward(tokens: xs[world.rank], batch: b / 2, length: t)
            crossEntropy(out.logits, targets: ys[world.rank]).backward(seed: Tensor(shape: [], values: [0.5]))
            let local = Array(UnsafeBufferPointer(start: store.gradients.base, count: store.count))
            try world.sum(local: [local], first: world.rank, shardCount: 2, into: &total)
            total.withUnsafeBufferPointer { store.gradients.base.update(from: $0.baseAddress!, count: store.count) }
            opt.step(learningRate: 3e-4)
        }
        try step()
        return try timed(reps: reps, world, step)
    }
}

/// Two network namespaces joined by a veth pair, as two hosts for mpirun: 10.77.0.1 (where mpirun runs) and
/// 10.77.0.2, reached by an rsh agent that enters the namespace instead of ssh. Needs root and `ip` (iproute2).
struct TwoNamespaces {
    static let names = ["tracedistill-mpi-a", "tracedistill-mpi-b"]
    static let addresses = ["10.77.0.1", "10.77.0.2"]

    /// Why it cannot run here, nil when it can.
    var unavailable: String? {
        if getuid() != 0 { return "network namespaces need root" }
        if !FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") && !FileManager.default.isExecutableFile(atPath: "/sbin/ip") {
            return "no ip command (Debian's iproute2)"
        }
        return nil
    }

    /// The agent: `AGENT [options] HOST COMMAND...` runs COMMAND in HOST's namespace.
    var agentPath: String { NSTemporaryDirectory() + "tracedistill-netns-agent.sh" }

    var mpirunOptions: [String] {
        ["--host", Self.addresses.joined(separator: ","), "--mca", "plm_rsh_agent", agentPath,
         "--mca", "btl", "tcp,self", "--mca", "btl_tcp_if_include", "10.77.0.0/24", "--mca", "oob_tcp_if_include", "10.77.0.0/24"]
    }

    private func ip(_ args: [String], check: Bool = true) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip"] + args
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        if check && p.terminationStatus != 0 {
            throw BenchFailure(message: "ip \(args.joined(separator: " ")) failed (exit status \(p.terminationStatus))")
        }
    }

    func create() throws {
        remove()  // what an earlier, killed bench left
        let agent = """
            #!/bin/sh
            # rsh agent for mpirun: the host argument (an address of a namespace) picks the namespace
            while [ $# -gt 0 ]; do case "$1" in \(Self.addresses[0])) ns=\(Self.names[0]); shift; break;; \
            \(Self.addresses[1])) ns=\(Self.names[1]); shift; break;; *) shift;; esac; done
            exec ip netns exec "$ns" /bin/sh -c "$*"

            """
        try agent.write(toFile: agentPath, atomically: true, encoding: .utf8)
        chmod(agentPath, 0o755)
        for n in Self.names { try ip(["netns", "add", n]) }
        try ip(["link", "add", "tdmpi-a", "type", "veth", "peer", "name", "tdmpi-b"])
        for i in 0..<2 {
            let dev = i == 0 ? "tdmpi-a" : "tdmpi-b"
            try ip(["link", "set", dev, "netns", Self.names[i]])
            try ip(["-n", Self.names[i], "addr", "add", Self.addresses[i] + "/24", "dev", dev])
            try ip(["-n", Self.names[i], "link", "set", dev, "up"])
            try ip(["-n", Self.names[i], "link", "set", "lo", "up"])
        }
    }

    func remove() {
        for n in Self.names { try? ip(["netns", "delete", n], check: false) }  // deleting a namespace deletes its veth end
        unlink(agentPath)
    }
}
