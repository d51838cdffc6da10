/* Internal: calls from any thread on a handle that another thread may retire (close, transfer, end).
 *
 * A caller counts itself in the handle's inflight_ before it reads the state; retiring publishes the new
 * state, then waits for the callers already inside to leave, so none still uses what the handle points to
 * when it is freed. Both sides are sequentially consistent, so either the caller sees the new state or the
 * retirer sees the caller. A caller that finds the handle retired before it counts itself in is not
 * counted at all: the count then only falls once the state is published, and callers in a loop (a monitor
 * reading stats, threads posting to a port being closed) cannot hold the wait. Callers never wait on
 * anything the retiring thread holds (a caller blocked waiting for room is woken by the retirer first), so
 * the wait is short. */
#ifndef UVA_COMMON_GUARD_H
#define UVA_COMMON_GUARD_H

#include <assert.h>

#include "uvactor/common.h"

/* Counts a caller in where something else (a lock it holds) already keeps the handle from retiring, so
 * there is no state to read: the retirer's wait still waits for it to leave. */
static inline void uva__guard_join(unsigned int *inflight) {
  __atomic_add_fetch(inflight, 1, __ATOMIC_SEQ_CST);
}

static inline void uva__guard_leave(unsigned int *inflight) {
  unsigned int before = __atomic_fetch_sub(inflight, 1, __ATOMIC_RELEASE);

  assert(before > 0);
  (void)before;
}

/* Enters a call: returns the handle's state, and the caller is counted in (and leaves with
 * uva__guard_leave()) exactly when live(state). A state that is not live is answered without a count: the
 * caller must not touch what the handle points to. */
static inline unsigned int uva__guard_enter(unsigned int *state, unsigned int *inflight,
                                            int (*live)(unsigned int state)) {
  unsigned int now = __atomic_load_n(state, __ATOMIC_SEQ_CST);

  if (!live(now))
    return now;
  uva__guard_join(inflight);
  now = __atomic_load_n(state, __ATOMIC_SEQ_CST);
  if (!live(now))
    uva__guard_leave(inflight);
  return now;
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
