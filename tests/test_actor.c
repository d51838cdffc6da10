/* actors/: spawn, the parent's events, exit codes, the init message, name and stack, the bounded queue to
 * the actor, spawn failures. One test per rule of include/uvactor/actor.h; how actors end (terminate, join,
 * ref) is test_actor_end.c's, actors of actors test_actor_nesting.c's.
 *
 * A test with a parent loop runs it on its own uv_loop_t and ends by closing it (uv_loop_close() == 0: the
 * actor left nothing on the parent's loop); the loop-less tests (join) have no loop by design. Threads meet
 * through messages and semaphores, never sleeps; an actor that must wait for a stop spins on
 * uva_self_should_stop() with a generous deadline, so a broken terminate fails the test instead of hanging
 * it.
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

#include "actor_mains.h"
#include "actor_record.h"
#include "counted_buffers.h"
#include "sanitizers.h"
#include "uvactor.h"

/* ---- lifecycle ----------------------------------------------------------------------------------- */

static int return_zero_main(uva_self_t *self) {
  (void)self;
  return 0;
}

typedef struct {
  uv_thread_t thread; /* the actor's thread, as it saw itself */
  uv_loop_t *loop;    /* its loop */
  int code;           /* what main returns */
} echo_ctx_t;

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
#define SMALL_STACK (SANITIZED ? 4 * 1024 * 1024 : 256 * 1024)
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
  /* A thread kept from an earlier actor (CK_FORK=no) would bring its loop: the actor must make one. */
  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0);
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
  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, 0), 0);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("lifecycle", 30, reset_actor_failure, NULL),
      TEST(test_spawn_messages_both_ways_exit_code),
      TEST(test_self_exit_overrides_return),
      TEST(test_self_exit_in_main),
      TEST(test_self_fail_reports_error_then_exit),
      TEST(test_self_fail_einval),
      TEST(test_self_fail_twice),
      TEST(test_event_order),
      TEST(test_everything_posted_arrives_before_exit),
      TEST(test_no_message_cb_frees_messages),
      TEST(test_exit_cb_may_free_handle),
      TEST(test_parent_closes_actor_port),
      TEST(test_loopless_parent_closes_actor_port),
      TEST(test_respawn_from_exit_cb),

      TCASE("init", 30, reset_actor_failure, NULL),
      TEST(test_init_message_reaches_actor),
      TEST(test_no_init_message),
      TEST(test_untaken_init_is_freed),
      TEST(test_init_carries_buffer_and_port),
      TEST(test_name_is_copied),

      TCASE("limits", 30, reset_actor_failure, NULL),
      TEST(test_max_messages),
      TEST(test_max_bytes),
      TEST(test_spin_option),

      TCASE("spawn_errors", 30, reset_actor_failure, NULL),
      TEST(test_spawn_einval),
      TEST(test_spin_option_too_long),
      TEST(test_spawn_loop_of_other_thread),
      TEST(test_loop_setup_failure),

      TCASE("options", 0, reset_actor_failure, NULL),
      LOOP_TEST(test_name_is_thread_name, 0, (int)(sizeof(names) / sizeof(names[0]))),
      LOOP_TEST(test_stack_size_honoured, 0, (int)(sizeof(stack_sizes) / sizeof(stack_sizes[0]))),
      LOOP_TEST(test_spawn_thread_failure, 0, 2),
  };

  return suite_of_rows("actor", rows, sizeof(rows) / sizeof(rows[0]));
}
