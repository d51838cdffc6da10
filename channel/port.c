/* MessagePort handles: endpoints whose end has a peer, and their transfer inside messages. */
#include "channel/call.h"
#include "channel/endpoint.h"

/* flags_ */
enum { PORT_PINNED = 1 };

static void port_init(uva_port_t *port, uva__end_t *end) {
  uva__endpoint_init(uva__port_endpoint(port), UVA_PORT, end);
}

int uva_channel_init(uva_port_t *port1, uva_port_t *port2) {
  uva__end_t *a;
  uva__end_t *b;
  int err;

  if (port1 == NULL || port2 == NULL || port1 == port2)
    return UV_EINVAL;
  err = uva__end_pair_new(&a, &b);
  if (err != 0)
    return err;
  port_init(port1, a);
  port_init(port2, b);
  return 0;
}

int uva_port_start(uva_port_t *port, uv_loop_t *loop, uva_port_message_cb message_cb,
                   uva_port_close_cb close_cb) {
  return uva__endpoint_start(uva__port_endpoint(port), loop, (union uva__message_cb_u){.port = message_cb},
                             (union uva__close_cb_u){.port = close_cb});
}

/* Why a port that was posting may post no more: its channel is closing (UV_EPIPE), or the handle is spent. */
static int port_retired_error(const uva_port_t *port) {
  unsigned int state = __atomic_load_n(&port->state_, __ATOMIC_SEQ_CST);

  return state == UVA__HANDLE_CLOSING || state == UVA__HANDLE_DISCONNECTED ? UV_EPIPE : UV_EBADF;
}

/* Posted by the thread of the loop this port is started on: that loop may spin for the answer, unless the
 * peer is started on the same loop, whose answer this thread alone can make. */
static void note_posted(uva_port_t *port) {
  const uva__end_t *end = port->end_;

  if (__atomic_load_n(&port->state_, __ATOMIC_RELAXED) == UVA__HANDLE_STARTED &&
      uva__on_thread(&port->owner_) && __atomic_load_n(&end->peer->loop, __ATOMIC_RELAXED) != end->loop)
    uva__loop_note_post(end->loop);
}

int uva__port_post(uva_port_t *port, uva_msg_t *msg, int64_t timeout_ms) {
  int err;

  if (port == NULL || msg == NULL)
    return UV_EINVAL;
  err = uva__endpoint_enter_post(uva__port_endpoint(port), UV_EPIPE);
  if (err != 0)
    return err;
  err = uva_msg_validate(msg, NULL);
  if (err == 0)
    err = uva__end_enqueue(port->end_->peer, msg, timeout_ms, &port->state_);
  if (err == UVA__END_RETIRED) /* closed or transferred while it waited for room */
    err = port_retired_error(port);
  if (err == 0)
    note_posted(port);
  uva__endpoint_leave_post(uva__port_endpoint(port));
  return err;
}

int uva_port_post(uva_port_t *port, uva_msg_t *msg) {
  return uva__port_post(port, msg, 0);
}

int uva_port_post_wait(uva_port_t *port, uva_msg_t *msg, int64_t timeout_ms) {
  int err = uva__port_post(port, msg, timeout_ms);

  /* The wait rule: a wait of 0 that would have to wait times out. */
  return err == UV_EAGAIN && timeout_ms == 0 ? uva__wait_refused() : err;
}

int uva_port_post_many(uva_port_t *port, uva_msg_t *const *msgs, size_t n, size_t *posted) {
  size_t valid;
  int err;

  if (posted != NULL)
    *posted = 0;
  if (port == NULL || msgs == NULL || n == 0 || posted == NULL)
    return UV_EINVAL;
  err = uva__endpoint_enter_post(uva__port_endpoint(port), UV_EPIPE);
  if (err != 0)
    return err;
  /* Those before the first malformed one go, as separate posts would have gone. */
  for (valid = 0; valid < n && err == 0; valid++)
    err = msgs[valid] == NULL ? UV_EINVAL : uva_msg_validate(msgs[valid], NULL);
  if (err != 0)
    valid--;
  if (valid > 0)
    err = uva__end_enqueue_many(port->end_->peer, msgs, valid, posted);
  if (err == 0)
    note_posted(port);
  uva__endpoint_leave_post(uva__port_endpoint(port));
  return err;
}

int uva_port_receive(uva_port_t *port, uva_msg_t **msgp) {
  return uva__endpoint_receive(uva__port_endpoint(port), msgp, 0, 0);
}

int uva_port_receive_wait(uva_port_t *port, uva_msg_t **msgp, int64_t timeout_ms) {
  return uva__endpoint_receive(uva__port_endpoint(port), msgp, 1, timeout_ms);
}

int uva_port_close(uva_port_t *port) {
  uva__end_t *end;
  int err;

  err = uva__endpoint_check(uva__port_endpoint(port), 0);
  if (err != 0)
    return err;
  end = port->end_;
  switch (port->state_) {
  case UVA__HANDLE_CLOSING:
    return UV_EALREADY;
  case UVA__HANDLE_NEW:
    uva__endpoint_retire(uva__port_endpoint(port), UVA__HANDLE_CLOSED);
    uva__hold_release(&port->hold_);
    port->end_ = NULL;
    uva__end_close(end);
    uva__end_release(end);
    return 0;
  default:
    /* Keep the loop alive until the close callback, even if the port was unref'd; what is queued is still
     * delivered, so a paused port resumes. */
    uva__guard_publish(&port->state_, UVA__HANDLE_CLOSING);
    uva__end_set_ref(end, 1);
    uva__end_pause(end, 0);
    uva__end_close(end);
    return 0;
  }
}

int uva_port_ref(uva_port_t *port) {
  return uva__endpoint_ref(uva__port_endpoint(port), 1);
}

int uva_port_unref(uva_port_t *port) {
  return uva__endpoint_ref(uva__port_endpoint(port), 0);
}

int uva_port_has_ref(const uva_port_t *port) {
  return uva__endpoint_has_ref((const uva__endpoint_t *)port);
}

static int port_pause(uva_port_t *port, int on) {
  int err = uva__endpoint_check_started(uva__port_endpoint(port));

  if (err == 0)
    uva__end_pause(port->end_, on);
  return err;
}

int uva_port_pause(uva_port_t *port) {
  return port_pause(port, 1);
}

int uva_port_resume(uva_port_t *port) {
  return port_pause(port, 0);
}

int uva_port_set_limits(uva_port_t *port, size_t max_messages, size_t max_bytes) {
  return uva__endpoint_set_limits(uva__port_endpoint(port), max_messages, max_bytes);
}

int uva_port_admit_oversized(uva_port_t *port, int on) {
  int err = uva__endpoint_check(uva__port_endpoint(port), 0);

  if (err == 0)
    uva__end_admit_oversized(port->end_, on);
  return err;
}

int uva_port_set_max_message(uva_port_t *port, size_t max_bytes) {
  int err = uva__endpoint_check(uva__port_endpoint(port), 0);

  if (err == 0)
    uva__end_set_max_part(port->end_, max_bytes);
  return err;
}

int uva_port_set_spin(uva_port_t *port, unsigned int usec) {
  int err = uva__endpoint_check(uva__port_endpoint(port), 0);

  if (err == 0 && usec > 1000000)
    err = UV_EINVAL;
  if (err == 0)
    uva__end_set_spin(port->end_, (uint64_t)usec * 1000);
  return err;
}

/* Sets cb as the port's writable callback and asks its end to call it (drain: once the peer holds at most
 * max_messages; else once it has room); the callback is unset again if the end refuses. */
static int want_writable(uva_port_t *port, uva_port_writable_cb cb, int drain, size_t max_messages) {
  int err;

  if (cb == NULL)
    return UV_EINVAL;
  err = uva__endpoint_check_started(uva__port_endpoint(port));
  if (err != 0)
    return err;
  if (port->state_ == UVA__HANDLE_CLOSING)
    return UV_EPIPE;
  port->writable_cb_.port = cb;
  err = drain ? uva__end_want_drain(port->end_, max_messages) : uva__end_want_writable(port->end_);
  if (err != 0)
    port->writable_cb_.port = NULL;
  return err;
}

int uva_port_on_writable(uva_port_t *port, uva_port_writable_cb writable_cb) {
  return want_writable(port, writable_cb, 0, 0);
}

int uva_port_on_drain(uva_port_t *port, size_t max_messages, uva_port_writable_cb drain_cb) {
  return want_writable(port, drain_cb, 1, max_messages);
}

/* Transfer. A port in a message is a bare end: no loop, no handle. Freed untaken, it closes. */

static void port_release(void *ptr, size_t len, uva_free_cb free_cb) {
  (void)len;
  (void)free_cb;
  if (uva__end_inherited(ptr))
    return; /* a forked child's copy of the parent's port: left as it is, as the child's calls on it are */
  uva__transit_carry(ptr, NULL);
  uva__end_close(ptr);
  uva__end_release(ptr);
}

static const uva__attach_type_t port_type = {UVA_EXT_PORT, port_release};

int uva_msg_pack_port(uva_msg_t *msg, uva_port_t *port) {
  int started;
  int err;

  if (msg == NULL)
    return UV_EINVAL;
  err = uva__endpoint_check(uva__port_endpoint(port), 0);
  if (err != 0)
    return err;
  if (port->state_ == UVA__HANDLE_CLOSING)
    return UV_EBADF;
  if (port->flags_ & PORT_PINNED)
    return UV_EINVAL;
  /* Their answers come to this end, and their callbacks belong to this loop. */
  if (uva__calls_pending(port->end_))
    return UV_EBUSY;
  err = uva__msg_attach(msg, &port_type, port->end_, 0, NULL);
  if (err != 0)
    return err;
  uva__transit_carry(port->end_, msg);
  started = port->state_ == UVA__HANDLE_STARTED;
  uva__endpoint_retire(uva__port_endpoint(port), UVA__HANDLE_TRANSFERRED);
  uva__hold_release(&port->hold_);
  if (started)
    uva__end_stop(port->end_);
  port->end_ = NULL;
  port->loop = NULL;
  return 0;
}

int uva_msg_take_port(uva_msg_t *msg, const msgpack_object *ext, uva_port_t *port) {
  uva__attach_t *slot;
  int err;

  if (port == NULL)
    return UV_EINVAL;
  err = uva__msg_slot(msg, ext, &port_type, &slot);
  if (err != 0)
    return err;
  uva__transit_carry(slot->ptr, NULL);
  port_init(port, slot->ptr);
  slot->type = NULL;
  return 0;
}

void uva__port_pin(uva_port_t *port) {
  port->flags_ |= PORT_PINNED;
  uva__hold_pin(&port->hold_); /* the actor layer closes its own ports, whichever thread used them */
}

int uva__port_forked(const uva_port_t *port) {
  return uva__endpoint_check((const uva__endpoint_t *)port, 1) == UVA_EFORKED;
}

void uva__port_abort(uva_port_t *port) {
  if (uva__state_started(port->state_))
    uva__end_abort(port->end_->loop, port->end_);
  else if (port->state_ == UVA__HANDLE_NEW)
    uva_port_close(port);
}
