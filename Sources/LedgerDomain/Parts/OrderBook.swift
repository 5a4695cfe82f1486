import LedgerStorage
import LedgerBytes

/// The orders part: every order by id, with what it holds reserved and from which lots, and
/// how many are open. (The lots' reserved amounts and the client's balances are the core's:
/// the same events change them there.)
public struct OrderBook: LedgerPart {
    public static let section = SnapshotSection.orders

    public internal(set) var orders: [String: OrderState] = [:]
    /// How many orders are open.
    public internal(set) var openCount = 0

    public init() {}

    public subscript(id: String) -> OrderState? { orders[id] }

    public mutating func apply(_ event: borrowing AppliedEvent) {
        guard let client = event.client else { return }
        switch event.event {
        case .bonusReserved(let r):
            var order = orders[r.order] ?? open(client)
            order.reserved += r.amount
            order.lots += r.lots
            orders[r.order] = order
        case .bonusReserveCaptured(let r), .bonusReserveReleased(let r):
            release(r)
        case .orderPlaced(let o):
            if orders[o.order] == nil { orders[o.order] = open(client) }
        case .orderClosed(let o):
            settle(o.order, client: client, as: .closed)
        case .orderCancelled(let o):
            settle(o.order, client: client, as: .cancelled)
        default:
            break
        }
    }

    private mutating func open(_ client: Int32) -> OrderState {
        openCount += 1
        return OrderState(client: client)
    }

    /// Closes or cancels an order (one the log never opened is recorded settled).
    private mutating func settle(_ id: String, client: Int32, as phase: OrderState.Phase) {
        if orders[id]?.phase == .open { openCount -= 1 }
        orders[id, default: OrderState(client: client)].phase = phase
    }

    private mutating func release(_ r: Reservation) {
        guard var order = orders[r.order] else { return }
        order.reserved -= r.amount
        for take in r.lots {
            if let k = order.lots.firstIndex(where: { $0.lot == take.lot }) {
                order.lots[k].amount -= take.amount
                if order.lots[k].amount == 0 { order.lots.remove(at: k) }
            }
        }
        // A settled order keeps no buffer (most orders are settled, and stay for good).
        if order.lots.isEmpty { order.lots = [] }
        orders[r.order] = order
    }

    // MARK: snapshot (data-format.md §13.4, section 9)

    public func write(to e: SectionEncoder) {
        let orders = orders.sorted { $0.key < $1.key }
        e.put(UInt64(orders.count))
        for (id, order) in orders {
            e.putText(id)
            e.put(order.client)
            e.put(order.phase.rawValue)
            e.put(order.reserved)
            e.put(UInt64(order.lots.count))
            for take in order.lots {
                e.put(take.lot)
                e.put(take.amount)
            }
        }
    }

    public init(from d: inout SectionDecoder, clients: Int) throws(SectionError) {
        let count = try d.getCount("orders", width: 25)
        orders.reserveCapacity(count)
        for k in 0..<count {
            let id = try d.getText("order \(k)'s id")
            let client = try d.get(Int32.self, "order \(k)'s client")
            guard let phase = OrderState.Phase(rawValue: try d.get(UInt8.self, "order \(k)'s phase")), client >= 0, Int(client) < clients else {
                throw d.fail("order \(k) has an unknown phase or client")
            }
            var order = OrderState(client: client, phase: phase)
            order.reserved = try d.get(Int64.self, "order \(k)'s reserved amount")
            for _ in 0..<(try d.getCount("order \(k)'s lots", width: 16)) {
                order.lots.append(LotTake(lot: try d.get(UInt64.self, "order \(k)'s lot"), amount: try d.get(Int64.self, "order \(k)'s lot amount")))
            }
            guard orders.updateValue(order, forKey: id) == nil else { throw d.fail("order '\(id)' twice") }
            if phase == .open { openCount += 1 }
        }
    }

    public func checkInvariants(clients: Int) {
        precondition(openCount == orders.values.count { $0.phase == .open }, "orders: \(openCount) counted open")
        for (id, order) in orders {
            precondition(order.client >= 0 && Int(order.client) < clients, "order \(id) names no client")
            precondition(order.lots.allSatisfy { $0.amount > 0 }, "order \(id) holds an empty lot")
            precondition(order.lots.reduce(0) { $0 + $1.amount } == order.reserved, "order \(id): its lots do not add up to what it holds")
        }
    }
}
