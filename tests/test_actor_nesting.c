/* actors/: actors of actors (an ending actor terminates its own), ports handed between siblings, and many
 * actors at once, on one loop or joined. One test per rule of include/uvactor/actor.h.
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
#include "uvactor.h"

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

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("nesting", 30, reset_actor_failure, NULL),
      TEST(test_actor_spawns_actor),
      TEST(test_ending_actor_terminates_its_actors),
      TEST(test_siblings_talk_through_handed_port),
      TEST(test_own_ports_not_transferable),

      TCASE("many", 30, reset_actor_failure, NULL),
      TEST(test_many_actors_joined),
      TEST(test_many_actors_on_one_loop),
  };

  return suite_of_rows("actor_nesting", rows, sizeof(rows) / sizeof(rows[0]));
}
