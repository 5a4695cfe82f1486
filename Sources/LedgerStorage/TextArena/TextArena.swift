import LedgerBytes

/// Where an entry of the text arena lives (8 bytes).
public struct TextRef: Sendable, Equatable {
    @usableFromInline package var chunk: UInt32
    @usableFromInline package var offset: UInt32
    @usableFromInline package static let none = TextRef(chunk: .max, offset: 0)
    @inlinable package init(chunk: UInt32, offset: UInt32) { self.chunk = chunk; self.offset = offset }
}

/// Append-only storage for small texts: entries back to back in 1 MiB chunks (an entry never
/// spans two), so a million profiles cost their bytes plus a length byte or two each, and no
/// allocation apiece. An entry is its count of texts (a varint), then each optional text as a
/// header varint and its stored bytes. A changed profile is written anew; the old bytes stay
/// until a snapshot compacts them (profile changes are rare).
///
/// A text is stored in the most compact of three lossless forms, so that what a Russian
/// program's profiles are made of costs about half its UTF-8 size:
/// - *Digits*: a text of ASCII digits, with or without a leading `+` (phones, cards), two
///   digits a byte.
/// - *Russian*: a text of ASCII and the Cyrillic letters А–я, Ё, ё, one byte a character
///   (ASCII as itself; А–я as 0x80–0xBF; Ё 0xC0, ё 0xC1).
/// - *UTF-8*: anything else, as it is.
///
/// The header is 0 for nil, else 1 + (n << 2 | form): form 0 UTF-8 (n bytes), 1 Russian
/// (n bytes), 2 digits (n digits in ⌈n/2⌉ bytes, first digit in the high half), 3 `+` then
/// digits (likewise).
public struct TextArena: Sendable {
    @inlinable package init() {}
    @usableFromInline package static let chunkBytes = 1 << 20
    @usableFromInline package var chunks: [[UInt8]] = []

    @inlinable public var byteCount: Int { chunks.reduce(0) { $0 + $1.count } }

    @inlinable package mutating func append(_ texts: [String?]) -> TextRef {
        appendEntry(count: texts.count, bound: texts.reduce(0) { $0 + ($1?.utf8.count ?? 0) }) { k, write in
            guard var text = texts[k] else { return write(nil) }
            text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
        }
    }

    /// An entry from UTF-8 bytes as they are in an event's body (a rebuild makes no String).
    @inlinable package mutating func append(bytes texts: [UnsafeRawBufferPointer?]) -> TextRef {
        appendEntry(count: texts.count, bound: texts.reduce(0) { $0 + ($1?.count ?? 0) }) { k, write in write(texts[k]) }
    }

    /// Writes an entry of `count` texts, which `text(k, write)` hands to `write` one by one
    /// (nil for a missing one), into a buffer on the stack, then stores it. `bound` is their
    /// UTF-8 bytes in all: with the count's and each header's varint (10 bytes at most), no
    /// form is longer than that (the writes are checked all the same: they trap, never overrun).
    @inlinable package mutating func appendEntry(count: Int, bound: Int,
                                      _ text: (Int, (UnsafeRawBufferPointer?) -> Void) -> Void) -> TextRef {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 10 + 10 * count + bound) { buffer in
            var entry = Entry(buffer: buffer)
            entry.varint(count)
            for k in 0..<count {
                text(k) { utf8 in
                    guard let utf8 else { return entry.byte(0) }
                    entry.text(utf8)
                }
            }
            return store(UnsafeBufferPointer(rebasing: buffer[0..<entry.written]))
        }
    }

    /// The bytes of one entry as they are built, in a buffer sized beforehand.
    @usableFromInline struct Entry {
        @usableFromInline package let buffer: UnsafeMutableBufferPointer<UInt8>
        @usableFromInline package var written = 0

        @inlinable package init(buffer: UnsafeMutableBufferPointer<UInt8>) { self.buffer = buffer }

        @inline(__always)
        @inlinable package mutating func byte(_ b: UInt8) {
            buffer[written] = b  // bounds-checked: a wrong bound traps, never overruns
            written += 1
        }

        @inlinable package mutating func varint(_ value: Int) {
            Varint.write(UInt64(value)) { byte($0) }
        }

        /// One text in its most compact form (see ``TextArena``).
        @inlinable package mutating func text(_ utf8: UnsafeRawBufferPointer) {
            if let plus = TextArena.digitForm(utf8) {
                let n = utf8.count - plus
                varint(1 + (n << 2 | (2 + plus)))
                var i = plus
                while i < utf8.count {
                    let high = utf8[i] - 48
                    let low = i + 1 < utf8.count ? utf8[i + 1] - 48 : 0
                    byte(high << 4 | low)
                    i += 2
                }
            } else if let n = TextArena.russianCount(utf8) {
                varint(1 + (n << 2 | 1))
                var i = 0
                while i < utf8.count {
                    let b = utf8[i]
                    if b < 0x80 { byte(b); i += 1; continue }
                    let scalar = (Int(b & 0x1F) << 6) | Int(utf8[i + 1] & 0x3F)
                    byte(scalar == 0x401 ? 0xC0 : scalar == 0x451 ? 0xC1 : UInt8(0x80 + scalar - 0x410))
                    i += 2
                }
            } else {
                varint(1 + (utf8.count << 2))
                // The slice is bounds-checked like `byte`: a wrong bound traps.
                UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[written..<(written + utf8.count)])).copyMemory(from: utf8)
                written += utf8.count
            }
        }
    }

    /// The offset where the digits start (0, or 1 after a `+`) when the text is a `+` or nothing
    /// followed by one or more ASCII digits; nil otherwise.
    @inlinable package static func digitForm(_ utf8: UnsafeRawBufferPointer) -> Int? {
        let start = utf8.first == UInt8(ascii: "+") ? 1 : 0
        guard utf8.count > start else { return nil }
        for i in start..<utf8.count where !(48...57).contains(utf8[i]) { return nil }
        return start
    }

    /// How many characters the text has when it is all ASCII and Cyrillic А–я, Ё, ё with at
    /// least one Cyrillic letter; nil otherwise (then UTF-8 is as short).
    @inlinable package static func russianCount(_ utf8: UnsafeRawBufferPointer) -> Int? {
        var i = 0, n = 0, cyrillic = false
        while i < utf8.count {
            let b = utf8[i]
            if b < 0x80 { i += 1; n += 1; continue }
            guard i + 1 < utf8.count else { return nil }
            let next = utf8[i + 1]
            // А–п: D0 90–BF; Ё: D0 81; р–я: D1 80–8F; ё: D1 91.
            let known = (b == 0xD0 && (next == 0x81 || (0x90...0xBF).contains(next))) || (b == 0xD1 && (next == 0x91 || (0x80...0x8F).contains(next)))
            guard known else { return nil }
            cyrillic = true
            i += 2
            n += 1
        }
        return cyrillic ? n : nil
    }

    @inlinable mutating func store(_ entry: UnsafeBufferPointer<UInt8>) -> TextRef {
        if chunks.isEmpty || chunks[chunks.count - 1].count + entry.count > Self.chunkBytes {
            var chunk: [UInt8] = []
            chunk.reserveCapacity(max(Self.chunkBytes, entry.count))
            chunks.append(chunk)
        }
        let ref = TextRef(chunk: UInt32(chunks.count - 1), offset: UInt32(chunks[chunks.count - 1].count))
        chunks[chunks.count - 1].append(contentsOf: entry)
        return ref
    }

    /// The texts of an entry (none for ``TextRef/none``).
    @inlinable package func read(_ ref: TextRef) -> [String?] {
        guard ref != .none else { return [] }
        return chunks[Int(ref.chunk)].withUnsafeBytes { bytes in
            var i = Int(ref.offset)
            func varint() -> Int { memoryVarint(bytes, &i) }
            let count = varint()
            var result: [String?] = []
            result.reserveCapacity(count)
            var utf8: [UInt8] = []
            for _ in 0..<count {
                let header = varint()
                if header == 0 { result.append(nil); continue }
                let form = (header - 1) & 3, n = (header - 1) >> 2
                utf8.removeAll(keepingCapacity: true)
                switch form {
                case 0:
                    utf8.append(contentsOf: bytes[i..<(i + n)])
                    i += n
                case 1:
                    for b in bytes[i..<(i + n)] {
                        if b < 0x80 { utf8.append(b); continue }
                        let scalar = b == 0xC0 ? 0x401 : b == 0xC1 ? 0x451 : 0x410 + Int(b - 0x80)
                        utf8.append(UInt8(0xC0 | scalar >> 6))
                        utf8.append(UInt8(0x80 | scalar & 0x3F))
                    }
                    i += n
                default:
                    if form == 3 { utf8.append(UInt8(ascii: "+")) }
                    for k in 0..<n {
                        let byte = bytes[i + k / 2]
                        utf8.append(48 + (k % 2 == 0 ? byte >> 4 : byte & 0x0F))
                    }
                    i += (n + 1) / 2
                }
                result.append(String(decoding: utf8, as: UTF8.self))
            }
            return result
        }
    }
}

extension TextArena {
    /// Stops the process when the arena contradicts itself: every chunk is entries back to
    /// back that decode to its end, within its size but for an entry larger than a chunk
    /// (alone in its chunk).
    @inlinable package func checkInvariants() {
        for (k, chunk) in chunks.enumerated() {
            let entries = Self.walkEntries(chunk, { _ in })
            precondition(entries != nil, "text arena: chunk \(k) does not decode entry by entry to its end")
            precondition(chunk.count <= Self.chunkBytes || entries == 1, "text arena: chunk \(k) is over size")
        }
    }
}
