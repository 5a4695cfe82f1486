import Synchronization
import Testing
@testable import LedgerCommand

@Suite("Handing work between threads")
struct HandoffTests {
    @Test("items arrive in order, all of them, and nil after the last")
    func inOrder() {
        let handoff = Handoff<Int>(ahead: 2) { hand in
            for k in 0..<10_000 { guard hand(k) else { return } }
        }
        var seen: [Int] = []
        while let k = handoff.next() { seen.append(k) }
        #expect(seen == Array(0..<10_000))
        #expect(handoff.next() == nil)
        handoff.stop()
    }

    @Test("a consumer that stops early stops the producer, which never runs more than a few items ahead")
    func stopEarly() {
        let made = Atomic<Int>(0)
        let refusedAt = Atomic<Int>(-1)
        let handoff = Handoff<Int>(ahead: 2) { hand in
            for k in 0..<1_000_000 {
                made.add(1, ordering: .relaxed)
                guard hand(k) else { refusedAt.store(k, ordering: .relaxed); return }
            }
        }
        #expect(handoff.next() == 0)
        #expect(handoff.next() == 1)
        handoff.stop()  // returns only once the producer has returned
        #expect(refusedAt.load(ordering: .relaxed) >= 2)
        #expect(made.load(ordering: .relaxed) <= 2 + 2 + 1, "at most the two taken, two queued and the one refused")
    }
}
