/* channel/broadcast.c: BroadcastChannel members on actors' loops, bounded members and backpressure, receive
 * without a loop, ref/unref, and what a closing member still gets. test_broadcast_basics.c has the first
 * broadcast tests (reach, copies, names, churn); this suite has the rest, one test per rule of
 * include/uvactor/port.h.
 *
 * As in test_port.c: a fresh loop per test, closed at the end (uv_loop_close() == 0), threads ordered by
 * messages and the channel's own wait counters, never by sleeps. Group names are unique per test, so a
 * member one test leaves behind cannot change what another sees. Nothing here touches libuv's threadpool
 * (Check forks per test: libuv#4443). */
#include <check.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "port_fixture.h"
#include "run_until.h"

/* ---- messages ------------------------------------------------------------------------------------ */

/* A message whose body is one unsigned integer. */
static uva_msg_t *value_msg(uint64_t value) {
  uva_msg_t *msg;

  REQUIRE(uva_msg_new(&msg) == 0);
  REQUIRE(msgpack_pack_uint64(uva_msg_packer(msg), value) == 0);
  return msg;
}

static uint64_t msg_value(uva_msg_t *msg) {
  msgpack_object obj;

  REQUIRE(uva_msg_object(msg, &obj) == 0);
  REQUIRE(obj.type == MSGPACK_OBJECT_POSITIVE_INTEGER);
  return obj.via.u64;
}

/* Posts value through bc; the post must succeed. */
static void post_value(uva_broadcast_t *bc, uint64_t value) {
  uva_msg_t *msg = value_msg(value);
  int err = uva_broadcast_post(bc, msg);

  if (err != 0)
    ck_abort_msg("uva_broadcast_post(%llu): %s", (unsigned long long)value, uva_err_name(err));
}

/* Takes bc's oldest queued message and returns its value; the receive must succeed. */
static uint64_t receive_value(uva_broadcast_t *bc) {
  uva_msg_t *msg;
  uint64_t value;
  int err = uva_broadcast_receive(bc, &msg);

  if (err != 0)
    ck_abort_msg("uva_broadcast_receive: %s", uva_err_name(err));
  value = msg_value(msg);
  uva_msg_free(msg);
  return value;
}

/* White-box: how many members bc's group has, read from the ring bc's end is linked into (the group's own
 * list head is one link of it). Only while no other thread joins or leaves. */
static unsigned int group_size(const uva_broadcast_t *bc) {
  const uva__link_t *start = &bc->end_->member;
  const uva__link_t *link = start;
  unsigned int links = 0;

  do {
    links++;
    link = link->next;
  } while (link != start);
  return links - 1;
}

/* ---- a started member that counts what it gets -------------------------------------------------- */

typedef struct {
  uva_broadcast_t bc;
  uint64_t received;
  uint64_t last;        /* the last value received */
  uint64_t close_after; /* close from the message callback after this many (0: never) */
  int closed;           /* close callbacks run */
} member_t;

static void on_member_message(uva_broadcast_t *bc, uva_msg_t *msg) {
  member_t *m = bc->data;

  m->last = msg_value(msg);
  m->received++;
  uva_msg_free(msg);
  if (m->received == m->close_after)
    REQUIRE(uva_broadcast_close(bc) == 0);
}

static void on_member_close(uva_broadcast_t *bc) {
  member_t *m = bc->data;
  m->closed++;
}

static void member_start(member_t *m, uv_loop_t *loop) {
  m->bc.data = m;
  ck_assert_int_eq(uva_broadcast_start(&m->bc, loop, on_member_message, on_member_close), 0);
}

/* ---- 1. a member started on an actor's loop leaves its group when the actor ends ------------------ */

/* The actor's member: initialized by the test (so the test knows the group has it), started by the actor. */
typedef struct {
  uva_broadcast_t bc;
  int how;           /* END_BY_EXIT or END_BY_TERMINATE */
  atomic_int closed; /* close callbacks run, on the actor's thread */
  atomic_int start_err;
} actor_member_t;

enum { END_BY_EXIT, END_BY_TERMINATE };

static void on_actor_member_message(uva_broadcast_t *bc, uva_msg_t *msg) {
  (void)bc;
  uva_msg_free(msg);
}

static void on_actor_member_close(uva_broadcast_t *bc) {
  actor_member_t *am = bc->data;
  atomic_fetch_add(&am->closed, 1);
}

static int member_actor(uva_self_t *self) {
  actor_member_t *am = uva_self_arg(self);
  int err;

  am->bc.data = am;
  err = uva_broadcast_start(&am->bc, uva_self_loop(self), on_actor_member_message, on_actor_member_close);
  atomic_store(&am->start_err, err);
  if (am->how == END_BY_EXIT)
    return uva_self_exit(self, 0);
  /* Tell the parent the member is started; then the started member keeps the loop alive until terminate. */
  return uva_port_post(uva_self_port(self), value_msg(1));
}

typedef struct {
  int heard;  /* messages from the actor */
  int exited; /* exit callbacks run */
} parent_t;

static void on_parent_message(uva_actor_t *actor, uva_msg_t *msg) {
  parent_t *p = actor->data;

  p->heard++;
  uva_msg_free(msg);
}

static void on_parent_exit(uva_actor_t *actor, int code) {
  parent_t *p = actor->data;

  (void)code;
  p->exited++;
}

/* The test's member posts, after the actor ended, to a group that had the actor's member: the post must
 * reach only the live member (valgrind and ASan: it used to lock the mutex of the actor member's freed end),
 * the group must have shrunk to the two live members, and the actor's member must have had its close. */
static void check_member_leaves_with_actor(int how) {
  uva_actor_options_t options;
  parent_t parent = {0, 0};
  actor_member_t *am = calloc(1, sizeof(*am));
  uva_broadcast_t poster, listener;
  uva_actor_t actor;
  uva_msg_t *msg;

  ck_assert_ptr_nonnull(am);
  am->how = how;
  ck_assert_int_eq(uva_broadcast_init(&poster, "test.bcast.actor"), 0);
  ck_assert_int_eq(uva_broadcast_init(&listener, "test.bcast.actor"), 0);
  ck_assert_int_eq(uva_broadcast_init(&am->bc, "test.bcast.actor"), 0);
  ck_assert_uint_eq(group_size(&poster), 3);
  memset(&options, 0, sizeof(options));
  options.arg = am;
  options.message_cb = on_parent_message;
  options.exit_cb = on_parent_exit;
  actor.data = &parent;
  ck_assert_int_eq(uva_actor_spawn(&actor, test_loop, member_actor, &options), 0);
  if (how == END_BY_TERMINATE) {
    ck_assert(run_until(test_loop, &parent.heard, 1));
    ck_assert_int_eq(uva_actor_terminate(&actor), 0);
  }
  ck_assert(run_until(test_loop, &parent.exited, 1));
  ck_assert_int_eq(atomic_load(&am->start_err), 0);
  ck_assert_int_eq(atomic_load(&am->closed), 1);
  ck_assert_uint_eq(group_size(&poster), 2);
  post_value(&poster, 7);
  ck_assert_uint_eq(receive_value(&listener), 7);
  ck_assert_int_eq(uva_broadcast_receive(&listener, &msg), UV_EAGAIN);
  /* The actor's member is closed: its handle refuses, its memory is the caller's. */
  ck_assert_int_eq(uva_broadcast_close(&am->bc), UV_EBADF);
  msg = value_msg(0);
  ck_assert_int_eq(uva_broadcast_post(&am->bc, msg), UV_EBADF);
  uva_msg_free(msg);
  free(am);
  ck_assert_int_eq(uva_broadcast_close(&poster), 0);
  ck_assert_int_eq(uva_broadcast_close(&listener), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
}

START_TEST(test_member_leaves_group_when_actor_exits) {
  check_member_leaves_with_actor(END_BY_EXIT);
}
END_TEST

START_TEST(test_member_leaves_group_when_actor_is_terminated) {
  check_member_leaves_with_actor(END_BY_TERMINATE);
}
END_TEST

/* ---- 13. bounded members and backpressure ------------------------------------------------------ */

/* Values of these sizes in msgpack: 1 byte (0..127), 3 bytes (uint16), 5 bytes (uint32). */
#define ONE_BYTE 1
#define THREE_BYTES 1000
#define FIVE_BYTES 100000

START_TEST(test_full_member_refuses_the_whole_post) {
  uva_broadcast_t poster, free_one, full_one;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_broadcast_init(&poster, "test.bcast.full"), 0);
  ck_assert_int_eq(uva_broadcast_init(&free_one, "test.bcast.full"), 0);
  ck_assert_int_eq(uva_broadcast_init(&full_one, "test.bcast.full"), 0);
  ck_assert_int_eq(uva_broadcast_set_limits(&full_one, 1, 0), 0);
  post_value(&poster, 1);
  msg = value_msg(2);
  ck_assert_int_eq(uva_broadcast_post(&poster, msg), UV_EAGAIN);
  /* Refused to the poster, unchanged; no member got it, not even the one with room. */
  ck_assert_uint_eq(msg_value(msg), 2);
  ck_assert_uint_eq(receive_value(&free_one), 1);
  ck_assert_int_eq(uva_broadcast_receive(&free_one, &(uva_msg_t *){NULL}), UV_EAGAIN);
  ck_assert_uint_eq(receive_value(&full_one), 1);
  /* Room again: the same message goes to both. */
  ck_assert_int_eq(uva_broadcast_post(&poster, msg), 0);
  ck_assert_uint_eq(receive_value(&free_one), 2);
  ck_assert_uint_eq(receive_value(&full_one), 2);
  /* Lifting the bound lets everything through. */
  ck_assert_int_eq(uva_broadcast_set_limits(&full_one, 0, 0), 0);
  post_value(&poster, 3);
  post_value(&poster, 4);
  ck_assert_uint_eq(receive_value(&full_one), 3);
  ck_assert_uint_eq(receive_value(&full_one), 4);
  ck_assert_uint_eq(receive_value(&free_one), 3);
  ck_assert_uint_eq(receive_value(&free_one), 4);
  ck_assert_int_eq(uva_broadcast_close(&poster), 0);
  ck_assert_int_eq(uva_broadcast_close(&free_one), 0);
  ck_assert_int_eq(uva_broadcast_close(&full_one), 0);
}
END_TEST

START_TEST(test_member_byte_bound) {
  uva_broadcast_t poster, small, other;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_broadcast_init(&poster, "test.bcast.bytes"), 0);
  ck_assert_int_eq(uva_broadcast_init(&small, "test.bcast.bytes"), 0);
  ck_assert_int_eq(uva_broadcast_init(&other, "test.bcast.bytes"), 0);
  ck_assert_int_eq(uva_broadcast_set_limits(&small, 0, 4), 0);
  /* Over the bound all by itself: UV_E2BIG, for a retry would never fit; nobody gets it. */
  msg = value_msg(FIVE_BYTES);
  ck_assert_int_eq(uva_broadcast_post(&poster, msg), UV_E2BIG);
  ck_assert_int_eq(uva_broadcast_post_wait(&poster, msg, UVA_WAIT_FOREVER), UV_E2BIG);
  uva_msg_free(msg);
  /* 3 bytes fit, another 3 do not until the first is taken. */
  post_value(&poster, THREE_BYTES);
  msg = value_msg(THREE_BYTES + 1);
  ck_assert_int_eq(uva_broadcast_post(&poster, msg), UV_EAGAIN);
  ck_assert_uint_eq(receive_value(&small), THREE_BYTES);
  ck_assert_int_eq(uva_broadcast_post(&poster, msg), 0);
  ck_assert_uint_eq(receive_value(&small), THREE_BYTES + 1);
  ck_assert_uint_eq(receive_value(&other), THREE_BYTES);
  ck_assert_uint_eq(receive_value(&other), THREE_BYTES + 1);
  ck_assert_int_eq(uva_broadcast_close(&poster), 0);
  ck_assert_int_eq(uva_broadcast_close(&small), 0);
  ck_assert_int_eq(uva_broadcast_close(&other), 0);
}
END_TEST

/* A started poster that retries from its writable callback. */
typedef struct {
  uva_broadcast_t bc;
  uva_msg_t *held; /* the refused message, kept for the retry */
  int writable;    /* writable callbacks run */
  int retry_err;   /* what the retry returned */
} pump_t;

static void on_pump_message(uva_broadcast_t *bc, uva_msg_t *msg) {
  (void)bc;
  uva_msg_free(msg);
}

static void on_pump_writable(uva_broadcast_t *bc) {
  pump_t *p = bc->data;

  p->writable++;
  p->retry_err = uva_broadcast_post(bc, p->held);
  if (p->retry_err == 0)
    p->held = NULL;
}

static void pump_start(pump_t *p, uv_loop_t *loop, const char *group) {
  memset(p, 0, sizeof(*p));
  ck_assert_int_eq(uva_broadcast_init(&p->bc, group), 0);
  p->bc.data = p;
  ck_assert_int_eq(uva_broadcast_start(&p->bc, loop, on_pump_message, NULL), 0);
}

/* Room again means room: the callback waits until every full member can take the refused post, and the
 * retry from it succeeds when nobody else posted meanwhile. */
START_TEST(test_on_writable_waits_for_room_in_every_member) {
  uva_broadcast_t full1, full2;
  pump_t p;

  pump_start(&p, test_loop, "test.bcast.writable");
  ck_assert_int_eq(uva_broadcast_init(&full1, "test.bcast.writable"), 0);
  ck_assert_int_eq(uva_broadcast_init(&full2, "test.bcast.writable"), 0);
  ck_assert_int_eq(uva_broadcast_set_limits(&full1, 1, 0), 0);
  ck_assert_int_eq(uva_broadcast_set_limits(&full2, 0, 4), 0);
  post_value(&p.bc, THREE_BYTES);
  p.held = value_msg(THREE_BYTES + 1);
  ck_assert_int_eq(uva_broadcast_post(&p.bc, p.held), UV_EAGAIN);
  ck_assert_int_eq(uva_broadcast_on_writable(&p.bc, on_pump_writable), 0);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(p.writable, 0);
  /* full1 has room, full2 not yet (its 3 bytes + 3 would be over 4): still no callback. */
  ck_assert_uint_eq(receive_value(&full1), THREE_BYTES);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(p.writable, 0);
  ck_assert_uint_eq(receive_value(&full2), THREE_BYTES);
  ck_assert(run_until(test_loop, &p.writable, 1));
  ck_assert_int_eq(p.retry_err, 0);
  ck_assert_uint_eq(receive_value(&full1), THREE_BYTES + 1);
  ck_assert_uint_eq(receive_value(&full2), THREE_BYTES + 1);
  /* Asked with room already: on the next turn, never inside the call; once per call. */
  p.held = value_msg(3);
  ck_assert_int_eq(uva_broadcast_on_writable(&p.bc, on_pump_writable), 0);
  ck_assert_int_eq(p.writable, 1);
  ck_assert(run_until(test_loop, &p.writable, 2));
  ck_assert_int_eq(p.retry_err, 0);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(p.writable, 2);
  ck_assert_int_eq(uva_broadcast_close(&full1), 0);
  ck_assert_int_eq(uva_broadcast_close(&full2), 0);
  ck_assert_int_eq(uva_broadcast_close(&p.bc), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
}
END_TEST

/* A full member that leaves is room too. */
START_TEST(test_on_writable_when_full_member_leaves) {
  uva_broadcast_t full;
  pump_t p;

  pump_start(&p, test_loop, "test.bcast.leave");
  ck_assert_int_eq(uva_broadcast_init(&full, "test.bcast.leave"), 0);
  ck_assert_int_eq(uva_broadcast_set_limits(&full, 1, 0), 0);
  post_value(&p.bc, 1);
  p.held = value_msg(2);
  ck_assert_int_eq(uva_broadcast_post(&p.bc, p.held), UV_EAGAIN);
  ck_assert_int_eq(uva_broadcast_on_writable(&p.bc, on_pump_writable), 0);
  ck_assert_int_eq(uva_broadcast_close(&full), 0);
  ck_assert(run_until(test_loop, &p.writable, 1));
  ck_assert_int_eq(p.retry_err, 0); /* consumed: reaches nobody */
  ck_assert_int_eq(uva_broadcast_close(&p.bc), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
}
END_TEST

/* White-box: waits until a poster watches full for room (it is about to block, or blocked, in post_wait). */
static void wait_until_watched(const uva_broadcast_t *full) {
  uva__end_t *end = full->end_;
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;
  unsigned int watched;

  for (;;) {
    uv_mutex_lock(&end->lock);
    watched = end->notify_room;
    uv_mutex_unlock(&end->lock);
    if (watched)
      return;
    REQUIRE(uv_hrtime() < deadline);
    uv_sleep(1);
  }
}

typedef struct {
  uva_broadcast_t *bc;
  uva_msg_t *msg;
  int64_t timeout_ms;
  int err;
} post_wait_t;

static void post_wait_thread(void *arg) {
  post_wait_t *pw = arg;

  pw->err = uva_broadcast_post_wait(pw->bc, pw->msg, pw->timeout_ms);
  if (pw->err == 0)
    pw->msg = NULL;
}

START_TEST(test_post_wait_blocks_until_room) {
  uva_broadcast_t poster, full;
  post_wait_t pw;
  uv_thread_t thread;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_broadcast_init(&poster, "test.bcast.wait"), 0);
  ck_assert_int_eq(uva_broadcast_init(&full, "test.bcast.wait"), 0);
  ck_assert_int_eq(uva_broadcast_set_limits(&full, 1, 0), 0);
  post_value(&poster, 1);
  msg = value_msg(2);
  ck_assert_int_eq(uva_broadcast_post_wait(&poster, msg, 0), UV_ETIMEDOUT);
  ck_assert_int_eq(uva_broadcast_post_wait(&poster, msg, 1), UV_ETIMEDOUT);
  pw = (post_wait_t){&poster, msg, UVA_WAIT_FOREVER, -1};
  ck_assert_int_eq(uv_thread_create(&thread, post_wait_thread, &pw), 0);
  wait_until_watched(&full);
  ck_assert_uint_eq(receive_value(&full), 1);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  ck_assert_int_eq(pw.err, 0);
  ck_assert_uint_eq(receive_value(&full), 2);
  ck_assert_int_eq(uva_broadcast_close(&poster), 0);
  ck_assert_int_eq(uva_broadcast_close(&full), 0);
}
END_TEST

/* A close from another thread wakes a post waiting through the member, which fails with UV_EBADF; the
 * close does not wait for room. */
START_TEST(test_close_wakes_post_wait) {
  uva_broadcast_t poster, full;
  post_wait_t pw;
  uv_thread_t thread;

  ck_assert_int_eq(uva_broadcast_init(&poster, "test.bcast.wake"), 0);
  ck_assert_int_eq(uva_broadcast_init(&full, "test.bcast.wake"), 0);
  ck_assert_int_eq(uva_broadcast_set_limits(&full, 1, 0), 0);
  post_value(&poster, 1);
  pw = (post_wait_t){&poster, value_msg(2), UVA_WAIT_FOREVER, -1};
  ck_assert_int_eq(uv_thread_create(&thread, post_wait_thread, &pw), 0);
  wait_until_watched(&full);
  ck_assert_int_eq(uva_broadcast_close(&poster), 0);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  ck_assert_int_eq(pw.err, UV_EBADF);
  ck_assert_uint_eq(msg_value(pw.msg), 2); /* still the caller's */
  uva_msg_free(pw.msg);
  ck_assert_uint_eq(receive_value(&full), 1);
  ck_assert_int_eq(uva_broadcast_receive(&full, &(uva_msg_t *){NULL}), UV_EAGAIN);
  ck_assert_int_eq(uva_broadcast_close(&full), 0);
}
END_TEST

/* The same when the member is started on an actor's loop and the actor is terminated: teardown closes it,
 * which wakes the poster, and the actor ends. */
static int started_member_actor(uva_self_t *self) {
  actor_member_t *am = uva_self_arg(self);

  am->bc.data = am;
  atomic_store(&am->start_err, uva_broadcast_start(&am->bc, uva_self_loop(self), on_actor_member_message,
                                                   on_actor_member_close));
  return uva_port_post(uva_self_port(self), value_msg(1));
}

START_TEST(test_actor_end_wakes_post_wait) {
  uva_actor_options_t options;
  parent_t parent = {0, 0};
  actor_member_t *am = calloc(1, sizeof(*am));
  uva_broadcast_t full;
  uva_actor_t actor;
  post_wait_t pw;
  uv_thread_t thread;

  ck_assert_ptr_nonnull(am);
  ck_assert_int_eq(uva_broadcast_init(&am->bc, "test.bcast.actorwake"), 0);
  ck_assert_int_eq(uva_broadcast_init(&full, "test.bcast.actorwake"), 0);
  ck_assert_int_eq(uva_broadcast_set_limits(&full, 1, 0), 0);
  post_value(&am->bc, 1);
  memset(&options, 0, sizeof(options));
  options.arg = am;
  options.message_cb = on_parent_message;
  options.exit_cb = on_parent_exit;
  actor.data = &parent;
  ck_assert_int_eq(uva_actor_spawn(&actor, test_loop, started_member_actor, &options), 0);
  ck_assert(run_until(test_loop, &parent.heard, 1));
  ck_assert_int_eq(atomic_load(&am->start_err), 0);
  /* Posts through a started member come from any thread. */
  pw = (post_wait_t){&am->bc, value_msg(2), UVA_WAIT_FOREVER, -1};
  ck_assert_int_eq(uv_thread_create(&thread, post_wait_thread, &pw), 0);
  wait_until_watched(&full);
  ck_assert_int_eq(uva_actor_terminate(&actor), 0);
  ck_assert(run_until(test_loop, &parent.exited, 1));
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  ck_assert_int_eq(pw.err, UV_EBADF);
  uva_msg_free(pw.msg);
  ck_assert_int_eq(atomic_load(&am->closed), 1);
  free(am);
  ck_assert_uint_eq(group_size(&full), 1);
  ck_assert_uint_eq(receive_value(&full), 1);
  ck_assert_int_eq(uva_broadcast_close(&full), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
}
END_TEST

/* ---- stress: a slow bounded member and several posters ------------------------------------------- */

#define POSTERS 3             /* loop-less posters, ids 0 .. POSTERS-1 */
#define PUMPER POSTERS        /* the id of the poster with a loop */
#define SOURCES (POSTERS + 1) /* everyone who posts */
#define POSTS 600             /* per poster */
#define STOP_VALUE UINT64_MAX

/* A message's value: poster in the high bits, its sequence number in the low ones. */
#define TAG(poster, seq) (((uint64_t)(poster) << 32) | (uint64_t)(seq))

/* What a member heard: every value in order, checked as it comes. */
typedef struct {
  uint64_t *values;
  size_t count;
  uint64_t bad; /* values out of order per poster, twice, or never posted */
  uint32_t next[SOURCES];
} heard_t;

static void heard_init(heard_t *h) {
  memset(h, 0, sizeof(*h));
  h->values = malloc(sizeof(*h->values) * SOURCES * POSTS);
  REQUIRE(h->values != NULL);
}

/* Per poster, sequence numbers only go up (FIFO; a refused post leaves a gap). */
static void heard_take(heard_t *h, uint64_t value) {
  uint64_t poster = value >> 32;
  uint32_t seq = (uint32_t)value;

  if (poster >= SOURCES || seq >= POSTS || seq < h->next[poster] || h->count == SOURCES * POSTS) {
    h->bad++;
    return;
  }
  h->next[poster] = seq + 1;
  h->values[h->count++] = value;
}

/* A loop-less poster, with a member of its own that it never starts. Odd sequence numbers are posted once
 * (a refusal is final), even ones waited for. */
typedef struct {
  uva_broadcast_t bc;
  int id;
  unsigned char accepted[POSTS];
  uv_thread_t thread;
} poster_t;

static void poster_main(void *arg) {
  poster_t *p = arg;
  uva_msg_t *msg;
  uint32_t seq;
  int err;

  for (seq = 0; seq < POSTS; seq++) {
    msg = value_msg(TAG(p->id, seq));
    err = seq % 2 ? uva_broadcast_post(&p->bc, msg) : uva_broadcast_post_wait(&p->bc, msg, HANG_GUARD_MS);
    REQUIRE(err == 0 || (seq % 2 && err == UV_EAGAIN));
    if (err == 0)
      p->accepted[seq] = 1;
    else
      uva_msg_free(msg);
  }
}

/* A member on a loop that posts every one of its messages: on UV_EAGAIN it keeps the message and retries
 * from its writable callback (another poster may take the room first: then it asks again). It hears the
 * others on its loop until the stop. */
typedef struct {
  uva_broadcast_t bc;
  uv_thread_t thread;
  uv_loop_t loop;
  uint32_t next_seq;
  uva_msg_t *held;
  heard_t heard;
  uv_sem_t posted_all;
} pumper_t;

static void pump(pumper_t *p);

static void on_pumper_writable(uva_broadcast_t *bc) {
  pump(bc->data);
}

static void pump(pumper_t *p) {
  int err;

  while (p->next_seq < POSTS) {
    if (p->held == NULL)
      p->held = value_msg(TAG(PUMPER, p->next_seq));
    err = uva_broadcast_post(&p->bc, p->held);
    if (err == UV_EAGAIN) {
      REQUIRE(uva_broadcast_on_writable(&p->bc, on_pumper_writable) == 0);
      return;
    }
    REQUIRE(err == 0);
    p->held = NULL;
    p->next_seq++;
  }
  uv_sem_post(&p->posted_all);
}

static void on_pumper_message(uva_broadcast_t *bc, uva_msg_t *msg) {
  pumper_t *p = bc->data;
  uint64_t value = msg_value(msg);

  uva_msg_free(msg);
  if (value == STOP_VALUE)
    REQUIRE(uva_broadcast_close(bc) == 0);
  else
    heard_take(&p->heard, value);
}

static void pumper_main(void *arg) {
  pumper_t *p = arg;

  REQUIRE(uv_loop_init(&p->loop) == 0);
  p->bc.data = p;
  REQUIRE(uva_broadcast_start(&p->bc, &p->loop, on_pumper_message, NULL) == 0);
  pump(p);
  uv_run(&p->loop, UV_RUN_DEFAULT);
  REQUIRE(uv_loop_close(&p->loop) == 0);
}

/* The slow member: bounded, started on a loop thread of its own. */
typedef struct {
  uva_broadcast_t bc;
  uv_thread_t thread;
  uv_loop_t loop;
  size_t bound;
  size_t over_bound; /* times it saw more pending than its bound */
  heard_t heard;
} slow_t;

static void on_slow_message(uva_broadcast_t *bc, uva_msg_t *msg) {
  slow_t *slow = bc->data;
  uva__end_t *end = bc->end_;
  uint64_t value = msg_value(msg);
  size_t pending;

  uva_msg_free(msg);
  /* White-box: the queue never holds more than the bound (this message counts until it returns). */
  uv_mutex_lock(&end->lock);
  pending = end->pending;
  uv_mutex_unlock(&end->lock);
  if (pending > slow->bound)
    slow->over_bound++;
  if (value == STOP_VALUE)
    REQUIRE(uva_broadcast_close(bc) == 0);
  else
    heard_take(&slow->heard, value);
}

static void slow_main(void *arg) {
  slow_t *slow = arg;

  REQUIRE(uv_loop_init(&slow->loop) == 0);
  slow->bc.data = slow;
  REQUIRE(uva_broadcast_start(&slow->bc, &slow->loop, on_slow_message, NULL) == 0);
  uv_run(&slow->loop, UV_RUN_DEFAULT);
  REQUIRE(uv_loop_close(&slow->loop) == 0);
}

/* Takes everything queued to a member that runs no loop. */
static void drain(uva_broadcast_t *bc, heard_t *h) {
  uva_msg_t *msg;
  uint64_t value;

  while (uva_broadcast_receive(bc, &msg) == 0) {
    value = msg_value(msg);
    uva_msg_free(msg);
    if (value != STOP_VALUE)
      heard_take(h, value);
  }
}

/* Checks that h heard exactly what the reference order holds, minus what poster `self` posted. */
static void check_heard_all_but(const heard_t *h, const heard_t *reference, int self) {
  size_t i;
  size_t k = 0;

  ck_assert_uint_eq(h->bad, 0);
  for (i = 0; i < reference->count; i++)
    if ((int)(reference->values[i] >> 32) != self) {
      ck_assert_uint_lt(k, h->count);
      ck_assert_uint_eq(h->values[k], reference->values[i]);
      k++;
    }
  ck_assert_uint_eq(h->count, k);
}

typedef struct {
  poster_t posters[POSTERS];
  pumper_t pumper;
  slow_t slow;
  uva_broadcast_t loose; /* unbounded, read at the end without a loop */
  heard_t loose_heard;
  uva_broadcast_t stopper;
} stress_t;

static void run_stress(const char *group, size_t bound) {
  stress_t *st = calloc(1, sizeof(*st));
  heard_t heard;
  size_t accepted = POSTS; /* the pumper's, all of them */
  uint64_t value;
  size_t i;
  int j;

  ck_assert_ptr_nonnull(st);
  heard_init(&st->slow.heard);
  heard_init(&st->loose_heard);
  heard_init(&st->pumper.heard);
  st->slow.bound = bound;
  ck_assert_int_eq(uva_broadcast_init(&st->slow.bc, group), 0);
  ck_assert_int_eq(uva_broadcast_set_limits(&st->slow.bc, bound, 0), 0);
  ck_assert_int_eq(uva_broadcast_init(&st->loose, group), 0);
  ck_assert_int_eq(uva_broadcast_init(&st->stopper, group), 0);
  ck_assert_int_eq(uva_broadcast_init(&st->pumper.bc, group), 0);
  ck_assert_int_eq(uv_sem_init(&st->pumper.posted_all, 0), 0);
  for (j = 0; j < POSTERS; j++) {
    st->posters[j].id = j;
    ck_assert_int_eq(uva_broadcast_init(&st->posters[j].bc, group), 0);
  }
  ck_assert_int_eq(uv_thread_create(&st->slow.thread, slow_main, &st->slow), 0);
  ck_assert_int_eq(uv_thread_create(&st->pumper.thread, pumper_main, &st->pumper), 0);
  for (j = 0; j < POSTERS; j++)
    ck_assert_int_eq(uv_thread_create(&st->posters[j].thread, poster_main, &st->posters[j]), 0);
  for (j = 0; j < POSTERS; j++)
    ck_assert_int_eq(uv_thread_join(&st->posters[j].thread), 0);
  uv_sem_wait(&st->pumper.posted_all);
  /* Last in every queue: the members on loops close when they get it. */
  ck_assert_int_eq(uva_broadcast_post_wait(&st->stopper, value_msg(STOP_VALUE), HANG_GUARD_MS), 0);
  ck_assert_int_eq(uv_thread_join(&st->slow.thread), 0);
  ck_assert_int_eq(uv_thread_join(&st->pumper.thread), 0);
  uv_sem_destroy(&st->pumper.posted_all);
  drain(&st->loose, &st->loose_heard);

  /* Every post accepted reached every other member, and nothing else did. Posts to a group are serialized,
   * so all members heard them in one order: the slow member's is the reference. It never held more than
   * its bound. */
  for (j = 0; j < POSTERS; j++)
    for (i = 0; i < POSTS; i++)
      accepted += st->posters[j].accepted[i];
  ck_assert_uint_eq(st->slow.heard.bad, 0);
  ck_assert_uint_eq(st->slow.heard.count, accepted);
  for (i = 0; i < accepted; i++) {
    value = st->slow.heard.values[i];
    ck_assert((value >> 32) == PUMPER || st->posters[value >> 32].accepted[(uint32_t)value]);
  }
  ck_assert_uint_eq(st->slow.over_bound, 0);
  check_heard_all_but(&st->loose_heard, &st->slow.heard, -1);
  check_heard_all_but(&st->pumper.heard, &st->slow.heard, PUMPER);
  for (j = 0; j < POSTERS; j++) {
    heard_init(&heard);
    drain(&st->posters[j].bc, &heard);
    check_heard_all_but(&heard, &st->slow.heard, j);
    free(heard.values);
    ck_assert_int_eq(uva_broadcast_close(&st->posters[j].bc), 0);
  }
  ck_assert_int_eq(uva_broadcast_close(&st->loose), 0);
  ck_assert_int_eq(uva_broadcast_close(&st->stopper), 0);
  free(st->slow.heard.values);
  free(st->loose_heard.values);
  free(st->pumper.heard.values);
  free(st);
}

START_TEST(test_slow_member_bound_1) {
  run_stress("test.bcast.stress1", 1);
}
END_TEST

START_TEST(test_slow_member_bound_7) {
  run_stress("test.bcast.stress7", 7);
}
END_TEST

/* ---- 18. receive without a loop, ref and unref --------------------------------------------------- */

typedef struct {
  uva_broadcast_t *bc;
  int64_t timeout_ms;
  int err;
  uint64_t value;
} receive_wait_t;

static void receive_wait_thread(void *arg) {
  receive_wait_t *rw = arg;
  uva_msg_t *msg;

  rw->err = uva_broadcast_receive_wait(rw->bc, &msg, rw->timeout_ms);
  if (rw->err == 0) {
    rw->value = msg_value(msg);
    uva_msg_free(msg);
  }
}

START_TEST(test_receive_on_member_never_started) {
  uva_broadcast_t poster, reader;
  receive_wait_t rw;
  uv_thread_t thread;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_broadcast_init(&poster, "test.bcast.receive"), 0);
  ck_assert_int_eq(uva_broadcast_init(&reader, "test.bcast.receive"), 0);
  ck_assert_int_eq(uva_broadcast_receive(&reader, &msg), UV_EAGAIN);
  ck_assert_int_eq(uva_broadcast_receive_wait(&reader, &msg, 0), UV_ETIMEDOUT);
  ck_assert_int_eq(uva_broadcast_receive_wait(&reader, &msg, 1), UV_ETIMEDOUT);
  post_value(&poster, 1);
  post_value(&poster, 2);
  ck_assert_uint_eq(receive_value(&reader), 1);
  ck_assert_int_eq(uva_broadcast_receive_wait(&reader, &msg, 0), 0);
  ck_assert_uint_eq(msg_value(msg), 2);
  uva_msg_free(msg);
  /* A post from another thread wakes a waiting receive. */
  rw = (receive_wait_t){&reader, UVA_WAIT_FOREVER, -1, 0};
  ck_assert_int_eq(uv_thread_create(&thread, receive_wait_thread, &rw), 0);
  wait_until_end_blocked(reader.end_, 0);
  post_value(&poster, 3);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  ck_assert_int_eq(rw.err, 0);
  ck_assert_uint_eq(rw.value, 3);
  ck_assert_int_eq(uva_broadcast_close(&poster), 0);
  ck_assert_int_eq(uva_broadcast_close(&reader), 0);
}
END_TEST

/* On a started member's own thread, receive takes the message, which message_cb then never gets; a wait
 * there is refused. */
START_TEST(test_receive_on_started_member) {
  uva_broadcast_t poster;
  member_t m = {0};
  uva_msg_t *msg;

  ck_assert_int_eq(uva_broadcast_init(&poster, "test.bcast.startedrecv"), 0);
  ck_assert_int_eq(uva_broadcast_init(&m.bc, "test.bcast.startedrecv"), 0);
  member_start(&m, test_loop);
  post_value(&poster, 1);
  post_value(&poster, 2);
  ck_assert_uint_eq(receive_value(&m.bc), 1);
  ck_assert_int_eq(uva_broadcast_receive_wait(&m.bc, &msg, 0), UV_EBUSY);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(m.received, 1);
  ck_assert_uint_eq(m.last, 2);
  ck_assert_int_eq(uva_broadcast_receive(&m.bc, &msg), UV_EAGAIN);
  /* Closing and drained: nothing more will come. */
  ck_assert_int_eq(uva_broadcast_close(&m.bc), 0);
  ck_assert_int_eq(uva_broadcast_receive(&m.bc, &msg), UV_EPIPE);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(m.closed, 1);
  ck_assert_int_eq(uva_broadcast_receive(&m.bc, &msg), UV_EBADF);
  ck_assert_int_eq(uva_broadcast_close(&poster), 0);
}
END_TEST

START_TEST(test_ref_unref) {
  uva_broadcast_t poster;
  member_t m = {0};

  ck_assert_int_eq(uva_broadcast_init(&poster, "test.bcast.ref"), 0);
  ck_assert_int_eq(uva_broadcast_init(&m.bc, "test.bcast.ref"), 0);
  ck_assert_int_eq(uva_broadcast_has_ref(&m.bc), 0); /* not started */
  ck_assert_int_eq(uva_broadcast_ref(&m.bc), UV_EINVAL);
  member_start(&m, test_loop);
  ck_assert_int_eq(uva_broadcast_has_ref(&m.bc), 1);
  ck_assert_int_eq(uva_broadcast_unref(&m.bc), 0);
  ck_assert_int_eq(uva_broadcast_unref(&m.bc), 0);
  ck_assert_int_eq(uva_broadcast_has_ref(&m.bc), 0);
  /* Unref'd: the loop has nothing keeping it and returns at once, even with a message queued. */
  post_value(&poster, 1);
  ck_assert_int_eq(uv_loop_alive(test_loop), 0);
  ck_assert_int_eq(uv_run(test_loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uva_broadcast_ref(&m.bc), 0); /* one ref undoes any number of unrefs */
  ck_assert_int_eq(uva_broadcast_has_ref(&m.bc), 1);
  ck_assert_int_ne(uv_loop_alive(test_loop), 0);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(m.received, 1);
  /* Closing keeps the loop alive until the close callback, even unref'd. */
  ck_assert_int_eq(uva_broadcast_unref(&m.bc), 0);
  ck_assert_int_eq(uva_broadcast_close(&m.bc), 0);
  ck_assert_int_eq(uva_broadcast_has_ref(&m.bc), 1);
  ck_assert_int_eq(uva_broadcast_unref(&m.bc), 0);
  ck_assert_int_eq(uva_broadcast_has_ref(&m.bc), 1);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(m.closed, 1);
  ck_assert_int_eq(uva_broadcast_has_ref(&m.bc), 0);
  ck_assert_int_eq(uva_broadcast_ref(&m.bc), UV_EBADF);
  ck_assert_int_eq(uva_broadcast_close(&poster), 0);
}
END_TEST

/* ---- 19. a started member that closes still gets what was queued to it -------------------------- */

START_TEST(test_closing_member_gets_what_was_queued) {
  uva_broadcast_t poster;
  member_t m = {0};

  ck_assert_int_eq(uva_broadcast_init(&poster, "test.bcast.closing"), 0);
  ck_assert_int_eq(uva_broadcast_init(&m.bc, "test.bcast.closing"), 0);
  m.close_after = 1; /* closes from its first message callback */
  member_start(&m, test_loop);
  post_value(&poster, 1);
  post_value(&poster, 2);
  post_value(&poster, 3);
  ck_assert(run_until(test_loop, &m.closed, 1));
  /* Node drops 2 and 3; uvactor delivers them, before the close callback. */
  ck_assert_uint_eq(m.received, 3);
  ck_assert_uint_eq(m.last, 3);
  /* After the close, posts reach it no more (it left the group). */
  post_value(&poster, 4);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(m.received, 3);
  ck_assert_uint_eq(group_size(&poster), 1);
  ck_assert_int_eq(uva_broadcast_close(&poster), 0);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("teardown", 10, loop_setup, loop_teardown),
      TEST(test_member_leaves_group_when_actor_exits),
      TEST(test_member_leaves_group_when_actor_is_terminated),
      TEST(test_closing_member_gets_what_was_queued),

      TCASE("bounded", 10, loop_setup, loop_teardown),
      TEST(test_full_member_refuses_the_whole_post),
      TEST(test_member_byte_bound),
      TEST(test_on_writable_waits_for_room_in_every_member),
      TEST(test_on_writable_when_full_member_leaves),
      TEST(test_post_wait_blocks_until_room),
      TEST(test_close_wakes_post_wait),
      TEST(test_actor_end_wakes_post_wait),

      TCASE("stress", 60, loop_setup, loop_teardown),
      TEST(test_slow_member_bound_1),
      TEST(test_slow_member_bound_7),

      TCASE("receive", 10, loop_setup, loop_teardown),
      TEST(test_receive_on_member_never_started),
      TEST(test_receive_on_started_member),
      TEST(test_ref_unref),
  };

  return suite_of_rows("broadcast", rows, sizeof(rows) / sizeof(rows[0]));
}
