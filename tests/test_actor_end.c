/* actors/: how an actor ends: terminate from any thread, join from a thread without a loop, ref and unref
 * of the actor's handle, and terminate racing the actor's own end. One test per rule of
 * include/uvactor/actor.h.
 *
 * A test with a parent loop runs it on its own uv_loop_t and ends by closing it (uv_loop_close() == 0: the
 * actor left nothing on the parent's loop); the loop-less tests (join) have no loop by design. Threads meet
 * through messages and semaphores, never sleeps; an actor that must wait for a stop spins on
 * uva_self_should_stop() with a generous deadline, so a broken terminate fails the test instead of hanging
 * it. The terminates of idle actors wait, polling /proc with a deadline, until the actor's thread sleeps in
 * epoll: a condition, not an order of events made by sleeping.
 *
 * Nothing here touches libuv's threadpool: Check forks per test, and a process that used the pool crashes in
 * the forked child at exit (libuv#4443). The pool has its own suites, test_pool.c and test_pool_late.c.
 *
 * Memory rules (freed exactly once, no leak) are asserted with counting free functions where the API shows
 * them, otherwise by running this suite under valgrind (CK_FORK=no) and the sanitizers. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "actor_mains.h"
#include "actor_record.h"
#include "counted_buffers.h"
#include "uvactor.h"

/* ---- terminate ----------------------------------------------------------------------------------- */

typedef struct {
  atomic_int saw_stop; /* 1: asked to stop; -1: gave up waiting */
  atomic_int started_port;
  uva_port_t *port; /* the actor's own port, once known */
  uv_timer_t timer; /* a handle left running on the actor's loop */
  atomic_int port_closed;
  atomic_int tid; /* the actor's thread, for terminate_when_asleep() */
} busy_ctx_t;

/* Tells the parent it is busy, then is busy until asked to stop; its return value must not count. */
static int busy_main(uva_self_t *self) {
  busy_ctx_t *ctx = uva_self_arg(self);

  if (atomic_load(&ctx->started_port))
    ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), ignore_port_message, NULL) == 0);
  ACTOR_CHECK(post_int(uva_self_port(self), 1) == 0);
  atomic_store(&ctx->saw_stop, spin_until_stop(self) ? 1 : -1);
  return 42;
}

static void terminate_on_message(rec_t *rec, uva_msg_t *msg) {
  uva_msg_free(msg);
  ck_assert_int_eq(uva_actor_terminate(&rec->actor), 0);
}

/* Whether thread tid sleeps in epoll now: /proc says which system call it is in, and its arguments (the
 * fourth is the timeout: a poll that does not wait is a turn of the loop going on). */
static int in_epoll(int tid) {
  unsigned long args[4];
  char path[64];
  long nr = -1;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
  f = fopen(path, "r");
  if (f == NULL)
    return 0;
  /* A thread on a CPU reads "running", with no arguments to read. */
  if (fscanf(f, "%ld %lx %lx %lx %lx", &nr, &args[0], &args[1], &args[2], &args[3]) != 5)
    nr = -1;
  fclose(f);
  if (nr == -1 || (int)args[3] == 0)
    return 0;
#ifdef SYS_epoll_wait
  if (nr == SYS_epoll_wait)
    return 1;
#endif
  return nr == SYS_epoll_pwait;
}

/* Terminates once the actor's loop sleeps in epoll, so that only a wakeup can reach it (not the look before
 * sleeping that a terminate racing the loop's turn meets). The wait is for a condition, with a deadline: a
 * /proc that cannot tell only makes the terminate come sooner. */
static void terminate_when_asleep(rec_t *rec, uva_msg_t *msg) {
  busy_ctx_t *ctx = rec->ctx;
  uint64_t deadline = uv_hrtime() + 5000000000u;

  while (!in_epoll(atomic_load(&ctx->tid)) && uv_hrtime() < deadline)
    usleep(1000);
  terminate_on_message(rec, msg);
}

START_TEST(test_terminate_busy_actor) {
  busy_ctx_t ctx = {0};
  rec_t rec;

  rec_init(&rec, &ctx);
  rec.on_message = terminate_on_message;
  run_actor(&rec, busy_main);
  ck_assert_int_eq(atomic_load(&ctx.saw_stop), 1);
  ck_assert_int_eq(rec.exit_code, UVA_EXIT_TERMINATED);
  ck_assert_str_eq(rec.events, "OMX");
}
END_TEST

/* Ports close first in the teardown: the timer is not closed yet. */
static void closed_on_teardown(uva_port_t *port) {
  busy_ctx_t *ctx = port->data;

  atomic_store(&ctx->port_closed, uv_is_closing((uv_handle_t *)&ctx->timer) ? 2 : 1);
}

static void never_fires(uv_timer_t *timer) {
  (void)timer;
  ACTOR_CHECK(!"the timer fired");
}

/* Idle in its loop, kept alive by its port and a timer an hour away: terminate stops the loop and closes
 * both, the port first (its close callback runs), then the timer (no callback: nobody asked for one). */
static int idle_main(uva_self_t *self) {
  busy_ctx_t *ctx = uva_self_arg(self);

  atomic_store(&ctx->tid, (int)syscall(SYS_gettid));
  uva_self_port(self)->data = ctx;
  ACTOR_CHECK(
      uva_port_start(uva_self_port(self), uva_self_loop(self), ignore_port_message, closed_on_teardown) == 0);
  ACTOR_CHECK(uv_timer_init(uva_self_loop(self), &ctx->timer) == 0);
  ACTOR_CHECK(uv_timer_start(&ctx->timer, never_fires, 3600 * 1000, 0) == 0);
  ACTOR_CHECK(post_int(uva_self_port(self), 1) == 0);
  return 42;
}

START_TEST(test_terminate_idle_actor_closes_handles) {
  busy_ctx_t ctx = {0};
  rec_t rec;

  rec_init(&rec, &ctx);
  rec.on_message = terminate_when_asleep;
  run_actor(&rec, idle_main);
  ck_assert_int_eq(rec.exit_code, UVA_EXIT_TERMINATED);
  ck_assert_int_eq(atomic_load(&ctx.port_closed), 1);
  ck_assert(uv_is_closing((uv_handle_t *)&ctx.timer));
}
END_TEST

/* Its loop has no port started, only a timer an hour away: blocked in epoll with nothing of uvactor's to
 * deliver, it is woken by the terminate alone (channel/loop.c's wakeup, which the actor holds). */
static int timer_only_main(uva_self_t *self) {
  busy_ctx_t *ctx = uva_self_arg(self);

  atomic_store(&ctx->tid, (int)syscall(SYS_gettid));
  ACTOR_CHECK(uv_timer_init(uva_self_loop(self), &ctx->timer) == 0);
  ACTOR_CHECK(uv_timer_start(&ctx->timer, never_fires, 3600 * 1000, 0) == 0);
  ACTOR_CHECK(post_int(uva_self_port(self), 1) == 0); /* queued to the parent: no port started here */
  return 42;
}

START_TEST(test_terminate_actor_without_port) {
  busy_ctx_t ctx = {0};
  rec_t rec;

  rec_init(&rec, &ctx);
  rec.on_message = terminate_when_asleep;
  run_actor(&rec, timer_only_main);
  ck_assert_int_eq(rec.exit_code, UVA_EXIT_TERMINATED);
  ck_assert_str_eq(rec.events, "OMX");
  ck_assert(uv_is_closing((uv_handle_t *)&ctx.timer));
}
END_TEST

typedef struct {
  uv_idle_t idle;
  atomic_int turns;
} turning_ctx_t;

static void count_turn(uv_idle_t *idle) {
  turning_ctx_t *ctx = idle->data;

  atomic_fetch_add(&ctx->turns, 1);
}

/* Its loop never sleeps: an idle handle runs a callback on every turn, and its port is started. The
 * terminate stops it between two turns; a stop that waited for the loop to sleep would hang the test. */
static int turning_main(uva_self_t *self) {
  turning_ctx_t *ctx = uva_self_arg(self);

  ctx->idle.data = ctx;
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), ignore_port_message, NULL) == 0);
  ACTOR_CHECK(uv_idle_init(uva_self_loop(self), &ctx->idle) == 0);
  ACTOR_CHECK(uv_idle_start(&ctx->idle, count_turn) == 0);
  ACTOR_CHECK(post_int(uva_self_port(self), 1) == 0);
  return 42;
}

START_TEST(test_terminate_actor_running_callbacks) {
  turning_ctx_t ctx = {0};
  rec_t rec;

  rec_init(&rec, &ctx);
  rec.on_message = terminate_on_message;
  run_actor(&rec, turning_main);
  ck_assert_int_eq(rec.exit_code, UVA_EXIT_TERMINATED);
  ck_assert_str_eq(rec.events, "OMX");
  ck_assert(uv_is_closing((uv_handle_t *)&ctx.idle));
}
END_TEST

/* Its loop spins for an answer (it posted through its started port, which asks for the longest window, a
 * second) when the terminate comes: the spin sees it as it would a message, and the loop stops. */
static int spinning_main(uva_self_t *self) {
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), ignore_port_message, NULL) == 0);
  ACTOR_CHECK(post_int(uva_self_port(self), 1) == 0);
  return 42;
}

START_TEST(test_terminate_spinning_actor) {
  rec_t rec;

  rec_init(&rec, NULL);
  rec.opts.spin_us = 1000000;
  rec.on_message = terminate_on_message;
  run_actor(&rec, spinning_main);
  ck_assert_int_eq(rec.exit_code, UVA_EXIT_TERMINATED);
  ck_assert_str_eq(rec.events, "OMX");
}
END_TEST

/* Terminate before the actor even ran: online still comes, then exit. */
START_TEST(test_terminate_right_after_spawn) {
  busy_ctx_t ctx = {0};
  uv_loop_t loop;
  rec_t rec;

  rec_init(&rec, &ctx);
  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(&rec, &loop, busy_main), 0);
  ck_assert_int_eq(uva_actor_terminate(&rec.actor), 0);
  loop_finish(&loop);
  ck_assert_int_eq(rec.exit_code, UVA_EXIT_TERMINATED);
  ck_assert_int_eq(rec.events[0], 'O');
  ck_assert_int_eq(rec.events[rec.nevents - 1], 'X');
  ck_assert(atomic_load(&ctx.saw_stop) >= 0);
}
END_TEST

#define QUEUED 100

static void post_counted_then_terminate(rec_t *rec, uva_msg_t *msg) {
  int i;

  uva_msg_free(msg);
  for (i = 0; i < QUEUED; i++)
    ck_assert_int_eq(uva_port_post(uva_actor_port(&rec->actor), counted_msg(i)), 0);
  ck_assert_int_eq(uva_actor_terminate(&rec->actor), 0);
  /* The actor is stopping: its queue is closed or about to be, and nothing posted now may leak. */
}

/* Messages queued to the actor when it is terminated are freed, each once, whether its port was started (the
 * loop never got to deliver them) or not. */
START_TEST(test_terminate_frees_queued_messages) {
  busy_ctx_t ctx = {0};
  rec_t rec;
  int i;

  reset_counted();
  atomic_store(&ctx.started_port, _i);
  rec_init(&rec, &ctx);
  rec.on_message = post_counted_then_terminate;
  run_actor(&rec, busy_main);
  ck_assert_int_eq(rec.exit_code, UVA_EXIT_TERMINATED);
  ck_assert_int_eq(atomic_load(&ctx.saw_stop), 1);
  ck_assert_int_eq(atomic_load(&counted_frees), QUEUED);
  for (i = 0; i < QUEUED; i++)
    ck_assert_int_eq(atomic_load(&counted_freed[i]), 1);
}
END_TEST

static void peer_closed(uva_port_t *port) {
  int *closed = port->data;

  *closed = 1;
}

typedef struct {
  rec_t rec;
  uva_port_t kept;
  uva_port_t sent;
  int closed;
} carried_ctx_t;

static void post_port_then_terminate(rec_t *rec, uva_msg_t *msg) {
  carried_ctx_t *t = rec->ctx;
  uva_msg_t *carrier = NULL;

  uva_msg_free(msg);
  ck_assert_int_eq(uva_msg_new(&carrier), 0);
  ck_assert_int_eq(uva_msg_pack_port(carrier, &t->sent), 0);
  ck_assert_int_eq(uva_port_post(uva_actor_port(&rec->actor), carrier), 0);
  ck_assert_int_eq(uva_actor_terminate(&rec->actor), 0);
}

/* A port inside a message dropped by terminate is closed: its peer, here on the parent's loop, sees it. */
START_TEST(test_terminate_closes_carried_port) {
  busy_ctx_t busy = {0};
  carried_ctx_t t;
  uv_loop_t loop;

  memset(&t, 0, sizeof(t));
  loop_start(&loop);
  ck_assert_int_eq(uva_channel_init(&t.kept, &t.sent), 0);
  t.kept.data = &t.closed;
  ck_assert_int_eq(uva_port_start(&t.kept, &loop, ignore_port_message, peer_closed), 0);
  rec_init(&t.rec, &busy);
  t.rec.ctx = &t;
  t.rec.on_message = post_port_then_terminate;
  ck_assert_int_eq(rec_spawn(&t.rec, &loop, busy_main), 0);
  loop_finish(&loop);
  ck_assert_int_eq(t.rec.exit_code, UVA_EXIT_TERMINATED);
  ck_assert_int_eq(t.closed, 1);
}
END_TEST

#define BEFORE_STOP 100

/* Posts BEFORE_STOP messages, then is busy until asked to stop. */
static int post_then_spin_main(uva_self_t *self) {
  busy_ctx_t *ctx = uva_self_arg(self);
  int i;

  for (i = 0; i < BEFORE_STOP; i++)
    ACTOR_CHECK(post_int(uva_self_port(self), i) == 0);
  atomic_store(&ctx->saw_stop, spin_until_stop(self) ? 1 : -1);
  return 0;
}

static void terminate_on_first(rec_t *rec, uva_msg_t *msg) {
  ck_assert_int_eq(msg_int(msg), rec->nmessages - 1);
  uva_msg_free(msg);
  if (rec->nmessages == 1)
    ck_assert_int_eq(uva_actor_terminate(&rec->actor), 0);
}

/* Terminate drops what is queued to the actor, not what it posted: those messages all arrive before exit. */
START_TEST(test_terminate_keeps_actor_messages) {
  busy_ctx_t ctx = {0};
  rec_t rec;

  rec_init(&rec, &ctx);
  rec.on_message = terminate_on_first;
  run_actor(&rec, post_then_spin_main);
  ck_assert_int_eq(rec.nmessages, BEFORE_STOP);
  ck_assert_int_eq(rec.exit_code, UVA_EXIT_TERMINATED);
  ck_assert_int_eq(atomic_load(&ctx.saw_stop), 1);
}
END_TEST

static void terminate_twice_on_online(rec_t *rec) {
  ck_assert_int_eq(uva_actor_terminate(&rec->actor), 0);
  ck_assert_int_eq(uva_actor_terminate(&rec->actor), UV_EALREADY);
}

START_TEST(test_terminate_twice) {
  busy_ctx_t ctx = {0};
  rec_t rec;

  rec_init(&rec, &ctx);
  rec.on_online = terminate_twice_on_online;
  run_actor(&rec, busy_main);
  ck_assert_int_eq(rec.exit_code, UVA_EXIT_TERMINATED);
}
END_TEST

/* Once the actor ended by itself, terminate is too late (rec_on_exit asserts it in the exit callback too). */
START_TEST(test_terminate_after_end) {
  rec_t rec;

  rec_init(&rec, NULL);
  run_actor(&rec, return_three_main);
  ck_assert_int_eq(rec.exit_code, 3);
  ck_assert_int_eq(uva_actor_terminate(&rec.actor), UV_EALREADY);
  ck_assert_int_eq(uva_actor_terminate(NULL), UV_EINVAL);
}
END_TEST

typedef struct {
  busy_ctx_t busy; /* the actor's */
  uv_thread_t thread;
  int started;
  int result;
  rec_t rec;
} terminator_t;

static void terminator_thread(void *arg) {
  terminator_t *t = arg;

  t->result = uva_actor_terminate(&t->rec.actor);
}

/* On the actor's "busy" message, so it is terminated inside main. */
static void terminate_from_thread_on_message(rec_t *rec, uva_msg_t *msg) {
  terminator_t *t = rec->ctx;

  uva_msg_free(msg);
  ck_assert_int_eq(uv_thread_create(&t->thread, terminator_thread, t), 0);
  t->started = 1;
}

/* The parent's loop thread only waits; another thread terminates. */
START_TEST(test_terminate_from_other_thread) {
  terminator_t t;

  memset(&t, 0, sizeof(t));
  t.result = 1;
  rec_init(&t.rec, &t);
  t.rec.opts.arg = &t.busy;
  t.rec.on_message = terminate_from_thread_on_message;
  run_actor(&t.rec, busy_main);
  ck_assert_int_eq(t.started, 1);
  ck_assert_int_eq(uv_thread_join(&t.thread), 0);
  ck_assert_int_eq(t.result, 0);
  ck_assert_int_eq(t.rec.exit_code, UVA_EXIT_TERMINATED);
  ck_assert_int_eq(atomic_load(&t.busy.saw_stop), 1);
}
END_TEST

typedef struct {
  rec_t rec;
  uv_thread_t thread;
  atomic_int exited; /* set by the exit callback */
  int accepted;      /* terminate calls that returned 0 */
  int other;         /* calls that returned neither 0 nor UV_EALREADY */
} racer_t;

/* Terminates over and over until the exit callback ran: the calls race the actor's natural end. */
static void racer_thread(void *arg) {
  racer_t *r = arg;
  int err;

  while (!atomic_load(&r->exited)) {
    err = uva_actor_terminate(&r->rec.actor);
    if (err == 0)
      r->accepted++;
    else if (err != UV_EALREADY)
      r->other++;
  }
}

static void racer_on_exit(rec_t *rec) {
  racer_t *r = rec->ctx;

  atomic_store(&r->exited, 1);
}

/* Terminate is callable from any thread until the exit: a call that races the actor's own end either wins
 * (exit code UVA_EXIT_TERMINATED, accepted once) or is too late (UV_EALREADY), and is never a crash. */
START_TEST(test_terminate_races_natural_end) {
  uv_loop_t loop;
  racer_t r;
  int round;

  for (round = 0; round < 200; round++) {
    memset(&r, 0, sizeof(r));
    rec_init(&r.rec, &r);
    r.rec.opts.arg = NULL;
    r.rec.on_exit = racer_on_exit;
    loop_start(&loop);
    ck_assert_int_eq(rec_spawn(&r.rec, &loop, return_three_main), 0);
    ck_assert_int_eq(uv_thread_create(&r.thread, racer_thread, &r), 0);
    loop_finish(&loop);
    ck_assert_int_eq(uv_thread_join(&r.thread), 0);
    ck_assert_int_eq(r.other, 0);
    ck_assert_int_le(r.accepted, 1);
    ck_assert_int_eq(r.rec.exit_code, r.accepted ? UVA_EXIT_TERMINATED : 3);
  }
}
END_TEST

/* Posts from other threads racing the receiving actor's end: a post that finds the actor's loop asleep wakes
 * it after letting go of the end's lock (channel/loop.c), when the actor may be ending and its loop closing
 * its wakeup. Each round spawns an actor that starts its port and ends after a few messages (even rounds:
 * uva_self_exit() from its message callback) or is terminated from this thread while two threads post (odd
 * rounds: the loop, woken by the terminate, still says it sleeps, so posts racing the teardown write its
 * wakeup). Every post succeeds or fails cleanly (UV_EPIPE once the actor's end closed its port, or UV_EBADF)
 * and every message is freed once: delivered, dropped by the end, or by its poster after a refusal. */
#define RACE_ROUNDS 200
#define RACE_POSTERS 2

typedef struct {
  uva_actor_t actor;
  int quota;            /* messages the actor takes before it exits; 0: it waits to be terminated */
  atomic_int delivered; /* messages the actor's callback got */
  atomic_int posted;    /* posts that returned 0 */
  atomic_int made;      /* messages made */
  atomic_int other;     /* posts that failed with anything but UV_EPIPE or UV_EBADF */
  uva_self_t *self;
} post_race_t;

static atomic_int race_freed; /* moved buffers freed, over every round */

static void race_free(void *ptr) {
  atomic_fetch_add(&race_freed, 1);
  free(ptr);
}

static void race_on_message(uva_port_t *port, uva_msg_t *msg) {
  post_race_t *r = port->data;

  uva_msg_free(msg);
  if (atomic_fetch_add(&r->delivered, 1) + 1 == r->quota)
    ACTOR_CHECK(uva_self_exit(r->self, 5) == 0);
}

static int post_race_main(uva_self_t *self) {
  post_race_t *r = uva_self_arg(self);

  r->self = self;
  uva_self_port(self)->data = r;
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), race_on_message, NULL) == 0);
  return 5;
}

/* Posts until the actor's end refuses. */
static void race_poster(void *arg) {
  post_race_t *r = arg;
  uva_msg_t *msg;
  int *buf;
  int err;

  do {
    buf = malloc(sizeof(*buf));
    if (buf == NULL || uva_msg_new(&msg) != 0)
      abort();
    msgpack_pack_array(uva_msg_packer(msg), 1);
    if (uva_msg_pack_buffer(msg, buf, sizeof(*buf), race_free) != 0)
      abort();
    atomic_fetch_add(&r->made, 1);
    err = uva_port_post(uva_actor_port(&r->actor), msg);
    if (err == 0)
      atomic_fetch_add(&r->posted, 1);
    else
      uva_msg_free(msg);
  } while (err == 0);
  if (err != UV_EPIPE && err != UV_EBADF)
    atomic_fetch_add(&r->other, 1);
}

START_TEST(test_posts_race_actor_end) {
  uva_actor_options_t opts = {0};
  uv_thread_t posters[RACE_POSTERS];
  post_race_t r;
  int made = 0;
  int round;
  int code;
  int i;

  atomic_store(&race_freed, 0);
  for (round = 0; round < RACE_ROUNDS; round++) {
    memset(&r, 0, sizeof(r));
    r.quota = round % 2 == 0 ? 1 + round % 16 : 0;
    opts.arg = &r;
    ck_assert_int_eq(uva_actor_spawn(&r.actor, NULL, post_race_main, &opts), 0);
    for (i = 0; i < RACE_POSTERS; i++)
      ck_assert_int_eq(uv_thread_create(&posters[i], race_poster, &r), 0);
    if (r.quota == 0) {
      /* Terminated once the posts have started to arrive, at a different point each round. */
      while (atomic_load(&r.delivered) < 1 + round % 8)
        uv_sleep(0);
      ck_assert_int_eq(uva_actor_terminate(&r.actor), 0);
    }
    for (i = 0; i < RACE_POSTERS; i++)
      ck_assert_int_eq(uv_thread_join(&posters[i]), 0);
    ck_assert_int_eq(uva_actor_join(&r.actor, UVA_WAIT_FOREVER, &code), 0);
    ck_assert_int_eq(code, r.quota == 0 ? UVA_EXIT_TERMINATED : 5);
    ck_assert_int_eq(atomic_load(&r.other), 0);
    ck_assert_int_le(atomic_load(&r.delivered), atomic_load(&r.posted));
    if (r.quota > 0)
      ck_assert_int_ge(atomic_load(&r.delivered), r.quota);
    made += atomic_load(&r.made);
    /* Delivered, dropped with the actor's queue, or refused and freed by its poster: all freed by now. */
    ck_assert_int_eq(atomic_load(&race_freed), made);
  }
  assert_actors_ok();
}
END_TEST

/* ---- join: a parent without a loop --------------------------------------------------------------- */

static int post_three_wait_main(uva_self_t *self) {
  uv_sem_t *go = uva_self_arg(self);
  int i;

  for (i = 0; i < 3; i++)
    ACTOR_CHECK(post_int(uva_self_port(self), 10 + i) == 0);
  uv_sem_wait(go);
  return 8;
}

START_TEST(test_join_loopless_parent) {
  uva_actor_options_t opts = {0};
  uva_actor_t actor;
  uva_msg_t *msg;
  uv_sem_t go;
  int code = -100;
  int i;

  ck_assert_int_eq(uv_sem_init(&go, 0), 0);
  opts.arg = &go;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, post_three_wait_main, &opts), 0);
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(uva_port_receive_wait(uva_actor_port(&actor), &msg, UVA_WAIT_FOREVER), 0);
    ck_assert_int_eq(msg_int(msg), 10 + i);
    uva_msg_free(msg);
  }
  /* Still waiting on the semaphore. */
  ck_assert_int_eq(uva_actor_join(&actor, 0, &code), UV_ETIMEDOUT);
  ck_assert_int_eq(uva_actor_join(&actor, 20, &code), UV_ETIMEDOUT);
  ck_assert_int_eq(code, -100);
  ck_assert_int_eq(uva_actor_ref(&actor), UV_EINVAL); /* no loop */
  uv_sem_post(&go);
  /* The actor's end closes its port: the parent's receive sees the channel closed. */
  ck_assert_int_eq(uva_port_receive_wait(uva_actor_port(&actor), &msg, UVA_WAIT_FOREVER), UV_EPIPE);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, &code), 0);
  ck_assert_int_eq(code, 8);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, &code), UV_EALREADY);
  ck_assert_ptr_null(uva_actor_port(&actor));
  ck_assert_int_eq(uva_actor_terminate(&actor), UV_EALREADY);
  ck_assert_int_eq(uva_actor_join(NULL, 0, NULL), UV_EINVAL);
  uv_sem_destroy(&go);
  assert_actors_ok();
}
END_TEST

/* A loop-less parent may terminate too, and join learns the code. Exit code NULL is allowed. */
START_TEST(test_join_after_terminate) {
  busy_ctx_t ctx = {0};
  uva_actor_options_t opts = {0};
  uva_actor_t actor;
  uva_msg_t *msg;
  int code = 0;

  opts.arg = &ctx;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, busy_main, &opts), 0);
  ck_assert_int_eq(uva_port_receive_wait(uva_actor_port(&actor), &msg, UVA_WAIT_FOREVER), 0);
  uva_msg_free(msg);
  ck_assert_int_eq(uva_actor_terminate(&actor), 0);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, &code), 0);
  ck_assert_int_eq(code, UVA_EXIT_TERMINATED);
  ck_assert_int_eq(atomic_load(&ctx.saw_stop), 1);
  assert_actors_ok();
}
END_TEST

/* An actor with a parent loop is joined by its exit callback, not by uva_actor_join(). */
static void join_on_online(rec_t *rec) {
  ck_assert_int_eq(uva_actor_join(&rec->actor, 0, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_actor_join(&rec->actor, UVA_WAIT_FOREVER, NULL), UV_EINVAL);
}

START_TEST(test_join_with_loop_einval) {
  rec_t rec;

  rec_init(&rec, NULL);
  rec.on_online = join_on_online;
  run_actor(&rec, return_three_main);
  ck_assert_int_eq(rec.exit_code, 3);
  ck_assert_int_eq(uva_actor_join(&rec.actor, 0, NULL), UV_EALREADY);
}
END_TEST

/* ---- ref / unref --------------------------------------------------------------------------------- */

static int wait_go_main(uva_self_t *self) {
  uv_sem_t *go = uva_self_arg(self);

  uv_sem_wait(go);
  return 1;
}

START_TEST(test_unref_lets_loop_exit) {
  uv_loop_t loop;
  uv_sem_t go;
  rec_t rec;

  ck_assert_int_eq(uv_sem_init(&go, 0), 0);
  rec_init(&rec, &go);
  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(&rec, &loop, wait_go_main), 0);
  ck_assert_int_eq(uv_loop_alive(&loop), 1);
  ck_assert_int_eq(uva_actor_unref(&rec.actor), 0);
  ck_assert_int_eq(uva_actor_unref(&rec.actor), 0);
  ck_assert_int_eq(uv_loop_alive(&loop), 0);
  /* Nothing keeps the loop: it returns at once, though the actor is still running. */
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(rec.exited, 0);
  ck_assert_int_eq(uva_actor_ref(&rec.actor), 0);
  ck_assert_int_eq(uv_loop_alive(&loop), 1);
  uv_sem_post(&go);
  loop_finish(&loop);
  uv_sem_destroy(&go);
  ck_assert_int_eq(rec.exited, 1);
  ck_assert_int_eq(rec.exit_code, 1);
  /* Ended: no more loop to keep alive. */
  ck_assert_int_eq(uva_actor_ref(&rec.actor), UV_EINVAL);
  ck_assert_int_eq(uva_actor_unref(&rec.actor), UV_EINVAL);
  ck_assert_int_eq(uva_actor_ref(NULL), UV_EINVAL);
}
END_TEST

typedef struct {
  uva_actor_t *actor;
  int ref;
  int unref;
} ref_thread_t;

static void ref_thread(void *arg) {
  ref_thread_t *r = arg;

  r->ref = uva_actor_ref(r->actor);
  r->unref = uva_actor_unref(r->actor);
}

START_TEST(test_ref_other_thread_eperm) {
  uv_thread_t thread;
  ref_thread_t r;
  uv_loop_t loop;
  uv_sem_t go;
  rec_t rec;

  ck_assert_int_eq(uv_sem_init(&go, 0), 0);
  rec_init(&rec, &go);
  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(&rec, &loop, wait_go_main), 0);
  r.actor = &rec.actor;
  ck_assert_int_eq(uv_thread_create(&thread, ref_thread, &r), 0);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  ck_assert_int_eq(r.ref, UV_EPERM);
  ck_assert_int_eq(r.unref, UV_EPERM);
  ck_assert_int_eq(uv_loop_alive(&loop), 1);
  uv_sem_post(&go);
  loop_finish(&loop);
  uv_sem_destroy(&go);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("terminate", 30, reset_actor_failure, NULL),
      TEST(test_terminate_busy_actor),
      TEST(test_terminate_idle_actor_closes_handles),
      TEST(test_terminate_actor_without_port),
      TEST(test_terminate_actor_running_callbacks),
      TEST(test_terminate_spinning_actor),
      TEST(test_terminate_right_after_spawn),
      TEST(test_terminate_closes_carried_port),
      TEST(test_terminate_twice),
      TEST(test_terminate_after_end),
      TEST(test_terminate_from_other_thread),
      TEST(test_terminate_keeps_actor_messages),

      TCASE("join", 30, reset_actor_failure, NULL),
      TEST(test_join_loopless_parent),
      TEST(test_join_after_terminate),
      TEST(test_join_with_loop_einval),

      TCASE("ref", 30, reset_actor_failure, NULL),
      TEST(test_unref_lets_loop_exit),
      TEST(test_ref_other_thread_eperm),

      TCASE("options", 0, reset_actor_failure, NULL),
      LOOP_TEST(test_terminate_frees_queued_messages, 0, 2),

      /* Last: if terminate's race with the actor's end breaks, it can abort the process, and with CK_FORK=no
       * (valgrind) every test after it would go unrun. */
      TCASE("races", 30, reset_actor_failure, NULL),
      TEST(test_terminate_races_natural_end),
      TEST(test_posts_race_actor_end),
  };

  return suite_of_rows("actor_end", rows, sizeof(rows) / sizeof(rows[0]));
}
