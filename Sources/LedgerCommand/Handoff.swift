import LedgerSync
import Dispatch
import Synchronization

/// Items made by a producer on a thread of its own and taken in order by one consumer, the
/// producer at most `ahead` items ahead: on this two-core machine, reading and parsing input
/// runs beside the checks and syncs of the items before it.
///
/// The producer gets a `hand` function; it returns false once the consumer stopped, and the
/// producer should then return. Its items are taken with ``next()``, nil once it returned.
final class Handoff<Item: Sendable>: Sendable {
    private let items = Lock<[Item?]>([])  // nil: the producer returned
    private let free: DispatchSemaphore
    private let ready = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let stopping = Atomic<Bool>(false)

    init(ahead: Int = 2, _ produce: @escaping @Sendable (_ hand: (Item) -> Bool) -> Void) {
        // Created at zero and raised: libdispatch traps when a semaphore is freed below the value
        // it was created with, which a consumer that stops early would leave it at.
        free = DispatchSemaphore(value: 0)
        for _ in 0..<ahead { free.signal() }
        DispatchQueue.global(qos: .userInitiated).async {
            produce(self.hand)
            self.items.withLock { $0.append(nil) }
            self.ready.signal()
            self.finished.signal()
        }
    }

    /// Queues an item once there is room for it; false when the consumer stopped.
    private func hand(_ item: Item) -> Bool {
        guard !stopping.load(ordering: .acquiring) else { return false }
        free.wait()
        guard !stopping.load(ordering: .acquiring) else { return false }
        items.withLock { $0.append(item) }
        ready.signal()
        return true
    }

    /// The next item, or nil once the producer returned (and every later call too).
    func next() -> Item? {
        ready.wait()
        return take()
    }

    /// The next item if one is ready now: nil when none is yet, `.some(nil)` once the
    /// producer returned.
    func poll() -> Item?? {
        guard ready.wait(timeout: .now()) == .success else { return nil }
        return .some(take())
    }

    /// Takes the first item once `ready` was waited for (the end stays for later calls).
    private func take() -> Item? {
        let item = items.withLock { $0.first! == nil ? nil : $0.removeFirst() }
        if item == nil { ready.signal() } else { free.signal() }
        return item
    }

    /// Tells the producer to stop and waits until it returned. Call it once.
    func stop() {
        stopping.store(true, ordering: .releasing)
        free.signal()
        finished.wait()
    }
}
