/* The bad-input table: every public function called with what it must refuse, against the code its header
 * documents.
 *
 * Each row names a function, the input that is wrong, the handle it gets (a fixture state: NULL, zeroed and
 * never initialized, closed, transferred, in transit, started on another thread's loop...), a small call
 * function and the documented result. The runner builds a fresh fixture per row, makes the call (from a
 * second thread where the state says so), compares the result, and then checks what the contract says
 * stays the caller's: a message a failed post, broadcast or spawn did not consume must still post, whole,
 * on another channel; a port a failed call did not change must still deliver. Then everything the row made
 * is closed, its loop run until empty and closed (uv_loop_close() == 0). Leaks and double frees are found
 * by running this suite under valgrind and ASan. One Check test per area; a test reports every row of its
 * area that failed, not only the first.
 *
 * docs/errors.md shows these tables. When you change a row, regenerate its tables with
 *     UVA_ERRORS_MD=$srcdir/docs/errors.md tests/test_badinput
 * (the section between the "generated" markers is rewritten); test_docs_in_sync fails until you do.
 *
 * Never touches libuv's threadpool (libuv#4443): uva_pool_init() is only called with sizes it refuses. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvactor.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define HANG_GUARD_MS 10000
#include "run_until.h"

/* Results that are not error codes, for functions that return a pointer, a size or nothing. */
#define R_NULL 1    /* returned NULL */
#define R_VALUE 2   /* returned something else */
#define R_NOTHING 3 /* a void function: returned, and nothing happened */

/* ---- fixtures ------------------------------------------------------------------------------------ */

/* The handle a row's call gets. */
typedef enum {
  S_NONE, /* the call makes what it needs (a channel a-b and a message exist, as in every fixture) */
  /* ports: the port under test is a, its peer b */
  P_NULL,                /* NULL */
  P_ZEROED,              /* a zeroed uva_port_t, never initialized */
  P_NEW,                 /* new, not started */
  P_STARTED,             /* started on this thread's loop */
  P_OTHER_THREAD,        /* started on this thread's loop; the call is made from a second thread */
  P_LOOP_TAKEN,          /* new; its peer is started on this thread's loop; the call is made from a second
                            thread, with that loop */
  P_CLOSING,             /* started, then closed: its close callback has not run yet */
  P_PEER_CLOSED,         /* new; its peer was closed */
  P_STARTED_PEER_CLOSED, /* started; its peer was closed */
  P_CLOSED,              /* closed */
  P_IN_MESSAGE,          /* packed into a message that is not posted yet: the handle is spent */
  P_IN_TRANSIT,          /* packed into a message that was posted and not taken yet: the handle is spent */
  P_PEER_FULL,           /* new; its peer is bounded to 1 message and holds 1 */
  P_PEER_SMALL,          /* new; its peer is bounded to 4 bytes (the message has 6) */
  P_STARTED_PEER_FULL,   /* started; its peer is bounded to 1 message and holds 1 */
  P_STARTED_PEER_SMALL,  /* started; its peer is bounded to 4 bytes */
  /* calls: a call made through the started port a, to b (new, never answering) */
  C_NULL,
  C_ZEROED,       /* a zeroed uva_call_t, never used */
  C_PENDING,      /* pending */
  C_OTHER_THREAD, /* pending; the call is made from a second thread */
  C_DUE,          /* cancelled: its callback is due, not run yet */
  C_DONE,         /* its callback ran */
  /* broadcast members: the member under test is bc, another member of its group bc2 */
  B_NULL,
  B_ZEROED,
  B_NEW,
  B_STARTED,
  B_OTHER_THREAD,
  B_LOOP_TAKEN, /* new; bc2 is started on this thread's loop; the call is made from a second thread */
  B_CLOSING,
  B_OTHER_FULL,  /* new; bc2 is bounded to 1 message and holds 1 */
  B_OTHER_SMALL, /* new; bc2 is bounded to 4 bytes (the message has 6) */
  B_CLOSED,
  /* actors */
  A_NULL,
  A_ZEROED,
  A_LOOP,              /* spawned with this thread's loop, running (until terminated) */
  A_LOOP_OTHER_THREAD, /* the same; the call is made from a second thread */
  A_LOOP_EXITED,       /* spawned with this thread's loop; its exit callback ran */
  A_LOOP_TAKEN,        /* no actor; a port is started on this thread's loop; the call is made from a second
                          thread, with that loop */
  A_LOOPLESS,          /* spawned without a loop, running (until terminated) */
  A_JOINED,            /* spawned without a loop, ended and joined */
} state_t;

static const char *const state_text[] = {
    [P_NULL] = "port NULL",
    [P_ZEROED] = "zeroed port, never initialized",
    [P_NEW] = "new port",
    [P_STARTED] = "started port",
    [P_OTHER_THREAD] = "port started on another thread's loop",
    [P_LOOP_TAKEN] = "loop run by another thread",
    [P_CLOSING] = "closing port (close callback not run yet)",
    [P_PEER_CLOSED] = "new port whose peer closed",
    [P_STARTED_PEER_CLOSED] = "started port whose peer closed",
    [P_CLOSED] = "closed port",
    [P_IN_MESSAGE] = "transferred port (spent handle, message not posted)",
    [P_IN_TRANSIT] = "port in transit (spent handle, message posted, not taken)",
    [P_STARTED_PEER_FULL] = "started port, peer's queue full (max_messages 1, 1 queued)",
    [P_STARTED_PEER_SMALL] = "started port, message of 6 bytes over the peer's max_bytes (4)",
    [C_NULL] = "call NULL",
    [C_ZEROED] = "zeroed call, never made",
    [C_PENDING] = "pending call",
    [C_OTHER_THREAD] = "pending call of another thread's loop",
    [C_DUE] = "cancelled call, callback not run yet",
    [C_DONE] = "completed call (callback ran)",
    [B_NULL] = "bc NULL",
    [B_ZEROED] = "zeroed member, never initialized",
    [B_NEW] = "new member",
    [B_STARTED] = "started member",
    [B_OTHER_THREAD] = "member started on another thread's loop",
    [B_LOOP_TAKEN] = "loop run by another thread",
    [B_CLOSING] = "closing member (close callback not run yet)",
    [B_OTHER_FULL] = "another member's queue full (max_messages 1, 1 queued)",
    [B_OTHER_SMALL] = "message of 6 bytes over another member's max_bytes (4)",
    [B_CLOSED] = "closed member",
    [A_NULL] = "actor NULL",
    [A_ZEROED] = "zeroed actor, never spawned",
    [A_LOOP] = "actor spawned with a loop",
    [A_LOOP_OTHER_THREAD] = "actor of another thread's loop",
    [A_LOOP_EXITED] = "actor whose exit callback ran",
    [A_LOOP_TAKEN] = "loop run by another thread",
    [A_LOOPLESS] = "actor spawned without a loop, running",
    [A_JOINED] = "actor joined",
};

typedef struct {
  state_t state;
  uv_loop_t *loop;
  uva_port_t a, b;    /* the channel every fixture has */
  uva_port_t x, y;    /* P_IN_TRANSIT: the channel the carrier travels on */
  int transit;        /* x and y were made */
  uva_msg_t *carrier; /* P_IN_MESSAGE: the message that holds a */
  uva_port_t zeroed_port;
  uva_broadcast_t bc, bc2;
  uva_broadcast_t zeroed_bc;
  int members;         /* bc and bc2 were made */
  uva_call_t call;     /* C_*: the call under test */
  uva_call_t *call_p;  /* what the call gets */
  int calls_done;      /* call callbacks run */
  uva_port_t p, q;     /* a channel whose p calls and q hands out the request (make_request()) */
  uva_call_t req_call; /* p's call */
  int requests;        /* p and q were made */
  int peer_spent;      /* the row used b up: the channel a-b is not checked afterwards */
  uva_actor_t actor;
  uva_actor_t zeroed_actor;
  int actor_state;  /* 0: none, 1: spawned with the loop, 2: spawned without */
  int exited;       /* exit callbacks run */
  int delivered;    /* messages a, b, bc or bc2 received on the loop */
  int other_thread; /* the call is made from a second thread */
  uva_msg_t *msg;   /* a valid message the call may get; NULL once consumed */
  char body[16];    /* msg's bytes, to see that a refused message is unchanged */
  size_t body_len;
  /* what the call gets */
  uva_port_t *port;
  uva_broadcast_t *member;
  uva_actor_t *actor_p;
} fx_t;

/* One row of a table. */
typedef struct {
  const char *func;      /* the public function */
  const char *input;     /* what is wrong with the call (NULL: the state's text) */
  state_t state;         /* the handle it gets */
  int (*call)(fx_t *fx); /* makes the call; returns its result */
  int expected;          /* the documented result */
} row_t;

static void on_fx_message(uva_port_t *port, uva_msg_t *msg) {
  fx_t *fx = port->data;

  fx->delivered++;
  uva_msg_free(msg);
}

static void on_fx_member_message(uva_broadcast_t *bc, uva_msg_t *msg) {
  fx_t *fx = bc->data;

  fx->delivered++;
  uva_msg_free(msg);
}

static void on_fx_call(uva_call_t *call, int status, uva_msg_t *reply) {
  fx_t *fx = call->data;

  (void)status;
  fx->calls_done++;
  uva_msg_free(reply);
}

static void on_fx_exit(uva_actor_t *actor, int exit_code) {
  fx_t *fx = actor->data;

  (void)exit_code;
  fx->exited++;
}

/* A valid message: [1, "two"]. */
static uva_msg_t *body_msg(void) {
  uva_msg_t *msg;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  msgpack_pack_array(uva_msg_packer(msg), 2);
  msgpack_pack_int(uva_msg_packer(msg), 1);
  msgpack_pack_str_with_body(uva_msg_packer(msg), "two", 3);
  return msg;
}

/* A message whose body is these bytes, written as they are (msgpack_pack_bin_body adds no header). */
static uva_msg_t *raw_msg(const void *bytes, size_t len) {
  uva_msg_t *msg;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  if (len > 0)
    ck_assert_int_eq(msgpack_pack_bin_body(uva_msg_packer(msg), bytes, len), 0);
  return msg;
}

static int main_return(uva_self_t *self) {
  (void)self;
  return 0;
}

static void on_self_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

/* Runs until terminated: its started port keeps its loop alive. */
static int main_wait(uva_self_t *self) {
  return uva_port_start(uva_self_port(self), uva_self_loop(self), on_self_message, NULL) == 0 ? 0 : 1;
}

static void actor_spawn(fx_t *fx, uv_loop_t *loop, uva_actor_main_cb main_cb) {
  uva_actor_options_t options;

  memset(&options, 0, sizeof(options));
  options.exit_cb = loop != NULL ? on_fx_exit : NULL;
  fx->actor.data = fx;
  ck_assert_int_eq(uva_actor_spawn(&fx->actor, loop, main_cb, &options), 0);
  fx->actor_state = loop != NULL ? 1 : 2;
}

static void fx_setup(fx_t *fx, state_t state) {
  memset(fx, 0, sizeof(*fx));
  fx->state = state;
  fx->loop = malloc(sizeof(*fx->loop));
  ck_assert_ptr_nonnull(fx->loop);
  ck_assert_int_eq(uv_loop_init(fx->loop), 0);
  ck_assert_int_eq(uva_channel_init(&fx->a, &fx->b), 0);
  fx->a.data = fx->b.data = fx;
  fx->msg = body_msg();
  fx->body_len = uva_msg_size(fx->msg);
  ck_assert_uint_le(fx->body_len, sizeof(fx->body));
  memcpy(fx->body, uva_msg_data(fx->msg), fx->body_len);
  fx->port = &fx->a;
  fx->member = &fx->bc;
  fx->actor_p = &fx->actor;
  fx->call_p = &fx->call;
  fx->call.data = fx;
  if (state >= B_NULL && state <= B_CLOSED) {
    ck_assert_int_eq(uva_broadcast_init(&fx->bc, "uva-test-badinput"), 0);
    ck_assert_int_eq(uva_broadcast_init(&fx->bc2, "uva-test-badinput"), 0);
    fx->bc.data = fx->bc2.data = fx;
    fx->members = 1;
  }
  switch (state) {
  case P_NULL:
    fx->port = NULL;
    break;
  case P_ZEROED:
    fx->port = &fx->zeroed_port;
    break;
  case P_LOOP_TAKEN:
  case A_LOOP_TAKEN:
    ck_assert_int_eq(uva_port_start(&fx->b, fx->loop, on_fx_message, NULL), 0);
    fx->other_thread = 1;
    break;
  case P_OTHER_THREAD:
    fx->other_thread = 1;
    /* fall through */
  case P_STARTED:
    ck_assert_int_eq(uva_port_start(&fx->a, fx->loop, on_fx_message, NULL), 0);
    break;
  case P_CLOSING:
    ck_assert_int_eq(uva_port_start(&fx->a, fx->loop, on_fx_message, NULL), 0);
    ck_assert_int_eq(uva_port_close(&fx->a), 0);
    break;
  case P_PEER_CLOSED:
    ck_assert_int_eq(uva_port_close(&fx->b), 0);
    break;
  case P_STARTED_PEER_CLOSED:
    ck_assert_int_eq(uva_port_start(&fx->a, fx->loop, on_fx_message, NULL), 0);
    ck_assert_int_eq(uva_port_close(&fx->b), 0);
    break;
  case P_CLOSED:
    ck_assert_int_eq(uva_port_close(&fx->a), 0);
    break;
  case P_IN_MESSAGE:
  case P_IN_TRANSIT:
    ck_assert_int_eq(uva_msg_new(&fx->carrier), 0);
    ck_assert_int_eq(uva_msg_pack_port(fx->carrier, &fx->a), 0);
    if (state == P_IN_TRANSIT) {
      ck_assert_int_eq(uva_channel_init(&fx->x, &fx->y), 0);
      fx->transit = 1;
      ck_assert_int_eq(uva_port_post(&fx->x, fx->carrier), 0);
      fx->carrier = NULL;
    }
    break;
  case P_PEER_FULL:
    ck_assert_int_eq(uva_port_set_limits(&fx->b, 1, 0), 0);
    ck_assert_int_eq(uva_port_post(&fx->a, body_msg()), 0);
    break;
  case P_PEER_SMALL:
    ck_assert_int_eq(uva_port_set_limits(&fx->b, 0, 4), 0);
    break;
  case P_STARTED_PEER_FULL:
    ck_assert_int_eq(uva_port_start(&fx->a, fx->loop, on_fx_message, NULL), 0);
    ck_assert_int_eq(uva_port_set_limits(&fx->b, 1, 0), 0);
    ck_assert_int_eq(uva_port_post(&fx->a, body_msg()), 0);
    break;
  case P_STARTED_PEER_SMALL:
    ck_assert_int_eq(uva_port_start(&fx->a, fx->loop, on_fx_message, NULL), 0);
    ck_assert_int_eq(uva_port_set_limits(&fx->b, 0, 4), 0);
    break;
  case C_NULL:
    fx->call_p = NULL;
    break;
  case C_ZEROED:
    memset(&fx->call, 0, sizeof(fx->call));
    break;
  case C_OTHER_THREAD:
    fx->other_thread = 1;
    /* fall through */
  case C_PENDING:
  case C_DUE:
  case C_DONE:
    ck_assert_int_eq(uva_port_start(&fx->a, fx->loop, on_fx_message, NULL), 0);
    ck_assert_int_eq(uva_port_call(&fx->a, &fx->call, body_msg(), UVA_WAIT_FOREVER, on_fx_call), 0);
    if (state == C_DUE || state == C_DONE)
      ck_assert_int_eq(uva_call_cancel(&fx->call), 0);
    if (state == C_DONE)
      ck_assert(run_until(fx->loop, &fx->calls_done, 1));
    break;
  case B_NULL:
    fx->member = NULL;
    break;
  case B_ZEROED:
    fx->member = &fx->zeroed_bc;
    break;
  case B_LOOP_TAKEN:
    ck_assert_int_eq(uva_broadcast_start(&fx->bc2, fx->loop, on_fx_member_message, NULL), 0);
    fx->other_thread = 1;
    break;
  case B_OTHER_THREAD:
    fx->other_thread = 1;
    /* fall through */
  case B_STARTED:
    ck_assert_int_eq(uva_broadcast_start(&fx->bc, fx->loop, on_fx_member_message, NULL), 0);
    break;
  case B_CLOSING:
    ck_assert_int_eq(uva_broadcast_start(&fx->bc, fx->loop, on_fx_member_message, NULL), 0);
    ck_assert_int_eq(uva_broadcast_close(&fx->bc), 0);
    break;
  case B_OTHER_FULL:
    ck_assert_int_eq(uva_broadcast_set_limits(&fx->bc2, 1, 0), 0);
    ck_assert_int_eq(uva_broadcast_post(&fx->bc, body_msg()), 0);
    break;
  case B_OTHER_SMALL:
    ck_assert_int_eq(uva_broadcast_set_limits(&fx->bc2, 0, 4), 0);
    break;
  case B_CLOSED:
    ck_assert_int_eq(uva_broadcast_close(&fx->bc), 0);
    break;
  case A_NULL:
    fx->actor_p = NULL;
    break;
  case A_ZEROED:
    fx->actor_p = &fx->zeroed_actor;
    break;
  case A_LOOP_OTHER_THREAD:
    fx->other_thread = 1;
    /* fall through */
  case A_LOOP:
    actor_spawn(fx, fx->loop, main_wait);
    break;
  case A_LOOP_EXITED:
    actor_spawn(fx, fx->loop, main_return);
    ck_assert(run_until(fx->loop, &fx->exited, 1));
    fx->actor_state = 0;
    break;
  case A_LOOPLESS:
    actor_spawn(fx, NULL, main_wait);
    break;
  case A_JOINED:
    actor_spawn(fx, NULL, main_return);
    ck_assert_int_eq(uva_actor_join(&fx->actor, HANG_GUARD_MS, NULL), 0);
    fx->actor_state = 0;
    break;
  default:
    break;
  }
}

/* Failures of the rows of one table, reported together. */
static char failures[8192];

static void row_fail(const row_t *row, const char *fmt, ...) {
  size_t len = strlen(failures);
  va_list ap;

  if (len + 200 > sizeof(failures))
    return;
  len += (size_t)snprintf(failures + len, sizeof(failures) - len, "\n  %s (%s): ", row->func,
                          row->input != NULL ? row->input : state_text[row->state]);
  va_start(ap, fmt);
  vsnprintf(failures + len, sizeof(failures) - len, fmt, ap);
  va_end(ap);
}

/* A message the call did not consume is the caller's, unchanged: it posts on another channel and arrives
 * whole. */
static void check_msg_usable(const row_t *row, fx_t *fx) {
  uva_port_t p;
  uva_port_t q;
  uva_msg_t *got = NULL;
  int err;

  if (uva_msg_size(fx->msg) != fx->body_len || memcmp(uva_msg_data(fx->msg), fx->body, fx->body_len) != 0) {
    row_fail(row, "the message it refused was changed");
    uva_msg_free(fx->msg);
    return;
  }
  ck_assert_int_eq(uva_channel_init(&p, &q), 0);
  err = uva_port_post(&p, fx->msg);
  if (err != 0) {
    row_fail(row, "the message it refused cannot be posted elsewhere: %s", uva_err_name(err));
    uva_msg_free(fx->msg);
  } else if ((err = uva_port_receive(&q, &got)) != 0) {
    row_fail(row, "the message it refused was lost: %s", uva_err_name(err));
  } else if (uva_msg_size(got) != fx->body_len || memcmp(uva_msg_data(got), fx->body, fx->body_len) != 0) {
    row_fail(row, "the message it refused arrived changed");
  }
  uva_msg_free(got);
  ck_assert_int_eq(uva_port_close(&p), 0);
  ck_assert_int_eq(uva_port_close(&q), 0);
  fx->msg = NULL;
}

/* A call that failed on a working port changed nothing: the channel a-b still delivers. */
static void check_channel_works(const row_t *row, fx_t *fx) {
  uva_msg_t *got;
  int delivered = fx->delivered;

  switch (fx->state) {
  case P_NEW:
    ck_assert_int_eq(uva_port_post(&fx->b, body_msg()), 0);
    if (uva_port_receive(&fx->a, &got) != 0)
      row_fail(row, "the port no longer receives");
    else
      uva_msg_free(got);
    break;
  case P_STARTED:
  case P_OTHER_THREAD:
    ck_assert_int_eq(uva_port_post(&fx->b, body_msg()), 0);
    if (!run_until(fx->loop, &fx->delivered, delivered + 1))
      row_fail(row, "the port no longer delivers");
    break;
  case P_LOOP_TAKEN:
    ck_assert_int_eq(uva_port_post(&fx->a, body_msg()), 0);
    if (!run_until(fx->loop, &fx->delivered, delivered + 1))
      row_fail(row, "the peer no longer delivers");
    break;
  default:
    break;
  }
}

static void fx_teardown(const row_t *row, fx_t *fx, int result) {
  if (fx->msg != NULL)
    check_msg_usable(row, fx);
  if (result < 0 && !fx->peer_spent)
    check_channel_works(row, fx);
  if (fx->actor_state != 0) {
    (void)uva_actor_terminate(&fx->actor);
    if (fx->actor_state == 1)
      ck_assert(run_until(fx->loop, &fx->exited, 1));
    else
      ck_assert_int_eq(uva_actor_join(&fx->actor, HANG_GUARD_MS, NULL), 0);
  }
  /* Whatever is left open closes now; a handle already closed or spent refuses, harmlessly. */
  (void)uva_port_close(&fx->a);
  (void)uva_port_close(&fx->b);
  if (fx->transit) {
    (void)uva_port_close(&fx->x);
    (void)uva_port_close(&fx->y); /* frees the carrier, which closes the port in it */
  }
  uva_msg_free(fx->carrier);
  if (fx->members) {
    (void)uva_broadcast_close(&fx->bc);
    (void)uva_broadcast_close(&fx->bc2);
  }
  if (fx->requests) {
    (void)uva_port_close(&fx->p);
    (void)uva_port_close(&fx->q);
  }
  ck_assert(run_until(fx->loop, &(int){0}, 1) == 0);
  ck_assert_msg(!uv_loop_alive(fx->loop), "a handle of the row is still open");
  ck_assert_int_eq(uv_loop_close(fx->loop), 0);
  free(fx->loop);
}

/* The name a result is documented by: UV_EINVAL, UVA_ETRUNC, 0, NULL... */
static const char *result_name(int result, char *buf, size_t size) {
  switch (result) {
  case 0:
    return "0";
  case R_NULL:
    return "NULL";
  case R_VALUE:
    return "a value";
  case R_NOTHING:
    return "nothing";
  }
  if (result <= UVA_ERRNO_MAX_ && result > UVA_ERRNO_MAX_ - 1000)
    return uva_err_name(result);
  snprintf(buf, size, "UV_%s", uva_err_name(result));
  return buf;
}

typedef struct {
  fx_t *fx;
  const row_t *row;
  int result;
} call_t;

static void call_thread(void *arg) {
  call_t *c = arg;
  c->result = c->row->call(c->fx);
}

static void run_row(const row_t *row) {
  char want[32];
  char got[32];
  uv_thread_t thread;
  call_t c;
  fx_t fx;

  if (getenv("UVA_BADINPUT_TRACE") != NULL)
    fprintf(stderr, "%s (%s)\n", row->func, row->input != NULL ? row->input : state_text[row->state]);
  fx_setup(&fx, row->state);
  c.fx = &fx;
  c.row = row;
  if (fx.other_thread) {
    ck_assert_int_eq(uv_thread_create(&thread, call_thread, &c), 0);
    ck_assert_int_eq(uv_thread_join(&thread), 0);
  } else {
    call_thread(&c);
  }
  if (c.result != row->expected)
    row_fail(row, "returned %s, documented %s", result_name(c.result, got, sizeof(got)),
             result_name(row->expected, want, sizeof(want)));
  fx_teardown(row, &fx, c.result);
}

static void run_table(const row_t *rows, size_t n) {
  size_t i;

  failures[0] = '\0';
  for (i = 0; i < n; i++)
    run_row(&rows[i]);
  ck_assert_msg(failures[0] == '\0', "rows that failed:%s", failures);
}

/* ---- helpers for calls --------------------------------------------------------------------------- */

/* Results of functions that return a pointer or a size. */
static int ptr_result(const void *p) {
  return p == NULL ? R_NULL : R_VALUE;
}

static int size_result(size_t n) {
  return n == 0 ? 0 : R_VALUE;
}

/* A message whose one pack could not grow the body (more than half the address space): it remembers
 * UV_ENOMEM. */
static uva_msg_t *failed_pack_msg(void) {
  static const char byte;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  ck_assert_int_eq(msgpack_pack_bin_body(uva_msg_packer(msg), &byte, SIZE_MAX / 2 + 1), -1);
  return msg;
}

/* A message [buffer ext, shared ext, 7], and its view. */
static uva_shared_t *attached_shared;

static uva_msg_t *attached_msg(msgpack_object *view) {
  uva_msg_t *msg;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  msgpack_pack_array(uva_msg_packer(msg), 3);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, malloc(16), 16, NULL), 0);
  ck_assert_int_eq(uva_shared_new(16, &attached_shared), 0);
  ck_assert_int_eq(uva_msg_pack_shared(msg, attached_shared), 0);
  uva_shared_unref(attached_shared); /* the message holds it */
  msgpack_pack_int(uva_msg_packer(msg), 7);
  ck_assert_int_eq(uva_msg_object(msg, view), 0);
  return msg;
}

/* A message [port ext] carrying the fixture's port b, and its view. */
static uva_msg_t *port_msg(fx_t *fx, msgpack_object *view) {
  uva_msg_t *msg;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  msgpack_pack_array(uva_msg_packer(msg), 1);
  ck_assert_int_eq(uva_msg_pack_port(msg, &fx->b), 0);
  ck_assert_int_eq(uva_msg_object(msg, view), 0);
  return msg;
}

#define BUFFER_EXT(view) (&(view).via.array.ptr[0])
#define SHARED_EXT(view) (&(view).via.array.ptr[1])
#define INT_OBJ(view) (&(view).via.array.ptr[2])

/* ---- messages (msg.h) ---------------------------------------------------------------------------- */

static int msg_new_null(fx_t *fx) {
  (void)fx;
  return uva_msg_new(NULL);
}

static int msg_free_null(fx_t *fx) {
  (void)fx;
  uva_msg_free(NULL);
  return R_NOTHING;
}

static int msg_packer_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_msg_packer(NULL));
}

static int msg_data_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_msg_data(NULL));
}

static int msg_size_null(fx_t *fx) {
  (void)fx;
  return size_result(uva_msg_size(NULL));
}

static int validate_null(fx_t *fx) {
  (void)fx;
  return uva_msg_validate(NULL, NULL);
}

static int validate_depth_over(fx_t *fx) {
  uva_msg_limits_t limits = {.max_depth = UVA_MSG_MAX_DEPTH + 1};
  return uva_msg_validate(fx->msg, &limits);
}

static int validate_depth_max(fx_t *fx) {
  uva_msg_limits_t limits = {.max_depth = UVA_MSG_MAX_DEPTH};
  return uva_msg_validate(fx->msg, &limits);
}

static int validate_over_size(fx_t *fx) {
  uva_msg_limits_t limits = {.max_size = 4};
  return uva_msg_validate(fx->msg, &limits);
}

static int validate_empty(fx_t *fx) {
  uva_msg_t *msg = raw_msg(NULL, 0);
  int err = uva_msg_validate(msg, NULL);

  (void)fx;
  uva_msg_free(msg);
  return err;
}

static int validate_failed_pack(fx_t *fx) {
  uva_msg_t *msg = failed_pack_msg();
  int err = uva_msg_validate(msg, NULL);

  (void)fx;
  uva_msg_free(msg);
  return err;
}

static int object_null_msg(fx_t *fx) {
  msgpack_object obj;

  (void)fx;
  return uva_msg_object(NULL, &obj);
}

static int object_null_out(fx_t *fx) {
  return uva_msg_object(fx->msg, NULL);
}

static int object_failed_pack(fx_t *fx) {
  uva_msg_t *msg = failed_pack_msg();
  msgpack_object obj;
  int err = uva_msg_object(msg, &obj);

  (void)fx;
  uva_msg_free(msg);
  return err;
}

static int object_two_objects(fx_t *fx) {
  static const unsigned char two[] = {0xc0, 0xc0};
  uva_msg_t *msg = raw_msg(two, sizeof(two));
  msgpack_object obj;
  int err = uva_msg_object(msg, &obj);

  (void)fx;
  uva_msg_free(msg);
  return err;
}

/* pack_buffer: on failure the buffer stays the caller's (freed here; valgrind sees a double free). */
static int pack_buffer_with(uva_msg_t *msg, int null_data) {
  void *data = null_data ? NULL : malloc(16);
  int err = uva_msg_pack_buffer(msg, data, 16, NULL);

  if (err != 0)
    free(data);
  return err;
}

static int pack_buffer_null_msg(fx_t *fx) {
  (void)fx;
  return pack_buffer_with(NULL, 0);
}

static int pack_buffer_null_data(fx_t *fx) {
  size_t before = uva_msg_size(fx->msg);
  int err = pack_buffer_with(fx->msg, 1);

  return uva_msg_size(fx->msg) == before ? err : R_VALUE; /* the body is unchanged */
}

static int pack_buffer_failed_pack(fx_t *fx) {
  uva_msg_t *msg = failed_pack_msg();
  int err = pack_buffer_with(msg, 0);

  (void)fx;
  uva_msg_free(msg);
  return err;
}

/* take_buffer and friends on the message attached_msg() makes. */
enum { T_NULL_MSG, T_NULL_EXT, T_NULL_OUT, T_NULL_LEN, T_OTHER_MSG, T_WRONG_KIND, T_INT, T_TWICE };

static int take_buffer_case(int which) {
  msgpack_object view;
  msgpack_object other_view;
  uva_msg_t *msg = attached_msg(&view);
  uva_msg_t *other = NULL;
  void *data = NULL;
  size_t len;
  int err;

  switch (which) {
  case T_NULL_MSG:
    err = uva_msg_take_buffer(NULL, BUFFER_EXT(view), &data, &len, NULL);
    break;
  case T_NULL_EXT:
    err = uva_msg_take_buffer(msg, NULL, &data, &len, NULL);
    break;
  case T_NULL_OUT:
    err = uva_msg_take_buffer(msg, BUFFER_EXT(view), NULL, &len, NULL);
    break;
  case T_NULL_LEN:
    err = uva_msg_take_buffer(msg, BUFFER_EXT(view), &data, NULL, NULL);
    break;
  case T_OTHER_MSG:
    other = attached_msg(&other_view);
    err = uva_msg_take_buffer(msg, BUFFER_EXT(other_view), &data, &len, NULL);
    break;
  case T_WRONG_KIND:
    err = uva_msg_take_buffer(msg, SHARED_EXT(view), &data, &len, NULL);
    break;
  case T_INT:
    err = uva_msg_take_buffer(msg, INT_OBJ(view), &data, &len, NULL);
    break;
  default:
    ck_assert_int_eq(uva_msg_take_buffer(msg, BUFFER_EXT(view), &data, &len, NULL), 0);
    free(data);
    data = NULL;
    err = uva_msg_take_buffer(msg, BUFFER_EXT(view), &data, &len, NULL);
    break;
  }
  if (err == 0)
    free(data);
  uva_msg_free(other);
  uva_msg_free(msg);
  return err;
}

static int take_buffer_null_msg(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_NULL_MSG);
}
static int take_buffer_null_ext(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_NULL_EXT);
}
static int take_buffer_null_data(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_NULL_OUT);
}
static int take_buffer_null_len(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_NULL_LEN);
}
static int take_buffer_other_msg(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_OTHER_MSG);
}
static int take_buffer_shared_ext(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_WRONG_KIND);
}
static int take_buffer_int(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_INT);
}
static int take_buffer_twice(fx_t *fx) {
  (void)fx;
  return take_buffer_case(T_TWICE);
}

static int get_shared_case(int which) {
  msgpack_object view;
  uva_msg_t *msg = attached_msg(&view);
  uva_shared_t *shared = NULL;
  int err;

  switch (which) {
  case T_NULL_MSG:
    err = uva_msg_get_shared(NULL, SHARED_EXT(view), &shared);
    break;
  case T_NULL_EXT:
    err = uva_msg_get_shared(msg, NULL, &shared);
    break;
  case T_NULL_OUT:
    err = uva_msg_get_shared(msg, SHARED_EXT(view), NULL);
    break;
  default:
    err = uva_msg_get_shared(msg, BUFFER_EXT(view), &shared);
    break;
  }
  if (err == 0)
    uva_shared_unref(shared);
  uva_msg_free(msg);
  return err;
}

static int get_shared_null_msg(fx_t *fx) {
  (void)fx;
  return get_shared_case(T_NULL_MSG);
}
static int get_shared_null_ext(fx_t *fx) {
  (void)fx;
  return get_shared_case(T_NULL_EXT);
}
static int get_shared_null_out(fx_t *fx) {
  (void)fx;
  return get_shared_case(T_NULL_OUT);
}
static int get_shared_buffer_ext(fx_t *fx) {
  (void)fx;
  return get_shared_case(T_WRONG_KIND);
}

static int pack_shared_null_msg(fx_t *fx) {
  uva_shared_t *shared;
  int err;

  (void)fx;
  ck_assert_int_eq(uva_shared_new(8, &shared), 0);
  err = uva_msg_pack_shared(NULL, shared);
  uva_shared_unref(shared); /* the caller's one reference: a leak or a double free shows under valgrind */
  return err;
}

static int pack_shared_null_shared(fx_t *fx) {
  return uva_msg_pack_shared(fx->msg, NULL);
}

static int shared_new_null(fx_t *fx) {
  (void)fx;
  return uva_shared_new(8, NULL);
}

static int shared_new_huge(fx_t *fx) {
  uva_shared_t *shared = NULL;
  int err = uva_shared_new(SIZE_MAX, &shared);

  (void)fx;
  if (err == 0)
    uva_shared_unref(shared);
  return err;
}

static int shared_data_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_shared_data(NULL));
}

static int shared_size_null(fx_t *fx) {
  (void)fx;
  return size_result(uva_shared_size(NULL));
}

static int shared_ref_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_shared_ref(NULL));
}

static int shared_unref_null(fx_t *fx) {
  (void)fx;
  uva_shared_unref(NULL);
  return R_NOTHING;
}

static int take_port_case(fx_t *fx, int which) {
  msgpack_object view;
  msgpack_object other;
  uva_msg_t *msg = port_msg(fx, &view);
  uva_msg_t *buffers = NULL;
  uva_port_t taken;
  int err;

  switch (which) {
  case T_NULL_MSG:
    err = uva_msg_take_port(NULL, &view.via.array.ptr[0], &taken);
    break;
  case T_NULL_EXT:
    err = uva_msg_take_port(msg, NULL, &taken);
    break;
  case T_NULL_OUT:
    err = uva_msg_take_port(msg, &view.via.array.ptr[0], NULL);
    break;
  case T_WRONG_KIND:
    buffers = attached_msg(&other);
    err = uva_msg_take_port(buffers, BUFFER_EXT(other), &taken);
    break;
  default:
    ck_assert_int_eq(uva_msg_take_port(msg, &view.via.array.ptr[0], &taken), 0);
    ck_assert_int_eq(uva_port_close(&taken), 0);
    err = uva_msg_take_port(msg, &view.via.array.ptr[0], &taken);
    break;
  }
  if (err == 0)
    ck_assert_int_eq(uva_port_close(&taken), 0);
  uva_msg_free(buffers);
  uva_msg_free(msg); /* closes b if it is still in there */
  return err;
}

static int take_port_null_msg(fx_t *fx) {
  return take_port_case(fx, T_NULL_MSG);
}
static int take_port_null_ext(fx_t *fx) {
  return take_port_case(fx, T_NULL_EXT);
}
static int take_port_null_port(fx_t *fx) {
  return take_port_case(fx, T_NULL_OUT);
}
static int take_port_buffer_ext(fx_t *fx) {
  return take_port_case(fx, T_WRONG_KIND);
}
static int take_port_twice(fx_t *fx) {
  return take_port_case(fx, T_TWICE);
}

static const row_t message_rows[] = {
    {"uva_msg_new", "msgp NULL", S_NONE, msg_new_null, UV_EINVAL},
    {"uva_msg_free", "msg NULL", S_NONE, msg_free_null, R_NOTHING},
    {"uva_msg_packer", "msg NULL", S_NONE, msg_packer_null, R_NULL},
    {"uva_msg_data", "msg NULL", S_NONE, msg_data_null, R_NULL},
    {"uva_msg_size", "msg NULL", S_NONE, msg_size_null, 0},
    {"uva_msg_validate", "msg NULL", S_NONE, validate_null, UV_EINVAL},
    {"uva_msg_validate", "limits.max_depth UVA_MSG_MAX_DEPTH + 1", S_NONE, validate_depth_over, UV_EINVAL},
    {"uva_msg_validate", "limits.max_depth UVA_MSG_MAX_DEPTH (the largest allowed)", S_NONE,
     validate_depth_max, 0},
    {"uva_msg_validate", "body over limits.max_size", S_NONE, validate_over_size, UV_E2BIG},
    {"uva_msg_validate", "empty body (nothing packed)", S_NONE, validate_empty, UVA_ETRUNC},
    {"uva_msg_validate", "a pack that could not grow the body", S_NONE, validate_failed_pack, UV_ENOMEM},
    {"uva_msg_object", "msg NULL", S_NONE, object_null_msg, UV_EINVAL},
    {"uva_msg_object", "out NULL", S_NONE, object_null_out, UV_EINVAL},
    {"uva_msg_object", "a pack that could not grow the body", S_NONE, object_failed_pack, UV_ENOMEM},
    {"uva_msg_object", "body of two objects", S_NONE, object_two_objects, UVA_ETRAILING},
    {"uva_msg_pack_buffer", "msg NULL (data stays the caller's)", S_NONE, pack_buffer_null_msg, UV_EINVAL},
    {"uva_msg_pack_buffer", "data NULL (body unchanged)", S_NONE, pack_buffer_null_data, UV_EINVAL},
    {"uva_msg_pack_buffer", "after a pack that could not grow the body (data stays the caller's)", S_NONE,
     pack_buffer_failed_pack, UV_ENOMEM},
    {"uva_msg_take_buffer", "msg NULL", S_NONE, take_buffer_null_msg, UV_EINVAL},
    {"uva_msg_take_buffer", "ext NULL", S_NONE, take_buffer_null_ext, UV_EINVAL},
    {"uva_msg_take_buffer", "data NULL", S_NONE, take_buffer_null_data, UV_EINVAL},
    {"uva_msg_take_buffer", "len NULL", S_NONE, take_buffer_null_len, UV_EINVAL},
    {"uva_msg_take_buffer", "ext of another message", S_NONE, take_buffer_other_msg, UV_EINVAL},
    {"uva_msg_take_buffer", "ext naming a shared buffer", S_NONE, take_buffer_shared_ext, UV_EINVAL},
    {"uva_msg_take_buffer", "an integer object", S_NONE, take_buffer_int, UV_EINVAL},
    {"uva_msg_take_buffer", "buffer taken before", S_NONE, take_buffer_twice, UV_EALREADY},
    {"uva_msg_pack_shared", "msg NULL (the reference stays the caller's)", S_NONE, pack_shared_null_msg,
     UV_EINVAL},
    {"uva_msg_pack_shared", "shared NULL", S_NONE, pack_shared_null_shared, UV_EINVAL},
    {"uva_msg_get_shared", "msg NULL", S_NONE, get_shared_null_msg, UV_EINVAL},
    {"uva_msg_get_shared", "ext NULL", S_NONE, get_shared_null_ext, UV_EINVAL},
    {"uva_msg_get_shared", "out NULL", S_NONE, get_shared_null_out, UV_EINVAL},
    {"uva_msg_get_shared", "ext naming a moved buffer", S_NONE, get_shared_buffer_ext, UV_EINVAL},
    {"uva_shared_new", "out NULL", S_NONE, shared_new_null, UV_EINVAL},
    {"uva_shared_new", "size SIZE_MAX", S_NONE, shared_new_huge, UV_EINVAL},
    {"uva_shared_data", "shared NULL", S_NONE, shared_data_null, R_NULL},
    {"uva_shared_size", "shared NULL", S_NONE, shared_size_null, 0},
    {"uva_shared_ref", "shared NULL (not documented)", S_NONE, shared_ref_null, R_NULL},
    {"uva_shared_unref", "shared NULL", S_NONE, shared_unref_null, R_NOTHING},
    {"uva_msg_take_port", "msg NULL", S_NONE, take_port_null_msg, UV_EINVAL},
    {"uva_msg_take_port", "ext NULL", S_NONE, take_port_null_ext, UV_EINVAL},
    {"uva_msg_take_port", "port NULL", S_NONE, take_port_null_port, UV_EINVAL},
    {"uva_msg_take_port", "ext naming a moved buffer", S_NONE, take_port_buffer_ext, UV_EINVAL},
    {"uva_msg_take_port", "port taken before", S_NONE, take_port_twice, UV_EALREADY},
};

/* ---- outside bytes (uva_msg_from_bytes) and malformed bodies ------------------------------------- */

/* n nested one-element arrays around a nil. */
static unsigned char *nested(size_t n, size_t *len) {
  unsigned char *bytes = malloc(n + 1);

  ck_assert_ptr_nonnull(bytes);
  memset(bytes, 0x91, n);
  bytes[n] = 0xc0;
  *len = n + 1;
  return bytes;
}

/* An array of 5 arrays of 1 Mi nils: 5 Mi + 6 objects, over the default 4 Mi, each container within the
 * default 1 Mi elements. */
static unsigned char *many_objects(size_t *len) {
  const size_t per = (size_t)1 << 20;
  unsigned char *bytes = malloc(1 + 5 * (5 + per));
  unsigned char *p = bytes;
  int i;

  ck_assert_ptr_nonnull(bytes);
  *p++ = 0x95;
  for (i = 0; i < 5; i++) {
    *p++ = 0xdd;
    *p++ = (unsigned char)(per >> 24);
    *p++ = (unsigned char)(per >> 16);
    *p++ = (unsigned char)(per >> 8);
    *p++ = (unsigned char)per;
    memset(p, 0xc0, per);
    p += per;
  }
  *len = (size_t)(p - bytes);
  return bytes;
}

/* Malformed inputs, each named after the code it must get. */
static const unsigned char trunc_array[] = {0x92, 0xc0};                     /* [nil, ...missing */
static const unsigned char trunc_str[] = {0xa5, 'a', 'b'};                   /* str of 5, 2 given */
static const unsigned char bad_byte[] = {0x91, 0xc1};                        /* [0xc1] */
static const unsigned char trailing[] = {0xc0, 0xc0};                        /* two objects */
static const unsigned char count_over[] = {0xdd, 0x00, 0x10, 0x00, 0x01};    /* array32 of 1 Mi + 1 */
static const unsigned char map_of_3[] = {0x83, 1, 1, 2, 2, 3, 3};            /* {1:1, 2:2, 3:3} */
static const unsigned char port_ext[] = {0xd6, UVA_EXT_PORT, 0, 0, 0, 0};    /* fixext4 of type 125 */
static const unsigned char reserved_ext[] = {0xd4, UVA_EXT_RESERVED_MIN, 0}; /* fixext1 of type 120 */
static const unsigned char five_nils[] = {0x95, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0};

/* from_bytes: on error *msgp is untouched. */
#define UNTOUCHED ((uva_msg_t *)(uintptr_t)0x5a5a5a5a)

static int from_bytes(const void *data, size_t len, const uva_msg_limits_t *limits) {
  uva_msg_t *msg = UNTOUCHED;
  int err = uva_msg_from_bytes(&msg, data, len, limits);

  if (err == 0)
    uva_msg_free(msg);
  else if (msg != UNTOUCHED)
    return R_VALUE; /* wrote *msgp although it failed */
  return err;
}

#define FROM_BYTES_ROW_FN(name, bytes, ...)                                                              \
  static int name(fx_t *fx) {                                                                            \
    uva_msg_limits_t limits = {__VA_ARGS__};                                                             \
    static const uva_msg_limits_t zero;                                                                  \
    (void)fx;                                                                                            \
    return from_bytes(bytes, sizeof(bytes), memcmp(&limits, &zero, sizeof(zero)) != 0 ? &limits : NULL); \
  }

FROM_BYTES_ROW_FN(fb_trunc_array, trunc_array, 0)
FROM_BYTES_ROW_FN(fb_trunc_str, trunc_str, 0)
FROM_BYTES_ROW_FN(fb_bad_byte, bad_byte, 0)
FROM_BYTES_ROW_FN(fb_trailing, trailing, 0)
FROM_BYTES_ROW_FN(fb_count_over, count_over, 0)
FROM_BYTES_ROW_FN(fb_map_over_limit, map_of_3, .max_container = 2)
FROM_BYTES_ROW_FN(fb_port_ext, port_ext, 0)
FROM_BYTES_ROW_FN(fb_reserved_ext, reserved_ext, 0)
FROM_BYTES_ROW_FN(fb_objects_over_limit, five_nils, .max_objects = 5)
FROM_BYTES_ROW_FN(fb_size_over_limit, five_nils, .max_size = 5)
FROM_BYTES_ROW_FN(fb_depth_max_over, five_nils, .max_depth = UVA_MSG_MAX_DEPTH + 1)

static int fb_null_msgp(fx_t *fx) {
  (void)fx;
  return uva_msg_from_bytes(NULL, five_nils, sizeof(five_nils), NULL);
}

static int fb_null_data(fx_t *fx) {
  (void)fx;
  return from_bytes(NULL, 1, NULL);
}

static int fb_empty(fx_t *fx) {
  (void)fx;
  return from_bytes(NULL, 0, NULL);
}

static int fb_depth_default(fx_t *fx) {
  size_t len;
  unsigned char *bytes = nested(65, &len);
  int err = from_bytes(bytes, len, NULL);

  (void)fx;
  free(bytes);
  return err;
}

static int fb_depth_limit(fx_t *fx) {
  uva_msg_limits_t limits = {.max_depth = 2};
  size_t len;
  unsigned char *bytes = nested(3, &len);
  int err = from_bytes(bytes, len, &limits);

  (void)fx;
  free(bytes);
  return err;
}

static int fb_objects_default(fx_t *fx) {
  size_t len;
  unsigned char *bytes = many_objects(&len);
  int err = from_bytes(bytes, len, NULL);

  (void)fx;
  free(bytes);
  return err;
}

static const row_t bytes_rows[] = {
    {"uva_msg_from_bytes", "msgp NULL", S_NONE, fb_null_msgp, UV_EINVAL},
    {"uva_msg_from_bytes", "data NULL, len 1", S_NONE, fb_null_data, UV_EINVAL},
    {"uva_msg_from_bytes", "limits.max_depth UVA_MSG_MAX_DEPTH + 1", S_NONE, fb_depth_max_over, UV_EINVAL},
    {"uva_msg_from_bytes", "len over limits.max_size", S_NONE, fb_size_over_limit, UV_E2BIG},
    {"uva_msg_from_bytes", "empty input (data NULL, len 0)", S_NONE, fb_empty, UVA_ETRUNC},
    {"uva_msg_from_bytes", "array of 2 with 1 element", S_NONE, fb_trunc_array, UVA_ETRUNC},
    {"uva_msg_from_bytes", "str of 5 bytes with 2", S_NONE, fb_trunc_str, UVA_ETRUNC},
    {"uva_msg_from_bytes", "byte 0xc1", S_NONE, fb_bad_byte, UVA_EBADBYTE},
    {"uva_msg_from_bytes", "two objects", S_NONE, fb_trailing, UVA_ETRAILING},
    {"uva_msg_from_bytes", "65 nested arrays (default max_depth 64)", S_NONE, fb_depth_default, UVA_EDEPTH},
    {"uva_msg_from_bytes", "3 nested arrays, limits.max_depth 2", S_NONE, fb_depth_limit, UVA_EDEPTH},
    {"uva_msg_from_bytes", "array header claiming 1 Mi + 1 elements (default max_container 1 Mi)", S_NONE,
     fb_count_over, UVA_ECOUNT},
    {"uva_msg_from_bytes", "map of 3 pairs, limits.max_container 2", S_NONE, fb_map_over_limit, UVA_ECOUNT},
    {"uva_msg_from_bytes", "ext of type UVA_EXT_PORT", S_NONE, fb_port_ext, UVA_EBADEXT},
    {"uva_msg_from_bytes", "ext of reserved type 120", S_NONE, fb_reserved_ext, UVA_EBADEXT},
    {"uva_msg_from_bytes", "6 objects, limits.max_objects 5", S_NONE, fb_objects_over_limit, UVA_EOBJECTS},
    {"uva_msg_from_bytes", "5 Mi objects (default max_objects 4 Mi)", S_NONE, fb_objects_default,
     UVA_EOBJECTS},
};

/* Posting a hand-packed body: refused at the sender with the code validation gives, the message unchanged
 * and still the caller's. */
static int post_raw(fx_t *fx, const void *bytes, size_t len) {
  uva_msg_t *msg = raw_msg(bytes, len);
  int err = uva_port_post(&fx->a, msg);

  if (err == 0)
    return 0;
  if (uva_msg_size(msg) != len || (len > 0 && memcmp(uva_msg_data(msg), bytes, len) != 0))
    err = R_VALUE;
  uva_msg_free(msg);
  return err;
}

#define POST_RAW_ROW_FN(name, bytes)           \
  static int name(fx_t *fx) {                  \
    return post_raw(fx, bytes, sizeof(bytes)); \
  }

POST_RAW_ROW_FN(post_trunc_array, trunc_array)
POST_RAW_ROW_FN(post_bad_byte, bad_byte)
POST_RAW_ROW_FN(post_trailing, trailing)
POST_RAW_ROW_FN(post_count_over, count_over)
POST_RAW_ROW_FN(post_port_ext, port_ext)
POST_RAW_ROW_FN(post_reserved_ext, reserved_ext)

static int post_empty(fx_t *fx) {
  return post_raw(fx, NULL, 0);
}

static int post_depth(fx_t *fx) {
  size_t len;
  unsigned char *bytes = nested(65, &len);
  int err = post_raw(fx, bytes, len);

  free(bytes);
  return err;
}

static int post_objects(fx_t *fx) {
  size_t len;
  unsigned char *bytes = many_objects(&len);
  int err = post_raw(fx, bytes, len);

  free(bytes);
  return err;
}

static int post_failed_pack(fx_t *fx) {
  uva_msg_t *msg = failed_pack_msg();
  int err = uva_port_post(&fx->a, msg);

  if (err != 0)
    uva_msg_free(msg);
  return err;
}

static const row_t body_rows[] = {
    {"uva_port_post", "empty body (nothing packed)", S_NONE, post_empty, UVA_ETRUNC},
    {"uva_port_post", "body: array of 2 with 1 element", S_NONE, post_trunc_array, UVA_ETRUNC},
    {"uva_port_post", "body: byte 0xc1", S_NONE, post_bad_byte, UVA_EBADBYTE},
    {"uva_port_post", "body: two objects", S_NONE, post_trailing, UVA_ETRAILING},
    {"uva_port_post", "body: 65 nested arrays", S_NONE, post_depth, UVA_EDEPTH},
    {"uva_port_post", "body: array header claiming 1 Mi + 1 elements", S_NONE, post_count_over, UVA_ECOUNT},
    {"uva_port_post", "body: port ext naming no attachment", S_NONE, post_port_ext, UVA_EBADEXT},
    {"uva_port_post", "body: ext of reserved type 120", S_NONE, post_reserved_ext, UVA_EBADEXT},
    {"uva_port_post", "body: 5 Mi objects", S_NONE, post_objects, UVA_EOBJECTS},
    {"uva_port_post", "a pack that could not grow the body", S_NONE, post_failed_pack, UV_ENOMEM},
};

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

static int set_spin_over(fx_t *fx) {
  return uva_port_set_spin(fx->port, 1000001);
}

static int set_spin_max(fx_t *fx) {
  return uva_port_set_spin(fx->port, 1000000);
}

static int set_limits(fx_t *fx) {
  return uva_port_set_limits(fx->port, 1, 0);
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

/* ---- actors (actor.h) ---------------------------------------------------------------------------- */

/* Spawns with options; init is the fixture's message, which stays the caller's on failure. An actor that
 * was spawned after all is waited for (with a loop) or joined (without). */
static int spawn_with(fx_t *fx, uva_actor_t *actor, uv_loop_t *loop, uva_actor_main_cb main_cb,
                      uva_actor_options_t *options) {
  int err;

  options->init = fx->msg;
  err = uva_actor_spawn(actor, loop, main_cb, options);
  if (err != 0)
    return err;
  fx->msg = NULL;
  if (actor == &fx->actor)
    fx->actor_state = loop != NULL ? 1 : 2;
  return 0;
}

static int spawn_null_actor(fx_t *fx) {
  uva_actor_options_t options = {0};
  return spawn_with(fx, NULL, fx->loop, main_return, &options);
}

static int spawn_null_main(fx_t *fx) {
  uva_actor_options_t options = {0};
  return spawn_with(fx, &fx->actor, fx->loop, NULL, &options);
}

static int spawn_name_64(fx_t *fx) {
  uva_actor_options_t options = {.name = "0123456789012345678901234567890123456789012345678901234567890123"};
  return spawn_with(fx, &fx->actor, fx->loop, main_return, &options);
}

static int spawn_name_63(fx_t *fx) {
  uva_actor_options_t options = {.name = "012345678901234567890123456789012345678901234567890123456789012",
                                 .exit_cb = on_fx_exit};
  fx->actor.data = fx;
  return spawn_with(fx, &fx->actor, fx->loop, main_return, &options);
}

static int spawn_stack(fx_t *fx, size_t stack_size) {
  uva_actor_options_t options = {.stack_size = stack_size};
  return spawn_with(fx, &fx->actor, fx->loop, main_return, &options);
}

static int spawn_stack_1(fx_t *fx) {
  return spawn_stack(fx, 1);
}
static int spawn_stack_under_min(fx_t *fx) {
  return spawn_stack(fx, UVA_ACTOR_STACK_MIN - 1);
}

static int spawn_loopless_with_cb(fx_t *fx) {
  uva_actor_options_t options = {.exit_cb = on_fx_exit};
  return spawn_with(fx, &fx->actor, NULL, main_return, &options);
}

static int spawn_spin_over(fx_t *fx) {
  uva_actor_options_t options = {.spin_us = 1000001};
  return spawn_with(fx, &fx->actor, fx->loop, main_return, &options);
}

static int spawn_loop_taken(fx_t *fx) {
  uva_actor_options_t options = {0};
  return spawn_with(fx, &fx->actor, fx->loop, main_return, &options);
}

/* The parent's port to an actor cannot be transferred; it still works afterwards. */
static int pack_actor_port(fx_t *fx) {
  uva_msg_t *msg;
  int err;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  err = uva_msg_pack_port(msg, uva_actor_port(&fx->actor));
  uva_msg_free(msg);
  if (err != 0 && uva_port_post(uva_actor_port(&fx->actor), body_msg()) != 0)
    err = R_VALUE;
  return err;
}

static int actor_port(fx_t *fx) {
  return ptr_result(uva_actor_port(fx->actor_p));
}

static int terminate(fx_t *fx) {
  return uva_actor_terminate(fx->actor_p);
}

static int terminate_twice(fx_t *fx) {
  ck_assert_int_eq(uva_actor_terminate(fx->actor_p), 0);
  return uva_actor_terminate(fx->actor_p);
}

static int join_10ms(fx_t *fx) {
  return uva_actor_join(fx->actor_p, 10, NULL);
}

static int actor_ref(fx_t *fx) {
  return uva_actor_ref(fx->actor_p);
}

static int actor_unref(fx_t *fx) {
  return uva_actor_unref(fx->actor_p);
}

static int actor_has_ref(fx_t *fx) {
  return uva_actor_has_ref(fx->actor_p);
}

static int self_loop_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_self_loop(NULL));
}
static int self_port_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_self_port(NULL));
}
static int self_init_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_self_init(NULL));
}
static int self_arg_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_self_arg(NULL));
}
static int self_name_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_self_name(NULL));
}
static int self_should_stop_null(fx_t *fx) {
  (void)fx;
  return uva_self_should_stop(NULL) == 0 ? 0 : R_VALUE;
}
static int self_exit_null(fx_t *fx) {
  (void)fx;
  return uva_self_exit(NULL, 1);
}
static int self_fail_null(fx_t *fx) {
  (void)fx;
  return uva_self_fail(NULL, 1, "text");
}

/* uva_self_fail(self, code, NULL), inside an actor: what it returns becomes the exit code. */
static int main_fail_null_text(uva_self_t *self) {
  return -uva_self_fail(self, 1, NULL);
}

static int self_fail_null_text(fx_t *fx) {
  uva_actor_t actor;
  int code = 0;

  (void)fx;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, main_fail_null_text, NULL), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  return -code;
}

static int pool_init_0(fx_t *fx) {
  (void)fx;
  return uva_pool_init(0);
}
static int pool_init_1025(fx_t *fx) {
  (void)fx;
  return uva_pool_init(1025);
}
static int pool_init_2000(fx_t *fx) {
  (void)fx;
  return uva_pool_init(2000);
}

static const row_t actor_rows[] = {
    {"uva_actor_spawn", "actor NULL (init stays the caller's)", S_NONE, spawn_null_actor, UV_EINVAL},
    {"uva_actor_spawn", "main_cb NULL (init stays the caller's)", S_NONE, spawn_null_main, UV_EINVAL},
    {"uva_actor_spawn", "name of 64 bytes (init stays the caller's)", S_NONE, spawn_name_64, UV_EINVAL},
    {"uva_actor_spawn", "name of 63 bytes (the longest allowed)", S_NONE, spawn_name_63, 0},
    {"uva_actor_spawn", "loop NULL with a callback (init stays the caller's)", S_NONE, spawn_loopless_with_cb,
     UV_EINVAL},
    {"uva_actor_spawn", "spin_us 1000001 (init stays the caller's)", S_NONE, spawn_spin_over, UV_EINVAL},
    {"uva_actor_spawn", "stack_size 1 (init stays the caller's)", S_NONE, spawn_stack_1, UV_EINVAL},
    {"uva_actor_spawn", "stack_size UVA_ACTOR_STACK_MIN - 1 (init stays the caller's)", S_NONE,
     spawn_stack_under_min, UV_EINVAL},
    {"uva_actor_spawn", "loop run by another thread (init stays the caller's)", A_LOOP_TAKEN,
     spawn_loop_taken, UV_EPERM},

    {"uva_msg_pack_port", "the parent's port of an actor (uva_actor_port())", A_LOOP, pack_actor_port,
     UV_EINVAL},

    {"uva_actor_port", NULL, A_NULL, actor_port, R_NULL},
    {"uva_actor_port", NULL, A_ZEROED, actor_port, R_NULL},
    {"uva_actor_port", NULL, A_LOOP_EXITED, actor_port, R_NULL},
    {"uva_actor_port", NULL, A_JOINED, actor_port, R_NULL},

    {"uva_actor_terminate", NULL, A_NULL, terminate, UV_EINVAL},
    {"uva_actor_terminate", NULL, A_ZEROED, terminate, UV_EINVAL},
    {"uva_actor_terminate", "asked before", A_LOOP, terminate_twice, UV_EALREADY},
    {"uva_actor_terminate", NULL, A_LOOP_EXITED, terminate, UV_EALREADY},
    {"uva_actor_terminate", NULL, A_JOINED, terminate, UV_EALREADY},

    {"uva_actor_join", NULL, A_NULL, join_10ms, UV_EINVAL},
    {"uva_actor_join", NULL, A_ZEROED, join_10ms, UV_EINVAL},
    {"uva_actor_join", NULL, A_LOOP, join_10ms, UV_EINVAL},
    {"uva_actor_join", "still running, 10 ms", A_LOOPLESS, join_10ms, UV_ETIMEDOUT},
    {"uva_actor_join", NULL, A_JOINED, join_10ms, UV_EALREADY},

    {"uva_actor_ref", NULL, A_NULL, actor_ref, UV_EINVAL},
    {"uva_actor_ref", NULL, A_ZEROED, actor_ref, UV_EINVAL},
    {"uva_actor_ref", NULL, A_LOOPLESS, actor_ref, UV_EINVAL},
    {"uva_actor_ref", NULL, A_LOOP_EXITED, actor_ref, UV_EINVAL},
    {"uva_actor_ref", NULL, A_LOOP_OTHER_THREAD, actor_ref, UV_EPERM},
    {"uva_actor_unref", NULL, A_NULL, actor_unref, UV_EINVAL},
    {"uva_actor_unref", NULL, A_ZEROED, actor_unref, UV_EINVAL},
    {"uva_actor_unref", NULL, A_LOOPLESS, actor_unref, UV_EINVAL},
    {"uva_actor_unref", NULL, A_LOOP_EXITED, actor_unref, UV_EINVAL},
    {"uva_actor_unref", NULL, A_LOOP_OTHER_THREAD, actor_unref, UV_EPERM},
    {"uva_actor_has_ref", NULL, A_NULL, actor_has_ref, 0},
    {"uva_actor_has_ref", NULL, A_ZEROED, actor_has_ref, 0},
    {"uva_actor_has_ref", NULL, A_LOOPLESS, actor_has_ref, 0},
    {"uva_actor_has_ref", NULL, A_LOOP_EXITED, actor_has_ref, 0},
    {"uva_actor_has_ref", NULL, A_LOOP_OTHER_THREAD, actor_has_ref, 0},

    {"uva_self_loop", "self NULL", S_NONE, self_loop_null, R_NULL},
    {"uva_self_port", "self NULL", S_NONE, self_port_null, R_NULL},
    {"uva_self_init", "self NULL", S_NONE, self_init_null, R_NULL},
    {"uva_self_arg", "self NULL", S_NONE, self_arg_null, R_NULL},
    {"uva_self_name", "self NULL (not documented)", S_NONE, self_name_null, R_NULL},
    {"uva_self_should_stop", "self NULL", S_NONE, self_should_stop_null, 0},
    {"uva_self_exit", "self NULL", S_NONE, self_exit_null, UV_EINVAL},
    {"uva_self_fail", "self NULL", S_NONE, self_fail_null, UV_EINVAL},
    {"uva_self_fail", "text NULL (inside an actor)", S_NONE, self_fail_null_text, UV_EINVAL},

    {"uva_pool_init", "size 0", S_NONE, pool_init_0, UV_EINVAL},
    {"uva_pool_init", "size 1025", S_NONE, pool_init_1025, UV_EINVAL},
    {"uva_pool_init", "size 2000", S_NONE, pool_init_2000, UV_EINVAL},
};

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

static int port_stats(fx_t *fx) {
  uva_port_stats_t stats;
  return uva_port_stats(fx->port, &stats);
}

static int port_stats_null(fx_t *fx) {
  return uva_port_stats(fx->port, NULL);
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
    {"uva_port_call_wait", NULL, P_OTHER_THREAD, call_wait_10ms, UV_EPERM},
    {"uva_port_call_wait", NULL, P_PEER_FULL, call_wait_10ms, UV_EAGAIN},
    {"uva_port_call_wait", NULL, P_PEER_SMALL, call_wait_10ms, UV_E2BIG},
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

    {"uva_port_stats", NULL, P_NULL, port_stats, UV_EINVAL},
    {"uva_port_stats", "stats NULL", P_NEW, port_stats_null, UV_EINVAL},
    {"uva_port_stats", NULL, P_ZEROED, port_stats, UV_EINVAL},
    {"uva_port_stats", NULL, P_CLOSED, port_stats, UV_EBADF},
    {"uva_port_stats", NULL, P_IN_TRANSIT, port_stats, UV_EBADF},
    {"uva_port_stats", NULL, P_OTHER_THREAD, port_stats, UV_EPERM},
    {"uva_port_stats", "new port (allowed)", P_NEW, port_stats, 0},
};

/* ---- the tables and docs/errors.md --------------------------------------------------------------- */

typedef struct {
  const char *title;
  const row_t *rows;
  size_t n;
} table_t;

#define TABLE(title, rows) \
  { title, rows, ARRAY_SIZE(rows) }

static const table_t tables[] = {
    TABLE("Messages", message_rows),
    TABLE("Outside bytes", bytes_rows),
    TABLE("Malformed bodies, posted", body_rows),
    TABLE("Ports", port_rows),
    TABLE("Bounded ports", limit_rows),
    TABLE("Broadcast channels", broadcast_rows),
    TABLE("Bounded broadcast members", broadcast_limit_rows),
    TABLE("Actors and the pool", actor_rows),
    TABLE("Calls", call_rows),
};

START_TEST(test_messages) {
  run_table(message_rows, ARRAY_SIZE(message_rows));
}
END_TEST

START_TEST(test_outside_bytes) {
  run_table(bytes_rows, ARRAY_SIZE(bytes_rows));
}
END_TEST

START_TEST(test_malformed_bodies) {
  run_table(body_rows, ARRAY_SIZE(body_rows));
}
END_TEST

START_TEST(test_ports) {
  run_table(port_rows, ARRAY_SIZE(port_rows));
}
END_TEST

START_TEST(test_bounded_ports) {
  run_table(limit_rows, ARRAY_SIZE(limit_rows));
}
END_TEST

START_TEST(test_broadcast) {
  run_table(broadcast_rows, ARRAY_SIZE(broadcast_rows));
}
END_TEST

START_TEST(test_bounded_broadcast) {
  run_table(broadcast_limit_rows, ARRAY_SIZE(broadcast_limit_rows));
}
END_TEST

START_TEST(test_actors) {
  run_table(actor_rows, ARRAY_SIZE(actor_rows));
}
END_TEST

START_TEST(test_calls) {
  run_table(call_rows, ARRAY_SIZE(call_rows));
}
END_TEST

#define DOC_BEGIN "<!-- generated by tests/test_badinput: do not edit by hand -->\n"
#define DOC_END "<!-- end of generated tables -->\n"

/* Appends to out, which has room for cap bytes in all. */
static void emit(char *out, size_t *len, size_t cap, const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  *len += (size_t)vsnprintf(out + *len, cap - *len, fmt, ap);
  va_end(ap);
  if (*len >= cap) {
    /* Also runs outside any test (UVA_ERRORS_MD), where Check cannot report. */
    fprintf(stderr, "test_badinput: the tables outgrew their buffer (%zu bytes)\n", cap);
    abort();
  }
}

/* The markdown of every table, between the markers, into a new string. */
static char *tables_markdown(void) {
  size_t cap = 1 << 16;
  size_t len = 0;
  char *out = malloc(cap);
  char name[32];
  size_t t;
  size_t i;

  if (out == NULL)
    abort();
#define EMIT(...) emit(out, &len, cap, __VA_ARGS__)
  EMIT("%s", DOC_BEGIN);
  for (t = 0; t < ARRAY_SIZE(tables); t++) {
    EMIT("\n### %s\n\n| Function | Input | Result |\n|---|---|---|\n", tables[t].title);
    for (i = 0; i < tables[t].n; i++) {
      const row_t *row = &tables[t].rows[i];
      EMIT(row->expected == R_NOTHING ? "| `%s` | %s | %s |\n" : "| `%s` | %s | `%s` |\n", row->func,
           row->input != NULL ? row->input : state_text[row->state],
           result_name(row->expected, name, sizeof(name)));
    }
  }
  EMIT("\n%s", DOC_END);
#undef EMIT
  return out;
}

#ifndef UVA_SRCDIR
#define UVA_SRCDIR "."
#endif

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  char *text;
  long size;

  if (f == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  text = malloc((size_t)size + 1);
  if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size) {
    free(text);
    fclose(f);
    return NULL;
  }
  text[size] = '\0';
  fclose(f);
  return text;
}

/* docs/errors.md shows exactly these tables. */
START_TEST(test_docs_in_sync) {
  const char *srcdir = getenv("UVA_TOP_SRCDIR") != NULL ? getenv("UVA_TOP_SRCDIR") : UVA_SRCDIR;
  char path[4096];
  char *doc;
  char *want = tables_markdown();
  int in_sync;

  snprintf(path, sizeof(path), "%s/docs/errors.md", srcdir);
  doc = read_file(path);
  ck_assert_msg(doc != NULL, "cannot read %s", path);
  in_sync = strstr(doc, want) != NULL;
  free(doc);
  free(want);
  ck_assert_msg(in_sync,
                "%s does not show the tables of tests/test_badinput.c: regenerate them with "
                "UVA_ERRORS_MD=%s tests/test_badinput",
                path, path);
}
END_TEST

/* UVA_ERRORS_MD=path: rewrites the generated section of that file (docs/errors.md) and exits. */
static void maybe_write_docs(void) {
  const char *path = getenv("UVA_ERRORS_MD");
  char *doc;
  char *begin;
  char *end;
  char *tables_md;
  FILE *f;

  if (path == NULL)
    return;
  doc = read_file(path);
  if (doc == NULL || (begin = strstr(doc, DOC_BEGIN)) == NULL || (end = strstr(begin, DOC_END)) == NULL) {
    fprintf(stderr, "%s: cannot read it, or it has no generated section (%s ... %s)\n", path, DOC_BEGIN,
            DOC_END);
    exit(EXIT_FAILURE);
  }
  tables_md = tables_markdown();
  f = fopen(path, "wb");
  if (f == NULL || fwrite(doc, 1, (size_t)(begin - doc), f) != (size_t)(begin - doc) ||
      fputs(tables_md, f) == EOF || fputs(end + strlen(DOC_END), f) == EOF || fclose(f) != 0) {
    fprintf(stderr, "%s: cannot write it\n", path);
    exit(EXIT_FAILURE);
  }
  free(tables_md);
  free(doc);
  fprintf(stderr, "%s: tables rewritten\n", path);
  exit(EXIT_SUCCESS);
}

#define UVA_TEST_BEFORE_ALL maybe_write_docs
#include "check_main.h"

static Suite *make_suite(void) {
  Suite *s = suite_create("badinput");
  TCase *tc = tcase_create("table");

  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_messages);
  tcase_add_test(tc, test_outside_bytes);
  tcase_add_test(tc, test_malformed_bodies);
  tcase_add_test(tc, test_ports);
  tcase_add_test(tc, test_bounded_ports);
  tcase_add_test(tc, test_broadcast);
  tcase_add_test(tc, test_bounded_broadcast);
  tcase_add_test(tc, test_actors);
  tcase_add_test(tc, test_calls);
  tcase_add_test(tc, test_docs_in_sync);
  suite_add_tcase(s, tc);
  return s;
}
