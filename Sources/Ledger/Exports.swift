// A service imports one module, `Ledger`: the commands, events, outcomes and values of the
// domain (LedgerDomain) and the log's durability settings, errors and verification
// (LedgerLog) come with it. The storage structures (LedgerStorage) and the byte codec
// (LedgerBytes) are not re-exported: nothing a caller builds or reads needs them.
@_exported import LedgerDomain
@_exported import LedgerLog
