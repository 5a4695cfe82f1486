import LedgerStorage
import LedgerBytes

/// The idempotency part: each key a command came with, and what it answers (the positions of
/// the command's events, or the refusal recorded for it).
///
/// A key's answer is the first position of its command's events and how many (5 bytes a key
/// beside its 8-byte slot), or a refusal, kept apart since refusals are few. The keys' bytes
/// are not kept: each is in the log, in the record its answer starts at, and a lookup confirms
/// a candidate there (see ``answer(forKey:keyAt:)``).
public struct IdempotencyAnswers: LedgerPart {
    public static let section = SnapshotSection.idempotency

    /// The keys, by hash; each entry's index is its answer's.
    var keys = KeyIndex()
    /// The bytes of the keys the log cannot give back: all of them while ``keepsKeyBytes``,
    /// else those whose events are not yet durable and the newest that are.
    var held = HeldKeys()
    /// True for a state alone (it has no log to read keys back from). A ``Ledger``'s state is
    /// made without: a rebuild then keeps no key's bytes, and a submit holds them only until
    /// its events are durable (``release(below:)``). Fixed when the state is made.
    public let keepsKeyBytes: Bool
    /// While rebuilding, a state that does not keep key bytes holds none.
    var isRebuilding: Bool
    var first = AscendingPositions()
    /// Events of each answer, saturating at 255; the rare longer ones are in `long`.
    var counts: [UInt8] = []
    var long: [Int32: UInt32] = [:]
    var refusals: [Int32: (code: String, message: String)] = [:]
    /// The answer the command being applied extends with its derived events.
    var open: Int32?

    init(keepsKeyBytes: Bool, rebuilding: Bool) {
        self.keepsKeyBytes = keepsKeyBytes
        isRebuilding = rebuilding
    }

    /// How many keys' bytes are held.
    public var heldCount: Int { held.count }
    public var count: Int { keys.count }

    public mutating func apply(_ event: borrowing AppliedEvent) {
        if event.derived {
            if let key = open {
                let count = event.position - first[Int(key)] + 1
                if count < 255 { counts[Int(key)] = UInt8(count) } else { counts[Int(key)] = 255; long[key] = UInt32(count) }
            }
            return
        }
        open = nil
        guard let key = event.key else { return }
        // The engine answers a key it knows without appending, so a key reaches here new.
        let index = keys.insert(key)
        first.append(event.position)
        counts.append(1)
        if keepsKeyBytes || !isRebuilding { held.hold(index, key) }
        if case .operationRefused(let r) = event.event {
            refusals[index] = (r.code, r.message)
        } else {
            // A refusal is one event: nothing derived extends it.
            open = index
        }
    }

    public mutating func finishRebuild() { isRebuilding = false }

    /// What `key` answers, confirmed against the held bytes or, through `keyAt`, the log's
    /// (see ``LedgerState/answer(forKey:keyAt:)``). When two entries carry one key, the later answers.
    public func answer(forKey key: String, keyAt: (UInt64) throws -> [UInt8]?) rethrows -> IdempotentAnswer? {
        var copy = key
        let found: Int32? = try copy.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            var best: Int32? = nil
            try keys.forEachCandidate(bytes) { index in
                if let best, first[Int(best)] > first[Int(index)] { return }
                let same: Bool
                if let matches = held.matches(index, bytes) {
                    same = matches
                } else if let logged = try keyAt(first[Int(index)]) {
                    same = logged.elementsEqual(bytes)
                } else {
                    same = false
                }
                if same { best = index }
            }
            return best
        }
        return found.map(answer(at:))
    }

    /// Lets go of the bytes of the keys whose answers start below `end` (the log now has them),
    /// but for the newest ``HeldKeys/recentKept``.
    mutating func release(below end: UInt64) {
        guard !keepsKeyBytes else { return }
        held.release(keepingLast: HeldKeys.recentKept) { first[Int($0)] < end }
    }

    func answer(at index: Int32) -> IdempotentAnswer {
        if let refusal = refusals[index] { return .refused(code: refusal.code, message: refusal.message) }
        let start = first[Int(index)]
        let count = counts[Int(index)] == 255 ? UInt64(long[index] ?? 255) : UInt64(counts[Int(index)])
        return .accepted(start...(start + count - 1))
    }

    /// Every key with its answer (see ``LedgerState/idempotency(keyAt:)``).
    func all(keyAt: (UInt64) throws -> [UInt8]?) rethrows -> [String: IdempotentAnswer] {
        var result: [String: IdempotentAnswer] = [:]
        for index in 0..<Int32(keys.count) {
            guard let bytes = try held.bytes(index) ?? keyAt(first[Int(index)]) else { continue }
            result[String(decoding: bytes, as: UTF8.self)] = answer(at: index)
        }
        return result
    }

    @inline(__always)
    func prefetch(_ key: UnsafeRawBufferPointer) { keys.prefetch(key) }

    // MARK: snapshot (data-format.md §13.4, section 10)

    public func write(to e: SectionEncoder) {
        keys.write(to: e)
        first.write(to: e)
        e.putArray(counts)
        let long = long.sorted { $0.key < $1.key }
        e.putArray(long.map(\.key))
        e.putArray(long.map(\.value))
        let refused = refusals.sorted { $0.key < $1.key }
        e.put(UInt64(refused.count))
        for (index, refusal) in refused {
            e.put(index)
            e.putText(refusal.code)
            e.putText(refusal.message)
        }
    }

    /// As a rebuild's end leaves it: the log it belongs to keeps the keys' bytes.
    public init(from d: inout SectionDecoder, clients: Int) throws(SectionError) {
        self.init(keepsKeyBytes: false, rebuilding: false)
        keys = try KeyIndex(from: &d)
        first = try AscendingPositions(from: &d)
        counts = try d.getArray(UInt8.self, "answer lengths")
        let n = keys.count
        guard first.count == n, counts.count == n else { throw d.fail("\(n) keys, \(first.count) answers, \(counts.count) lengths") }
        let longKeys = try d.getArray(Int32.self, "long answers")
        let longValues = try d.getArray(UInt32.self, "long answers' lengths")
        guard longKeys.count == longValues.count, longKeys.allSatisfy({ $0 >= 0 && Int($0) < n }) else { throw d.fail("the long answers do not match") }
        long = Dictionary(zip(longKeys, longValues), uniquingKeysWith: { a, _ in a })
        for k in 0..<(try d.getCount("refused keys", width: 12)) {
            let index = try d.get(Int32.self, "refused key \(k)")
            guard index >= 0, Int(index) < n else { throw d.fail("refused key \(k) names no key") }
            refusals[index] = (try d.getText("refused key \(k)'s code"), try d.getText("refused key \(k)'s message"))
        }
    }

    public func checkInvariants(clients: Int) {
        keys.checkInvariants()
        first.checkInvariants()
        held.checkInvariants(entries: keys.count)
        let n = keys.count
        precondition(first.count == n && counts.count == n, "idempotency: \(n) keys, \(first.count) answers, \(counts.count) lengths")
        for index in 1..<max(1, n) { precondition(first[index - 1] < first[index], "idempotency: answer \(index) starts before the one before it") }
        precondition(counts.allSatisfy { $0 > 0 }, "idempotency: an answer of no event")
        precondition(long.allSatisfy { Int($0.key) < n && counts[Int($0.key)] == 255 && $0.value >= 255 }, "idempotency: a long answer that is not long")
        precondition(refusals.keys.allSatisfy { Int($0) < n && counts[Int($0)] == 1 }, "idempotency: a refusal of more than one event")
        precondition(keepsKeyBytes ? held.count == n : held.count <= n, "idempotency: \(held.count) keys held of \(n)")
    }
}
