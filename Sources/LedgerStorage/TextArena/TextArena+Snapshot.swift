import LedgerBytes

extension TextArena {
    @inlinable package func write(to e: SectionEncoder) {
        e.put(UInt64(chunks.count))
        for chunk in chunks { e.putBytes(chunk) }
    }

    /// Reads the chunks, decoding every entry; returns where entries start (a bit a byte, by
    /// chunk), for checking the references to them.
    @inlinable package mutating func read(from d: inout SectionDecoder) throws(SectionError) -> [[UInt64]] {
        let n = try d.getCount("text chunks", width: 8)
        var starts: [[UInt64]] = []
        for k in 0..<n {
            let chunk = try d.getArray(UInt8.self, "text chunk \(k)")
            var bits = [UInt64](repeating: 0, count: (chunk.count + 63) / 64)
            let entries = Self.walkEntries(chunk) { i in bits[i >> 6] |= 1 << UInt64(i & 63) }
            guard entries != nil else { throw d.fail("text chunk \(k) does not decode") }
            chunks.append(chunk)
            starts.append(bits)
        }
        return starts
    }

    /// Walks a chunk's entries, every varint and length checked, calling `start` with each
    /// entry's offset. Returns how many entries there are, or nil when the bytes do not decode
    /// entry by entry to the chunk's end.
    @inlinable package static func walkEntries(_ chunk: [UInt8], _ start: (Int) -> Void) -> Int? {
        chunk.withUnsafeBytes { bytes in
            var i = 0, entries = 0
            while i < bytes.count {
                start(i)
                entries += 1
                guard let count = checkedVarint(bytes, &i) else { return nil }
                for _ in 0..<count {
                    guard let header = checkedVarint(bytes, &i) else { return nil }
                    if header == 0 { continue }
                    let form = (header - 1) & 3, length = (header - 1) >> 2
                    let stored = form >= 2 ? (length + 1) / 2 : length
                    guard stored <= bytes.count - i else { return nil }
                    i += stored
                }
            }
            return entries
        }
    }

    /// Whether `ref` names the start of an entry (or is none), by what ``read(from:)`` found.
    @inlinable package static func names(_ ref: TextRef, _ starts: [[UInt64]]) -> Bool {
        if ref == .none { return true }
        guard Int(ref.chunk) < starts.count, Int(ref.offset >> 6) < starts[Int(ref.chunk)].count else { return false }
        return starts[Int(ref.chunk)][Int(ref.offset >> 6)] & (1 << UInt64(ref.offset & 63)) != 0
    }
}
