/* channel/: the BroadcastChannel's basic rules (include/uvactor/port.h): every other member gets a post
 * once, never the sender; what cannot be copied is refused; members join and leave concurrently; names;
 * an unstarted member queues. And both kinds of post validate the body. test_broadcast.c has the rest:
 * members on actors' loops, bounds, receive, ref.
 *
 * Every test runs with its own loop (the fixture's test_loop, or one per thread) and ends with
 * uv_loop_close() == 0: a port that left a handle or a wakeup behind fails the test. Threads, never sleeps,
 * order what happens; where a test must know that another thread is blocked inside a call, it looks at the
 * channel's own wait counters (wait_until_blocked) instead of sleeping and hoping. No test touches libuv's
 * threadpool (Check forks each test: libuv#4443). */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop_thread.h"
#include "port_fixture.h"
#include "port_msgs.h"

/* ---- BroadcastChannel ---------------------------------------------------------------------------- */

#define MEMBERS 4

/* A broadcast member that records who it heard from; each message's value is its sender's id. */
typedef struct {
  uva_broadcast_t bc;
  uint64_t id;
  uint64_t heard; /* bit per sender */
  uint64_t duplicates;
  uint64_t received;
  uint64_t close_after; /* close from the message callback after this many (0: never) */
  uint64_t received_at_close;
  int closed;
} member_t;

static void on_member_message(uva_broadcast_t *bc, uva_msg_t *msg) {
  member_t *m = bc->data;
  uint64_t bit = (uint64_t)1 << msg_value(msg);

  if (m->heard & bit)
    m->duplicates++;
  m->heard |= bit;
  m->received++;
  uva_msg_free(msg);
  if (m->received == m->close_after)
    REQUIRE(uva_broadcast_close(bc) == 0);
}

static void on_member_close(uva_broadcast_t *bc) {
  member_t *m = bc->data;

  m->closed++;
  m->received_at_close = m->received;
}

static void member_start(member_t *m, uv_loop_t *loop) {
  m->bc.data = m;
  REQUIRE(uva_broadcast_start(&m->bc, loop, on_member_message, on_member_close) == 0);
}

static void member_post(member_t *m) {
  REQUIRE(uva_broadcast_post(&m->bc, value_msg(m->id)) == 0);
}

static void member_start_and_post(loop_thread_t *lt) {
  member_start(lt->arg, &lt->loop);
  member_post(lt->arg);
}

START_TEST(test_broadcast_reaches_every_other_member_once) {
  member_t members[MEMBERS];
  loop_thread_t threads[MEMBERS];
  uint64_t all = ((uint64_t)1 << MEMBERS) - 1;
  int i;

  memset(members, 0, sizeof(members));
  /* Everyone joins before anyone posts, so each post has all the others to reach. */
  for (i = 0; i < MEMBERS; i++) {
    ck_assert_int_eq(uva_broadcast_init(&members[i].bc, "test.four"), 0);
    members[i].id = i;
    members[i].close_after = MEMBERS - 1;
  }
  for (i = 0; i < MEMBERS; i++)
    loop_thread_start(&threads[i], member_start_and_post, &members[i]);
  for (i = 0; i < MEMBERS; i++)
    loop_thread_join(&threads[i]);
  for (i = 0; i < MEMBERS; i++) {
    ck_assert_uint_eq(members[i].heard, all & ~((uint64_t)1 << i));
    ck_assert_uint_eq(members[i].duplicates, 0);
    ck_assert_int_eq(members[i].closed, 1);
    ck_assert_uint_eq(members[i].received_at_close, MEMBERS - 1);
  }
}
END_TEST

START_TEST(test_broadcast_never_to_sender) {
  member_t one = {0}, two = {0};

  ck_assert_int_eq(uva_broadcast_init(&one.bc, "test.pair"), 0);
  member_start(&one, test_loop);
  member_post(&one); /* alone: consumed, reaches nobody */
  ck_assert_int_eq(uva_broadcast_init(&two.bc, "test.pair"), 0);
  two.id = 1;
  member_start(&two, test_loop);
  member_post(&one);
  member_post(&two);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(one.received, 1);
  ck_assert_uint_eq(one.heard, 2);
  ck_assert_uint_eq(two.received, 1);
  ck_assert_uint_eq(two.heard, 1);
  ck_assert_int_eq(uva_broadcast_close(&one.bc), 0);
  ck_assert_int_eq(uva_broadcast_close(&two.bc), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(one.closed + two.closed, 2);
}
END_TEST

START_TEST(test_broadcast_refuses_what_cannot_be_copied) {
  uva_broadcast_t bc, other;
  uva_port_t p, q;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_broadcast_init(&bc, "test.refuse"), 0);
  ck_assert_int_eq(uva_broadcast_init(&other, "test.refuse"), 0);
  atomic_store(&buffers_freed, 0);
  msg = buffer_msg();
  ck_assert_int_eq(uva_broadcast_post(&bc, msg), UV_EINVAL);
  uva_msg_free(msg);
  ck_assert_int_eq(atomic_load(&buffers_freed), 1);
  ck_assert_int_eq(uva_channel_init(&p, &q), 0);
  msg = port_msg(&p);
  ck_assert_int_eq(uva_broadcast_post(&bc, msg), UV_EINVAL);
  uva_msg_free(msg); /* closes p: q sees it */
  ck_assert_int_eq(uva_port_receive(&q, &msg), UV_EPIPE);
  ck_assert_int_eq(uva_port_close(&q), 0);
  ck_assert_int_eq(uva_broadcast_post(NULL, msg), UV_EINVAL);
  ck_assert_int_eq(uva_broadcast_post(&bc, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_broadcast_close(&bc), 0);
  ck_assert_int_eq(uva_broadcast_close(&other), 0);
  ck_assert_int_eq(uva_broadcast_close(&bc), UV_EBADF);
}
END_TEST

/* Receivers of a shared buffer: each checks it sees the same memory, then drops its reference. */
typedef struct {
  uva_broadcast_t bc;
  void *expect;
  int seen;
} shared_member_t;

static void on_shared_message(uva_broadcast_t *bc, uva_msg_t *msg) {
  shared_member_t *m = bc->data;
  uva_shared_t *shared;
  msgpack_object obj;

  REQUIRE(uva_msg_object(msg, &obj) == 0);
  REQUIRE(uva_msg_get_shared(msg, &obj, &shared) == 0);
  uva_msg_free(msg); /* the reference taken above keeps the buffer */
  if (uva_shared_data(shared) == m->expect && ((unsigned char *)uva_shared_data(shared))[0] == 0xab)
    m->seen++;
  uva_shared_unref(shared);
  REQUIRE(uva_broadcast_close(bc) == 0);
}

START_TEST(test_broadcast_shared_buffer_reaches_all) {
  shared_member_t members[3];
  uva_shared_t *shared;
  uva_msg_t *msg;
  int i;

  ck_assert_int_eq(uva_shared_new(64, &shared), 0);
  ((unsigned char *)uva_shared_data(shared))[0] = 0xab;
  for (i = 0; i < 3; i++) {
    ck_assert_int_eq(uva_broadcast_init(&members[i].bc, "test.shared"), 0);
    members[i].bc.data = &members[i];
    members[i].expect = uva_shared_data(shared);
    members[i].seen = 0;
  }
  for (i = 1; i < 3; i++)
    ck_assert_int_eq(uva_broadcast_start(&members[i].bc, test_loop, on_shared_message, NULL), 0);
  ck_assert_int_eq(uva_msg_new(&msg), 0);
  ck_assert_int_eq(uva_msg_pack_shared(msg, shared), 0);
  ck_assert_int_eq(uva_broadcast_post(&members[0].bc, msg), 0);
  uva_shared_unref(shared); /* from here only the copies hold it (ASan/valgrind see any misuse or leak) */
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(members[1].seen, 1);
  ck_assert_int_eq(members[2].seen, 1);
  ck_assert_int_eq(uva_broadcast_close(&members[0].bc), 0);
}
END_TEST

#define CHURN_THREADS 4
#define CHURN_ROUNDS 200

/* Joins, posts once and leaves, again and again, while others do the same. */
static void churn_members(void *arg) {
  uva_broadcast_t bc;
  int i;

  (void)arg;
  for (i = 0; i < CHURN_ROUNDS; i++) {
    REQUIRE(uva_broadcast_init(&bc, "test.churn") == 0);
    REQUIRE(uva_broadcast_post(&bc, value_msg(0)) == 0);
    REQUIRE(uva_broadcast_close(&bc) == 0);
  }
}

START_TEST(test_broadcast_join_and_leave_concurrently) {
  member_t stable = {0};
  uv_thread_t threads[CHURN_THREADS];
  int i;

  ck_assert_int_eq(uva_broadcast_init(&stable.bc, "test.churn"), 0);
  stable.close_after = CHURN_THREADS * CHURN_ROUNDS; /* every post, while the others come and go */
  member_start(&stable, test_loop);
  for (i = 0; i < CHURN_THREADS; i++)
    thread_start(&threads[i], churn_members, NULL);
  uv_run(test_loop, UV_RUN_DEFAULT);
  for (i = 0; i < CHURN_THREADS; i++)
    thread_join(&threads[i]);
  ck_assert_int_eq(stable.closed, 1);
  ck_assert_uint_eq(stable.received_at_close, CHURN_THREADS * CHURN_ROUNDS);
}
END_TEST

START_TEST(test_broadcast_name_rules) {
  uva_broadcast_t bc;
  char name[257];

  ck_assert_int_eq(uva_broadcast_init(NULL, "x"), UV_EINVAL);
  ck_assert_int_eq(uva_broadcast_init(&bc, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_broadcast_init(&bc, ""), UV_EINVAL);
  memset(name, 'n', 256);
  name[256] = '\0';
  ck_assert_int_eq(uva_broadcast_init(&bc, name), UV_EINVAL);
  name[255] = '\0';
  ck_assert_int_eq(uva_broadcast_init(&bc, name), 0);
  ck_assert_int_eq(uva_broadcast_close(&bc), 0);
}
END_TEST

START_TEST(test_broadcast_unstarted_member_queues_and_close_drains) {
  member_t one = {0}, two = {0};

  ck_assert_int_eq(uva_broadcast_init(&one.bc, "test.queue"), 0);
  ck_assert_int_eq(uva_broadcast_init(&two.bc, "test.queue"), 0);
  one.id = 0;
  member_post(&one);
  one.id = 1;
  member_post(&one);
  member_start(&two, test_loop);
  ck_assert_int_eq(uva_broadcast_close(&two.bc), 0);
  ck_assert_int_eq(uva_broadcast_close(&two.bc), UV_EALREADY);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_uint_eq(two.received, 2);
  ck_assert_uint_eq(two.heard, 3);
  ck_assert_int_eq(two.closed, 1);
  ck_assert_uint_eq(two.received_at_close, 2);
  ck_assert_int_eq(uva_broadcast_close(&one.bc), 0);
  ck_assert_int_eq(uva_broadcast_post(&one.bc, NULL), UV_EINVAL);
}
END_TEST

/* ---- validation at post -------------------------------------------------------------------------- */

START_TEST(test_post_validates_body) {
  uva_port_t a, b;
  uva_broadcast_t bc;
  uva_msg_t *two, *empty, *got;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_broadcast_init(&bc, "test.validate"), 0);
  atomic_store(&buffers_freed, 0);
  two = buffer_msg();
  ck_assert_int_eq(msgpack_pack_nil(uva_msg_packer(two)), 0); /* a second object */
  ck_assert_int_eq(uva_port_post(&a, two), UVA_ETRAILING);
  ck_assert_int_eq(uva_port_post_wait(&a, two, 10), UVA_ETRAILING);
  ck_assert_int_eq(uva_broadcast_post(&bc, two), UVA_ETRAILING);
  ck_assert_int_eq(uva_msg_new(&empty), 0);
  ck_assert_int_eq(uva_port_post(&a, empty), UVA_ETRUNC);
  ck_assert_int_eq(uva_broadcast_post(&bc, empty), UVA_ETRUNC);
  /* Nothing was queued and both are still the caller's. */
  ck_assert_int_eq(uva_port_receive(&b, &got), UV_EAGAIN);
  uva_msg_free(empty);
  uva_msg_free(two);
  ck_assert_int_eq(atomic_load(&buffers_freed), 1);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
  ck_assert_int_eq(uva_broadcast_close(&bc), 0);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("broadcast", 30, loop_setup, loop_teardown),
      TEST(test_broadcast_reaches_every_other_member_once),
      TEST(test_broadcast_never_to_sender),
      TEST(test_broadcast_refuses_what_cannot_be_copied),
      TEST(test_broadcast_shared_buffer_reaches_all),
      TEST(test_broadcast_join_and_leave_concurrently),
      TEST(test_broadcast_name_rules),
      TEST(test_broadcast_unstarted_member_queues_and_close_drains),
      TEST(test_post_validates_body),
  };

  return suite_of_rows("broadcast_basics", rows, sizeof(rows) / sizeof(rows[0]));
}
