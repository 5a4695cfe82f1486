#ifndef LEDGER_CPREFETCH_H
#define LEDGER_CPREFETCH_H

/// Asks the CPU to bring the cache line holding `address` in, for writing, without waiting
/// for it: a rebuild calls it for the client records of a whole batch before applying the
/// batch, so that the cache misses overlap instead of following one another.
static inline void ledger_prefetch(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

/// Makes every allocation of `bytes` or more its own mapping, returned to the system when it is
/// freed (glibc's mallopt M_MMAP_THRESHOLD; fixing it also stops glibc raising it after the
/// first large free). Nothing elsewhere.
void ledger_map_allocations_from(int bytes);

#endif
