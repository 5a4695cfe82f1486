/// What only some clients have and a card lists in order (NPS ratings, notes): entries in one
/// flat pool, each client's linked from the newest to the oldest, the newest in a dictionary,
/// their texts in the text arena. 32 bytes an entry, where an array and a String apiece in a
/// dictionary of clients cost about 190.
public struct ClientEntries: Sendable {
    public struct Entry: Sendable {
        public var at: Int64
        public var text: TextRef
        public var value: Int64
        @usableFromInline package var older: Int32
        @inlinable package init(at: Int64, text: TextRef, value: Int64, older: Int32) {
            self.at = at; self.text = text; self.value = value; self.older = older
        }
    }
    @usableFromInline package var entries: [Entry] = []
    @usableFromInline package var newest: [Int32: Int32] = [:]
    @inlinable package init() {}

    @inlinable package mutating func append(_ client: Int32, at: Int64, text: TextRef, value: Int64) {
        entries.append(Entry(at: at, text: text, value: value, older: newest[client] ?? -1))
        newest[client] = Int32(entries.count - 1)
    }

    /// A client's entries, oldest first.
    @inlinable package func list(_ client: Int32) -> [Entry] {
        var list: [Entry] = []
        var k = newest[client] ?? -1
        while k >= 0 { list.append(entries[Int(k)]); k = entries[Int(k)].older }
        return list.reversed()
    }
}

extension ClientEntries {
    /// Stops the process when the entries' links contradict themselves: each client's newest
    /// entry leads through older ones only, and every entry is on exactly one client's list.
    @inlinable package func checkInvariants(clients: Int) {
        var seen = [Bool](repeating: false, count: entries.count)
        for (client, newest) in newest {
            precondition(client >= 0 && Int(client) < clients, "client entries: client \(client) is not one")
            var k = newest
            while k >= 0 {
                precondition(Int(k) < entries.count && !seen[Int(k)], "client entries: entry \(k) is out of range or on two lists")
                seen[Int(k)] = true
                precondition(entries[Int(k)].older < k, "client entries: entry \(k) links to a newer one")
                k = entries[Int(k)].older
            }
        }
        precondition(seen.allSatisfy { $0 }, "client entries: an entry on no client's list")
    }
}
