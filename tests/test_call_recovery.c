/* Calls (include/uvactor/call.h) where they meet recovery (include/uvactor/supervise.h): calls over a port
 * opened by name, from a loop and from a thread without one; calls pending on an actor that fails, which
 * all end with UV_EPIPE, none hangs; and calls to a supervised child that fails and is restarted, which
 * reach the new instance by name again.
 *
 * The callee is an actor that registers a name, answers every request it gets (on its parent's port and on
 * every channel it accepts) with value + 1000, keeps the ones marked HOLD unanswered, and fails on FAIL.
 * What happens is ordered by messages, events and joins, never by sleeps. Nothing touches libuv's
 * threadpool (Check forks per test: libuv#4443). */
#include <check.h>
#include <stdlib.h>

#include "supervise_fixture.h"

#define NAME "uva-test-call-callee"
#define HOLD (-1) /* the callee keeps the request unanswered until the port it came on closes */
#define FAIL (-2) /* the same, then the callee fails: uva_self_fail(self, FAIL_CODE, FAIL_TEXT) */
#define FAIL_CODE 7
#define FAIL_TEXT "callee failed"

/* ---- the callee ----------------------------------------------------------------------------------- */

#define MAX_ACCEPTED 4
#define MAX_HELD 8
#define MAX_CALLEES 4

typedef struct callee_s callee_t;

/* The requests one port of the callee keeps. */
typedef struct {
  callee_t *callee;
  uva_msg_t *held[MAX_HELD];
  int nheld;
} held_t;

struct callee_s {
  uva_self_t *self;
  uva_name_t name;
  uva_port_t accepted[MAX_ACCEPTED];
  int naccepted;
  held_t held[1 + MAX_ACCEPTED]; /* [0]: the parent's port; [1 + i]: accepted[i] */
};

/* One per instance (a restarted child is a new one); each lives on its own actor's thread. */
static callee_t callees[MAX_CALLEES];
static atomic_int ncallees;

static void on_request(uva_port_t *port, uva_msg_t *msg) {
  held_t *h = port->data;
  int64_t v;

  if (!uva_msg_is_call(msg)) {
    uva_msg_free(msg);
    return;
  }
  v = msg_int(msg);
  if (v >= 0) {
    ACTOR_CHECK(uva_msg_reply(msg, int_msg(v + 1000)) == 0);
    uva_msg_free(msg);
    return;
  }
  ACTOR_CHECK(h->nheld < MAX_HELD);
  h->held[h->nheld++] = msg;
  if (v == FAIL)
    uva_self_fail(h->callee->self, FAIL_CODE, FAIL_TEXT);
}

/* The port closed with the actor: the requests it kept go unanswered, and their notices find the callers'
 * channels closed already, so the calls end with UV_EPIPE, not UV_ECONNRESET. */
static void on_callee_port_close(uva_port_t *port) {
  held_t *h = port->data;

  while (h->nheld > 0)
    uva_msg_free(h->held[--h->nheld]);
}

static void on_accept(uva_name_t *name) {
  callee_t *c = name->data;
  uva_port_t *port = &c->accepted[c->naccepted];

  ACTOR_CHECK(c->naccepted < MAX_ACCEPTED);
  ACTOR_CHECK(uva_name_accept(name, port) == 0);
  port->data = &c->held[1 + c->naccepted++];
  ACTOR_CHECK(uva_port_start(port, name->loop, on_request, on_callee_port_close) == 0);
}

/* Registers NAME, then tells its parent so (a message of 1). */
static int callee_main(uva_self_t *self) {
  int n = atomic_fetch_add(&ncallees, 1);
  callee_t *c = &callees[n];
  uva_port_t *port = uva_self_port(self);
  int i;

  ACTOR_CHECK(n < MAX_CALLEES);
  memset(c, 0, sizeof(*c));
  c->self = self;
  for (i = 0; i < 1 + MAX_ACCEPTED; i++)
    c->held[i].callee = c;
  port->data = &c->held[0];
  ACTOR_CHECK(uva_port_start(port, uva_self_loop(self), on_request, on_callee_port_close) == 0);
  c->name.data = c;
  ACTOR_CHECK(uva_name_register(&c->name, uva_self_loop(self), NAME, on_accept) == 0);
  ACTOR_CHECK(post_int(port, 1) == 0);
  return 0;
}

/* Spawns the callee for a parent without a loop, and waits until it holds NAME. */
static void spawn_callee(uva_actor_t *actor) {
  uva_msg_t *msg;

  ck_assert_int_eq(uva_actor_spawn(actor, NULL, callee_main, NULL), 0);
  ck_assert_int_eq(uva_port_receive_wait(uva_actor_port(actor), &msg, HANG_GUARD_MS), 0);
  ck_assert_int_eq(msg_int(msg), 1);
  uva_msg_free(msg);
}

/* ---- the caller, on the test's loop --------------------------------------------------------------- */

#define MAX_CALLS 16

typedef struct {
  uva_call_t call;
  int done;
  int status;
  int64_t reply; /* the reply's value; INT64_MIN for none */
} rec_t;

static rec_t recs[MAX_CALLS];
static int completed;    /* call callbacks run */
static int port_closes;  /* close callbacks of the caller's ports */
static int completed_at; /* completed when the last one ran */

static void on_done(uva_call_t *call, int status, uva_msg_t *reply) {
  rec_t *rec = call->data;

  rec->done++;
  rec->status = status;
  rec->reply = reply != NULL ? msg_int(reply) : INT64_MIN;
  uva_msg_free(reply);
  completed++;
}

static void call_on(uva_port_t *port, int i, int64_t value) {
  recs[i].call.data = &recs[i];
  ck_assert_int_eq(uva_port_call(port, &recs[i].call, int_msg(value), UVA_WAIT_FOREVER, on_done), 0);
}

static void on_plain(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

static void on_caller_close(uva_port_t *port) {
  (void)port;
  port_closes++;
  completed_at = completed;
}

static void setup(void) {
  loop_setup();
  memset(recs, 0, sizeof(recs));
  completed = port_closes = 0;
  completed_at = -1;
  atomic_store(&ncallees, 0);
  reset_actor_failure();
}

static void teardown(void) {
  assert_actors_ok();
  loop_teardown();
}

/* ---- calls over a port opened by name ---------------------------------------------------------------- */

typedef struct {
  uva_name_req_t req;
  uva_port_t port;
  int done;
  int status;
} opener_t;

static void on_opened(uva_name_req_t *req, int status) {
  opener_t *o = req->data;

  o->done++;
  o->status = status;
}

static void open_callee(opener_t *o) {
  memset(o, 0, sizeof(*o));
  o->req.data = o;
  ck_assert_int_eq(uva_name_open(&o->req, test_loop, NAME, on_opened, &o->port), 0);
  ck_assert(run_until(test_loop, &o->done, 1));
  ck_assert_int_eq(o->status, 0);
  ck_assert_int_eq(uva_port_start(&o->port, test_loop, on_plain, on_caller_close), 0);
}

static int downs;
static int down_code;
static char down_text[64];

static void on_down(uva_monitor_t *mon, int exit_code, const char *error_text) {
  (void)mon;
  downs++;
  down_code = exit_code;
  snprintf(down_text, sizeof(down_text), "%s", error_text != NULL ? error_text : "");
}

/* A loop opens the callee's name and calls it, many calls in flight; then the callee fails with calls
 * pending: every one ends with UV_EPIPE, before the port's close callback, and a monitor hears how the
 * callee ended. */
START_TEST(test_calls_over_a_named_port) {
  uva_monitor_t mon;
  uva_actor_t actor;
  opener_t o;
  int code = 0;
  int i;

  spawn_callee(&actor);
  open_callee(&o);
  for (i = 0; i < 8; i++)
    call_on(&o.port, i, i);
  ck_assert(run_until(test_loop, &completed, 8));
  for (i = 0; i < 8; i++) {
    ck_assert_int_eq(recs[i].status, 0);
    ck_assert_int_eq(recs[i].reply, i + 1000);
  }
  downs = 0;
  ck_assert_int_eq(uva_monitor_start(&mon, test_loop, uva_actor_id(&actor), on_down), 0);
  call_on(&o.port, 8, HOLD);
  call_on(&o.port, 9, HOLD);
  call_on(&o.port, 10, FAIL);
  ck_assert(run_until(test_loop, &port_closes, 1));
  ck_assert_int_eq(completed_at, 11);
  for (i = 8; i <= 10; i++) {
    ck_assert_int_eq(recs[i].done, 1);
    ck_assert_int_eq(recs[i].status, UV_EPIPE);
  }
  ck_assert(run_until(test_loop, &downs, 1));
  ck_assert_int_eq(down_code, FAIL_CODE);
  ck_assert_str_eq(down_text, FAIL_TEXT);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, FAIL_CODE);
}
END_TEST

/* A thread without a loop opens the name and calls with uva_port_call_wait(); the callee fails while the
 * call waits: the wait ends with UV_EPIPE, and a call after that fails the same way (its request freed). */
START_TEST(test_call_wait_over_a_named_port) {
  uva_actor_t actor;
  uva_port_t port;
  uva_msg_t *reply = NULL;
  int code = 0;

  spawn_callee(&actor);
  ck_assert_int_eq(uva_name_open_wait(NAME, HANG_GUARD_MS, &port), 0);
  ck_assert_int_eq(uva_port_call_wait(&port, int_msg(5), HANG_GUARD_MS, &reply), 0);
  ck_assert_int_eq(msg_int(reply), 1005);
  uva_msg_free(reply);
  reply = NULL;
  ck_assert_int_eq(uva_port_call_wait(&port, int_msg(FAIL), UVA_WAIT_FOREVER, &reply), UV_EPIPE);
  ck_assert_int_eq(uva_port_call_wait(&port, int_msg(6), HANG_GUARD_MS, &reply), UV_EPIPE);
  ck_assert_ptr_null(reply);
  ck_assert_int_eq(uva_port_close(&port), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, FAIL_CODE);
}
END_TEST

/* ---- a supervised callee ------------------------------------------------------------------------- */

static uva_supervisor_t sup;
static uva_actor_t *child; /* the running instance, as the last STARTED or RESTARTED event gave it */
static int restarts;
static int direct_done_at_restart; /* calls made through the old instance's port, completed by then */
static int registered;             /* instances that hold NAME */
static opener_t openers[2];        /* one per instance */
static int sup_closed;

static void on_sup_event(uva_supervisor_t *s, const uva_supervisor_event_t *event) {
  (void)s;
  if (event->type == UVA_SUPERVISOR_STARTED || event->type == UVA_SUPERVISOR_RESTARTED)
    child = event->actor;
  if (event->type == UVA_SUPERVISOR_RESTARTED) {
    restarts++;
    direct_done_at_restart = recs[0].done + recs[1].done;
  }
}

static void on_instance_opened(uva_name_req_t *req, int status) {
  opener_t *o = req->data;

  ck_assert_int_eq(status, 0);
  ck_assert_int_eq(uva_port_start(&o->port, test_loop, on_plain, on_caller_close), 0);
  if (o == &openers[0]) {
    call_on(uva_actor_port(child), 0, HOLD); /* through the supervisor's handle of the instance */
    call_on(uva_actor_port(child), 1, HOLD);
    call_on(&o->port, 2, HOLD);
    call_on(&o->port, 3, FAIL);
  } else {
    call_on(&o->port, 4, 5);
  }
}

/* An instance says it holds NAME: open it. */
static void on_instance_message(uva_actor_t *actor, uva_msg_t *msg) {
  opener_t *o = &openers[registered++];

  (void)actor;
  uva_msg_free(msg);
  ck_assert_int_lt(registered, 3);
  memset(o, 0, sizeof(*o));
  o->req.data = o;
  ck_assert_int_eq(uva_name_open(&o->req, test_loop, NAME, on_instance_opened, &o->port), 0);
}

static void on_sup_closed(uva_supervisor_t *s) {
  (void)s;
  sup_closed++;
}

/* A supervised callee fails with calls pending: those made through the supervisor's handle of it have all
 * ended with UV_EPIPE by the RESTARTED event (an actor's port fails its calls before the actor's exit is
 * reported); those made by name end the same way; the restarted instance, opened by name again, answers. */
START_TEST(test_supervised_callee_restarts) {
  uva_actor_options_t child_options = {.message_cb = on_instance_message};
  uva_supervisor_options_t options = {.backoff_min_ms = UVA_BACKOFF_OFF, .event_cb = on_sup_event};
  uva_child_spec_t spec = {.id = "callee", .main_cb = callee_main, .options = &child_options};
  int i;

  child = NULL;
  restarts = registered = sup_closed = 0;
  direct_done_at_restart = -1;
  ck_assert_int_eq(uva_supervisor_init(&sup, test_loop, &options), 0);
  ck_assert_int_eq(uva_supervisor_add(&sup, &spec), 0);
  ck_assert_int_eq(uva_supervisor_start(&sup), 0);
  ck_assert(run_until(test_loop, &completed, 5));
  ck_assert_int_eq(restarts, 1);
  ck_assert_int_eq(direct_done_at_restart, 2);
  for (i = 0; i < 4; i++) {
    ck_assert_int_eq(recs[i].done, 1);
    ck_assert_int_eq(recs[i].status, UV_EPIPE);
  }
  ck_assert_int_eq(recs[4].status, 0);
  ck_assert_int_eq(recs[4].reply, 1005);
  ck_assert_int_eq(uva_port_close(&openers[1].port), 0);
  ck_assert_int_eq(uva_supervisor_close(&sup, on_sup_closed), 0);
  ck_assert(run_until(test_loop, &sup_closed, 1));
  ck_assert(run_until(test_loop, &port_closes, 2));
}
END_TEST

/* ---- the suite ----------------------------------------------------------------------------------- */

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("recovery", 30, setup, teardown),
      TEST(test_calls_over_a_named_port),
      TEST(test_call_wait_over_a_named_port),
      TEST(test_supervised_callee_restarts),
  };

  return suite_of_rows("call_recovery", rows, sizeof(rows) / sizeof(rows[0]));
}
