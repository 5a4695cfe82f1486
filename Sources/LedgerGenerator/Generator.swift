import LedgerDomain

/// A seeded, deterministic generator of a realistic loyalty program: the same seed and
/// configuration give the same lines, byte for byte.
///
/// Clients register over the period (a share of them before it), and their activity follows
/// a Zipf-like law: a few buy often, most rarely. Purchases carry receipts of one to four
/// items from a catalogue of a few thousand SKUs in categories, in stores that are themselves
/// Zipf-popular; some pay part with bonuses. Some purchases are returned, wholly or in part, a
/// few days later; some orders reserve bonuses and are then closed or cancelled. Operators
/// accrue and write off bonuses by hand with comments; weekly mailings go through a delivery
/// funnel (sent, delivered, opened, clicked, goal reached, failed); clients install Wallet
/// cards, answer NPS, change their profiles; a few are blocked and some unblocked; birthdays
/// bring a bonus and a congratulation; custom and system events happen. Each day ends with
/// an advance step.
public struct ProgramGenerator {
    /// Goes up whenever the same seed would give another program (so that a program generated
    /// earlier and kept on disk is not taken for today's). 2: tills resend some purchases.
    /// 3: a name's surname agrees with its first name's gender, and most named profiles say
    /// their gender. 4: the same commands, but the log written from them holds the birthday
    /// bonuses the advance step refuses (this names the benchmarks' program kept on disk).
    /// 5: the same commands; the advance steps activate, at 0, the pending lots returns emptied.
    /// 6: the same commands, and an operator's mistake the support demo looks for: about one
    /// birthday bonus in 200 accrued again by hand the next morning (from a random sequence of
    /// its own, so every other line stays as it was).
    public static let version = 6

    public struct Config: Sendable {
        public var clients: Int
        public var days: Int
        /// The first day, 00:00 UTC.
        public var start: Micros = Time.parse("2025-01-01T00:00:00Z")!
        public var seed: UInt64 = 42
        /// Purchases a year of the average client.
        public var purchasesPerClientYear: Double = 9
        /// The share of clients registered before the first day.
        public var registeredBefore: Double = 0.4
        public init(clients: Int, days: Int, seed: UInt64 = 42) {
            self.clients = clients; self.days = days; self.seed = seed
        }
    }

    /// One simulated day: its lines in time order and the time to advance to at its end.
    public struct Day: Sendable {
        public var index: Int
        public var lines: [String]
        public var advanceTo: Micros
    }

    typealias Rand = SeededRandom

    struct Product { var sku: String; var name: String; var category: String; var price: Int64 }

    struct ClientPlan {
        var registerDay: Int
        var purchases = 0
        var bank: Int64 = 0
        var lastPurchaseDay = -100
        var blocked = false
        var walletDay: Int?
        var birthday: (month: Int64, day: Int64)
        var manualAccruals = 0
        /// Whether the registration gave the birthday and the client is a participant (so
        /// that the advance step gives its birthday bonus unless it is blocked).
        var birthdayBonused = false
    }

    public let config: Config
    var rand: Rand
    /// The operators' mistakes draw from a sequence of their own (see ``version`` 6).
    var mistakes: Rand
    /// Clients by birthday, month × 32 + day.
    var byBirthday: [Int64: [Int]] = [:]
    var products: [Product] = []
    var categoryProducts: [String: [Int]] = [:]
    var stores: [String] = []
    var clients: [ClientPlan] = []
    /// Cumulative activity weights of the clients (Zipf-like), for weighted picks.
    var cumulative: [Double] = []
    var pendingReturns: [Int: [(client: Int, purchase: String, paid: Int64, total: Int64, items: [Product])]] = [:]
    var pendingOrders: [Int: [(client: Int, order: String)]] = [:]
    /// Requests a till sends again on a later day (see the purchases).
    var pendingResends: [Int: [String]] = [:]
    var purchaseCounter = 0
    var orderCounter = 0

    static let categories = ["Обувь", "Одежда", "Аксессуары", "Спорт", "Детское", "Косметика", "Дом", "Электроника", "Книги",
                             "Продукты", "Напитки", "Игрушки", "Сад", "Зоотовары", "Канцтовары", "Белье", "Сумки", "Часы", "Украшения", "Туризм"]
    static let nouns = ["Кроссовки", "Куртка", "Рюкзак", "Футболка", "Шапка", "Крем", "Чайник", "Наушники", "Роман", "Кофе",
                        "Конструктор", "Лейка", "Корм", "Блокнот", "Носки", "Сумка", "Часы", "Серьги", "Палатка", "Джинсы"]
    static let adjectives = ["классический", "летний", "зимний", "детский", "спортивный", "городской", "премиум", "базовый", "яркий", "мягкий"]
    static let femaleNames = ["Анна", "Мария", "Елена", "Ольга", "Наталья", "Ирина", "Светлана", "Татьяна", "Юлия", "Екатерина"]
    static let maleNames = ["Александр", "Сергей", "Дмитрий", "Андрей", "Алексей", "Максим", "Иван", "Михаил", "Евгений", "Никита"]
    /// Masculine surnames; the feminine form adds "а" (Иванов, Иванова).
    static let surnames = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков", "Федоров"]
    static let comments = ["компенсация за задержку доставки", "жалоба на качество обслуживания", "ошибка кассира", "подарок постоянному клиенту",
                           "бонус за отзыв", "возмещение по обращению в поддержку"]

    public init(_ config: Config) {
        self.config = config
        rand = Rand(state: config.seed)
        mistakes = Rand(state: config.seed ^ 0x5EED_0F0B_1E7A_5EED)
        for i in 0..<3000 {
            let category = Self.categories[i % Self.categories.count]
            let name = "\(Self.nouns[(i / 20) % Self.nouns.count]) \(Self.adjectives[(i / 7) % Self.adjectives.count])"
            let price = Int64(19_900 + rand.below(60) * 25_000 + rand.below(100) * 100)
            products.append(Product(sku: "SKU-\(10_000 + i)", name: name, category: category, price: price))
            categoryProducts[category, default: []].append(i)
        }
        stores = (1...40).map { "store-\($0)" }
        var total = 0.0
        for _ in 0..<config.clients {
            let registered = rand.chance(config.registeredBefore) ? 0 : 1 + rand.below(max(1, config.days - 1))
            let birthday = (Int64(1 + rand.below(12)), Int64(1 + rand.below(28)))
            clients.append(ClientPlan(registerDay: registered, walletDay: rand.chance(0.15) ? registered + rand.below(60) : nil, birthday: birthday))
            byBirthday[birthday.0 * 32 + birthday.1, default: []].append(clients.count - 1)
            // Zipf-like weight by a random rank (so activity does not follow the id), its head
            // flattened by an offset: the most active client buys about twice a week, not daily.
            total += 1.0 / pow08(Double(201 + rand.below(config.clients)))
            cumulative.append(total)
        }
    }

    func clientID(_ i: Int) -> String { "c" + String(repeating: "0", count: max(0, 7 - String(i).count)) + String(i) }

    /// The lines of the rules the program runs under (the first day's first lines).
    public func preamble() -> [String] {
        let at = Time.iso(config.start)
        return [#"{"type":"rules.changed","at":"\#(at)","rules":{"accrualPercent":5,"pendingDays":14,"lifetimeDays":180,"birthdayBonus":20000,"returnPolicy":"unlimited"}}"#]
    }

    /// Every command of the program, parsed, in order (registrations come before use): what
    /// the benchmarks and instruments submit. A line that does not parse is left out (the
    /// generator writes none).
    public static func commands(_ config: Config) -> [Command] {
        var generator = ProgramGenerator(config)
        var commands: [Command] = []
        var line = 0
        generator.run { day in
            for text in day.lines {
                line += 1
                if let command = try? CommandParser.parse(line: text, number: line) { commands.append(command) }
            }
        }
        return commands
    }

    /// Produces the program day by day.
    public mutating func run(_ body: (Day) throws -> Void) rethrows {
        var first = preamble()
        for day in 0..<config.days {
            var lines = first
            first = []
            generateDay(day, into: &lines)
            try body(Day(index: day, lines: lines, advanceTo: config.start + Int64(day + 1) * Time.microsPerDay - 1))
        }
    }

    private mutating func pickClient() -> Int {
        let x = rand.unit() * cumulative[cumulative.count - 1]
        var low = 0, high = cumulative.count - 1
        while low < high {
            let mid = (low + high) / 2
            if cumulative[mid] < x { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private func time(_ day: Int, _ secondOfDay: Int) -> String {
        Time.iso(config.start + Int64(day) * Time.microsPerDay + Int64(secondOfDay) * Time.microsPerSecond)
    }

    private mutating func phoneText(_ i: Int) -> String {
        let n = 9_000_000_000 + i
        let d = Array(String(n))
        switch rand.below(4) {
        case 0: return "8 (\(String(d[0...2]))) \(String(d[3...5]))-\(String(d[6...7]))-\(String(d[8...9]))"
        case 1: return "+7 (\(String(d[0...2]))) \(String(d[3...5]))-\(String(d[6...7]))-\(String(d[8...9]))"
        case 2: return "+7\(String(d))"
        default: return "8\(String(d))"
        }
    }

    private mutating func generateDay(_ day: Int, into lines: inout [String]) {
        // Work out the day's actions with their second of the day, then emit them in order.
        // (Each part draws from the one random sequence in this order: the program a seed
        // gives stays the same.)
        var actions = DayActions()
        // Requests resent from yesterday, as the tills come back online in the morning.
        for line in pendingResends.removeValue(forKey: day) ?? [] { actions.add(7 * 3600 + rand.below(3600), line) }
        addRegistrations(day, &actions)
        let registered = clients.indices.filter { clients[$0].registerDay <= day }.count
        let purchases = addPurchases(day, registered: registered, &actions)
        addReturns(day, &actions)
        addOrders(day, purchases: purchases, &actions)
        addManualOperations(day, registered: registered, &actions)
        addMailings(day, registered: registered, &actions)
        addClientActivity(day, registered: registered, &actions)
        addOperatorMistakes(day, &actions)
        lines.append(contentsOf: actions.sorted())
    }

    /// An operator's mistake support is called about ("the birthday bonus came twice"): the
    /// morning after a client's birthday, which the advance step rewarded, about one time in
    /// 200 an operator accrues the birthday bonus again by hand.
    private mutating func addOperatorMistakes(_ day: Int, _ actions: inout DayActions) {
        guard day > 0 else { return }
        let yesterday = Time.civil(days: Time.day(of: config.start) + Int64(day - 1))
        for i in byBirthday[yesterday.month * 32 + yesterday.day] ?? [] {
            let c = clients[i]
            guard c.birthdayBonused, !c.blocked, c.registerDay < day - 1 else { continue }
            guard mistakes.chance(0.005) else { continue }
            let second = 9 * 3600 + mistakes.below(3 * 3600)
            actions.add(second, #"{"type":"bonus.accrued","at":"\#(time(day, second))","client":"\#(clientID(i))","amount":20000,"reason":"birthday","comment":"с днём рождения","operator":"op-\#(1 + mistakes.below(20))"}"#)
        }
    }

    /// A day's lines, each at its second of the day.
    struct DayActions {
        private var list: [(second: Int, line: String)] = []
        mutating func add(_ second: Int, _ line: String) { list.append((second, line)) }
        /// The lines in order of their second.
        func sorted() -> [String] { list.sorted { $0.second < $1.second }.map(\.line) }
    }

    private mutating func addRegistrations(_ day: Int, _ actions: inout DayActions) {
        for i in clients.indices where clients[i].registerDay == day {
            let id = clientID(i)
            var fields = #""type":"client.registered","client":"\#(id)""#
            if rand.chance(0.95) { fields += #","phone":"\#(phoneText(i))""# }
            if !fields.contains("phone") || rand.chance(0.6) { fields += #","card":"\#(20_000_000 + i)""# }
            if rand.chance(0.85) {
                let female = rand.chance(0.6)
                let first = rand.pick(female ? Self.femaleNames : Self.maleNames)
                fields += #","name":"\#(first) \#(rand.pick(Self.surnames))\#(female ? "а" : "")""#
                if rand.chance(0.8) { fields += #","gender":"\#(female ? "female" : "male")""# }
            }
            if rand.chance(0.5) { fields += #","email":"\#(id)@example.ru""# }
            let b = clients[i].birthday
            let givesBirthday = rand.chance(0.7)
            if givesBirthday { fields += #","birthday":"\#(1960 + rand.below(46))-\#(pad(b.month))-\#(pad(b.day))""# }
            fields += #","place":"\#(stores[min(stores.count - 1, Int(Double(stores.count) * rand.unit() * rand.unit()))])""#
            let subscriber = rand.chance(0.1)
            if subscriber { fields += #","status":"subscriber""# }
            clients[i].birthdayBonused = givesBirthday && !subscriber
            let second = rand.below(3600 * 8) + 3600 * 8
            actions.add(second, "{\(fields),\"at\":\"\(time(day, second))\"}")
        }
    }

    /// Purchases: the expected count a day from the yearly rate. Returns how many were drawn.
    private mutating func addPurchases(_ day: Int, registered: Int, _ actions: inout DayActions) -> Int {
        let expected = Double(registered) * config.purchasesPerClientYear / 365
        let count = Int(expected) + (rand.chance(expected - Double(Int(expected))) ? 1 : 0)
        for _ in 0..<count {
            let i = pickClient()
            guard clients[i].registerDay < day else { continue }
            let second = 3600 * 9 + rand.below(3600 * 13)
            purchaseCounter += 1
            let purchase = "p\(purchaseCounter)"
            let store = stores[min(stores.count - 1, Int(Double(stores.count) * rand.unit() * rand.unit()))]
            let category = Self.categories[min(Self.categories.count - 1, Int(Double(Self.categories.count) * rand.unit() * rand.unit()))]
            var items: [Product] = []
            for _ in 0..<(1 + rand.below(4)) {
                let pool = rand.chance(0.7) ? categoryProducts[category]! : Array(0..<products.count)
                items.append(products[pool[rand.below(pool.count)]])
            }
            let total = items.reduce(0) { $0 + $1.price }
            var spent: Int64 = 0
            if day - clients[i].lastPurchaseDay > 15 && clients[i].bank > 10_000 && rand.chance(0.3) {
                spent = min(clients[i].bank / 3, total / 5) / 100 * 100
            }
            clients[i].bank += (total - spent) * 5 / 100 - spent
            clients[i].purchases += 1
            clients[i].lastPurchaseDay = day
            let itemsJSON = items.map { #"{"sku":"\#($0.sku)","name":"\#($0.name)","category":"\#($0.category)","qty":1,"price":\#($0.price)}"# }.joined(separator: ",")
            let seller = "seller-\(1 + rand.below(200))"
            var line = #"{"type":"purchase.made","at":"\#(time(day, second))","client":"\#(clientID(i))","purchase":"\#(purchase)","total":\#(total),"paid":\#(total - spent)"#
            if spent > 0 { line += #","bonusesSpent":\#(spent)"# }
            line += #","store":"\#(store)","seller":"\#(seller)","items":[\#(itemsJSON)]"#
            if rand.chance(0.05) { line += #","promoCode":"SPRING\#(1 + rand.below(5))""# }
            if rand.chance(0.08) { line += #","promotion":"promo-\#(1 + rand.below(12))""# }
            let sent = line + #","key":"pos-\#(purchase)"}"#
            actions.add(second, sent)
            // A till that got no answer sends the same request again: at once, or the next
            // morning when it is back online (its time is still the purchase's).
            if rand.chance(0.01) { actions.add(second + 30, sent) }
            if rand.chance(0.01) { pendingResends[day + 1, default: []].append(sent) }
            if rand.chance(0.045) {
                let returnDay = day + 2 + rand.below(12)
                let returned = rand.chance(0.6) ? items : [items[0]]
                pendingReturns[returnDay, default: []].append((i, purchase, total - spent, total, returned))
            }
            if rand.chance(0.02) {
                actions.add(second + 600, #"{"type":"nps.rated","at":"\#(time(day, second + 600))","client":"\#(clientID(i))","score":\#(rand.below(11))\#(rand.chance(0.3) ? #","comment":"спасибо""# : "")}"#)
            }
        }
        return count
    }

    /// Returns due today.
    private mutating func addReturns(_ day: Int, _ actions: inout DayActions) {
        for r in pendingReturns.removeValue(forKey: day) ?? [] {
            let second = 3600 * 10 + rand.below(3600 * 10)
            // The money given back is the returned items' share of what was paid.
            let share = min(r.paid, r.items.reduce(0) { $0 + $1.price } * r.paid / max(1, r.total))
            guard share > 0 else { continue }
            let itemsJSON = r.items.map { #"{"sku":"\#($0.sku)","name":"\#($0.name)","category":"\#($0.category)","qty":1,"price":\#($0.price)}"# }.joined(separator: ",")
            actions.add(second, #"{"type":"purchase.returned","at":"\#(time(day, second))","client":"\#(clientID(r.client))","purchase":"\#(r.purchase)","return":"r-\#(r.purchase)","amount":\#(share),"items":[\#(itemsJSON)],"store":"\#(rand.pick(stores))","acceptedBy":"seller-\#(1 + rand.below(200))"}"#)
        }
    }

    /// Online orders: reserve, then close or cancel.
    private mutating func addOrders(_ day: Int, purchases count: Int, _ actions: inout DayActions) {
        for _ in 0..<max(0, count / 30) {
            let i = pickClient()
            guard clients[i].registerDay < day, clients[i].bank > 5000, !clients[i].blocked else { continue }
            orderCounter += 1
            let order = "o\(orderCounter)"
            let amount = min(clients[i].bank / 4, 50_000) / 100 * 100
            guard amount > 0 else { continue }
            let second = 3600 * 12 + rand.below(3600 * 8)
            actions.add(second, #"{"type":"bonus.reserved","at":"\#(time(day, second))","client":"\#(clientID(i))","order":"\#(order)","amount":\#(amount)}"#)
            pendingOrders[day + 1 + rand.below(3), default: []].append((i, order))
        }
        for o in pendingOrders.removeValue(forKey: day) ?? [] {
            let second = 3600 * 8 + rand.below(3600)
            let verb = rand.chance(0.8) ? "order.closed" : "order.cancelled"
            actions.add(second, #"{"type":"\#(verb)","at":"\#(time(day, second))","client":"\#(clientID(o.client))","order":"\#(o.order)"}"#)
        }
    }

    /// Operators' manual operations.
    private mutating func addManualOperations(_ day: Int, registered: Int, _ actions: inout DayActions) {
        for _ in 0..<max(0, registered / 400) {
            let i = pickClient()
            guard clients[i].registerDay < day else { continue }
            let second = 3600 * 10 + rand.below(3600 * 8)
            if rand.chance(0.8) || clients[i].bank < 10_000 {
                var line = #"{"type":"bonus.accrued","at":"\#(time(day, second))","client":"\#(clientID(i))","amount":\#((1 + rand.below(20)) * 5000),"reason":"manual","comment":"\#(rand.pick(Self.comments))","operator":"op-\#(1 + rand.below(8))""#
                if rand.chance(0.3) { line += #","expiresAt":"\#(Time.isoDate(day: Time.day(of: config.start) + Int64(day + 30 + rand.below(60))))""# }
                actions.add(second, line + "}")
                clients[i].manualAccruals += 1
            } else {
                actions.add(second, #"{"type":"bonus.written_off","at":"\#(time(day, second))","client":"\#(clientID(i))","amount":5000,"reason":"manual","comment":"списание по заявке клиента","operator":"op-\#(1 + rand.below(8))"}"#)
            }
        }
    }

    /// The weekly mailing with its funnel, and the birthdays' congratulations (the bonus comes
    /// with the advance step).
    private mutating func addMailings(_ day: Int, registered: Int, _ actions: inout DayActions) {
        if day % 7 == 3 {
            let mailing = "m-week-\(day / 7)"
            for _ in 0..<max(1, registered / 6) {
                let i = pickClient()
                guard clients[i].registerDay < day, !clients[i].blocked else { continue }
                let channel = ["email", "sms", "push", "telegram", "viber"][min(4, Int(5 * rand.unit() * rand.unit()))]
                let id = clientID(i)
                let base = 3600 * 11 + rand.below(600)
                let head = #""client":"\#(id)","mailing":"\#(mailing)","channel":"\#(channel)","kind":"manual""#
                actions.add(base, #"{"type":"mailing.sent","at":"\#(time(day, base))",\#(head)}"#)
                if rand.chance(0.04) {
                    actions.add(base + 30, #"{"type":"mailing.failed","at":"\#(time(day, base + 30))",\#(head),"error":"undeliverable"}"#)
                    continue
                }
                actions.add(base + 60, #"{"type":"mailing.delivered","at":"\#(time(day, base + 60))",\#(head)}"#)
                if rand.chance(0.35) {
                    actions.add(base + 3600, #"{"type":"mailing.opened","at":"\#(time(day, base + 3600))",\#(head)}"#)
                    if rand.chance(0.12) {
                        actions.add(base + 3700, #"{"type":"mailing.clicked","at":"\#(time(day, base + 3700))",\#(head)}"#)
                        if rand.chance(0.25) { actions.add(base + 5000, #"{"type":"mailing.goal_reached","at":"\#(time(day, base + 5000))",\#(head)}"#) }
                    }
                }
            }
        }
        // Birthdays: the scenario's congratulation (the bonus comes with the advance step).
        let (_, month, dayOfMonth) = Time.civil(days: Time.day(of: config.start) + Int64(day))
        for i in clients.indices where clients[i].registerDay < day && clients[i].birthday.month == month && clients[i].birthday.day == dayOfMonth && !clients[i].blocked {
            if rand.chance(0.5) {
                actions.add(3600 * 9, #"{"type":"mailing.sent","at":"\#(time(day, 3600 * 9))","client":"\#(clientID(i))","mailing":"m-bday","channel":"sms","kind":"automatic"}"#)
            }
        }
    }

    /// Wallet cards, messengers, profile changes, notes, custom events, blocks, and the day's
    /// system event.
    private mutating func addClientActivity(_ day: Int, registered: Int, _ actions: inout DayActions) {
        for i in clients.indices where clients[i].walletDay == day && clients[i].registerDay <= day {
            let second = 3600 * 15 + rand.below(3600)
            actions.add(second, #"{"type":"wallet.installed","at":"\#(time(day, second))","client":"\#(clientID(i))","platform":"\#(rand.chance(0.6) ? "apple" : "google")"}"#)
        }
        for _ in 0..<max(0, registered / 300) {
            let i = pickClient()
            guard clients[i].registerDay < day else { continue }
            let id = clientID(i)
            let second = 3600 * 9 + rand.below(3600 * 12)
            switch rand.below(6) {
            case 0: actions.add(second, #"{"type":"messenger.subscribed","at":"\#(time(day, second))","client":"\#(id)","channel":"telegram"}"#)
            case 1: actions.add(second, #"{"type":"client.profile_changed","at":"\#(time(day, second))","client":"\#(id)","email":"\#(id).\#(day)@example.ru"}"#)
            case 2: actions.add(second, #"{"type":"note.added","at":"\#(time(day, second))","client":"\#(id)","text":"клиент просил перезвонить"}"#)
            case 3: actions.add(second, #"{"type":"custom","at":"\#(time(day, second))","client":"\#(id)","name":"call_center","context":{"topic":"бонусы","minutes":\#(1 + rand.below(15))}}"#)
            case 4: actions.add(second, #"{"type":"custom","at":"\#(time(day, second))","client":"\#(id)","name":"app_open","context":{"platform":"\#(rand.chance(0.5) ? "ios" : "android")"}}"#)
            default: actions.add(second, #"{"type":"segment.assigned","at":"\#(time(day, second))","client":"\#(id)","segment":"VIP-ручной"}"#)
            }
        }
        if rand.chance(0.3) {
            let i = pickClient()
            if clients[i].registerDay < day {
                let second = 3600 * 16
                let verb = clients[i].blocked ? "client.unblocked" : "client.blocked"
                clients[i].blocked.toggle()
                actions.add(second, #"{"type":"\#(verb)","at":"\#(time(day, second))","client":"\#(clientID(i))","comment":"\#(verb == "client.blocked" ? "подозрение на мошенничество" : "проверка завершена")"}"#)
            }
        }
        actions.add(3600 * 6, #"{"type":"system","at":"\#(time(day, 3600 * 6))","name":"item_in_stock","context":{"sku":"\#(products[rand.below(products.count)].sku)"}}"#)
    }

    private func pad(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
}

/// x^0.8 without Foundation: x divided by its fifth root (Newton's method on y^5 = x).
func pow08(_ x: Double) -> Double {
    var y = 1.0 + (x - 1.0) / 5.0
    for _ in 0..<60 { y -= (y * y * y * y * y - x) / (5 * y * y * y * y) }
    return x / y
}

/// A deterministic random generator (SplitMix64): the same seed gives the same sequence on
/// every machine. The generator's, and the tests'.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    public mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}
