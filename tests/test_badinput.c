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
 * The rows are in one file per public header: badinput_msg.c, badinput_port.c, badinput_actor.c,
 * badinput_tpool.c, badinput_supervise.c, badinput_call.c, badinput_stats.c, and badinput_remote.c in a
 * build with the remote transport (UVA_BADINPUT_REMOTE); what they and this runner share is badinput.h.
 * docs/errors.md shows these tables, remote.h's in a section of their own (a build without it checks the
 * others). When you change a row, regenerate its tables with
 *     UVA_ERRORS_MD=$srcdir/docs/errors.md tests/test_badinput
 * (each section between its "generated" markers is rewritten); test_docs_in_sync fails until you do.
 *
 * Never touches libuv's threadpool (libuv#4443): uva_pool_init() is only called with sizes it refuses. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "badinput.h"
#include "run_until.h"
#include "uvactor.h"

/* ---- fixtures ------------------------------------------------------------------------------------ */

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
    [T_NULL] = "pool NULL",
    [T_ZEROED] = "zeroed pool, never initialized",
    [T_OPEN] = "pool with a loop",
    [T_OTHER_THREAD] = "pool of another thread's loop",
    [T_FULL] = "pool whose queue is full (max_queue 1)",
    [T_CLOSING] = "closing pool (close callback not run yet)",
    [T_CLOSED] = "closed pool",
    [T_LOOPLESS] = "pool without a loop",
    [T_LOOPLESS_CLOSING] = "pool without a loop, closed, not joined",
    [T_JOINED] = "pool without a loop, joined",
    [M_ACTIVE] = "active monitor",
    [M_OTHER_THREAD] = "monitor of another thread's loop",
    [M_DONE] = "monitor whose callback ran",
    [N_REGISTERED] = "registered name",
    [N_OTHER_THREAD] = "name registered on another thread's loop",
    [V_IDLE] = "supervisor initialized, not started",
    [V_STARTED] = "supervisor started",
    [V_OTHER_THREAD] = "supervisor of another thread's loop",
    [V_CLOSING] = "supervisor closing",
};

static void on_self_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

/* Runs until terminated: its started port keeps its loop alive. */
static int main_wait(uva_self_t *self) {
  return uva_port_start(uva_self_port(self), uva_self_loop(self), on_self_message, NULL) == 0 ? 0 : 1;
}

static void tpool_make(fx_t *fx, uv_loop_t *loop, size_t max_queue) {
  uva_tpool_options_t options;

  memset(&options, 0, sizeof(options));
  options.max_threads = 1;
  options.max_queue = max_queue;
  fx->tpool.data = fx;
  fx->task.data = fx->task2.data = fx;
  ck_assert_int_eq(uva_tpool_init(&fx->tpool, loop, &options), 0);
  fx->tpool_made = loop != NULL ? 1 : 2;
}

/* Waits for the worker to take what was submitted (it does, on its own thread). */
static void tpool_wait_taken(fx_t *fx) {
  uva_tpool_stats_t stats;
  int i;

  for (i = 0; i < HANG_GUARD_MS; i++) {
    ck_assert_int_eq(uva_tpool_stats(&fx->tpool, &stats), 0);
    if (stats.queued == 0)
      return;
    uv_sleep(1);
  }
  ck_abort_msg("the pool's worker took nothing in %d ms", HANG_GUARD_MS);
}

static void actor_spawn(fx_t *fx, uv_loop_t *loop, uva_actor_main_cb main_cb) {
  uva_actor_options_t options;

  memset(&options, 0, sizeof(options));
  options.exit_cb = loop != NULL ? on_fx_exit : NULL;
  fx->actor.data = fx;
  ck_assert_int_eq(uva_actor_spawn(&fx->actor, loop, main_cb, &options), 0);
  fx->actor_state = loop != NULL ? 1 : 2;
}

/* Recovery's fixtures: a monitor of an id no actor has (its callback comes on the loop's next turn), a name,
 * a supervisor. */
static void recovery_setup(fx_t *fx, state_t state) {
  switch (state) {
  case M_ACTIVE:
  case M_OTHER_THREAD:
  case M_DONE:
    fx->mon.data = fx;
    ck_assert_int_eq(uva_monitor_start(&fx->mon, fx->loop, UINT64_MAX, on_fx_down), 0);
    if (state == M_DONE)
      ck_assert(run_until(fx->loop, &fx->downs, 1));
    break;
  case N_REGISTERED:
  case N_OTHER_THREAD:
    ck_assert_int_eq(uva_name_register(&fx->name, fx->loop, "uva-test-badinput", on_fx_accept), 0);
    break;
  case V_IDLE:
  case V_STARTED:
  case V_OTHER_THREAD:
  case V_CLOSING:
    ck_assert_int_eq(uva_supervisor_init(&fx->sup, fx->loop, NULL), 0);
    if (state == V_STARTED)
      ck_assert_int_eq(uva_supervisor_start(&fx->sup), 0);
    if (state == V_CLOSING)
      ck_assert_int_eq(uva_supervisor_close(&fx->sup, NULL), 0);
    break;
  default:
    break;
  }
}

/* Whatever of them the row left started is stopped; one done already refuses, harmlessly. */
static void recovery_teardown(fx_t *fx) {
  if (fx->state >= M_ACTIVE && fx->state <= M_DONE)
    (void)uva_monitor_stop(&fx->mon);
  if (fx->state == N_REGISTERED || fx->state == N_OTHER_THREAD)
    (void)uva_name_unregister(&fx->name);
  if (fx->state >= V_IDLE && fx->state <= V_CLOSING)
    (void)uva_supervisor_close(&fx->sup, NULL);
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
  fx->tpool_p = &fx->tpool;
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
  case T_NULL:
    fx->tpool_p = NULL;
    break;
  case T_ZEROED:
    fx->tpool_p = &fx->zeroed_tpool;
    break;
  case T_OTHER_THREAD:
    fx->other_thread = 1;
    tpool_make(fx, fx->loop, 0);
    ck_assert_int_eq(uva_tpool_submit(&fx->tpool, &fx->task, fn_park, NULL, NULL, on_fx_task), 0);
    break;
  case T_OPEN:
    tpool_make(fx, fx->loop, 0);
    break;
  case T_FULL:
    tpool_make(fx, fx->loop, 1);
    ck_assert_int_eq(uva_tpool_submit(&fx->tpool, &fx->task, fn_park, NULL, NULL, on_fx_task), 0);
    tpool_wait_taken(fx);
    ck_assert_int_eq(uva_tpool_submit(&fx->tpool, &fx->task2, fn_nothing, NULL, NULL, on_fx_task), 0);
    break;
  case T_CLOSING:
  case T_CLOSED:
    tpool_make(fx, fx->loop, 0);
    ck_assert_int_eq(uva_tpool_close(&fx->tpool, 0, on_fx_tpool_closed), 0);
    if (state == T_CLOSED) {
      ck_assert(run_until(fx->loop, &fx->tpool_closed, 1));
      fx->tpool_made = 0;
    }
    break;
  case T_LOOPLESS:
  case T_LOOPLESS_CLOSING:
  case T_JOINED:
    tpool_make(fx, NULL, 0);
    if (state != T_LOOPLESS)
      ck_assert_int_eq(uva_tpool_close(&fx->tpool, 0, NULL), 0);
    if (state == T_JOINED) {
      ck_assert_int_eq(uva_tpool_join(&fx->tpool, HANG_GUARD_MS), 0);
      fx->tpool_made = 0;
    }
    break;
  case M_OTHER_THREAD:
  case N_OTHER_THREAD:
  case V_OTHER_THREAD:
    fx->other_thread = 1;
    recovery_setup(fx, state);
    break;
  default:
    recovery_setup(fx, state);
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
  if (fx->tpool_made == 1) {
    (void)uva_tpool_close(&fx->tpool, UVA_TPOOL_CLOSE_CANCEL, on_fx_tpool_closed);
    ck_assert(run_until(fx->loop, &fx->tpool_closed, 1));
  } else if (fx->tpool_made == 2) {
    (void)uva_tpool_close(&fx->tpool, 0, NULL);
    ck_assert_int_eq(uva_tpool_join(&fx->tpool, HANG_GUARD_MS), 0);
  }
  recovery_teardown(fx);
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

static void run_table(const table_t *table) {
  size_t i;

  failures[0] = '\0';
  for (i = 0; i < table->n; i++)
    run_row(&table->rows[i]);
  ck_assert_msg(failures[0] == '\0', "rows that failed:%s", failures);
}

/* ---- the tables and docs/errors.md --------------------------------------------------------------- */

/* In the order docs/errors.md shows them. */
static const table_t *const tables[] = {
    &message_table,         &bytes_table, &body_table,  &port_table,  &limit_table,   &broadcast_table,
    &broadcast_limit_table, &call_table,  &actor_table, &tpool_table, &monitor_table, &name_table,
    &supervisor_table,      &stats_table,
};

#ifdef UVA_BADINPUT_REMOTE
static const table_t *const remote_tables[] = {&node_table, &rport_table};
#endif

/* docs/errors.md's generated sections: each between its markers. */
typedef struct {
  const char *begin;
  const char *end;
  const table_t *const *tables;
  size_t n;
} section_t;

static const section_t sections[] = {
    {"<!-- generated by tests/test_badinput: do not edit by hand -->\n", "<!-- end of generated tables -->\n",
     tables, ARRAY_SIZE(tables)},
#ifdef UVA_BADINPUT_REMOTE
    {"<!-- generated by tests/test_badinput built with the remote transport: do not edit by hand -->\n",
     "<!-- end of generated remote tables -->\n", remote_tables, ARRAY_SIZE(remote_tables)},
#endif
};

START_TEST(test_messages) {
  run_table(&message_table);
}
END_TEST

START_TEST(test_outside_bytes) {
  run_table(&bytes_table);
}
END_TEST

START_TEST(test_malformed_bodies) {
  run_table(&body_table);
}
END_TEST

START_TEST(test_ports) {
  run_table(&port_table);
}
END_TEST

START_TEST(test_bounded_ports) {
  run_table(&limit_table);
}
END_TEST

START_TEST(test_broadcast) {
  run_table(&broadcast_table);
}
END_TEST

START_TEST(test_bounded_broadcast) {
  run_table(&broadcast_limit_table);
}
END_TEST

START_TEST(test_calls) {
  run_table(&call_table);
}
END_TEST

START_TEST(test_actors) {
  run_table(&actor_table);
}
END_TEST

START_TEST(test_monitors) {
  run_table(&monitor_table);
}
END_TEST

START_TEST(test_names) {
  run_table(&name_table);
}
END_TEST

START_TEST(test_supervisors) {
  run_table(&supervisor_table);
}
END_TEST

START_TEST(test_tpools) {
  run_table(&tpool_table);
}
END_TEST

START_TEST(test_stats) {
  run_table(&stats_table);
}
END_TEST

#ifdef UVA_BADINPUT_REMOTE
START_TEST(test_remote_nodes) {
  run_table(&node_table);
}
END_TEST

START_TEST(test_remote_ports_and_actors) {
  run_table(&rport_table);
}
END_TEST
#endif

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

/* The markdown of every table of a section, between its markers, into a new string. */
static char *tables_markdown(const section_t *sec) {
  size_t cap = 1 << 16;
  size_t len = 0;
  char *out = malloc(cap);
  char name[32];
  size_t t;
  size_t i;

  if (out == NULL)
    abort();
#define EMIT(...) emit(out, &len, cap, __VA_ARGS__)
  EMIT("%s", sec->begin);
  for (t = 0; t < sec->n; t++) {
    EMIT("\n### %s\n\n| Function | Input | Result |\n|---|---|---|\n", sec->tables[t]->title);
    for (i = 0; i < sec->tables[t]->n; i++) {
      const row_t *row = &sec->tables[t]->rows[i];
      EMIT(row->expected == R_NOTHING ? "| `%s` | %s | %s |\n" : "| `%s` | %s | `%s` |\n", row->func,
           row->input != NULL ? row->input : state_text[row->state],
           result_name(row->expected, name, sizeof(name)));
    }
  }
  EMIT("\n%s", sec->end);
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
  char *want;
  int in_sync = 1;
  size_t i;

  snprintf(path, sizeof(path), "%s/docs/errors.md", srcdir);
  doc = read_file(path);
  ck_assert_msg(doc != NULL, "cannot read %s", path);
  for (i = 0; i < ARRAY_SIZE(sections); i++) {
    want = tables_markdown(&sections[i]);
    in_sync = in_sync && strstr(doc, want) != NULL;
    free(want);
  }
  free(doc);
  ck_assert_msg(in_sync,
                "%s does not show the tables of tests/test_badinput.c: regenerate them with "
                "UVA_ERRORS_MD=%s tests/test_badinput",
                path, path);
}
END_TEST

/* Rewrites a section of path (docs/errors.md); exits on failure. */
static void write_section(const char *path, const section_t *sec) {
  char *doc;
  char *begin;
  char *end;
  char *tables_md;
  FILE *f;

  doc = read_file(path);
  if (doc == NULL || (begin = strstr(doc, sec->begin)) == NULL || (end = strstr(begin, sec->end)) == NULL) {
    fprintf(stderr, "%s: cannot read it, or it has no generated section (%s ... %s)\n", path, sec->begin,
            sec->end);
    exit(EXIT_FAILURE);
  }
  tables_md = tables_markdown(sec);
  f = fopen(path, "wb");
  if (f == NULL || fwrite(doc, 1, (size_t)(begin - doc), f) != (size_t)(begin - doc) ||
      fputs(tables_md, f) == EOF || fputs(end + strlen(sec->end), f) == EOF || fclose(f) != 0) {
    fprintf(stderr, "%s: cannot write it\n", path);
    exit(EXIT_FAILURE);
  }
  free(tables_md);
  free(doc);
}

/* UVA_ERRORS_MD=path: rewrites the generated sections of that file (docs/errors.md) and exits. */
static void maybe_write_docs(void) {
  const char *path = getenv("UVA_ERRORS_MD");
  size_t i;

  if (path == NULL)
    return;
  for (i = 0; i < ARRAY_SIZE(sections); i++)
    write_section(path, &sections[i]);
  fprintf(stderr, "%s: tables rewritten\n", path);
  exit(EXIT_SUCCESS);
}

#define UVA_TEST_BEFORE_ALL maybe_write_docs
#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("table", 60, NULL, NULL),
      TEST(test_messages),
      TEST(test_outside_bytes),
      TEST(test_malformed_bodies),
      TEST(test_ports),
      TEST(test_bounded_ports),
      TEST(test_broadcast),
      TEST(test_bounded_broadcast),
      TEST(test_calls),
      TEST(test_actors),
      TEST(test_tpools),
      TEST(test_monitors),
      TEST(test_names),
      TEST(test_supervisors),
      TEST(test_stats),
#ifdef UVA_BADINPUT_REMOTE
      TEST(test_remote_nodes),
      TEST(test_remote_ports_and_actors),
#endif
      TEST(test_docs_in_sync),
  };

  return suite_of_rows("badinput", rows, sizeof(rows) / sizeof(rows[0]));
}
