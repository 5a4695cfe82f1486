/// Times in the domain are microseconds since 1970-01-01T00:00:00Z (UTC), as in the log.
public typealias Micros = Int64

public enum Time {
    public static let microsPerSecond: Int64 = 1_000_000
    public static let microsPerDay: Int64 = 86_400 * 1_000_000

    /// Days since 1970-01-01 of a civil date (proleptic Gregorian), Howard Hinnant's algorithm.
    public static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day number.
    public static func civil(days z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The times the engine holds: year 0000 to 9999, what an ISO 8601 text can say. Any rule's
    /// days added to one of them stay far inside Int64.
    public static let supported: ClosedRange<Micros> = days(year: 0, month: 1, day: 1) * microsPerDay...(days(year: 10_000, month: 1, day: 1) * microsPerDay - 1)

    /// The day number a time falls on (UTC).
    public static func day(of time: Micros) -> Int64 {
        time >= 0 ? time / microsPerDay : (time - microsPerDay + 1) / microsPerDay
    }

    /// Parses `2025-03-01T10:00:00Z`, `2025-03-01T10:00:00.250Z`, `2025-03-01T13:00:00+03:00`
    /// or a bare date `2025-03-01` (its midnight UTC). Nil when it is none of these.
    public static func parse(_ text: String) -> Micros? {
        let b = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var v: Int64 = 0
            for i in from..<(from + count) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard b.count >= 10, let year = number(0, 4), b[4] == 45, let month = number(5, 2), b[7] == 45, let day = number(8, 2),
              (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month) else { return nil }
        var micros = days(year: year, month: month, day: day) * microsPerDay
        if b.count == 10 { return micros }
        guard b.count >= 20, b[10] == 84 || b[10] == 116 || b[10] == 32, let hour = number(11, 2), b[13] == 58, let minute = number(14, 2),
              b[16] == 58, let second = number(17, 2), hour < 24, minute < 60, second < 61 else { return nil }
        micros += ((hour * 60 + minute) * 60 + second) * microsPerSecond
        var i = 19
        if i < b.count && b[i] == 46 {
            i += 1
            var digits = 0
            var fraction: Int64 = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 6 { fraction = fraction * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            if digits < 6 { for _ in digits..<6 { fraction *= 10 } }
            micros += fraction
        }
        guard i < b.count else { return nil }
        if b[i] == 90 || b[i] == 122 { return i + 1 == b.count ? micros : nil }
        guard b[i] == 43 || b[i] == 45, i + 6 == b.count, let oh = number(i + 1, 2), b[i + 3] == 58, let om = number(i + 4, 2) else { return nil }
        let offset = (oh * 60 + om) * 60 * microsPerSecond
        return b[i] == 43 ? micros - offset : micros + offset
    }

    public static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// `2025-03-01T10:00:00Z` (with `.ffffff` when there are microseconds).
    public static func iso(_ time: Micros) -> String {
        let day = Self.day(of: time)
        let (y, m, d) = civil(days: day)
        var rest = time - day * microsPerDay
        let micros = rest % microsPerSecond
        rest /= microsPerSecond
        var text = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rest / 3600, 2)):\(pad(rest / 60 % 60, 2)):\(pad(rest % 60, 2))"
        if micros != 0 { text += "." + pad(micros, 6) }
        return text + "Z"
    }

    /// `2025-03-01`.
    public static func isoDate(day: Int64) -> String {
        let (y, m, d) = civil(days: day)
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    /// `01.03.2025`, as the back office shows dates.
    public static func russianDate(_ time: Micros) -> String {
        let (y, m, d) = civil(days: day(of: time))
        return "\(pad(d, 2)).\(pad(m, 2)).\(pad(y, 4))"
    }
}

public enum Phone {
    /// The canonical form of a phone number: digits only, with the country code. Russian
    /// numbers written `8 916 …`, `+7 (916) …` or as 10 digits `916…` all become `7916…`.
    /// Spaces, brackets, dashes and dots are ignored. Nil when what is left is not 10–15 digits.
    public static func normalize(_ text: String) -> String? {
        var digits: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case 48...57: digits.append(byte)
            case 32, 40, 41, 45, 46, 43, 9: continue  // space ( ) - . + tab
            default: return nil
            }
        }
        if digits.count == 11 && digits[0] == 56 { digits[0] = 55 }  // 8XXXXXXXXXX → 7XXXXXXXXXX
        if digits.count == 10 && digits[0] == 57 { digits.insert(55, at: 0) }  // 9XXXXXXXXX → 79XXXXXXXXX
        guard (10...15).contains(digits.count) else { return nil }
        return String(decoding: digits, as: UTF8.self)
    }

    /// `+7 (916) 123-45-67` for Russian numbers, `+` and the digits otherwise.
    public static func display(_ normalized: String) -> String {
        let d = Array(normalized)
        guard d.count == 11, d[0] == "7" else { return "+" + normalized }
        return "+7 (\(String(d[1...3]))) \(String(d[4...6]))-\(String(d[7...8]))-\(String(d[9...10]))"
    }
}
