/// Texts numbered once, found by their UTF-8 bytes without making a String: the replay reads
/// a purchase's store, seller and items straight from the log's bytes, and most of them are
/// names it has met before. An open-addressing table of numbers over a byte arena (FNV-1a);
/// names compare as their bytes.
struct NameTable: Sendable {
    private(set) var names: [String] = []
    /// The names lowercased (`contains` filters).
    private(set) var lowered: [String] = []
    private var arena: [UInt8] = []
    /// Where each name's bytes end in the arena (they start where the one before ends).
    private var ends: [Int] = []
    private var hashes: [UInt64] = []
    /// Name numbers, -1 empty; a power of two, at most half full.
    private var slots = [Int32](repeating: -1, count: 256)

    var count: Int { names.count }
    subscript(k: Int32) -> String { names[Int(k)] }

    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// The slot holding name `bytes`, or the empty one where it would go.
    private func slot(_ bytes: UnsafeRawBufferPointer, _ hash: UInt64) -> Int {
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: hash) & mask
        while true {
            let k = Int(slots[s])
            if k < 0 { return s }
            if hashes[k] == hash {
                let start = k == 0 ? 0 : ends[k - 1]
                let same = ends[k] - start == bytes.count && arena.withUnsafeBytes { a in
                    bytes.isEmpty || memcmp(a.baseAddress! + start, bytes.baseAddress!, bytes.count) == 0
                }
                if same { return s }
            }
            s = (s + 1) & mask
        }
    }

    /// Whether name `k` is these bytes.
    func equals(_ k: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let k = Int(k)
        let start = k == 0 ? 0 : ends[k - 1]
        guard ends[k] - start == bytes.count else { return false }
        return bytes.isEmpty || arena.withUnsafeBytes { memcmp($0.baseAddress! + start, bytes.baseAddress!, bytes.count) == 0 }
    }

    func find(_ bytes: UnsafeRawBufferPointer) -> Int32? {
        let k = slots[slot(bytes, Self.hash(bytes))]
        return k < 0 ? nil : k
    }

    func find(_ text: String) -> Int32? {
        var text = text
        return text.withUTF8 { find(UnsafeRawBufferPointer($0)) }
    }

    /// The name's number, numbering it if it is new.
    mutating func intern(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        let hash = Self.hash(bytes)
        let s = slot(bytes, hash)
        if slots[s] >= 0 { return slots[s] }
        let k = Int32(names.count)
        let name = String(decoding: bytes, as: UTF8.self)
        names.append(name)
        lowered.append(name.lowercased())
        arena.append(contentsOf: bytes)
        ends.append(arena.count)
        hashes.append(hash)
        slots[s] = k
        if names.count * 2 > slots.count { grow() }
        return k
    }

    mutating func intern(_ text: String) -> Int32 {
        var text = text
        return text.withUTF8 { intern(UnsafeRawBufferPointer($0)) }
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        let mask = slots.count - 1
        for k in 0..<names.count {
            var s = Int(truncatingIfNeeded: hashes[k]) & mask
            while slots[s] >= 0 { s = (s + 1) & mask }
            slots[s] = Int32(k)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
