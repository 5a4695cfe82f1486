import LedgerStorage
import LedgerBytes

/// A set of event type codes (each taken modulo 128): what a block of ``EventKindBlocks`` holds,
/// and what a journal query asks for.
public struct KindSet: Equatable, Sendable {
    public var low: UInt64 = 0
    public var high: UInt64 = 0

    public init() {}

    public init(_ codes: some Sequence<UInt32>) {
        for code in codes { insert(code) }
    }

    public mutating func insert(_ code: UInt32) {
        let bit = code & 127
        if bit < 64 { low |= 1 << UInt64(bit) } else { high |= 1 << UInt64(bit - 64) }
    }

    public func intersects(_ other: KindSet) -> Bool { low & other.low != 0 || high & other.high != 0 }
    public var isEmpty: Bool { low == 0 && high == 0 }
}

/// The journal's index of event types: for every block of 1 024 positions, the set of type codes
/// of its events, where a refusal counts as its own type and as the type of the operation it
/// refused (a refusal shows in that operation's category). A type or category query reads only
/// the blocks that may hold a row; 16 bytes a block, under 0.02 bytes an event.
///
/// A position the index does not cover (past its end, or before a hand-built state's first)
/// counts as a possible match: the index only ever lets a reader skip.
public struct EventKindBlocks: LedgerPart {
    public static let section = SnapshotSection.eventKinds
    public static let blockShift: UInt64 = 10
    static let blockSize: UInt64 = 1 << blockShift

    /// The number of `blocks[0]`: 0 for a state built from a log; a state a test builds by hand
    /// may jump far ahead, and the index then starts again there.
    var base: UInt64 = 0
    var blocks = ChunkedArray<KindSet>()

    public init() {}

    /// Blocks skipped further than this start the index again (see ``base``).
    static let gapMax: UInt64 = 1 << 16

    public mutating func apply(_ event: borrowing AppliedEvent) {
        let block = event.position >> Self.blockShift
        if block < base { return }
        if block - base >= UInt64(blocks.count) + Self.gapMax || (blocks.isEmpty && block > 0) {
            self = EventKindBlocks()
            base = block
        }
        while base + UInt64(blocks.count) <= block { blocks.append(KindSet()) }
        let k = Int(block - base)
        var set = blocks[k]
        set.insert(event.kind.rawValue)
        if event.kind == .operationRefused {
            if case .operationRefused(let r)? = event.event {
                if let refused = EventKind.byName[r.operation] { set.insert(refused.rawValue) }
            } else {
                // (Not expected: a refusal is always applied decoded.) Every type, to be safe.
                set = KindSet(0..<128)
            }
        }
        blocks[k] = set
    }

    /// The covered positions.
    var covered: Range<UInt64> { (base << Self.blockShift)..<((base + UInt64(blocks.count)) << Self.blockShift) }

    /// The end of the newest stretch below `top` and not below `start` whose block may hold a
    /// type of `wanted`: `top` itself when its block may, nil when no block from `start` on does.
    public func newestMatch(_ wanted: KindSet, below top: UInt64, from start: UInt64) -> UInt64? {
        guard top > start else { return nil }
        let covered = self.covered
        if top > covered.upperBound { return top }
        var block = (top - 1) >> Self.blockShift
        while block >= base {
            let blockStart = block << Self.blockShift
            if blocks[Int(block - base)].intersects(wanted) { return min(top, blockStart + Self.blockSize) }
            if blockStart <= start || block == 0 { return nil }
            block -= 1
        }
        return start < covered.lowerBound ? covered.lowerBound : nil
    }

    /// The first position at or after `position` whose block may hold a type of `wanted`; nil
    /// when no block from there on does.
    public func oldestMatch(_ wanted: KindSet, from position: UInt64) -> UInt64? {
        let covered = self.covered
        if position < covered.lowerBound { return position }
        if position >= covered.upperBound { return position }
        var block = position >> Self.blockShift
        while block - base < UInt64(blocks.count) {
            if blocks[Int(block - base)].intersects(wanted) { return max(position, block << Self.blockShift) }
            block += 1
        }
        return covered.upperBound
    }

    // MARK: snapshot (data-format.md §13.3, section 16)

    public func write(to e: SectionEncoder) {
        e.put(base)
        e.put(UInt64(blocks.count))
        for k in 0..<blocks.count {
            e.put(blocks[k].low)
            e.put(blocks[k].high)
        }
    }

    public init(from d: inout SectionDecoder, clients: Int) throws(SectionError) {
        base = try d.get(UInt64.self, "the first indexed block")
        let count = try d.getCount("the blocks' type sets", width: 16)
        guard base <= UInt64.max >> Self.blockShift - UInt64(count) else {
            throw SectionError(Self.section.name, "blocks \(base) + \(count) lie past the last position")
        }
        for _ in 0..<count {
            var set = KindSet()
            set.low = try d.get(UInt64.self, "a block's types 0-63")
            set.high = try d.get(UInt64.self, "a block's types 64-127")
            blocks.append(set)
        }
    }

    public func checkInvariants(clients: Int) {
        precondition(base <= UInt64.max >> Self.blockShift - UInt64(blocks.count), "event kinds: blocks past the last position")
    }
}
