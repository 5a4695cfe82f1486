import CLZ4

/// One LZ4 block (the raw block format, no frame): how a batch payload is compressed.
public enum LZ4Block {
    /// The largest output compressing `count` bytes can produce.
    public static func compressBound(_ count: Int) -> Int {
        Int(LZ4_compressBound(Int32(count)))
    }

    /// Compresses `source` into `destination`; returns the compressed length, or nil when the
    /// result would not fit in `destination` (the caller then stores the payload raw).
    public static func compress(
        _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, acceleration: Int32 = 1
    ) -> Int? {
        guard let src = source.baseAddress, let dst = destination.baseAddress, source.count > 0 else { return nil }
        let written = LZ4_compress_fast(
            src.assumingMemoryBound(to: CChar.self), dst.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(destination.count), acceleration)
        return written > 0 ? Int(written) : nil
    }

    /// Decompresses `source` into exactly `destination.count` bytes; returns false when the
    /// block is malformed or does not produce exactly that many bytes.
    public static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        guard let src = source.baseAddress, let dst = destination.baseAddress else {
            return source.count == 0 && destination.count == 0
        }
        let produced = LZ4_decompress_safe(
            src.assumingMemoryBound(to: CChar.self), dst.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(destination.count))
        return produced == Int32(destination.count)
    }
}
