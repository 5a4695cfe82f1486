import LedgerDomain
import LedgerLog

/// What the journal reads from the state: who holds a phone, who is in a segment, a client's
/// display name. Read under the writer's lock (or from a view), a lookup at a time.
struct JournalLookup {
    var clientForPhone: (String) -> String?
    /// Nil when no segment has that name.
    var members: (String) -> Set<String>?
    var displayName: (String) -> String?
}

/// Answers a ``JournalQuery`` by reading the log from the first position the period allows
/// (the log's time index) to the position the query stands at, keeping the rows that pass
/// every filter. The cost grows with the range read; the indexes of the journal issue (a
/// client's positions, types, names and context values as parts of the state) replace the
/// reading of what does not match.
enum JournalScan {
    /// The filters, checked and resolved against the state once.
    struct Filters {
        var clientKey: [UInt8]?
        var members: Set<String>?
        var codes: Set<UInt32>?
        var categories: Set<Category>
        var name: String?
        var context: [JournalQuery.ContextMatch]
        var to: Micros?
        /// The query names a client (or phone, or segment) that matches no one: no rows.
        var nobody = false
    }

    static func run(_ query: JournalQuery, reader: LogReader, end: UInt64, lookup: JournalLookup) throws(JournalError) -> JournalPage {
        let filters = try resolve(query, lookup: lookup)
        if filters.nobody { return JournalPage(rows: [], next: nil) }
        var start: UInt64 = 0
        var upper = end
        do {
            if let from = query.from { start = try reader.position(atOrAfterTimestamp: from.microsecondsSince1970) }
        } catch {
            throw JournalError(code: "log_failed", message: "the log could not be read: \(error)")
        }
        if let cursor = query.cursor {
            if query.order == .oldestFirst { start = max(start, cursor.position &+ 1) } else { upper = min(upper, cursor.position) }
        }
        let newestFirst = query.order == .newestFirst
        // Oldest first: the first limit + 1 matches (one more says whether a next page exists).
        // Newest first: the last limit + 1 before `upper`, in a ring.
        var kept: [LogRecord] = []
        var next = 0
        var matched = 0
        do {
            _ = try reader.scan(from: start) { record in
                if record.position >= upper { return false }
                if let to = filters.to, record.timestamp > to { return false }
                guard matches(record, filters) else { return true }
                matched += 1
                if !newestFirst {
                    kept.append(record.owned())
                    return kept.count <= query.limit
                }
                if kept.count < query.limit + 1 { kept.append(record.owned()) } else { kept[next] = record.owned() }
                next = (next + 1) % (query.limit + 1)
                return true
            }
        } catch {
            throw JournalError(code: "log_failed", message: "the log could not be read: \(error)")
        }
        var ordered = kept
        if newestFirst {
            if kept.count == query.limit + 1 { ordered = Array(kept[next...] + kept[..<next]) }
            ordered.reverse()
        }
        let more = ordered.count > query.limit
        if more { ordered.removeLast() }
        let rows = ordered.map { row($0, language: query.language, lookup: lookup) }
        let cursor = more ? rows.last.map { JournalCursor(order: query.order, position: $0.position) } : nil
        return JournalPage(rows: rows, next: cursor)
    }

    /// Checks the query and turns names into what a record is compared with.
    static func resolve(_ query: JournalQuery, lookup: JournalLookup) throws(JournalError) -> Filters {
        guard (1...JournalQuery.limitMax).contains(query.limit) else {
            throw JournalError(code: "invalid_event", message: "limit: must be 1 to \(JournalQuery.limitMax), got \(query.limit)")
        }
        if let cursor = query.cursor, cursor.order != query.order {
            throw JournalError(code: "invalid_event", message: "cursor: '\(cursor.text)' pages the other order; ask again without it")
        }
        if let from = query.from, let to = query.to, from > to {
            throw JournalError(code: "invalid_event", message: "period: from \(from) is after to \(to)")
        }
        var filters = Filters(categories: query.categories, name: query.name, context: query.context, to: query.to?.microsecondsSince1970)
        if !query.types.isEmpty {
            var codes = Set<UInt32>()
            for name in query.types {
                guard let kind = EventKind.byName[name] else {
                    throw JournalError(code: "invalid_event", message: "type: '\(name)' is not an event type")
                }
                codes.insert(kind.rawValue)
            }
            filters.codes = codes
        }
        var client = query.client?.rawValue
        if let phone = query.phone {
            guard let normalized = Phone.normalize(phone) else {
                throw JournalError(code: "invalid_event", message: "phone: '\(phone)' is not a phone number")
            }
            let holder = lookup.clientForPhone(normalized)
            if holder == nil || (client != nil && client != holder) { filters.nobody = true }
            client = holder
        }
        filters.clientKey = client.map { Array($0.utf8) }
        if let segment = query.segment {
            guard let members = lookup.members(segment) else {
                throw JournalError(code: "unknown_segment", message: "segment: no segment is named '\(segment)'")
            }
            filters.members = members
            if members.isEmpty { filters.nobody = true }
        }
        return filters
    }

    static func matches(_ record: RecordView, _ f: Filters) -> Bool {
        if let key = f.clientKey, !record.streamKey.elementsEqual(key) { return false }
        if let members = f.members, !members.contains(record.streamKeyString) { return false }
        if let codes = f.codes, !codes.contains(record.typeCode) { return false }
        guard let kind = EventKind(rawValue: record.typeCode) else { return false }
        let needsEvent = kind == .operationRefused && !f.categories.isEmpty || f.name != nil || !f.context.isEmpty
        let event = needsEvent ? try? EventCodec.decode(typeCode: record.typeCode, record.body).event : nil
        if !f.categories.isEmpty && !f.categories.contains(category(kind, event)) { return false }
        if f.name != nil || !f.context.isEmpty {
            guard case .custom(let named)? = event ?? nil else {
                guard case .system(let named)? = event ?? nil else { return false }
                return matches(named, f)
            }
            return matches(named, f)
        }
        return true
    }

    static func matches(_ named: NamedEvent, _ f: Filters) -> Bool {
        if let name = f.name, named.name != name { return false }
        for wanted in f.context {
            guard let value = named.context.first(where: { $0.0 == wanted.key })?.1 else { return false }
            if value.text == wanted.value { continue }
            if case .date(let t) = value, Time.parse(wanted.value) == t { continue }
            return false
        }
        return true
    }

    /// A refusal is in the category of what it refused.
    static func category(_ kind: EventKind, _ event: DomainEvent?) -> Category {
        if case .operationRefused(let r)? = event, let refused = EventKind.byName[r.operation] { return refused.category }
        return kind.category
    }

    static func row(_ record: LogRecord, language: Language, lookup: JournalLookup) -> JournalRow {
        let client = String(decoding: record.streamKey, as: UTF8.self)
        let kind = EventKind(rawValue: record.typeCode)
        let event = record.body.withUnsafeBytes { try? EventCodec.decode(typeCode: record.typeCode, $0).event }
        let description = event?.describe(language)
            ?? (language == .russian ? "Событие не читается этой версией" : "An event this version cannot read")
        return JournalRow(position: record.position, at: Timestamp(microsecondsSince1970: record.timestamp),
                          client: client.isEmpty ? nil : ClientID(client), displayName: client.isEmpty ? nil : lookup.displayName(client),
                          type: kind?.name ?? "unknown", category: kind.map { category($0, event) } ?? .other,
                          description: description, details: event?.details ?? .null)
    }
}

extension Ledger {
    /// A page of the journal (see ``JournalQuery``), read from the log as it stands now; the
    /// writer's lock is taken only for the moments the filters and display names need the state.
    public func journal(_ query: JournalQuery) throws(JournalError) -> JournalPage {
        let reader = log.reader()
        let lookup = JournalLookup(
            clientForPhone: { phone in self.read { state in state.holder(ofPhone: phone).map { state.clientID(Int($0)) } } },
            members: { segment in self.read { $0.members(ofSegment: segment) } },
            displayName: { id in self.read { state in state.clientIndex(id).map { state.displayName(Int($0)) } } })
        return try JournalScan.run(query, reader: reader, end: reader.snapshot.endPosition, lookup: lookup)
    }
}

extension LedgerView {
    /// A page of the journal as the view stands (events appended since are not in it).
    public func journal(_ query: JournalQuery) throws(JournalError) -> JournalPage {
        let reader: LogReader
        do { reader = try LogReader(directory: snapshot.directory) } catch {
            throw JournalError(code: "log_failed", message: "the log could not be read: \(error)")
        }
        let state = self.state
        let lookup = JournalLookup(
            clientForPhone: { phone in state.holder(ofPhone: phone).map { state.clientID(Int($0)) } },
            members: { state.members(ofSegment: $0) },
            displayName: { id in state.clientIndex(id).map { state.displayName(Int($0)) } })
        return try JournalScan.run(query, reader: reader, end: position, lookup: lookup)
    }
}
