// The prefetch hint is a static inline function in include/cprefetch.h; SwiftPM needs one
// source file to build the target.
#include "cprefetch.h"

#if __has_include(<malloc.h>) && defined(__linux__)
#include <malloc.h>
void ledger_map_allocations_from(int bytes) { mallopt(M_MMAP_THRESHOLD, bytes); }
#else
void ledger_map_allocations_from(int bytes) { (void)bytes; }
#endif
