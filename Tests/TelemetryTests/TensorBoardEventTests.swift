import Telemetry
import Testing

// Event protobuf bytes against hand-encoded bytes (checked once against tensorboard's event_pb2
// SerializeToString, which printed the same hex), and the TFRecord framing.
@Suite struct TensorBoardEventTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func scalarEventBytes() {
        let e = TensorBoardEvent(wallTime: 1.5, step: 300, scalars: [.init(tag: "loss", value: 0.25)])
        // 09 <1.5 as LE double> | 10 <varint 300 = ac 02> | 2a 0d (Summary: 0a 0b (Value: 0a 04 "loss" 15 <0.25f>))
        #expect(Self.hex(e.serialized()) == "09000000000000f83f" + "10ac02" + "2a0d" + "0a0b" + "0a046c6f7373" + "150000803e")
    }

    @Test func fileVersionEventBytes() {
        let e = TensorBoardEvent(wallTime: 1.5, step: 0, fileVersion: TensorBoardEvent.currentFileVersion)
        #expect(Self.hex(e.serialized()) == "09000000000000f83f" + "1a0d" + Self.hex(Array("brain.Event:2".utf8)))
    }

    @Test func negativeStepAndZeroValue() {
        // int64 -1 is ten varint bytes; a zero simple_value is still written (it is in a oneof).
        let e = TensorBoardEvent(wallTime: 0, step: -1, scalars: [.init(tag: "a/b", value: 0)])
        #expect(Self.hex(e.serialized()) == "10ffffffffffffffffff01" + "2a0c" + "0a0a" + "0a03612f62" + "1500000000")
    }

    @Test func varintBoundaries() {
        var w = ProtobufWriter()
        for v: UInt64 in [0, 1, 127, 128, 16383, 16384, UInt64.max] { w.varint(v) }
        #expect(Self.hex(w.bytes) == "00" + "01" + "7f" + "8001" + "ff7f" + "808001" + "ffffffffffffffffff01")
    }

    @Test func recordFraming() {
        let data = Array("123456789".utf8)
        let r = TensorBoardEvent.record(data)
        #expect(r.count == 8 + 4 + 9 + 4)
        #expect(Self.hex(Array(r[0..<8])) == "0900000000000000")
        #expect(Self.hex(Array(r[8..<12])) == "37f97139")  // 0x3971f937 little endian
        #expect(Array(r[12..<21]) == data)
        #expect(Self.hex(Array(r[21..<25])) == "e5b08ac7")  // 0xc78ab0e5 little endian
    }
}
