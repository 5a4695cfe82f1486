/// The value types a caller hands the ledger and gets back: amounts that know whether they are
/// money or bonuses, a point in time with `Duration` arithmetic, a client's id. Each is a thin
/// wrapper over the integer the log stores (minor units, microseconds since 1970, the id's
/// text), so they cost nothing at run time, and each encodes to the JSON of the contract (an
/// amount as its minor units, a time as ISO 8601 text, an id as its text).

/// The language of text made for people: descriptions, formatted amounts.
public enum Language: String, Sendable, CaseIterable, Codable {
    case russian = "ru", english = "en"
}

/// What an ``Amount`` counts.
public protocol AmountUnit: Sendable {
    /// A short name for messages: `₽`, `bonuses`.
    static var unitName: String { get }
}

/// Roubles: 100 minor units (kopecks) a rouble.
public enum Roubles: AmountUnit { public static let unitName = "₽" }
/// Bonuses: 100 minor units a bonus; a bonus pays off one rouble.
public enum Bonuses: AmountUnit { public static let unitName = "bonuses" }

/// An amount in hundredths of its unit, as the log stores it. `Money(1200)` is 1 200 roubles,
/// `Money(minorUnits: 120_000)` the same; `Bonus(50)` fifty bonuses. Money and bonuses do not
/// mix: adding one to the other does not compile.
///
/// The engine refuses an amount above ``AmountLimits/amountMax`` (10¹² minor units) with
/// `invalid_amount`; building one never traps (a whole part past Int64 saturates, and is then
/// refused).
public struct Amount<Unit: AmountUnit>: Sendable, Hashable, Comparable, Codable, AdditiveArithmetic, CustomStringConvertible {
    /// Hundredths of the unit: kopecks, or hundredths of a bonus.
    public var minorUnits: Int64

    public init(minorUnits: Int64) { self.minorUnits = minorUnits }

    /// `whole` units and `hundredths` of one (`Money(12, hundredths: 50)` is 12,50 ₽).
    public init(_ whole: Int64, hundredths: Int64 = 0) {
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: 100)
        let (sum, overflow2) = scaled.addingReportingOverflow(hundredths)
        minorUnits = overflow || overflow2 ? (whole < 0 ? .min : .max) : sum
    }

    public static var zero: Amount { Amount(minorUnits: 0) }
    public static func + (a: Amount, b: Amount) -> Amount { Amount(minorUnits: a.minorUnits + b.minorUnits) }
    public static func - (a: Amount, b: Amount) -> Amount { Amount(minorUnits: a.minorUnits - b.minorUnits) }
    public static func < (a: Amount, b: Amount) -> Bool { a.minorUnits < b.minorUnits }

    /// `1 250,00` (Russian, as the back office writes it) or `1,250.00` (English).
    public func formatted(_ language: Language = .russian) -> String {
        let russian = Money.format(minorUnits)
        guard language == .english else { return russian }
        return String(russian.map { $0 == "," ? "." : $0 == " " ? "," : $0 })
    }

    /// `1 250,00 ₽`, `50,00 bonuses`: for logs and messages.
    public var description: String { formatted() + " " + Unit.unitName }

    public init(from decoder: any Decoder) throws {
        minorUnits = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(minorUnits)
    }
}

public typealias Money = Amount<Roubles>
public typealias Bonus = Amount<Bonuses>

extension Amount where Unit == Roubles {
    /// Minor units as the back office writes them: `50,00` (1 bonus or rouble = 100 units),
    /// with a space between thousands: `1 250,00`.
    public static func format(_ minor: Int64) -> String {
        // Built from the right as ASCII bytes (a refusal's message has one or two of these).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var magnitude = minor.magnitude
        let cents = magnitude % 100
        bytes.append(UInt8(48 + cents % 10))
        bytes.append(UInt8(48 + cents / 10))
        bytes.append(UInt8(ascii: ","))
        magnitude /= 100
        var digits = 0
        repeat {
            if digits > 0 && digits % 3 == 0 { bytes.append(UInt8(ascii: " ")) }
            bytes.append(UInt8(48 + magnitude % 10))
            magnitude /= 10
            digits += 1
        } while magnitude > 0
        if minor < 0 { bytes.append(UInt8(ascii: "-")) }
        return String(decoding: bytes.reversed(), as: UTF8.self)
    }
}

/// A point in time, to the microsecond the log keeps (UTC). Arithmetic with `Duration`:
/// `t + .seconds(90)`, `later - earlier` is a `Duration`. Written and read as ISO 8601 text
/// (`2025-03-01T10:00:00Z`; a bare date is its midnight). From a Foundation `Date`:
/// `Timestamp(microsecondsSince1970: Int64(date.timeIntervalSince1970 * 1_000_000))`.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var microsecondsSince1970: Micros

    public init(microsecondsSince1970: Micros) { self.microsecondsSince1970 = microsecondsSince1970 }

    /// ISO 8601 text as the JSON input takes it; nil when it is not a time.
    public init?(_ text: String) {
        guard let micros = Time.parse(text) else { return nil }
        microsecondsSince1970 = micros
    }

    /// Midnight (UTC) of a calendar day; nil for a day that does not exist.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), (1...Int(Time.daysInMonth(year: Int64(year), month: Int64(month)))).contains(day) else { return nil }
        microsecondsSince1970 = Time.days(year: Int64(year), month: Int64(month), day: Int64(day)) * Time.microsPerDay
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.microsecondsSince1970 < b.microsecondsSince1970 }

    /// The time `duration` later (earlier when negative); saturates at the ends of Int64,
    /// where the engine refuses it as out of range.
    public static func + (t: Timestamp, duration: Duration) -> Timestamp {
        let extreme = Timestamp(microsecondsSince1970: duration < .zero ? .min : .max)
        guard let micros = micros(duration) else { return extreme }
        let (sum, overflow) = t.microsecondsSince1970.addingReportingOverflow(micros)
        return overflow ? extreme : Timestamp(microsecondsSince1970: sum)
    }

    public static func - (t: Timestamp, duration: Duration) -> Timestamp { t + (.zero - duration) }

    /// How long from `b` to `a`.
    public static func - (a: Timestamp, b: Timestamp) -> Duration {
        .microseconds(a.microsecondsSince1970) - .microseconds(b.microsecondsSince1970)
    }

    /// A duration in whole microseconds (rounded toward zero); nil past Int64.
    static func micros(_ duration: Duration) -> Int64? {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000)
        return overflow || overflow2 ? nil : sum
    }

    /// `2025-03-01T10:00:00Z` (with `.ffffff` when there are microseconds).
    public var description: String { Time.iso(microsecondsSince1970) }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let micros = Time.parse(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an ISO 8601 time (2025-03-01T10:00:00Z or 2025-03-01)")
        }
        microsecondsSince1970 = micros
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A client's id, as the caller's systems name the client (`c1`, a CRM number). A string
/// literal is one: `Command.purchase(client: "c1", …)`.
public struct ClientID: Sendable, Hashable, Comparable, Codable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public static func < (a: ClientID, b: ClientID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
