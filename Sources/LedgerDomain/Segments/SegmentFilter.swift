/// One filter of a segment, as interface.md's filters file gives it:
/// `{"field","op","values":[…],"exclude":false}`, with `event` and `withinDays` for
/// `eventTimes` and an optional `kind` (`manual`, `automatic`) for `mailingReceived`.
/// A segment's filters combine with AND, the values of one filter with OR; an excluding filter
/// keeps the clients it does not match.
public struct SegmentFilter: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case text(String)
        case number(Int64)
        /// A day (days since 1970-01-01, UTC).
        case day(Int64)
        case flag(Bool)
    }

    public var field: FilterField
    public var op: FilterOperator
    public var values: [Value]
    public var exclude: Bool = false
    /// `eventTimes`: the custom event counted, and the days it looks back (0: today only).
    public var event: String? = nil
    public var withinDays: Int64? = nil
    /// `mailingReceived`: only mailings of this kind (nil: either).
    public var kind: MailingKind? = nil

    public init(field: FilterField, op: FilterOperator, values: [Value], exclude: Bool = false) {
        self.field = field; self.op = op; self.values = values; self.exclude = exclude
    }
}

/// A filters file that cannot be used, naming the filter (from 1) and what is wrong with it.
public struct FilterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The filter's place in the list, from 1 (0: the list itself).
    public var filter: Int
    /// The key or field at fault.
    public var field: String
    public var reason: String
    public var description: String { filter == 0 ? "filters: \(reason)" : "filter \(filter) (\(field)): \(reason)" }
}

extension SegmentFilter {
    static let keys: Set<String> = ["field", "op", "values", "exclude", "event", "withinDays", "kind"]

    /// Parses a filters file's JSON text, checking every filter against the catalog.
    public static func parseList(_ text: String) throws(FilterError) -> [SegmentFilter] {
        let json: JSONValue
        do throws(JSONError) { json = try JSONParser.parse(text) } catch {
            throw FilterError(filter: 0, field: "", reason: error.description)
        }
        guard case .array(let items) = json else { throw FilterError(filter: 0, field: "", reason: "must be a JSON array of filters") }
        var filters: [SegmentFilter] = []
        for (k, item) in items.enumerated() { filters.append(try parse(item, number: k + 1)) }
        return filters
    }

    /// One filter, the `number`-th of its list.
    public static func parse(_ json: JSONValue, number: Int) throws(FilterError) -> SegmentFilter {
        func fail(_ field: String, _ reason: String) -> FilterError { FilterError(filter: number, field: field, reason: reason) }
        guard case .object(let pairs) = json else { throw fail("", "must be a JSON object") }
        var seen = Set<String>()
        for (key, _) in pairs {
            guard keys.contains(key) else { throw fail(key, "unknown key '\(key)' (a filter has \(keys.sorted().joined(separator: ", ")))") }
            guard seen.insert(key).inserted else { throw fail(key, "'\(key)' given twice") }
        }
        let object = Dictionary(pairs, uniquingKeysWith: { a, _ in a })
        guard case .string(let name)? = object["field"] else { throw fail("field", "missing or not a string") }
        guard let field = FilterField(rawValue: name) else { throw fail(name, "unknown field '\(name)' (the catalog: the Segment filters article)") }
        guard case .string(let opName)? = object["op"] else { throw fail(name, "op: missing or not a string") }
        guard let op = FilterOperator(rawValue: opName) else {
            throw fail(name, "op: unknown operator '\(opName)' (\(FilterOperator.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard field.operators.contains(op) else {
            throw fail(name, "op: '\(opName)' does not apply to \(name) (it takes \(field.operators.map(\.rawValue).joined(separator: ", ")))")
        }
        guard case .array(let raw)? = object["values"] else { throw fail(name, "values: missing or not an array") }
        let expected: ClosedRange<Int> = switch op {
        case .between: 2...2
        case .eq, .gte, .lte: 1...1
        case .in, .contains: 1...10_000
        }
        guard expected.contains(raw.count) else {
            let want = expected.lowerBound == expected.upperBound ? "\(expected.lowerBound)" : "at least \(expected.lowerBound)"
            throw fail(name, "values: '\(opName)' takes \(want), got \(raw.count)")
        }
        var filter = SegmentFilter(field: field, op: op, values: [])
        for (k, value) in raw.enumerated() { filter.values.append(try Self.value(value, field, fail: { fail(name, "values[\(k)]: \($0)") })) }
        if op == .between, let a = filter.values[0].number, let b = filter.values[1].number, a > b {
            throw fail(name, "values: between \(a) and \(b): the first is above the second")
        }
        if op == .between, case .day(let a) = filter.values[0], case .day(let b) = filter.values[1], a > b, field != .birthday {
            throw fail(name, "values: between \(Time.isoDate(day: a)) and \(Time.isoDate(day: b)): the first is after the second")
        }
        switch object["exclude"] {
        case nil: break
        case .bool(let b)?: filter.exclude = b
        default: throw fail(name, "exclude: must be true or false")
        }
        try parameters(&filter, object, fail: { fail(name, $0) })
        return filter
    }

    private static func parameters(_ filter: inout SegmentFilter, _ object: [String: JSONValue], fail: (String) -> FilterError) throws(FilterError) {
        let allowed = filter.field.parameters
        for key in ["event", "withinDays", "kind"] where object[key] != nil && !allowed.contains(where: { $0.key == key }) {
            throw fail("\(key): \(filter.field.rawValue) takes no '\(key)'")
        }
        for (key, required) in allowed where required && object[key] == nil { throw fail("\(key): missing (\(filter.field.rawValue) needs it)") }
        switch object["event"] {
        case nil: break
        case .string(let s)? where !s.isEmpty: filter.event = s
        default: throw fail("event: must be an event name")
        }
        switch object["withinDays"] {
        case nil: break
        case .integer(let d)? where (0...36_600).contains(d): filter.withinDays = d
        default: throw fail("withinDays: must be a whole number of days, 0 to 36 600")
        }
        switch object["kind"] {
        case nil: break
        case .string(let s)?:
            guard let kind = MailingKind(rawValue: s) else { throw fail("kind: '\(s)' is not manual or automatic") }
            filter.kind = kind
        default: throw fail("kind: must be manual or automatic")
        }
    }

    /// One value, of the type the field takes.
    private static func value(_ json: JSONValue, _ field: FilterField, fail: (String) -> FilterError) throws(FilterError) -> Value {
        switch field.valueType {
        case .text, .exact, .segment:
            guard case .string(let s) = json, !s.isEmpty else { throw fail("must be a non-empty string") }
            return .text(s)
        case .context:
            guard case .string(let s) = json, let eq = s.firstIndex(of: "="), eq != s.startIndex else {
                throw fail("must be a string 'variable=value'")
            }
            return .text(s)
        case .choice(let names):
            guard case .string(let s) = json, names.contains(s) else { throw fail("must be one of \(names.joined(separator: ", "))") }
            return .text(s)
        case .count, .money, .days:
            guard case .integer(let n) = json, n >= 0, n <= AmountLimits.amountMax else {
                throw fail("must be a whole number from 0 to \(AmountLimits.amountMax)")
            }
            return .number(n)
        case .date:
            guard case .string(let s) = json, s.utf8.count == 10, let midnight = Time.parse(s) else { throw fail("must be a date 'YYYY-MM-DD'") }
            return .day(Time.day(of: midnight))
        case .flag:
            guard case .bool(let b) = json else { throw fail("must be true or false") }
            return .flag(b)
        }
    }
}

extension SegmentFilter.Value {
    var number: Int64? { if case .number(let n) = self { n } else { nil } }
}

extension SegmentFilter {
    /// The segments `filters` name through `memberOf`.
    public static func segmentsNamed(by filters: [SegmentFilter]) -> Set<String> {
        var names = Set<String>()
        for f in filters where f.field == .memberOf {
            for case .text(let name) in f.values { names.insert(name) }
        }
        return names
    }

    /// Refuses a definition of `name` with `filters` that would make a segment contain itself
    /// through `memberOf`, given the other segments' filters (`definitions`, by name).
    public static func checkNoCycle(_ name: String, _ filters: [SegmentFilter], definitions: [String: [SegmentFilter]]) throws(FilterError) {
        var stack: [(String, [String])] = segmentsNamed(by: filters).sorted().map { ($0, [name, $0]) }
        var visited = Set<String>()
        while let (segment, path) = stack.popLast() {
            if segment == name { throw FilterError(filter: 0, field: "memberOf", reason: "a cycle: \(path.joined(separator: " → "))") }
            guard visited.insert(segment).inserted, let inner = definitions[segment] else { continue }
            for next in segmentsNamed(by: inner).sorted() { stack.append((next, path + [next])) }
        }
    }
}

extension LedgerState {
    /// Refuses a segment definition whose filters are not a valid filters file (a definition
    /// built in Swift has not been through the input's check), or that would make a segment
    /// contain itself through `memberOf`, given the segments defined now.
    func checkSegmentDefinition(_ definition: SegmentDefinition) throws {
        let filters: [SegmentFilter]
        do throws(FilterError) { filters = try SegmentFilter.parseList(definition.filters) } catch {
            throw Refuse(.invalidEvent(field: "filters"), message: error.description)
        }
        guard !SegmentFilter.segmentsNamed(by: filters).isEmpty else { return }
        var others: [String: [SegmentFilter]] = [:]
        for (name, other) in segmentDefinitions where name != definition.name {
            others[name] = (try? SegmentFilter.parseList(other.filters)) ?? []
        }
        do throws(FilterError) {
            try SegmentFilter.checkNoCycle(definition.name, filters, definitions: others)
        } catch {
            throw Refuse(.invalidEvent(field: "filters"), message: "filters: \(error.reason)")
        }
    }
}
