// The prefetch hint is a static inline function in include/cprefetch.h; SwiftPM needs one
// source file to build the target.
#include "cprefetch.h"
