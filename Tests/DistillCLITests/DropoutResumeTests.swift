import Foundation
import Stages
import TestSupport
import Testing

// A stage's `dropout:` holds for that stage only: the next stage without the key trains at the model's own rate.
// It used to keep the earlier stage's rate in an uninterrupted run, while a resumed run rebuilt the student at its
// own rate, so a run killed after a `dropout:` stage resumed to other weights (found reviewing the prune stage, whose
// resume rebuilds the student). Both runs must end bit-identical.
@Suite("dropout across stages and resume")
struct DropoutResumeTests {
    /// Global steps: teacher-sft 1-4, output-distill with dropout 0.3 5-7, output-distill at the student's rate 8-11;
    /// checkpoints every 2 steps, so step 9 is a kill after the checkpoint of step 8, inside the third stage.
    static let curriculum = """
    \(tinyRunHead)
    stages:
      - kind: teacher-sft
        steps: 4
        batch_size: 2
      - kind: output-distill
        steps: 3
        batch_size: 2
        dropout: 0.3
        data: reference
      - kind: output-distill
        steps: 4
        batch_size: 2
        data: reference

    """

    @Test("a run killed in the stage after a `dropout:` stage resumes to the uninterrupted run's weights")
    func resumeAfterDropoutStage() throws {
        guard let exe = requireDistill() else { return }
        try withRunFolder("dropout-resume") { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let yaml = dir + "/c.yaml"
            try Self.curriculum.write(toFile: yaml, atomically: true, encoding: .utf8)
            let clean = try runProcess(exe, ["run", yaml, "--run-dir", dir + "/clean"], environment: childEnvironment(), timeout: 300)
            #expect(clean.succeeded, "\(clean)")
            var env = childEnvironment()
            env["TRACEDISTILL_FAULT"] = "kill-after-step:9"
            let killed = try runProcess(exe, ["run", yaml, "--run-dir", dir + "/killed"], environment: env, timeout: 300)
            #expect(killed.signaled, "the run should have been killed: \(killed)")
            let resumed = try runProcess(exe, ["resume", dir + "/killed"], environment: childEnvironment(), timeout: 300)
            #expect(resumed.succeeded, "\(resumed)")
            let file = "stage-2-output-distill.h5"
            #expect(try roleHashes(exe, dir + "/killed/" + file) == roleHashes(exe, dir + "/clean/" + file),
                    "the resumed run's student differs from the uninterrupted run's")
        }
    }
}
