import Testing
import ModelIO

@Test func modelFileErrorNamesTensor() {
    let e = ModelFileError.missingTensor(file: "m.gguf", tensor: "blk.0.attn_q.weight")
    #expect(e.description.contains("m.gguf") && e.description.contains("blk.0.attn_q.weight"))
}
