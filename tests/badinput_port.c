/* The bad-input rows of include/uvactor/port.h: ports, bounded ports, broadcast members, bounded members.
 * Run by tests/test_badinput.c, which also shows them in docs/errors.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "badinput.h"

/* ---- ports (port.h) ------------------------------------------------------------------------------ */

static void on_writable(uva_port_t *port) {
  (void)port;
}

static int channel_init_null1(fx_t *fx) {
  return uva_channel_init(NULL, &fx->x);
}

static int channel_init_null2(fx_t *fx) {
  return uva_channel_init(&fx->x, NULL);
}

static int channel_init_same(fx_t *fx) {
  return uva_channel_init(&fx->x, &fx->x);
}

static int start(fx_t *fx) {
  return uva_port_start(fx->port, fx->loop, on_fx_message, NULL);
}

static int start_null_loop(fx_t *fx) {
  return uva_port_start(fx->port, NULL, on_fx_message, NULL);
}

static int start_null_cb(fx_t *fx) {
  return uva_port_start(fx->port, fx->loop, NULL, NULL);
}

/* post and post_wait: the message is consumed only on success. */
static int post(fx_t *fx) {
  int err = uva_port_post(fx->port, fx->msg);

  if (err == 0)
    fx->msg = NULL;
  return err;
}

static int post_null_msg(fx_t *fx) {
  return uva_port_post(fx->port, NULL);
}

static int post_wait_10ms(fx_t *fx) {
  int err = uva_port_post_wait(fx->port, fx->msg, 10);

  if (err == 0)
    fx->msg = NULL;
  return err;
}

static int post_wait_0ms(fx_t *fx) {
  int err = uva_port_post_wait(fx->port, fx->msg, 0);

  if (err == 0)
    fx->msg = NULL;
  return err;
}

static int post_wait_null_msg(fx_t *fx) {
  return uva_port_post_wait(fx->port, NULL, 10);
}

/* Posting a message that carries the receiving port: b travels in it, posted on a (whose peer is b). */
/* post_many of the fixture's message alone: consumed only on success, and then *posted is 1. */
static int post_many(fx_t *fx) {
  size_t posted = 99;
  int err = uva_port_post_many(fx->port, &fx->msg, 1, &posted);

  ck_assert_uint_eq(posted, err == 0 ? 1 : 0);
  if (err == 0)
    fx->msg = NULL;
  return err;
}

static int post_many_null_msgs(fx_t *fx) {
  size_t posted;

  return uva_port_post_many(fx->port, NULL, 1, &posted);
}

static int post_many_none(fx_t *fx) {
  size_t posted;

  return uva_port_post_many(fx->port, &fx->msg, 0, &posted);
}

static int post_many_null_posted(fx_t *fx) {
  return uva_port_post_many(fx->port, &fx->msg, 1, NULL);
}

static int post_many_null_first(fx_t *fx) {
  uva_msg_t *msgs[2] = {NULL, fx->msg};
  size_t posted = 99;
  int err = uva_port_post_many(fx->port, msgs, 2, &posted);

  ck_assert_uint_eq(posted, 0);
  return err;
}

static int post_carrying_peer(fx_t *fx) {
  uva_msg_t *msg;
  int err;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  ck_assert_int_eq(uva_msg_pack_port(msg, &fx->b), 0);
  err = uva_port_post(&fx->a, msg);
  if (err != 0)
    uva_msg_free(msg); /* closes b */
  return err;
}

/* The message that carries a, posted on a's spent handle. */
static int post_carrier_on_spent(fx_t *fx) {
  int err = uva_port_post(&fx->a, fx->carrier);

  if (err == 0)
    fx->carrier = NULL;
  return err;
}

static int receive(fx_t *fx) {
  uva_msg_t *msg = NULL;
  int err = uva_port_receive(fx->port, &msg);

  if (err == 0)
    uva_msg_free(msg);
  return err;
}

static int receive_null(fx_t *fx) {
  return uva_port_receive(fx->port, NULL);
}

static int receive_wait(fx_t *fx) {
  uva_msg_t *msg = NULL;
  int err = uva_port_receive_wait(fx->port, &msg, 10);

  if (err == 0)
    uva_msg_free(msg);
  return err;
}

static int receive_wait_0ms(fx_t *fx) {
  uva_msg_t *msg;
  int err = uva_port_receive_wait(fx->port, &msg, 0);

  if (err == 0)
    uva_msg_free(msg);
  return err;
}

static int receive_wait_null(fx_t *fx) {
  return uva_port_receive_wait(fx->port, NULL, 10);
}

static int port_close(fx_t *fx) {
  return uva_port_close(fx->port);
}

static int port_ref(fx_t *fx) {
  return uva_port_ref(fx->port);
}

static int port_unref(fx_t *fx) {
  return uva_port_unref(fx->port);
}

static int port_has_ref(fx_t *fx) {
  return uva_port_has_ref(fx->port) == 0 ? 0 : R_VALUE;
}

static int pause_port(fx_t *fx) {
  return uva_port_pause(fx->port);
}

static int resume_port(fx_t *fx) {
  return uva_port_resume(fx->port);
}

static int set_spin_over(fx_t *fx) {
  return uva_port_set_spin(fx->port, 1000001);
}

static int set_spin_max(fx_t *fx) {
  return uva_port_set_spin(fx->port, 1000000);
}

static int set_limits(fx_t *fx) {
  return uva_port_set_limits(fx->port, 1, 0);
}

static int admit_oversized(fx_t *fx) {
  return uva_port_admit_oversized(fx->port, 1);
}

static int set_max_message(fx_t *fx) {
  return uva_port_set_max_message(fx->port, 1024);
}

static int on_drain_call(fx_t *fx) {
  return uva_port_on_drain(fx->port, 0, on_writable);
}

static int on_drain_null(fx_t *fx) {
  return uva_port_on_drain(fx->port, 0, NULL);
}

static int on_writable_call(fx_t *fx) {
  return uva_port_on_writable(fx->port, on_writable);
}

static int on_writable_null(fx_t *fx) {
  return uva_port_on_writable(fx->port, NULL);
}

/* pack_port: on failure nothing changes (the fixture then checks that a still works). */
static int pack_port(fx_t *fx) {
  uva_msg_t *msg;
  int err;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  err = uva_msg_pack_port(msg, fx->port);
  if (err == 0 && uva_msg_size(msg) == 0)
    err = R_VALUE;
  uva_msg_free(msg); /* closes the port if it went in */
  return err;
}

static int pack_port_null_msg(fx_t *fx) {
  return uva_msg_pack_port(NULL, fx->port);
}

static const row_t port_rows[] = {
    {"uva_channel_init", "port1 NULL", S_NONE, channel_init_null1, UV_EINVAL},
    {"uva_channel_init", "port2 NULL", S_NONE, channel_init_null2, UV_EINVAL},
    {"uva_channel_init", "port1 == port2", S_NONE, channel_init_same, UV_EINVAL},

    {"uva_port_start", NULL, P_NULL, start, UV_EINVAL},
    {"uva_port_start", "loop NULL", P_NEW, start_null_loop, UV_EINVAL},
    {"uva_port_start", "message_cb NULL", P_NEW, start_null_cb, UV_EINVAL},
    {"uva_port_start", NULL, P_ZEROED, start, UV_EINVAL},
    {"uva_port_start", NULL, P_STARTED, start, UV_EBUSY},
    {"uva_port_start", NULL, P_OTHER_THREAD, start, UV_EBUSY},
    {"uva_port_start", NULL, P_CLOSING, start, UV_EBUSY},
    {"uva_port_start", NULL, P_CLOSED, start, UV_EBADF},
    {"uva_port_start", NULL, P_IN_MESSAGE, start, UV_EBADF},
    {"uva_port_start", NULL, P_IN_TRANSIT, start, UV_EBADF},
    {"uva_port_start", NULL, P_LOOP_TAKEN, start, UV_EPERM},

    {"uva_port_post", NULL, P_NULL, post, UV_EINVAL},
    {"uva_port_post", "msg NULL", P_NEW, post_null_msg, UV_EINVAL},
    {"uva_port_post", NULL, P_ZEROED, post, UV_EINVAL},
    {"uva_port_post", "msg carries the receiving port", S_NONE, post_carrying_peer, UV_ELOOP},
    {"uva_port_post", "msg carries this port, posted on its spent handle", P_IN_MESSAGE,
     post_carrier_on_spent, UV_EBADF},
    {"uva_port_post", NULL, P_CLOSING, post, UV_EPIPE},
    {"uva_port_post", NULL, P_PEER_CLOSED, post, UV_EPIPE},
    {"uva_port_post", NULL, P_STARTED_PEER_CLOSED, post, UV_EPIPE},
    {"uva_port_post", NULL, P_CLOSED, post, UV_EBADF},
    {"uva_port_post", NULL, P_IN_MESSAGE, post, UV_EBADF},
    {"uva_port_post", NULL, P_IN_TRANSIT, post, UV_EBADF},
    {"uva_port_post", "from a second thread, port started on this one's loop (allowed)", P_OTHER_THREAD, post,
     0},

    {"uva_port_post_many", NULL, P_NULL, post_many, UV_EINVAL},
    {"uva_port_post_many", "msgs NULL", P_NEW, post_many_null_msgs, UV_EINVAL},
    {"uva_port_post_many", "n 0", P_NEW, post_many_none, UV_EINVAL},
    {"uva_port_post_many", "posted NULL", P_NEW, post_many_null_posted, UV_EINVAL},
    {"uva_port_post_many", "msgs[0] NULL", P_NEW, post_many_null_first, UV_EINVAL},
    {"uva_port_post_many", NULL, P_ZEROED, post_many, UV_EINVAL},
    {"uva_port_post_many", NULL, P_CLOSING, post_many, UV_EPIPE},
    {"uva_port_post_many", NULL, P_PEER_CLOSED, post_many, UV_EPIPE},
    {"uva_port_post_many", NULL, P_CLOSED, post_many, UV_EBADF},
    {"uva_port_post_many", NULL, P_IN_TRANSIT, post_many, UV_EBADF},
    {"uva_port_post_many", "from a second thread, port started on this one's loop (allowed)", P_OTHER_THREAD,
     post_many, 0},

    {"uva_port_post_wait", NULL, P_NULL, post_wait_10ms, UV_EINVAL},
    {"uva_port_post_wait", "msg NULL", P_NEW, post_wait_null_msg, UV_EINVAL},
    {"uva_port_post_wait", NULL, P_ZEROED, post_wait_10ms, UV_EINVAL},
    {"uva_port_post_wait", NULL, P_PEER_CLOSED, post_wait_10ms, UV_EPIPE},
    {"uva_port_post_wait", NULL, P_CLOSED, post_wait_10ms, UV_EBADF},
    {"uva_port_post_wait", NULL, P_IN_TRANSIT, post_wait_10ms, UV_EBADF},

    {"uva_port_receive", NULL, P_NULL, receive, UV_EINVAL},
    {"uva_port_receive", "msgp NULL", P_NEW, receive_null, UV_EINVAL},
    {"uva_port_receive", NULL, P_ZEROED, receive, UV_EINVAL},
    {"uva_port_receive", "nothing queued", P_NEW, receive, UV_EAGAIN},
    {"uva_port_receive", "nothing queued, peer closed", P_PEER_CLOSED, receive, UV_EPIPE},
    {"uva_port_receive", NULL, P_CLOSED, receive, UV_EBADF},
    {"uva_port_receive", NULL, P_IN_MESSAGE, receive, UV_EBADF},
    {"uva_port_receive", NULL, P_IN_TRANSIT, receive, UV_EBADF},
    {"uva_port_receive", NULL, P_OTHER_THREAD, receive, UV_EPERM},

    {"uva_port_receive_wait", NULL, P_NULL, receive_wait, UV_EINVAL},
    {"uva_port_receive_wait", "msgp NULL", P_NEW, receive_wait_null, UV_EINVAL},
    {"uva_port_receive_wait", NULL, P_ZEROED, receive_wait, UV_EINVAL},
    {"uva_port_receive_wait", "nothing queued, 10 ms", P_NEW, receive_wait, UV_ETIMEDOUT},
    {"uva_port_receive_wait", "nothing queued, timeout 0", P_NEW, receive_wait_0ms, UV_ETIMEDOUT},
    {"uva_port_receive_wait", "nothing queued, peer closed", P_PEER_CLOSED, receive_wait, UV_EPIPE},
    {"uva_port_receive_wait", "started port, on its own thread", P_STARTED, receive_wait, UV_EBUSY},
    {"uva_port_receive_wait", NULL, P_OTHER_THREAD, receive_wait, UV_EPERM},
    {"uva_port_receive_wait", NULL, P_CLOSED, receive_wait, UV_EBADF},
    {"uva_port_receive_wait", NULL, P_IN_TRANSIT, receive_wait, UV_EBADF},

    {"uva_port_close", NULL, P_NULL, port_close, UV_EINVAL},
    {"uva_port_close", NULL, P_ZEROED, port_close, UV_EINVAL},
    {"uva_port_close", NULL, P_CLOSING, port_close, UV_EALREADY},
    {"uva_port_close", NULL, P_CLOSED, port_close, UV_EBADF},
    {"uva_port_close", NULL, P_IN_MESSAGE, port_close, UV_EBADF},
    {"uva_port_close", NULL, P_IN_TRANSIT, port_close, UV_EBADF},
    {"uva_port_close", NULL, P_OTHER_THREAD, port_close, UV_EPERM},

    {"uva_port_ref", NULL, P_NULL, port_ref, UV_EINVAL},
    {"uva_port_ref", NULL, P_ZEROED, port_ref, UV_EINVAL},
    {"uva_port_ref", "new port (not started)", P_NEW, port_ref, UV_EINVAL},
    {"uva_port_ref", NULL, P_CLOSED, port_ref, UV_EBADF},
    {"uva_port_ref", NULL, P_IN_TRANSIT, port_ref, UV_EBADF},
    {"uva_port_ref", NULL, P_OTHER_THREAD, port_ref, UV_EPERM},
    {"uva_port_unref", NULL, P_NULL, port_unref, UV_EINVAL},
    {"uva_port_unref", NULL, P_ZEROED, port_unref, UV_EINVAL},
    {"uva_port_unref", "new port (not started)", P_NEW, port_unref, UV_EINVAL},
    {"uva_port_unref", NULL, P_CLOSED, port_unref, UV_EBADF},
    {"uva_port_unref", NULL, P_IN_TRANSIT, port_unref, UV_EBADF},
    {"uva_port_unref", NULL, P_OTHER_THREAD, port_unref, UV_EPERM},
    {"uva_port_has_ref", NULL, P_NULL, port_has_ref, 0},
    {"uva_port_has_ref", NULL, P_ZEROED, port_has_ref, 0},
    {"uva_port_has_ref", "new port (not started)", P_NEW, port_has_ref, 0},
    {"uva_port_has_ref", NULL, P_CLOSED, port_has_ref, 0},

    {"uva_port_pause", NULL, P_NULL, pause_port, UV_EINVAL},
    {"uva_port_pause", NULL, P_ZEROED, pause_port, UV_EINVAL},
    {"uva_port_pause", "new port (not started)", P_NEW, pause_port, UV_EINVAL},
    {"uva_port_pause", NULL, P_STARTED, pause_port, 0},
    {"uva_port_pause", NULL, P_CLOSED, pause_port, UV_EBADF},
    {"uva_port_pause", NULL, P_IN_TRANSIT, pause_port, UV_EBADF},
    {"uva_port_pause", NULL, P_OTHER_THREAD, pause_port, UV_EPERM},

    {"uva_port_resume", NULL, P_NULL, resume_port, UV_EINVAL},
    {"uva_port_resume", NULL, P_ZEROED, resume_port, UV_EINVAL},
    {"uva_port_resume", "new port (not started)", P_NEW, resume_port, UV_EINVAL},
    {"uva_port_resume", NULL, P_STARTED, resume_port, 0},
    {"uva_port_resume", NULL, P_CLOSED, resume_port, UV_EBADF},
    {"uva_port_resume", NULL, P_IN_TRANSIT, resume_port, UV_EBADF},
    {"uva_port_resume", NULL, P_OTHER_THREAD, resume_port, UV_EPERM},

    {"uva_port_set_spin", NULL, P_NULL, set_spin_max, UV_EINVAL},
    {"uva_port_set_spin", "usec 1000001", P_NEW, set_spin_over, UV_EINVAL},
    {"uva_port_set_spin", "usec 1000000 (the largest allowed)", P_NEW, set_spin_max, 0},
    {"uva_port_set_spin", NULL, P_ZEROED, set_spin_max, UV_EINVAL},
    {"uva_port_set_spin", NULL, P_CLOSED, set_spin_max, UV_EBADF},
    {"uva_port_set_spin", NULL, P_IN_TRANSIT, set_spin_max, UV_EBADF},
    {"uva_port_set_spin", NULL, P_OTHER_THREAD, set_spin_over, UV_EPERM},

    {"uva_port_set_limits", NULL, P_NULL, set_limits, UV_EINVAL},
    {"uva_port_set_limits", NULL, P_ZEROED, set_limits, UV_EINVAL},
    {"uva_port_set_limits", NULL, P_CLOSED, set_limits, UV_EBADF},
    {"uva_port_set_limits", NULL, P_IN_TRANSIT, set_limits, UV_EBADF},
    {"uva_port_set_limits", NULL, P_OTHER_THREAD, set_limits, UV_EPERM},

    {"uva_port_admit_oversized", NULL, P_NULL, admit_oversized, UV_EINVAL},
    {"uva_port_admit_oversized", NULL, P_ZEROED, admit_oversized, UV_EINVAL},
    {"uva_port_admit_oversized", NULL, P_NEW, admit_oversized, 0},
    {"uva_port_admit_oversized", NULL, P_CLOSED, admit_oversized, UV_EBADF},
    {"uva_port_admit_oversized", NULL, P_IN_TRANSIT, admit_oversized, UV_EBADF},
    {"uva_port_admit_oversized", NULL, P_OTHER_THREAD, admit_oversized, UV_EPERM},

    {"uva_port_set_max_message", NULL, P_NULL, set_max_message, UV_EINVAL},
    {"uva_port_set_max_message", NULL, P_ZEROED, set_max_message, UV_EINVAL},
    {"uva_port_set_max_message", NULL, P_NEW, set_max_message, 0},
    {"uva_port_set_max_message", NULL, P_CLOSED, set_max_message, UV_EBADF},
    {"uva_port_set_max_message", NULL, P_IN_TRANSIT, set_max_message, UV_EBADF},
    {"uva_port_set_max_message", NULL, P_OTHER_THREAD, set_max_message, UV_EPERM},

    {"uva_port_on_drain", NULL, P_NULL, on_drain_call, UV_EINVAL},
    {"uva_port_on_drain", "drain_cb NULL", P_STARTED, on_drain_null, UV_EINVAL},
    {"uva_port_on_drain", NULL, P_ZEROED, on_drain_call, UV_EINVAL},
    {"uva_port_on_drain", "new port (not started)", P_NEW, on_drain_call, UV_EINVAL},
    {"uva_port_on_drain", NULL, P_CLOSING, on_drain_call, UV_EPIPE},
    {"uva_port_on_drain", NULL, P_STARTED_PEER_CLOSED, on_drain_call, UV_EPIPE},
    {"uva_port_on_drain", NULL, P_CLOSED, on_drain_call, UV_EBADF},
    {"uva_port_on_drain", NULL, P_IN_TRANSIT, on_drain_call, UV_EBADF},
    {"uva_port_on_drain", NULL, P_OTHER_THREAD, on_drain_call, UV_EPERM},

    {"uva_port_on_writable", NULL, P_NULL, on_writable_call, UV_EINVAL},
    {"uva_port_on_writable", "writable_cb NULL", P_STARTED, on_writable_null, UV_EINVAL},
    {"uva_port_on_writable", NULL, P_ZEROED, on_writable_call, UV_EINVAL},
    {"uva_port_on_writable", "new port (not started)", P_NEW, on_writable_call, UV_EINVAL},
    {"uva_port_on_writable", NULL, P_CLOSING, on_writable_call, UV_EPIPE},
    {"uva_port_on_writable", NULL, P_STARTED_PEER_CLOSED, on_writable_call, UV_EPIPE},
    {"uva_port_on_writable", NULL, P_CLOSED, on_writable_call, UV_EBADF},
    {"uva_port_on_writable", NULL, P_IN_TRANSIT, on_writable_call, UV_EBADF},
    {"uva_port_on_writable", NULL, P_OTHER_THREAD, on_writable_call, UV_EPERM},

    {"uva_msg_pack_port", "msg NULL", P_NEW, pack_port_null_msg, UV_EINVAL},
    {"uva_msg_pack_port", NULL, P_NULL, pack_port, UV_EINVAL},
    {"uva_msg_pack_port", NULL, P_ZEROED, pack_port, UV_EINVAL},
    {"uva_msg_pack_port", NULL, P_CLOSING, pack_port, UV_EBADF},
    {"uva_msg_pack_port", NULL, P_CLOSED, pack_port, UV_EBADF},
    {"uva_msg_pack_port", NULL, P_IN_MESSAGE, pack_port, UV_EBADF},
    {"uva_msg_pack_port", NULL, P_IN_TRANSIT, pack_port, UV_EBADF},
    {"uva_msg_pack_port", NULL, P_OTHER_THREAD, pack_port, UV_EPERM},
    {"uva_msg_pack_port", "a port with a call pending", C_PENDING, pack_port, UV_EBUSY},
};

/* ---- bounded ports ------------------------------------------------------------------------------- */

static const row_t limit_rows[] = {
    {"uva_port_post", "peer's queue full (max_messages 1, 1 queued)", P_PEER_FULL, post, UV_EAGAIN},
    {"uva_port_post", "message of 6 bytes over the peer's max_bytes (4)", P_PEER_SMALL, post, UV_E2BIG},
    {"uva_port_post_many", "peer's queue full (max_messages 1, 1 queued)", P_PEER_FULL, post_many, UV_EAGAIN},
    {"uva_port_post_many", "message of 6 bytes over the peer's max_bytes (4)", P_PEER_SMALL, post_many,
     UV_E2BIG},
    {"uva_port_post_wait", "peer's queue full, timeout 0", P_PEER_FULL, post_wait_0ms, UV_ETIMEDOUT},
    {"uva_port_post_wait", "peer's queue full, timeout 10 ms", P_PEER_FULL, post_wait_10ms, UV_ETIMEDOUT},
    {"uva_port_post_wait", "message of 6 bytes over the peer's max_bytes (4)", P_PEER_SMALL, post_wait_10ms,
     UV_E2BIG},
};

/* ---- broadcast (port.h) -------------------------------------------------------------------------- */

static int bc_init_with(const char *name) {
  uva_broadcast_t bc;
  int err = uva_broadcast_init(&bc, name);

  if (err == 0)
    ck_assert_int_eq(uva_broadcast_close(&bc), 0);
  return err;
}

static int bc_init_null(fx_t *fx) {
  (void)fx;
  return uva_broadcast_init(NULL, "uva-test-badinput");
}

static int bc_init_null_name(fx_t *fx) {
  (void)fx;
  return bc_init_with(NULL);
}

static int bc_init_empty_name(fx_t *fx) {
  (void)fx;
  return bc_init_with("");
}

static int bc_init_long_name(fx_t *fx, size_t len) {
  char name[300];

  (void)fx;
  memset(name, 'n', len);
  name[len] = '\0';
  return bc_init_with(name);
}

static int bc_init_256(fx_t *fx) {
  return bc_init_long_name(fx, 256);
}

static int bc_init_255(fx_t *fx) {
  return bc_init_long_name(fx, 255);
}

static int bc_start(fx_t *fx) {
  return uva_broadcast_start(fx->member, fx->loop, on_fx_member_message, NULL);
}

static int bc_start_null_loop(fx_t *fx) {
  return uva_broadcast_start(fx->member, NULL, on_fx_member_message, NULL);
}

static int bc_start_null_cb(fx_t *fx) {
  return uva_broadcast_start(fx->member, fx->loop, NULL, NULL);
}

static int bc_post(fx_t *fx) {
  int err = uva_broadcast_post(fx->member, fx->msg);

  if (err == 0)
    fx->msg = NULL;
  return err;
}

static int bc_post_null_msg(fx_t *fx) {
  return uva_broadcast_post(fx->member, NULL);
}

/* A message that cannot be copied stays the caller's. */
static int bc_post_uncopyable(fx_t *fx, int port) {
  msgpack_object view;
  uva_msg_t *msg = port ? port_msg(fx, &view) : attached_msg(&view);
  size_t size = uva_msg_size(msg);
  int err = uva_broadcast_post(fx->member, msg);

  if (err == 0)
    return 0;
  if (uva_msg_size(msg) != size)
    err = R_VALUE;
  uva_msg_free(msg);
  return err;
}

static int bc_post_buffer(fx_t *fx) {
  return bc_post_uncopyable(fx, 0);
}

static int bc_post_port(fx_t *fx) {
  return bc_post_uncopyable(fx, 1);
}

static int bc_post_bad_body(fx_t *fx) {
  uva_msg_t *msg = raw_msg(bad_byte, sizeof(bad_byte));
  int err = uva_broadcast_post(fx->member, msg);

  if (err != 0)
    uva_msg_free(msg);
  return err;
}

static int bc_close(fx_t *fx) {
  return uva_broadcast_close(fx->member);
}

static int bc_post_wait_ms(fx_t *fx, int64_t timeout_ms) {
  int err = uva_broadcast_post_wait(fx->member, fx->msg, timeout_ms);

  if (err == 0)
    fx->msg = NULL;
  return err;
}

static int bc_post_wait(fx_t *fx) {
  return bc_post_wait_ms(fx, 10);
}

static int bc_post_wait_0ms(fx_t *fx) {
  return bc_post_wait_ms(fx, 0);
}

static int bc_post_wait_null_msg(fx_t *fx) {
  return uva_broadcast_post_wait(fx->member, NULL, 10);
}

static int bc_receive(fx_t *fx) {
  uva_msg_t *msg = NULL;
  int err = uva_broadcast_receive(fx->member, &msg);

  if (err == 0)
    uva_msg_free(msg);
  return err;
}

static int bc_receive_null(fx_t *fx) {
  return uva_broadcast_receive(fx->member, NULL);
}

static int bc_receive_wait_ms(fx_t *fx, int64_t timeout_ms) {
  uva_msg_t *msg = NULL;
  int err = uva_broadcast_receive_wait(fx->member, &msg, timeout_ms);

  if (err == 0)
    uva_msg_free(msg);
  return err;
}

static int bc_receive_wait(fx_t *fx) {
  return bc_receive_wait_ms(fx, 10);
}

static int bc_receive_wait_0ms(fx_t *fx) {
  return bc_receive_wait_ms(fx, 0);
}

static int bc_receive_wait_null(fx_t *fx) {
  return uva_broadcast_receive_wait(fx->member, NULL, 10);
}

static int bc_ref(fx_t *fx) {
  return uva_broadcast_ref(fx->member);
}

static int bc_unref(fx_t *fx) {
  return uva_broadcast_unref(fx->member);
}

static int bc_has_ref(fx_t *fx) {
  return uva_broadcast_has_ref(fx->member) == 0 ? 0 : R_VALUE;
}

static int bc_set_limits(fx_t *fx) {
  return uva_broadcast_set_limits(fx->member, 1, 0);
}

static void on_bc_writable(uva_broadcast_t *bc) {
  (void)bc;
}

static int bc_on_writable(fx_t *fx) {
  return uva_broadcast_on_writable(fx->member, on_bc_writable);
}

static int bc_on_writable_null(fx_t *fx) {
  return uva_broadcast_on_writable(fx->member, NULL);
}

static const row_t broadcast_rows[] = {
    {"uva_broadcast_init", "bc NULL", S_NONE, bc_init_null, UV_EINVAL},
    {"uva_broadcast_init", "name NULL", S_NONE, bc_init_null_name, UV_EINVAL},
    {"uva_broadcast_init", "name \"\"", S_NONE, bc_init_empty_name, UV_EINVAL},
    {"uva_broadcast_init", "name of 256 bytes", S_NONE, bc_init_256, UV_EINVAL},
    {"uva_broadcast_init", "name of 255 bytes (the longest allowed)", S_NONE, bc_init_255, 0},

    {"uva_broadcast_start", NULL, B_NULL, bc_start, UV_EINVAL},
    {"uva_broadcast_start", "loop NULL", B_NEW, bc_start_null_loop, UV_EINVAL},
    {"uva_broadcast_start", "message_cb NULL", B_NEW, bc_start_null_cb, UV_EINVAL},
    {"uva_broadcast_start", NULL, B_ZEROED, bc_start, UV_EINVAL},
    {"uva_broadcast_start", NULL, B_STARTED, bc_start, UV_EBUSY},
    {"uva_broadcast_start", NULL, B_CLOSING, bc_start, UV_EBUSY},
    {"uva_broadcast_start", NULL, B_CLOSED, bc_start, UV_EBADF},
    {"uva_broadcast_start", NULL, B_LOOP_TAKEN, bc_start, UV_EPERM},

    {"uva_broadcast_post", NULL, B_NULL, bc_post, UV_EINVAL},
    {"uva_broadcast_post", "msg NULL", B_NEW, bc_post_null_msg, UV_EINVAL},
    {"uva_broadcast_post", NULL, B_ZEROED, bc_post, UV_EINVAL},
    {"uva_broadcast_post", "msg carries a moved buffer", B_NEW, bc_post_buffer, UV_EINVAL},
    {"uva_broadcast_post", "msg carries a port", B_NEW, bc_post_port, UV_EINVAL},
    {"uva_broadcast_post", "body: byte 0xc1", B_NEW, bc_post_bad_body, UVA_EBADBYTE},
    {"uva_broadcast_post", NULL, B_CLOSING, bc_post, UV_EBADF},
    {"uva_broadcast_post", NULL, B_CLOSED, bc_post, UV_EBADF},
    {"uva_broadcast_post", "from a second thread, member started on this one's loop (allowed)",
     B_OTHER_THREAD, bc_post, 0},

    {"uva_broadcast_close", NULL, B_NULL, bc_close, UV_EINVAL},
    {"uva_broadcast_close", NULL, B_ZEROED, bc_close, UV_EINVAL},
    {"uva_broadcast_close", NULL, B_CLOSING, bc_close, UV_EALREADY},
    {"uva_broadcast_close", NULL, B_CLOSED, bc_close, UV_EBADF},
    {"uva_broadcast_close", NULL, B_OTHER_THREAD, bc_close, UV_EPERM},

    {"uva_broadcast_receive", NULL, B_NULL, bc_receive, UV_EINVAL},
    {"uva_broadcast_receive", "msgp NULL", B_NEW, bc_receive_null, UV_EINVAL},
    {"uva_broadcast_receive", NULL, B_ZEROED, bc_receive, UV_EINVAL},
    {"uva_broadcast_receive", "nothing queued", B_NEW, bc_receive, UV_EAGAIN},
    {"uva_broadcast_receive", "nothing queued, member closing", B_CLOSING, bc_receive, UV_EPIPE},
    {"uva_broadcast_receive", NULL, B_CLOSED, bc_receive, UV_EBADF},
    {"uva_broadcast_receive", NULL, B_OTHER_THREAD, bc_receive, UV_EPERM},

    {"uva_broadcast_receive_wait", NULL, B_NULL, bc_receive_wait, UV_EINVAL},
    {"uva_broadcast_receive_wait", "msgp NULL", B_NEW, bc_receive_wait_null, UV_EINVAL},
    {"uva_broadcast_receive_wait", NULL, B_ZEROED, bc_receive_wait, UV_EINVAL},
    {"uva_broadcast_receive_wait", "nothing queued, 10 ms", B_NEW, bc_receive_wait, UV_ETIMEDOUT},
    {"uva_broadcast_receive_wait", "nothing queued, timeout 0", B_NEW, bc_receive_wait_0ms, UV_ETIMEDOUT},
    {"uva_broadcast_receive_wait", "started member, on its own thread", B_STARTED, bc_receive_wait, UV_EBUSY},
    {"uva_broadcast_receive_wait", NULL, B_CLOSING, bc_receive_wait, UV_EBUSY},
    {"uva_broadcast_receive_wait", NULL, B_OTHER_THREAD, bc_receive_wait, UV_EPERM},
    {"uva_broadcast_receive_wait", NULL, B_CLOSED, bc_receive_wait, UV_EBADF},

    {"uva_broadcast_ref", NULL, B_NULL, bc_ref, UV_EINVAL},
    {"uva_broadcast_ref", NULL, B_ZEROED, bc_ref, UV_EINVAL},
    {"uva_broadcast_ref", "new member (not started)", B_NEW, bc_ref, UV_EINVAL},
    {"uva_broadcast_ref", NULL, B_CLOSED, bc_ref, UV_EBADF},
    {"uva_broadcast_ref", NULL, B_OTHER_THREAD, bc_ref, UV_EPERM},
    {"uva_broadcast_unref", NULL, B_NULL, bc_unref, UV_EINVAL},
    {"uva_broadcast_unref", NULL, B_ZEROED, bc_unref, UV_EINVAL},
    {"uva_broadcast_unref", "new member (not started)", B_NEW, bc_unref, UV_EINVAL},
    {"uva_broadcast_unref", NULL, B_CLOSED, bc_unref, UV_EBADF},
    {"uva_broadcast_unref", NULL, B_OTHER_THREAD, bc_unref, UV_EPERM},
    {"uva_broadcast_has_ref", NULL, B_NULL, bc_has_ref, 0},
    {"uva_broadcast_has_ref", NULL, B_ZEROED, bc_has_ref, 0},
    {"uva_broadcast_has_ref", "new member (not started)", B_NEW, bc_has_ref, 0},
    {"uva_broadcast_has_ref", NULL, B_CLOSED, bc_has_ref, 0},
};

/* ---- bounded broadcast members ------------------------------------------------------------------- */

static const row_t broadcast_limit_rows[] = {
    {"uva_broadcast_post", NULL, B_OTHER_FULL, bc_post, UV_EAGAIN},
    {"uva_broadcast_post", NULL, B_OTHER_SMALL, bc_post, UV_E2BIG},

    {"uva_broadcast_post_wait", NULL, B_NULL, bc_post_wait, UV_EINVAL},
    {"uva_broadcast_post_wait", "msg NULL", B_NEW, bc_post_wait_null_msg, UV_EINVAL},
    {"uva_broadcast_post_wait", NULL, B_ZEROED, bc_post_wait, UV_EINVAL},
    {"uva_broadcast_post_wait", NULL, B_CLOSING, bc_post_wait, UV_EBADF},
    {"uva_broadcast_post_wait", NULL, B_CLOSED, bc_post_wait, UV_EBADF},
    {"uva_broadcast_post_wait", "another member's queue full, timeout 0", B_OTHER_FULL, bc_post_wait_0ms,
     UV_ETIMEDOUT},
    {"uva_broadcast_post_wait", "another member's queue full, timeout 10 ms", B_OTHER_FULL, bc_post_wait,
     UV_ETIMEDOUT},
    {"uva_broadcast_post_wait", NULL, B_OTHER_SMALL, bc_post_wait, UV_E2BIG},
    {"uva_broadcast_post_wait", "from a second thread, member started on this one's loop (allowed)",
     B_OTHER_THREAD, bc_post_wait, 0},

    {"uva_broadcast_set_limits", NULL, B_NULL, bc_set_limits, UV_EINVAL},
    {"uva_broadcast_set_limits", NULL, B_ZEROED, bc_set_limits, UV_EINVAL},
    {"uva_broadcast_set_limits", NULL, B_CLOSED, bc_set_limits, UV_EBADF},
    {"uva_broadcast_set_limits", NULL, B_OTHER_THREAD, bc_set_limits, UV_EPERM},
    {"uva_broadcast_set_limits", "new member (allowed)", B_NEW, bc_set_limits, 0},

    {"uva_broadcast_on_writable", NULL, B_NULL, bc_on_writable, UV_EINVAL},
    {"uva_broadcast_on_writable", "writable_cb NULL", B_STARTED, bc_on_writable_null, UV_EINVAL},
    {"uva_broadcast_on_writable", NULL, B_ZEROED, bc_on_writable, UV_EINVAL},
    {"uva_broadcast_on_writable", "new member (not started)", B_NEW, bc_on_writable, UV_EINVAL},
    {"uva_broadcast_on_writable", NULL, B_CLOSING, bc_on_writable, UV_EBADF},
    {"uva_broadcast_on_writable", NULL, B_CLOSED, bc_on_writable, UV_EBADF},
    {"uva_broadcast_on_writable", NULL, B_OTHER_THREAD, bc_on_writable, UV_EPERM},
};

const table_t port_table = TABLE("Ports", port_rows);
const table_t limit_table = TABLE("Bounded ports", limit_rows);
const table_t broadcast_table = TABLE("Broadcast channels", broadcast_rows);
const table_t broadcast_limit_table = TABLE("Bounded broadcast members", broadcast_limit_rows);
