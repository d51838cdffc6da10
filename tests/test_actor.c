/* actors/: spawn, the parent's events, exit codes, terminate, join, ref, actors of actors, port hand-off.
 *
 * One test per rule of include/uvactor/actor.h. A test with a parent loop runs it on its own uv_loop_t and
 * ends by closing it (uv_loop_close() == 0: the actor left nothing on the parent's loop); the loop-less tests
 * (join) have no loop by design. Threads meet through messages and semaphores, never sleeps; an actor that
 * must wait for a stop spins on uva_self_should_stop() with a generous deadline, so a broken terminate fails
 * the test instead of hanging it.
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
#include <unistd.h>

#include "uvactor.h"

/* ThreadSanitizer builds: libuv closes descriptors with syscall(SYS_close), which ThreadSanitizer does not
 * see, so when another thread's loop gets the same descriptor number (many actors come and go here) the
 * descriptor looks raced. These are the calls that hand out the numbers libuv's loops use. */
/* ---- checks on actor threads --------------------------------------------------------------------- */

/* Check's assertions belong to the test's own thread (with CK_FORK=no a failure longjmps), so an actor only
 * records its first failed check; every test that ends through loop_finish() or join_ok() asserts none. */
static _Atomic(const char *) actor_failure;

#define STR_(x) #x
#define STR(x) STR_(x)
#define ACTOR_CHECK(cond)                                                                                \
  do {                                                                                                   \
    if (!(cond)) {                                                                                       \
      const char *expected_ = NULL;                                                                      \
      atomic_compare_exchange_strong(&actor_failure, &expected_, __FILE__ ":" STR(__LINE__) ": " #cond); \
    }                                                                                                    \
  } while (0)

static void assert_actors_ok(void) {
  const char *failure = atomic_load(&actor_failure);

  ck_assert_msg(failure == NULL, "actor check failed: %s", failure);
}

static void reset_actor_failure(void) {
  atomic_store(&actor_failure, NULL);
}

/* An actor's stand-in for a blocking wait: spins until asked to stop; 1 if it was, 0 after 10 s. */
static int spin_until_stop(uva_self_t *self) {
  uint64_t deadline = uv_hrtime() + 10 * (uint64_t)1000000000;

  while (!uva_self_should_stop(self))
    if (uv_hrtime() > deadline)
      return 0;
  return 1;
}

/* ---- messages ------------------------------------------------------------------------------------ */

/* A message whose body is one integer. Any thread. */
static uva_msg_t *int_msg(int64_t value) {
  uva_msg_t *msg = NULL;

  if (uva_msg_new(&msg) != 0)
    return NULL;
  msgpack_pack_int64(uva_msg_packer(msg), value);
  return msg;
}

/* The integer a message carries, or INT64_MIN for anything else. Any thread. */
static int64_t msg_int(uva_msg_t *msg) {
  msgpack_object obj;

  if (uva_msg_object(msg, &obj) != 0)
    return INT64_MIN;
  if (obj.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
    return (int64_t)obj.via.u64;
  if (obj.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
    return obj.via.i64;
  return INT64_MIN;
}

/* Posts an integer; 0 or the error (the message is freed on error). Any thread. */
static int post_int(uva_port_t *port, int64_t value) {
  uva_msg_t *msg = int_msg(value);
  int err;

  if (msg == NULL)
    return UV_ENOMEM;
  err = uva_port_post(port, msg);
  if (err != 0)
    uva_msg_free(msg);
  return err;
}

static void ignore_port_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

/* Moved buffers whose frees are counted: each holds its index, and each index must be freed once. */
#define MAX_COUNTED 256
static atomic_int counted_frees;
static atomic_int counted_freed[MAX_COUNTED];

static void counting_free(void *ptr) {
  int index = *(int *)ptr;

  if (index >= 0 && index < MAX_COUNTED)
    atomic_fetch_add(&counted_freed[index], 1);
  atomic_fetch_add(&counted_frees, 1);
  free(ptr);
}

static void reset_counted(void) {
  int i;

  atomic_store(&counted_frees, 0);
  for (i = 0; i < MAX_COUNTED; i++)
    atomic_store(&counted_freed[i], 0);
}

static int *counted_buffer(int index) {
  int *buf = malloc(sizeof(*buf));

  ck_assert_ptr_nonnull(buf);
  *buf = index;
  return buf;
}

/* A message carrying one counted moved buffer, [index, buffer]. */
static uva_msg_t *counted_msg(int index) {
  uva_msg_t *msg = NULL;
  int *buf = counted_buffer(index);

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  msgpack_pack_array(uva_msg_packer(msg), 2);
  msgpack_pack_int(uva_msg_packer(msg), index);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, buf, sizeof(*buf), counting_free), 0);
  return msg;
}

/* ---- the parent's side: one actor's events, recorded --------------------------------------------- */

typedef struct rec_s rec_t;

struct rec_s {
  uva_actor_t actor;
  uva_actor_options_t opts;
  char events[64]; /* O online, M message, E error, X exit */
  size_t nevents;
  int64_t values[16]; /* the first integers the actor posted */
  int nvalues;
  int nmessages;
  char error[128];
  int exit_code;
  int exited;
  /* optional hooks, called after the event is recorded; on_message takes over the message */
  void (*on_online)(rec_t *rec);
  void (*on_message)(rec_t *rec, uva_msg_t *msg);
  void (*on_exit)(rec_t *rec);
  void *ctx; /* the test's */
};

static void record(rec_t *rec, char event) {
  ck_assert_uint_lt(rec->nevents, sizeof(rec->events) - 1);
  rec->events[rec->nevents++] = event;
  rec->events[rec->nevents] = '\0';
}

static void rec_on_online(uva_actor_t *actor) {
  rec_t *rec = actor->data;

  record(rec, 'O');
  if (rec->on_online != NULL)
    rec->on_online(rec);
}

static void rec_on_message(uva_actor_t *actor, uva_msg_t *msg) {
  rec_t *rec = actor->data;

  ck_assert_ptr_nonnull(msg);
  if (rec->nevents < 16)
    record(rec, 'M');
  rec->nmessages++;
  if (rec->on_message != NULL) {
    rec->on_message(rec, msg);
    return;
  }
  if (rec->nvalues < 16)
    rec->values[rec->nvalues++] = msg_int(msg);
  uva_msg_free(msg);
}

static void rec_on_error(uva_actor_t *actor, const char *text) {
  rec_t *rec = actor->data;

  record(rec, 'E');
  ck_assert_ptr_nonnull(text);
  snprintf(rec->error, sizeof(rec->error), "%s", text);
}

static void rec_on_exit(uva_actor_t *actor, int exit_code) {
  rec_t *rec = actor->data;

  record(rec, 'X');
  ck_assert_int_eq(rec->exited, 0);
  rec->exited = 1;
  rec->exit_code = exit_code;
  /* The handle is ended: no port any more, and terminating it is too late. */
  ck_assert_ptr_null(uva_actor_port(actor));
  ck_assert_int_eq(uva_actor_terminate(actor), UV_EALREADY);
  if (rec->on_exit != NULL)
    rec->on_exit(rec);
}

/* A recorder with every callback set; rec->opts may be changed before rec_spawn(). ctx becomes the actor's
 * uva_self_arg() unless opts.arg is set. */
static void rec_init(rec_t *rec, void *ctx) {
  memset(rec, 0, sizeof(*rec));
  rec->ctx = ctx;
  rec->opts.arg = ctx;
  rec->opts.online_cb = rec_on_online;
  rec->opts.message_cb = rec_on_message;
  rec->opts.error_cb = rec_on_error;
  rec->opts.exit_cb = rec_on_exit;
}

static int rec_spawn(rec_t *rec, uv_loop_t *loop, uva_actor_main_cb main_cb) {
  rec->actor.data = rec;
  return uva_actor_spawn(&rec->actor, loop, main_cb, &rec->opts);
}

static void loop_start(uv_loop_t *loop) {
  ck_assert_int_eq(uv_loop_init(loop), 0);
}

/* Runs the loop until nothing keeps it alive, then closes it: every actor's exit was delivered and nothing
 * of theirs is left on it. */
static void loop_finish(uv_loop_t *loop) {
  ck_assert_int_eq(uv_run(loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(loop), 0);
  assert_actors_ok();
}

/* Spawns one actor on a fresh loop, runs it to its exit and closes the loop. */
static void run_actor(rec_t *rec, uva_actor_main_cb main_cb) {
  uv_loop_t loop;

  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(rec, &loop, main_cb), 0);
  loop_finish(&loop);
  ck_assert_int_eq(rec->exited, 1);
}

/* ---- lifecycle ----------------------------------------------------------------------------------- */

static int return_zero_main(uva_self_t *self) {
  (void)self;
  return 0;
}

static int return_three_main(uva_self_t *self) {
  (void)self;
  return 3;
}

typedef struct {
  uv_thread_t thread; /* the actor's thread, as it saw itself */
  uv_loop_t *loop;    /* its loop */
  int code;           /* what main returns */
} echo_ctx_t;

/* Echoes each integer doubled; a negative one closes the channel. */
static void echo_on_message(uva_port_t *port, uva_msg_t *msg) {
  int64_t value = msg_int(msg);

  uva_msg_free(msg);
  if (value < 0)
    ACTOR_CHECK(uva_port_close(port) == 0);
  else
    ACTOR_CHECK(post_int(port, value * 2) == 0);
}

static int echo_main(uva_self_t *self) {
  echo_ctx_t *ctx = uva_self_arg(self);

  ctx->thread = uv_thread_self();
  ctx->loop = uva_self_loop(self);
  ACTOR_CHECK(uva_self_loop(self) != NULL);
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), echo_on_message, NULL) == 0);
  return ctx->code;
}

START_TEST(test_spawn_messages_both_ways_exit_code) {
  echo_ctx_t ctx = {.code = 5};
  uv_thread_t me = uv_thread_self();
  uv_loop_t loop;
  rec_t rec;

  rec_init(&rec, &ctx);
  loop_start(&loop);
  ck_assert_ptr_null(uva_actor_port(&rec.actor)); /* zeroed: not spawned */
  ck_assert_int_eq(rec_spawn(&rec, &loop, echo_main), 0);
  ck_assert_ptr_nonnull(uva_actor_port(&rec.actor));
  /* Posted before the actor started its port: they queue and arrive in order. */
  ck_assert_int_eq(post_int(uva_actor_port(&rec.actor), 1), 0);
  ck_assert_int_eq(post_int(uva_actor_port(&rec.actor), 2), 0);
  ck_assert_int_eq(post_int(uva_actor_port(&rec.actor), 3), 0);
  ck_assert_int_eq(post_int(uva_actor_port(&rec.actor), -1), 0);
  loop_finish(&loop);

  ck_assert_str_eq(rec.events, "OMMMX");
  ck_assert_int_eq(rec.nvalues, 3);
  ck_assert_int_eq(rec.values[0], 2);
  ck_assert_int_eq(rec.values[1], 4);
  ck_assert_int_eq(rec.values[2], 6);
  ck_assert_int_eq(rec.exit_code, 5);
  ck_assert(!uv_thread_equal(&ctx.thread, &me));
  ck_assert_ptr_ne(ctx.loop, &loop);
}
END_TEST

/* Ends the actor from a callback with code 9, then tries 11: the first call's code counts. */
static void exit_on_message(uva_port_t *port, uva_msg_t *msg) {
  uva_self_t *self = port->data;

  uva_msg_free(msg);
  ACTOR_CHECK(uva_self_should_stop(self) == 0);
  ACTOR_CHECK(uva_self_exit(self, 9) == 0);
  ACTOR_CHECK(uva_self_should_stop(self) == 1);
  ACTOR_CHECK(uva_self_exit(self, 11) == 0);
}

static int exit_in_callback_main(uva_self_t *self) {
  uva_self_port(self)->data = self;
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), exit_on_message, NULL) == 0);
  return 5;
}

START_TEST(test_self_exit_overrides_return) {
  uv_loop_t loop;
  rec_t rec;

  rec_init(&rec, NULL);
  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(&rec, &loop, exit_in_callback_main), 0);
  ck_assert_int_eq(post_int(uva_actor_port(&rec.actor), 0), 0);
  loop_finish(&loop);
  ck_assert_str_eq(rec.events, "OX");
  ck_assert_int_eq(rec.exit_code, 9);
}
END_TEST

static atomic_int delivered_after_exit;

static void count_on_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
  atomic_fetch_add(&delivered_after_exit, 1);
}

typedef struct {
  uv_sem_t started;
  uv_sem_t posted;
} exit_in_main_t;

/* uva_self_exit() in main: main's return value does not count, and the loop never turns. */
static int exit_in_main_main(uva_self_t *self) {
  exit_in_main_t *t = uva_self_arg(self);

  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), count_on_message, NULL) == 0);
  uv_sem_post(&t->started);
  uv_sem_wait(&t->posted);
  ACTOR_CHECK(uva_self_exit(self, 12) == 0);
  ACTOR_CHECK(uva_self_should_stop(self) == 1);
  return 3;
}

START_TEST(test_self_exit_in_main) {
  exit_in_main_t t;
  uv_loop_t loop;
  rec_t rec;

  ck_assert_int_eq(uv_sem_init(&t.started, 0), 0);
  ck_assert_int_eq(uv_sem_init(&t.posted, 0), 0);
  atomic_store(&delivered_after_exit, 0);
  rec_init(&rec, &t);
  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(&rec, &loop, exit_in_main_main), 0);
  /* Queued to the started port while main runs; the loop that would deliver it never runs. */
  uv_sem_wait(&t.started);
  ck_assert_int_eq(post_int(uva_actor_port(&rec.actor), 1), 0);
  uv_sem_post(&t.posted);
  loop_finish(&loop);
  uv_sem_destroy(&t.started);
  uv_sem_destroy(&t.posted);
  ck_assert_str_eq(rec.events, "OX");
  ck_assert_int_eq(rec.exit_code, 12);
  ck_assert_int_eq(atomic_load(&delivered_after_exit), 0);
}
END_TEST

static void fail_on_message(uva_port_t *port, uva_msg_t *msg) {
  uva_self_t *self = port->data;

  uva_msg_free(msg);
  ACTOR_CHECK(uva_self_fail(self, 4, "disk on fire") == 0);
  ACTOR_CHECK(uva_self_should_stop(self) == 1);
}

static int fail_in_callback_main(uva_self_t *self) {
  uva_self_port(self)->data = self;
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), fail_on_message, NULL) == 0);
  return 0;
}

START_TEST(test_self_fail_reports_error_then_exit) {
  uv_loop_t loop;
  rec_t rec;

  rec_init(&rec, NULL);
  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(&rec, &loop, fail_in_callback_main), 0);
  ck_assert_int_eq(post_int(uva_actor_port(&rec.actor), 0), 0);
  loop_finish(&loop);
  ck_assert_str_eq(rec.events, "OEX");
  ck_assert_str_eq(rec.error, "disk on fire");
  ck_assert_int_eq(rec.exit_code, 4);
}
END_TEST

/* A failing call has no effect: no error event, and the actor does not end. */
static int fail_einval_main(uva_self_t *self) {
  ACTOR_CHECK(uva_self_fail(self, 1, NULL) == UV_EINVAL);
  ACTOR_CHECK(uva_self_should_stop(self) == 0);
  ACTOR_CHECK(uva_self_fail(NULL, 1, "x") == UV_EINVAL);
  ACTOR_CHECK(uva_self_exit(NULL, 1) == UV_EINVAL);
  ACTOR_CHECK(uva_self_should_stop(NULL) == 0);
  ACTOR_CHECK(uva_self_should_stop(self) == 0);
  return 6;
}

START_TEST(test_self_fail_einval) {
  rec_t rec;

  rec_init(&rec, NULL);
  run_actor(&rec, fail_einval_main);
  ck_assert_str_eq(rec.events, "OX");
  ck_assert_int_eq(rec.exit_code, 6);
  ck_assert_str_eq(rec.error, "");
}
END_TEST

/* Two messages, then an error, then one more message: the error waits for every message. */
static int order_main(uva_self_t *self) {
  ACTOR_CHECK(post_int(uva_self_port(self), 1) == 0);
  ACTOR_CHECK(post_int(uva_self_port(self), 2) == 0);
  ACTOR_CHECK(uva_self_fail(self, 7, "late") == 0);
  ACTOR_CHECK(post_int(uva_self_port(self), 3) == 0);
  return 0;
}

START_TEST(test_event_order) {
  rec_t rec;

  rec_init(&rec, NULL);
  run_actor(&rec, order_main);
  ck_assert_str_eq(rec.events, "OMMMEX");
  ck_assert_int_eq(rec.values[0], 1);
  ck_assert_int_eq(rec.values[1], 2);
  ck_assert_int_eq(rec.values[2], 3);
  ck_assert_str_eq(rec.error, "late");
  ck_assert_int_eq(rec.exit_code, 7);
}
END_TEST

/* Only the first failure counts: its text and its code. */
static int fail_twice_main(uva_self_t *self) {
  ACTOR_CHECK(uva_self_fail(self, 21, "first") == 0);
  ACTOR_CHECK(uva_self_fail(self, 22, "second") == 0);
  return 0;
}

START_TEST(test_self_fail_twice) {
  rec_t rec;

  rec_init(&rec, NULL);
  run_actor(&rec, fail_twice_main);
  ck_assert_str_eq(rec.events, "OEX");
  ck_assert_str_eq(rec.error, "first");
  ck_assert_int_eq(rec.exit_code, 21);
}
END_TEST

#define FLOOD 10000

static int flood_main(uva_self_t *self) {
  int i;

  for (i = 0; i < FLOOD; i++)
    if (post_int(uva_self_port(self), i) != 0)
      return -100;
  return 0;
}

static void flood_on_message(rec_t *rec, uva_msg_t *msg) {
  /* rec->nmessages counts this one already: values arrive 0, 1, 2... */
  ck_assert_int_eq(msg_int(msg), rec->nmessages - 1);
  uva_msg_free(msg);
}

START_TEST(test_everything_posted_arrives_before_exit) {
  rec_t rec;

  rec_init(&rec, NULL);
  rec.on_message = flood_on_message;
  run_actor(&rec, flood_main);
  ck_assert_int_eq(rec.exit_code, 0);
  ck_assert_int_eq(rec.nmessages, FLOOD);
  ck_assert_int_eq(rec.events[0], 'O');
  ck_assert_int_eq(rec.events[rec.nevents - 1], 'X');
}
END_TEST

/* Without a message callback the actor's messages are freed, with what they carry. */
static int post_counted_main(uva_self_t *self) {
  int i;

  for (i = 0; i < 10; i++) {
    uva_msg_t *msg = counted_msg(i);
    if (uva_port_post(uva_self_port(self), msg) != 0) {
      ACTOR_CHECK(!"post failed");
      uva_msg_free(msg);
    }
  }
  return 0;
}

START_TEST(test_no_message_cb_frees_messages) {
  rec_t rec;
  int i;

  reset_counted();
  rec_init(&rec, NULL);
  rec.opts.message_cb = NULL;
  run_actor(&rec, post_counted_main);
  ck_assert_str_eq(rec.events, "OX");
  ck_assert_int_eq(atomic_load(&counted_frees), 10);
  for (i = 0; i < 10; i++)
    ck_assert_int_eq(atomic_load(&counted_freed[i]), 1);
}
END_TEST

static void free_handle_on_exit(uva_actor_t *actor, int code) {
  int *exited = actor->data;

  *exited = code;
  free(actor);
}

/* After the exit callback the handle's memory is the caller's: it may free it right there. */
START_TEST(test_exit_cb_may_free_handle) {
  uva_actor_options_t opts = {0};
  uva_actor_t *actor;
  int exited = -100;
  uv_loop_t loop;

  actor = malloc(sizeof(*actor));
  ck_assert_ptr_nonnull(actor);
  actor->data = &exited;
  opts.exit_cb = free_handle_on_exit;
  loop_start(&loop);
  ck_assert_int_eq(uva_actor_spawn(actor, &loop, return_three_main, &opts), 0);
  loop_finish(&loop);
  ck_assert_int_eq(exited, 3);
}
END_TEST

typedef struct {
  atomic_int closed;
} closed_ctx_t;

static void note_close(uva_port_t *port) {
  closed_ctx_t *ctx = port->data;

  atomic_store(&ctx->closed, 1);
}

static int start_port_main(uva_self_t *self) {
  uva_self_port(self)->data = uva_self_arg(self);
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), ignore_port_message, note_close) == 0);
  return 4;
}

/* The parent may close its port to the actor: the actor's port gets its close like any channel's (and,
 * nothing else keeping its loop, the actor ends), and the exit event still comes. */
START_TEST(test_parent_closes_actor_port) {
  closed_ctx_t ctx = {0};
  uv_loop_t loop;
  rec_t rec;

  rec_init(&rec, &ctx);
  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(&rec, &loop, start_port_main), 0);
  ck_assert_int_eq(uva_port_close(uva_actor_port(&rec.actor)), 0);
  loop_finish(&loop);
  ck_assert_int_eq(atomic_load(&ctx.closed), 1);
  ck_assert_str_eq(rec.events, "OX");
  ck_assert_int_eq(rec.exit_code, 4);
}
END_TEST

START_TEST(test_loopless_parent_closes_actor_port) {
  uva_actor_options_t opts = {0};
  closed_ctx_t ctx = {0};
  uva_actor_t actor;
  int code = 0;

  opts.arg = &ctx;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, start_port_main, &opts), 0);
  ck_assert_int_eq(uva_port_close(uva_actor_port(&actor)), 0);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, &code), 0);
  ck_assert_int_eq(code, 4);
  ck_assert_int_eq(atomic_load(&ctx.closed), 1);
  assert_actors_ok();
}
END_TEST

/* spin_us: the actor's loop may spin for its parent's messages (up to a second), or take the default (0),
 * or never spin (UVA_SPIN_OFF); messages flow the same. */
START_TEST(test_spin_option) {
  static const unsigned int spins[] = {200, 0, UVA_SPIN_OFF};
  echo_ctx_t ctx = {.code = 0};
  uv_loop_t loop;
  rec_t rec;
  size_t k;
  int i;

  for (k = 0; k < sizeof(spins) / sizeof(spins[0]); k++) {
    rec_init(&rec, &ctx);
    rec.opts.spin_us = spins[k];
    loop_start(&loop);
    ck_assert_int_eq(rec_spawn(&rec, &loop, echo_main), 0);
    for (i = 1; i <= 5; i++)
      ck_assert_int_eq(post_int(uva_actor_port(&rec.actor), i), 0);
    ck_assert_int_eq(post_int(uva_actor_port(&rec.actor), -1), 0);
    loop_finish(&loop);
    ck_assert_int_eq(rec.nvalues, 5);
    for (i = 0; i < 5; i++)
      ck_assert_int_eq(rec.values[i], 2 * (i + 1));
  }
}
END_TEST

typedef struct {
  uv_loop_t *loop;
  int spawns;
  int codes[4];
} restart_t;

static int return_arg_int_main(uva_self_t *self) {
  return (int)(intptr_t)uva_self_arg(self);
}

/* A supervisor's restart: the exit callback spawns again into the same handle, which is the caller's again.
 */
static void respawn_on_exit(uva_actor_t *actor, int code) {
  restart_t *r = actor->data;
  uva_actor_options_t opts = {0};

  r->codes[r->spawns - 1] = code;
  if (r->spawns == 4)
    return;
  opts.arg = (void *)(intptr_t)(r->spawns + 10);
  opts.exit_cb = respawn_on_exit;
  ck_assert_int_eq(uva_actor_spawn(actor, r->loop, return_arg_int_main, &opts), 0);
  r->spawns++;
}

START_TEST(test_respawn_from_exit_cb) {
  uva_actor_options_t opts = {0};
  uva_actor_t actor;
  restart_t r = {0};
  uv_loop_t loop;

  loop_start(&loop);
  r.loop = &loop;
  actor.data = &r;
  opts.arg = (void *)(intptr_t)10;
  opts.exit_cb = respawn_on_exit;
  ck_assert_int_eq(uva_actor_spawn(&actor, &loop, return_arg_int_main, &opts), 0);
  r.spawns = 1;
  loop_finish(&loop);
  ck_assert_int_eq(r.spawns, 4);
  ck_assert_int_eq(r.codes[0], 10);
  ck_assert_int_eq(r.codes[1], 11);
  ck_assert_int_eq(r.codes[2], 12);
  ck_assert_int_eq(r.codes[3], 13);
}
END_TEST

/* ---- init message, arg, name --------------------------------------------------------------------- */

typedef struct {
  int saw_arg;
  int64_t init_value;
  int second_is_null;
  char name[64];
} init_ctx_t;

static int init_main(uva_self_t *self) {
  init_ctx_t *ctx = uva_self_arg(self);
  uva_msg_t *init;

  ctx->saw_arg = ctx != NULL;
  init = uva_self_init(self);
  ctx->init_value = init != NULL ? msg_int(init) : INT64_MIN;
  ctx->second_is_null = uva_self_init(self) == NULL;
  snprintf(ctx->name, sizeof(ctx->name), "%s", uva_self_name(self));
  uva_msg_free(init);
  return 0;
}

START_TEST(test_init_message_reaches_actor) {
  init_ctx_t ctx = {0};
  rec_t rec;

  rec_init(&rec, &ctx);
  rec.opts.init = int_msg(77);
  ck_assert_ptr_nonnull(rec.opts.init);
  run_actor(&rec, init_main);
  ck_assert_int_eq(ctx.saw_arg, 1);
  ck_assert_int_eq(ctx.init_value, 77);
  ck_assert_int_eq(ctx.second_is_null, 1);
  ck_assert_str_eq(ctx.name, ""); /* no name given */
  ck_assert_int_eq(rec.exit_code, 0);
}
END_TEST

START_TEST(test_no_init_message) {
  init_ctx_t ctx = {0};
  rec_t rec;

  rec_init(&rec, &ctx);
  run_actor(&rec, init_main);
  ck_assert_int_eq(ctx.init_value, INT64_MIN);
  ck_assert_int_eq(ctx.second_is_null, 1);
}
END_TEST

/* An init message the actor never takes is freed with the actor, and what it carries with it. */
START_TEST(test_untaken_init_is_freed) {
  rec_t rec;

  reset_counted();
  rec_init(&rec, NULL);
  rec.opts.init = counted_msg(0);
  run_actor(&rec, return_zero_main);
  ck_assert_int_eq(atomic_load(&counted_frees), 1);
}
END_TEST

typedef struct {
  void *sent;      /* the moved buffer's address in the parent */
  void *received;  /* and in the actor */
  uva_port_t port; /* the port the init carried, once the actor took it */
  int took;
} carry_ctx_t;

static void carry_on_port_message(uva_port_t *port, uva_msg_t *msg) {
  int64_t value = msg_int(msg);

  uva_msg_free(msg);
  ACTOR_CHECK(post_int(port, value + 1) == 0);
}

static int carry_main(uva_self_t *self) {
  carry_ctx_t *ctx = uva_self_arg(self);
  uva_msg_t *init = uva_self_init(self);
  const msgpack_object *items;
  uva_free_cb free_cb = NULL;
  msgpack_object obj;
  void *data = NULL;
  size_t len = 0;

  ACTOR_CHECK(init != NULL);
  if (init == NULL)
    return 1;
  ACTOR_CHECK(uva_msg_object(init, &obj) == 0 && obj.type == MSGPACK_OBJECT_ARRAY && obj.via.array.size == 2);
  items = obj.via.array.ptr;
  ACTOR_CHECK(uva_msg_take_buffer(init, &items[0], &data, &len, &free_cb) == 0);
  ctx->received = data;
  ACTOR_CHECK(len == sizeof(int) && data != NULL && *(int *)data == 5);
  if (free_cb != NULL)
    free_cb(data);
  ACTOR_CHECK(uva_msg_take_port(init, &items[1], &ctx->port) == 0);
  uva_msg_free(init); /* the port was taken: freeing the message leaves it open */
  ACTOR_CHECK(uva_port_start(&ctx->port, uva_self_loop(self), carry_on_port_message, NULL) == 0);
  ctx->took = 1;
  return 0;
}

static void parent_end_on_message(uva_port_t *port, uva_msg_t *msg) {
  int64_t *got = port->data;

  *got = msg_int(msg);
  uva_msg_free(msg);
  ck_assert_int_eq(uva_port_close(port), 0);
}

/* The init message moves a buffer (same address, no copy) and a port, which then carries messages both
 * ways between the actor and the parent, beside the actor's own port. */
START_TEST(test_init_carries_buffer_and_port) {
  carry_ctx_t ctx = {0};
  uva_port_t mine;
  uva_port_t theirs;
  int64_t got = 0;
  uv_loop_t loop;
  uva_msg_t *init;
  rec_t rec;

  reset_counted();
  loop_start(&loop);
  ck_assert_int_eq(uva_channel_init(&mine, &theirs), 0);
  mine.data = &got;
  ck_assert_int_eq(uva_port_start(&mine, &loop, parent_end_on_message, NULL), 0);
  ck_assert_int_eq(uva_msg_new(&init), 0);
  msgpack_pack_array(uva_msg_packer(init), 2);
  ctx.sent = counted_buffer(5);
  ck_assert_int_eq(uva_msg_pack_buffer(init, ctx.sent, sizeof(int), counting_free), 0);
  ck_assert_int_eq(uva_msg_pack_port(init, &theirs), 0);

  rec_init(&rec, &ctx);
  rec.opts.init = init;
  ck_assert_int_eq(rec_spawn(&rec, &loop, carry_main), 0);
  ck_assert_int_eq(post_int(&mine, 41), 0);
  loop_finish(&loop);

  ck_assert_int_eq(ctx.took, 1);
  ck_assert_ptr_eq(ctx.received, ctx.sent);
  ck_assert_int_eq(atomic_load(&counted_frees), 1);
  ck_assert_int_eq(got, 42);
  ck_assert_int_eq(rec.exit_code, 0);
}
END_TEST

typedef struct {
  char thread_name[32];
  char self_name[80];
} name_ctx_t;

static int name_main(uva_self_t *self) {
  name_ctx_t *ctx = uva_self_arg(self);

  ACTOR_CHECK(pthread_getname_np(pthread_self(), ctx->thread_name, sizeof(ctx->thread_name)) == 0);
  snprintf(ctx->self_name, sizeof(ctx->self_name), "%s", uva_self_name(self));
  return 0;
}

/* The name is the thread's (the system keeps 15 bytes) and uva_self_name()'s, whole; 63 bytes is the most. */
static const char *const names[] = {
    "uva-test", "a-name-much-longer-than-fifteen-bytes",
    "012345678901234567890123456789012345678901234567890123456789012", /* 63 */
};

START_TEST(test_name_is_thread_name) {
  const char *name = names[_i];
  name_ctx_t ctx;
  char expected[16];
  rec_t rec;

  memset(&ctx, 0, sizeof(ctx));
  snprintf(expected, sizeof(expected), "%s", name);
  rec_init(&rec, &ctx);
  rec.opts.name = name;
  run_actor(&rec, name_main);
  ck_assert_str_eq(ctx.thread_name, expected);
  ck_assert_str_eq(ctx.self_name, name);
}
END_TEST

/* The options' name is copied: the caller's buffer may change right after spawn. */
START_TEST(test_name_is_copied) {
  char name[16] = "copied";
  name_ctx_t ctx;
  uv_loop_t loop;
  rec_t rec;

  memset(&ctx, 0, sizeof(ctx));
  rec_init(&rec, &ctx);
  rec.opts.name = name;
  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(&rec, &loop, name_main), 0);
  strcpy(name, "changed");
  loop_finish(&loop);
  ck_assert_str_eq(ctx.self_name, "copied");
  ck_assert_str_eq(ctx.thread_name, "copied");
}
END_TEST

typedef struct {
  size_t stack_size;
  int used;
} stack_ctx_t;

/* Touches n bytes of stack, in frames of 4 KiB, so an actor with less stack than it asked for crashes. */
static int use_stack(size_t n) {
  volatile char frame[4096];

  frame[0] = 1;
  frame[sizeof(frame) - 1] = 1;
  if (n <= sizeof(frame))
    return frame[0];
  return use_stack(n - sizeof(frame)) + frame[sizeof(frame) - 1];
}

static int stack_main(uva_self_t *self) {
  stack_ctx_t *ctx = uva_self_arg(self);
  pthread_attr_t attr;

  ACTOR_CHECK(pthread_getattr_np(pthread_self(), &attr) == 0);
  ACTOR_CHECK(pthread_attr_getstacksize(&attr, &ctx->stack_size) == 0);
  pthread_attr_destroy(&attr);
  /* A quarter: sanitizers make frames bigger, and the point is only that the stack is really there. */
  ctx->used = use_stack(ctx->stack_size / 4);
  return 0;
}

/* 256 KiB is far below the usual 8 MiB default, 16 MiB far above it: both come out as asked. A sanitizer's
 * runtime keeps large per-thread state in static TLS, which glibc carves out of the thread's stack, and
 * instrumented frames are bigger, so there the small one is 4 MiB (still below the default). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SMALL_STACK (4 * 1024 * 1024)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SMALL_STACK (4 * 1024 * 1024)
#endif
#endif
#ifndef SMALL_STACK
#define SMALL_STACK (256 * 1024)
#endif
static const size_t stack_sizes[] = {SMALL_STACK, 16 * 1024 * 1024};

START_TEST(test_stack_size_honoured) {
  size_t asked = stack_sizes[_i];
  stack_ctx_t ctx = {0};
  rec_t rec;

  rec_init(&rec, &ctx);
  rec.opts.stack_size = asked;
  run_actor(&rec, stack_main);
  ck_assert_int_eq(rec.exit_code, 0);
  ck_assert_uint_ge(ctx.stack_size, asked);
  ck_assert_uint_lt(ctx.stack_size, asked + 1024 * 1024);
  ck_assert_int_gt(ctx.used, 0);
}
END_TEST

/* ---- bounded queue to the actor ------------------------------------------------------------------ */

/* Waits for the test's go, then drains its never-started port; the exit code is how many it found. */
static int drain_after_go_main(uva_self_t *self) {
  uv_sem_t *go = uva_self_arg(self);
  uva_msg_t *msg;
  int n = 0;

  uv_sem_wait(go);
  while (uva_port_receive(uva_self_port(self), &msg) == 0) {
    uva_msg_free(msg);
    n++;
  }
  return n;
}

START_TEST(test_max_messages) {
  uva_msg_t *msg;
  uv_loop_t loop;
  uv_sem_t go;
  rec_t rec;
  int i;

  ck_assert_int_eq(uv_sem_init(&go, 0), 0);
  rec_init(&rec, &go);
  rec.opts.max_messages = 3;
  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(&rec, &loop, drain_after_go_main), 0);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(post_int(uva_actor_port(&rec.actor), i), 0);
  msg = int_msg(3);
  ck_assert_int_eq(uva_port_post(uva_actor_port(&rec.actor), msg), UV_EAGAIN);
  uva_msg_free(msg); /* refused: still ours */
  uv_sem_post(&go);
  loop_finish(&loop);
  uv_sem_destroy(&go);
  ck_assert_int_eq(rec.exit_code, 3);
}
END_TEST

/* A message of about n body bytes. */
static uva_msg_t *sized_msg(size_t n) {
  static const char filler[512];
  uva_msg_t *msg = NULL;

  ck_assert_uint_le(n, sizeof(filler));
  ck_assert_int_eq(uva_msg_new(&msg), 0);
  msgpack_pack_bin_with_body(uva_msg_packer(msg), filler, n);
  return msg;
}

START_TEST(test_max_bytes) {
  uva_msg_t *msg;
  uv_loop_t loop;
  uv_sem_t go;
  rec_t rec;

  ck_assert_int_eq(uv_sem_init(&go, 0), 0);
  rec_init(&rec, &go);
  rec.opts.max_bytes = 100;
  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(&rec, &loop, drain_after_go_main), 0);
  msg = sized_msg(200);
  ck_assert_int_eq(uva_port_post(uva_actor_port(&rec.actor), msg), UV_E2BIG);
  uva_msg_free(msg);
  ck_assert_int_eq(uva_port_post(uva_actor_port(&rec.actor), sized_msg(60)), 0);
  msg = sized_msg(60);
  ck_assert_int_eq(uva_port_post(uva_actor_port(&rec.actor), msg), UV_EAGAIN);
  uva_msg_free(msg);
  uv_sem_post(&go);
  loop_finish(&loop);
  uv_sem_destroy(&go);
  ck_assert_int_eq(rec.exit_code, 1);
}
END_TEST

/* ---- spawn failures ------------------------------------------------------------------------------ */

static void noop_online(uva_actor_t *actor) {
  (void)actor;
}

static void noop_message(uva_actor_t *actor, uva_msg_t *msg) {
  (void)actor;
  uva_msg_free(msg);
}

static void noop_error(uva_actor_t *actor, const char *text) {
  (void)actor;
  (void)text;
}

static void noop_exit(uva_actor_t *actor, int code) {
  (void)actor;
  (void)code;
}

/* After a failed spawn the handle is not an actor, and init is still the caller's, untouched. */
static void assert_not_spawned(uva_actor_t *actor) {
  ck_assert_ptr_null(uva_actor_port(actor));
  ck_assert_int_eq(uva_actor_terminate(actor), UV_EINVAL);
  ck_assert_int_eq(uva_actor_join(actor, 0, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_actor_ref(actor), UV_EINVAL);
  ck_assert_int_eq(uva_actor_unref(actor), UV_EINVAL);
}

START_TEST(test_spawn_einval) {
  uva_actor_options_t opts;
  uva_actor_t actor;
  char name[65];
  uv_loop_t loop;
  int i;

  reset_counted();
  loop_start(&loop);
  memset(&actor, 0, sizeof(actor));
  memset(&opts, 0, sizeof(opts));
  opts.init = counted_msg(0);
  ck_assert_int_eq(uva_actor_spawn(NULL, &loop, return_zero_main, &opts), UV_EINVAL);
  ck_assert_int_eq(uva_actor_spawn(&actor, &loop, NULL, &opts), UV_EINVAL);
  ck_assert_int_eq(uva_actor_spawn(NULL, NULL, NULL, NULL), UV_EINVAL);
  /* Without a loop there is nowhere to deliver events: each callback alone is refused. */
  for (i = 0; i < 4; i++) {
    uva_actor_options_t bad = opts;
    if (i == 0)
      bad.online_cb = noop_online;
    else if (i == 1)
      bad.message_cb = noop_message;
    else if (i == 2)
      bad.error_cb = noop_error;
    else
      bad.exit_cb = noop_exit;
    ck_assert_int_eq(uva_actor_spawn(&actor, NULL, return_zero_main, &bad), UV_EINVAL);
    assert_not_spawned(&actor);
  }
  /* A name of 64 bytes or more is refused (63 is the most, see test_name_is_thread_name). */
  memset(name, 'n', 64);
  name[64] = '\0';
  opts.name = name;
  ck_assert_int_eq(uva_actor_spawn(&actor, &loop, return_zero_main, &opts), UV_EINVAL);
  assert_not_spawned(&actor);
  ck_assert_int_eq(atomic_load(&counted_frees), 0);
  uva_msg_free(opts.init);
  ck_assert_int_eq(atomic_load(&counted_frees), 1);
  loop_finish(&loop);
}
END_TEST

/* spin_us is at most a second: more is refused, and nothing is left behind. */
START_TEST(test_spin_option_too_long) {
  uv_loop_t loop;
  rec_t rec;

  reset_counted();
  rec_init(&rec, NULL);
  rec.opts.spin_us = 1000001;
  rec.opts.init = counted_msg(0);
  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(&rec, &loop, return_zero_main), UV_EINVAL);
  assert_not_spawned(&rec.actor);
  ck_assert_int_eq(atomic_load(&counted_frees), 0);
  uva_msg_free(rec.opts.init);
  ck_assert_int_eq(atomic_load(&counted_frees), 1);
  rec.opts.init = NULL;
  rec.opts.spin_us = 1000000; /* the most */
  ck_assert_int_eq(rec_spawn(&rec, &loop, return_zero_main), 0);
  loop_finish(&loop);
  ck_assert_int_eq(rec.exited, 1);
}
END_TEST

/* No thread can have a stack of half the address space: spawn fails and undoes everything, with or without
 * a parent loop (then the ports it had started on that loop close with it). */
START_TEST(test_spawn_thread_failure) {
  int with_loop = _i;
  uv_loop_t loop;
  rec_t rec;
  int err;

  reset_counted();
  loop_start(&loop);
  rec_init(&rec, NULL);
  if (!with_loop) {
    rec.opts.online_cb = NULL;
    rec.opts.message_cb = NULL;
    rec.opts.error_cb = NULL;
    rec.opts.exit_cb = NULL;
  }
  rec.opts.stack_size = SIZE_MAX / 2;
  rec.opts.init = counted_msg(0);
  err = rec_spawn(&rec, with_loop ? &loop : NULL, return_zero_main);
  /* pthread_create() says EAGAIN; under valgrind, which checks the size itself, EINVAL. */
  ck_assert_msg(err == UV_EAGAIN || err == UV_ENOMEM || err == UV_EINVAL, "spawn: %s", uv_err_name(err));
  assert_not_spawned(&rec.actor);
  ck_assert_int_eq(atomic_load(&counted_frees), 0);
  uva_msg_free(rec.opts.init);
  ck_assert_int_eq(atomic_load(&counted_frees), 1);
  loop_finish(&loop);
  ck_assert_str_eq(rec.events, "");
}
END_TEST

typedef struct {
  uv_loop_t loop;
  uva_port_t port1;
  uva_port_t port2;
  uv_sem_t attached;
  uv_sem_t release;
} other_loop_t;

/* Runs a loop that a port is started on, until told to close it. */
static void other_loop_thread(void *arg) {
  other_loop_t *o = arg;

  ACTOR_CHECK(uv_loop_init(&o->loop) == 0);
  ACTOR_CHECK(uva_channel_init(&o->port1, &o->port2) == 0);
  ACTOR_CHECK(uva_port_start(&o->port1, &o->loop, ignore_port_message, NULL) == 0);
  uv_sem_post(&o->attached);
  uv_sem_wait(&o->release);
  ACTOR_CHECK(uva_port_close(&o->port1) == 0);
  ACTOR_CHECK(uva_port_close(&o->port2) == 0);
  ACTOR_CHECK(uv_run(&o->loop, UV_RUN_DEFAULT) == 0);
  ACTOR_CHECK(uv_loop_close(&o->loop) == 0);
}

/* A loop that another thread runs (ports are started on it there) cannot be the parent's: UV_EPERM. */
START_TEST(test_spawn_loop_of_other_thread) {
  uv_thread_t thread;
  other_loop_t o;
  rec_t rec;

  reset_counted();
  ck_assert_int_eq(uv_sem_init(&o.attached, 0), 0);
  ck_assert_int_eq(uv_sem_init(&o.release, 0), 0);
  ck_assert_int_eq(uv_thread_create(&thread, other_loop_thread, &o), 0);
  uv_sem_wait(&o.attached);
  rec_init(&rec, NULL);
  rec.opts.init = counted_msg(0);
  ck_assert_int_eq(rec_spawn(&rec, &o.loop, return_zero_main), UV_EPERM);
  assert_not_spawned(&rec.actor);
  ck_assert_int_eq(atomic_load(&counted_frees), 0);
  uva_msg_free(rec.opts.init);
  uv_sem_post(&o.release);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  uv_sem_destroy(&o.attached);
  uv_sem_destroy(&o.release);
  assert_actors_ok();
  ck_assert_int_eq(atomic_load(&counted_frees), 1);
}
END_TEST

/* The actor's thread cannot make its loop (no file descriptor left for it): the parent gets an error saying
 * why and exit with UVA_EXIT_FAILED, no online, and main never runs. */
static atomic_int failed_main_ran;

static int count_main(uva_self_t *self) {
  (void)self;
  atomic_fetch_add(&failed_main_ran, 1);
  return 0;
}

static void restore_fds_on_exit(rec_t *rec) {
  int *fds = rec->ctx;
  int i;

  for (i = 0; fds[i] >= 0; i++)
    close(fds[i]);
}

START_TEST(test_loop_setup_failure) {
  struct rlimit old_limit;
  struct rlimit limit;
  uva_port_t warm1;
  uva_port_t warm2;
  uv_loop_t loop;
  int fds[64];
  rec_t rec;
  int n = 0;

  atomic_store(&failed_main_ran, 0);
  loop_start(&loop);
  /* The parent's loop gets its wakeup descriptor now, so spawn needs no new descriptor in this thread. */
  ck_assert_int_eq(uva_channel_init(&warm1, &warm2), 0);
  ck_assert_int_eq(uva_port_start(&warm1, &loop, ignore_port_message, NULL), 0);
  ck_assert_int_eq(uva_port_close(&warm2), 0);
  /* Use up every descriptor below a limit a little above the highest one open. */
  ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old_limit), 0);
  limit = old_limit;
  fds[0] = dup(0);
  ck_assert_int_ge(fds[0], 0);
  limit.rlim_cur = (rlim_t)fds[0] + 16;
  close(fds[0]);
  ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &limit), 0);
  while (n < 63 && (fds[n] = dup(0)) >= 0)
    n++;
  ck_assert_int_lt(n, 63);
  fds[n] = -1;

  rec_init(&rec, fds);
  rec.on_exit = restore_fds_on_exit;
  ck_assert_int_eq(rec_spawn(&rec, &loop, count_main), 0);
  loop_finish(&loop);
  ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old_limit), 0);
  ck_assert_str_eq(rec.events, "EX");
  ck_assert_int_eq(rec.exit_code, UVA_EXIT_FAILED);
  ck_assert_str_eq(rec.error, uva_strerror(UV_EMFILE));
  ck_assert_int_eq(atomic_load(&failed_main_ran), 0);
}
END_TEST

/* ---- terminate ----------------------------------------------------------------------------------- */

typedef struct {
  atomic_int saw_stop; /* 1: asked to stop; -1: gave up waiting */
  atomic_int started_port;
  uva_port_t *port; /* the actor's own port, once known */
  uv_timer_t timer; /* a handle left running on the actor's loop */
  atomic_int port_closed;
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
  rec.on_message = terminate_on_message;
  run_actor(&rec, idle_main);
  ck_assert_int_eq(rec.exit_code, UVA_EXIT_TERMINATED);
  ck_assert_int_eq(atomic_load(&ctx.port_closed), 1);
  ck_assert(uv_is_closing((uv_handle_t *)&ctx.timer));
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

/* ---- actors of actors, and ports between siblings ------------------------------------------------ */

typedef struct {
  uva_actor_t grandchild; /* the child's handle to its own actor */
  uva_self_t *child;
} family_t;

static int grandchild_main(uva_self_t *self) {
  ACTOR_CHECK(post_int(uva_self_port(self), 42) == 0);
  return 3;
}

static void child_forward(uva_actor_t *actor, uva_msg_t *msg) {
  family_t *f = actor->data;

  if (uva_port_post(uva_self_port(f->child), msg) != 0) {
    ACTOR_CHECK(!"forward failed");
    uva_msg_free(msg);
  }
}

static void child_on_grandchild_exit(uva_actor_t *actor, int code) {
  family_t *f = actor->data;

  ACTOR_CHECK(post_int(uva_self_port(f->child), 1000 + code) == 0);
}

static int child_main(uva_self_t *self) {
  family_t *f = uva_self_arg(self);
  uva_actor_options_t opts = {0};

  f->child = self;
  f->grandchild.data = f;
  opts.message_cb = child_forward;
  opts.exit_cb = child_on_grandchild_exit;
  ACTOR_CHECK(uva_actor_spawn(&f->grandchild, uva_self_loop(self), grandchild_main, &opts) == 0);
  return 0;
}

START_TEST(test_actor_spawns_actor) {
  family_t f;
  rec_t rec;

  memset(&f, 0, sizeof(f));
  rec_init(&rec, &f);
  run_actor(&rec, child_main);
  ck_assert_str_eq(rec.events, "OMMX");
  ck_assert_int_eq(rec.values[0], 42);
  ck_assert_int_eq(rec.values[1], 1003);
  ck_assert_int_eq(rec.exit_code, 0);
}
END_TEST

typedef struct {
  atomic_int saw_stop;
} spinner_t;

static int spinning_grandchild_main(uva_self_t *self) {
  spinner_t *s = uva_self_arg(self);

  atomic_store(&s->saw_stop, spin_until_stop(self) ? 1 : -1);
  return 0;
}

typedef struct {
  uva_actor_t grandchild;
  spinner_t spinner;
  int grandchild_exit;
} parent_of_spinner_t;

static void note_grandchild_exit(uva_actor_t *actor, int code) {
  parent_of_spinner_t *p = actor->data;

  p->grandchild_exit = code;
}

/* The child ends while its own actor is still running. */
static int child_ends_early_main(uva_self_t *self) {
  parent_of_spinner_t *p = uva_self_arg(self);
  uva_actor_options_t opts = {0};

  p->grandchild.data = p;
  p->grandchild_exit = 1;
  opts.arg = &p->spinner;
  opts.exit_cb = note_grandchild_exit;
  ACTOR_CHECK(uva_actor_spawn(&p->grandchild, uva_self_loop(self), spinning_grandchild_main, &opts) == 0);
  ACTOR_CHECK(uva_self_exit(self, 2) == 0);
  return 0;
}

/* An actor's end closes every handle on its loop, the actors it spawned included: like a Node worker's
 * nested workers, they are terminated, not waited for. */
START_TEST(test_ending_actor_terminates_its_actors) {
  parent_of_spinner_t p;
  rec_t rec;

  memset(&p, 0, sizeof(p));
  rec_init(&rec, &p);
  run_actor(&rec, child_ends_early_main);
  ck_assert_int_eq(rec.exit_code, 2);
  /* 1: its main saw the stop; 0: the stop came before its main could run, which then never runs. */
  ck_assert_msg(atomic_load(&p.spinner.saw_stop) != -1,
                "the grandchild was not asked to stop; the child's end "
                "waited for it (grandchild exit %d)",
                p.grandchild_exit);
  ck_assert_int_eq(p.grandchild_exit, UVA_EXIT_TERMINATED);
}
END_TEST

#define EXCHANGE 1000

typedef struct {
  uva_port_t port; /* the sibling's end, taken from the init message */
  int count;       /* messages received from the sibling */
  int bad_order;
  uva_self_t *self;
} sibling_t;

static sibling_t *take_sibling_port(uva_self_t *self, uva_port_message_cb cb, uva_port_close_cb close_cb) {
  sibling_t *s = uva_self_arg(self);
  uva_msg_t *init = uva_self_init(self);
  msgpack_object obj;

  s->self = self;
  ACTOR_CHECK(init != NULL && uva_msg_object(init, &obj) == 0 && obj.type == MSGPACK_OBJECT_EXT);
  ACTOR_CHECK(uva_msg_take_port(init, &obj, &s->port) == 0);
  uva_msg_free(init);
  s->port.data = s;
  ACTOR_CHECK(uva_port_start(&s->port, uva_self_loop(self), cb, close_cb) == 0);
  return s;
}

static void sibling_report(uva_port_t *port) {
  sibling_t *s = port->data;

  ACTOR_CHECK(post_int(uva_self_port(s->self), s->count) == 0);
}

/* A counts B's echoes and closes the channel after the last. */
static void a_on_echo(uva_port_t *port, uva_msg_t *msg) {
  sibling_t *s = port->data;

  if (msg_int(msg) != s->count)
    s->bad_order++;
  uva_msg_free(msg);
  if (++s->count == EXCHANGE)
    ACTOR_CHECK(uva_port_close(port) == 0);
}

static int sibling_a_main(uva_self_t *self) {
  sibling_t *s = take_sibling_port(self, a_on_echo, sibling_report);
  int i;

  for (i = 0; i < EXCHANGE; i++)
    ACTOR_CHECK(post_int(&s->port, i) == 0);
  return 0;
}

static void b_on_message(uva_port_t *port, uva_msg_t *msg) {
  sibling_t *s = port->data;
  int64_t value = msg_int(msg);

  if (value != s->count)
    s->bad_order++;
  s->count++;
  /* Echo the message itself back: received messages can be posted on. */
  if (uva_port_post(port, msg) != 0) {
    ACTOR_CHECK(!"echo failed");
    uva_msg_free(msg);
  }
}

static int sibling_b_main(uva_self_t *self) {
  take_sibling_port(self, b_on_message, sibling_report);
  return 0;
}

/* The parent makes a channel and hands one end to each actor in its init message: the two then talk
 * directly, and each reports how many messages it got from the other. */
START_TEST(test_siblings_talk_through_handed_port) {
  sibling_t a = {0};
  sibling_t b = {0};
  uva_port_t pa;
  uva_port_t pb;
  uv_loop_t loop;
  rec_t ra;
  rec_t rb;

  loop_start(&loop);
  ck_assert_int_eq(uva_channel_init(&pa, &pb), 0);
  rec_init(&ra, &a);
  rec_init(&rb, &b);
  ck_assert_int_eq(uva_msg_new(&ra.opts.init), 0);
  ck_assert_int_eq(uva_msg_pack_port(ra.opts.init, &pa), 0);
  ck_assert_int_eq(uva_msg_new(&rb.opts.init), 0);
  ck_assert_int_eq(uva_msg_pack_port(rb.opts.init, &pb), 0);
  ck_assert_int_eq(rec_spawn(&rb, &loop, sibling_b_main), 0);
  ck_assert_int_eq(rec_spawn(&ra, &loop, sibling_a_main), 0);
  loop_finish(&loop);
  ck_assert_int_eq(ra.nvalues, 1);
  ck_assert_int_eq(ra.values[0], EXCHANGE);
  ck_assert_int_eq(rb.nvalues, 1);
  ck_assert_int_eq(rb.values[0], EXCHANGE);
  ck_assert_int_eq(a.bad_order, 0);
  ck_assert_int_eq(b.bad_order, 0);
  ck_assert_int_eq(ra.exit_code, 0);
  ck_assert_int_eq(rb.exit_code, 0);
}
END_TEST

static int pack_own_port_main(uva_self_t *self) {
  uva_msg_t *msg = NULL;

  ACTOR_CHECK(uva_msg_new(&msg) == 0);
  ACTOR_CHECK(uva_msg_pack_port(msg, uva_self_port(self)) == UV_EINVAL);
  uva_msg_free(msg);
  /* Refused without effect: the port still works. */
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), echo_on_message, NULL) == 0);
  return 0;
}

START_TEST(test_own_ports_not_transferable) {
  uva_msg_t *msg = NULL;
  uv_loop_t loop;
  rec_t rec;

  rec_init(&rec, NULL);
  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(&rec, &loop, pack_own_port_main), 0);
  ck_assert_int_eq(uva_msg_new(&msg), 0);
  ck_assert_int_eq(uva_msg_pack_port(msg, uva_actor_port(&rec.actor)), UV_EINVAL);
  uva_msg_free(msg);
  ck_assert_int_eq(post_int(uva_actor_port(&rec.actor), 1), 0);
  ck_assert_int_eq(post_int(uva_actor_port(&rec.actor), -1), 0);
  loop_finish(&loop);
  ck_assert_str_eq(rec.events, "OMX");
  ck_assert_int_eq(rec.values[0], 2);
}
END_TEST

/* ---- many actors --------------------------------------------------------------------------------- */

#define MANY 100

static int return_arg_main(uva_self_t *self) {
  return (int)(intptr_t)uva_self_arg(self);
}

START_TEST(test_many_actors_joined) {
  uva_actor_options_t opts = {0};
  uva_actor_t *actors;
  int code;
  int i;

  actors = calloc(MANY, sizeof(*actors));
  ck_assert_ptr_nonnull(actors);
  for (i = 0; i < MANY; i++) {
    opts.arg = (void *)(intptr_t)i;
    ck_assert_int_eq(uva_actor_spawn(&actors[i], NULL, return_arg_main, &opts), 0);
  }
  for (i = MANY - 1; i >= 0; i--) {
    ck_assert_int_eq(uva_actor_join(&actors[i], UVA_WAIT_FOREVER, &code), 0);
    ck_assert_int_eq(code, i);
  }
  free(actors);
}
END_TEST

static int post_arg_main(uva_self_t *self) {
  int i = (int)(intptr_t)uva_self_arg(self);

  ACTOR_CHECK(post_int(uva_self_port(self), i) == 0);
  return i;
}

START_TEST(test_many_actors_on_one_loop) {
  uv_loop_t loop;
  rec_t *recs;
  int i;

  recs = calloc(MANY, sizeof(*recs));
  ck_assert_ptr_nonnull(recs);
  loop_start(&loop);
  for (i = 0; i < MANY; i++) {
    rec_init(&recs[i], (void *)(intptr_t)i);
    ck_assert_int_eq(rec_spawn(&recs[i], &loop, post_arg_main), 0);
  }
  loop_finish(&loop);
  for (i = 0; i < MANY; i++) {
    ck_assert_str_eq(recs[i].events, "OMX");
    ck_assert_int_eq(recs[i].values[0], i);
    ck_assert_int_eq(recs[i].exit_code, i);
  }
  free(recs);
}
END_TEST

/* ---- suite --------------------------------------------------------------------------------------- */

static void add(Suite *s, const char *name, const TTest *const *tests, size_t n) {
  TCase *tc = tcase_create(name);
  size_t i;

  tcase_add_checked_fixture(tc, reset_actor_failure, NULL);
  tcase_set_timeout(tc, 30);
  for (i = 0; i < n; i++)
    tcase_add_test(tc, tests[i]);
  suite_add_tcase(s, tc);
}

#define ADD(s, name, ...)                                     \
  do {                                                        \
    const TTest *tests_[] = {__VA_ARGS__};                    \
    add(s, name, tests_, sizeof(tests_) / sizeof(tests_[0])); \
  } while (0)

static Suite *make_suite(void) {
  Suite *s = suite_create("actor");
  TCase *tc;

  ADD(s, "lifecycle", test_spawn_messages_both_ways_exit_code, test_self_exit_overrides_return,
      test_self_exit_in_main, test_self_fail_reports_error_then_exit, test_self_fail_einval,
      test_self_fail_twice, test_event_order, test_everything_posted_arrives_before_exit,
      test_no_message_cb_frees_messages, test_exit_cb_may_free_handle, test_parent_closes_actor_port,
      test_loopless_parent_closes_actor_port, test_respawn_from_exit_cb);
  ADD(s, "init", test_init_message_reaches_actor, test_no_init_message, test_untaken_init_is_freed,
      test_init_carries_buffer_and_port, test_name_is_copied);
  ADD(s, "limits", test_max_messages, test_max_bytes, test_spin_option);
  ADD(s, "spawn_errors", test_spawn_einval, test_spin_option_too_long, test_spawn_loop_of_other_thread,
      test_loop_setup_failure);
  ADD(s, "terminate", test_terminate_busy_actor, test_terminate_idle_actor_closes_handles,
      test_terminate_right_after_spawn, test_terminate_closes_carried_port, test_terminate_twice,
      test_terminate_after_end, test_terminate_from_other_thread, test_terminate_keeps_actor_messages);
  ADD(s, "join", test_join_loopless_parent, test_join_after_terminate, test_join_with_loop_einval);
  ADD(s, "ref", test_unref_lets_loop_exit, test_ref_other_thread_eperm);
  ADD(s, "nesting", test_actor_spawns_actor, test_ending_actor_terminates_its_actors,
      test_siblings_talk_through_handed_port, test_own_ports_not_transferable);
  ADD(s, "many", test_many_actors_joined, test_many_actors_on_one_loop);

  tc = tcase_create("options");
  tcase_add_checked_fixture(tc, reset_actor_failure, NULL);
  tcase_add_loop_test(tc, test_name_is_thread_name, 0, (int)(sizeof(names) / sizeof(names[0])));
  tcase_add_loop_test(tc, test_stack_size_honoured, 0, (int)(sizeof(stack_sizes) / sizeof(stack_sizes[0])));
  tcase_add_loop_test(tc, test_spawn_thread_failure, 0, 2);
  tcase_add_loop_test(tc, test_terminate_frees_queued_messages, 0, 2);
  suite_add_tcase(s, tc);
  /* Last: if terminate's race with the actor's end breaks, it can abort the process, and with CK_FORK=no
   * (valgrind) every test after it would go unrun. */
  ADD(s, "races", test_terminate_races_natural_end);
  return s;
}

#include "check_main.h"
