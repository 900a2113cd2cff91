import COpenSSL

/// SHA-256 through OpenSSL's libcrypto (EVP): feed bytes with `update`, read the 32-byte digest with `finalize`.
/// A value type over one digest context; copies share it, so use each hasher from one place.
public struct SHA256 {
    private final class Context {
        let pointer: OpaquePointer

        init() {
            guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
                fatalError("OpenSSL could not start a SHA-256 digest (out of memory)")
            }
            pointer = context
        }

        deinit { EVP_MD_CTX_free(pointer) }
    }

    private let context = Context()

    public init() {}

    /// Adds the bytes of `buffer` to the digest.
    public mutating func update(bufferPointer buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        precondition(EVP_DigestUpdate(context.pointer, base, buffer.count) == 1, "OpenSSL's SHA-256 update failed")
    }

    /// Adds `bytes` to the digest.
    public mutating func update(data bytes: some Collection<UInt8>) {
        if bytes.withContiguousStorageIfAvailable({ update(bufferPointer: UnsafeRawBufferPointer($0)) }) == nil {
            let copy = Array(bytes)
            copy.withUnsafeBytes { update(bufferPointer: $0) }
        }
    }

    /// The digest of every byte added (32 bytes). The hasher must not be used after.
    public func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        precondition(EVP_DigestFinal_ex(context.pointer, &digest, &length) == 1 && length == 32, "OpenSSL's SHA-256 final failed")
        return digest
    }

    /// The digest of `bytes` (32 bytes).
    public static func hash(data bytes: some Collection<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: bytes)
        return hasher.finalize()
    }
}
