import LedgerStorage
import LedgerBytes

/// The journal's index of custom and system events: their positions by name and by each
/// context value (`k=v`, the value as ``ContextValue/text`` gives it), so that a name or
/// context filter reads only the events that match. About 8 bytes a (name or value) an event;
/// custom and system events are well under 1 % of a program's.
public struct NamedEventIndex: LedgerPart {
    public static let section = SnapshotSection.namedEvents

    /// Positions ascending, by name and by `k=v`.
    public internal(set) var byName: [String: [UInt64]] = [:]
    public internal(set) var byContext: [String: [UInt64]] = [:]

    public init() {}

    /// The key a context variable and value are indexed under.
    public static func contextKey(_ key: String, _ value: String) -> String { key + "=" + value }

    /// The positions of the events with this name (if given) and every one of these context
    /// keys, ascending.
    public func positions(name: String?, context: [String]) -> [UInt64] {
        var lists: [[UInt64]] = []
        if let name { lists.append(byName[name] ?? []) }
        for key in context { lists.append(byContext[key] ?? []) }
        guard let shortest = lists.indices.min(by: { lists[$0].count < lists[$1].count }) else { return [] }
        // Each of the shortest list's positions looked up in the others, which are ascending:
        // a binary search each, no set built of a list that may hold millions.
        var result = lists[shortest]
        for (k, list) in lists.enumerated() where k != shortest {
            result = result.filter { Self.contains(list, $0) }
        }
        return result
    }

    /// Whether the ascending `list` holds `position`.
    static func contains(_ list: [UInt64], _ position: UInt64) -> Bool {
        var low = 0, high = list.count
        while low < high {
            let mid = (low + high) / 2
            if list[mid] < position { low = mid + 1 } else { high = mid }
        }
        return low < list.count && list[low] == position
    }

    public mutating func apply(_ event: borrowing AppliedEvent) {
        guard event.kind == .custom || event.kind == .system else { return }
        var named: NamedEvent? = nil
        switch event.event {
        case .custom(let n)?, .system(let n)?: named = n
        default:
            // The byte-level replay hands the body instead of the event.
            if let body = event.body {
                switch try? EventCodec.decode(typeCode: event.kind.rawValue, body).event {
                case .custom(let n)?, .system(let n)?: named = n
                default: break
                }
            }
        }
        guard let named else { return }
        byName[named.name, default: []].append(event.position)
        var seen: Set<String> = []
        for (key, value) in named.context {
            let k = Self.contextKey(key, value.text)
            if seen.insert(k).inserted { byContext[k, default: []].append(event.position) }
        }
    }

    // MARK: snapshot (data-format.md §13.4, section 15)

    public func write(to e: SectionEncoder) {
        for table in [byName, byContext] {
            let sorted = table.sorted { $0.key < $1.key }
            e.put(UInt64(sorted.count))
            for (key, positions) in sorted {
                e.putText(key)
                e.putArray(positions)
            }
        }
    }

    public init(from d: inout SectionDecoder, clients: Int) throws(SectionError) {
        byName = try Self.table(&d, "names")
        byContext = try Self.table(&d, "context values")
    }

    static func table(_ d: inout SectionDecoder, _ what: String) throws(SectionError) -> [String: [UInt64]] {
        let count = try d.getCount(what, width: 12)
        var table: [String: [UInt64]] = [:]
        var last: String? = nil
        for _ in 0..<count {
            let key = try d.getText("a key of the \(what)")
            let positions = try d.getArray(UInt64.self, "the positions of '\(key)'")
            guard last.map({ $0 < key }) ?? true, !positions.isEmpty, zip(positions, positions.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw SectionError(section.name, "the \(what) are not sorted, or '\(key)' has no positions or positions out of order")
            }
            table[key] = positions
            last = key
        }
        return table
    }

    public func checkInvariants(clients: Int) {
        for table in [byName, byContext] {
            for (key, positions) in table {
                precondition(!positions.isEmpty && zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 }, "named events: '\(key)' out of order")
            }
        }
    }
}
