import LedgerStorage
import Testing
@testable import LedgerDomain

@Suite("The client store's parts")
struct StoreTests {
    @Test("a chunked array copied (a snapshot's copy) shares its chunks, and a write copies only the chunk it touches")
    func chunkedArrayCopiesByChunk() {
        var a = ChunkedArray<Int64>()
        for k in 0..<(10 * 4096 + 17) { a.append(Int64(k)) }
        var b = a
        b[5] = -5
        b[9 * 4096 + 3] = -7
        b.append(99)
        for c in 0..<a.storage.chunks.count {
            let shared = a.storage.chunks[c] === b.storage.chunks[c]
            #expect(shared == (c != 0 && c != 9 && c != 10), "chunk \(c)")
        }
        #expect(a[5] == 5 && a[9 * 4096 + 3] == 9 * 4096 + 3 && a.count == 10 * 4096 + 17)
        #expect(b[5] == -5 && b[9 * 4096 + 3] == -7 && b.count == 10 * 4096 + 18 && b[10 * 4096 + 17] == 99)
        #expect(Array(a.indices).allSatisfy { k in k == 5 || k == 9 * 4096 + 3 || a[k] == b[k] })
        a.checkInvariants()
        b.checkInvariants()
        for k in stride(from: 0, to: a.count, by: 4096) { a[k] = 0 }
        a.checkInvariants()
    }

    @Test("a chunked array copies on write: a copy keeps its elements when the original changes, across chunks")
    func chunkedArrayCopiesOnWrite() {
        var a = ChunkedArray<String>()
        for i in 0..<10_000 { a.append("v\(i)") }
        let snapshot = a
        a[5] = "changed"
        a[9_999] += "!"
        a.append("new")
        #expect(snapshot.count == 10_000 && snapshot[5] == "v5" && snapshot[9_999] == "v9999")
        #expect(a.count == 10_001 && a[5] == "changed" && a[9_999] == "v9999!" && a[10_000] == "new")
        #expect(Array(a.prefix(3)) == ["v0", "v1", "v2"])
    }

    @Test("the text arena gives back every profile it stored with its cards, nil and empty told apart, across chunks")
    func textArenaRoundTrips() {
        var arena = TextArena()
        var refs: [(TextRef, Profile)] = []
        for i in 0..<30_000 {
            let cards = (0..<(i % 3)).map { $0 == 1 ? "" : "card-\(i)-ёж-\($0)" }
            let profile = Profile(name: i % 3 == 0 ? nil : "Имя \(i)", phone: "7916\(i)", email: i % 5 == 0 ? "" : "c\(i)@example.ru",
                                  place: String(repeating: "x", count: i % 200), addedBy: nil, cards: cards)
            refs.append((arena.append(profile), profile))
        }
        for (ref, profile) in refs { #expect(arena.profile(ref) == profile) }
        arena.checkInvariants()
        #expect(arena.profile(.none) == Profile())
    }

    @Test("the text arena keeps digits, Russian and any other text exactly, phones and Russian names in about half their UTF-8 bytes")
    func textArenaForms() {
        let pieces = ["0", "7", "9", "+", " ", "-", "(", "Ж", "я", "Ё", "ё", "А", "a", "Z", "ї", "é", "😀", "\u{0}", "Ӏ", "@", "."]
        var r = SplitMix(state: 21)
        var arena = TextArena()
        var stored: [(TextRef, [String?])] = []
        for i in 0..<5_000 {
            var texts: [String?] = []
            for _ in 0..<Int(r.next() % 6) {
                if r.next() % 7 == 0 { texts.append(nil); continue }
                let length = Int(r.next() % 24)
                // Every third text draws from digits alone (with a leading + sometimes), every
                // other third from Russian and ASCII, the rest from everything.
                let alphabet = i % 3 == 0 ? Array(pieces[0..<3]) : i % 3 == 1 ? Array(pieces[4..<14]) : pieces
                var text = (i % 3 == 0 && r.next() % 2 == 0) ? "+" : ""
                for _ in 0..<length { text += alphabet[Int(r.next() % UInt64(alphabet.count))] }
                texts.append(text)
            }
            stored.append((arena.append(texts), texts))
        }
        for (ref, texts) in stored { #expect(arena.read(ref) == (texts.isEmpty ? [] : texts)) }

        var small = TextArena()
        _ = small.append(["+79161234567"])
        #expect(small.byteCount == 1 + 1 + 6)
        var names = TextArena()
        _ = names.append(["Михаил Смирнова"])
        #expect(names.byteCount == 1 + 1 + 15)
        var other = TextArena()
        _ = other.append(["Ђорђе", "+7 (916) 123-45-67", "", "+"])
        #expect(other.read(TextRef(chunk: 0, offset: 0)) == ["Ђорђе", "+7 (916) 123-45-67", "", "+"])
    }

    @Test("the lot pool keeps each client's lots in order through pushes, removals and slot reuse, amounts past 32 bits whole")
    func lotPoolLists() {
        var pool = LotPool()
        var lists = [LotList](repeating: LotList(head: -1, tail: -1, count: 0), count: 3)
        var model: [[UInt64]] = [[], [], []]
        var r = SplitMix(state: 9)
        for position in UInt64(0)..<3_000 {
            let c = Int(r.next() % 3)
            if !model[c].isEmpty && r.next() % 3 == 0 {
                let victim = model[c][Int(r.next() % UInt64(model[c].count))]
                let slot = pool.find(victim, client: Int32(c), list: lists[c])!
                pool.remove(slot, client: Int32(c), list: &lists[c])
                model[c].removeAll { $0 == victim }
            }
            let amount: Int64 = position % 11 == 0 ? 5_000_000_000 + Int64(position) : 100
            let lot = Lot(position: position, amount: amount, remaining: amount, reserved: position % 7 == 0 ? 5 : 0, spent: position % 5 == 0 ? 3 : 0,
                          activatesAt: 0, expiresAt: 1, phase: .active, reason: .purchase, corrected: false)
            _ = pool.push(lot, client: Int32(c), list: &lists[c])
            model[c].append(position)
        }
        for c in 0..<3 {
            pool.checkInvariants(client: Int32(c), list: lists[c])
            #expect(lists[c].count == LotPool.indexed, "\(model[c].count) lots are indexed")
            #expect(pool.list(tail: lists[c].tail).map(\.position) == model[c])
            for position in model[c] {
                let lot = pool[pool.find(position, client: Int32(c), list: lists[c])!]
                #expect(lot.position == position && lot.reserved == (position % 7 == 0 ? 5 : 0) && lot.spent == (position % 5 == 0 ? 3 : 0))
                #expect(lot.amount == (position % 11 == 0 ? 5_000_000_000 + Int64(position) : 100) && lot.remaining == lot.amount)
            }
            // What remains crosses 32 bits both ways and stays whole.
            for position in model[c] {
                let slot = pool.find(position, client: Int32(c), list: lists[c])!
                let before = pool[slot]
                pool[slot].remaining = before.amount > 100 ? 7 : 4_294_967_296
                #expect(pool[slot].remaining == (before.amount > 100 ? 7 : 4_294_967_296) && pool[slot].amount == before.amount)
            }
            #expect(pool.find(3_000 + UInt64(c), client: Int32(c), list: lists[c]) == nil)
        }
        #expect(pool.live == model.reduce(0) { $0 + $1.count })
    }

    @Test("a client record is four cache lines, laid out as the rebuild's prefetch expects; a pooled lot is 40 bytes, a stored purchase 32")
    func layouts() {
        #expect(MemoryLayout<ClientRecord>.stride == 256)
        #expect(MemoryLayout<ClientRecord>.offset(of: \ClientRecord.lastEventAt) == 0)
        #expect(MemoryLayout<ClientRecord>.offset(of: \ClientRecord.lotHead)! < 64)
        #expect(MemoryLayout<ClientRecord>.offset(of: \ClientRecord.balances) == 64)
        #expect(MemoryLayout<ClientRecord>.offset(of: \ClientRecord.stats) == 128)
        #expect(MemoryLayout<ClientRecord>.offset(of: \ClientRecord.channels) == 192)
        #expect(MemoryLayout<PooledLot>.stride == 40)
        #expect(MemoryLayout<StoredPurchase>.stride == 32)
    }

    @Test("held keys answer for the entries still held, through deferred, partial and whole releases, the newest kept")
    func heldKeys() {
        var held = HeldKeys()
        func key(_ n: Int) -> [UInt8] { Array("key-\(n)-\(String(repeating: "x", count: n % 5))".utf8) }
        func matches(_ n: Int, _ k: [UInt8]) -> Bool? { k.withUnsafeBytes { held.matches(Int32(n), $0) } }
        for n in 0..<10 { key(n).withUnsafeBytes { held.hold(Int32(n), $0) } }
        #expect(matches(3, key(3)) == true && matches(3, key(4)) == false && matches(10, key(10)) == nil)
        held.release { $0 < 2 }  // too little goes to be worth moving the rest: nothing is let go yet
        #expect(held.count == 10 && matches(0, key(0)) == true)
        held.release { $0 < 6 }  // a writer's batches up to entry 5 are durable
        #expect(held.count == 4 && matches(5, key(5)) == nil && matches(6, key(6)) == true && matches(9, key(9)) == true)
        for n in 10..<12 { key(n).withUnsafeBytes { held.hold(Int32(n), $0) } }
        #expect(held.bytes(11) == key(11) && held.bytes(6) == key(6) && held.bytes(2) == nil)
        held.release(keepingLast: 3) { _ in true }  // the newest three stay
        #expect(held.count == 3 && matches(8, key(8)) == nil && matches(9, key(9)) == true && matches(11, key(11)) == true)
        held.release { _ in true }
        #expect(held.count == 0 && matches(11, key(11)) == nil)
        key(12).withUnsafeBytes { held.hold(12, $0) }
        #expect(matches(12, key(12)) == true)
        held.checkInvariants(entries: 13)
    }

    @Test("property: a release lets go of exactly the readable prefix, but for the newest kept, or of nothing when too little would go")
    func heldKeysReleasePrefix() {
        var r = SplitMix(state: 5)
        for _ in 0..<300 {
            var held = HeldKeys()
            let count = Int(r.next() % 300) + 1
            for n in 0..<count { Array("k\(n)".utf8).withUnsafeBytes { held.hold(Int32(n), $0) } }
            let readable = Int(r.next() % UInt64(count + 1)), kept = Int(r.next() % 40)
            held.release(keepingLast: kept) { Int($0) < readable }
            let goes = min(readable, max(0, count - kept))
            let expected = goes > 0 && (goes == count || goes >= count - goes) ? count - goes : count
            #expect(held.count == expected, "\(count) held, \(readable) readable, \(kept) kept")
            let first = count - held.count
            #expect(first == 0 || Array("k\(first - 1)".utf8).withUnsafeBytes { held.matches(Int32(first - 1), $0) } == nil)
            #expect(Array("k\(first)".utf8).withUnsafeBytes { held.matches(Int32(first), $0) } == (first < count ? true : nil))
            held.checkInvariants(entries: count)
        }
    }

    @Test("property: ascending positions in 4 bytes read back whole, across 2^32 boundaries crossed one at a time and several at once")
    func ascendingPositions() {
        var r = SplitMix(state: 12)
        for _ in 0..<20 {
            var kept = AscendingPositions()
            var model: [UInt64] = []
            var position = r.next() % 5_000_000_000
            for _ in 0..<2_000 {
                switch r.next() % 10 {
                case 0: position += (r.next() % 3) << 32  // jump words
                case 1: break  // the same position again
                default: position += r.next() % 50_000_000
                }
                kept.append(position)
                model.append(position)
            }
            #expect(kept.count == model.count)
            #expect((0..<model.count).allSatisfy { kept[$0] == model[$0] })
            kept.checkInvariants()
        }
    }

    @Test("property: the id table answers as a dictionary would, front-coded in groups of 1, 4 and 16, through its grows",
          arguments: [1, 4, 16])
    func idTableMatchesADictionary(groupSize: Int) {
        var table = IdTable(groupSize: groupSize)
        var model: [String: Int32] = [:]
        var order: [String] = []
        var r = SplitMix(state: UInt64(40 + groupSize))
        for step in 0..<20_000 {
            // Counters (long shared prefixes), repeats, random bytes, the empty key and keys past
            // 127 bytes (two-byte lengths).
            let key: String
            switch r.next() % 6 {
            case 0, 1: key = "p\(1_000_000 + step)"
            case 2: key = order.isEmpty ? "" : order[Int(r.next() % UInt64(order.count))]
            case 3: key = String((0..<Int(r.next() % 12)).map { _ in Character(Unicode.Scalar(UInt8(33 + r.next() % 90))) })
            case 4: key = String(repeating: "ю", count: 60 + Int(r.next() % 40)) + "\(step % 7)"
            default: key = step % 1000 == 0 ? "" : "c\(r.next() % 50_000)"
            }
            let (index, inserted) = table.findOrInsert(key)
            if step % 2_000 == 0 { table.checkInvariants() }
            if let known = model[key] {
                #expect(!inserted && index == known, "key \(key)")
            } else {
                #expect(inserted && index == Int32(order.count), "key \(key)")
                model[key] = index
                order.append(key)
            }
        }
        #expect(table.count == order.count)
        #expect(table.keys == order)
        table.checkInvariants()
        for (i, key) in order.enumerated() {
            #expect(table.key(Int32(i)) == key && table.find(key) == Int32(i) && table.has(Int32(i), key: key))
            if i > 0 { #expect(!table.has(Int32(i - 1), key: key)) }
        }
        for missing in ["p999", "q1000001", "юю", "c50000x"] { #expect(table.find(missing) == nil) }
        // The prefetch's guesses: a key's own entry when its first slot holds it, else none.
        let guesses = table.prefetchLookups(order)
        for (i, guess) in guesses.enumerated() { #expect(guess == -1 || guess == Int32(i), "guess for \(order[i])") }
        #expect(guesses.filter { $0 >= 0 }.count * 2 > order.count)
        #expect(IdTable().prefetchLookups(["a", "b"]) == [-1, -1])
        // A counter's ids share all but their last digits: in groups of 16 they take a few
        // bytes each; stored whole (groups of 1) they take their length and two more.
        var counters = IdTable(groupSize: 16), whole = IdTable(groupSize: 1)
        for n in 0..<10_000 { _ = counters.findOrInsert("receipt-\(5_000_000 + n)"); _ = whole.findOrInsert("receipt-\(5_000_000 + n)") }
        #expect(counters.keyBytes < 10_000 * 5 && whole.keyBytes == 10_000 * (1 + 15 + 4))
    }

    @Test("property: ascending values answer as a dictionary would, for indexes set, skipped, before the first and past the last")
    func ascendingValuesMatchADictionary() {
        var values = AscendingValues()
        var model: [Int32: Int64] = [:]
        var r = SplitMix(state: 77)
        var index: Int32 = 0
        for _ in 0..<5_000 {
            index += Int32(1 + r.next() % 5)
            let value = Int64(bitPattern: r.next())
            values.append(index, value)
            model[index] = value
        }
        #expect(values.count == model.count)
        for i in Int32(-2)...(index + 3) { #expect(values[i] == model[i], "index \(i)") }
        #expect(AscendingValues()[0] == nil)
        values.checkInvariants()
    }

    @Test("property: the holder index answers as a dictionary would, through sets, replacements and removals")
    func holderIndexMatchesADictionary() {
        var index = HolderIndex()
        var model: [String: Int32] = [:]
        var r = SplitMix(state: 4)
        let holds: (Int32, String) -> Bool = { holder, key in model[key] == holder }
        for step in 0..<20_000 {
            if step % 1_000 == 0 { index.checkInvariants(clients: 500, "holders") }
            let key = "k\(r.next() % 3_000)"
            if r.next() % 3 == 0, let holder = model[key] {
                index.remove(key, heldBy: holder)
                model[key] = nil
            } else {
                let holder = Int32(r.next() % 500)
                // As the ledger does: the new holder's profile names the key before it is set.
                let previous = model[key]
                model[key] = holder
                index.set(key, to: holder, holds: { h, k in k == key ? (h == previous || h == holder) : holds(h, k) })
            }
        }
        for k in 0..<3_000 {
            let key = "k\(k)"
            #expect(index.find(key, holds: holds) == model[key], "key \(key)")
        }
        #expect(index.count == model.count)
        index.checkInvariants(clients: 500, "holders")
    }

    @Test("property: the idempotency key index names each entry once, reachable from its tag, through its grows")
    func keyIndexInvariants() {
        var keys = KeyIndex()
        for n in 0..<50_000 {
            _ = Array("key-\(n % 7)-\(n)".utf8).withUnsafeBytes { keys.insert($0) }
            if n % 5_000 == 0 { keys.checkInvariants() }
        }
        keys.checkInvariants()
        var candidates = 0
        Array("key-3-3".utf8).withUnsafeBytes { keys.forEachCandidate($0) { if $0 == 3 { candidates += 1 } } }
        #expect(candidates == 1)
    }
}
