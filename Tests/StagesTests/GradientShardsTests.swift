import Distributed
import Foundation
import Model
import Stages
import Tensor
import Testing

// run.gradient_shards: the shards every training step cuts its batch into; read with the other run settings, and
// under mpirun a multiple of the rank count or the run stops before its first step, naming the line and the values
// that work.

@Suite("run.gradient_shards")
struct GradientShardsTests {
    static let head = """
    name: t
    seed: 1
    data: {domains: [addition], train_size: 8, validation_size: 4, max_length: 96}
    teacher: {hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128}
    student: {layers: 1, hidden_size: 16, heads: 2, intermediate_size: 32}
    """
    static let stages = "\nstages:\n  - {kind: teacher-sft, steps: 2, batch_size: 4}\n"

    @Test("read from run:, 2 when absent (today's shards), at least 1, and printed in the resolved configuration that reads back")
    func parsed() throws {
        #expect(try Curriculum(text: Self.head + Self.stages).run.gradientShards == 2)
        let four = try Curriculum(text: Self.head + "\nrun: {gradient_shards: 4}" + Self.stages)
        #expect(four.run.gradientShards == 4)
        #expect(four.resolvedDescription.contains("gradient_shards: 4"))
        #expect(try Curriculum(text: four.resolvedDescription).run.gradientShards == 4)
        // line 6 of the text: the fifth line of head, then "run: ..." after the blank-less join
        let zero = curriculumError(Self.head + "\nrun: {gradient_shards: 0}" + Self.stages)
        #expect(zero?.keyPath == "run.gradient_shards" && zero?.line == 6, "\(String(describing: zero))")
        #expect(zero?.message.contains("must be at least 1, found 0") == true, "\(String(describing: zero))")
        let text = curriculumError(Self.head + "\nrun: {gradient_shards: four}" + Self.stages)
        #expect(text?.keyPath == "run.gradient_shards" && text?.line == 6)
    }

    @Test("a shard count the ranks cannot split evenly stops the run before its first step, with the file, line and the values that work")
    func refusedUnderRanks() throws {
        // lines: 1-5 head, 6 "run:", 7 "  gradient_shards: 3"
        let curriculum = try Curriculum(text: Self.head + "\nrun:\n  gradient_shards: 3" + Self.stages)
        let models = try CurriculumModels(curriculum: curriculum)
        let before = snapshot(models.student.parameters)
        let runner = try CurriculumRunner(curriculum: curriculum, teacher: models.teacher, student: models.student,
                                          group: MirroredRank(size: 2))
        do {
            _ = try runner.run()
            Issue.record("3 shards over 2 ranks ran")
        } catch let e as CurriculumError {
            #expect(e.description == "<text>:7: run.gradient_shards: 3 shards per step cannot be split evenly over 2 processes (mpirun -np 2); "
                        + "set run.gradient_shards to a multiple of 2 (2, 4, 6, ...), or run a process count that divides 3: 1, 3")
        }
        #expect(runner.context.stageRecords.map(\.state) == ["pending"])
        #expect(runner.context.stageRecords[0].step == 0)
        #expect(snapshot(models.student.parameters) == before)

        // the default 2 over 4 ranks: no line to point at, the message says it is the default
        let plain = try Curriculum(text: Self.head + Self.stages)
        let m2 = try CurriculumModels(curriculum: plain)
        let four = try CurriculumRunner(curriculum: plain, teacher: m2.teacher, student: m2.student, group: MirroredRank(size: 4))
        do {
            _ = try four.run()
            Issue.record("2 shards over 4 ranks ran")
        } catch let e as CurriculumError {
            #expect(e.line == nil && e.keyPath == "run.gradient_shards")
            #expect(e.description == "<text>: run.gradient_shards: 2 (the default) shards per step cannot be split evenly over 4 processes "
                        + "(mpirun -np 4); set run.gradient_shards to a multiple of 4 (4, 8, 12, ...), or run a process count that divides 2: 1, 2")
        }
    }
}

/// Rank 0 of a group whose other ranks read exactly what this one did: every allgather returns this rank's bytes for
/// each rank. Enough for the checks before the first step; a gradient sum is not expected.
private final class MirroredRank: Collective {
    let rank = 0
    let size: Int
    init(size: Int) { self.size = size }
    func barrier() throws {}
    func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8] { bytes }
    func allgather(_ bytes: [UInt8]) throws -> [[UInt8]] { [[UInt8]](repeating: bytes, count: size) }
    func maximum(_ value: Int64) throws -> Int64 { value }
    func allreduceSum(_ values: inout [Float]) throws {}
    func sum(local: [[Float]], first: Int, shardCount: Int, into total: inout [Float]) throws {
        Issue.record("a gradient sum ran: the run took a step")
    }
    func gather(local: [[Double]], first: Int, shardCount: Int) throws -> [[Double]] {
        Issue.record("a gather ran: the run took a step")
        return local
    }
}
