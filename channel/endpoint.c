/* Endpoints: what ports and broadcast members share (endpoint.h). */
#include <assert.h>

#include "channel/call.h"
#include "channel/endpoint.h"

/* One internal type for both public ones: the same fields, in the same place. */
_Static_assert(sizeof(uva__endpoint_t) == sizeof(uva_port_t), "uva_port_t is an endpoint");
_Static_assert(sizeof(uva__endpoint_t) == sizeof(uva_broadcast_t), "uva_broadcast_t is an endpoint");
_Static_assert(offsetof(uva__endpoint_t, hold_) == offsetof(uva_port_t, hold_), "the same layout");
_Static_assert(offsetof(uva__endpoint_t, hold_) == offsetof(uva_broadcast_t, hold_), "the same layout");

void uva__endpoint_init(uva__endpoint_t *ep, uva_handle_type type, uva__end_t *end) {
  ep->loop = NULL;
  ep->type = type;
  ep->state_ = UVA__HANDLE_NEW;
  ep->inflight_ = 0;
  ep->flags_ = 0;
  ep->end_ = end;
  ep->message_cb_.port = NULL;
  ep->close_cb_.port = NULL;
  ep->writable_cb_.port = NULL;
  uva__hold(&ep->hold_, ep);
}

int uva__endpoint_check(const uva__endpoint_t *ep, int any_thread) {
  if (ep == NULL)
    return UV_EINVAL;
  /* A new handle belongs to the thread that uses it (holder.h): claimed before its state is read, which the
   * actor holding it may be changing as it ends. */
  uva__hold_claim((uva__hold_t *)&ep->hold_);
  switch (ep->state_) {
  case UVA__HANDLE_NEW:
  case UVA__HANDLE_STARTED:
  case UVA__HANDLE_CLOSING:
    if (uva__end_inherited(ep->end_))
      return UVA_EFORKED;
    if (ep->state_ == UVA__HANDLE_NEW || any_thread)
      return 0;
    return uva__on_thread(&ep->owner_) ? 0 : UV_EPERM;
  case UVA__HANDLE_CLOSED:
  case UVA__HANDLE_TRANSFERRED:
  case UVA__HANDLE_DISCONNECTED:
    return UV_EBADF;
  default:
    return UV_EINVAL;
  }
}

int uva__endpoint_check_started(const uva__endpoint_t *ep) {
  int err = uva__endpoint_check(ep, 0);

  if (err == 0 && !uva__state_started(ep->state_))
    err = UV_EINVAL;
  return err;
}

int uva__endpoint_start(uva__endpoint_t *ep, uv_loop_t *loop, union uva__message_cb_u message_cb,
                        union uva__close_cb_u close_cb) {
  int err;

  if (ep == NULL || loop == NULL || message_cb.port == NULL)
    return UV_EINVAL;
  if (uva__state_started(ep->state_))
    return UV_EBUSY;
  err = uva__endpoint_check(ep, 0);
  if (err != 0)
    return err;
  ep->message_cb_ = message_cb;
  ep->close_cb_ = close_cb;
  ep->owner_ = uv_thread_self();
  err = uva__end_start(ep->end_, loop, ep, &uva__endpoint_ops);
  if (err != 0)
    return err;
  ep->loop = loop;
  uva__guard_publish(&ep->state_, UVA__HANDLE_STARTED);
  uva__hold_release(&ep->hold_);
  return 0;
}

int uva__endpoint_enter_post(uva__endpoint_t *ep, int closing_err) {
  unsigned int state = uva__guard_enter(&ep->state_, &ep->inflight_, uva__state_may_post);

  if (uva__state_may_post(state))
    return 0;
  if (state == UVA__HANDLE_CLOSING || state == UVA__HANDLE_DISCONNECTED)
    return closing_err;
  return state == UVA__HANDLE_CLOSED || state == UVA__HANDLE_TRANSFERRED ? UV_EBADF : UV_EINVAL;
}

void uva__endpoint_leave_post(uva__endpoint_t *ep) {
  uva__guard_leave(&ep->inflight_);
}

void uva__endpoint_retire(uva__endpoint_t *ep, unsigned int state) {
  uva__guard_publish(&ep->state_, state);
  uva__end_wake_posters(ep->end_);
  uva__guard_retire(&ep->state_, state, &ep->inflight_);
}

int uva__endpoint_receive(uva__endpoint_t *ep, uva_msg_t **msgp, int wait, int64_t timeout_ms) {
  int err;

  if (msgp == NULL)
    return UV_EINVAL;
  err = uva__endpoint_check(ep, 0);
  if (err != 0)
    return err;
  if (wait && uva__state_started(ep->state_))
    return UV_EBUSY;
  err = uva__end_dequeue(ep->end_, msgp, timeout_ms);
  /* The wait rule: a wait of 0 that would have to wait times out. */
  return err == UV_EAGAIN && wait ? uva__wait_refused() : err;
}

int uva__endpoint_ref(uva__endpoint_t *ep, int ref) {
  int err = uva__endpoint_check_started(ep);

  /* A closing endpoint keeps its loop alive until its close callback, whatever it is told. */
  if (err == 0 && (ref || ep->state_ != UVA__HANDLE_CLOSING))
    uva__end_set_ref(ep->end_, ref);
  return err;
}

int uva__endpoint_has_ref(const uva__endpoint_t *ep) {
  return uva__endpoint_check_started(ep) == 0 && ep->end_->keeps_alive;
}

int uva__endpoint_set_limits(uva__endpoint_t *ep, size_t max_messages, size_t max_bytes) {
  int err = uva__endpoint_check(ep, 0);

  if (err == 0)
    uva__end_set_limits(ep->end_, max_messages, max_bytes);
  return err;
}

/* The loop's calls. */

static void endpoint_message(void *handle, uva_msg_t *msg) {
  uva__endpoint_t *ep = handle;

  /* A reply goes to its call, never to the message callback. */
  if (msg->call_kind == UVA__CALL_REPLY)
    uva__calls_reply(ep->end_, msg);
  else if (ep->type == UVA_PORT)
    ep->message_cb_.port((uva_port_t *)ep, msg);
  else
    ep->message_cb_.broadcast((uva_broadcast_t *)ep, msg);
}

/* Runs once per request: the callback is cleared before it runs, so it may ask again. */
static void endpoint_writable(void *handle) {
  uva__endpoint_t *ep = handle;

  if (ep->type == UVA_PORT) {
    uva_port_writable_cb cb = ep->writable_cb_.port;

    ep->writable_cb_.port = NULL;
    if (cb != NULL)
      cb((uva_port_t *)ep);
  } else {
    uva_broadcast_writable_cb cb = ep->writable_cb_.broadcast;

    ep->writable_cb_.broadcast = NULL;
    if (cb != NULL)
      cb((uva_broadcast_t *)ep);
  }
}

/* Delivered everything and closed. A port whose peer closed it is disconnected, not closed: a post through
 * it still says why (UV_EPIPE). A member closed by its loop's teardown (its actor ended) rather than by
 * uva_broadcast_close() leaves its group now, before its end is freed. */
static void endpoint_closed(void *handle) {
  uva__endpoint_t *ep = handle;
  uva__end_t *end = ep->end_;
  unsigned int state = UVA__HANDLE_CLOSED;

  if (ep->type == UVA_PORT && ep->state_ != UVA__HANDLE_CLOSING)
    state = UVA__HANDLE_DISCONNECTED;
  uva__endpoint_retire(ep, state);
  if (ep->type == UVA_BROADCAST)
    uva__member_leave(end);
  ep->end_ = NULL;
  ep->loop = NULL;
  /* Calls made through the port fail before its close callback; a call callback finds the handle spent. */
  uva__calls_fail_all(end);
  if (ep->type == UVA_PORT) {
    if (ep->close_cb_.port != NULL)
      ep->close_cb_.port((uva_port_t *)ep);
  } else if (ep->close_cb_.broadcast != NULL) {
    ep->close_cb_.broadcast((uva_broadcast_t *)ep);
  }
}

const uva__end_ops_t uva__endpoint_ops = {endpoint_message, endpoint_writable, endpoint_closed};
