import Testing
@testable import LedgerDomain

/// The JSON Lines parser reads bytes in place for speed; these properties hold it to the plain
/// reference parser (``ReferenceJSONParser``) and to Swift's own UTF-8 validation.
@Suite("JSON input")
struct JSONTests {
    /// A random JSON value: nested objects and arrays, strings with Russian, astral, escaped and
    /// control characters, integers up to Int64's edges and past them, fractions, exponents.
    static func randomValue(_ r: inout SplitMix, depth: Int = 0) -> JSONValue {
        switch Int.random(in: 0..<(depth < 4 ? 10 : 7), using: &r) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &r))
        case 2: return .integer([0, -1, 7, Int64.max, Int64.min, 999_999_999_999_999_999, -100_000_000_000_000_000,
                                 Int64.random(in: -1_000_000...1_000_000, using: &r)].randomElement(using: &r)!)
        case 3: return .number([0.5, -2.25, 1e300, 3.0e-7, 123456.789, Double.random(in: -1e6...1e6, using: &r)].randomElement(using: &r)!)
        case 4, 5, 6: return .string(randomString(&r))
        case 7: return .array((0..<Int.random(in: 0...4, using: &r)).map { _ in randomValue(&r, depth: depth + 1) })
        default:
            var fields: [(String, JSONValue)] = []
            for k in 0..<Int.random(in: 0...5, using: &r) {
                fields.append(("\(randomString(&r))#\(k)", randomValue(&r, depth: depth + 1)))  // keys unique
            }
            return .object(fields)
        }
    }

    static let pieces: [String] = ["a", "type", "client", "Анна", "Ё", "€", "😀", "\u{10FFFF}", "\"", "\\", "/", "\n", "\t",
                                   "\u{01}", "\u{1F}", " ", "0", "{", "}", "\u{FEFF}", "e\u{301}"]

    static func randomString(_ r: inout SplitMix) -> String {
        (0..<Int.random(in: 0...6, using: &r)).map { _ in pieces.randomElement(using: &r)! }.joined()
    }

    /// The value's text with random white space and random (but valid) escapes.
    static func render(_ value: JSONValue, _ r: inout SplitMix, into out: inout String) {
        func space() { if Int.random(in: 0..<4, using: &r) == 0 { out += [" ", "\n", "\t", "\r\n", "  "].randomElement(using: &r)! } }
        space()
        switch value {
        case .string(let s): quote(s, &r, into: &out)
        case .number(let d): out += Bool.random(using: &r) ? String(d) : String(d).uppercased()
        case .array(let items):
            out += "["
            for (k, item) in items.enumerated() {
                if k > 0 { out += "," }
                render(item, &r, into: &out)
            }
            space()
            out += "]"
        case .object(let fields):
            out += "{"
            for (k, (key, item)) in fields.enumerated() {
                if k > 0 { out += "," }
                space()
                quote(key, &r, into: &out)
                space()
                out += ":"
                render(item, &r, into: &out)
            }
            space()
            out += "}"
        default: value.write(into: &out)
        }
        space()
    }

    static func quote(_ s: String, _ r: inout SplitMix, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            let escape = scalar.value < 0x20 || scalar == "\"" || scalar == "\\" || Int.random(in: 0..<5, using: &r) == 0
            guard escape else { out.unicodeScalars.append(scalar); continue }
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/": out += Bool.random(using: &r) ? "\\/" : "/"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                for unit in String(scalar).utf16 {
                    let hex = String(unit, radix: 16, uppercase: Bool.random(using: &r))
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            }
        }
        out += "\""
    }

    /// Mutates a text scalar by scalar (so that it stays a valid String): deletions,
    /// insertions of syntax and awkward characters, truncations, repeats.
    static func mutate(_ text: String, _ r: inout SplitMix) -> String {
        var scalars = Array(text.unicodeScalars)
        let alphabet: [Unicode.Scalar] = ["{", "}", "[", "]", "\"", "\\", ":", ",", " ", "0", "9", "-", "+", ".", "e", "E", "u",
                                          "t", "n", "f", "x", "ы", "😀", "\n", "\u{01}", "/", "D", "8"]
        for _ in 0..<Int.random(in: 1...3, using: &r) {
            let at = Int.random(in: 0...scalars.count, using: &r)
            switch Int.random(in: 0..<5, using: &r) {
            case 0 where at < scalars.count: scalars.remove(at: at)
            case 1: scalars.insert(alphabet.randomElement(using: &r)!, at: at)
            case 2 where at < scalars.count: scalars[at] = alphabet.randomElement(using: &r)!
            case 3: scalars.removeSubrange(at...)
            default:
                let end = min(scalars.count, at + Int.random(in: 1...8, using: &r))
                scalars.insert(contentsOf: scalars[at..<end], at: at)
            }
        }
        var out = ""
        out.unicodeScalars.append(contentsOf: scalars)
        return out
    }

    /// Both parsers give the same value, or fail at the same offset for the same reason. (Two
    /// differences by design: a non-ASCII character where syntax must be is now named whole,
    /// where the reference named its first byte as if it were Latin-1; and a character that
    /// does not print is named escaped, `'\u{1}'`, where the reference showed it raw.)
    static func checkAgreement(_ text: String) {
        let fast = Result { () throws(JSONError) in try JSONParser.parse(text) }
        let reference = Result { () throws(JSONError) in try ReferenceJSONParser.parse(text) }
        switch (fast, reference) {
        case (.success(let a), .success(let b)):
            #expect(a == b, "\(text)")
        case (.failure(let a), .failure(let b)):
            #expect(a.offset == b.offset, "\(text): \(a) against \(b)")
            guard a.reason != b.reason else { return }
            if a.reason.hasPrefix("unexpected character"), a.reason.contains("\\"), bytes(at: a.offset, of: text).map({ $0 < 0x20 || $0 == 0x7F }) == true {
                return
            }
            let bytes = Array(text.utf8)
            let named = [("unexpected character", a.offset), ("unknown escape", a.offset - 1)].first { a.reason.hasPrefix($0.0) && b.reason.hasPrefix($0.0) }
            #expect(named.map { bytes[$0.1] >= 0x80 } == true, "\(text): \(a) against \(b)")
        default:
            Issue.record("\(text): \(fast) against \(reference)")
        }
    }

    static func bytes(at offset: Int, of text: String) -> UInt8? {
        let utf8 = Array(text.utf8)
        return offset < utf8.count ? utf8[offset] : nil
    }

    @Test("the parser agrees with the reference parser on random JSON texts and on mutations of them")
    func agreesWithReference() {
        var r = SplitMix(state: 20_261_124)
        for _ in 0..<(3000 * soak) {
            var text = ""
            Self.render(Self.randomValue(&r), &r, into: &text)
            Self.checkAgreement(text)
            for _ in 0..<3 { Self.checkAgreement(Self.mutate(text, &r)) }
        }
    }

    @Test("the parser agrees with the reference parser on mutated command lines")
    func agreesOnCommandLines() {
        var r = SplitMix(state: 7)
        for step in 0..<(2000 * soak) {
            let line = PropertyTests.randomLine(&r, step, policy: "proportional")
            Self.checkAgreement(line)
            Self.checkAgreement(Self.mutate(line, &r))
        }
    }

    /// The length of the longest prefix of `bytes` that Swift accepts as UTF-8, which is where
    /// the first ill-formed sequence begins.
    static func validPrefix(_ bytes: [UInt8]) -> Int {
        (0...bytes.count).last { String(validating: bytes[0..<$0], as: UTF8.self) != nil }!
    }

    @Test("bytes that are not UTF-8 are refused, naming the first bad byte; bytes accepted are UTF-8 and parse as their text does")
    func bytesInPlace() {
        var r = SplitMix(state: 99)
        let awkward: [[UInt8]] = [[0x80], [0xBF], [0xC0, 0xAF], [0xC1, 0x81], [0xC2], [0xE0, 0x80, 0xAF], [0xE0, 0xA0], [0xED, 0xA0, 0x80],
                                  [0xEF, 0xBF, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF],
                                  [0xD0, 0xB0], [0xF0, 0x9F, 0x98, 0x80], [0x00], [0x0A]]
        for step in 0..<(3000 * soak) {
            var bytes = Array(PropertyTests.randomLine(&r, step, policy: "unlimited").utf8)
            for _ in 0..<Int.random(in: 0...2, using: &r) {
                bytes.insert(contentsOf: awkward.randomElement(using: &r)!, at: Int.random(in: 0...bytes.count, using: &r))
            }
            let text = String(validating: bytes, as: UTF8.self)
            let parsed = bytes.withUnsafeBufferPointer { buffer in Result { () throws(JSONError) in try JSONParser.parse(utf8: buffer) } }
            let command = bytes.withUnsafeBufferPointer { buffer in Result { () throws(InvalidInput) in try CommandParser.parse(utf8: buffer, number: 5) } }
            bytes.withUnsafeBufferPointer { #expect(UTF8Check.isValid($0) == (text != nil)) }
            if let text {
                #expect(parsed == Result { () throws(JSONError) in try JSONParser.parse(text) }, "\(text)")
                if case .failure(let error) = command { #expect(!error.reason.contains("UTF-8")) }
            } else {
                #expect(throws: JSONError.self, "\(bytes)") { try parsed.get() }
                #expect(throws: InvalidInput.self) { try command.get() }
                if case .failure(let error) = command {
                    #expect(error.reason == "the line is not valid UTF-8 (byte \(Self.validPrefix(bytes) + 1))")
                    #expect(error.line == 5)
                }
            }
        }
    }

    @Test("UTF-8 is checked as Swift checks it: overlong forms, surrogates and values past U+10FFFF are refused")
    func utf8Check() {
        var r = SplitMix(state: 3)
        for _ in 0..<(20_000 * soak) {
            let bytes = (0..<Int.random(in: 0...6, using: &r)).map { _ in
                Bool.random(using: &r) ? UInt8.random(in: 0x80...0xFF, using: &r) : [0x41, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F].randomElement(using: &r)!
            }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            bytes.withUnsafeBufferPointer { #expect(UTF8Check.isValid($0) == expected, "\(bytes)") }
        }
    }

    @Test("fields past the 64th are told apart: a read one counts as used, the first unread one is named")
    func manyFields() throws {
        let fields: [(String, JSONValue)] = (0..<70).map { ("f\($0)", .integer(Int64($0))) }
        var f = Fields(fields: fields, line: 4)
        for k in 0..<70 where k != 66 { _ = try f.int("f\(k)") }
        #expect(f.firstUnused == "f66")
        #expect(throws: InvalidInput(line: 4, field: "f66", reason: "is not a field of this event type")) { try f.rejectUnknown() }
        _ = try f.int("f66")
        #expect(f.firstUnused == nil)

        var line = #"{"type":"bonus.accrued","client":"c1","amount":100"#
        for k in 0..<70 { line += ",\"x\(k)\":\(k)" }
        #expect(throws: InvalidInput(line: 1, field: "x0", reason: "is not a field of this event type")) { try CommandParser.parse(line: line + "}", number: 1) }
    }

    @Test("a client on an event without one (system, rules) is tolerated and ignored")
    func clientOnAClientlessEvent() throws {
        let system = try CommandParser.parse(line: #"{"type":"system","client":"c9","name":"sync"}"#, number: 3)
        #expect(system.client == "")
        #expect(throws: InvalidInput(line: 3, field: "clients", reason: "is not a field of this event type")) {
            try CommandParser.parse(line: #"{"type":"system","clients":"c9","name":"sync"}"#, number: 3)
        }
    }
}
