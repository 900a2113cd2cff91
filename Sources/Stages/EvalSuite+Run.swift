import Checkpoint
import Eval
import Foundation

extension EvalSuite {
    /// The run's held-out suite: the built-in math-proof construction (test split only, checked) restricted to the
    /// domains and difficulty `curriculum` trains on.
    /// - Parameter perDomain: problems per domain (nil: `MathProofSuite.defaultCountPerDomain`).
    /// - Throws: `EvalError`/`DataError` when the suite cannot be generated.
    public static func heldOut(curriculum: Curriculum, perDomain: Int?) throws -> EvalSuite {
        try MathProofSuite(domains: curriculum.data.domains, countPerDomain: perDomain ?? MathProofSuite.defaultCountPerDomain,
                           difficulty: curriculum.data.difficulty).generate()
    }

    /// The held-out suite of the run in `directory` (`distill report --suite run`), from the curriculum stored in its
    /// newest valid checkpoint.
    /// - Parameter registry: the stage kinds the curriculum may name (a script's own kinds included).
    /// - Throws: `RunError.noCheckpoint` when the folder holds no valid checkpoint (with why each file was skipped);
    ///   `CurriculumError` (at `DIR/curriculum.yaml`) when the stored curriculum does not read.
    public static func ofRun(directory: String, perDomain: Int?, registry: StageRegistry = .standard) throws -> EvalSuite {
        let (found, skipped) = try CheckpointDirectory(path: directory).latestValid()
        guard let path = found else { throw RunError.noCheckpoint(directory: directory, skipped: skipped.map(\.description)) }
        let curriculum = try CheckpointReader(path: path).storedCurriculum(file: directory + "/curriculum.yaml", registry: registry)
        return try heldOut(curriculum: curriculum, perDomain: perDomain)
    }
}

extension CheckpointReader {
    /// The run curriculum stored in the checkpoint, read relative to the folder the run was started from (the
    /// `curriculum_base_directory` artifact; the current folder when the checkpoint has none).
    /// - Parameters:
    ///   - file: the name error messages give the stored text.
    ///   - registry: the stage kinds the curriculum may name.
    /// - Throws: `CurriculumError` naming `file`, line and key when the text does not read (an empty text included:
    ///   check `curriculum` first for a checkpoint that may hold none, such as an imported model).
    public func storedCurriculum(file: String, registry: StageRegistry = .standard) throws -> Curriculum {
        let base = try artifacts()["curriculum_base_directory"].map { String(decoding: $0, as: UTF8.self) }
        return try Curriculum(text: curriculum, file: file, baseDirectory: base ?? FileManager.default.currentDirectoryPath,
                              registry: registry)
    }
}
