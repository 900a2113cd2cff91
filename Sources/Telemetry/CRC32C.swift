/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of TFRecord framing, and the
/// "masked" form TensorFlow stores so that a CRC of data that itself holds CRCs stays well distributed.
public enum CRC32C {
    /// Byte-at-a-time lookup table for the reflected polynomial (events are small; no slicing needed).
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    /// The CRC-32C of `bytes` (initial value and final xor 0xFFFFFFFF).
    /// - Parameter bytes: the data.
    public static func checksum<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// TensorFlow's masked CRC: rotate right by 15 bits and add 0xa282ead8 (tensorflow/core/lib/hash/crc32c.h).
    /// - Parameter crc: an unmasked CRC-32C.
    public static func mask(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// The masked CRC-32C of `bytes`, as stored in TFRecord files.
    /// - Parameter bytes: the data.
    public static func maskedChecksum<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        mask(checksum(bytes))
    }
}
