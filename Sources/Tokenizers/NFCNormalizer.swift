import Foundation

/// Text after normalization, with the original bytes each of its bytes came from (HF's alignments).
struct NormalizedText {
    /// The normalized UTF-8.
    var bytes: [UInt8]
    /// For each normalized byte, the original character range (absolute byte offsets) it stands for.
    var originStart: [Int]
    var originEnd: [Int]
}

/// Unicode NFC (HF's `NFC` normalizer), with HF's alignments: a character that composes several original
/// characters (`e` + U+0301 -> `é`) stands for the first of them only, which is what the library reports as
/// offsets. ASCII never changes under NFC and never composes with what comes before it, so only the runs of
/// non-ASCII text (with the one ASCII character before each, which a combining mark may attach to) are
/// examined, and text that is already NFC costs one scan.
enum NFCNormalizer {
    /// `p[start..<end]` in NFC, or nil when it is already NFC.
    static func normalize(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> NormalizedText? {
        var changed: [(start: Int, end: Int, window: String)] = []
        var i = start
        while i < end {
            guard p[i] >= 0x80 else { i += 1; continue }
            let runStart = i
            while i < end, p[i] >= 0x80 { i += 1 }
            let windowStart = runStart > start ? runStart - 1 : runStart
            let window = String(decoding: UnsafeBufferPointer(rebasing: p[windowStart..<i]), as: UTF8.self)
            if !window.precomposedStringWithCanonicalMapping.unicodeScalars.elementsEqual(window.unicodeScalars) {
                changed.append((windowStart, i, window))
            }
        }
        guard !changed.isEmpty else { return nil }

        var out = NormalizedText(bytes: [], originStart: [], originEnd: [])
        out.bytes.reserveCapacity(end - start)
        out.originStart.reserveCapacity(end - start)
        out.originEnd.reserveCapacity(end - start)
        func copyUnchanged(_ a: Int, _ b: Int) {
            var k = a
            while k < b {
                let len = UTF8Scalars.length(leadingByte: p[k])
                for j in 0..<len {
                    out.bytes.append(p[k + j])
                    out.originStart.append(k)
                    out.originEnd.append(k + len)
                }
                k += len
            }
        }
        var done = start
        for window in changed {
            copyUnchanged(done, window.start)
            var offset = window.start
            for character in window.window {
                let inputs = Array(character.unicodeScalars)
                var ranges: [(Int, Int)] = []
                for scalar in inputs {
                    let len = UTF8.width(scalar)
                    ranges.append((offset, offset + len))
                    offset += len
                }
                let composed = String(character).precomposedStringWithCanonicalMapping.unicodeScalars
                for (k, scalar) in composed.enumerated() {
                    let origin = ranges[min(k, ranges.count - 1)]
                    for byte in String(scalar).utf8 {
                        out.bytes.append(byte)
                        out.originStart.append(origin.0)
                        out.originEnd.append(origin.1)
                    }
                }
            }
            done = window.end
        }
        copyUnchanged(done, end)
        return out
    }

    /// `text` in NFC (for added tokens' `normalized` content).
    static func normalize(_ text: String) -> String { text.precomposedStringWithCanonicalMapping }
}
