import LedgerSync
import Dispatch
import Glibc
import LedgerDomain
import LedgerLog

/// A writer's snapshots: on demand, on a clean close, and in the background (see the Snapshots
/// article).
extension Ledger {
    /// Writes a snapshot of the state as it stands (all of it durable: the state holds only
    /// what submits returned), unless one at this position exists. Returns it, or nil when
    /// the ledger is empty or its newest snapshot is already here.
    @discardableResult
    public func writeSnapshot() throws -> Snapshots.Info? {
        // A copy of the state shares its storage until the writer next changes it, so the lock
        // is held only for the copy, not for the writing.
        let state: LedgerState = try core.withLock { core in
            try core.checkOpen()
            return core.state
        }
        return try writeSnapshot(of: state, waitingForDurability: false)
    }

    /// Writes `state` as a snapshot. A state copied while another submit's events were still
    /// being synced stands past the log's durable end for a moment: with `waitingForDurability`
    /// the batch at its position is looked for again for up to a second.
    private func writeSnapshot(of state: LedgerState, waitingForDurability: Bool) throws -> Snapshots.Info? {
        let position = state.nextPosition
        guard position > 0, position > newestSnapshot.withLock({ $0 }) else { return nil }
        var chain = try log.reader().batchCRC(endingAt: position)
        var tries = 0
        while chain == nil && waitingForDurability && tries < 100 {
            usleep(10_000)
            tries += 1
            chain = try log.reader().batchCRC(endingAt: position)
        }
        guard let chain else {
            throw LogError(.invalidArgument, "no batch of the log ends at position \(position), where the state stands")
        }
        // One snapshot written at a time (a caller's beside a background one would share the
        // temporary file's name): the second waits, and writes nothing if the first stands as far.
        return try snapshotWriting.withLock { _ -> Snapshots.Info? in
            guard position > newestSnapshot.withLock({ $0 }) else { return nil }
            let info = try Snapshots.write(state, chain: chain, identity: log.identity.identity, ledger: directory,
                                           now: wallClockMicros(), syscalls: options.syscalls)
            newestSnapshot.withLock { $0 = max($0, position) }
            return info
        }
    }

    /// Closes the log, first writing a snapshot when enough events lie past the newest one
    /// (``Configuration/snapshotOnCloseAfter``). A snapshot that cannot be written does not stop the
    /// close: the log holds everything; the error is thrown after the log is closed.
    ///
    /// Afterwards every write is refused ``LedgerError/closed``; reads still answer from the
    /// state as it stood. A second call does nothing. A ledger dropped without `close()`
    /// closes its log all the same (what was acknowledged is durable either way), only without
    /// the snapshot, so the next open replays a little more.
    public func close() throws {
        let first = core.withLock { core in
            defer { core.closed = true }
            return !core.closed
        }
        guard first else { return }
        waitForBackgroundSnapshot()
        var snapshotError: Error? = nil
        if let after = options.snapshotOnCloseAfter {
            let (position, state) = core.withLock { core in (core.state.nextPosition, core.failure == nil ? core.state : nil) }
            if let state, position >= newestSnapshot.withLock({ $0 }) + max(after, 1) {
                do { _ = try writeSnapshot(of: state, waitingForDurability: false) } catch { snapshotError = error }
            }
        }
        try log.close()
        if let snapshotError { throw snapshotError }
    }

    /// Starts a background snapshot when ``Configuration/snapshotEvery`` or ``Configuration/snapshotInterval``
    /// says one is due and none is running. The copy of the state is taken under the lock
    /// (a moment: the copy shares storage); the writing runs on another thread.
    func snapshotInBackgroundIfDue() {
        let newest = newestSnapshot.withLock { $0 }
        let position = read { $0.nextPosition }
        let now = options.clock()
        let since = position - min(position, newest)
        let byCount = options.snapshotEvery.map { since >= max($0, 1) } ?? false
        let byTime = options.snapshotInterval.map { interval in
            since >= max(options.snapshotOnCloseAfter ?? 1, 1) && background.withLock { now - $0.lastStarted >= interval }
        } ?? false
        guard byCount || byTime else { return }
        let start: Bool = background.withLock { job in
            guard !job.running else { return false }
            job.running = true
            job.lastStarted = now
            return true
        }
        guard start else { return }
        let state: LedgerState? = core.withLock { $0.failure == nil ? $0.state : nil }
        DispatchQueue.global(qos: .utility).async { [self] in
            var failure: String? = nil
            var wrote = false
            do {
                if let state { wrote = try writeSnapshot(of: state, waitingForDurability: true) != nil }
            } catch {
                failure = "\(error)"
            }
            background.withLock { job in
                job.running = false
                if let failure { job.lastFailure = failure }
                if wrote { job.written += 1 }
            }
            if let failure {
                observability.logger.error("a background snapshot failed; the next will be tried", metadata: ["error": "\(failure)"])
            } else if wrote {
                observability.logger.info("background snapshot written", metadata: ["position": "\(state?.nextPosition ?? 0)"])
            }
            backgroundDone.signal()
        }
    }

    /// Waits for a background snapshot in progress, if any.
    func waitForBackgroundSnapshot() {
        while background.withLock({ $0.running }) { backgroundDone.wait() }
    }
}
