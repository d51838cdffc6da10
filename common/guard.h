/* Internal: calls from any thread on a handle that another thread may retire (close, transfer, end).
 *
 * A caller counts itself in the handle's inflight_ before it reads the state; retiring publishes the new
 * state, then waits for the callers already inside to leave, so none still uses what the handle points to
 * when it is freed. Both sides are sequentially consistent, so either the caller sees the new state or the
 * retirer sees the caller. Callers never wait on anything the retiring thread holds (a caller blocked
 * waiting for room is woken by the retirer first), so the wait is short. */
#ifndef UVA_COMMON_GUARD_H
#define UVA_COMMON_GUARD_H

#include <assert.h>

#include "uvactor/common.h"

/* Counts a caller in where something else (a lock it holds) already keeps the handle from retiring, so
 * there is no state to read: the retirer's wait still waits for it to leave. */
static inline void uva__guard_join(unsigned int *inflight) {
  __atomic_add_fetch(inflight, 1, __ATOMIC_SEQ_CST);
}

static inline unsigned int uva__guard_enter(unsigned int *state, unsigned int *inflight) {
  uva__guard_join(inflight);
  return __atomic_load_n(state, __ATOMIC_SEQ_CST);
}

static inline void uva__guard_leave(unsigned int *inflight) {
  unsigned int before = __atomic_fetch_sub(inflight, 1, __ATOMIC_RELEASE);

  assert(before > 0);
  (void)before;
}

static inline void uva__guard_publish(unsigned int *state, unsigned int value) {
  __atomic_store_n(state, value, __ATOMIC_SEQ_CST);
}

/* Waits out the callers inside, once no new one can enter. */
static inline void uva__guard_wait(unsigned int *inflight) {
  while (__atomic_load_n(inflight, __ATOMIC_ACQUIRE) != 0)
    uv_sleep(0);
}

/* Publishes state (if not done already), then waits out the callers inside. */
static inline void uva__guard_retire(unsigned int *state, unsigned int value, unsigned int *inflight) {
  uva__guard_publish(state, value);
  uva__guard_wait(inflight);
}

#endif /* UVA_COMMON_GUARD_H */
