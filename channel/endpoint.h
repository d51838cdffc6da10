/* Internal: endpoints, what ports and broadcast members have in common.
 *
 * uva_port_t and uva_broadcast_t are the same fields (UVA_HANDLE_FIELDS, UVA_ENDPOINT_PRIVATE_FIELDS), so
 * one type, uva__endpoint_t, serves both: the state checks, start, receive, ref, limits, retire and the
 * callbacks the loop runs are written once (endpoint.c). What differs stays with each: a port posts to its
 * peer and travels in messages (port.c); a member posts to its group and leaves it (broadcast.c).
 *
 * States (end.h): new -> started -> closing -> closed, or new/started -> transferred (ports), or
 * new/started -> disconnected (a port whose peer closed, after its close callback). */
#ifndef UVA_CHANNEL_ENDPOINT_H
#define UVA_CHANNEL_ENDPOINT_H

#include "channel/end.h"
#include "channel/holder.h"
#include "common/guard.h"

typedef struct {
  UVA_HANDLE_FIELDS
  UVA_ENDPOINT_PRIVATE_FIELDS
} uva__endpoint_t;

static inline uva__endpoint_t *uva__port_endpoint(uva_port_t *port) {
  return (uva__endpoint_t *)port;
}

static inline uva__endpoint_t *uva__broadcast_endpoint(uva_broadcast_t *bc) {
  return (uva__endpoint_t *)bc;
}

/* Whether the calling thread is the one that runs the loop of a handle owned by owner. */
static inline int uva__on_thread(const uv_thread_t *owner) {
  uv_thread_t self = uv_thread_self();

  return uv_thread_equal(owner, &self);
}

/* Whether an endpoint in state is attached to a loop. */
static inline int uva__state_started(unsigned int state) {
  return state == UVA__HANDLE_STARTED || state == UVA__HANDLE_CLOSING;
}

/* Makes ep a new endpoint of type on end, held by the calling thread's actor if it has one. */
void uva__endpoint_init(uva__endpoint_t *ep, uva_handle_type type, uva__end_t *end);

/* 0 if the calling thread may use ep now; else UV_EINVAL (NULL, never initialized), UV_EBADF (spent),
 * UV_EPERM (started on another thread's loop, unless any_thread) or UVA_EFORKED. */
int uva__endpoint_check(const uva__endpoint_t *ep, int any_thread);

/* The same, and UV_EINVAL unless ep is started (or closing). */
int uva__endpoint_check_started(const uva__endpoint_t *ep);

/* Attaches a new endpoint to loop, run by the calling thread, with its message and close callbacks (the
 * union member of its type). Returns 0, UV_EINVAL (NULL ep, loop or message_cb), UV_EBUSY (started), the
 * check's error or the end's. */
int uva__endpoint_start(uva__endpoint_t *ep, uv_loop_t *loop, union uva__message_cb_u message_cb,
                        union uva__close_cb_u close_cb);

/* Enters a post through ep from any thread: 0 (leave with uva__endpoint_leave_post()), or the error for its
 * state (closing_err while closing, or after a port's peer closed it). */
int uva__endpoint_enter_post(uva__endpoint_t *ep, int closing_err);
void uva__endpoint_leave_post(uva__endpoint_t *ep);

/* Retires ep into state: posts under way through it finish first, and one blocked waiting for room wakes to
 * see the state and fail, so the retire never waits on it. */
void uva__endpoint_retire(uva__endpoint_t *ep, unsigned int state);

/* Takes the oldest message queued to ep, waiting up to timeout_ms when wait is set (the wait rule: 0
 * tries once, UV_ETIMEDOUT). Only an endpoint no loop delivers may block its thread (UV_EBUSY). */
int uva__endpoint_receive(uva__endpoint_t *ep, uva_msg_t **msgp, int wait, int64_t timeout_ms);

int uva__endpoint_ref(uva__endpoint_t *ep, int ref);
int uva__endpoint_has_ref(const uva__endpoint_t *ep);
int uva__endpoint_set_limits(uva__endpoint_t *ep, size_t max_messages, size_t max_bytes);

/* What the loop calls on a started endpoint: its message, writable and close callbacks. */
extern const uva__end_ops_t uva__endpoint_ops;

/* A member leaves its group (broadcast.c); nothing if it has left already. On the member's thread. */
void uva__member_leave(uva__end_t *end);

/* Posts msg through port to its peer, as uva_port_post() (timeout_ms 0) and uva_port_post_wait() do; for
 * calls (call.c), which post requests. */
int uva__port_post(uva_port_t *port, uva_msg_t *msg, int64_t timeout_ms);

/* For the actor layer (port.c). Marks a port as one that cannot be transferred. */
void uva__port_pin(uva_port_t *port);

/* Closes a port now, on its loop's thread if started: its close callback runs before this returns. */
void uva__port_abort(uva_port_t *port);

/* Whether port was made before a fork() of this process: a handle the actor layer built on it was
 * inherited, and refuses every call with UVA_EFORKED. */
int uva__port_forked(const uva_port_t *port);

#endif /* UVA_CHANNEL_ENDPOINT_H */
