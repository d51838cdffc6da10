/* Internal: the state every port and broadcast handle goes through, and the checks calls make on it. */
#ifndef UVA_CHANNEL_HANDLE_H
#define UVA_CHANNEL_HANDLE_H

#include "end.h"
#include "holder.h"

/* Whether the calling thread is owner (the thread of the loop a handle is started on). */
static inline int uva__handle_on_owner(const uv_thread_t *owner) {
  uv_thread_t self = uv_thread_self();

  return uv_thread_equal(owner, &self);
}

/* 0 if a handle in state (started on owner's loop, with end) may be used by the calling thread; else the
 * error. A started or closing handle is used on its loop's thread only, unless any_thread. */
static inline int uva__handle_check(unsigned int state, const uv_thread_t *owner, const uva__end_t *end,
                                    int any_thread) {
  switch (state) {
  case UVA__HANDLE_NEW:
    return end->generation == uva__fork_generation ? 0 : UVA_EFORKED;
  case UVA__HANDLE_STARTED:
  case UVA__HANDLE_CLOSING:
    if (end->generation != uva__fork_generation)
      return UVA_EFORKED;
    if (any_thread)
      return 0;
    return uva__handle_on_owner(owner) ? 0 : UV_EPERM;
  case UVA__HANDLE_CLOSED:
  case UVA__HANDLE_TRANSFERRED:
  case UVA__HANDLE_DISCONNECTED:
    return UV_EBADF;
  default:
    return UV_EINVAL;
  }
}

/* Calls from any thread on a handle that another thread may retire (close, transfer, or end): the caller
 * counts itself in *inflight before it reads the state; retiring publishes the new state, then waits for
 * the callers already inside to leave, so none still uses what the handle points to when it is freed. Both
 * sides are sequentially consistent, so either the caller sees the new state or the retirer sees the
 * caller. Callers never wait on anything the retiring thread holds, so the wait is short. */
static inline unsigned int uva__guard_enter(unsigned int *state, unsigned int *inflight) {
  __atomic_add_fetch(inflight, 1, __ATOMIC_SEQ_CST);
  return __atomic_load_n(state, __ATOMIC_SEQ_CST);
}

static inline void uva__guard_leave(unsigned int *inflight) {
  __atomic_sub_fetch(inflight, 1, __ATOMIC_RELEASE);
}

static inline void uva__handle_set_state(unsigned int *state, unsigned int value) {
  __atomic_store_n(state, value, __ATOMIC_SEQ_CST);
}

static inline void uva__guard_retire(unsigned int *state, unsigned int value, unsigned int *inflight) {
  uva__handle_set_state(state, value);
  while (__atomic_load_n(inflight, __ATOMIC_ACQUIRE) != 0)
    uv_sleep(0);
}

/* Enters a post on a port or broadcast handle: 0, or the error for its state (closing_err while closing).
 * A handle inherited through fork() is refused where the message is queued (uva__end_enqueue()). */
static inline int uva__handle_enter_post(unsigned int *state, unsigned int *posting, int closing_err) {
  unsigned int now = uva__guard_enter(state, posting);

  if (uva__state_may_post(now))
    return 0;
  uva__guard_leave(posting);
  if (now == UVA__HANDLE_CLOSING || now == UVA__HANDLE_DISCONNECTED)
    return closing_err;
  return now == UVA__HANDLE_CLOSED || now == UVA__HANDLE_TRANSFERRED ? UV_EBADF : UV_EINVAL;
}

/* Whether a handle in state is attached to a loop. */
static inline int uva__handle_started(unsigned int state) {
  return state == UVA__HANDLE_STARTED || state == UVA__HANDLE_CLOSING;
}

/* Starts a new handle's end on loop, run by the calling thread, which becomes the handle's owner; the
 * caller has set the handle's callbacks. Returns 0, UV_EBUSY, the state's error, or the start's. */
static inline int uva__handle_start(unsigned int *state, uv_thread_t *owner, uva__end_t *end, uv_loop_t *loop,
                                    void *handle, const uva__end_ops_t *ops) {
  int err;

  if (uva__handle_started(*state))
    return UV_EBUSY;
  err = uva__handle_check(*state, owner, end, 0);
  if (err != 0)
    return err;
  *owner = uv_thread_self();
  err = uva__end_start(end, loop, handle, ops);
  if (err == 0)
    uva__handle_set_state(state, UVA__HANDLE_STARTED);
  return err;
}

/* 0 if a handle in state is started (or closing) on the calling thread's loop; else the error (UV_EINVAL: not
 * started). */
static inline int uva__handle_check_started(unsigned int state, const uv_thread_t *owner,
                                            const uva__end_t *end) {
  int err = uva__handle_check(state, owner, end, 0);

  if (err == 0 && !uva__handle_started(state))
    err = UV_EINVAL;
  return err;
}

/* ref (1) or unref (0) of a started handle's end. A closing handle stays ref'd until its close callback. */
static inline int uva__handle_ref(unsigned int state, const uv_thread_t *owner, uva__end_t *end, int ref) {
  int err = uva__handle_check_started(state, owner, end);

  if (err == 0 && (ref || state != UVA__HANDLE_CLOSING))
    uva__end_set_ref(end, ref);
  return err;
}

static inline int uva__handle_has_ref(unsigned int state, const uv_thread_t *owner, const uva__end_t *end) {
  return uva__handle_check_started(state, owner, end) == 0 && end->keeps_alive;
}

/* Takes the oldest message queued to a handle's end, waiting up to timeout_ms when wait is set: only a
 * handle no loop delivers may block its thread. Returns 0, the state's error, UV_EBUSY (wait on a started
 * handle) or what uva__end_dequeue() returns. */
static inline int uva__handle_receive(unsigned int state, const uv_thread_t *owner, uva__end_t *end,
                                      uva_msg_t **msgp, int wait, int64_t timeout_ms) {
  int err = uva__handle_check(state, owner, end, 0);

  if (err != 0)
    return err;
  if (wait && uva__handle_started(state))
    return UV_EBUSY;
  return uva__end_dequeue(end, msgp, timeout_ms);
}

/* For the actor layer (port.c). Marks a port as one that cannot be transferred. */
void uva__port_pin(uva_port_t *port);

/* Closes a port now, on its loop's thread if started: its close callback runs before this returns. */
void uva__port_abort(uva_port_t *port);

#endif /* UVA_CHANNEL_HANDLE_H */
