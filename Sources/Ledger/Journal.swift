import LedgerDomain
import LedgerLog

/// A question to the event journal (domain.md §7): every filter is optional and they combine
/// with AND; a filter of several values (categories, types) matches any of them.
///
/// ```swift
/// var query = JournalQuery()
/// query.phone = "8 916 123-45-67"
/// query.categories = [.bonuses, .purchases]          // "the bonuses did not arrive"
/// let page = try ledger.journal(query)                // newest first, 50 rows
/// let more = try ledger.journal(query.after(page))    // the next page, never a row twice
/// ```
public struct JournalQuery: Sendable, Equatable {
    public enum Order: String, Sendable, Codable, CaseIterable {
        case newestFirst = "desc", oldestFirst = "asc"
    }

    /// A context variable and the value it must have (`k=v`).
    public struct ContextMatch: Sendable, Equatable, Codable {
        public var key: String
        public var value: String
        public init(key: String, value: String) { self.key = key; self.value = value }
    }

    public var client: ClientID?
    /// A phone in any format; the client who holds it now.
    public var phone: String?
    /// The segment's members as of now.
    public var segment: String?
    /// Journal categories (empty: all). An `operation.refused` is in its operation's category.
    public var categories: Set<Category> = []
    /// Event type names (`bonus.accrued`, …; empty: all).
    public var types: Set<String> = []
    /// The name of a custom or system event.
    public var name: String?
    public var context: [ContextMatch] = []
    /// The period, inclusive at both ends (a bare date given to the command is its whole day).
    public var from: Timestamp?
    public var to: Timestamp?
    public var order: Order = .newestFirst
    /// Rows a page, 1 to ``limitMax``.
    public var limit = 50
    /// Where the page starts: the `next` of the page before (nil: the first page).
    public var cursor: JournalCursor?
    /// The language of the rows' descriptions. Russian by default: the back office and the
    /// support staff the journal is for work in Russian (the source documents are its pages).
    public var language: Language = .russian

    public static let limitMax = 10_000

    public init() {}

    /// The same question, from where `page` ended.
    public func after(_ page: JournalPage) -> JournalQuery {
        var next = self
        next.cursor = page.next
        return next
    }
}

/// Where a journal page ends: opaque text to hand back for the next page. It names the last
/// row's position and the order, so that paging stays exact while events are appended: newest
/// first, the next page holds only older rows (new events never push rows over a page
/// boundary); oldest first, new events come at the end.
public struct JournalCursor: Sendable, Equatable, Codable, CustomStringConvertible {
    public let text: String
    let order: JournalQuery.Order
    let position: UInt64

    init(order: JournalQuery.Order, position: UInt64) {
        self.order = order
        self.position = position
        text = "j1" + (order == .newestFirst ? "d" : "a") + String(position, radix: 36)
    }

    /// A cursor from its text; nil when the text is not one.
    public init?(_ text: String) {
        guard text.hasPrefix("j1"), text.count > 3 else { return nil }
        let mark = text[text.index(text.startIndex, offsetBy: 2)]
        guard mark == "d" || mark == "a", let position = UInt64(text.dropFirst(3), radix: 36) else { return nil }
        self.init(order: mark == "d" ? .newestFirst : .oldestFirst, position: position)
    }

    public var description: String { text }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let cursor = JournalCursor(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not a journal cursor")
        }
        self = cursor
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

/// One row of the journal.
public struct JournalRow: Sendable, Equatable {
    public var position: UInt64
    public var at: Timestamp
    /// Nil for events of no client (system events, rules, segment definitions).
    public var client: ClientID?
    /// The client's name, else phone, else `Без имени`, as the ledger knows the client now.
    public var displayName: String?
    public var type: String
    public var category: Category
    /// One line for people, in the query's language.
    public var description: String
    /// Every field of the event (the contract's names).
    public var details: JSONValue
}

/// A page of rows and the cursor of the next (nil: there is no more).
public struct JournalPage: Sendable, Equatable {
    public var rows: [JournalRow]
    public var next: JournalCursor?
}

/// A query the journal cannot answer as asked; `code` is the contract's (`invalid_event` for
/// a filter that names nothing that exists, such as an unknown type).
public struct JournalError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    /// What is wrong, naming the filter.
    public var message: String
    public var description: String { message }
}

extension JournalRow {
    /// The row as `ledger journal --json` prints it.
    public var contractJSON: JSONValue {
        .object([
            ("position", .integer(Int64(clamping: position))), ("at", .string(at.description)),
            ("client", client.map { .string($0.rawValue) } ?? .null), ("displayName", displayName.map(JSONValue.string) ?? .null),
            ("type", .string(type)), ("category", .string(category.rawValue)), ("description", .string(description)), ("details", details),
        ])
    }
}

extension JournalPage {
    /// The page as `ledger journal --json` prints it.
    public var contractJSON: JSONValue {
        .object([("rows", .array(rows.map(\.contractJSON))), ("next", next.map { .string($0.text) } ?? .null)])
    }
}
