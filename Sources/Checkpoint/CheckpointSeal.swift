import CHDF5
import Foundation

/// The seal that lets a checkpoint be checked before HDF5 parses any of it: a SHA-256 over every byte HDF5 will
/// parse, in the file's HDF5 user block (512 bytes at the start that HDF5 skips: h5py, h5dump and older
/// TraceDistill builds read the file as before).
///
/// HDF5 1.10 (Debian's 1.10.8) has memory errors on damaged metadata: out-of-bounds reads and writes, use after
/// free, a 4 GB allocation for a damaged string length (found by `make fuzz`, fuzz-checkpoint; inputs in
/// Fuzz/Findings). So the metadata must be known intact before HDF5 sees it. The digest covers the superblock,
/// object headers, B-trees, local and global heaps, and the data of every dataset HDF5 interprets (strings, and
/// anything not stored as one Fletcher-32 chunk); it leaves out the data of each single-chunk Fletcher-32
/// dataset (the weights, moments, metrics), which HDF5 only copies (`H5Dread_chunk`) and the reader verifies
/// itself, naming the dataset. Those chunks' byte ranges are a table after HDF5's end of file.
///
/// Layout, little-endian (offsets in the file):
/// ```
/// 0    24  "tracedistill-checkpoint\n"
/// 24    4  seal version (1)             28   4  zero
/// 32    8  table offset (HDF5's end)    40   8  table entries
/// 48    8  file length                  56  32  SHA-256
/// 88  424  zero                         512 ... HDF5 (superblock first)
/// table: entries x (offset u64, length u64), ascending, disjoint, inside [512, table offset)
/// ```
/// The SHA-256 is over bytes 0..<56, then bytes 512..<table offset except the table's ranges, then the table.
enum CheckpointSeal {
    /// HDF5's user block: the smallest it allows.
    static let userBlockSize = 512
    static let magic = Array("tracedistill-checkpoint\n".utf8)
    static let version: UInt32 = 1
    private static let digestOffset = 56, headerEnd = 88

    /// Seals `path`, a file HDF5 has just written and closed with a 512-byte user block.
    /// - Throws: `HDF5Error` naming the file when it cannot be read back or written.
    static func seal(_ path: String) throws {
        let chunks = try checksummedChunks(path)
        let fd = open(path, O_RDWR)
        guard fd >= 0 else { throw HDF5Error(file: path, path: "/", message: "cannot reopen to seal: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw HDF5Error(file: path, path: "/", message: "cannot stat to seal") }
        let tableOffset = Int(info.st_size)
        var table: [UInt8] = []
        table.reserveCapacity(chunks.count * 16)
        for c in chunks {
            guard c.lowerBound >= userBlockSize, c.upperBound <= tableOffset else {
                throw HDF5Error(file: path, path: "/", message: "chunk at byte \(c.lowerBound) of \(c.count) bytes lies outside the file (\(tableOffset) bytes)")
            }
            appendLE(&table, UInt64(c.lowerBound))
            appendLE(&table, UInt64(c.count))
        }
        var header = [UInt8](repeating: 0, count: userBlockSize)
        header.replaceSubrange(0..<magic.count, with: magic)
        putLE(&header, 24, UInt64(version))  // and the 4 zero bytes after it
        putLE(&header, 32, UInt64(tableOffset))
        putLE(&header, 40, UInt64(chunks.count))
        putLE(&header, 48, UInt64(tableOffset + table.count))
        let digest = try sha256(fd, path: path, header: header, tableOffset: tableOffset, skipping: chunks, table: table)
        header.replaceSubrange(digestOffset..<(digestOffset + 32), with: digest)
        try writeAll(fd, table, at: tableOffset, path: path)
        try writeAll(fd, header, at: 0, path: path)
    }

    /// A file's seal as read, its fields checked against the file (its digest not yet).
    struct Parsed {
        let header: [UInt8]
        let tableOffset: Int
        let table: [UInt8]
        /// The weights' chunks the digest leaves out: ascending, disjoint, inside [512, tableOffset).
        let chunks: [Range<Int>]
    }

    /// Checks the digest of a seal `read` from `path`.
    /// - Throws: `HDF5Error` when the bytes HDF5 would parse are not the ones sealed.
    static func verify(_ path: String, _ seal: Parsed) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw HDF5Error(file: path, path: "/", message: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let digest = try sha256(fd, path: path, header: seal.header, tableOffset: seal.tableOffset, skipping: seal.chunks, table: seal.table)
        guard digest == Array(seal.header[digestOffset..<(digestOffset + 32)]) else {
            throw HDF5Error(file: path, path: "/", message: "the file's HDF5 structure (superblock, groups, attributes, dataset headers, "
                + "strings: every byte but the weights' checksummed data) does not match the SHA-256 in its seal, so HDF5 is not let "
                + "to read it: the file is damaged; use another checkpoint of the run (`distill status` lists the newest valid one)")
        }
    }

    /// Reads the seal of `path` and checks its fields against the file (version, length, table).
    /// - Returns: nil when the file has no seal (it does not start with the seal's text: written before seals, or
    ///   by another program).
    /// - Throws: `HDF5Error` saying what differs when the file starts like a sealed checkpoint but its seal is
    ///   damaged or does not fit the file.
    static func read(_ path: String) throws -> Parsed? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw HDF5Error(file: path, path: "/", message: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw HDF5Error(file: path, path: "/", message: "cannot stat: \(String(cString: strerror(errno)))") }
        let size = Int(info.st_size)
        var header = [UInt8](repeating: 0, count: userBlockSize)
        let got = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, userBlockSize, 0) }
        guard got >= magic.count, Array(header[0..<magic.count]) == magic else { return nil }
        func damaged(_ what: String) -> HDF5Error {
            HDF5Error(file: path, path: "/", message: what + "; use another checkpoint of the run (`distill status` lists the newest valid one)")
        }
        guard size >= userBlockSize, got == userBlockSize else {
            throw damaged("the file has \(size) bytes, fewer than its 512-byte seal: truncated")
        }
        let sealVersion = readLE(header, 24)
        guard sealVersion == UInt64(version) else {
            throw HDF5Error(file: path, path: "/", message: "seal version \(sealVersion) is not one this build reads (\(version)); "
                + "written by a newer TraceDistill? Use the version that wrote it, or the seal's bytes 24-31 are damaged")
        }
        guard header[headerEnd...].allSatisfy({ $0 == 0 }) else {
            throw damaged("the seal's reserved bytes \(headerEnd)-\(userBlockSize - 1) are not zero: the seal is damaged")
        }
        let tableOffset = readLE(header, 32), entries = readLE(header, 40), length = readLE(header, 48)
        guard length == UInt64(size) else {
            throw damaged("the file has \(size) bytes, its seal says \(length): "
                + (UInt64(size) < length ? "truncated (cut off while copying or writing?)" : "bytes were added after its end"))
        }
        guard tableOffset >= UInt64(userBlockSize), tableOffset <= length, entries <= (length - tableOffset) / 16,
              tableOffset + entries * 16 == length else {
            throw damaged("the seal's table (at byte \(tableOffset), \(entries) entries) does not fit a \(size)-byte file: the seal is damaged")
        }
        let tableStart = Int(tableOffset)
        var table = [UInt8](repeating: 0, count: Int(entries) * 16)
        if !table.isEmpty {
            let n = table.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(tableStart)) }
            guard n == table.count else { throw damaged("cannot read the seal's table at byte \(tableStart)") }
        }
        var chunks: [Range<Int>] = []
        var previousEnd = userBlockSize
        for i in 0..<Int(entries) {
            let start = readLE(table, 16 * i), count = readLE(table, 16 * i + 8)
            guard start >= UInt64(previousEnd), count > 0, count <= tableOffset, start <= tableOffset - count else {
                throw damaged("the seal's table entry \(i) (byte \(start), \(count) bytes) is out of order or outside the file: the seal is damaged")
            }
            chunks.append(Int(start)..<Int(start + count))
            previousEnd = Int(start + count)
        }
        return Parsed(header: header, tableOffset: tableStart, table: table, chunks: chunks)
    }

    /// SHA-256 over the header's first 56 bytes, the file from the user block's end to `tableOffset` less `chunks`,
    /// and the table.
    private static func sha256(_ fd: Int32, path: String, header: [UInt8], tableOffset: Int, skipping chunks: [Range<Int>],
                               table: [UInt8]) throws -> [UInt8] {
        var hash = SHA256()
        header.withUnsafeBytes { hash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<digestOffset])) }
        let blockSize = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 64)
        defer { buffer.deallocate() }
        var position = userBlockSize
        func hashUpTo(_ end: Int) throws {
            while position < end {
                let n = pread(fd, buffer.baseAddress, min(blockSize, end - position), off_t(position))
                guard n > 0 else {
                    throw HDF5Error(file: path, path: "/", message: "cannot read byte \(position): \(n == 0 ? "the file ends early" : String(cString: strerror(errno)))")
                }
                hash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                position += n
            }
        }
        for c in chunks {
            try hashUpTo(c.lowerBound)
            position = c.upperBound
        }
        try hashUpTo(tableOffset)
        table.withUnsafeBytes { hash.update(bufferPointer: $0) }
        return Array(hash.finalize())
    }

    /// The file byte ranges of every single-chunk Fletcher-32 dataset's chunk, ascending: read back through HDF5
    /// from a file this process has just written.
    private static func checksummedChunks(_ path: String) throws -> [Range<Int>] {
        let file = try HDF5Object.openWritten(path)
        var ranges: [Range<Int>] = []
        func walk(_ g: HDF5Object) throws {
            for name in try g.children() {
                guard let info = try g.datasetInfoIfDataset(name) else {
                    try walk(try g.group(name))
                    continue
                }
                guard !info.shape.isEmpty, info.shape.reduce(1, *) > 0 else { continue }
                let ds = H5Dopen2(g.id, name, td_H5P_DEFAULT())
                guard ds >= 0 else { throw g.error(name, "cannot open dataset to seal") }
                defer { H5Dclose(ds) }
                guard g.isSingleChecksummedChunk(ds, shape: info.shape) else { continue }
                let origin = [hsize_t](repeating: 0, count: info.shape.count)
                var mask: UInt32 = 0, address: haddr_t = 0, size: hsize_t = 0
                guard H5Dget_chunk_info_by_coord(ds, origin, &mask, &address, &size) >= 0, size > 0 else {
                    throw g.error(name, "cannot locate the dataset's chunk to seal")
                }
                // HDF5 addresses count from the superblock, which the user block puts at byte 512.
                let start = Int(address) + userBlockSize
                ranges.append(start..<(start + Int(size)))
            }
        }
        try walk(file)
        ranges.sort { $0.lowerBound < $1.lowerBound }
        for (a, b) in zip(ranges, ranges.dropFirst()) where a.upperBound > b.lowerBound {
            throw HDF5Error(file: path, path: "/", message: "chunks at bytes \(a.lowerBound) and \(b.lowerBound) overlap")
        }
        return ranges
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            guard n > 0 else { throw HDF5Error(file: path, path: "/", message: "cannot write the seal: \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    private static func appendLE(_ bytes: inout [UInt8], _ value: UInt64) {
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    private static func putLE(_ bytes: inout [UInt8], _ at: Int, _ value: UInt64) {
        for i in 0..<8 { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    private static func readLE(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
}
