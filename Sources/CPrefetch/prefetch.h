// Software prefetch for Swift, which has no intrinsic of its own: fewRowProduct asks for the weight rows it will read
// next while it multiplies the ones it has, so that memory and arithmetic overlap.
#ifndef TRACEDISTILL_PREFETCH_H
#define TRACEDISTILL_PREFETCH_H

/// Brings the cache line at `p` toward L2 for reading (a hint: never faults, even past the end of a buffer).
static inline void tracedistill_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }

/// Tells the core that the caller is waiting in a loop (x86's PAUSE: the loop then takes fewer of the core's resources
/// and exits without a pipeline flush when the awaited value changes); nothing elsewhere.
static inline void tracedistill_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#endif
