/* channel/call.c: request and reply on ports, one test per rule of include/uvactor/call.h.
 *
 * Most tests run caller and callee on one loop (the fixture's test_loop): the port a calls, its peer b
 * answers, and what happens is ordered by the loop alone, so every count and order is exact. The tests with
 * actors and loop-less callers order what happens with messages and joins, never with sleeps; the only
 * clock a test reads is for the guarantee that a timeout never comes early. No test touches libuv's
 * threadpool (Check forks each test: libuv#4443). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "forked.h"
#include "port_msgs.h" /* value_msg(), msg_value() */
#include "random.h"

/* ---- messages ------------------------------------------------------------------------------------ */

/* The text of an error reply: its body, a str. */
static int msg_text_is(uva_msg_t *msg, const char *text) {
  msgpack_object obj;

  REQUIRE(uva_msg_object(msg, &obj) == 0);
  return obj.type == MSGPACK_OBJECT_STR && obj.via.str.size == strlen(text) &&
         memcmp(obj.via.str.ptr, text, obj.via.str.size) == 0;
}

/* ---- the fixture: a calls, b answers, both on test_loop ------------------------------------------ */

/* How b answers each request. */
enum {
  ANSWER_NOW,    /* reply value + 1000 at once */
  ANSWER_HOLD,   /* keep it in held[] for the test to answer */
  ANSWER_ERROR,  /* uva_msg_reply_error(request, 42, "nope") */
  ANSWER_FREE,   /* free it unanswered */
  ANSWER_FORWARD /* post it on through c, for d to answer */
};

#define MAX_CALLS 256

typedef struct {
  uva_call_t call;
  uint64_t value; /* what the request carried */
  int done;       /* callbacks run */
  int status;
  int64_t reply; /* reply's value, -1 for none, -2 for an error text "nope" */
  int order;     /* in which place its callback ran */
} rec_t;

static struct {
  uva_port_t a, b; /* the channel: a calls */
  uva_port_t c, d; /* a second channel, for forwarding: b posts on c, d answers */
  int mode;
  uva_msg_t *held[MAX_CALLS];
  int nheld;
  int plain; /* plain messages b or a received */
  uint64_t plain_last;
  int completed;          /* call callbacks run */
  int closed;             /* close callbacks run */
  int completed_at_close; /* completed when a's close callback ran */
  rec_t recs[MAX_CALLS];
} fx;

static void on_call_done(uva_call_t *call, int status, uva_msg_t *reply) {
  rec_t *rec = call->data;

  rec->done++;
  rec->status = status;
  rec->order = fx.completed++;
  if (reply == NULL)
    rec->reply = -1;
  else if (status > 0)
    rec->reply = msg_text_is(reply, "nope") ? -2 : -3;
  else
    rec->reply = (int64_t)msg_value(reply);
  REQUIRE(reply == NULL || !uva_msg_is_call(reply));
  uva_msg_free(reply);
}

static void on_b_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  if (!uva_msg_is_call(msg)) {
    fx.plain++;
    fx.plain_last = msg_value(msg);
    uva_msg_free(msg);
    return;
  }
  switch (fx.mode) {
  case ANSWER_NOW:
    REQUIRE(uva_msg_reply(msg, value_msg(msg_value(msg) + 1000)) == 0);
    REQUIRE(!uva_msg_is_call(msg));
    uva_msg_free(msg);
    break;
  case ANSWER_ERROR:
    REQUIRE(uva_msg_reply_error(msg, 42, "nope") == 0);
    uva_msg_free(msg);
    break;
  case ANSWER_FREE:
    uva_msg_free(msg);
    break;
  case ANSWER_FORWARD:
    REQUIRE(uva_port_post(&fx.c, msg) == 0);
    break;
  default:
    REQUIRE(fx.nheld < MAX_CALLS);
    fx.held[fx.nheld++] = msg;
    break;
  }
}

static void on_a_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  fx.plain++;
  fx.plain_last = msg_value(msg);
  uva_msg_free(msg);
}

static void on_a_close(uva_port_t *port) {
  (void)port;
  fx.closed++;
  fx.completed_at_close = fx.completed;
}

static void on_close(uva_port_t *port) {
  (void)port;
  fx.closed++;
}

static void fx_setup(void) {
  loop_setup();
  memset(&fx, 0, sizeof(fx));
  ck_assert_int_eq(uva_channel_init(&fx.a, &fx.b), 0);
  ck_assert_int_eq(uva_port_start(&fx.a, test_loop, on_a_message, on_a_close), 0);
  ck_assert_int_eq(uva_port_start(&fx.b, test_loop, on_b_message, on_close), 0);
}

/* Closes what is open and runs the loop until every port closed; then frees the requests b kept (their
 * notices find the channel closed). */
static void fx_teardown(void) {
  int i;

  (void)uva_port_close(&fx.a);
  (void)uva_port_close(&fx.b);
  (void)uva_port_close(&fx.c);
  (void)uva_port_close(&fx.d);
  uv_run(test_loop, UV_RUN_DEFAULT);
  for (i = 0; i < fx.nheld; i++)
    uva_msg_free(fx.held[i]);
  loop_teardown();
}

/* Calls a with value, timeout_ms; the record is recs[i]. */
static int call_value(int i, uint64_t value, int64_t timeout_ms) {
  rec_t *rec = &fx.recs[i];
  uva_msg_t *msg = value_msg(value);
  int err;

  rec->value = value;
  rec->call.data = rec;
  err = uva_port_call(&fx.a, &rec->call, msg, timeout_ms, on_call_done);
  if (err != 0)
    uva_msg_free(msg);
  return err;
}

/* Runs the loop one turn at a time until *counter reaches want (a hang guard stops it). */
static void run_until_count(const int *counter, int want) {
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;

  while (*(volatile const int *)counter < want) {
    REQUIRE(uv_hrtime() < deadline);
    uv_run(test_loop, UV_RUN_ONCE);
  }
}

static uva_port_stats_t stats_of(uva_port_t *port) {
  uva_port_stats_t stats;

  ck_assert_int_eq(uva_port_stats(port, &stats), 0);
  return stats;
}

/* Runs the loop until a has counted want late replies, then checks that it counted no more: how many turns
 * the replies take to arrive is the loop's business, not the test's (a hang guard stops it). */
static void run_until_late(uint64_t want) {
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;

  while (stats_of(&fx.a).late_replies < want) {
    REQUIRE(uv_hrtime() < deadline);
    uv_run(test_loop, UV_RUN_NOWAIT);
  }
  ck_assert_uint_eq(stats_of(&fx.a).late_replies, want);
}

/* ---- answers -------------------------------------------------------------------------------------- */

/* A call gets its reply, once; the reply is a plain message; nothing is pending afterwards. */
START_TEST(test_reply) {
  ck_assert_int_eq(call_value(0, 7, UVA_WAIT_FOREVER), 0);
  ck_assert_uint_eq(stats_of(&fx.a).calls_pending, 1);
  ck_assert_int_eq(fx.recs[0].call.type, UVA_CALL);
  ck_assert_ptr_eq(fx.recs[0].call.loop, test_loop);
  ck_assert_int_eq(fx.recs[0].done, 0); /* never from inside uva_port_call() */
  run_until_count(&fx.completed, 1);
  ck_assert_int_eq(fx.recs[0].status, 0);
  ck_assert_int_eq(fx.recs[0].reply, 1007);
  ck_assert_uint_eq(stats_of(&fx.a).calls_pending, 0);
  ck_assert_uint_eq(stats_of(&fx.a).late_replies, 0);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(fx.recs[0].done, 1);
}
END_TEST

/* Many calls in flight, answered in the reverse order and then shuffled: each gets its own reply. */
START_TEST(test_many_answered_in_any_order) {
  const int n = 200;
  int i;

  fx.mode = ANSWER_HOLD;
  for (i = 0; i < n; i++)
    ck_assert_int_eq(call_value(i, (uint64_t)i, i % 2 ? 60000 : UVA_WAIT_FOREVER), 0);
  run_until_count(&fx.nheld, n);
  ck_assert_uint_eq(stats_of(&fx.a).calls_pending, (uint64_t)n);
  /* Every third, from the last; then the rest in a fixed shuffle. */
  for (i = n - 1; i >= 0; i -= 3) {
    REQUIRE(uva_msg_reply(fx.held[i], value_msg(msg_value(fx.held[i]) + 1000)) == 0);
  }
  for (i = 0; i < n; i++) {
    int j = (i * 7) % n;
    if (uva_msg_is_call(fx.held[j]))
      REQUIRE(uva_msg_reply(fx.held[j], value_msg(msg_value(fx.held[j]) + 1000)) == 0);
  }
  run_until_count(&fx.completed, n);
  for (i = 0; i < n; i++) {
    ck_assert_int_eq(fx.recs[i].done, 1);
    ck_assert_int_eq(fx.recs[i].status, 0);
    ck_assert_int_eq(fx.recs[i].reply, i + 1000);
  }
  /* The first answers sent were the first to complete: replies keep their order on the way. */
  ck_assert_int_eq(fx.recs[n - 1].order, 0);
  ck_assert_int_eq(fx.recs[n - 4].order, 1);
  ck_assert_uint_eq(stats_of(&fx.a).calls_pending, 0);
  ck_assert_uint_eq(stats_of(&fx.a).late_replies, 0);
}
END_TEST

/* An error reply: the callee's code (> 0) and its text as the reply's body. */
START_TEST(test_error_reply) {
  fx.mode = ANSWER_ERROR;
  ck_assert_int_eq(call_value(0, 1, 60000), 0);
  run_until_count(&fx.completed, 1);
  ck_assert_int_eq(fx.recs[0].status, 42);
  ck_assert_int_eq(fx.recs[0].reply, -2);
}
END_TEST

/* The caller's handle may be reused from its own callback, for the next call. */
static int chain_left;

static void on_chained(uva_call_t *call, int status, uva_msg_t *reply) {
  uva_msg_t *msg;

  REQUIRE(status == 0);
  REQUIRE(msg_value(reply) == (uint64_t)chain_left + 1000);
  uva_msg_free(reply);
  fx.completed++;
  if (--chain_left == 0)
    return;
  msg = value_msg((uint64_t)chain_left);
  REQUIRE(uva_port_call(&fx.a, call, msg, 600000, on_chained) == 0);
}

START_TEST(test_handle_reused_from_callback) {
  uva_call_t call;

  chain_left = 50;
  ck_assert_int_eq(uva_port_call(&fx.a, &call, value_msg(50), 600000, on_chained), 0);
  run_until_count(&fx.completed, 50);
  ck_assert_int_eq(chain_left, 0);
}
END_TEST

/* ---- timeouts, cancellation, late replies ------------------------------------------------------- */

/* A call unanswered within its timeout gets UV_ETIMEDOUT, never before the time (the loop's, as libuv's
 * timers count); the answer that comes after is late: freed and counted, never given to a callback. */
START_TEST(test_timeout_then_late_reply) {
  uint64_t start = uv_now(test_loop);

  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 1, 30), 0);
  ck_assert_int_eq(call_value(1, 2, UVA_WAIT_FOREVER), 0);
  run_until_count(&fx.completed, 1);
  ck_assert_uint_ge(uv_now(test_loop) - start, 30);
  ck_assert_int_eq(fx.recs[0].status, UV_ETIMEDOUT);
  ck_assert_int_eq(fx.recs[0].reply, -1);
  ck_assert_int_eq(fx.recs[1].done, 0);
  ck_assert_int_eq(fx.nheld, 2);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], value_msg(5)), 0); /* late: still 0 for the callee */
  ck_assert_int_eq(uva_msg_reply(fx.held[1], value_msg(6)), 0);
  run_until_count(&fx.completed, 2);
  ck_assert_int_eq(fx.recs[1].reply, 6);
  ck_assert_int_eq(fx.recs[0].done, 1);
  ck_assert_uint_eq(stats_of(&fx.a).late_replies, 1);
}
END_TEST

/* Timeouts of different lengths in any order: each fires in deadline order. */
START_TEST(test_timeouts_fire_in_deadline_order) {
  static const int64_t timeouts[] = {40, 10, 30, 20, 10, 50};
  int i;

  fx.mode = ANSWER_HOLD;
  for (i = 0; i < 6; i++)
    ck_assert_int_eq(call_value(i, (uint64_t)i, timeouts[i]), 0);
  run_until_count(&fx.completed, 6);
  for (i = 0; i < 6; i++)
    ck_assert_int_eq(fx.recs[i].status, UV_ETIMEDOUT);
  ck_assert_int_lt(fx.recs[1].order, fx.recs[3].order);
  ck_assert_int_lt(fx.recs[4].order, fx.recs[3].order);
  ck_assert_int_lt(fx.recs[3].order, fx.recs[2].order);
  ck_assert_int_lt(fx.recs[2].order, fx.recs[0].order);
  ck_assert_int_lt(fx.recs[0].order, fx.recs[5].order);
}
END_TEST

/* Many timeouts, made in one turn (so from one uv_now()): the callbacks run in deadline order, ties in the
 * order of the calls, however the deadlines were mixed. Whatever the load, a later deadline cannot expire
 * first: only how many expire per turn varies. */
static void expect_deadline_order(const int64_t *timeouts, int n) {
  int i;
  int j;

  fx.mode = ANSWER_HOLD;
  for (i = 0; i < n; i++)
    ck_assert_int_eq(call_value(i, (uint64_t)i, timeouts[i]), 0);
  run_until_count(&fx.completed, n);
  for (i = 0; i < n; i++) {
    int before = 0;

    ck_assert_int_eq(fx.recs[i].status, UV_ETIMEDOUT);
    for (j = 0; j < n; j++)
      before += timeouts[j] < timeouts[i] || (timeouts[j] == timeouts[i] && j < i);
    ck_assert_int_eq(fx.recs[i].order, before);
  }
}

START_TEST(test_random_timeouts_expire_in_order) {
  int64_t timeouts[MAX_CALLS - 6];
  uint64_t rng = 0x9e3779b97f4a7c15ULL;
  int i;

  for (i = 0; i < MAX_CALLS - 6; i++)
    timeouts[i] = 1 + (int64_t)(next_random(&rng) % 20); /* 1 to 20 ms: about 12 calls a deadline */
  expect_deadline_order(timeouts, MAX_CALLS - 6);
}
END_TEST

START_TEST(test_decreasing_timeouts_expire_in_order) {
  int64_t timeouts[MAX_CALLS - 6];
  int i;

  for (i = 0; i < MAX_CALLS - 6; i++)
    timeouts[i] = 1 + (MAX_CALLS - i) / 16; /* each deadline before the last, in groups of 16 */
  expect_deadline_order(timeouts, MAX_CALLS - 6);
}
END_TEST

/* A timeout of 0 to a callee that holds the request fails on the loop's next turn; the answer, when it
 * comes, is late. */
START_TEST(test_timeout_zero) {
  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 1, 0), 0);
  ck_assert_int_eq(fx.recs[0].done, 0);
  run_until_count(&fx.completed, 1);
  ck_assert_int_eq(fx.recs[0].status, UV_ETIMEDOUT);
  ck_assert_int_eq(fx.nheld, 1);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], value_msg(5)), 0);
  run_until_late(1);
  ck_assert_int_eq(fx.recs[0].done, 1);
}
END_TEST

/* A timeout of 0 is answered if its answer is queued by the time the loop looks, on its next turn: libuv runs
 * the timer before the poll that delivers, so the deadline looks at the port's queue first. The answer keeps
 * its place there: the plain message b posted before it is delivered first. */
START_TEST(test_timeout_zero_answer_queued_wins) {
  uva_msg_t *request;

  fx.plain = 0;
  ck_assert_int_eq(call_value(0, 1, 0), 0);
  ck_assert_int_eq(uva_port_receive(&fx.b, &request), 0); /* b answers before a's loop turns */
  ck_assert(uva_msg_is_call(request));
  ck_assert_int_eq(uva_port_post(&fx.b, value_msg(77)), 0);
  ck_assert_int_eq(uva_msg_reply(request, value_msg(8)), 0);
  uva_msg_free(request);
  run_until_count(&fx.completed, 1);
  ck_assert_int_eq(fx.recs[0].status, 0);
  ck_assert_int_eq(fx.recs[0].reply, 8);
  ck_assert_int_eq(fx.plain, 1); /* delivered before the answer */
  ck_assert_uint_eq(stats_of(&fx.a).late_replies, 0);
  ck_assert_uint_eq(stats_of(&fx.a).calls_pending, 0);
}
END_TEST

/* A timeout of 0 to a callee on the caller's loop that answers at once is answered wherever the call is
 * made: before uv_run(), from a timer, an idle or a message callback. (The deadline was judged in the loop's
 * timers, before the callee's delivery: only the idle callback's call, whose request was delivered in the
 * same turn, was answered; the timer's 0 ran in the same timers phase.) */
static void call_zero_from_idle(uv_idle_t *idle) {
  uv_idle_stop(idle);
  REQUIRE(call_value(1, 2, 0) == 0);
}

static void call_zero_from_timer(uv_timer_t *timer) {
  (void)timer;
  REQUIRE(call_value(2, 3, 0) == 0);
}

static void call_zero_from_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
  REQUIRE(call_value(3, 4, 0) == 0);
}

START_TEST(test_timeout_zero_same_loop_callee) {
  static uva_port_t e, f; /* closed by the fixture's last run */
  static uv_timer_t timer;
  static uv_idle_t idle;
  int i;

  fx.mode = ANSWER_NOW;
  ck_assert_int_eq(call_value(0, 1, 0), 0);
  run_until_count(&fx.completed, 1);
  ck_assert_int_eq(uv_idle_init(test_loop, &idle), 0);
  ck_assert_int_eq(uv_idle_start(&idle, call_zero_from_idle), 0);
  run_until_count(&fx.completed, 2);
  uv_close((uv_handle_t *)&idle, NULL);
  ck_assert_int_eq(uv_timer_init(test_loop, &timer), 0);
  ck_assert_int_eq(uv_timer_start(&timer, call_zero_from_timer, 0, 0), 0);
  run_until_count(&fx.completed, 3);
  uv_close((uv_handle_t *)&timer, NULL);
  ck_assert_int_eq(uva_channel_init(&e, &f), 0);
  ck_assert_int_eq(uva_port_start(&f, test_loop, call_zero_from_message, NULL), 0);
  ck_assert_int_eq(uva_port_post(&e, value_msg(0)), 0);
  run_until_count(&fx.completed, 4);
  for (i = 0; i < 4; i++) {
    ck_assert_int_eq(fx.recs[i].status, 0);
    ck_assert_int_eq(fx.recs[i].reply, (int64_t)fx.recs[i].value + 1000);
  }
  ck_assert_uint_eq(stats_of(&fx.a).late_replies, 0);
  ck_assert_int_eq(uva_port_close(&e), 0);
  ck_assert_int_eq(uva_port_close(&f), 0);
}
END_TEST

/* Among calls that expire together, those whose answers are queued get them (a freed request's notice
 * too: the call ends with UV_ECONNRESET); the others time out, and their answers, coming later, are late. */
START_TEST(test_expiring_calls_get_queued_answers) {
  uva_msg_t *requests[4];
  int i;

  for (i = 0; i < 4; i++)
    ck_assert_int_eq(call_value(i, (uint64_t)i, 0), 0);
  for (i = 0; i < 4; i++)
    ck_assert_int_eq(uva_port_receive(&fx.b, &requests[i]), 0);
  ck_assert_int_eq(uva_msg_reply(requests[2], value_msg(20)), 0);
  uva_msg_free(requests[2]);
  uva_msg_free(requests[0]); /* unanswered: its notice is queued */
  run_until_count(&fx.completed, 4);
  ck_assert_int_eq(fx.recs[0].status, UV_ECONNRESET);
  ck_assert_int_eq(fx.recs[1].status, UV_ETIMEDOUT);
  ck_assert_int_eq(fx.recs[2].status, 0);
  ck_assert_int_eq(fx.recs[2].reply, 20);
  ck_assert_int_eq(fx.recs[3].status, UV_ETIMEDOUT);
  ck_assert_int_eq(uva_msg_reply(requests[1], value_msg(21)), 0);
  ck_assert_int_eq(uva_msg_reply_error(requests[3], 5, "late"), 0);
  uva_msg_free(requests[1]);
  uva_msg_free(requests[3]);
  run_until_late(2);
  ck_assert_int_eq(fx.completed, 4);
}
END_TEST

/* A handle whose call is pending (or due: cancelled, its callback not run yet) cannot start another call:
 * UV_EBUSY, and nothing changed: the request is still the caller's, and the pending call completes as it
 * would have. */
START_TEST(test_pending_handle_refused) {
  uva_msg_t *msg = value_msg(9);

  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 1, UVA_WAIT_FOREVER), 0);
  ck_assert_int_eq(uva_port_call(&fx.a, &fx.recs[0].call, msg, 0, on_call_done), UV_EBUSY);
  ck_assert(!uva_msg_is_call(msg));
  ck_assert_uint_eq(stats_of(&fx.a).calls_pending, 1);
  run_until_count(&fx.nheld, 1);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], value_msg(2)), 0);
  run_until_count(&fx.completed, 1);
  ck_assert_int_eq(fx.recs[0].status, 0);
  ck_assert_int_eq(fx.recs[0].reply, 2);
  /* Due: cancelled, its callback not yet run. */
  ck_assert_int_eq(call_value(1, 3, UVA_WAIT_FOREVER), 0);
  ck_assert_int_eq(uva_call_cancel(&fx.recs[1].call), 0);
  ck_assert_int_eq(uva_port_call(&fx.a, &fx.recs[1].call, msg, 0, on_call_done), UV_EBUSY);
  run_until_count(&fx.completed, 2);
  ck_assert_int_eq(fx.recs[1].status, UV_ECANCELED);
  ck_assert_int_eq(fx.recs[1].done, 1);
  /* Completed: the handle is free again. */
  ck_assert_int_eq(uva_port_call(&fx.a, &fx.recs[1].call, msg, UVA_WAIT_FOREVER, on_call_done), 0);
  run_until_count(&fx.nheld, 3);
  ck_assert_int_eq(uva_msg_reply(fx.held[2], value_msg(4)), 0);
  run_until_count(&fx.completed, 3);
  ck_assert_int_eq(fx.recs[1].reply, 4);
}
END_TEST

/* Cancel: UV_ECANCELED on the next turn, never inside uva_call_cancel(); twice is UV_EALREADY; the answer
 * is late. */
/* A child inherits its parent's pending calls, as it inherits their port: a cancel there said 0, promised a
 * callback that could never run, and wrote to the parent's wakeup. */
START_TEST(test_cancel_in_forked_child) {
  forked_t child;

  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 1, UVA_WAIT_FOREVER), 0);
  run_until_count(&fx.nheld, 1);
  if (forked_start(&child))
    forked_end(&child, uva_call_cancel(&fx.recs[0].call) != UVA_EFORKED);
  ck_assert_int_eq(forked_wait(&child), 0);
  ck_assert_int_eq(uva_call_cancel(&fx.recs[0].call), 0); /* the parent's call is untouched */
  run_until_count(&fx.completed, 1);
  ck_assert_int_eq(fx.recs[0].status, UV_ECANCELED);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], value_msg(1)), 0); /* late */
  run_until_late(1);
}
END_TEST

START_TEST(test_cancel) {
  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 1, 60000), 0);
  ck_assert_int_eq(call_value(1, 2, UVA_WAIT_FOREVER), 0);
  run_until_count(&fx.nheld, 2);
  ck_assert_int_eq(uva_call_cancel(&fx.recs[0].call), 0);
  ck_assert_int_eq(uva_call_cancel(&fx.recs[1].call), 0);
  ck_assert_int_eq(fx.recs[0].done, 0);
  ck_assert_int_eq(uva_call_cancel(&fx.recs[0].call), UV_EALREADY);
  ck_assert_uint_eq(stats_of(&fx.a).calls_pending, 2); /* until the callbacks ran */
  run_until_count(&fx.completed, 2);
  ck_assert_int_eq(fx.recs[0].status, UV_ECANCELED);
  ck_assert_int_eq(fx.recs[1].status, UV_ECANCELED);
  ck_assert_int_lt(fx.recs[0].order, fx.recs[1].order);
  ck_assert_int_eq(uva_call_cancel(&fx.recs[0].call), UV_EALREADY);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], value_msg(1)), 0);
  ck_assert_int_eq(uva_msg_reply_error(fx.held[1], 3, "x"), 0);
  run_until_late(2);
  ck_assert_int_eq(fx.completed, 2);
}
END_TEST

/* A cancel racing an answer already queued: the cancel wins, the queued answer is late. */
START_TEST(test_cancel_after_answer_queued) {
  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 1, UVA_WAIT_FOREVER), 0);
  run_until_count(&fx.nheld, 1);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], value_msg(1)), 0);
  ck_assert_int_eq(uva_call_cancel(&fx.recs[0].call), 0);
  run_until_count(&fx.completed, 1);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(fx.recs[0].status, UV_ECANCELED);
  ck_assert_int_eq(fx.recs[0].done, 1);
  ck_assert_uint_eq(stats_of(&fx.a).late_replies, 1);
}
END_TEST

/* Completions by timeout or cancel take their port's share of a loop turn, as messages do: at most
 * TURN_SHARE_MAX callbacks a turn, and the loop's timers run before the rest. A port of its own, whose peer
 * (not started) keeps every request unanswered. */
#define DUE_CALLS (TURN_SHARE_MAX + TURN_SHARE_MAX / 2)

static struct {
  uva_port_t e, f; /* e calls */
  uva_call_t calls[DUE_CALLS];
  int status; /* what each must get */
  int done;
  int timer_at; /* callbacks run when the timer, started by the first, fired */
  uv_timer_t timer;
} due;

static void on_due_timer(uv_timer_t *timer) {
  (void)timer;
  due.timer_at = due.done;
}

static void on_due_call(uva_call_t *call, int status, uva_msg_t *reply) {
  (void)call;
  REQUIRE(status == due.status && reply == NULL);
  if (due.done++ == 0)
    REQUIRE(uv_timer_start(&due.timer, on_due_timer, 0, 0) == 0);
}

static void expect_due_calls_take_turns(int status) {
  int turns = 0;
  int before;
  int i;

  memset(&due, 0, sizeof(due));
  due.status = status;
  due.timer_at = -1;
  ck_assert_int_eq(uv_timer_init(test_loop, &due.timer), 0);
  ck_assert_int_eq(uva_channel_init(&due.e, &due.f), 0);
  ck_assert_int_eq(uva_port_start(&due.e, test_loop, on_a_message, on_close), 0);
  for (i = 0; i < DUE_CALLS; i++)
    ck_assert_int_eq(uva_port_call(&due.e, &due.calls[i], value_msg((uint64_t)i),
                                   status == UV_ETIMEDOUT ? 0 : UVA_WAIT_FOREVER, on_due_call),
                     0);
  for (i = 0; status == UV_ECANCELED && i < DUE_CALLS; i++)
    ck_assert_int_eq(uva_call_cancel(&due.calls[i]), 0);
  while (due.done < DUE_CALLS) {
    ck_assert_int_lt(turns++, 10 * DUE_CALLS); /* a hang guard */
    before = due.done;
    uv_run(test_loop, UV_RUN_ONCE);
    ck_assert_int_le(due.done - before, TURN_SHARE_MAX);
  }
  ck_assert_int_ge(turns, 2);
  ck_assert_int_gt(due.timer_at, 0);
  ck_assert_int_le(due.timer_at, TURN_SHARE_MAX);
  uv_close((uv_handle_t *)&due.timer, NULL);
  ck_assert_int_eq(uva_port_close(&due.f), 0);
  run_until_count(&fx.closed, 1); /* e closes with its peer */
}

START_TEST(test_timeouts_take_the_port_share) {
  expect_due_calls_take_turns(UV_ETIMEDOUT);
}
END_TEST

START_TEST(test_cancels_take_the_port_share) {
  expect_due_calls_take_turns(UV_ECANCELED);
}
END_TEST

/* ---- broken promises and closes ------------------------------------------------------------------ */

/* A request freed unanswered completes its call with UV_ECONNRESET. */
START_TEST(test_request_freed_unanswered) {
  fx.mode = ANSWER_FREE;
  ck_assert_int_eq(call_value(0, 1, 60000), 0);
  ck_assert_int_eq(call_value(1, 2, UVA_WAIT_FOREVER), 0);
  run_until_count(&fx.completed, 2);
  ck_assert_int_eq(fx.recs[0].status, UV_ECONNRESET);
  ck_assert_int_eq(fx.recs[1].status, UV_ECONNRESET);
  ck_assert_int_eq(fx.recs[0].reply, -1);
}
END_TEST

/* The peer closes: every pending call fails with UV_EPIPE, before the caller's close callback. A call on the
 * closing port fails at once, the request still the caller's. */
START_TEST(test_peer_close_fails_pending_before_close_cb) {
  uva_msg_t *msg;
  int i;

  fx.mode = ANSWER_HOLD;
  /* Call 2 has a timer armed, one no loaded machine reaches (50 ms did, under ASan): the close fails it. */
  for (i = 0; i < 5; i++)
    ck_assert_int_eq(call_value(i, (uint64_t)i, i == 2 ? 600000 : UVA_WAIT_FOREVER), 0);
  run_until_count(&fx.nheld, 5);
  ck_assert_int_eq(uva_msg_reply(fx.held[3], value_msg(3)), 0); /* queued before the close: delivered */
  ck_assert_int_eq(uva_port_close(&fx.b), 0);
  run_until_count(&fx.closed, 2);
  ck_assert_int_eq(fx.completed_at_close, 5);
  for (i = 0; i < 5; i++) {
    ck_assert_int_eq(fx.recs[i].done, 1);
    ck_assert_int_eq(fx.recs[i].status, i == 3 ? 0 : UV_EPIPE);
  }
  ck_assert_int_eq(fx.recs[3].order, 0);
  /* The held requests cannot be answered any more; the reply stays the callee's. */
  msg = value_msg(1);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], msg), UV_EPIPE);
  ck_assert_int_eq(uva_msg_reply_error(fx.held[1], 1, "late"), UV_EPIPE);
  ck_assert(uva_msg_is_call(fx.held[0]));
  /* a is disconnected now: a call says why. */
  ck_assert_int_eq(uva_port_call(&fx.a, &fx.recs[10].call, msg, 10, on_call_done), UV_EPIPE);
  uva_msg_free(msg);
}
END_TEST

/* The caller closes its own port: pending calls fail with UV_EPIPE before its close callback; a call made
 * while it closes fails at once. */
START_TEST(test_own_close_fails_pending) {
  uva_msg_t *msg;

  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 1, 600000), 0); /* a timer armed that no loaded machine reaches */
  ck_assert_int_eq(call_value(1, 2, UVA_WAIT_FOREVER), 0);
  ck_assert_int_eq(uva_port_close(&fx.a), 0);
  msg = value_msg(3);
  ck_assert_int_eq(uva_port_call(&fx.a, &fx.recs[2].call, msg, 10, on_call_done), UV_EPIPE);
  ck_assert_uint_eq(uva_msg_size(msg), 1); /* unchanged, the caller's */
  uva_msg_free(msg);
  run_until_count(&fx.closed, 2);
  ck_assert_int_eq(fx.completed_at_close, 2);
  ck_assert_int_eq(fx.recs[0].status, UV_EPIPE);
  ck_assert_int_eq(fx.recs[1].status, UV_EPIPE);
  ck_assert_int_eq(fx.recs[2].done, 0);
}
END_TEST

/* A callback of a failing call may call again, cancel another, close: the port is spent by then. */
static void on_failing(uva_call_t *call, int status, uva_msg_t *reply) {
  rec_t *rec = call->data;
  uva_msg_t *msg = value_msg(9);

  REQUIRE(reply == NULL);
  rec->status = status;
  rec->done++;
  fx.completed++;
  REQUIRE(uva_call_cancel(&fx.recs[1 - (rec - fx.recs)].call) == UV_EALREADY);
  REQUIRE(uva_port_call(&fx.a, call, msg, 10, on_failing) != 0);
  uva_msg_free(msg);
  REQUIRE(uva_port_close(&fx.a) != 0);
}

START_TEST(test_failing_callbacks_find_port_spent) {
  int i;

  fx.mode = ANSWER_HOLD;
  for (i = 0; i < 2; i++) {
    fx.recs[i].call.data = &fx.recs[i];
    ck_assert_int_eq(uva_port_call(&fx.a, &fx.recs[i].call, value_msg(1), UVA_WAIT_FOREVER, on_failing), 0);
  }
  ck_assert_int_eq(uva_port_close(&fx.b), 0);
  run_until_count(&fx.closed, 2);
  ck_assert_int_eq(fx.recs[0].status, UV_EPIPE);
  ck_assert_int_eq(fx.recs[1].status, UV_EPIPE);
  ck_assert_int_eq(fx.completed_at_close, 2);
}
END_TEST

/* ---- forwarding ---------------------------------------------------------------------------------- */

static void on_d_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  REQUIRE(uva_msg_is_call(msg));
  if (msg_value(msg) == 666) {
    uva_msg_free(msg); /* the duty went with it: freeing it breaks the promise */
    return;
  }
  REQUIRE(uva_msg_reply(msg, value_msg(msg_value(msg) + 2000)) == 0);
  uva_msg_free(msg);
}

/* b posts the request on to d: d's answer reaches a's call; d freeing it reaches a as UV_ECONNRESET. */
START_TEST(test_forwarded_request_answered_by_another) {
  ck_assert_int_eq(uva_channel_init(&fx.c, &fx.d), 0);
  ck_assert_int_eq(uva_port_start(&fx.d, test_loop, on_d_message, on_close), 0);
  fx.mode = ANSWER_FORWARD;
  ck_assert_int_eq(call_value(0, 5, 60000), 0);
  ck_assert_int_eq(call_value(1, 666, 60000), 0);
  run_until_count(&fx.completed, 2);
  ck_assert_int_eq(fx.recs[0].status, 0);
  ck_assert_int_eq(fx.recs[0].reply, 2005);
  ck_assert_int_eq(fx.recs[1].status, UV_ECONNRESET);
}
END_TEST

/* A request cannot go to a broadcast group: its answer is owed once. */
START_TEST(test_request_not_broadcast) {
  uva_broadcast_t m1, m2;

  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 5, 60000), 0);
  run_until_count(&fx.nheld, 1);
  ck_assert_int_eq(uva_broadcast_init(&m1, "test-call-bcast"), 0);
  ck_assert_int_eq(uva_broadcast_init(&m2, "test-call-bcast"), 0);
  ck_assert_int_eq(uva_broadcast_post(&m1, fx.held[0]), UV_EINVAL);
  ck_assert(uva_msg_is_call(fx.held[0]));
  ck_assert_int_eq(uva_broadcast_close(&m1), 0);
  ck_assert_int_eq(uva_broadcast_close(&m2), 0);
}
END_TEST

/* ---- the callee's misuse -------------------------------------------------------------------------- */

START_TEST(test_reply_rules) {
  uva_msg_t *plain = value_msg(1);
  uva_msg_t *reply = value_msg(2);

  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 5, 60000), 0);
  ck_assert_int_eq(call_value(1, 6, 60000), 0);
  run_until_count(&fx.nheld, 2);
  ck_assert(!uva_msg_is_call(plain));
  ck_assert(!uva_msg_is_call(NULL));
  ck_assert(uva_msg_is_call(fx.held[0]));
  ck_assert_int_eq(uva_msg_reply(plain, reply), UV_EINVAL);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], fx.held[0]), UV_EINVAL);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], fx.held[1]), UV_EINVAL); /* a request owed an answer */
  ck_assert_int_eq(uva_msg_reply_error(fx.held[0], 0, "zero"), UV_EINVAL);
  ck_assert_int_eq(uva_msg_reply_error(fx.held[0], UV_EIO, "negative"), UV_EINVAL);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], reply), 0);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], plain), UV_EALREADY);
  ck_assert_int_eq(uva_msg_reply_error(fx.held[0], 1, NULL), UV_EALREADY);
  ck_assert_int_eq(uva_msg_reply_error(fx.held[1], 7, NULL), 0);
  run_until_count(&fx.completed, 2);
  ck_assert_int_eq(fx.recs[0].reply, 2);
  ck_assert_int_eq(fx.recs[1].status, 7);
  ck_assert_int_eq(fx.recs[1].reply, -3); /* empty text */
  uva_msg_free(plain);
}
END_TEST

/* A request owed an answer cannot be the request of a new call: the duty would be lost. An answered one
 * can. */
START_TEST(test_request_cannot_start_a_call) {
  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 5, 60000), 0);
  run_until_count(&fx.nheld, 1);
  ck_assert_int_eq(uva_port_call(&fx.b, &fx.recs[1].call, fx.held[0], 10, on_call_done), UV_EINVAL);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], value_msg(1)), 0);
  fx.recs[1].call.data = &fx.recs[1];
  ck_assert_int_eq(uva_port_call(&fx.b, &fx.recs[1].call, fx.held[0], UVA_WAIT_FOREVER, on_call_done), 0);
  fx.held[0] = NULL;
  run_until_count(&fx.completed, 2);
  ck_assert_int_eq(fx.recs[0].reply, 1);
  ck_assert_int_eq(fx.plain, 1);                      /* a took it for a plain message and freed it: */
  ck_assert_int_eq(fx.recs[1].status, UV_ECONNRESET); /* a broken promise */
}
END_TEST

/* A reply that would end up inside its own carrier could never be taken: UV_ELOOP, nothing changed. The
 * caller's port a travels (its call timed out) in a message queued to q; a reply carrying q would be queued
 * to a, inside q's own queue. */
START_TEST(test_reply_that_would_loop) {
  uva_port_t q, r;
  uva_msg_t *carrier;
  uva_msg_t *reply;

  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 5, 0), 0);
  run_until_count(&fx.completed, 1);
  run_until_count(&fx.nheld, 1);
  ck_assert_int_eq(uva_channel_init(&q, &r), 0);
  ck_assert_int_eq(uva_msg_new(&carrier), 0);
  ck_assert_int_eq(uva_msg_pack_port(carrier, &fx.a), 0);
  ck_assert_int_eq(uva_port_post(&r, carrier), 0);
  ck_assert_int_eq(uva_msg_new(&reply), 0);
  ck_assert_int_eq(uva_msg_pack_port(reply, &q), 0);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], reply), UV_ELOOP);
  ck_assert(uva_msg_is_call(fx.held[0]));
  uva_msg_free(reply); /* closes q, and with it the carrier and a */
  ck_assert_int_eq(uva_port_close(&r), 0);
}
END_TEST

/* ---- bounds -------------------------------------------------------------------------------------- */

/* A call on a full bounded peer fails with UV_EAGAIN, the request unchanged and the caller's. */
START_TEST(test_bounded_peer_refuses_call) {
  uva_msg_t *msg;

  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(uva_port_set_limits(&fx.b, 1, 0), 0);
  ck_assert_int_eq(call_value(0, 1, 60000), 0);
  msg = value_msg(2);
  ck_assert_int_eq(uva_port_call(&fx.a, &fx.recs[1].call, msg, 60000, on_call_done), UV_EAGAIN);
  ck_assert(!uva_msg_is_call(msg));
  ck_assert_int_eq(uva_port_post(&fx.a, msg), UV_EAGAIN);
  uva_msg_free(msg);
  ck_assert_uint_eq(stats_of(&fx.a).calls_pending, 1);
}
END_TEST

/* Replies are owed: the caller's own bound never refuses them, though it refuses other posts. */
START_TEST(test_replies_bypass_caller_bound) {
  uva_msg_t *msg;
  int i;

  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(uva_port_set_limits(&fx.a, 1, 8), 0);
  for (i = 0; i < 10; i++)
    ck_assert_int_eq(call_value(i, (uint64_t)i, 60000), 0);
  run_until_count(&fx.nheld, 10);
  for (i = 0; i < 10; i++)
    ck_assert_int_eq(uva_msg_reply(fx.held[i], value_msg(100000 + (uint64_t)i)), 0);
  msg = value_msg(1);
  ck_assert_int_eq(uva_port_post(&fx.b, msg), UV_EAGAIN);
  uva_msg_free(msg);
  run_until_count(&fx.completed, 10);
  for (i = 0; i < 10; i++)
    ck_assert_int_eq(fx.recs[i].reply, 100000 + i);
}
END_TEST

/* ---- ports with calls ---------------------------------------------------------------------------- */

/* A port with calls pending cannot be transferred; once they completed, it can. */
START_TEST(test_transfer_busy_while_pending) {
  uva_msg_t *carrier;

  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 1, 60000), 0);
  ck_assert_int_eq(uva_msg_new(&carrier), 0);
  ck_assert_int_eq(uva_msg_pack_port(carrier, &fx.a), UV_EBUSY);
  run_until_count(&fx.nheld, 1);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], value_msg(1)), 0);
  run_until_count(&fx.completed, 1);
  ck_assert_int_eq(uva_msg_pack_port(carrier, &fx.a), 0);
  uva_msg_free(carrier); /* closes a */
  run_until_count(&fx.closed, 1);
}
END_TEST

/* Pending calls keep the loop alive, as libuv's requests do, even with the port unref'd; without calls the
 * unref'd port does not. */
START_TEST(test_pending_calls_keep_loop_alive) {
  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(uva_port_unref(&fx.a), 0);
  ck_assert_int_eq(uva_port_unref(&fx.b), 0);
  ck_assert_int_eq(uv_loop_alive(test_loop), 0);
  ck_assert_int_eq(call_value(0, 1, 30), 0);
  ck_assert_int_ne(uv_loop_alive(test_loop), 0);
  uv_run(test_loop, UV_RUN_DEFAULT); /* returns once the call timed out */
  ck_assert_int_eq(fx.recs[0].status, UV_ETIMEDOUT);
  ck_assert_int_eq(uv_loop_alive(test_loop), 0);
}
END_TEST

/* A receive on a started port skips replies: they go to their calls (on the next turn); the receive gets the
 * next plain message. */
START_TEST(test_receive_leaves_replies_to_calls) {
  uva_msg_t *msg;

  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 1, 60000), 0);
  run_until_count(&fx.nheld, 1);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], value_msg(11)), 0);
  ck_assert_int_eq(uva_port_post(&fx.b, value_msg(12)), 0);
  ck_assert_int_eq(uva_port_receive(&fx.a, &msg), 0);
  ck_assert_uint_eq(msg_value(msg), 12);
  uva_msg_free(msg);
  ck_assert_int_eq(fx.recs[0].done, 0);
  run_until_count(&fx.completed, 1);
  ck_assert_int_eq(fx.recs[0].reply, 11);
  ck_assert_int_eq(uva_port_receive(&fx.a, &msg), UV_EAGAIN);
}
END_TEST

/* Replies and messages from the peer keep their order: a reply posted after two messages completes its call
 * after both were delivered. */
START_TEST(test_replies_ordered_with_messages) {
  fx.mode = ANSWER_HOLD;
  ck_assert_int_eq(call_value(0, 1, 60000), 0);
  run_until_count(&fx.nheld, 1);
  ck_assert_int_eq(uva_port_post(&fx.b, value_msg(1)), 0);
  ck_assert_int_eq(uva_port_post(&fx.b, value_msg(2)), 0);
  ck_assert_int_eq(uva_msg_reply(fx.held[0], value_msg(3)), 0);
  run_until_count(&fx.completed, 1);
  ck_assert_int_eq(fx.plain, 2);
  ck_assert_uint_eq(fx.plain_last, 2);
}
END_TEST

/* The bad calls the header lists beyond the bad-input table's: a port not started, another thread's. */
START_TEST(test_call_needs_started_port) {
  uva_port_t x, y;
  uva_call_t call;
  uva_msg_t *msg = value_msg(1);
  uva_msg_t *reply = NULL;

  ck_assert_int_eq(uva_channel_init(&x, &y), 0);
  ck_assert_int_eq(uva_port_call(&x, &call, msg, 10, on_call_done), UV_EINVAL);
  ck_assert_int_eq(uva_port_call_wait(&fx.a, msg, 10, &reply), UV_EBUSY);
  ck_assert_ptr_null(reply);
  ck_assert(!uva_msg_is_call(msg));
  uva_msg_free(msg);
  ck_assert_int_eq(uva_port_close(&x), 0);
  ck_assert_int_eq(uva_port_close(&y), 0);
}
END_TEST

/* ---- loop-less callers --------------------------------------------------------------------------- */

/* b (not started) is answered by this thread: x calls, y answers. With a second thread: the caller. */
typedef struct {
  uva_port_t *port;
  int64_t timeout_ms;
  uint64_t value;
  int result;
  uva_msg_t *reply;
} waiter_t;

static void waiter_thread(void *arg) {
  waiter_t *w = arg;
  uva_msg_t *msg = value_msg(w->value);

  w->reply = NULL;
  w->result = uva_port_call_wait(w->port, msg, w->timeout_ms, &w->reply);
}

/* Takes the next request from port (not started), with a hang guard. */
static uva_msg_t *take_request(uva_port_t *port) {
  uva_msg_t *msg;

  ck_assert_int_eq(uva_port_receive_wait(port, &msg, HANG_GUARD_MS), 0);
  ck_assert(uva_msg_is_call(msg));
  return msg;
}

/* A loop-less call gets its reply; messages queued before and while it waited stay queued, in order, and a
 * later receive gets them. */
START_TEST(test_call_wait_keeps_other_messages) {
  uva_port_t x, y;
  uv_thread_t thread;
  uva_msg_t *req;
  uva_msg_t *msg;
  waiter_t w = {&x, HANG_GUARD_MS, 5, 0, NULL};
  int i;

  ck_assert_int_eq(uva_channel_init(&x, &y), 0);
  ck_assert_int_eq(uva_port_post(&y, value_msg(1)), 0);
  ck_assert_int_eq(uva_port_post(&y, value_msg(2)), 0);
  ck_assert_int_eq(uv_thread_create(&thread, waiter_thread, &w), 0);
  req = take_request(&y);
  ck_assert_uint_eq(msg_value(req), 5);
  ck_assert_int_eq(uva_port_post(&y, value_msg(3)), 0);
  ck_assert_int_eq(uva_msg_reply(req, value_msg(55)), 0);
  ck_assert_int_eq(uva_port_post(&y, value_msg(4)), 0);
  uva_msg_free(req);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  ck_assert_int_eq(w.result, 0);
  ck_assert_uint_eq(msg_value(w.reply), 55);
  ck_assert(!uva_msg_is_call(w.reply));
  uva_msg_free(w.reply);
  for (i = 1; i <= 4; i++) {
    ck_assert_int_eq(uva_port_receive(&x, &msg), 0);
    ck_assert_uint_eq(msg_value(msg), (uint64_t)i);
    uva_msg_free(msg);
  }
  ck_assert_int_eq(uva_port_receive(&x, &msg), UV_EAGAIN);
  ck_assert_int_eq(uva_port_close(&x), 0);
  ck_assert_int_eq(uva_port_close(&y), 0);
}
END_TEST

/* One loop-less call at a time on a port: while one thread waits for its answer, another's call is refused
 * at once (UV_EBUSY) and changes nothing (its request is still its own, nothing was posted); the first gets
 * its answer. */
START_TEST(test_second_call_wait_refused) {
  uva_port_t x, y;
  uv_thread_t thread;
  uva_msg_t *second = value_msg(6);
  uva_msg_t *reply = NULL;
  uva_msg_t *req;
  uva_msg_t *msg;
  waiter_t w = {&x, HANG_GUARD_MS, 5, 0, NULL};

  ck_assert_int_eq(uva_channel_init(&x, &y), 0);
  ck_assert_int_eq(uv_thread_create(&thread, waiter_thread, &w), 0);
  req = take_request(&y); /* the first is waiting for its answer */
  ck_assert_int_eq(uva_port_call_wait(&x, second, 0, &reply), UV_EBUSY);
  ck_assert_ptr_null(reply);
  ck_assert(!uva_msg_is_call(second));
  ck_assert_int_eq(uva_port_receive(&y, &msg), UV_EAGAIN);
  ck_assert_int_eq(uva_msg_reply(req, value_msg(55)), 0);
  uva_msg_free(req);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  ck_assert_int_eq(w.result, 0);
  ck_assert_uint_eq(msg_value(w.reply), 55);
  uva_msg_free(w.reply);
  /* The wait over, the next may call. */
  ck_assert_int_eq(uva_port_call_wait(&x, second, 0, &reply), UV_ETIMEDOUT);
  ck_assert_int_eq(uva_port_close(&x), 0);
  ck_assert_int_eq(uva_port_close(&y), 0);
}
END_TEST

/* A loop-less call that times out, on this one thread: the wait rule's 0 and a timeout > 0; the answers
 * that come later are late, counted, and skipped by the next receive and the next call. */
START_TEST(test_call_wait_timeouts_and_late_replies) {
  uva_port_t x, y;
  uva_msg_t *req;
  uva_msg_t *msg;
  uva_msg_t *reply = NULL;
  uva_port_stats_t stats;
  uint64_t start;

  ck_assert_int_eq(uva_channel_init(&x, &y), 0);
  ck_assert_int_eq(uva_port_call_wait(&x, value_msg(1), 0, &reply), UV_ETIMEDOUT); /* consumed */
  ck_assert_ptr_null(reply);
  req = take_request(&y);
  ck_assert_int_eq(uva_msg_reply(req, value_msg(100)), 0);
  uva_msg_free(req);
  ck_assert_int_eq(uva_port_post(&y, value_msg(7)), 0);
  ck_assert_int_eq(uva_port_receive(&x, &msg), 0); /* the late reply is skipped */
  ck_assert_uint_eq(msg_value(msg), 7);
  uva_msg_free(msg);
  ck_assert_int_eq(uva_port_stats(&x, &stats), 0);
  ck_assert_uint_eq(stats.late_replies, 1);
  ck_assert_uint_eq(stats.calls_pending, 0);
  start = uv_hrtime();
  ck_assert_int_eq(uva_port_call_wait(&x, value_msg(2), 20, &reply), UV_ETIMEDOUT);
  ck_assert_uint_ge(uv_hrtime() - start, 20 * 1000000ULL);
  req = take_request(&y);
  ck_assert_int_eq(uva_msg_reply_error(req, 9, "late"), 0);
  uva_msg_free(req);
  ck_assert_int_eq(uva_port_post(&y, value_msg(8)), 0);
  ck_assert_int_eq(uva_port_call_wait(&x, value_msg(3), 0, &reply), UV_ETIMEDOUT); /* skips the late one */
  ck_assert_int_eq(uva_port_stats(&x, &stats), 0);
  ck_assert_uint_eq(stats.late_replies, 2);
  ck_assert_int_eq(uva_port_receive(&x, &msg), 0); /* and leaves the plain message */
  ck_assert_uint_eq(msg_value(msg), 8);
  uva_msg_free(msg);
  uva_msg_free(take_request(&y)); /* its broken promise is late too, freed with x's queue */
  ck_assert_int_eq(uva_port_close(&x), 0);
  ck_assert_int_eq(uva_port_close(&y), 0);
}
END_TEST

/* The callee's error, a broken promise and a closed channel, through loop-less calls answered by another
 * thread. The third request is held while the channel closes, then freed: its notice finds the channel
 * closed, and the call sees UV_EPIPE. */
static void answer_thread(void *arg) {
  uva_port_t *y = arg;
  uva_msg_t *req;

  REQUIRE(uva_port_receive_wait(y, &req, HANG_GUARD_MS) == 0);
  REQUIRE(uva_msg_reply_error(req, 77, "nope") == 0);
  uva_msg_free(req);
  REQUIRE(uva_port_receive_wait(y, &req, HANG_GUARD_MS) == 0);
  uva_msg_free(req);
  REQUIRE(uva_port_receive_wait(y, &req, HANG_GUARD_MS) == 0);
  REQUIRE(uva_port_close(y) == 0);
  uva_msg_free(req);
}

START_TEST(test_call_wait_error_reset_pipe) {
  uva_port_t x, y;
  uv_thread_t thread;
  uva_msg_t *reply = NULL;

  ck_assert_int_eq(uva_channel_init(&x, &y), 0);
  ck_assert_int_eq(uv_thread_create(&thread, answer_thread, &y), 0);
  ck_assert_int_eq(uva_port_call_wait(&x, value_msg(1), HANG_GUARD_MS, &reply), 77);
  ck_assert(msg_text_is(reply, "nope"));
  uva_msg_free(reply);
  reply = NULL;
  ck_assert_int_eq(uva_port_call_wait(&x, value_msg(2), HANG_GUARD_MS, &reply), UV_ECONNRESET);
  ck_assert_int_eq(uva_port_call_wait(&x, value_msg(3), HANG_GUARD_MS, &reply), UV_EPIPE);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  /* Closed before the post: UV_EPIPE again, and the request consumed all the same. */
  ck_assert_int_eq(uva_port_call_wait(&x, value_msg(4), HANG_GUARD_MS, &reply), UV_EPIPE);
  ck_assert_ptr_null(reply);
  ck_assert_int_eq(uva_port_close(&x), 0);
}
END_TEST

/* ---- actors -------------------------------------------------------------------------------------- */

/* An actor that answers every request at once with value + 1000, or with an error for 13. */
static void on_parent_request(uva_port_t *port, uva_msg_t *msg) {
  uint64_t value;

  (void)port;
  if (!uva_msg_is_call(msg)) {
    uva_msg_free(msg);
    return;
  }
  value = msg_value(msg);
  if (value == 13)
    REQUIRE(uva_msg_reply_error(msg, 13, "nope") == 0);
  else if (value != 666)
    REQUIRE(uva_msg_reply(msg, value_msg(value + 1000)) == 0);
  uva_msg_free(msg);
}

static int answering_main(uva_self_t *self) {
  return uva_port_start(uva_self_port(self), uva_self_loop(self), on_parent_request, NULL);
}

static int actor_exits;

static void on_actor_exit(uva_actor_t *actor, int code) {
  (void)actor;
  (void)code;
  actor_exits++;
}

/* A parent with a loop calls its actor many times, one after another and many at once. */
static int seq_left;

static void on_seq(uva_call_t *call, int status, uva_msg_t *reply) {
  uva_actor_t *actor = call->data;

  REQUIRE(status == 0 && msg_value(reply) == (uint64_t)seq_left + 101000);
  uva_msg_free(reply);
  if (--seq_left > 0)
    REQUIRE(uva_port_call(uva_actor_port(actor), call, value_msg((uint64_t)seq_left + 100000), 10000,
                          on_seq) == 0);
  else
    REQUIRE(uva_actor_terminate(actor) == 0);
}

static void on_actor_call(uva_call_t *call, int status, uva_msg_t *reply) {
  rec_t *rec = call->data;

  rec->done++;
  rec->status = status;
  rec->reply = status == 0 ? (int64_t)msg_value(reply) : status > 0 && msg_text_is(reply, "nope") ? -2 : -1;
  uva_msg_free(reply);
  fx.completed++;
}

START_TEST(test_actor_answers_calls) {
  uva_actor_options_t options = {.exit_cb = on_actor_exit};
  uva_actor_t actor;
  uva_call_t call;
  uva_msg_t *msg;
  int i;

  actor_exits = 0;
  ck_assert_int_eq(uva_actor_spawn(&actor, test_loop, answering_main, &options), 0);
  for (i = 0; i < 100; i++) {
    fx.recs[i].call.data = &fx.recs[i];
    msg = value_msg(i == 50 ? 13 : 100 + (uint64_t)i);
    ck_assert_int_eq(uva_port_call(uva_actor_port(&actor), &fx.recs[i].call, msg, 10000, on_actor_call), 0);
  }
  run_until_count(&fx.completed, 100);
  for (i = 0; i < 100; i++) {
    ck_assert_int_eq(fx.recs[i].done, 1);
    ck_assert_int_eq(fx.recs[i].status, (i == 50 ? 13 : 0));
    ck_assert_int_eq(fx.recs[i].reply, (i == 50 ? -2 : i + 1100));
  }
  seq_left = 1000;
  call.data = &actor;
  ck_assert_int_eq(uva_port_call(uva_actor_port(&actor), &call, value_msg(101000), 10000, on_seq), 0);
  run_until_count(&actor_exits, 1);
  ck_assert_int_eq(seq_left, 0);
}
END_TEST

/* Calls pending on an actor that is terminated fail with UV_EPIPE; none hangs. The actor keeps the requests
 * it gets and frees them, unanswered, as its port closes. */
static void on_held_request(uva_port_t *port, uva_msg_t *msg) {
  uva_msg_t **held = port->data;
  int i;

  for (i = 0; held[i] != NULL; i++)
    ;
  held[i] = msg; /* kept until the actor ends: the teardown frees the port, not these */
}

static uva_msg_t *actor_held[8];

static void on_actor_port_close(uva_port_t *port) {
  uva_msg_t **held = port->data;
  int i;

  for (i = 0; held[i] != NULL; i++) {
    uva_msg_free(held[i]); /* freed unanswered: the caller's channel is closed by now */
    held[i] = NULL;
  }
}

static int holding_main(uva_self_t *self) {
  uva_self_port(self)->data = actor_held;
  return uva_port_start(uva_self_port(self), uva_self_loop(self), on_held_request, on_actor_port_close);
}

static int terminate_pending;

static void on_terminated_call(uva_call_t *call, int status, uva_msg_t *reply) {
  rec_t *rec = call->data;

  REQUIRE(reply == NULL);
  rec->status = status;
  rec->done++;
  terminate_pending--;
}

START_TEST(test_terminated_callee_fails_calls) {
  uva_actor_options_t options = {.exit_cb = on_actor_exit};
  uva_actor_t actor;
  int i;

  actor_exits = 0;
  memset(actor_held, 0, sizeof(actor_held));
  ck_assert_int_eq(uva_actor_spawn(&actor, test_loop, holding_main, &options), 0);
  terminate_pending = 3;
  for (i = 0; i < 3; i++) {
    fx.recs[i].call.data = &fx.recs[i];
    ck_assert_int_eq(uva_port_call(uva_actor_port(&actor), &fx.recs[i].call, value_msg((uint64_t)i),
                                   i == 0 ? 60000 : UVA_WAIT_FOREVER, on_terminated_call),
                     0);
  }
  ck_assert_int_eq(uva_actor_terminate(&actor), 0);
  run_until_count(&actor_exits, 1);
  ck_assert_int_eq(terminate_pending, 0);
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(fx.recs[i].done, 1);
    /* Dropped with the actor's queue, or held and freed as its port closed: the channel closed first. */
    ck_assert_int_eq(fx.recs[i].status, UV_EPIPE);
  }
}
END_TEST

/* A loop-less parent calls its actor: the reply, the callee's error, and the messages the actor posted
 * stay for uva_port_receive_wait(). */
static void on_request_and_post(uva_port_t *port, uva_msg_t *msg) {
  if (uva_msg_is_call(msg))
    REQUIRE(uva_port_post(port, value_msg(msg_value(msg))) == 0); /* a plain message first */
  on_parent_request(port, msg);
}

static int posting_main(uva_self_t *self) {
  return uva_port_start(uva_self_port(self), uva_self_loop(self), on_request_and_post, NULL);
}

START_TEST(test_loopless_parent_calls_actor) {
  uva_actor_t actor;
  uva_msg_t *reply = NULL;
  uva_msg_t *msg;
  int i;

  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, posting_main, NULL), 0);
  for (i = 100; i < 120; i++) {
    ck_assert_int_eq(
        uva_port_call_wait(uva_actor_port(&actor), value_msg((uint64_t)i), HANG_GUARD_MS, &reply), 0);
    ck_assert_uint_eq(msg_value(reply), (uint64_t)i + 1000);
    uva_msg_free(reply);
  }
  ck_assert_int_eq(uva_port_call_wait(uva_actor_port(&actor), value_msg(13), HANG_GUARD_MS, &reply), 13);
  ck_assert(msg_text_is(reply, "nope"));
  uva_msg_free(reply);
  for (i = 100; i < 120; i++) {
    ck_assert_int_eq(uva_port_receive_wait(uva_actor_port(&actor), &msg, HANG_GUARD_MS), 0);
    ck_assert_uint_eq(msg_value(msg), (uint64_t)i);
    uva_msg_free(msg);
  }
  ck_assert_int_eq(uva_port_receive_wait(uva_actor_port(&actor), &msg, HANG_GUARD_MS), 0);
  ck_assert_uint_eq(msg_value(msg), 13);
  uva_msg_free(msg);
  ck_assert_int_eq(uva_actor_terminate(&actor), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, NULL), 0);
}
END_TEST

/* An actor blocked in uva_port_call_wait() is ended by terminate: the wait returns UV_ECANCELED. */
static int wait_result = 1;

static int waiting_main(uva_self_t *self) {
  uva_port_t x, y;
  uva_msg_t *reply;

  REQUIRE(uva_channel_init(&x, &y) == 0);
  REQUIRE(uva_port_post(uva_self_port(self), value_msg(1)) == 0); /* "about to wait" */
  wait_result = uva_port_call_wait(&x, value_msg(2), UVA_WAIT_FOREVER, &reply);
  REQUIRE(uva_port_close(&x) == 0);
  REQUIRE(uva_port_close(&y) == 0); /* frees the request: its notice finds the channel closed */
  return 0;
}

static void on_waiting_actor_message(uva_actor_t *actor, uva_msg_t *msg) {
  uva_msg_free(msg);
  REQUIRE(uva_actor_terminate(actor) == 0);
}

START_TEST(test_terminate_ends_call_wait) {
  uva_actor_options_t options = {.exit_cb = on_actor_exit, .message_cb = on_waiting_actor_message};
  uva_actor_t actor;

  actor_exits = 0;
  ck_assert_int_eq(uva_actor_spawn(&actor, test_loop, waiting_main, &options), 0);
  run_until_count(&actor_exits, 1);
  ck_assert_int_eq(wait_result, UV_ECANCELED);
}
END_TEST

/* On the thread of an actor that is ending, a loop-less call that would have to wait returns UV_ECANCELED,
 * whatever its timeout, 0 included (the wait rule); the request is consumed, as with every status. The
 * results go through statics: after uva_self_exit() the exit code is the one it named, not main's. */
static int ending_results[2];
static uva_msg_t *ending_reply;

static int exit_then_call_main(uva_self_t *self) {
  uva_port_t x, y;

  REQUIRE(uva_channel_init(&x, &y) == 0);
  REQUIRE(uva_self_exit(self, 0) == 0);
  ending_results[0] = uva_port_call_wait(&x, value_msg(1), 0, &ending_reply);
  ending_results[1] = uva_port_call_wait(&x, value_msg(2), 10, &ending_reply);
  REQUIRE(uva_port_close(&x) == 0);
  REQUIRE(uva_port_close(&y) == 0); /* frees both requests, unanswered: their notices find it closed */
  return 0;
}

START_TEST(test_ending_actor_call_wait_cancelled_at_any_timeout) {
  uva_actor_t actor;

  ending_results[0] = ending_results[1] = 1;
  ending_reply = NULL;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, exit_then_call_main, NULL), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, NULL), 0);
  ck_assert_int_eq(ending_results[0], UV_ECANCELED);
  ck_assert_int_eq(ending_results[1], UV_ECANCELED);
  ck_assert_ptr_null(ending_reply);
}
END_TEST

/* ---- the suite ----------------------------------------------------------------------------------- */

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("call", 30, fx_setup, fx_teardown),
      TEST(test_reply),
      TEST(test_many_answered_in_any_order),
      TEST(test_error_reply),
      TEST(test_handle_reused_from_callback),
      TEST(test_timeout_then_late_reply),
      TEST(test_timeouts_fire_in_deadline_order),
      TEST(test_random_timeouts_expire_in_order),
      TEST(test_decreasing_timeouts_expire_in_order),
      TEST(test_timeout_zero),
      TEST(test_timeout_zero_answer_queued_wins),
      TEST(test_timeout_zero_same_loop_callee),
      TEST(test_expiring_calls_get_queued_answers),
      TEST(test_pending_handle_refused),
      TEST(test_cancel),
      TEST(test_cancel_in_forked_child),
      TEST(test_cancel_after_answer_queued),
      TEST(test_timeouts_take_the_port_share),
      TEST(test_cancels_take_the_port_share),
      TEST(test_request_freed_unanswered),
      TEST(test_peer_close_fails_pending_before_close_cb),
      TEST(test_own_close_fails_pending),
      TEST(test_failing_callbacks_find_port_spent),
      TEST(test_forwarded_request_answered_by_another),
      TEST(test_request_not_broadcast),
      TEST(test_reply_rules),
      TEST(test_request_cannot_start_a_call),
      TEST(test_reply_that_would_loop),
      TEST(test_bounded_peer_refuses_call),
      TEST(test_replies_bypass_caller_bound),
      TEST(test_transfer_busy_while_pending),
      TEST(test_pending_calls_keep_loop_alive),
      TEST(test_receive_leaves_replies_to_calls),
      TEST(test_replies_ordered_with_messages),
      TEST(test_call_needs_started_port),
      TEST(test_call_wait_keeps_other_messages),
      TEST(test_second_call_wait_refused),
      TEST(test_call_wait_timeouts_and_late_replies),
      TEST(test_call_wait_error_reset_pipe),
      TEST(test_actor_answers_calls),
      TEST(test_terminated_callee_fails_calls),
      TEST(test_loopless_parent_calls_actor),
      TEST(test_terminate_ends_call_wait),
      TEST(test_ending_actor_call_wait_cancelled_at_any_timeout),
  };

  return suite_of_rows("call", rows, sizeof(rows) / sizeof(rows[0]));
}
