/// A JSON value, parsed strictly (RFC 8259): integers that fit are kept exact.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.integer(let x), .integer(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields.first { $0.0 == key }?.1 }
        return nil
    }

    /// Compact JSON text (object keys in their order).
    public var text: String {
        var out = ""
        write(into: &out)
        return out
    }

    public func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .number(let d): out += d.isFinite ? (d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)) : "null"
        case .string(let s): JSONValue.quote(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(into: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out += "," }
                JSONValue.quote(key, into: &out)
                out += ":"
                value.write(into: &out)
            }
            out += "}"
        }
    }

    public static func quote(_ s: String, into out: inout String) {
        out += "\""
        // Most strings need no escape: they go in whole.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out += s
            out += "\""
            return
        }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

/// Why a JSON text did not parse, and the byte offset where.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "bad JSON at byte \(offset + 1): \(reason)" }
}

/// A strict JSON parser: one value, nothing after it but white space, nesting at most 64 deep.
/// It reads UTF-8 bytes in place: a string without escapes becomes a `String` straight from
/// its bytes, an integer is read without an intermediate text, and the bytes of every string
/// are checked to be UTF-8 (outside strings only JSON's ASCII syntax is allowed), so that a
/// line read from a file needs no separate check.
public struct JSONParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var i = 0
    private var depth = 0
    private static let depthMax = 64

    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        var text = text
        var result: Result<JSONValue, JSONError>!
        text.withUTF8 { utf8 in result = Result { () throws(JSONError) in try parse(utf8: utf8) } }
        return try result.get()
    }

    /// Parses bytes that need not be valid UTF-8: a string that is not is an error at the
    /// offset of its first bad byte.
    public static func parse(utf8 bytes: UnsafeBufferPointer<UInt8>) throws(JSONError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        parser.skipSpace()
        let value = try parser.value()
        parser.skipSpace()
        guard parser.i == bytes.count else { throw JSONError(offset: parser.i, reason: "unexpected text after the value") }
        return value
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    @inline(__always)
    private mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private func fail(_ reason: String) -> JSONError { JSONError(offset: i, reason: reason) }

    private mutating func value() throws(JSONError) -> JSONValue {
        guard i < bytes.count else { throw fail("the text ends where a value must be") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("unexpected character \(describeCharacter(at: i))")
        }
    }

    /// The character at `offset` for a message: quoted when it is one, else its bytes in hex.
    private func describeCharacter(at offset: Int) -> String {
        let length = UTF8Check.sequenceLength(bytes, at: offset)
        guard length > 0 else { return "byte 0x" + String(bytes[offset], radix: 16, uppercase: true) + " (not UTF-8)" }
        return "'" + Printable.escaped(String(decoding: UnsafeBufferPointer(rebasing: bytes[offset..<(offset + length)]), as: UTF8.self)) + "'"
    }

    private mutating func literal(_ word: StaticString) throws(JSONError) {
        let utf8 = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for byte in utf8 {
            guard i < bytes.count, bytes[i] == byte else { throw fail("expected \(word)") }
            i += 1
        }
    }

    private mutating func object() throws(JSONError) -> JSONValue {
        depth += 1
        guard depth <= Self.depthMax else { throw fail("nested more than \(Self.depthMax) deep") }
        defer { depth -= 1 }
        i += 1
        var fields: [(String, JSONValue)] = []
        skipSpace()
        if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; return .object(fields) }
        fields.reserveCapacity(8)
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a quoted key") }
            let key = try string()
            let length = key.utf8.count
            if fields.contains(where: { $0.0.utf8.count == length && $0.0 == key }) { throw fail("the key \"\(key)\" appears twice") }
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after a key") }
            i += 1
            skipSpace()
            fields.append((key, try value()))
            skipSpace()
            guard i < bytes.count else { throw fail("the object is not closed") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(fields) }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func array() throws(JSONError) -> JSONValue {
        depth += 1
        guard depth <= Self.depthMax else { throw fail("nested more than \(Self.depthMax) deep") }
        defer { depth -= 1 }
        i += 1
        var items: [JSONValue] = []
        skipSpace()
        if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value())
            skipSpace()
            guard i < bytes.count else { throw fail("the array is not closed") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func hex4() throws(JSONError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("a \\u escape is cut short") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 65...70: d = UInt32(c - 55)
            case 97...102: d = UInt32(c - 87)
            default: throw fail("bad hex digit in a \\u escape")
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }

    /// A string from its opening quote. Most have no escape: their bytes become the string
    /// as they are, after a UTF-8 check only when one is not ASCII.
    private mutating func string() throws(JSONError) -> String {
        i += 1
        let start = i
        var high: UInt8 = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                try checkUTF8(start..<i, nonASCII: high >= 0x80)
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                i += 1
                return text
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw fail("a control character inside a string must be escaped") }
            high |= c
            i += 1
        }
        guard i < bytes.count else { throw fail("the string is not closed") }
        try checkUTF8(start..<i, nonASCII: high >= 0x80)
        return try escapedString(from: start)
    }

    private func checkUTF8(_ range: Range<Int>, nonASCII: Bool) throws(JSONError) {
        guard nonASCII, let bad = UTF8Check.firstInvalid(bytes, range) else { return }
        throw JSONError(offset: bad, reason: "the string is not valid UTF-8")
    }

    /// The rest of a string with escapes: bytes from `start` up to `i` (a backslash) are
    /// plain and checked already.
    private mutating func escapedString(from start: Int) throws(JSONError) -> String {
        var out = Array(UnsafeBufferPointer(rebasing: bytes[start..<i]))
        while true {
            let plain = i
            var high: UInt8 = 0
            while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\") {
                if bytes[i] < 0x20 { throw fail("a control character inside a string must be escaped") }
                high |= bytes[i]
                i += 1
            }
            guard i < bytes.count else { throw fail("the string is not closed") }
            try checkUTF8(plain..<i, nonASCII: high >= 0x80)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[plain..<i]))
            if bytes[i] == UInt8(ascii: "\"") { i += 1; break }
            i += 1
            guard i < bytes.count else { throw fail("an escape is cut short") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else { throw fail("a lone high surrogate") }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("a high surrogate without its low one") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("a lone low surrogate")
                }
                out.append(contentsOf: UTF8.encode(Unicode.Scalar(scalar)!)!)
            default: throw fail("unknown escape \(describeEscape(at: i - 1))")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private func describeEscape(at offset: Int) -> String {
        let length = UTF8Check.sequenceLength(bytes, at: offset)
        guard length > 0 else { return "\\ followed by byte 0x" + String(bytes[offset], radix: 16, uppercase: true) }
        return "\\" + String(decoding: UnsafeBufferPointer(rebasing: bytes[offset..<(offset + length)]), as: UTF8.self)
    }

    private mutating func number() throws(JSONError) -> JSONValue {
        let start = i
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard i < bytes.count, (48...57).contains(bytes[i]) else { throw fail("a number needs digits") }
        let digitsStart = i
        if bytes[i] == 48 {
            i += 1
            if i < bytes.count, (48...57).contains(bytes[i]) { throw fail("a number cannot start with 0") }
        } else {
            while i < bytes.count, (48...57).contains(bytes[i]) { i += 1 }
        }
        let digitsEnd = i
        var integral = true
        if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard i < bytes.count, (48...57).contains(bytes[i]) else { throw fail("digits must follow '.'") }
            while i < bytes.count, (48...57).contains(bytes[i]) { i += 1 }
        }
        if i < bytes.count && (bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
            integral = false
            i += 1
            if i < bytes.count && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < bytes.count, (48...57).contains(bytes[i]) else { throw fail("digits must follow the exponent") }
            while i < bytes.count, (48...57).contains(bytes[i]) { i += 1 }
        }
        // Up to 18 digits always fit an Int64: read them directly.
        if integral && digitsEnd - digitsStart <= 18 {
            var magnitude: Int64 = 0
            for k in digitsStart..<digitsEnd { magnitude = magnitude * 10 + Int64(bytes[k] - 48) }
            return .integer(negative ? -magnitude : magnitude)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        if integral, let exact = Int64(text) { return .integer(exact) }
        guard let double = Double(text), double.isFinite else { throw JSONError(offset: start, reason: "the number \(text) is out of range") }
        return .number(double)
    }
}

/// UTF-8 well-formedness (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
enum UTF8Check {
    /// The offset of the first byte in `range` that does not begin or continue a well-formed
    /// sequence, or nil when all of `range` is UTF-8.
    static func firstInvalid(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        var k = range.lowerBound
        while k < range.upperBound {
            if bytes[k] < 0x80 { k += 1; continue }
            let length = sequenceLength(bytes, at: k, end: range.upperBound)
            guard length > 0 else { return k }
            k += length
        }
        return nil
    }

    /// Whether all of `bytes` is UTF-8.
    static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool { firstInvalid(bytes, 0..<bytes.count) == nil }

    /// The length of the well-formed sequence at `offset` (1 to 4), or 0 when there is none.
    static func sequenceLength(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int, end: Int? = nil) -> Int {
        let end = end ?? bytes.count
        let lead = bytes[offset]
        if lead < 0x80 { return 1 }
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF  // the range of the second byte
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return 0
        }
        guard offset + length <= end, (low...high).contains(bytes[offset + 1]) else { return 0 }
        for k in (offset + 2)..<(offset + length) where bytes[k] & 0xC0 != 0x80 { return 0 }
        return length
    }
}
