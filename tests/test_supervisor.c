/* actors/supervisor.c: supervisors (include/uvactor/supervise.h, "supervisors").
 *
 * One test per rule. Every event is written down as a line ("EXITED b 5", "RESTARTED a by b 5") and a test
 * compares the lines it expects, in order: the order of starts, stops and restarts is the contract. Children
 * are the steered actor of supervise_fixture.h (the test posts v: v >= 0 ends it with v, v < 0 fails it
 * with -v and "failed"), or actors that fail as they start. Nothing sleeps to order events; the backoff and
 * window tests only check lower bounds of time. Nothing touches libuv's threadpool (libuv#4443). */
#include <check.h>
#include <stdarg.h>
#include <stdlib.h>

#include "supervise_fixture.h"

/* ---- the events, as lines ------------------------------------------------------------------------ */

#define MAX_EVENTS 64

typedef struct {
  char line[MAX_EVENTS][64];
  uint64_t at_ms[MAX_EVENTS]; /* when it came */
  uint64_t actor_id[MAX_EVENTS];
  int n;
  int closed;                                                               /* close callbacks */
  void (*hook)(uva_supervisor_t *sup, const uva_supervisor_event_t *event); /* runs after the line is kept */
} record_t;

static const char *const type_name[] = {
    [UVA_SUPERVISOR_STARTED] = "STARTED",
    [UVA_SUPERVISOR_RESTARTED] = "RESTARTED",
    [UVA_SUPERVISOR_EXITED] = "EXITED",
    [UVA_SUPERVISOR_STOPPED] = "STOPPED",
    [UVA_SUPERVISOR_STOP_TIMEOUT] = "STOP_TIMEOUT",
    [UVA_SUPERVISOR_GAVE_UP] = "GAVE_UP",
};

static void on_event(uva_supervisor_t *sup, const uva_supervisor_event_t *e) {
  record_t *rec = sup->data;
  char *line;

  ck_assert_int_lt(rec->n, MAX_EVENTS);
  line = rec->line[rec->n];
  switch (e->type) {
  case UVA_SUPERVISOR_STARTED:
  case UVA_SUPERVISOR_STOP_TIMEOUT:
    ck_assert_ptr_nonnull(e->actor);
    snprintf(line, 64, "%s %s", type_name[e->type], e->child);
    break;
  case UVA_SUPERVISOR_RESTARTED:
    ck_assert_ptr_nonnull(e->actor);
    snprintf(line, 64, "RESTARTED %s by %s %d", e->child, e->cause, e->exit_code);
    break;
  case UVA_SUPERVISOR_EXITED:
  case UVA_SUPERVISOR_STOPPED:
    ck_assert_ptr_null(e->actor);
    snprintf(line, 64, "%s %s %d", type_name[e->type], e->child, e->exit_code);
    break;
  case UVA_SUPERVISOR_GAVE_UP:
    ck_assert_ptr_null(e->child);
    snprintf(line, 64, "GAVE_UP by %s %d", e->cause, e->exit_code);
    break;
  }
  rec->at_ms[rec->n] = uv_hrtime() / 1000000;
  rec->actor_id[rec->n] = e->actor_id;
  rec->n++;
  if (rec->hook != NULL)
    rec->hook(sup, e);
}

static void on_closed(uva_supervisor_t *sup) {
  record_t *rec = sup->data;

  rec->closed++;
  ck_assert_ptr_null(sup->loop);
}

/* Checks the lines from index from on, then that no more came: the expected lines end with NULL. */
static void expect_from(const record_t *rec, int from, ...) {
  const char *want;
  va_list ap;
  int i = from;

  va_start(ap, from);
  while ((want = va_arg(ap, const char *)) != NULL) {
    ck_assert_msg(i < rec->n, "event %d: expected \"%s\", got nothing more", i, want);
    ck_assert_msg(strcmp(rec->line[i], want) == 0, "event %d: expected \"%s\", got \"%s\"", i, want,
                  rec->line[i]);
    i++;
  }
  va_end(ap);
  ck_assert_msg(i == rec->n, "event %d: expected no more, got \"%s\"", i, i < rec->n ? rec->line[i] : "");
}

/* ---- supervisors and children ------------------------------------------------------------------- */

static void init_sup(uva_supervisor_t *sup, record_t *rec, uva_supervisor_options_t options) {
  memset(rec, 0, sizeof(*rec));
  options.event_cb = on_event;
  sup->data = rec;
  ck_assert_int_eq(uva_supervisor_init(sup, test_loop, &options), 0);
  ck_assert_int_eq(sup->type, UVA_SUPERVISOR);
  ck_assert_ptr_eq(sup->loop, test_loop);
}

static void add(uva_supervisor_t *sup, const char *id, uva_actor_main_cb main_cb, uva_restart_type restart) {
  uva_child_spec_t spec = {.id = id, .main_cb = main_cb, .restart = restart};

  ck_assert_int_eq(uva_supervisor_add(sup, &spec), 0);
}

/* Tells a running child v (see the header comment). */
static void tell(uva_supervisor_t *sup, const char *id, int64_t v) {
  uva_actor_t *actor = uva_supervisor_child(sup, id);

  ck_assert_msg(actor != NULL, "child %s is not running", id);
  ck_assert_int_eq(post_int(uva_actor_port(actor), v), 0);
}

static void close_sup(uva_supervisor_t *sup, record_t *rec) {
  ck_assert_int_eq(uva_supervisor_close(sup, on_closed), 0);
  ck_assert_int_eq(uva_supervisor_close(sup, on_closed), UV_EALREADY);
  ck_assert(run_until(test_loop, &rec->closed, 1));
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(rec->closed, 1);
}

static int fail_at_start_main(uva_self_t *self) {
  (void)self;
  return 1;
}

/* Three steered children a, b, c under strategy, started. */
static void abc(uva_supervisor_t *sup, record_t *rec, uva_supervisor_strategy strategy) {
  uva_supervisor_options_t options = {.strategy = strategy, .backoff_min_ms = UVA_BACKOFF_OFF};

  init_sup(sup, rec, options);
  add(sup, "a", steered_main, UVA_PERMANENT);
  add(sup, "b", steered_main, UVA_PERMANENT);
  add(sup, "c", steered_main, UVA_PERMANENT);
  ck_assert_int_eq(rec->n, 0); /* nothing starts before uva_supervisor_start() */
  ck_assert_ptr_null(uva_supervisor_child(sup, "a"));
  ck_assert_int_eq(uva_supervisor_start(sup), 0);
  ck_assert_int_eq(uva_supervisor_start(sup), UV_EALREADY);
  expect_from(rec, 0, "STARTED a", "STARTED b", "STARTED c", NULL);
}

/* ---- tests ---------------------------------------------------------------------------------------- */

/* Children start in order and stop in reverse order; then the close callback, once. */
START_TEST(test_start_in_order_stop_in_reverse) {
  uva_supervisor_t sup;
  record_t rec;

  abc(&sup, &rec, UVA_ONE_FOR_ONE);
  ck_assert_uint_eq(uva_actor_id(uva_supervisor_child(&sup, "b")), rec.actor_id[1]);
  close_sup(&sup, &rec);
  expect_from(&rec, 3, "STOPPED c -1", "STOPPED b -1", "STOPPED a -1", NULL);
  assert_actors_ok();
}
END_TEST

START_TEST(test_one_for_one) {
  uva_supervisor_t sup;
  record_t rec;
  uint64_t a_id;

  abc(&sup, &rec, UVA_ONE_FOR_ONE);
  a_id = rec.actor_id[0];
  tell(&sup, "b", -5);
  ck_assert(run_until(test_loop, &rec.n, 5));
  expect_from(&rec, 3, "EXITED b 5", "RESTARTED b by b 5", NULL);
  ck_assert_uint_gt(rec.actor_id[4], rec.actor_id[2]); /* a new instance */
  ck_assert_uint_eq(uva_actor_id(uva_supervisor_child(&sup, "a")), a_id);
  close_sup(&sup, &rec);
  expect_from(&rec, 5, "STOPPED c -1", "STOPPED b -1", "STOPPED a -1", NULL);
}
END_TEST

START_TEST(test_one_for_all) {
  uva_supervisor_t sup;
  record_t rec;

  abc(&sup, &rec, UVA_ONE_FOR_ALL);
  tell(&sup, "b", -5);
  ck_assert(run_until(test_loop, &rec.n, 9));
  expect_from(&rec, 3, "EXITED b 5", "STOPPED c -1", "STOPPED a -1", "RESTARTED a by b 5",
              "RESTARTED b by b 5", "RESTARTED c by b 5", NULL);
  close_sup(&sup, &rec);
}
END_TEST

START_TEST(test_rest_for_one) {
  uva_supervisor_t sup;
  record_t rec;

  abc(&sup, &rec, UVA_REST_FOR_ONE);
  tell(&sup, "b", 7); /* a normal-looking code: a permanent child is restarted whatever its code */
  ck_assert(run_until(test_loop, &rec.n, 7));
  expect_from(&rec, 3, "EXITED b 7", "STOPPED c -1", "RESTARTED b by b 7", "RESTARTED c by b 7", NULL);
  tell(&sup, "a", 0);
  ck_assert(run_until(test_loop, &rec.n, 13));
  expect_from(&rec, 7, "EXITED a 0", "STOPPED c -1", "STOPPED b -1", "RESTARTED a by a 0",
              "RESTARTED b by a 0", "RESTARTED c by a 0", NULL);
  close_sup(&sup, &rec);
}
END_TEST

/* A terminate that is not the supervisor's is an end like any other. */
START_TEST(test_outside_terminate_is_an_exit) {
  uva_supervisor_t sup;
  record_t rec;

  abc(&sup, &rec, UVA_ONE_FOR_ONE);
  ck_assert_int_eq(uva_actor_terminate(uva_supervisor_child(&sup, "c")), 0);
  ck_assert(run_until(test_loop, &rec.n, 5));
  expect_from(&rec, 3, "EXITED c -1", "RESTARTED c by c -1", NULL);
  close_sup(&sup, &rec);
}
END_TEST

/* transient: restarted only after an abnormal end; temporary: never, and removed. */
START_TEST(test_restart_types) {
  uva_supervisor_options_t options = {.backoff_min_ms = UVA_BACKOFF_OFF};
  uva_supervisor_t sup;
  record_t rec;

  init_sup(&sup, &rec, options);
  add(&sup, "t", steered_main, UVA_TRANSIENT);
  add(&sup, "tmp", steered_main, UVA_TEMPORARY);
  ck_assert_int_eq(uva_supervisor_start(&sup), 0);
  tell(&sup, "t", -3);
  ck_assert(run_until(test_loop, &rec.n, 4));
  tell(&sup, "t", 0);
  ck_assert(run_until(test_loop, &rec.n, 5));
  tell(&sup, "tmp", -4);
  ck_assert(run_until(test_loop, &rec.n, 6));
  expect_from(&rec, 0, "STARTED t", "STARTED tmp", "EXITED t 3", "RESTARTED t by t 3", "EXITED t 0",
              "EXITED tmp 4", NULL);
  ck_assert_ptr_null(uva_supervisor_child(&sup, "t"));
  /* Removed: its id is free again. */
  add(&sup, "tmp", steered_main, UVA_TEMPORARY);
  ck_assert(run_until(test_loop, &rec.n, 7));
  expect_from(&rec, 6, "STARTED tmp", NULL);
  close_sup(&sup, &rec);
  expect_from(&rec, 7, "STOPPED tmp -1", NULL);
}
END_TEST

/* A temporary child is removed before the event that reports its end: the callback may add one of the same id
 * (it got UV_EEXIST, though uva_supervisor_child() said the child was gone). */
static int readd_status = 1;

static void readd_tmp(uva_supervisor_t *sup, const uva_supervisor_event_t *e) {
  if ((e->type == UVA_SUPERVISOR_EXITED || e->type == UVA_SUPERVISOR_STOPPED) && strcmp(e->child, "tmp") == 0)
    readd_status = uva_supervisor_add(
        sup, &(uva_child_spec_t){.id = "tmp", .main_cb = steered_main, .restart = UVA_TEMPORARY});
}

START_TEST(test_temporary_id_free_in_its_end_event) {
  uva_supervisor_options_t options = {.strategy = UVA_ONE_FOR_ALL, .backoff_min_ms = UVA_BACKOFF_OFF};
  uva_supervisor_t sup;
  record_t rec;

  init_sup(&sup, &rec, options);
  rec.hook = readd_tmp;
  add(&sup, "p", steered_main, UVA_PERMANENT);
  add(&sup, "tmp", steered_main, UVA_TEMPORARY);
  ck_assert_int_eq(uva_supervisor_start(&sup), 0);
  tell(&sup, "tmp", 0); /* ends by itself: EXITED, and the new "tmp" starts */
  ck_assert(run_until(test_loop, &rec.n, 4));
  ck_assert_int_eq(readd_status, 0);
  readd_status = 1;
  tell(&sup, "p", -2); /* one_for_all stops "tmp" for good: STOPPED, and the new one starts with "p" */
  ck_assert(run_until(test_loop, &rec.n, 8));
  ck_assert_int_eq(readd_status, 0);
  expect_from(&rec, 0, "STARTED p", "STARTED tmp", "EXITED tmp 0", "STARTED tmp", "EXITED p 2",
              "STOPPED tmp -1", "RESTARTED p by p 2", "STARTED tmp", NULL);
  rec.hook = NULL;
  close_sup(&sup, &rec);
  expect_from(&rec, 8, "STOPPED tmp -1", "STOPPED p -1", NULL);
}
END_TEST

/* Intensity 2: the third restart within the period is one too many. The others are stopped in reverse
 * order, then GAVE_UP names the cause; nothing more starts, and the supervisor still closes. */
START_TEST(test_intensity_gives_up) {
  uva_supervisor_options_t options = {
      .intensity = 2, .period_ms = 3600000, .backoff_min_ms = UVA_BACKOFF_OFF};
  uva_child_spec_t spec = {.id = "late", .main_cb = steered_main};
  uva_supervisor_t sup;
  record_t rec;

  init_sup(&sup, &rec, options);
  add(&sup, "a", steered_main, UVA_PERMANENT);
  add(&sup, "f", fail_at_start_main, UVA_PERMANENT);
  add(&sup, "c", steered_main, UVA_PERMANENT);
  ck_assert_int_eq(uva_supervisor_start(&sup), 0);
  ck_assert(run_until(test_loop, &rec.n, 11));
  expect_from(&rec, 0, "STARTED a", "STARTED f", "STARTED c", "EXITED f 1", "RESTARTED f by f 1",
              "EXITED f 1", "RESTARTED f by f 1", "EXITED f 1", "STOPPED c -1", "STOPPED a -1",
              "GAVE_UP by f 1", NULL);
  ck_assert_int_eq(uva_supervisor_add(&sup, &spec), UV_ECANCELED);
  ck_assert_int_eq(uva_supervisor_start(&sup), UV_ECANCELED);
  close_sup(&sup, &rec);
  expect_from(&rec, 11, NULL);
}
END_TEST

/* Restarts further apart than the period do not add up. */
typedef struct {
  uva_supervisor_t sup;
  record_t rec;
  uv_timer_t timer;
  int fails;
} window_t;

static void on_window_timer(uv_timer_t *timer) {
  window_t *w = timer->data;

  tell(&w->sup, "a", -2);
}

/* After each restart, waits past the period, then fails the child again. */
static void on_window_event(uva_supervisor_t *sup, const uva_supervisor_event_t *e) {
  window_t *w = uva__container_of(sup, window_t, sup);

  if (e->type == UVA_SUPERVISOR_RESTARTED && ++w->fails < 4) {
    uv_update_time(sup->loop); /* the timer counts from now, not from the loop's turn */
    uv_timer_start(&w->timer, on_window_timer, 30, 0);
  }
}

START_TEST(test_intensity_window) {
  uva_supervisor_options_t options = {.intensity = 1, .period_ms = 20, .backoff_min_ms = UVA_BACKOFF_OFF};
  window_t w;

  memset(&w, 0, sizeof(w));
  init_sup(&w.sup, &w.rec, options);
  w.rec.hook = on_window_event;
  ck_assert_int_eq(uv_timer_init(test_loop, &w.timer), 0);
  w.timer.data = &w;
  add(&w.sup, "a", steered_main, UVA_PERMANENT);
  ck_assert_int_eq(uva_supervisor_start(&w.sup), 0);
  tell(&w.sup, "a", -2);
  ck_assert(run_until(test_loop, &w.rec.n, 9));
  expect_from(&w.rec, 0, "STARTED a", "EXITED a 2", "RESTARTED a by a 2", "EXITED a 2", "RESTARTED a by a 2",
              "EXITED a 2", "RESTARTED a by a 2", "EXITED a 2", "RESTARTED a by a 2", NULL);
  uv_close((uv_handle_t *)&w.timer, NULL);
  close_sup(&w.sup, &w.rec);
}
END_TEST

/* A child failing at its start: the first restart at once, then backoff_min_ms, then doubling up to
 * backoff_max_ms; a run of backoff_max_ms or more (a start slowed down by a loaded machine) starts the count
 * again. The test replays that rule on the runs it saw and checks each restart's lower bound, up to a run
 * too close to backoff_max_ms to tell which side of the rule the supervisor's clock saw. */
#define BACKOFF_MIN 40
#define BACKOFF_MAX 60
#define BACKOFF_MARGIN 5

/* The delay of the restart after a run, by the rule, given the restarts before it in a row. */
static uint64_t backoff_after(unsigned int *consecutive, uint64_t run) {
  uint64_t delay;

  if (run >= BACKOFF_MAX)
    *consecutive = 0;
  if ((*consecutive)++ == 0)
    return 0;
  delay = (uint64_t)BACKOFF_MIN << (*consecutive - 2);
  return delay > BACKOFF_MAX ? BACKOFF_MAX : delay;
}

START_TEST(test_backoff) {
  uva_supervisor_options_t options = {
      .intensity = 4, .period_ms = 3600000, .backoff_min_ms = BACKOFF_MIN, .backoff_max_ms = BACKOFF_MAX};
  uva_supervisor_t sup;
  record_t rec;
  unsigned int consecutive = 0;
  unsigned int if_short;
  unsigned int if_long;
  uint64_t delay;
  uint64_t run;
  int k;

  init_sup(&sup, &rec, options);
  add(&sup, "f", fail_at_start_main, UVA_PERMANENT);
  ck_assert_int_eq(uva_supervisor_start(&sup), 0);
  ck_assert(run_until(test_loop, &rec.n, 11));
  expect_from(&rec, 0, "STARTED f", "EXITED f 1", "RESTARTED f by f 1", "EXITED f 1", "RESTARTED f by f 1",
              "EXITED f 1", "RESTARTED f by f 1", "EXITED f 1", "RESTARTED f by f 1", "EXITED f 1",
              "GAVE_UP by f 1", NULL);
  /* Events 2k and 2k+1 are a start and its exit; 2k+2 the restart that follows. */
  for (k = 0; k < 4; k++) {
    run = rec.at_ms[2 * k + 1] - rec.at_ms[2 * k];
    if_short = if_long = consecutive;
    if (run + BACKOFF_MARGIN >= BACKOFF_MAX && run <= BACKOFF_MAX + BACKOFF_MARGIN &&
        backoff_after(&if_short, 0) != backoff_after(&if_long, BACKOFF_MAX))
      break; /* the supervisor may have seen either: what follows cannot be told either */
    delay = backoff_after(&consecutive, run);
    ck_assert_uint_ge(rec.at_ms[2 * k + 2] - rec.at_ms[2 * k + 1], delay);
  }
  close_sup(&sup, &rec);
}
END_TEST

/* C cannot kill a thread: a child that does not return to its loop gets STOP_TIMEOUT and is waited for. */
static atomic_int release_stuck;
static uv_sem_t stuck_entered;

static int stuck_main(uva_self_t *self) {
  (void)self;
  uv_sem_post(&stuck_entered);
  while (!atomic_load(&release_stuck))
    uv_sleep(1); /* busy in C code, deaf to terminate */
  return 0;
}

static void on_stuck_event(uva_supervisor_t *sup, const uva_supervisor_event_t *e) {
  (void)sup;
  if (e->type == UVA_SUPERVISOR_STOP_TIMEOUT)
    atomic_store(&release_stuck, 1);
}

START_TEST(test_stop_timeout) {
  uva_child_spec_t spec = {.id = "stuck", .main_cb = stuck_main, .shutdown_ms = 10};
  uva_supervisor_options_t options = {0};
  uva_supervisor_t sup;
  record_t rec;

  atomic_store(&release_stuck, 0);
  ck_assert_int_eq(uv_sem_init(&stuck_entered, 0), 0);
  init_sup(&sup, &rec, options);
  rec.hook = on_stuck_event;
  ck_assert_int_eq(uva_supervisor_add(&sup, &spec), 0);
  ck_assert_int_eq(uva_supervisor_start(&sup), 0);
  uv_sem_wait(&stuck_entered); /* in main: a terminate before it would skip main */
  close_sup(&sup, &rec);
  uv_sem_destroy(&stuck_entered);
  expect_from(&rec, 0, "STARTED stuck", "STOP_TIMEOUT stuck", "STOPPED stuck -1", NULL);
}
END_TEST

/* Added once started: it starts at once, after the others. Closing from inside an event callback. */
static void close_on_exit(uva_supervisor_t *sup, const uva_supervisor_event_t *e) {
  if (e->type == UVA_SUPERVISOR_EXITED)
    ck_assert_int_eq(uva_supervisor_close(sup, on_closed), 0);
}

START_TEST(test_add_when_running_and_close_from_an_event) {
  uva_supervisor_t sup;
  record_t rec;

  abc(&sup, &rec, UVA_ONE_FOR_ALL);
  add(&sup, "d", steered_main, UVA_PERMANENT);
  expect_from(&rec, 3, "STARTED d", NULL);
  rec.hook = close_on_exit;
  tell(&sup, "b", 1);
  ck_assert(run_until(test_loop, &rec.closed, 1));
  uv_run(test_loop, UV_RUN_DEFAULT);
  expect_from(&rec, 4, "EXITED b 1", "STOPPED d -1", "STOPPED c -1", "STOPPED a -1", NULL);
}
END_TEST

/* Closed before it started, without a close callback. */
START_TEST(test_close_unstarted) {
  uva_supervisor_options_t options = {0};
  uva_supervisor_t sup;
  record_t rec;

  init_sup(&sup, &rec, options);
  add(&sup, "a", steered_main, UVA_PERMANENT);
  ck_assert_int_eq(uva_supervisor_close(&sup, NULL), 0);
  ck_assert_int_eq(uva_supervisor_start(&sup), UV_ECANCELED);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uva_supervisor_close(&sup, NULL), UV_EINVAL); /* closed: its memory is ours */
  expect_from(&rec, 0, NULL);
}
END_TEST

/* ---- a supervisor on an actor that ends --------------------------------------------------------------- */

/* The actor runs a supervisor of two children; on its parent's message it asks the close and ends at once,
 * so its teardown finds the close under way: the children go with the actor, and the close callback still
 * runs (during the teardown). */
typedef struct {
  uva_supervisor_t sup;
  uva_self_t *self;
  atomic_int closed;
} closing_actor_t;

static void on_closing_actor_closed(uva_supervisor_t *sup) {
  closing_actor_t *a = sup->data;

  atomic_fetch_add(&a->closed, 1);
}

static void on_closing_actor_message(uva_port_t *port, uva_msg_t *msg) {
  closing_actor_t *a = port->data;

  uva_msg_free(msg);
  ACTOR_CHECK(uva_supervisor_close(&a->sup, on_closing_actor_closed) == 0);
  uva_self_exit(a->self, 0);
}

static int closing_actor_main(uva_self_t *self) {
  closing_actor_t *a = uva_self_arg(self);
  uva_child_spec_t one = {.id = "one", .main_cb = steered_main};
  uva_child_spec_t two = {.id = "two", .main_cb = steered_main};

  a->self = self;
  a->sup.data = a;
  uva_self_port(self)->data = a;
  ACTOR_CHECK(uva_supervisor_init(&a->sup, uva_self_loop(self), NULL) == 0);
  ACTOR_CHECK(uva_supervisor_add(&a->sup, &one) == 0 && uva_supervisor_add(&a->sup, &two) == 0);
  ACTOR_CHECK(uva_supervisor_start(&a->sup) == 0);
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), on_closing_actor_message, NULL) == 0);
  return 0;
}

START_TEST(test_actor_ends_while_its_supervisor_closes) {
  uva_actor_options_t options = {0};
  closing_actor_t a;
  uva_actor_t actor;
  int threads;
  int code;

  memset(&a, 0, sizeof(a));
  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0);                               /* see test_tree */
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, fail_at_start_main, NULL), 0); /* see test_tree */
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, NULL), 0);
  threads = count_threads();
  options.arg = &a;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, closing_actor_main, &options), 0);
  ck_assert_int_eq(post_int(uva_actor_port(&actor), 0), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, 0);
  ck_assert_int_eq(atomic_load(&a.closed), 1);
  ck_assert_int_le(threads_settle(threads), threads); /* the baseline may still list the joined warm-up */
  assert_actors_ok();
}
END_TEST

/* ---- a tree --------------------------------------------------------------------------------------- */

/* A worker holds a name; a message on a channel opened to it steers it as the parent's would. */
typedef struct {
  uva_name_t name;
  uva_port_t accepted;
  int has_accepted;
  uva_self_t *self;
} worker_t;

static void on_worker_message(uva_port_t *port, uva_msg_t *msg) {
  worker_t *w = port->data;
  int64_t v = msg_int(msg);

  uva_msg_free(msg);
  if (v >= 0)
    uva_self_exit(w->self, (int)v);
  else
    uva_self_fail(w->self, (int)-v, "failed");
}

static void on_worker_accept(uva_name_t *name) {
  worker_t *w = name->data;

  if (w->has_accepted)
    return; /* one channel at a time is enough here */
  ACTOR_CHECK(uva_name_accept(name, &w->accepted) == 0);
  w->accepted.data = w;
  ACTOR_CHECK(uva_port_start(&w->accepted, name->loop, on_worker_message, NULL) == 0);
  w->has_accepted = 1;
}

/* One per worker id of the tree's subtree: a worker's next instance starts after the last one ended. */
static worker_t workers[2];

static int worker_main(uva_self_t *self) {
  worker_t *w = uva_self_arg(self);

  memset(w, 0, sizeof(*w));
  w->self = self;
  w->name.data = w;
  ACTOR_CHECK(uva_name_register(&w->name, uva_self_loop(self), uva_self_name(self), on_worker_accept) == 0);
  return 0;
}

/* The subtree: a supervisor actor, one_for_all over w1 and w2, intensity 1. It tells its parent of each
 * event (the type, as an integer message); when it gives up, it fails, which its own supervisor sees. */
static uva_supervisor_t subtree_sup; /* one instance at a time, as above */

static void on_subtree_event(uva_supervisor_t *sup, const uva_supervisor_event_t *e) {
  uva_self_t *self = sup->data;

  ACTOR_CHECK(post_int(uva_self_port(self), e->type) == 0);
  if (e->type == UVA_SUPERVISOR_GAVE_UP)
    uva_self_fail(self, 9, "subtree gave up");
}

static int subtree_main(uva_self_t *self) {
  uva_supervisor_options_t options = {.strategy = UVA_ONE_FOR_ALL,
                                      .intensity = 1,
                                      .period_ms = 3600000,
                                      .backoff_min_ms = UVA_BACKOFF_OFF,
                                      .event_cb = on_subtree_event};
  uva_actor_options_t w1 = {.name = "w1", .arg = &workers[0]};
  uva_actor_options_t w2 = {.name = "w2", .arg = &workers[1]};
  uva_child_spec_t spec1 = {.id = "w1", .main_cb = worker_main, .options = &w1};
  uva_child_spec_t spec2 = {.id = "w2", .main_cb = worker_main, .options = &w2};

  subtree_sup.data = self;
  ACTOR_CHECK(uva_supervisor_init(&subtree_sup, uva_self_loop(self), &options) == 0);
  ACTOR_CHECK(uva_supervisor_add(&subtree_sup, &spec1) == 0);
  ACTOR_CHECK(uva_supervisor_add(&subtree_sup, &spec2) == 0);
  ACTOR_CHECK(uva_supervisor_start(&subtree_sup) == 0);
  return 0;
}

/* The subtree's events, as its messages to the root. */
static int subtree_said[MAX_EVENTS];
static int nsaid;

static void on_subtree_message(uva_actor_t *actor, uva_msg_t *msg) {
  (void)actor;
  ck_assert_int_lt(nsaid, MAX_EVENTS);
  subtree_said[nsaid++] = (int)msg_int(msg);
  uva_msg_free(msg);
}

/* Opens name until its holder accepts (a restarted worker registers it again shortly), and tells it v. */
typedef struct {
  uva_name_req_t req;
  uva_port_t port;
  const char *text;
  int64_t v;
  int done;
  int refused;
} teller_t;

static void on_teller_opened(uva_name_req_t *req, int status) {
  teller_t *t = req->data;

  if (status == UV_ECONNREFUSED) {
    t->refused++;
    ck_assert_int_eq(uva_name_open(&t->req, test_loop, t->text, on_teller_opened, &t->port), 0);
    return;
  }
  ck_assert_int_eq(status, 0);
  ck_assert_int_eq(post_int(&t->port, t->v), 0);
  ck_assert_int_eq(uva_port_close(&t->port), 0); /* the message is delivered before the close */
  t->done = 1;
}

static void tell_by_name(const char *text, int64_t v) {
  teller_t t = {.text = text, .v = v};

  t.req.data = &t;
  ck_assert_int_eq(uva_name_open(&t.req, test_loop, text, on_teller_opened, &t.port), 0);
  ck_assert(run_until(test_loop, &t.done, 1));
}

START_TEST(test_tree) {
  uva_supervisor_options_t options = {.backoff_min_ms = UVA_BACKOFF_OFF};
  uva_actor_options_t sub_options = {.message_cb = on_subtree_message};
  uva_child_spec_t sub = {.id = "sub", .main_cb = subtree_main, .options = &sub_options};
  uva_supervisor_t root;
  uva_actor_t warm;
  record_t rec;
  int threads;

  /* Every actor's thread is made for it and joined with it, none kept (uva_actor_set_reuse()): the count
   * then says whether all were joined. A thread first, so that what a sanitizer starts with the first one
   * is counted in the baseline. */
  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0);
  ck_assert_int_eq(uva_actor_spawn(&warm, NULL, fail_at_start_main, NULL), 0);
  ck_assert_int_eq(uva_actor_join(&warm, HANG_GUARD_MS, NULL), 0);
  threads = count_threads();
  nsaid = 0;
  init_sup(&root, &rec, options);
  ck_assert_int_eq(uva_supervisor_add(&root, &sub), 0);
  ck_assert_int_eq(uva_supervisor_start(&root), 0);
  ck_assert(run_until(test_loop, &nsaid, 2));
  ck_assert_int_eq(subtree_said[0], UVA_SUPERVISOR_STARTED);
  ck_assert_int_eq(subtree_said[1], UVA_SUPERVISOR_STARTED);
  /* A worker fails: the subtree restarts both (one_for_all); the root sees nothing. */
  tell_by_name("w1", -3);
  ck_assert(run_until(test_loop, &nsaid, 6));
  ck_assert_int_eq(subtree_said[2], UVA_SUPERVISOR_EXITED);
  ck_assert_int_eq(subtree_said[3], UVA_SUPERVISOR_STOPPED);
  ck_assert_int_eq(subtree_said[4], UVA_SUPERVISOR_RESTARTED);
  ck_assert_int_eq(subtree_said[5], UVA_SUPERVISOR_RESTARTED);
  expect_from(&rec, 0, "STARTED sub", NULL);
  /* Again: the subtree's intensity is spent, it gives up and fails; the root restarts it, and the new
   * subtree starts its workers, reachable by their names again. */
  tell_by_name("w2", -4);
  ck_assert(run_until(test_loop, &rec.n, 3));
  expect_from(&rec, 0, "STARTED sub", "EXITED sub 9", "RESTARTED sub by sub 9", NULL);
  ck_assert(run_until(test_loop, &nsaid, 11));
  ck_assert_int_eq(subtree_said[6], UVA_SUPERVISOR_EXITED);
  ck_assert_int_eq(subtree_said[7], UVA_SUPERVISOR_STOPPED);
  ck_assert_int_eq(subtree_said[8], UVA_SUPERVISOR_GAVE_UP);
  ck_assert_int_eq(subtree_said[9], UVA_SUPERVISOR_STARTED);
  ck_assert_int_eq(subtree_said[10], UVA_SUPERVISOR_STARTED);
  tell_by_name("w1", -3);
  ck_assert(run_until(test_loop, &nsaid, 15));
  /* Closing the root stops the subtree's actor; its teardown takes its workers and their names. */
  close_sup(&root, &rec);
  expect_from(&rec, 3, "STOPPED sub -1", NULL);
  ck_assert_int_le(threads_settle(threads),
                   threads); /* joined threads may stay listed a moment, either count */
  ck_assert_int_eq(uva_name_open_wait("w1", 0, &(uva_port_t){0}), UV_ECONNREFUSED);
  assert_actors_ok();
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("supervisor", 30, loop_setup, loop_teardown),
      TEST(test_start_in_order_stop_in_reverse),
      TEST(test_one_for_one),
      TEST(test_one_for_all),
      TEST(test_rest_for_one),
      TEST(test_outside_terminate_is_an_exit),
      TEST(test_restart_types),
      TEST(test_temporary_id_free_in_its_end_event),
      TEST(test_intensity_gives_up),
      TEST(test_intensity_window),
      TEST(test_backoff),
      TEST(test_stop_timeout),
      TEST(test_add_when_running_and_close_from_an_event),
      TEST(test_close_unstarted),
      TEST(test_actor_ends_while_its_supervisor_closes),
      TEST(test_tree),
  };

  return suite_of_rows("supervisor", rows, sizeof(rows) / sizeof(rows[0]));
}
