// What Swift cannot express itself. Software prefetch, which has no intrinsic of its own: fewRowProduct asks for the
// weight rows it will read next while it multiplies the ones it has, so that memory and arithmetic overlap. A vector
// square root (below).
#ifndef TRACEDISTILL_PREFETCH_H
#define TRACEDISTILL_PREFETCH_H

/// Brings the cache line at `p` toward L2 for reading (a hint: never faults, even past the end of a buffer).
static inline void tracedistill_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }

/// 16 floats: Swift imports it as SIMD16<Float>.
typedef float tracedistill_float16 __attribute__((ext_vector_type(16)));

/// The square root of each lane, correctly rounded as Float's squareRoot(), in vector instructions: Swift 6.3's
/// SIMD16<Float>.squareRoot() took the lanes one scalar sqrtss at a time (AdamW's step).
static inline tracedistill_float16 tracedistill_sqrt16(tracedistill_float16 x) { return __builtin_elementwise_sqrt(x); }

#endif
