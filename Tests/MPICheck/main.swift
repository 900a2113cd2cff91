// mpi-check: the checks `make test-mpi` runs under `mpirun -np N` (N = 1, 2, 4). Each case prints one line per
// check on rank 0 and exits 1 on the first failure; `kill` ends with the job killed by mpirun (the make target
// checks that it ends, and how fast).
//   mpi-check sum     exact shard sums against one process's ShardSum.tree over every shard, bit for bit
//   mpi-check gather  every shard's values in global shard order, on every rank
//   mpi-check kill    rank 1 kills itself with SIGKILL while rank 0 waits in a collective
import Distributed
import Foundation
import Tensor

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("mpi-check: FAIL: \(message)\n".utf8))
    exit(1)
}

/// Shard `s` of a test gradient: `n` values whose magnitudes span 2^-20 ... 2^20, so the order of the additions
/// changes the low bits (a sum that ignored the fixed order would differ).
func shard(_ s: Int, _ n: Int) -> [Float] {
    var g = SplitMix(seed: UInt64(1000 + s))
    return (0..<n).map { _ in
        let mantissa = Float(g.next() % 1_000_000) / 1_000_000 - 0.5
        let exponent = Int(g.next() % 41) - 20
        return mantissa * Float(sign: .plus, exponent: exponent, significand: 1)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

let world: any Collective
do { world = try Launch.world() } catch { fail("\(error)") }
let say: (String) -> Void = { if world.rank == 0 { print("mpi-check [\(world.size) ranks]: \($0)") } }

switch CommandLine.arguments.dropFirst().first ?? "" {
case "sum":
    var differsFromAllreduce = 0, cases = 0
    for shardCount in [2, 3, 4, 6, 8, 12] where shardCount % world.size == 0 {
        for n in [1, 7, 1001, 65_536, 1 << 20] {
            let all = (0..<shardCount).map { shard($0, n) }
            let per = shardCount / world.size, first = world.rank * per
            let expected = ShardTree.sum(all)  // one process, every shard: ShardSum.tree
            var total: [Float] = []
            do { try world.sum(local: Array(all[first ..< first + per]), first: first, shardCount: shardCount, into: &total) } catch { fail("\(error)") }
            guard total.count == n else { fail("\(shardCount) shards of \(n): \(total.count) values back") }
            if let i = (0..<n).first(where: { total[$0].bitPattern != expected[$0].bitPattern }) {
                fail("\(shardCount) shards of \(n) on rank \(world.rank): value \(i) is \(total[i]), one process gives \(expected[i])")
            }
            // MPI_Allreduce of the ranks' local tree sums: the usual reduction, for comparison
            if let mpi = world as? MPIWorld {
                let chosen = mpi.exact  // TRACEDISTILL_MPI_SUM's choice, put back below
                mpi.exact = false
                var plain: [Float] = []
                do { try mpi.sum(local: Array(all[first ..< first + per]), first: first, shardCount: shardCount, into: &plain) } catch { fail("\(error)") }
                mpi.exact = chosen
                if (0..<n).contains(where: { plain[$0].bitPattern != expected[$0].bitPattern }) { differsFromAllreduce += 1 }
            }
            cases += 1
        }
    }
    // every rank must hold the same bits: rank 0's total, compared on every rank
    let all = (0..<world.size * 2).map { shard($0, 999) }
    var total: [Float] = []
    do {
        try world.sum(local: Array(all[world.rank * 2 ..< world.rank * 2 + 2]), first: world.rank * 2, shardCount: world.size * 2, into: &total)
        let bytes = total.withUnsafeBytes { Array($0) }
        guard try world.broadcast(bytes, from: 0) == bytes else { fail("rank \(world.rank) holds other bits than rank 0") }
    } catch { fail("\(error)") }
    say("sum: \(cases) cases bit-identical to one process's tree; MPI_Allreduce differed in \(differsFromAllreduce)")
case "gather":
    let shardCount = world.size * 3
    let first = world.rank * 3
    // shard s: s + 1 values, s * 100 + j
    let local = (first ..< first + 3).map { s in (0...s).map { Double(s * 100 + $0) } }
    let got: [[Double]]
    do { got = try world.gather(local: local, first: first, shardCount: shardCount) } catch { fail("\(error)") }
    let expected = (0..<shardCount).map { s in (0...s).map { Double(s * 100 + $0) } }
    guard got == expected else { fail("rank \(world.rank) gathered \(got), expected \(expected)") }
    let bytes = try! world.allgather(Array("rank \(world.rank)".utf8)).map { String(decoding: $0, as: UTF8.self) }
    guard bytes == (0..<world.size).map({ "rank \($0)" }) else { fail("allgather order \(bytes)") }
    say("gather: \(shardCount) shards in global order on every rank; allgather in rank order")
case "kill":
    do {
        try world.barrier()
        if world.rank == 1 { kill(getpid(), SIGKILL) }
        // rank 0 (and any other) waits for rank 1 in collectives that never complete
        var v: [Float] = [1]
        while true { try world.allreduceSum(&v) }
    } catch { fail("\(error)") }
default:
    fail("usage: mpi-check sum|gather|kill")
}
