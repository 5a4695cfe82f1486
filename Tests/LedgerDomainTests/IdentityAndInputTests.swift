import Testing
@testable import LedgerDomain

@Suite("Identity and input")
struct IdentityAndInputTests {
    @Test("Russian phones in any format name one number", arguments: [
        "8 (916) 123-45-67", "+7 (916) 123-45-67", "89161234567", "+79161234567", "7 916 123 45 67", "9161234567", "8-916-123-45-67",
    ])
    func phoneFormats(text: String) {
        #expect(Phone.normalize(text) == "79161234567")
    }

    @Test("text that is not a phone number is refused by name and line")
    func badPhone() {
        #expect(Phone.normalize("call me") == nil)
        #expect(Phone.normalize("123") == nil)
        #expect(throws: InvalidInput(line: 3, field: "phone", reason: "'12ab' is not a phone number")) {
            try CommandParser.parse(line: register("c1", phone: "12ab"), number: 3)
        }
    }

    @Test("a phone and a card belong to one live client at a time; a deleted client frees them")
    func uniqueness() {
        var book = Book()
        #expect(book.run(register("c1", phone: "8 916 123-45-67", card: "2000001")).isAccepted)
        #expect(book.run(register("c2", phone: "+7 (916) 123 45 67")).code == "phone_taken")
        #expect(book.run(register("c3", card: "2000001")).code == "card_taken")
        #expect(book.run(register("c1", phone: "79160000009")).code == "duplicate_client")
        #expect(book.run(#"{"type":"client.card_added","client":"c1","card":"2000002"}"#).isAccepted)
        #expect(book.state.holder(ofCard: "2000002") == 0)
        book.run(#"{"type":"client.deleted","client":"c1"}"#)
        #expect(book.run(register("c2", phone: "+7 (916) 123 45 67", card: "2000001")).isAccepted)
        #expect(book.run(#"{"type":"bonus.accrued","client":"c1","amount":100}"#).code == "client_deleted")
        #expect(book.run(#"{"type":"bonus.accrued","client":"nobody","amount":100}"#).code == "unknown_client")
    }

    @Test("a profile needs a phone or a card")
    func missingIdentity() {
        var book = Book()
        #expect(book.run(register("c1")).code == "missing_identity")
        #expect(book.state.clients.isEmpty, "an unknown client's refusal is not recorded")
        book.run(register("c2", phone: "79160000001"))
        #expect(book.run(#"{"type":"client.profile_changed","client":"c2","phone":null}"#).code == "missing_identity")
        book.run(#"{"type":"client.card_added","client":"c2","card":"77"}"#)
        #expect(book.run(#"{"type":"client.profile_changed","client":"c2","phone":null}"#).isAccepted)
        #expect(book.run(#"{"type":"client.card_removed","client":"c2","card":"77"}"#).code == "missing_identity")
    }

    @Test("the display name is the name, else the phone, else «Без имени»")
    func displayName() {
        var book = Book()
        book.run(register("c1", phone: "79161234567", extra: #","name":"Анна""#))
        book.run(register("c2", phone: "79161234568"))
        book.run(register("c3", card: "555"))
        #expect(book.state.client("c1")!.displayName == "Анна")
        #expect(book.state.client("c2")!.displayName == "+7 (916) 123-45-68")
        #expect(book.state.client("c3")!.displayName == "Без имени")
    }

    @Test("a profile change records the old and the new value of each field")
    func profileChange() {
        var book = Book()
        book.run(register("c1", phone: "79161234567", extra: #","name":"Анна""#))
        book.run(#"{"type":"client.profile_changed","client":"c1","name":"Анна Петрова","phone":"8 916 000-00-01"}"#)
        guard case .profileChanged(let changes) = book.events.last!.event else { Issue.record("no change"); return }
        #expect(changes == [FieldChange(field: "name", old: "Анна", new: "Анна Петрова"), FieldChange(field: "phone", old: "79161234567", new: "79160000001")])
        #expect(book.state.holder(ofPhone: "79160000001") == 0 && book.state.holder(ofPhone: "79161234567") == nil)
    }

    @Test("a card keeps a client's NPS ratings and notes in order (an empty comment is none), and the segments it is in")
    func ratingsNotesSegments() {
        var book = Book()
        book.run(register("c1", phone: "79161234567"))
        book.run(register("c2", phone: "79161234568"))
        book.run(#"{"type":"nps.rated","client":"c1","score":9,"comment":"Всё отлично, спасибо!"}"#)
        book.run(#"{"type":"note.added","client":"c2","text":"Просил перезвонить"}"#)
        book.run(#"{"type":"nps.rated","client":"c1","score":3}"#)
        book.run(#"{"type":"nps.rated","client":"c1","score":0,"comment":""}"#)
        book.run(#"{"type":"note.added","client":"c1","text":"Called about a 😀 receipt"}"#)
        book.run(#"{"type":"segment.assigned","client":"c1","segment":"VIP"}"#)
        book.run(#"{"type":"segment.assigned","client":"c2","segment":"Новые"}"#)
        book.run(#"{"type":"segment.assigned","client":"c1","segment":"Новые"}"#)
        book.run(#"{"type":"segment.unassigned","client":"c2","segment":"Новые"}"#)
        book.run(#"{"type":"segment.unassigned","client":"c2","segment":"never assigned"}"#)
        let c1 = book.state.client("c1")!, c2 = book.state.client("c2")!
        #expect(c1.nps.map(\.score) == [9, 3, 0] && c1.nps.map(\.comment) == ["Всё отлично, спасибо!", nil, nil])
        #expect(c1.notes.map(\.text) == ["Called about a 😀 receipt"] && c2.notes.map(\.text) == ["Просил перезвонить"])
        #expect(c1.nps.map(\.at) == c1.nps.map(\.at).sorted())
        #expect(c1.segments == ["VIP", "Новые"] && c2.segments.isEmpty)
        book.checkReplay()
        book.checkByteReplay()
    }

    @Test("strict input: unknown types, missing, ill-typed and unknown fields name the field and the line", arguments: [
        (#"{"type":"bonus.teleported","client":"c1"}"#, "type"),
        (#"{"type":"bonus.accrued","client":"c1"}"#, "amount"),
        (#"{"type":"bonus.accrued","client":"c1","amount":"100"}"#, "amount"),
        (#"{"type":"bonus.accrued","client":"c1","amount":10.5}"#, "amount"),
        (#"{"type":"bonus.accrued","client":"c1","amount":100,"ammount":1}"#, "ammount"),
        (#"{"type":"bonus.accrued","client":"c1","ammount":1}"#, "ammount"),
        (#"{"type":"bonus.accrued","client":"c1","amount":100,"reason":"purchase"}"#, "reason"),
        (#"{"type":"bonus.expired","client":"c1","lot":1}"#, "type"),
        (#"{"type":"purchase.made","client":"c1","purchase":"p1","total":100,"paid":200}"#, "paid"),
        (#"{"type":"purchase.made","client":"c1","purchase":"p1","total":100,"items":[{"sku":"A","price":"x"}]}"#, "items[0].price"),
        (#"{"type":"mailing.sent","client":"c1","mailing":"m","channel":"pigeon"}"#, "channel"),
        (#"{"type":"bonus.accrued","client":"c1","amount":1,"at":"yesterday"}"#, "at"),
        (#"{"type":"rules.changed","rules":{"returnPolicy":"sometimes"}}"#, "returnPolicy"),
        (#"{"type":"rules.changed","rules":{"accrualPercent":5,"colour":"red"}}"#, "rules.colour"),
        (#"{"type":"nps.rated","client":"c1","score":11}"#, "score"),
    ])
    func strictInput(line: String, field: String) {
        do {
            _ = try CommandParser.parse(line: line, number: 42)
            Issue.record("accepted: \(line)")
        } catch {
            #expect(error.line == 42)
            #expect(error.field == field, "\(error)")
            #expect(error.code == (field == "paid" ? .invalidAmount : .invalidEvent), "an amount out of its range is invalid_amount")
            #expect(error.description.contains("line 42"))
        }
    }

    @Test("bad JSON is invalid_event with the byte offset", arguments: ["", "{", "[1]", #"{"type":"custom",}"#, #"{"a":1} x"#, #"{"a":"\u12"}"#, #"{"a":01}"#])
    func badJSON(text: String) {
        #expect(throws: InvalidInput.self) { try CommandParser.parse(line: text, number: 1) }
    }

    @Test("the interface.md examples all parse")
    func interfaceExamples() throws {
        let lines = [
            #"{"type":"client.registered","at":"2025-01-01T09:00:00Z","client":"c1","phone":"8 (916) 123-45-67","name":"Анна","card":"2000001","place":"store-7"}"#,
            #"{"type":"purchase.made","at":"2025-01-02T12:00:00Z","client":"c1","purchase":"p1","total":120000,"paid":100000,"store":"store-7","items":[{"sku":"A1","name":"Кроссовки","category":"Обувь","qty":1,"price":120000}]}"#,
            #"{"type":"bonus.accrued","at":"2025-01-03T12:00:00Z","client":"c1","amount":2000,"reason":"manual","expiresAt":"2025-02-01","comment":"жалоба","key":"op-77"}"#,
            #"{"type":"bonus.written_off","client":"c1","amount":3000,"reason":"manual"}"#,
            #"{"type":"bonus.reserved","client":"c1","order":"o1","amount":1500}"#,
            #"{"type":"order.closed","client":"c1","order":"o1"}"#,
            #"{"type":"purchase.returned","client":"c1","purchase":"p1","return":"r1","amount":50000}"#,
            #"{"type":"mailing.sent","client":"c1","mailing":"m-bday","channel":"sms","kind":"automatic"}"#,
            #"{"type":"custom","client":"c1","name":"call_center","context":{"name":"Азбука","minutes":4}}"#,
            #"{"type":"system","name":"item_in_stock","context":{"sku":"A1"}}"#,
            #"{"type":"rules.changed","rules":{"accrualPercent":5,"pendingDays":14,"lifetimeDays":365}}"#,
        ]
        var book = Book()
        for line in lines { book.run(line) }
        #expect(book.state.nextPosition > UInt64(lines.count))
        book.checkReplay()
        book.checkCodecReplay()
    }

    @Test("ISO times round-trip, with offsets and bare dates")
    func times() {
        #expect(Time.parse("2025-03-01") == Time.parse("2025-03-01T00:00:00Z"))
        #expect(Time.parse("2025-03-01T13:00:00+03:00") == Time.parse("2025-03-01T10:00:00Z"))
        #expect(Time.iso(Time.parse("2024-02-29T23:59:59.5Z")!) == "2024-02-29T23:59:59.500000Z")
        #expect(Time.parse("2025-02-29") == nil && Time.parse("2025-13-01") == nil)
        for day in stride(from: -800_000 as Int64, to: 800_000, by: 997) {
            let (y, m, d) = Time.civil(days: day)
            #expect(Time.days(year: y, month: m, day: d) == day)
        }
        #expect(Money.format(500000) == "5 000,00" && Money.format(-4005) == "-40,05")
    }

    @Test("amounts are written as the back office writes them, the same as the first way this was written")
    func money() {
        // The first implementation (strings reversed and joined), kept as the oracle.
        func reference(_ minor: Int64) -> String {
            let whole = String(minor.magnitude / 100)
            var grouped = ""
            for (i, ch) in whole.reversed().enumerated() {
                if i > 0 && i % 3 == 0 { grouped.append(" ") }
                grouped.append(ch)
            }
            let cents = minor.magnitude % 100
            return (minor < 0 ? "-" : "") + String(grouped.reversed()) + "," + (cents < 10 ? "0" : "") + String(cents)
        }
        #expect(Money.format(0) == "0,00" && Money.format(-5) == "-0,05" && Money.format(123_456_789) == "1 234 567,89")
        #expect(Money.format(.min) == reference(.min) && Money.format(.max) == reference(.max))
        var random = SystemRandomNumberGenerator()
        for _ in 0..<10_000 * soak {
            let minor = Int64.random(in: -1_000_000_000_000...1_000_000_000_000, using: &random) >> Int64.random(in: 0...40, using: &random)
            #expect(Money.format(minor) == reference(minor), "\(minor)")
        }
    }
}
