/* The bad-input rows of include/uvactor/call.h: calls, their cancel, the loop-less call, and answers. Run by
 * tests/test_badinput.c, which also shows them in docs/errors.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "badinput.h"
#include "run_until.h"

/* ---- calls (call.h) ------------------------------------------------------------------------------ */

/* A request owed an answer: p (started on the fixture's loop) calls q, which hands the request out. The
 * call completes when the request is answered or freed, or the fixture closes p. */
static uva_msg_t *make_request(fx_t *fx) {
  uva_msg_t *request;

  ck_assert_int_eq(uva_channel_init(&fx->p, &fx->q), 0);
  fx->requests = 1;
  fx->p.data = fx->q.data = fx;
  ck_assert_int_eq(uva_port_start(&fx->p, fx->loop, on_fx_message, NULL), 0);
  fx->req_call.data = fx;
  ck_assert_int_eq(uva_port_call(&fx->p, &fx->req_call, body_msg(), UVA_WAIT_FOREVER, on_fx_call), 0);
  ck_assert_int_eq(uva_port_receive(&fx->q, &request), 0);
  ck_assert(uva_msg_is_call(request));
  return request;
}

/* port_call: the request (the fixture's message) is consumed only on success. */
static int call_on(fx_t *fx, uva_msg_t *request) {
  int err = uva_port_call(fx->port, fx->call_p, request, UVA_WAIT_FOREVER, on_fx_call);

  if (err == 0 && request == fx->msg)
    fx->msg = NULL;
  return err;
}

static int port_call(fx_t *fx) {
  return call_on(fx, fx->msg);
}

static int port_call_null_call(fx_t *fx) {
  fx->call_p = NULL;
  return call_on(fx, fx->msg);
}

static int port_call_null_request(fx_t *fx) {
  return call_on(fx, NULL);
}

static int port_call_null_cb(fx_t *fx) {
  return uva_port_call(fx->port, &fx->call, fx->msg, UVA_WAIT_FOREVER, NULL);
}

static int port_call_empty_body(fx_t *fx) {
  uva_msg_t *msg = raw_msg(NULL, 0);
  int err = call_on(fx, msg);

  if (err != 0)
    uva_msg_free(msg);
  return err;
}

/* A request owed an answer cannot be the request of a new call (it stays one). */
static int port_call_with_request(fx_t *fx) {
  uva_msg_t *request = make_request(fx);
  int err = call_on(fx, request);

  if (err != 0 && !uva_msg_is_call(request))
    err = R_VALUE;
  if (err != 0)
    uva_msg_free(request);
  return err;
}

/* The request carries the receiving port b. */
static int port_call_carrying_peer(fx_t *fx) {
  uva_msg_t *msg;
  int err;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  ck_assert_int_eq(uva_msg_pack_port(msg, &fx->b), 0);
  fx->peer_spent = 1;
  err = call_on(fx, msg);
  if (err != 0)
    uva_msg_free(msg); /* closes b */
  return err;
}

/* call_wait: the request is consumed on success and on every status of a call, UV_EPIPE included; not when
 * the post refused it. */
static int call_wait_with(fx_t *fx, uva_port_t *port, uva_msg_t *request, int64_t timeout_ms,
                          uva_msg_t **reply) {
  int err = uva_port_call_wait(port, request, timeout_ms, reply);

  if (request == fx->msg && (err >= 0 || err == UV_EPIPE || err == UV_ETIMEDOUT || err == UV_ECONNRESET))
    fx->msg = NULL;
  if (err >= 0 && reply != NULL)
    uva_msg_free(*reply);
  return err;
}

static int call_wait_10ms(fx_t *fx) {
  uva_msg_t *reply;
  return call_wait_with(fx, fx->port, fx->msg, 10, &reply);
}

static int call_wait_0ms(fx_t *fx) {
  uva_msg_t *reply;
  return call_wait_with(fx, fx->port, fx->msg, 0, &reply);
}

static int call_wait_null_request(fx_t *fx) {
  uva_msg_t *reply;
  return call_wait_with(fx, fx->port, NULL, 10, &reply);
}

static int call_wait_null_reply(fx_t *fx) {
  return call_wait_with(fx, fx->port, fx->msg, 10, NULL);
}

static int call_wait_empty_body(fx_t *fx) {
  uva_msg_t *msg = raw_msg(NULL, 0);
  uva_msg_t *reply;
  int err = call_wait_with(fx, fx->port, msg, 10, &reply);

  if (err != 0)
    uva_msg_free(msg);
  return err;
}

static int call_wait_with_request(fx_t *fx) {
  uva_msg_t *request = make_request(fx);
  uva_msg_t *reply;
  int err = call_wait_with(fx, fx->port, request, 10, &reply);

  if (err == UV_EINVAL && uva_msg_is_call(request))
    uva_msg_free(request);
  else
    err = R_VALUE;
  return err;
}

/* A handle whose call is pending (C_PENDING, on a): refused, and that call goes on, a cancel still finds it
 * pending. */
static int port_call_pending_handle(fx_t *fx) {
  int err = uva_port_call(&fx->a, fx->call_p, fx->msg, UVA_WAIT_FOREVER, on_fx_call);

  if (err == 0)
    return err;
  if (uva_call_cancel(fx->call_p) != 0 || !run_until(fx->loop, &fx->calls_done, 1))
    return R_VALUE;
  return err;
}

typedef struct {
  uva_port_t *port;
  int result;
} waiter_t;

static void waiter_thread(void *arg) {
  waiter_t *w = arg;
  uva_msg_t *reply;

  w->result = uva_port_call_wait(w->port, body_msg(), 10000, &reply);
  if (w->result >= 0)
    uva_msg_free(reply);
}

/* Another thread waits in a call on the port (its request is on the peer's queue) when this one calls. */
static int call_wait_while_another_waits(fx_t *fx) {
  waiter_t w = {fx->port, 1};
  uv_thread_t thread;
  uva_msg_t *request;
  int err;

  ck_assert_int_eq(uv_thread_create(&thread, waiter_thread, &w), 0);
  ck_assert_int_eq(uva_port_receive_wait(&fx->b, &request, 10000), 0);
  err = call_wait_0ms(fx);
  ck_assert_int_eq(uva_msg_reply(request, body_msg()), 0);
  uva_msg_free(request);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  return w.result == 0 ? err : R_VALUE;
}

static int call_cancel(fx_t *fx) {
  return uva_call_cancel(fx->call_p);
}

static int msg_is_call_null(fx_t *fx) {
  (void)fx;
  return uva_msg_is_call(NULL) == 0 ? 0 : R_VALUE;
}

static int msg_is_call_plain(fx_t *fx) {
  return uva_msg_is_call(fx->msg) == 0 ? 0 : R_VALUE;
}

static int msg_is_call_answered(fx_t *fx) {
  uva_msg_t *request = make_request(fx);
  int is;

  ck_assert_int_eq(uva_msg_reply(request, body_msg()), 0);
  is = uva_msg_is_call(request);
  uva_msg_free(request);
  return is == 0 ? 0 : R_VALUE;
}

/* reply: the reply (the fixture's message) is consumed only on success; the request stays the caller's. */
enum { RQ_NONE, RQ_PLAIN, RQ_REQUEST, RQ_ANSWERED, RQ_CLOSED };

static int reply_case(fx_t *fx, int request_kind, uva_msg_t *reply) {
  uva_msg_t *request = NULL;
  int err;

  if (request_kind == RQ_PLAIN)
    request = body_msg();
  else if (request_kind != RQ_NONE)
    request = make_request(fx);
  if (request_kind == RQ_ANSWERED)
    ck_assert_int_eq(uva_msg_reply(request, body_msg()), 0);
  if (request_kind == RQ_CLOSED)
    ck_assert_int_eq(uva_port_close(&fx->q), 0); /* q was never started: the channel is closed now */
  err = uva_msg_reply(request, reply);
  if (err == 0 && reply == fx->msg)
    fx->msg = NULL;
  else if (err != 0 && reply != fx->msg && reply != request)
    uva_msg_free(reply);
  uva_msg_free(request);
  return err;
}

static int reply_null_request(fx_t *fx) {
  return reply_case(fx, RQ_NONE, fx->msg);
}
static int reply_null_reply(fx_t *fx) {
  return reply_case(fx, RQ_REQUEST, NULL);
}
static int reply_plain(fx_t *fx) {
  return reply_case(fx, RQ_PLAIN, fx->msg);
}
static int reply_answered(fx_t *fx) {
  return reply_case(fx, RQ_ANSWERED, fx->msg);
}
static int reply_closed(fx_t *fx) {
  return reply_case(fx, RQ_CLOSED, fx->msg);
}
static int reply_ok(fx_t *fx) {
  return reply_case(fx, RQ_REQUEST, fx->msg);
}
static int reply_empty_body(fx_t *fx) {
  return reply_case(fx, RQ_REQUEST, raw_msg(NULL, 0));
}
static int reply_failed_pack(fx_t *fx) {
  return reply_case(fx, RQ_REQUEST, failed_pack_msg());
}

static int reply_itself(fx_t *fx) {
  uva_msg_t *request = make_request(fx);
  int err = uva_msg_reply(request, request);

  uva_msg_free(request);
  return err;
}

static int reply_with_request(fx_t *fx) {
  uva_msg_t *request = make_request(fx);
  uva_msg_t *other;
  uva_call_t call2;
  int err;

  call2.data = fx;
  ck_assert_int_eq(uva_port_call(&fx->p, &call2, body_msg(), UVA_WAIT_FOREVER, on_fx_call), 0);
  ck_assert_int_eq(uva_port_receive(&fx->q, &other), 0);
  err = uva_msg_reply(request, other);
  uva_msg_free(other);
  uva_msg_free(request);
  ck_assert(run_until(fx->loop, &fx->calls_done, 2)); /* call2 is on this stack */
  return err;
}

/* The reply carries the port q in whose queue the caller's port p travels: it could never be taken. */
static int reply_would_loop(fx_t *fx) {
  uva_msg_t *request = make_request(fx);
  uva_msg_t *carrier;
  uva_msg_t *reply;
  int err;

  ck_assert_int_eq(uva_call_cancel(&fx->req_call), 0);
  ck_assert(run_until(fx->loop, &fx->calls_done, 1)); /* no call pending: p can travel */
  ck_assert_int_eq(uva_msg_new(&carrier), 0);
  ck_assert_int_eq(uva_msg_pack_port(carrier, &fx->p), 0);
  ck_assert_int_eq(uva_port_post(&fx->x, carrier), 0); /* queued to y */
  fx->transit = 1;
  ck_assert_int_eq(uva_msg_new(&reply), 0);
  ck_assert_int_eq(uva_msg_pack_port(reply, &fx->y), 0);
  err = uva_msg_reply(request, reply);
  if (err != 0)
    uva_msg_free(reply); /* closes y, and with it the carrier and p */
  uva_msg_free(request);
  return err;
}

static int reply_would_loop_fx(fx_t *fx) {
  ck_assert_int_eq(uva_channel_init(&fx->x, &fx->y), 0);
  return reply_would_loop(fx);
}

static int reply_error_case(fx_t *fx, int request_kind, int code, const char *text) {
  uva_msg_t *request = NULL;
  int err;

  if (request_kind == RQ_PLAIN)
    request = body_msg();
  else if (request_kind != RQ_NONE)
    request = make_request(fx);
  if (request_kind == RQ_ANSWERED)
    ck_assert_int_eq(uva_msg_reply(request, body_msg()), 0);
  if (request_kind == RQ_CLOSED)
    ck_assert_int_eq(uva_port_close(&fx->q), 0);
  err = uva_msg_reply_error(request, code, text);
  uva_msg_free(request);
  return err;
}

static int reply_error_null(fx_t *fx) {
  return reply_error_case(fx, RQ_NONE, 1, "text");
}
static int reply_error_code_0(fx_t *fx) {
  return reply_error_case(fx, RQ_REQUEST, 0, "text");
}
static int reply_error_code_neg(fx_t *fx) {
  return reply_error_case(fx, RQ_REQUEST, UV_EIO, "text");
}
static int reply_error_plain(fx_t *fx) {
  return reply_error_case(fx, RQ_PLAIN, 1, "text");
}
static int reply_error_answered(fx_t *fx) {
  return reply_error_case(fx, RQ_ANSWERED, 1, "text");
}
static int reply_error_closed(fx_t *fx) {
  return reply_error_case(fx, RQ_CLOSED, 1, "text");
}
static int reply_error_null_text(fx_t *fx) {
  return reply_error_case(fx, RQ_REQUEST, 1, NULL);
}

static int reply_error_huge_text(fx_t *fx) {
  size_t len = ((size_t)64 << 20) + 1;
  char *text = malloc(len + 1);
  int err;

  ck_assert_ptr_nonnull(text);
  memset(text, 't', len);
  text[len] = '\0';
  err = reply_error_case(fx, RQ_REQUEST, 1, text);
  free(text);
  return err;
}

static const row_t call_rows[] = {
    {"uva_port_call", NULL, P_NULL, port_call, UV_EINVAL},
    {"uva_port_call", "call NULL", P_STARTED, port_call_null_call, UV_EINVAL},
    {"uva_port_call", "request NULL", P_STARTED, port_call_null_request, UV_EINVAL},
    {"uva_port_call", "cb NULL", P_STARTED, port_call_null_cb, UV_EINVAL},
    {"uva_port_call", NULL, P_ZEROED, port_call, UV_EINVAL},
    {"uva_port_call", "new port (not started)", P_NEW, port_call, UV_EINVAL},
    {"uva_port_call", "request owed an answer (it stays one)", P_STARTED, port_call_with_request, UV_EINVAL},
    {"uva_port_call", "request: empty body", P_STARTED, port_call_empty_body, UVA_ETRUNC},
    {"uva_port_call", "request carries the receiving port", P_STARTED, port_call_carrying_peer, UV_ELOOP},
    {"uva_port_call", "call pending (it goes on)", C_PENDING, port_call_pending_handle, UV_EBUSY},
    {"uva_port_call", NULL, P_OTHER_THREAD, port_call, UV_EPERM},
    {"uva_port_call", NULL, P_CLOSING, port_call, UV_EPIPE},
    {"uva_port_call", NULL, P_STARTED_PEER_CLOSED, port_call, UV_EPIPE},
    {"uva_port_call", NULL, P_STARTED_PEER_FULL, port_call, UV_EAGAIN},
    {"uva_port_call", NULL, P_STARTED_PEER_SMALL, port_call, UV_E2BIG},
    {"uva_port_call", NULL, P_CLOSED, port_call, UV_EBADF},
    {"uva_port_call", NULL, P_IN_MESSAGE, port_call, UV_EBADF},
    {"uva_port_call", NULL, P_IN_TRANSIT, port_call, UV_EBADF},
    {"uva_port_call", "started port (allowed)", P_STARTED, port_call, 0},

    {"uva_call_cancel", NULL, C_NULL, call_cancel, UV_EINVAL},
    {"uva_call_cancel", NULL, C_ZEROED, call_cancel, UV_EINVAL},
    {"uva_call_cancel", NULL, C_OTHER_THREAD, call_cancel, UV_EPERM},
    {"uva_call_cancel", NULL, C_DUE, call_cancel, UV_EALREADY},
    {"uva_call_cancel", NULL, C_DONE, call_cancel, UV_EALREADY},
    {"uva_call_cancel", "pending call (allowed)", C_PENDING, call_cancel, 0},

    {"uva_port_call_wait", NULL, P_NULL, call_wait_10ms, UV_EINVAL},
    {"uva_port_call_wait", "request NULL", P_NEW, call_wait_null_request, UV_EINVAL},
    {"uva_port_call_wait", "reply NULL", P_NEW, call_wait_null_reply, UV_EINVAL},
    {"uva_port_call_wait", NULL, P_ZEROED, call_wait_10ms, UV_EINVAL},
    {"uva_port_call_wait", "request owed an answer (it stays one)", P_NEW, call_wait_with_request, UV_EINVAL},
    {"uva_port_call_wait", "request: empty body", P_NEW, call_wait_empty_body, UVA_ETRUNC},
    {"uva_port_call_wait", "started port, on its own thread", P_STARTED, call_wait_10ms, UV_EBUSY},
    {"uva_port_call_wait", "another thread waits in one on port", P_NEW, call_wait_while_another_waits,
     UV_EBUSY},
    {"uva_port_call_wait", NULL, P_OTHER_THREAD, call_wait_10ms, UV_EPERM},
    {"uva_port_call_wait", "peer's queue full (max_messages 1, 1 queued)", P_PEER_FULL, call_wait_10ms,
     UV_EAGAIN},
    {"uva_port_call_wait", "request over the peer's max_bytes", P_PEER_SMALL, call_wait_10ms, UV_E2BIG},
    {"uva_port_call_wait", "peer closed (the request is consumed)", P_PEER_CLOSED, call_wait_10ms, UV_EPIPE},
    {"uva_port_call_wait", NULL, P_CLOSED, call_wait_10ms, UV_EBADF},
    {"uva_port_call_wait", NULL, P_IN_TRANSIT, call_wait_10ms, UV_EBADF},
    {"uva_port_call_wait", "nobody answers, 10 ms (the request is consumed)", P_NEW, call_wait_10ms,
     UV_ETIMEDOUT},
    {"uva_port_call_wait", "nobody answers, timeout 0 (the request is consumed)", P_NEW, call_wait_0ms,
     UV_ETIMEDOUT},

    {"uva_msg_is_call", "msg NULL", S_NONE, msg_is_call_null, 0},
    {"uva_msg_is_call", "a plain message", S_NONE, msg_is_call_plain, 0},
    {"uva_msg_is_call", "a request answered", S_NONE, msg_is_call_answered, 0},

    {"uva_msg_reply", "request NULL", S_NONE, reply_null_request, UV_EINVAL},
    {"uva_msg_reply", "reply NULL", S_NONE, reply_null_reply, UV_EINVAL},
    {"uva_msg_reply", "reply == request", S_NONE, reply_itself, UV_EINVAL},
    {"uva_msg_reply", "request is a plain message", S_NONE, reply_plain, UV_EINVAL},
    {"uva_msg_reply", "reply is a request owed an answer", S_NONE, reply_with_request, UV_EINVAL},
    {"uva_msg_reply", "request answered before", S_NONE, reply_answered, UV_EALREADY},
    {"uva_msg_reply", "the caller's channel closed", S_NONE, reply_closed, UV_EPIPE},
    {"uva_msg_reply", "reply: empty body", S_NONE, reply_empty_body, UVA_ETRUNC},
    {"uva_msg_reply", "reply: a pack that could not grow the body", S_NONE, reply_failed_pack, UV_ENOMEM},
    {"uva_msg_reply", "reply carries the port whose queue holds the caller's port", S_NONE,
     reply_would_loop_fx, UV_ELOOP},
    {"uva_msg_reply", "a request (allowed)", S_NONE, reply_ok, 0},

    {"uva_msg_reply_error", "request NULL", S_NONE, reply_error_null, UV_EINVAL},
    {"uva_msg_reply_error", "code 0", S_NONE, reply_error_code_0, UV_EINVAL},
    {"uva_msg_reply_error", "code UV_EIO (negative)", S_NONE, reply_error_code_neg, UV_EINVAL},
    {"uva_msg_reply_error", "request is a plain message", S_NONE, reply_error_plain, UV_EINVAL},
    {"uva_msg_reply_error", "request answered before", S_NONE, reply_error_answered, UV_EALREADY},
    {"uva_msg_reply_error", "the caller's channel closed", S_NONE, reply_error_closed, UV_EPIPE},
    {"uva_msg_reply_error", "text of 64 MiB + 1 bytes (over the default body limit)", S_NONE,
     reply_error_huge_text, UV_E2BIG},
    {"uva_msg_reply_error", "text NULL (allowed: empty)", S_NONE, reply_error_null_text, 0},
};

const table_t call_table = TABLE("Calls", call_rows);
