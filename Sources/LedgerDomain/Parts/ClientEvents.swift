import LedgerStorage
import LedgerBytes

/// The journal's index of each client's events: for every position, how far back the same
/// client's previous event lies (3 bytes), and for every client the position of its newest
/// event. A client's events are a chain walked from the newest back, one step per row, so
/// the newest rows of a client cost what they return, however long the log.
///
/// Memory: 3 bytes an event plus 8 a client (about 3.4 bytes an event at the generated
/// program's 20 events a client). A step longer than 16 777 214 positions (a client silent
/// for most of the log) is kept in `farSteps`, by position.
public struct ClientEvents: LedgerPart {
    public static let section = SnapshotSection.clientEvents

    /// A step back, 24 bits little-endian: 0 for the first event of a client (or an event of
    /// no client), ``far`` for a step kept in ``farSteps``.
    struct Step: Equatable {
        var b0: UInt8, b1: UInt8, b2: UInt8
        static let none = Step(b0: 0, b1: 0, b2: 0)
        static let far = Step(b0: 0xFF, b1: 0xFF, b2: 0xFF)
        static let maxNear: UInt64 = 0xFF_FFFE
        init(b0: UInt8, b1: UInt8, b2: UInt8) { self.b0 = b0; self.b1 = b1; self.b2 = b2 }
        init(_ value: UInt64) { b0 = UInt8(value & 0xFF); b1 = UInt8(value >> 8 & 0xFF); b2 = UInt8(value >> 16 & 0xFF) }
        var value: UInt64 { UInt64(b0) | UInt64(b1) << 8 | UInt64(b2) << 16 }
    }

    /// The position of `steps[0]`: 0 for a state built from a log (its positions are gap-free);
    /// a state a test builds by hand may jump far ahead, and the index then starts again there.
    var base: UInt64 = 0
    var steps = ChunkedArray<Step>()
    /// The longest step kept in 3 bytes (lowered by tests, to reach the far steps cheaply).
    var nearLimit = Step.maxNear
    var farSteps: [UInt64: UInt64] = [:]
    /// By client number: the newest event's position + 1 (0: none yet).
    var newest = ChunkedArray<UInt64>()

    public init() {}

    init(base: UInt64, nearLimit: UInt64) {
        self.base = base
        self.nearLimit = nearLimit
    }

    /// Positions skipped further than this start the index again (see ``base``).
    static let gapMax: UInt64 = 1 << 20

    public mutating func apply(_ event: borrowing AppliedEvent) {
        let end = base + UInt64(steps.count)
        guard event.position >= end else { return }   // applied already: positions only grow
        if event.position - end > Self.gapMax || (steps.isEmpty && event.position > 0) {
            self = ClientEvents(base: event.position, nearLimit: nearLimit)
        }
        // Positions the state skipped (events of a type this build does not know) get no step.
        while base + UInt64(steps.count) < event.position { steps.append(.none) }
        guard let client = event.client else { return steps.append(.none) }
        let c = Int(client)
        while newest.count <= c { newest.append(0) }
        let previous = newest[c]
        newest[c] = event.position + 1
        guard previous > 0 else { return steps.append(.none) }
        guard previous > base else { return steps.append(.none) }   // before the index started
        let back = event.position + 1 - previous
        if back <= nearLimit {
            steps.append(Step(back))
        } else {
            steps.append(.far)
            farSteps[event.position] = back
        }
    }

    /// The position of client `client`'s newest event, if it has one.
    public func newestPosition(of client: Int32) -> UInt64? {
        let c = Int(client)
        guard c >= 0, c < newest.count, newest[c] > 0 else { return nil }
        return newest[c] - 1
    }

    /// The position of the same client's event before the one at `position` (nil: none).
    public func previous(before position: UInt64) -> UInt64? {
        guard position >= base, position - base < UInt64(steps.count) else { return nil }
        let step = steps[Int(position - base)]
        if step == .none { return nil }
        let back = step == .far ? farSteps[position] ?? 0 : step.value
        return back == 0 || back > position - base ? nil : position - back
    }

    /// The positions of client `client`'s events below `before` (all when nil), newest first,
    /// at most `limit`. `after` is a position of one of this client's events (a page's last
    /// row): the walk starts at the event before it instead of at the newest.
    public func positions(of client: Int32, before: UInt64? = nil, limit: Int = .max, after: UInt64? = nil) -> [UInt64] {
        var out: [UInt64] = []
        var at = after.map(previous(before:)) ?? newestPosition(of: client)
        while let p = at, out.count < limit {
            if before.map({ p < $0 }) ?? true { out.append(p) }
            at = previous(before: p)
        }
        return out
    }

    // MARK: snapshot (data-format.md §13.4, section 14)

    public func write(to e: SectionEncoder) {
        e.put(base)
        // A chunked row table: the chunks as they lie in memory, which a reader maps in place.
        e.putChunkedRows(count: steps.count, width: 3, chunkRows: ChunkedArray<Step>.elementsPerChunk) { k, row in
            let s = steps[k]
            row[0] = s.b0; row[1] = s.b1; row[2] = s.b2
        }
        let far = farSteps.sorted { $0.key < $1.key }
        e.put(UInt64(far.count))
        for (position, back) in far { e.put(position); e.put(back) }
        e.put(UInt64(newest.count))
        for k in 0..<newest.count { e.put(newest[k]) }
    }

    public init(from d: inout SectionDecoder, clients: Int) throws(SectionError) {
        base = try d.get(UInt64.self, "the first indexed position")
        let (count, bytes) = try d.getChunkedRows("the client event steps", width: 3, chunkRows: ChunkedArray<Step>.elementsPerChunk)
        if let owner = d.owner, count > 0, MemoryLayout<Step>.stride == 3 {
            steps = ChunkedArray(mapping: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: count, owner: owner)
        } else {
            steps = Self.steps(copying: bytes, count: count)
        }
        let farCount = try d.getCount("the far steps", width: 16)
        var last: UInt64? = nil
        for _ in 0..<farCount {
            let position = try d.get(UInt64.self, "a far step's position"), back = try d.get(UInt64.self, "a far step")
            guard position >= base, position - base < UInt64(count), steps[Int(position - base)] == .far, back > 0, back <= position - base,
                  last.map({ $0 < position }) ?? true else {
                throw SectionError(Self.section.name, "far step at \(position) (\(back) back) does not stand where the steps mark one, or out of order")
            }
            farSteps[position] = back
            last = position
        }
        let clientCount = try d.getCount("the clients' newest events", width: 8)
        guard clientCount <= clients else {
            throw SectionError(Self.section.name, "\(clientCount) clients' newest events, but the state has \(clients) clients")
        }
        for _ in 0..<clientCount {
            let value = try d.get(UInt64.self, "a client's newest event")
            guard value == 0 || (value > base && value - base <= UInt64(count)) else {
                throw SectionError(Self.section.name, "a client's newest event \(value - 1) is past the \(count) events indexed")
            }
            newest.append(value)
        }
    }

    /// The steps as a chunked array over one copy of the section's bytes (a memory copy, not
    /// 20 million appends: the open of a full-size program spent 0.1 s on those), when they
    /// cannot be used where they lie.
    static func steps(copying bytes: UnsafeRawBufferPointer, count: Int) -> ChunkedArray<Step> {
        guard count > 0, MemoryLayout<Step>.stride == 3 else {
            var steps = ChunkedArray<Step>()
            for k in 0..<count { steps.append(Step(b0: bytes[3 * k], b1: bytes[3 * k + 1], b2: bytes[3 * k + 2])) }
            return steps
        }
        let perChunk = ChunkedArray<Step>.elementsPerChunk
        let chunks = (count + perChunk - 1) / perChunk
        let owner = OwnedBytes(count: chunks * perChunk * 3)
        owner.base.copyMemory(from: bytes.baseAddress!, byteCount: count * 3)
        return ChunkedArray(mapping: owner.base, count: count, owner: owner)
    }

    public func checkInvariants(clients: Int) {
        precondition(newest.count <= clients, "client events: \(newest.count) clients' chains for \(clients) clients")
        for (position, back) in farSteps {
            precondition(position >= base && position - base < UInt64(steps.count) && steps[Int(position - base)] == .far && back > 0 && back <= position - base,
                         "client events: a far step at \(position) the steps do not mark")
        }
        for c in 0..<newest.count where newest[c] > 0 {
            precondition(newest[c] > base && newest[c] - base <= UInt64(steps.count), "client events: client \(c)'s newest event is outside the steps")
        }
    }
}

/// Memory of its own, zeroed, freed with the last reference (what a restored index's chunks lie in).
final class OwnedBytes {
    let base: UnsafeMutableRawPointer
    init(count: Int) {
        base = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
    }
    deinit { base.deallocate() }
}
