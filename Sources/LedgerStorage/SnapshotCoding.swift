import LedgerBytes

// How each storage structure writes itself into a snapshot section and reads itself back
// (data-format.md §13.3 gives the bytes). A read checks everything a later access would trust
// (lengths, indexes into other arrays, links, the varints of the arenas), so that a forged
// section is an error, never an out-of-bounds read or an endless walk.

/// Reads a varint of the state's arenas, as a snapshot gives them, with every byte checked
/// (and small enough to be a length: below 2³²).
@inlinable package func checkedVarint(_ bytes: UnsafeRawBufferPointer, _ i: inout Int) -> Int? {
    guard let value = Varint.read(bytes, at: &i, maxBytes: 5), value < 1 << 32 else { return nil }
    return Int(value)
}

/// Whether `write` lays a row out exactly as a `T` lies in memory (the first `compared` bytes),
/// checked once on a sample with distinct bytes in every field: then a snapshot's rows can be
/// used where they lie. A build whose layout differs copies them field by field instead.
@inlinable package func rowsMatchMemory<T>(_ sample: T, width: Int, compared: Int? = nil, _ write: (T, UnsafeMutableRawBufferPointer) -> Void) -> Bool {
    guard MemoryLayout<T>.stride == width else { return false }
    var value = sample
    var row = [UInt8](repeating: 0, count: width)
    row.withUnsafeMutableBytes { write(value, $0) }
    let n = compared ?? width
    return withUnsafeBytes(of: &value) { Array($0.prefix(n)) } == Array(row.prefix(n))
}

/// The tag-slot tables (``HolderIndex``, ``KeyIndex``): slots, and how many are used.
@inlinable package func writeSlots(_ slots: [UInt64], count: Int, to e: SectionEncoder) {
    e.put(UInt64(count))
    e.putArray(slots)
}

@inlinable package func readSlots(_ d: inout SectionDecoder, payloadBelow limit: Int, _ what: String) throws(SectionError) -> (slots: [UInt64], count: Int) {
    let count = try d.get(UInt64.self, "\(what): count")
    let slots = try d.getArray(UInt64.self, "\(what): slots")
    guard slots.count >= 16, slots.count & (slots.count - 1) == 0, count * 4 <= UInt64(slots.count) * 3 else {
        throw d.fail("\(what): \(slots.count) slots cannot hold \(count) entries")
    }
    guard slots.lazy.filter({ $0 != 0 }).count == Int(count), slots.allSatisfy({ $0 == 0 || ($0 & 0xFFFF_FFFF) - 1 < UInt64(limit) }) else {
        throw d.fail("\(what): the slots do not name \(count) entries below \(limit)")
    }
    return (slots, Int(count))
}
