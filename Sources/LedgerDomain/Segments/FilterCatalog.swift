/// The fields a segment's filters may name (domain.md §6, interface.md's filters file): for
/// each, the group it belongs to, the type of its values, the operators it takes, and what it
/// means. The DocC article *Segment filters* is this table (a test keeps them equal).
public enum FilterField: String, Sendable, CaseIterable {
    // Client
    case name, gender, age, birthday, birthdaySoon
    // Channels
    case messenger, mailingReceived
    // Loyalty program
    case status, joinDate, daysInProgram, joinPlace, addedBy, card, email, walletInstalled, level
    case bonusesAvailable, bonusesUsed, bonusesExpired, nextExpiryDate
    // Purchases
    case promotion, promoCode, purchaseCount, itemCount, purchaseSum, averageCheck, maxCheck
    case daysBetweenPurchases, purchaseDate, purchaseDaysAgo, lastPurchaseDate, daysWithoutPurchases
    case frequentPlace, lastPlace, boughtAt, seller, boughtProduct, boughtSku, boughtCategory
    // Returns
    case returnCount, returnSum, returnDate, returnDaysAgo, lastReturnDate, daysWithoutReturns
    case returnedAt, acceptedBy, returnedProduct, returnedSku, returnedCategory
    // Events
    case eventName, eventDate, lastEventDate, daysSinceLastEvent, eventContext, eventTimes
    // Segments
    case memberOf

    public enum Group: String, Sendable, CaseIterable { case client, channels, loyalty, purchases, returns, events, segments }

    /// What a filter's values are.
    public enum ValueType: Sendable, Equatable {
        /// Text, compared as given (`eq`, `in`) or as a part of it, ignoring case (`contains`).
        case text
        /// Text that matches exactly: a card number, an email.
        case exact
        /// A whole number of things (purchases, items, years).
        case count
        /// An amount in hundredths (kopecks; bonuses in hundredths of a bonus).
        case money
        /// A number of days, 0 being today.
        case days
        /// A date, `YYYY-MM-DD` (a day in UTC).
        case date
        /// One of a fixed set of names.
        case choice([String])
        /// true or false.
        case flag
        /// `variable=value` of an event's context.
        case context
        /// A segment's name.
        case segment
    }

    public var group: Group {
        switch self {
        case .name, .gender, .age, .birthday, .birthdaySoon: .client
        case .messenger, .mailingReceived: .channels
        case .status, .joinDate, .daysInProgram, .joinPlace, .addedBy, .card, .email, .walletInstalled, .level,
             .bonusesAvailable, .bonusesUsed, .bonusesExpired, .nextExpiryDate: .loyalty
        case .promotion, .promoCode, .purchaseCount, .itemCount, .purchaseSum, .averageCheck, .maxCheck, .daysBetweenPurchases,
             .purchaseDate, .purchaseDaysAgo, .lastPurchaseDate, .daysWithoutPurchases, .frequentPlace, .lastPlace, .boughtAt,
             .seller, .boughtProduct, .boughtSku, .boughtCategory: .purchases
        case .returnCount, .returnSum, .returnDate, .returnDaysAgo, .lastReturnDate, .daysWithoutReturns, .returnedAt,
             .acceptedBy, .returnedProduct, .returnedSku, .returnedCategory: .returns
        case .eventName, .eventDate, .lastEventDate, .daysSinceLastEvent, .eventContext, .eventTimes: .events
        case .memberOf: .segments
        }
    }

    public var valueType: ValueType {
        switch self {
        case .name, .joinPlace, .addedBy, .level, .promotion, .promoCode, .frequentPlace, .lastPlace, .boughtAt, .seller,
             .boughtProduct, .boughtSku, .boughtCategory, .returnedAt, .acceptedBy, .returnedProduct, .returnedSku,
             .returnedCategory, .eventName:
            .text
        case .card, .email: .exact
        case .age, .purchaseCount, .itemCount, .returnCount, .eventTimes: .count
        case .bonusesAvailable, .bonusesUsed, .bonusesExpired, .purchaseSum, .averageCheck, .maxCheck, .returnSum: .money
        case .birthdaySoon, .daysInProgram, .daysBetweenPurchases, .purchaseDaysAgo, .daysWithoutPurchases, .returnDaysAgo,
             .daysWithoutReturns, .daysSinceLastEvent:
            .days
        case .birthday, .joinDate, .nextExpiryDate, .purchaseDate, .lastPurchaseDate, .returnDate, .lastReturnDate,
             .eventDate, .lastEventDate:
            .date
        case .gender: .choice(Gender.allCases.map(\.rawValue))
        case .messenger: .choice(Channel.allCases.map(\.rawValue))
        case .mailingReceived: .choice(["received", "opened", "clicked", "goalReached"])
        case .status: .choice(ParticipationStatus.allCases.map(\.rawValue))
        case .walletInstalled: .flag
        case .eventContext: .context
        case .memberOf: .segment
        }
    }

    /// The operators this field takes.
    public var operators: [FilterOperator] {
        switch valueType {
        case .text: [.eq, .in, .contains]
        case .exact, .choice, .context, .segment: [.eq, .in]
        case .count, .money, .days, .date: [.eq, .gte, .lte, .between]
        case .flag: [.eq]
        }
    }

    /// The keys besides `field`, `op`, `values` and `exclude` this field takes (required ones
    /// first): the event a count is of and the days it looks back; a mailing's kind.
    public var parameters: [(key: String, required: Bool)] {
        switch self {
        case .eventTimes: [("event", true), ("withinDays", true)]
        case .mailingReceived: [("kind", false)]
        default: []
        }
    }

    /// What it means (English; the seeds' wording where they give one).
    public var meaning: String {
        switch self {
        case .name: "the client's name"
        case .gender: "female or male (a client with none matches neither)"
        case .age: "full years on the day the segment is evaluated"
        case .birthday: "the birthday, as a date of any year: the year of the values is ignored"
        case .birthdaySoon: "the next birthday is within this many days (0: today)"
        case .messenger: "a messenger the client can be reached on (an unsubscribed one is not)"
        case .mailingReceived: "received a mailing with this status or a further one (manual or automatic: `kind`)"
        case .status: "participation status"
        case .joinDate: "the day of registration"
        case .daysInProgram: "days since registration (0: joined today, 0..1: today or yesterday)"
        case .joinPlace: "where the client registered"
        case .addedBy: "who registered the client"
        case .card: "holds this card number (exact)"
        case .email: "has this email (exact)"
        case .walletInstalled: "has the Wallet card installed (either platform)"
        case .level: "the loyalty level's name"
        case .bonusesAvailable: "bonuses on account, available to spend"
        case .bonusesUsed: "bonuses spent, ever"
        case .bonusesExpired: "bonuses expired, ever"
        case .nextExpiryDate: "the day the next bonuses expire (a client with none matches no value)"
        case .promotion: "made a purchase in this promotion"
        case .promoCode: "used this promo code in a purchase"
        case .purchaseCount: "purchases (counting only those with the items a product filter before it names)"
        case .itemCount: "items bought, by quantity (only the items a product filter before it names)"
        case .purchaseSum: "money paid for purchases (only for the items a product filter before it names)"
        case .averageCheck: "the average purchase's paid amount"
        case .maxCheck: "the largest purchase's paid amount"
        case .daysBetweenPurchases: "days from registration to the last purchase divided by the purchase count"
        case .purchaseDate: "made a purchase on a day in this range"
        case .purchaseDaysAgo: "made a purchase this many days ago"
        case .lastPurchaseDate: "the day of the last purchase"
        case .daysWithoutPurchases: "days since the last purchase (a client with none: days since registration)"
        case .frequentPlace: "the store of most purchases (the earliest of equals)"
        case .lastPlace: "the store of the last purchase"
        case .boughtAt: "made at least one purchase at this store"
        case .seller: "was served by this seller at least once"
        case .boughtProduct: "bought an item of this name; narrows later purchase filters to such items"
        case .boughtSku: "bought an item of this SKU; narrows later purchase filters to such items"
        case .boughtCategory: "bought an item of this category; narrows later purchase filters to such items"
        case .returnCount: "returns"
        case .returnSum: "money returned"
        case .returnDate: "returned something on a day in this range"
        case .returnDaysAgo: "returned something this many days ago"
        case .lastReturnDate: "the day of the last return"
        case .daysWithoutReturns: "days since the last return (a client with none matches no value)"
        case .returnedAt: "returned something at this store"
        case .acceptedBy: "a return accepted by this employee"
        case .returnedProduct: "returned an item of this name"
        case .returnedSku: "returned an item of this SKU"
        case .returnedCategory: "returned an item of this category"
        case .eventName: "has a custom event of this name"
        case .eventDate: "has a custom event on a day in this range"
        case .lastEventDate: "the day of the last custom event"
        case .daysSinceLastEvent: "days since the last custom event"
        case .eventContext: "has a custom event whose context holds this variable with this value"
        case .eventTimes: "has custom events named `event` at least (`gte`) / at most (`lte`) this many times within the last `withinDays` days"
        case .memberOf: "is a member of this segment (a segment may not contain itself, through any chain)"
        }
    }

    /// An example filter of this field, as JSON.
    public var example: String {
        let values: String = switch valueType {
        case .text:
            switch self {
            case .name: #"["Анна"]"#
            case .level: #"["Gold","Platinum"]"#
            case .addedBy, .seller, .acceptedBy: #"["Иванова"]"#
            case .promotion: #"["Чёрная пятница"]"#
            case .promoCode: #"["SPRING10"]"#
            case .boughtProduct, .returnedProduct: #"["Кроссовки"]"#
            case .boughtSku, .returnedSku: #"["SKU-1001"]"#
            case .boughtCategory, .returnedCategory: #"["Обувь"]"#
            case .eventName: #"["call_center"]"#
            default: #"["Москва, Тверская 1"]"#
            }
        case .exact: self == .email ? #"["anna@example.com"]"# : #"["2000000012345"]"#
        case .count: #"[2]"#
        case .money: #"[500000]"#
        case .days: #"[0,30]"#
        case .date: #"["2025-01-01","2025-03-31"]"#
        case .choice(let names): "[\"\(names[0])\"]"
        case .flag: "[true]"
        case .context: #"["topic=бонусы"]"#
        case .segment: #"["VIP"]"#
        }
        let op: FilterOperator = switch valueType {
        case .text, .exact, .choice, .context, .segment: .in
        case .count, .money: .gte
        case .days, .date: .between
        case .flag: .eq
        }
        let extra = self == .eventTimes ? #","event":"call_center","withinDays":30"# : ""
        return #"{"field":"\#(rawValue)","op":"\#(op.rawValue)","values":\#(values)\#(extra)}"#
    }
}

/// How a filter compares (interface.md): `in` any of the values, `eq` the one value, `between`
/// the two values inclusive, `gte`/`lte` the one value inclusive, `contains` any of the values
/// as a part of the text, ignoring case.
public enum FilterOperator: String, Sendable, CaseIterable {
    case `in`, eq, between, gte, lte, contains
}
