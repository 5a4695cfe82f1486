import LedgerDomain
import LedgerLog

/// What the journal reads from the state: who holds a phone, who is in a segment, a client's
/// display name. Read under the writer's lock (or from a view), a lookup at a time.
struct JournalLookup {
    var clientForPhone: (String) -> String?
    /// Nil when no segment has that name.
    /// A segment's members now (a defined segment's filters evaluated, see ``SegmentMembers``);
    /// nil when no segment has that name.
    var members: (String) -> Result<Set<String>, SegmentError>?
    var displayName: (String) -> String?
    /// A client's event positions below `before`, newest first, at most `limit` (the
    /// ``ClientEvents`` index); empty for an unknown client.
    var positions: (_ client: String, _ before: UInt64, _ limit: Int, _ after: UInt64?) -> [UInt64]
    /// The custom and system events with a name and context keys, ascending (``NamedEventIndex``).
    var named: (_ name: String?, _ context: [String]) -> [UInt64]
    /// Where the nearest block that may hold one of the types lies (``EventKindBlocks``):
    /// newest first, the end of the stretch below `top` and from `start`; oldest first, the
    /// first position from `start`. Nil: no such block.
    var kinds: (_ wanted: KindSet, _ top: UInt64, _ start: UInt64, _ newestFirst: Bool) -> UInt64?
}

extension JournalLookup {
    /// The lookups of one state (a view's, or the writer's under its lock: `read`).
    init(reading read: @escaping (_ body: (LedgerState) -> Void) -> Void) {
        func value<T>(_ body: (LedgerState) -> T) -> T {
            var result: T? = nil
            read { result = body($0) }
            return result!
        }
        self.init(
            clientForPhone: { phone in value { state in state.holder(ofPhone: phone).map { state.clientID(Int($0)) } } },
            members: { segment in
                value { state in
                    guard state.segmentDefinitions[segment] != nil || state.members(ofSegment: segment) != nil
                            || segment.hasPrefix("rfm:") || segment.hasPrefix("lifetime:") else { return nil }
                    // A segment kept up to date: its recorded membership (what the cards show).
                    if state.isKeptUpToDate(segment) { return .success(state.members(ofSegment: segment) ?? []) }
                    return Result { () throws(SegmentError) in
                        Set(try SegmentQuery.members(segment, state: state, asOf: SegmentQuery.now(state)).clients.map(\.rawValue))
                    }
                }
            },
            displayName: { id in value { state in state.clientIndex(id).map { state.displayName(Int($0)) } } },
            positions: { id, before, limit, after in value { $0.eventPositions(of: id, before: before, limit: limit, after: after) } },
            named: { name, context in value { $0.namedEventPositions(name: name, context: context) } },
            kinds: { wanted, top, start, newestFirst in
                value { state in
                    newestFirst ? state.eventKinds.newestMatch(wanted, below: top, from: start) : state.eventKinds.oldestMatch(wanted, from: start)
                }
            })
    }
}

/// Answers a ``JournalQuery``. A query for one client (by id or phone) walks that client's
/// events through the ``ClientEvents`` index, newest first, reading only those records; any
/// with a name or context value reads the events the ``NamedEventIndex`` lists; any other reads
/// the log from the first position the period allows (the log's time index) to where the query
/// stands, skipping the blocks of positions the ``EventKindBlocks`` index says hold none of the
/// types or categories asked for, and keeps the rows that pass every filter.
enum JournalScan {
    /// The filters, checked and resolved against the state once.
    struct Filters {
        var clientKey: [UInt8]?
        var members: Set<String>?
        var codes: Set<UInt32>?
        var categories: Set<Category>
        /// The types a row may have (from `codes` or `categories`): the blocks to read.
        var kinds: KindSet?
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
            // Nothing after the period is read (timestamps never go down in a log).
            if let to = query.to, to.microsecondsSince1970 < .max {
                upper = min(upper, try reader.position(atOrAfterTimestamp: to.microsecondsSince1970 + 1))
            }
        } catch {
            throw JournalError(code: "log_failed", message: "the log could not be read: \(error)")
        }
        if let cursor = query.cursor {
            if query.order == .oldestFirst {
                start = max(start, cursor.position == .max ? .max : cursor.position + 1)
            } else {
                upper = min(upper, cursor.position)
            }
        }
        if let key = filters.clientKey {
            let kept = try byClient(String(decoding: key, as: UTF8.self), query, filters, start: start, upper: upper, reader: reader, lookup: lookup)
            return page(kept, query, lookup: lookup)
        }
        if filters.name != nil || !filters.context.isEmpty {
            let keys = filters.context.map { NamedEventIndex.contextKey($0.key, $0.value) }
            // A date value is indexed as its ISO text: a value that parses as a time but is not
            // written so is looked up by reading (the general path below).
            if filters.context.allSatisfy({ Time.parse($0.value).map(Time.iso) ?? $0.value == $0.value }) {
                let candidates = lookup.named(filters.name, keys).filter { $0 >= start && $0 < upper }
                return page(try byList(candidates, query, filters, reader: reader), query, lookup: lookup)
            }
        }
        if query.order == .newestFirst {
            return page(try backwards(query, filters, start: start, upper: upper, reader: reader, lookup: lookup), query, lookup: lookup)
        }
        return page(try forwards(query, filters, start: start, upper: upper, reader: reader, lookup: lookup), query, lookup: lookup)
    }

    /// Oldest first with no list to go by: the first limit + 1 matches (one more says whether a
    /// next page exists), read forwards a batch at a time, jumping over the blocks that hold
    /// none of the types asked for.
    static func forwards(_ query: JournalQuery, _ filters: Filters, start: UInt64, upper: UInt64,
                         reader: LogReader, lookup: JournalLookup) throws(JournalError) -> [LogRecord] {
        var kept: [LogRecord] = []
        var from = start
        do {
            while from < upper && kept.count <= query.limit {
                if let kinds = filters.kinds {
                    guard let next = lookup.kinds(kinds, upper, from, false), next < upper else { break }
                    from = next
                }
                var reached = from
                _ = try reader.scanBatches(from: from) { batch in
                    for record in batch where record.position >= from {
                        if record.position >= upper || filters.to.map({ record.timestamp > $0 }) == true {
                            reached = .max
                            return false
                        }
                        reached = record.position + 1
                        if matches(record, filters) {
                            kept.append(record.owned())
                            if kept.count > query.limit { return false }
                        }
                    }
                    // With the index, look for the next block again after each batch.
                    return filters.kinds == nil
                }
                if reached <= from { break }   // the log's end
                from = reached
            }
        } catch {
            throw JournalError(code: "log_failed", message: "the log could not be read: \(error)")
        }
        return kept
    }

    /// Newest first with no index to go by: the log read backwards a batch's stretch at a time
    /// (each stretch forwards, from the start of the batch before the last one read), until a
    /// page and one more are found or the period's start is reached: a frequent category's
    /// first page reads a batch or two, however long the period.
    static func backwards(_ query: JournalQuery, _ filters: Filters, start: UInt64, upper: UInt64,
                          reader: LogReader, lookup: JournalLookup) throws(JournalError) -> [LogRecord] {
        var kept: [LogRecord] = []
        var top = upper
        do {
            while top > start && kept.count <= query.limit {
                if let kinds = filters.kinds {
                    guard let end = lookup.kinds(kinds, top, start, true) else { break }
                    top = end
                }
                let bottom = max(start, reader.batchStart(before: top))
                var stretch: [LogRecord] = []
                _ = try reader.scan(from: bottom) { record in
                    if record.position >= top { return false }
                    if matches(record, filters) { stretch.append(record.owned()) }
                    return true
                }
                kept += stretch.reversed()
                top = bottom
            }
        } catch {
            throw JournalError(code: "log_failed", message: "the log could not be read: \(error)")
        }
        return Array(kept.prefix(query.limit + 1))
    }

    /// The rows of one client: its positions from the index, newest first (or, oldest first,
    /// all of them from `start` on, reversed), each record read and checked against the other
    /// filters, until a page and one more are found.
    static func byClient(_ client: String, _ query: JournalQuery, _ filters: Filters, start: UInt64, upper: UInt64,
                         reader: LogReader, lookup: JournalLookup) throws(JournalError) -> [LogRecord] {
        // A cursor of this client's query names one of its events: the walk starts there rather
        // than at its newest (checked: a cursor of another query is not trusted).
        var after: UInt64? = nil
        if query.order == .newestFirst, let cursor = query.cursor {
            let record = try? reader.record(at: cursor.position)
            if let record, record.streamKey.elementsEqual(client.utf8) { after = cursor.position }
        }
        var kept: [LogRecord] = []
        var before = upper
        if query.order == .newestFirst {
            let chunk = query.limit + 1
            while true {
                let positions = lookup.positions(client, before, chunk, after)
                let inPeriod = positions.prefix { $0 >= start }
                guard try keep(inPeriod, query, filters, reader: reader, into: &kept), inPeriod.count == chunk, let last = positions.last else { return kept }
                before = last
                after = last
            }
        }
        // Oldest first: every position from the period's start, then a page and one more at a time.
        var all: [UInt64] = []
        while true {
            let positions = lookup.positions(client, before, 4096, after)
            all += positions.prefix { $0 >= start }
            guard positions.count == 4096, let last = positions.last, last >= start else { break }
            before = last
            after = last
        }
        return try byList(all.reversed(), query, filters, reader: reader)
    }

    /// The rows among `candidates` (ascending positions an index gave): read a page and one
    /// more at a time, in the query's order, each checked against every filter.
    static func byList(_ candidates: [UInt64], _ query: JournalQuery, _ filters: Filters, reader: LogReader) throws(JournalError) -> [LogRecord] {
        var kept: [LogRecord] = []
        var rest = query.order == .newestFirst ? Array(candidates.reversed())[...] : candidates[...]
        while !rest.isEmpty {
            let run = rest.prefix(query.limit + 1)
            rest = rest.dropFirst(run.count)
            guard try keep(run, query, filters, reader: reader, into: &kept) else { break }
        }
        return kept
    }

    /// Reads the records of `run` (each batch once) and keeps, in the run's order, those that
    /// pass every filter; false once a page and one more are kept.
    static func keep(_ run: some Collection<UInt64>, _ query: JournalQuery, _ filters: Filters, reader: LogReader,
                     into kept: inout [LogRecord]) throws(JournalError) -> Bool {
        let fetched: [UInt64: LogRecord]
        do { fetched = try reader.records(at: Array(run)) } catch {
            throw JournalError(code: "log_failed", message: "the log could not be read: \(error)")
        }
        for p in run {
            guard let record = fetched[p] else { continue }
            if let to = filters.to, record.timestamp > to { continue }
            let pass = record.streamKey.withUnsafeBytes { key in
                record.body.withUnsafeBytes { body in matches(typeCode: record.typeCode, streamKey: key, body: body, filters) }
            }
            if pass { kept.append(record) }
            if kept.count > query.limit { return false }
        }
        return true
    }

    /// The page of `ordered` rows (one more than the limit when there is a next page).
    static func page(_ records: [LogRecord], _ query: JournalQuery, lookup: JournalLookup) -> JournalPage {
        var ordered = records
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
            filters.kinds = KindSet(codes)
        } else if !query.categories.isEmpty {
            filters.kinds = KindSet(EventKind.allCases.filter { query.categories.contains($0.category) }.map(\.rawValue))
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
            guard let found = lookup.members(segment) else {
                throw JournalError(code: "unknown_segment", message: "segment: no segment is named '\(segment)'")
            }
            let members: Set<String>
            switch found {
            case .success(let set): members = set
            case .failure(let error): throw JournalError(code: error.code, message: "segment: \(error.message)")
            }
            filters.members = members
            if members.isEmpty { filters.nobody = true }
        }
        return filters
    }

    static func matches(_ record: RecordView, _ f: Filters) -> Bool {
        matches(typeCode: record.typeCode, streamKey: record.streamKey, body: record.body, f)
    }

    static func matches(typeCode: UInt32, streamKey: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer, _ f: Filters) -> Bool {
        if let key = f.clientKey, !streamKey.elementsEqual(key) { return false }
        if let members = f.members, !members.contains(String(decoding: streamKey, as: UTF8.self)) { return false }
        if let codes = f.codes, !codes.contains(typeCode) { return false }
        guard let kind = EventKind(rawValue: typeCode) else { return false }
        let needsEvent = kind == .operationRefused && !f.categories.isEmpty || f.name != nil || !f.context.isEmpty
        let event = needsEvent ? try? EventCodec.decode(typeCode: typeCode, body).event : nil
        if !f.categories.isEmpty && !f.categories.contains(category(kind, event)) { return false }
        guard f.name != nil || !f.context.isEmpty else { return true }
        switch event {
        case .custom(let named)?, .system(let named)?: return matches(named, f)
        default: return false
        }
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
        let lookup = JournalLookup(reading: { body in self.read { body($0) } })
        return try JournalScan.run(query, reader: reader, end: reader.snapshot.endPosition, lookup: lookup)
    }
}

extension LedgerView {
    /// A page of the journal as the view stands (events appended since are not in it).
    public func journal(_ query: JournalQuery) throws(JournalError) -> JournalPage {
        let state = self.state
        return try JournalScan.run(query, reader: LogReader(snapshot: snapshot), end: position, lookup: JournalLookup(reading: { $0(state) }))
    }
}
