import LedgerBytes

extension ClientEntries {
    @inlinable package func write(to e: SectionEncoder) {
        e.putRows(count: entries.count, width: 28) { k, row in
            let entry = entries[k]
            row.put(entry.at, 0)
            row.put(entry.text.chunk, 8)
            row.put(entry.text.offset, 12)
            row.put(entry.value, 16)
            row.put(entry.older, 24)
        }
        let newest = newest.sorted { $0.key < $1.key }
        e.putArray(newest.map(\.key))
        e.putArray(newest.map(\.value))
    }

    @inlinable package init(from d: inout SectionDecoder, clients: Int, texts: [[UInt64]], _ what: String) throws(SectionError) {
        self.init()
        var entries: [Entry] = []
        let fail = d.fail
        try d.getRows("\(what) entries", width: 28) { k, row throws(SectionError) in
            let entry = Entry(at: row.get(Int64.self, 0), text: TextRef(chunk: row.get(UInt32.self, 8), offset: row.get(UInt32.self, 12)),
                              value: row.get(Int64.self, 16), older: row.get(Int32.self, 24))
            guard entry.older >= -1 && Int(entry.older) < k else { throw fail("\(what) entry \(k) links to \(entry.older)") }
            guard TextArena.names(entry.text, texts) else { throw fail("\(what) entry \(k) names no text") }
            entries.append(entry)
        }
        let clientsWith = try d.getArray(Int32.self, "\(what) clients")
        let newestEntries = try d.getArray(Int32.self, "\(what) newest entries")
        guard clientsWith.count == newestEntries.count, clientsWith.allSatisfy({ $0 >= 0 && Int($0) < clients }),
              newestEntries.allSatisfy({ $0 >= 0 && Int($0) < entries.count }) else {
            throw d.fail("\(what): the newest entries do not name clients and entries")
        }
        self.entries = entries
        newest = Dictionary(zip(clientsWith, newestEntries), uniquingKeysWith: { a, _ in a })
    }
}
