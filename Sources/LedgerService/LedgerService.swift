import Ledger
import Logging
import ServiceLifecycle

/// A ledger as a service of a swift-service-lifecycle `ServiceGroup`: it opens the ledger when
/// made, runs the advance step on a schedule (activations, expiries and birthday bonuses due up
/// to the clock), and on graceful shutdown stops the schedule and closes the ledger cleanly
/// (waiting for its events and any background snapshot; a clean close may write a snapshot).
///
/// ```swift
/// let service = try LedgerService(directory: "data", configuration: options, advanceEvery: .seconds(60))
/// let group = ServiceGroup(services: [service, httpServer], gracefulShutdownSignals: [.sigterm], logger: logger)
/// try await group.run()            // handlers call service.ledger.submit(…)
/// ```
public final class LedgerService: Service {
    /// The open ledger, for the other services to call.
    public let ledger: Ledger
    let advanceEvery: Duration
    let clock: @Sendable () -> Micros

    /// Opens the ledger (the writer's lock is taken here, so a second process fails at once).
    public init(directory: String, configuration options: Ledger.Configuration = Ledger.Configuration(), advanceEvery: Duration = .seconds(60)) throws {
        ledger = try Ledger(directory: directory, configuration: options)
        self.advanceEvery = advanceEvery
        clock = options.clock
    }

    /// Advances to the clock every `advanceEvery` until graceful shutdown (or cancellation),
    /// then closes the ledger. An advance that fails (the log failed) ends the service with
    /// its error, after closing what can be closed.
    public func run() async throws {
        let ledger = self.ledger, every = advanceEvery, clock = self.clock
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: every)
                    try await ledger.advance(to: clock())
                }
            }
        } catch is CancellationError {
            // Shutdown asked for: close below.
        } catch {
            try? ledger.close()
            throw error
        }
        try ledger.close()
    }
}
