import Telemetry
import Testing

// CRC-32C against published check values, and the masked form against TensorBoard's own Python
// implementation (tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c, values printed once).
@Suite struct CRC32CTests {
    @Test func standardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func rfc3720Vectors() {
        // RFC 3720 (iSCSI) B.4: 32 bytes of zeros, 32 bytes of 0xFF, and 0...31 ascending.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    @Test func maskedMatchesTensorBoard() {
        #expect(CRC32C.maskedChecksum(Array("123456789".utf8)) == 0xC78A_B0E5)
        // The length field of a 9-byte record: uint64 9, little endian.
        #expect(CRC32C.maskedChecksum([9, 0, 0, 0, 0, 0, 0, 0]) == 0x3971_F937)
        #expect(CRC32C.mask(0) == 0xA282_EAD8)
    }
}
