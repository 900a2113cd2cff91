/// Why a collective operation across the ranks of an `mpirun` job could not go on.
public enum DistributedError: Error, CustomStringConvertible, Equatable {
    /// An MPI call returned an error code (`call`: the function, `message`: MPI's own words).
    case mpi(call: String, code: Int32, message: String)
    /// The ranks' shard blocks do not tile `0 ..< shardCount` in rank order, or their lengths differ.
    case shardLayout(rank: Int, reason: String)
    /// A buffer is too large for one MPI call (counts are 32-bit): `elements` against the limit.
    case tooLarge(what: String, elements: Int)
    /// A rank could not do what every rank must do before the job goes on; every rank throws this, naming the
    /// lowest failing rank and its reason, so the job stops together instead of waiting on the failed rank.
    case rankFailed(rank: Int, size: Int, reason: String)
    /// A rank read a different curriculum than rank 0 (SHA-256 of the text), so its steps would not match.
    case curriculumMismatch(rank: Int, size: Int, expected: String, found: String, file: String)
    /// A rank's weights differ from rank 0's at a checkpoint (`detail`: each role's SHA-256 on both): the ranks no
    /// longer compute the same run.
    case ranksDiverged(rank: Int, size: Int, globalStep: Int, detail: String)
    /// An environment variable holds a value it cannot take.
    case badSetting(name: String, value: String, expected: String)

    public var description: String {
        switch self {
        case .mpi(let call, let code, let message):
            return "\(call) failed (MPI error \(code): \(message))"
        case .shardLayout(let rank, let reason):
            return "rank \(rank): shard layout: \(reason)"
        case .tooLarge(let what, let elements):
            return "\(what) of \(elements) elements is more than one MPI call carries (\(Int32.max)); use more ranks or smaller buffers"
        case .rankFailed(let rank, let size, let reason):
            return "rank \(rank) of \(size) cannot start: \(reason). Every rank stopped before the first step; "
                + "fix it on that rank's host, then start the job again"
        case .ranksDiverged(let rank, let size, let step, let detail):
            return "rank \(rank) of \(size) holds other weights than rank 0 at global step \(step) (\(detail)); the ranks no longer "
                + "compute the same run: every rank must run the same build with the same environment on the same data. "
                + "The checkpoint of this step was not written"
        case .badSetting(let name, let value, let expected):
            return "\(name)=\(value): expected \(expected)"
        case .curriculumMismatch(let rank, let size, let expected, let found, let file):
            return "rank \(rank) of \(size) read a different curriculum than rank 0 from \(file) (SHA-256 \(found.prefix(12)), "
                + "rank 0: \(expected.prefix(12))); every rank stopped before the first step. "
                + "Give every host the same file (a shared folder, or copy rank 0's), then start the job again"
        }
    }
}
