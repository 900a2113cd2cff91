import Testing
import Tokenizers

@Test func tokenizerFileErrorNamesFileAndKey() {
    let e = TokenizerFileError(file: "t.json", key: "model.merges[3]", message: "not a pair")
    #expect(e.description == "t.json: model.merges[3]: not a pair")
}
