#ifndef LEDGER_CPREFETCH_H
#define LEDGER_CPREFETCH_H

/// Asks the CPU to bring the cache line holding `address` in, for writing, without waiting
/// for it: a rebuild calls it for the client records of a whole batch before applying the
/// batch, so that the cache misses overlap instead of following one another.
static inline void ledger_prefetch(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
