/// Due activations and expiries, by time and then by lot (a binary min-heap): a total order,
/// so the advance step appends the same events in the same order whether the heap was built
/// live or by a rebuild. It holds only what falls due before its `horizon`: every open lot due
/// before it is in the heap, none due later need be (most lots expire a year out; keeping them
/// all would cost 24 bytes a lot). The advance step moves the horizon on, adding the lots that
/// fall due in between, before it pops past it. Entries may be stale (a lot since spent or
/// activated); whoever pops one checks the lot.
struct Schedule: Sendable {
    /// 16 bytes: a lot is named by the low 32 bits of its position, which with its client and
    /// its due time find it (``LedgerState/scheduledLot(_:)``).
    struct Entry: Sendable {
        var due: Micros
        var client: Int32
        var lot: UInt32

        init(due: Micros, client: Int32, lot position: UInt64) {
            self.due = due; self.client = client; lot = UInt32(truncatingIfNeeded: position)
        }

        @inline(__always)
        func precedes(_ other: Entry) -> Bool { due != other.due ? due < other.due : lot < other.lot }
    }
    private(set) var entries: [Entry] = []
    /// Every open lot due before this is in the heap.
    var horizon: Micros = .min
    /// How far past the time it reaches the advance step moves the horizon.
    static let horizonSpan: Micros = 8 * Time.microsPerDay

    /// The horizon for an advance step that reaches `time`.
    static func horizon(after time: Micros) -> Micros {
        let (horizon, overflow) = time.addingReportingOverflow(horizonSpan)
        return overflow ? .max : horizon
    }

    var count: Int { entries.count }
    var next: Entry? { entries.first }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !entries[i].precedes(entries[parent]) { break }
            entries.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard !entries.isEmpty else { return nil }
        let top = entries[0]
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            siftDown(0)
        }
        return top
    }

    /// Moves entry `i` down until neither child precedes it.
    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < entries.count && entries[l].precedes(entries[smallest]) { smallest = l }
            if r < entries.count && entries[r].precedes(entries[smallest]) { smallest = r }
            if smallest == i { return }
            entries.swapAt(i, smallest)
            i = smallest
        }
    }

    mutating func removeAll() { entries.removeAll() }
    /// Adds entries in any order. When the heap is empty it takes `more`'s buffer and orders it
    /// in place (Floyd's bottom-up heap construction: no second buffer, as a sort would take),
    /// so that a writer's open holds the entries once.
    mutating func add(_ more: inout [Entry]) {
        if entries.isEmpty {
            swap(&entries, &more)
            for i in stride(from: entries.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        } else {
            for entry in more { push(entry) }
        }
    }
}
