/* actors/: the defects an independent attack on the core found, one test each, and the rules decided with
 * them (docs/actors.md). Each would fail (or hang until Check's timeout) without its fix.
 *
 * As in test_actor.c: threads meet through semaphores and the library's own state, never sleeps, and
 * nothing touches libuv's threadpool (Check forks per test: libuv#4443). White-box where a test must see a
 * port's state (port_fixture.h). */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "forked.h"
#include "port_fixture.h"

static uva_msg_t *int_msg(int64_t value) {
  uva_msg_t *msg;

  REQUIRE(uva_msg_new(&msg) == 0);
  REQUIRE(msgpack_pack_int64(uva_msg_packer(msg), value) == 0);
  return msg;
}

/* The events of one actor, on the parent's loop. */
typedef struct {
  uva_actor_t actor;
  int messages;
  int errors;
  int exits;
  int exit_code;
  char error[UVA_FAIL_TEXT_MAX + 8];
  size_t error_len;
} events_t;

static void on_event_message(uva_actor_t *actor, uva_msg_t *msg) {
  events_t *ev = actor->data;

  ev->messages++;
  uva_msg_free(msg);
}

static void on_event_error(uva_actor_t *actor, const char *text) {
  events_t *ev = actor->data;

  ev->errors++;
  ev->error_len = strlen(text);
  if (ev->error_len < sizeof(ev->error))
    memcpy(ev->error, text, ev->error_len + 1);
}

static void on_event_exit(uva_actor_t *actor, int code) {
  events_t *ev = actor->data;

  ev->exits++;
  ev->exit_code = code;
}

static int spawn_events(events_t *ev, uva_actor_main_cb main_cb, void *arg) {
  uva_actor_options_t options = {0};

  memset(ev, 0, sizeof(*ev));
  options.arg = arg;
  options.message_cb = on_event_message;
  options.error_cb = on_event_error;
  options.exit_cb = on_event_exit;
  ev->actor.data = ev;
  return uva_actor_spawn(&ev->actor, test_loop, main_cb, &options);
}

/* ---- ref and unref until the exit event ----------------------------------------------------------- */

/* Posts one message, closes its port, then waits for the test's go before it ends. */
static int post_close_wait_main(uva_self_t *self) {
  uv_sem_t *go = uva_self_arg(self);

  REQUIRE(uva_port_post(uva_self_port(self), int_msg(1)) == 0);
  REQUIRE(uva_port_close(uva_self_port(self)) == 0);
  uv_sem_wait(go);
  return 0;
}

/* The data port's close was delivered, the control port's was not yet: uva_actor_ref() said UV_EINVAL (it
 * looked at the closed data port), so an unref'd actor's exit could never be had. ref/unref now work until
 * the exit event, and it comes exactly once. */
START_TEST(test_ref_unref_work_until_the_exit_event) {
  events_t ev;
  uv_sem_t go;

  ck_assert_int_eq(uv_sem_init(&go, 0), 0);
  ck_assert_int_eq(spawn_events(&ev, post_close_wait_main, &go), 0);
  ck_assert_int_eq(ev.actor.type, UVA_ACTOR); /* the read-only fields */
  ck_assert_ptr_eq(ev.actor.loop, test_loop);
  ck_assert_int_eq(uva_actor_has_ref(&ev.actor), 1);
  /* White-box: run until the actor's side closed and the parent's data port heard it. */
  while (ev.actor.port_.state_ != UVA__HANDLE_DISCONNECTED)
    uv_run(test_loop, UV_RUN_ONCE);
  ck_assert_int_eq(ev.messages, 1);
  ck_assert_int_eq(uva_actor_unref(&ev.actor), 0);
  ck_assert_int_eq(uva_actor_has_ref(&ev.actor), 0);
  uv_sem_post(&go);
  /* Unref'd: the loop may return without the exit event (as Node's would). */
  uv_run(test_loop, UV_RUN_DEFAULT);
  if (ev.exits == 0) {
    ck_assert_int_eq(uva_actor_ref(&ev.actor), 0);
    ck_assert_int_eq(uva_actor_has_ref(&ev.actor), 1);
    uv_run(test_loop, UV_RUN_DEFAULT);
  }
  ck_assert_int_eq(ev.exits, 1);
  ck_assert_int_eq(ev.exit_code, 0);
  ck_assert_int_eq(uva_actor_ref(&ev.actor), UV_EINVAL); /* after the exit event */
  ck_assert_int_eq(uva_actor_unref(&ev.actor), UV_EINVAL);
  ck_assert_int_eq(uva_actor_has_ref(&ev.actor), 0);
  uv_sem_destroy(&go);
}
END_TEST

/* ---- uva_actor_port() while the actor ends --------------------------------------------------------- */

static int return_at_once_main(uva_self_t *self) {
  (void)self;
  return 0;
}

typedef struct {
  uva_actor_t *actor;
  atomic_int saw_null;
} port_reader_t;

static void read_actor_port(void *arg) {
  port_reader_t *r = arg;

  while (uva_actor_port(r->actor) != NULL)
    ;
  atomic_store(&r->saw_null, 1);
}

/* ThreadSanitizer saw uva_actor_port() read the handle's state plainly while the parent's thread retired it
 * (its exit). Any thread may ask for the port; the read is atomic now. */
START_TEST(test_actor_port_from_another_thread_while_it_ends) {
  port_reader_t reader;
  uv_thread_t thread;
  events_t ev;

  ck_assert_int_eq(spawn_events(&ev, return_at_once_main, NULL), 0);
  reader.actor = &ev.actor;
  atomic_init(&reader.saw_null, 0);
  ck_assert_int_eq(uv_thread_create(&thread, read_actor_port, &reader), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  uv_thread_join(&thread);
  ck_assert_int_eq(ev.exits, 1);
  ck_assert_int_eq(atomic_load(&reader.saw_null), 1);
}
END_TEST

/* ---- stack size ---------------------------------------------------------------------------------- */

/* Starts its port, answers one message nested 64 deep (the default limit), and ends. */
static void echo_once(uva_port_t *port, uva_msg_t *msg) {
  msgpack_object obj;

  REQUIRE(uva_msg_object(msg, &obj) == 0);
  REQUIRE(uva_port_post(port, msg) == 0);
  REQUIRE(uva_port_close(port) == 0);
}

static int echo_once_main(uva_self_t *self) {
  return uva_port_start(uva_self_port(self), uva_self_loop(self), echo_once, NULL);
}

/* A stack of 1 or 16384 bytes crashed every actor in uv_run(): libuv rounds it up to PTHREAD_STACK_MIN,
 * which its poll alone overflows. Below UVA_ACTOR_STACK_MIN spawn refuses; at it, an actor works. */
START_TEST(test_stack_below_minimum_refused_minimum_works) {
  /* SIZE_MAX - 100: libuv's rounding to pages wrapped it to 16 KiB (the second attack). */
  static const size_t too_small[] = {1, 16384, UVA_ACTOR_STACK_MIN - 1, SIZE_MAX - 100};
  uva_actor_options_t options = {0};
  uva_actor_t actor;
  uva_msg_t *msg;
  events_t ev;
  size_t i;
  int depth;

  for (i = 0; i < sizeof(too_small) / sizeof(too_small[0]); i++) {
    options.stack_size = too_small[i];
    ck_assert_int_eq(uva_actor_spawn(&actor, test_loop, echo_once_main, &options), UV_EINVAL);
  }
  if (SANITIZED)
    return; /* their runtimes need megabytes of the stack for themselves */
  memset(&ev, 0, sizeof(ev));
  options.stack_size = UVA_ACTOR_STACK_MIN;
  options.message_cb = on_event_message;
  options.exit_cb = on_event_exit;
  ev.actor.data = &ev;
  ck_assert_int_eq(uva_actor_spawn(&ev.actor, test_loop, echo_once_main, &options), 0);
  ck_assert_int_eq(uva_msg_new(&msg), 0);
  for (depth = 0; depth < 64; depth++)
    msgpack_pack_array(uva_msg_packer(msg), 1);
  msgpack_pack_int(uva_msg_packer(msg), 1);
  ck_assert_int_eq(uva_port_post(uva_actor_port(&ev.actor), msg), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(ev.messages, 1);
  ck_assert_int_eq(ev.exits, 1);
  ck_assert_int_eq(ev.exit_code, 0);
}
END_TEST

/* ---- error texts --------------------------------------------------------------------------------- */

static int fail_with_arg_main(uva_self_t *self) {
  const char *text = uva_self_arg(self);

  return uva_self_fail(self, 9, text) == 0 ? 0 : 1;
}

/* uva_self_fail() with a 65 MiB text returned 0 and the parent heard that the text was lost. The text is cut
 * to UVA_FAIL_TEXT_MAX bytes, before a UTF-8 sequence, never inside one. */
START_TEST(test_fail_text_is_cut_at_the_maximum) {
  size_t huge = (size_t)65 << 20;
  char *text = malloc(huge + 1);
  events_t ev;

  ck_assert_ptr_nonnull(text);
  memset(text, 'x', huge);
  text[huge] = '\0';
  /* A two-byte sequence across the cut: it goes whole or not at all. */
  text[UVA_FAIL_TEXT_MAX - 1] = (char)0xc3;
  text[UVA_FAIL_TEXT_MAX] = (char)0xa9;
  ck_assert_int_eq(spawn_events(&ev, fail_with_arg_main, text), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(ev.exits, 1);
  ck_assert_int_eq(ev.exit_code, 9); /* so uva_self_fail() returned 0 (the main's own code is 0 or 1) */
  ck_assert_int_eq(ev.errors, 1);
  ck_assert_uint_eq(ev.error_len, UVA_FAIL_TEXT_MAX - 1);
  ck_assert_int_eq(memcmp(ev.error, text, UVA_FAIL_TEXT_MAX - 1), 0);
  free(text);
}
END_TEST

/* ---- terminate ends the library's own waits ----------------------------------------------------- */

enum { WAIT_POST, WAIT_RECEIVE, WAIT_BROADCAST_POST, WAIT_RECEIVE_SPINNING };

typedef struct {
  int what;
  atomic_int result;
  uv_sem_t bounded; /* the parent bounded its side */
  uv_sem_t waiting; /* the actor is about to wait */
} waiter_t;

/* Blocks, forever, in one of the library's waits; records what it returned. */
static int block_in_wait_main(uva_self_t *self) {
  waiter_t *w = uva_self_arg(self);
  uva_broadcast_t member, full;
  uva_msg_t *msg = int_msg(1);
  int err;

  uv_sem_wait(&w->bounded);
  switch (w->what) {
  case WAIT_POST: /* the parent's side is bounded to 1, and the test never reads it */
    REQUIRE(uva_port_post(uva_self_port(self), int_msg(0)) == 0);
    uv_sem_post(&w->waiting);
    err = uva_port_post_wait(uva_self_port(self), msg, UVA_WAIT_FOREVER);
    break;
  case WAIT_RECEIVE:
    uv_sem_post(&w->waiting);
    err = uva_port_receive_wait(uva_self_port(self), &msg, UVA_WAIT_FOREVER);
    break;
  case WAIT_RECEIVE_SPINNING:
    /* White-box: a spin window of an hour, past what uva_port_set_spin() allows: only the terminate can end
     * the spin within the test's timeout (with one CPU nothing spins, and the wait sleeps at once). */
    uva_self_port(self)->end_->spin_ns = (uint64_t)3600 * 1000000000;
    uv_sem_post(&w->waiting);
    err = uva_port_receive_wait(uva_self_port(self), &msg, UVA_WAIT_FOREVER);
    break;
  default:
    REQUIRE(uva_broadcast_init(&member, "terminate-wakes-broadcast-wait") == 0);
    REQUIRE(uva_broadcast_init(&full, "terminate-wakes-broadcast-wait") == 0);
    REQUIRE(uva_broadcast_set_limits(&full, 1, 0) == 0);
    REQUIRE(uva_broadcast_post(&member, int_msg(0)) == 0);
    uv_sem_post(&w->waiting);
    err = uva_broadcast_post_wait(&member, msg, UVA_WAIT_FOREVER);
    REQUIRE(uva_broadcast_close(&member) == 0);
    REQUIRE(uva_broadcast_close(&full) == 0);
    break;
  }
  if (err != 0)
    uva_msg_free(msg);
  atomic_store(&w->result, err);
  return 0;
}

/* An actor blocked in uva_port_post_wait() or uva_port_receive_wait() with no timeout never ended when
 * terminated: a loop-less parent that bounds the actor's port, then terminates and joins it, deadlocked.
 * Terminate now ends the wait with UV_ECANCELED, whether it sleeps or still spins before it sleeps. The
 * parent here runs no loop, as in the report. */
START_TEST(test_terminate_ends_a_blocked_wait) {
  uva_actor_options_t options = {0};
  uva_actor_t actor;
  waiter_t w;
  int code;

  memset(&w, 0, sizeof(w));
  w.what = _i;
  atomic_init(&w.result, 1);
  ck_assert_int_eq(uv_sem_init(&w.waiting, 0), 0);
  ck_assert_int_eq(uv_sem_init(&w.bounded, 0), 0);
  options.arg = &w;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, block_in_wait_main, &options), 0);
  ck_assert_int_eq(uva_port_set_limits(uva_actor_port(&actor), 1, 0), 0);
  uv_sem_post(&w.bounded);
  uv_sem_wait(&w.waiting);
  /* Terminate either finds it waiting or makes the wait it is about to start return at once. */
  ck_assert_int_eq(uva_actor_terminate(&actor), 0);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, &code), 0);
  ck_assert_int_eq(code, UVA_EXIT_TERMINATED);
  ck_assert_int_eq(atomic_load(&w.result), UV_ECANCELED);
  uv_sem_destroy(&w.waiting);
  uv_sem_destroy(&w.bounded);
}
END_TEST

/* ---- ports an actor holds close when it ends --------------------------------------------------- */

typedef struct {
  uva_port_t taken;       /* from the init message, never started */
  uva_port_t made, sent;  /* made on the actor; sent goes to the parent, made stays new */
  uva_broadcast_t member; /* joined, never started */
} holdings_t;

static int hold_and_end_main(uva_self_t *self) {
  holdings_t *h = uva_self_arg(self);
  uva_msg_t *init = uva_self_init(self);
  uva_msg_t *msg;
  msgpack_object obj;

  REQUIRE(uva_msg_object(init, &obj) == 0);
  REQUIRE(uva_msg_take_port(init, &obj, &h->taken) == 0);
  uva_msg_free(init);
  REQUIRE(uva_channel_init(&h->made, &h->sent) == 0);
  REQUIRE(uva_msg_new(&msg) == 0);
  REQUIRE(uva_msg_pack_port(msg, &h->sent) == 0);
  REQUIRE(uva_port_post(uva_self_port(self), msg) == 0);
  REQUIRE(uva_broadcast_init(&h->member, "held-by-an-ending-actor") == 0);
  REQUIRE(uva_broadcast_set_limits(&h->member, 1, 0) == 0); /* full after one post, while it is a member */
  return 0;
}

typedef struct {
  uva_port_t port;
  int closes;
} watched_t;

static void on_watched_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

static void on_watched_close(uva_port_t *port) {
  ((watched_t *)port->data)->closes++;
}

static watched_t from_actor;

static void take_sent_port(uva_actor_t *actor, uva_msg_t *msg) {
  msgpack_object obj;

  (void)actor;
  REQUIRE(uva_msg_object(msg, &obj) == 0);
  REQUIRE(uva_msg_take_port(msg, &obj, &from_actor.port) == 0);
  from_actor.port.data = &from_actor;
  REQUIRE(uva_port_start(&from_actor.port, test_loop, on_watched_message, on_watched_close) == 0);
  uva_msg_free(msg);
}

/* A port the actor took from a message, or made, and never started stayed open after the actor ended:
 * its peer never heard a close (Node closes every port a worker holds). The same for a broadcast member
 * it joined and never started: it stayed in its group. They close as the actor ends; their handles' memory
 * stays the caller's, and calls on them then fail cleanly. */
START_TEST(test_new_ports_an_actor_holds_close_when_it_ends) {
  uva_actor_options_t options = {0};
  uva_broadcast_t outsider;
  watched_t given;
  holdings_t h;
  uva_port_t theirs;
  uva_actor_t actor;
  uva_msg_t *init;
  uva_msg_t *msg;

  memset(&from_actor, 0, sizeof(from_actor));
  memset(&given, 0, sizeof(given));
  ck_assert_int_eq(uva_channel_init(&given.port, &theirs), 0);
  given.port.data = &given;
  ck_assert_int_eq(uva_port_start(&given.port, test_loop, on_watched_message, on_watched_close), 0);
  ck_assert_int_eq(uva_msg_new(&init), 0);
  ck_assert_int_eq(uva_msg_pack_port(init, &theirs), 0);
  ck_assert_int_eq(uva_broadcast_init(&outsider, "held-by-an-ending-actor"), 0);
  options.init = init;
  options.arg = &h;
  options.message_cb = take_sent_port;
  ck_assert_int_eq(uva_actor_spawn(&actor, test_loop, hold_and_end_main, &options), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(given.closes, 1);
  ck_assert_int_eq(from_actor.closes, 1);
  /* The member left its group: a member bounded to one message would refuse the second post. */
  ck_assert_int_eq(uva_broadcast_post(&outsider, int_msg(1)), 0);
  msg = int_msg(2);
  ck_assert_int_eq(uva_broadcast_post(&outsider, msg), 0);
  ck_assert_int_eq(uva_broadcast_close(&outsider), 0);
  ck_assert_int_eq(uva_port_close(&h.taken), UV_EBADF);
  ck_assert_int_eq(uva_port_close(&h.made), UV_EBADF);
  ck_assert_int_eq(uva_broadcast_close(&h.member), UV_EBADF);
}
END_TEST

/* ---- nested actors when their parent exits -------------------------------------------------------- */

typedef struct {
  uva_actor_t child;
  atomic_int child_exit_calls;
  atomic_int child_exit_code;
} nest_t;

static int wait_for_stop_main(uva_self_t *self) {
  while (!uva_self_should_stop(self))
    ;
  return 0;
}

static void on_nested_exit(uva_actor_t *actor, int code) {
  nest_t *n = actor->data;

  atomic_fetch_add(&n->child_exit_calls, 1);
  atomic_store(&n->child_exit_code, code);
}

static int spawn_then_exit_main(uva_self_t *self) {
  uva_actor_options_t options = {.exit_cb = on_nested_exit};
  nest_t *n = uva_self_arg(self);

  n->child.data = n;
  REQUIRE(uva_actor_spawn(&n->child, uva_self_loop(self), wait_for_stop_main, &options) == 0);
  return uva_self_exit(self, 5);
}

/* Decided (docs/actors.md): when an actor ends, the actors it spawned with a loop are terminated and their
 * exit callbacks still run on its loop, with UVA_EXIT_TERMINATED, as its last callbacks: C needs to know
 * the handle's memory is free. Node emits no exit for them. */
START_TEST(test_nested_actor_exit_runs_when_its_parent_exits) {
  nest_t n;
  events_t ev;

  memset(&n, 0, sizeof(n));
  ck_assert_int_eq(spawn_events(&ev, spawn_then_exit_main, &n), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(ev.exits, 1);
  ck_assert_int_eq(ev.exit_code, 5);
  ck_assert_int_eq(atomic_load(&n.child_exit_calls), 1);
  ck_assert_int_eq(atomic_load(&n.child_exit_code), UVA_EXIT_TERMINATED);
}
END_TEST

/* ---- fork ---------------------------------------------------------------------------------------- */

/* An actor inherited through fork() has no thread in the child: terminate would wake the parent's actor
 * through the shared descriptor, join would wait forever. Both refuse. */
START_TEST(test_forked_child_cannot_use_inherited_actor) {
  uva_actor_t actor;
  forked_t child;
  int code;

  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, wait_for_stop_main, NULL), 0);
  if (forked_start(&child)) {
    int bad = 0;

    bad |= uva_actor_terminate(&actor) != UVA_EFORKED;
    bad |= uva_actor_join(&actor, 0, &code) != UVA_EFORKED;
    bad |= uva_port_post(uva_actor_port(&actor), int_msg(1)) != UVA_EFORKED; /* leaks in the child only */
    forked_end(&child, bad);
  }
  ck_assert_int_eq(forked_wait(&child), 0);
  ck_assert_int_eq(uva_actor_terminate(&actor), 0);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, &code), 0);
  ck_assert_int_eq(code, UVA_EXIT_TERMINATED);
}
END_TEST

/* ---- the second attack: what the first round of fixes left ------------------------------------------ */

/* An actor makes channels and leaves them new; the test's thread uses one end of each while the actor
 * ends. The teardown closed them under the other thread's receive or close (use after free). A new port
 * now belongs to the thread that used it last: used by the test first, it stays open past the actor (its
 * peer, the actor's, closes); used after the actor's end, it is closed (UV_EBADF). */
#define MADE_PORTS 64

typedef struct {
  uva_port_t ours[MADE_PORTS];
  uva_port_t theirs[MADE_PORTS];
  uv_sem_t made;
  uv_sem_t go;
} made_t;

static int make_ports_main(uva_self_t *self) {
  made_t *m = uva_self_arg(self);
  int i;

  for (i = 0; i < MADE_PORTS; i++)
    REQUIRE(uva_channel_init(&m->ours[i], &m->theirs[i]) == 0);
  uv_sem_post(&m->made);
  uv_sem_wait(&m->go);
  return 0;
}

static int spawn_maker(made_t *m, uva_actor_t *actor) {
  uva_actor_options_t options = {.arg = m};

  return uva_actor_spawn(actor, NULL, make_ports_main, &options);
}

START_TEST(test_new_port_belongs_to_the_thread_that_uses_it) {
  uva_actor_t actor;
  uva_msg_t *msg;
  made_t *m = calloc(1, sizeof(*m));
  int round;
  int i;
  int err;

  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(uv_sem_init(&m->made, 0), 0);
  ck_assert_int_eq(uv_sem_init(&m->go, 0), 0);
  /* Used before the actor ends: it moves to this thread and stays open; the actor's end closes its peer. */
  ck_assert_int_eq(spawn_maker(m, &actor), 0);
  uv_sem_wait(&m->made);
  ck_assert_int_eq(uva_port_receive(&m->ours[0], &msg), UV_EAGAIN);
  uv_sem_post(&m->go);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, NULL), 0);
  ck_assert_int_eq(uva_port_receive(&m->ours[0], &msg), UV_EPIPE);
  ck_assert_int_eq(uva_port_close(&m->ours[0]), 0);
  /* Used only after: the actor's end closed it. */
  ck_assert_int_eq(uva_port_close(&m->ours[1]), UV_EBADF);
  /* Used while the actor ends: either, never both (ASan and TSan watch the race). */
  for (round = 0; round < 20; round++) {
    ck_assert_int_eq(spawn_maker(m, &actor), 0);
    uv_sem_wait(&m->made);
    uv_sem_post(&m->go);
    for (i = 0; i < MADE_PORTS; i++) {
      err = uva_port_receive(&m->ours[i], &msg);
      ck_assert_msg(err == UV_EAGAIN || err == UV_EPIPE || err == UV_EBADF, "receive: %s", uva_err_name(err));
      err = uva_port_close(&m->ours[i]);
      ck_assert_msg(err == 0 || err == UV_EBADF, "close: %s", uva_err_name(err));
    }
    ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, NULL), 0);
  }
  uv_sem_destroy(&m->made);
  uv_sem_destroy(&m->go);
  free(m);
}
END_TEST

/* A port's close callback, run by the actor's teardown, started a port or spawned an actor: the teardown
 * never saw them, the actor never ended or its child's thread leaked. Now both are refused, UV_ECANCELED. */
typedef struct {
  uva_port_t a, b, late1, late2;
  uv_loop_t *loop;
  uva_actor_t late_actor;
  atomic_int start_result;
  atomic_int spawn_result;
} teardown_t;

static void on_teardown_close(uva_port_t *port) {
  teardown_t *t = port->data;

  REQUIRE(uva_channel_init(&t->late1, &t->late2) == 0);
  atomic_store(&t->start_result, uva_port_start(&t->late1, t->loop, on_watched_message, NULL));
  REQUIRE(uva_port_close(&t->late1) == 0);
  REQUIRE(uva_port_close(&t->late2) == 0);
  atomic_store(&t->spawn_result, uva_actor_spawn(&t->late_actor, NULL, return_at_once_main, NULL));
}

static int close_spawns_main(uva_self_t *self) {
  teardown_t *t = uva_self_arg(self);

  REQUIRE(uva_channel_init(&t->a, &t->b) == 0);
  t->a.data = t;
  t->loop = uva_self_loop(self);
  REQUIRE(uva_port_start(&t->a, uva_self_loop(self), on_watched_message, on_teardown_close) == 0);
  REQUIRE(uva_port_close(&t->b) == 0);
  return uva_self_exit(self, 0);
}

START_TEST(test_teardown_starts_and_spawns_nothing) {
  uva_actor_options_t options = {0};
  uva_actor_t actor;
  teardown_t t;

  memset(&t, 0, sizeof(t));
  atomic_init(&t.start_result, 1);
  atomic_init(&t.spawn_result, 1);
  options.arg = &t;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, close_spawns_main, &options), 0);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, NULL), 0);
  ck_assert_int_eq(atomic_load(&t.start_result), UV_ECANCELED);
  ck_assert_int_eq(atomic_load(&t.spawn_result), UV_ECANCELED);
}
END_TEST

/* An actor spawned a loop-less child and ended without joining it: nobody asked the child to stop, and
 * joining it afterwards said UV_EBADF. The actor's end now terminates and joins it. */
typedef struct {
  uva_actor_t child;
  atomic_int child_stopped;
} orphan_t;

static int stop_and_note_main(uva_self_t *self) {
  orphan_t *o = uva_self_arg(self);

  while (!uva_self_should_stop(self))
    ;
  atomic_store(&o->child_stopped, 1);
  return 0;
}

static int spawn_and_leave_main(uva_self_t *self) {
  uva_actor_options_t options = {0};
  orphan_t *o = uva_self_arg(self);

  options.arg = o;
  REQUIRE(uva_actor_spawn(&o->child, NULL, stop_and_note_main, &options) == 0);
  return 0;
}

START_TEST(test_ending_actor_joins_its_loopless_children) {
  uva_actor_options_t options = {0};
  uva_actor_t actor;
  orphan_t o;

  memset(&o, 0, sizeof(o));
  options.arg = &o;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, spawn_and_leave_main, &options), 0);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, NULL), 0);
  /* Joined by its parent's end (a terminate before its main ran skips the main: the flag may be 0). */
  ck_assert_int_eq(uva_actor_join(&o.child, 0, NULL), UV_EALREADY);
}
END_TEST

/* Two threads joined one loop-less actor: both called pthread_join on its thread (hang, SIGSEGV). */
typedef struct {
  uva_actor_t *actor;
  int result;
} joiner_t;

static void join_thread_fn(void *arg) {
  joiner_t *j = arg;

  j->result = uva_actor_join(j->actor, UVA_WAIT_FOREVER, NULL);
}

START_TEST(test_two_joiners_join_once) {
  joiner_t joiners[2];
  uv_thread_t threads[2];
  uva_actor_t actor;
  int round;
  int i;

  for (round = 0; round < 50; round++) {
    ck_assert_int_eq(uva_actor_spawn(&actor, NULL, return_at_once_main, NULL), 0);
    for (i = 0; i < 2; i++) {
      joiners[i].actor = &actor;
      joiners[i].result = 1;
      ck_assert_int_eq(uv_thread_create(&threads[i], join_thread_fn, &joiners[i]), 0);
    }
    for (i = 0; i < 2; i++)
      uv_thread_join(&threads[i]);
    /* One joins it; the other found it being joined (UV_EBUSY) or joined (UV_EALREADY). */
    ck_assert_msg((joiners[0].result == 0) != (joiners[1].result == 0), "joins returned %s and %s",
                  uva_err_name(joiners[0].result), uva_err_name(joiners[1].result));
    for (i = 0; i < 2; i++)
      ck_assert(joiners[i].result == 0 || joiners[i].result == UV_EBUSY || joiners[i].result == UV_EALREADY);
  }
}
END_TEST

/* Threads that call on an actor's handle in a loop while its parent joins it: every call answers one of
 * its documented codes, the join returns 0, and once it has, every call answers that the actor ended. A
 * call that finds the end published is not counted in the handle's guard (common/guard.h): before, such
 * calls in a loop kept the join waiting for them to leave. */
#define CALLERS 4

typedef struct {
  uva_actor_t *actor;
  atomic_int *joined;
  int bad;
} caller_t;

static void call_until_joined(void *arg) {
  caller_t *c = arg;
  uva_elu_t elu;
  int joined, terminated, read;

  do {
    joined = atomic_load(c->joined); /* before the calls: once joined, they must say so */
    terminated = uva_actor_terminate(c->actor);
    read = uva_actor_elu(c->actor, &elu);
    if (joined)
      c->bad += terminated != UV_EALREADY || read != UV_ESRCH;
    else
      c->bad += (terminated != 0 && terminated != UV_EALREADY) || (read != 0 && read != UV_ESRCH);
  } while (!joined);
}

START_TEST(test_join_while_threads_call_the_handle) {
  uv_thread_t threads[CALLERS];
  caller_t callers[CALLERS];
  atomic_int joined;
  uva_actor_t actor;
  int round, i;

  for (round = 0; round < 30; round++) {
    ck_assert_int_eq(uva_actor_spawn(&actor, NULL, return_at_once_main, NULL), 0);
    atomic_init(&joined, 0);
    for (i = 0; i < CALLERS; i++) {
      callers[i] = (caller_t){.actor = &actor, .joined = &joined};
      ck_assert_int_eq(uv_thread_create(&threads[i], call_until_joined, &callers[i]), 0);
    }
    ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, NULL), 0);
    atomic_store(&joined, 1);
    for (i = 0; i < CALLERS; i++) {
      uv_thread_join(&threads[i]);
      ck_assert_msg(callers[i].bad == 0, "round %d, caller %d: %d wrong answers", round, i, callers[i].bad);
    }
  }
}
END_TEST

/* A join that timed out on another actor's thread took the joined actor's private port onto that thread's
 * list (the receive it made claimed it), and that actor's end closed it: the real join then got UV_EBADF
 * and the actor was never joined. The actor layer's own ports are no thread's to hold. */
static uva_actor_t looked_at;

static int join_once_main(uva_self_t *self) {
  (void)self;
  return uva_actor_join(&looked_at, 0, NULL) == UV_ETIMEDOUT ? 0 : 1;
}

START_TEST(test_timed_out_join_from_an_actor_leaves_the_actor_joinable) {
  uva_actor_t looker;
  int code = -1;

  ck_assert_int_eq(uva_actor_spawn(&looked_at, NULL, wait_for_stop_main, NULL), 0);
  ck_assert_int_eq(uva_actor_spawn(&looker, NULL, join_once_main, NULL), 0);
  ck_assert_int_eq(uva_actor_join(&looker, UVA_WAIT_FOREVER, &code), 0);
  ck_assert_int_eq(code, 0);
  ck_assert_int_eq(uva_actor_terminate(&looked_at), 0);
  ck_assert_int_eq(uva_actor_join(&looked_at, UVA_WAIT_FOREVER, &code), 0);
  ck_assert_int_eq(code, UVA_EXIT_TERMINATED);
}
END_TEST

/* A loop-less join with a timeout gave up up to a millisecond early (the time left was rounded down to
 * whole milliseconds, and a part of one became a wait of 0): a join of 1 ms acted as one of 0. */
static int receive_until_terminated_main(uva_self_t *self) {
  uva_msg_t *msg;

  while (uva_port_receive_wait(uva_self_port(self), &msg, UVA_WAIT_FOREVER) == 0)
    uva_msg_free(msg);
  return 0;
}

START_TEST(test_timed_join_is_never_early) {
  static const int64_t timeouts[] = {1, 2, 5};
  uva_actor_t actor;
  uint64_t start;
  size_t i;
  int round;

  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, receive_until_terminated_main, NULL), 0);
  for (round = 0; round < 3; round++) {
    for (i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
      start = uv_hrtime();
      ck_assert_int_eq(uva_actor_join(&actor, timeouts[i], NULL), UV_ETIMEDOUT);
      ck_assert_uint_ge(uv_hrtime() - start, (uint64_t)timeouts[i] * 1000000);
    }
  }
  ck_assert_int_eq(uva_actor_terminate(&actor), 0);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, NULL), 0);
}
END_TEST

/* After uva_self_exit(), waits of 0 ms said UV_ETIMEDOUT, waits of 10 ms UV_ECANCELED: a wait that would
 * have to wait on an ending actor's thread says UV_ECANCELED, whatever its timeout. */
static atomic_int exit_then_wait_bad = -1; /* its exit code is uva_self_exit()'s: the verdict comes here */

static int exit_then_wait_main(uva_self_t *self) {
  uva_port_t a, b;
  uva_msg_t *msg;
  int bad = 0;

  REQUIRE(uva_channel_init(&a, &b) == 0);
  REQUIRE(uva_self_exit(self, 0) == 0);
  bad |= uva_port_receive_wait(&a, &msg, 0) != UV_ECANCELED;
  bad |= uva_port_receive_wait(&a, &msg, 10) != UV_ECANCELED;
  bad |= uva_port_receive(&a, &msg) != UV_EAGAIN; /* not a wait */
  REQUIRE(uva_port_close(&a) == 0);
  REQUIRE(uva_port_close(&b) == 0);
  atomic_store(&exit_then_wait_bad, bad);
  return 0;
}

START_TEST(test_ending_actors_waits_are_cancelled_at_any_timeout) {
  uva_actor_t actor;
  int code = -1;

  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, exit_then_wait_main, NULL), 0);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, &code), 0);
  ck_assert_int_eq(code, 0);
  ck_assert_int_eq(atomic_load(&exit_then_wait_bad), 0);
}
END_TEST

/* A timeout of INT64_MAX ms overflowed the deadline: the waits returned UV_ETIMEDOUT at once. */
typedef struct {
  uva_port_t *port;
  int err;
} receiver_t;

static void receive_for_ages(void *arg) {
  receiver_t *r = arg;
  uva_msg_t *msg;

  r->err = uva_port_receive_wait(r->port, &msg, INT64_MAX);
  if (r->err == 0)
    uva_msg_free(msg);
}

START_TEST(test_huge_timeout_waits) {
  uva_port_t a, b;
  uv_thread_t thread;
  receiver_t r;
  uva_actor_t actor;
  int code = -1;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  r.port = &a;
  r.err = 1;
  ck_assert_int_eq(uv_thread_create(&thread, receive_for_ages, &r), 0);
  wait_until_blocked(&a, 0);
  ck_assert_int_eq(uva_port_post(&b, int_msg(1)), 0);
  uv_thread_join(&thread);
  ck_assert_int_eq(r.err, 0);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, return_at_once_main, NULL), 0);
  ck_assert_int_eq(uva_actor_join(&actor, INT64_MAX, &code), 0);
  ck_assert_int_eq(code, 0);
}
END_TEST

/* A text of stray UTF-8 continuation bytes was cut back over all of them (to nothing). A sequence has at
 * most three after its first byte: only those are stepped over. */
START_TEST(test_fail_text_of_continuation_bytes) {
  size_t len = UVA_FAIL_TEXT_MAX + 100;
  char *text = malloc(len + 1);
  events_t ev;

  ck_assert_ptr_nonnull(text);
  memset(text, 0x80, len);
  memcpy(text, "abc", 3);
  text[len] = '\0';
  ck_assert_int_eq(spawn_events(&ev, fail_with_arg_main, text), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(ev.errors, 1);
  ck_assert_uint_eq(ev.error_len, UVA_FAIL_TEXT_MAX);
  free(text);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("attacked", 20, loop_setup, loop_teardown),
      TEST(test_ref_unref_work_until_the_exit_event),
      TEST(test_actor_port_from_another_thread_while_it_ends),
      TEST(test_stack_below_minimum_refused_minimum_works),
      TEST(test_fail_text_is_cut_at_the_maximum),
      LOOP_TEST(test_terminate_ends_a_blocked_wait, WAIT_POST, WAIT_RECEIVE_SPINNING + 1),
      TEST(test_new_ports_an_actor_holds_close_when_it_ends),
      TEST(test_nested_actor_exit_runs_when_its_parent_exits),
      TEST(test_forked_child_cannot_use_inherited_actor),
      TCASE("attacked again", 20, loop_setup, loop_teardown),
      TEST(test_new_port_belongs_to_the_thread_that_uses_it),
      TEST(test_teardown_starts_and_spawns_nothing),
      TEST(test_ending_actor_joins_its_loopless_children),
      TEST(test_two_joiners_join_once),
      TEST(test_join_while_threads_call_the_handle),
      TEST(test_timed_out_join_from_an_actor_leaves_the_actor_joinable),
      TEST(test_timed_join_is_never_early),
      TEST(test_ending_actors_waits_are_cancelled_at_any_timeout),
      TEST(test_huge_timeout_waits),
      TEST(test_fail_text_of_continuation_bytes),
  };

  return suite_of_rows("actor_regress", rows, sizeof(rows) / sizeof(rows[0]));
}
