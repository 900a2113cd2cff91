// Software prefetch for Swift, which has no intrinsic of its own: fewRowProduct asks for the weight rows it will read
// next while it multiplies the ones it has, so that memory and arithmetic overlap.
#ifndef TRACEDISTILL_PREFETCH_H
#define TRACEDISTILL_PREFETCH_H

/// Brings the cache line at `p` toward L2 for reading (a hint: never faults, even past the end of a buffer).
static inline void tracedistill_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }

#endif
