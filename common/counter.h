/* Internal: a counter one thread writes and other threads read (statistics, and what the writer decides
 * on). With a single writer the add needs no atomic read-modify-write, whose locked instruction costs
 * tens of cycles: a relaxed load and a relaxed store, so that a reader never sees a torn value. */
#ifndef UVA_COMMON_COUNTER_H
#define UVA_COMMON_COUNTER_H

#include <stdatomic.h>
#include <stdint.h>

/* [the counter's one writer] Adds n (negative: subtracts) and returns the new value. */
static inline uint64_t uva__counter_add(_Atomic uint64_t *counter, int64_t n) {
  uint64_t value = atomic_load_explicit(counter, memory_order_relaxed) + (uint64_t)n;

  atomic_store_explicit(counter, value, memory_order_relaxed);
  return value;
}

#endif /* UVA_COMMON_COUNTER_H */
