/// LEB128 varints: seven bits a byte, low bits first, the high bit set on every byte but the
/// last (data-format.md §3.2, §11). The one implementation the project has: the log's record
/// headers, the event bodies, the id and text arenas of the state and the snapshots' checks
/// all read and write them here.
public enum Varint {
    /// The varint at `i`, bounds-checked and at most `maxBytes` long; nil when it is cut short,
    /// longer, or past 64 bits. `i` moves past it.
    @inlinable
    public static func read(_ bytes: UnsafeRawBufferPointer, at i: inout Int, maxBytes: Int = 10) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var taken = 0
        while i < bytes.count && taken < maxBytes {
            let byte = bytes[i]
            i += 1
            taken += 1
            if shift == 63 && byte > 1 { return nil }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
        return nil
    }

    /// The varint at `i` of memory the process wrote itself (the state's arenas): no check
    /// beyond the buffer's own (trusted, and on the hottest paths of lookups).
    @inlinable @inline(__always)
    public static func readTrusted(_ bytes: UnsafeRawBufferPointer, _ i: inout Int) -> Int {
        var value = 0, shift = 0
        while true {
            let byte = bytes[i]
            i += 1
            value |= Int(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// Hands the bytes of `value`'s varint to `put`, in order.
    @inlinable @inline(__always)
    public static func write(_ value: UInt64, _ put: (UInt8) -> Void) {
        var v = value
        while v >= 0x80 {
            put(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        put(UInt8(truncatingIfNeeded: v))
    }

    @inlinable
    public static func append(_ value: UInt64, to bytes: inout [UInt8]) { write(value) { bytes.append($0) } }

    /// Writes `value` in exactly `into.count` bytes, padded with continuation bits (a length
    /// patched in place after what it measures was written). `value` must fit.
    @inlinable
    public static func writePadded(_ value: UInt64, into bytes: UnsafeMutableRawBufferPointer) {
        var v = value
        for i in 0..<bytes.count {
            bytes[i] = UInt8(truncatingIfNeeded: v & 0x7F) | (i < bytes.count - 1 ? 0x80 : 0)
            v >>= 7
        }
    }
}
