/* channel/: the calls that wait and the bounds they wait on: receive (without a loop, with a timeout),
 * bounded ports (limits, the writable callback, post_wait). One test per rule of include/uvactor/port.h.
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
#include "port_sink.h"

static uint64_t elapsed_ms(uint64_t since) {
  return (uv_hrtime() - since) / 1000000;
}

/* ---- synchronous receive ------------------------------------------------------------------------- */

START_TEST(test_receive_unstarted_and_after_close) {
  uva_port_t a, b;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_receive(&b, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_port_receive(NULL, &msg), UV_EINVAL);
  ck_assert_int_eq(uva_port_receive(&b, &msg), UV_EAGAIN);
  post_values(&a, 0, 2);
  ck_assert_uint_eq(receive_value(&b), 0);
  ck_assert_uint_eq(receive_value(&b), 1);
  ck_assert_int_eq(uva_port_receive(&b, &msg), UV_EAGAIN);
  /* After the peer closed, what is queued can still be read, then the channel reports its end. */
  post_values(&a, 2, 2);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_uint_eq(receive_value(&b), 2);
  ck_assert_uint_eq(receive_value(&b), 3);
  ck_assert_int_eq(uva_port_receive(&b, &msg), UV_EPIPE);
  ck_assert_int_eq(uva_port_receive_wait(&b, &msg, UVA_WAIT_FOREVER), UV_EPIPE);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

/* Receives that take a queue's first messages one at a time, then more posts. A post links the message a few
 * places before it to it, for the loop's prefetch (channel/end.c): after a receive took P0-P5 of P0-P7 (and
 * freed them), the places the post counts no longer hold what it recorded, and P5 is freed memory. Only the
 * sanitizer and valgrind runs can see a write there; every run checks the order. */
START_TEST(test_receive_then_post_again) {
  uva_port_t a, b;
  uint64_t i;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  post_values(&a, 0, 8);
  for (i = 0; i < 6; i++)
    ck_assert_uint_eq(receive_value(&b), i);
  post_values(&a, 8, 8);
  for (i = 6; i < 16; i++)
    ck_assert_uint_eq(receive_value(&b), i);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

START_TEST(test_receive_wait_times_out) {
  uva_port_t a, b;
  uva_msg_t *msg;
  uint64_t start = uv_hrtime();

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_receive_wait(&b, &msg, 50), UV_ETIMEDOUT);
  ck_assert_uint_ge(elapsed_ms(start), 49);
  ck_assert_uint_lt(elapsed_ms(start), HANG_GUARD_MS);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

/* Waits until the test's thread is blocked receiving on ports[1], then posts 42 through ports[0]. */
static void post_to_blocked_receiver(void *arg) {
  uva_port_t *ports = arg;

  wait_until_blocked(&ports[1], 0);
  post_value(&ports[0], 42);
}

START_TEST(test_receive_wait_woken_by_post) {
  uva_port_t ports[2];
  uv_thread_t thread;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(&ports[0], &ports[1]), 0);
  thread_start(&thread, post_to_blocked_receiver, ports);
  ck_assert_int_eq(uva_port_receive_wait(&ports[1], &msg, UVA_WAIT_FOREVER), 0);
  ck_assert_uint_eq(msg_value(msg), 42);
  uva_msg_free(msg);
  thread_join(&thread);
  ck_assert_int_eq(uva_port_close(&ports[0]), 0);
  ck_assert_int_eq(uva_port_close(&ports[1]), 0);
}
END_TEST

/* Once the test's thread is blocked on watch's queue (waiting there for a message, or for room to post to
 * it), another thread closes the channel through to_close. */
typedef struct {
  uva_port_t *watch;
  int writers;
  uva_port_t *to_close;
} closer_t;

static void close_when_blocked(void *arg) {
  closer_t *c = arg;

  wait_until_blocked(c->watch, c->writers);
  REQUIRE(uva_port_close(c->to_close) == 0);
}

START_TEST(test_receive_wait_woken_by_close) {
  uva_port_t ports[2];
  uv_thread_t thread;
  closer_t closer = {&ports[1], 0, &ports[0]};
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(&ports[0], &ports[1]), 0);
  thread_start(&thread, close_when_blocked, &closer);
  ck_assert_int_eq(uva_port_receive_wait(&ports[1], &msg, UVA_WAIT_FOREVER), UV_EPIPE);
  thread_join(&thread);
  ck_assert_int_eq(uva_port_close(&ports[1]), 0);
}
END_TEST

/* ---- a blocked receive spins before it sleeps ------------------------------------------------------ */

/* White-box: a spin window of an hour, past what uva_port_set_spin() allows, so that only what the spin
 * watches for (a message, the close, a terminate) can end it within the test's timeout. */
static void spin_for_an_hour(uva_port_t *port) {
  port->end_->spin_ns = (uint64_t)3600 * 1000000000;
}

static uint64_t process_spun(void) {
  uva_process_stats_t p;

  REQUIRE(uva_process_stats(&p) == 0);
  return p.spin_ns;
}

static void post_42(void *arg) {
  post_value(arg, 42);
}

/* A message that comes while the reader spins ends the spin and is returned; the time spun is counted in
 * uva_process_stats_t.spin_ns. The post may come before the reader looks (then nothing spins): tried until
 * one came during the spin, which with one CPU never happens, and nothing is counted. */
START_TEST(test_receive_wait_spins_for_a_message) {
  int several = uv_available_parallelism() > 1;
  uint64_t before = 0;
  uva_port_t a, b;
  uv_thread_t thread;
  uva_msg_t *msg;
  int tries;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  spin_for_an_hour(&b);
  for (tries = 0; tries < (several ? 1000 : 10); tries++) {
    before = process_spun();
    thread_start(&thread, post_42, &a);
    ck_assert_int_eq(uva_port_receive_wait(&b, &msg, UVA_WAIT_FOREVER), 0);
    thread_join(&thread);
    ck_assert_uint_eq(msg_value(msg), 42);
    uva_msg_free(msg);
    if (process_spun() != before)
      break;
  }
  if (several)
    ck_assert_uint_gt(process_spun(), before);
  else
    ck_assert_uint_eq(process_spun(), before);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

/* With uva_port_set_spin(port, 0) a blocked receive sleeps at once: nothing is spun (the poster posts once
 * the reader sleeps). */
START_TEST(test_receive_wait_spin_off) {
  uva_port_t ports[2];
  uv_thread_t thread;
  uva_msg_t *msg;
  uint64_t before;
  int i;

  ck_assert_int_eq(uva_channel_init(&ports[0], &ports[1]), 0);
  ck_assert_int_eq(uva_port_set_spin(&ports[1], 0), 0);
  before = process_spun();
  for (i = 0; i < 3; i++) {
    thread_start(&thread, post_to_blocked_receiver, ports);
    ck_assert_int_eq(uva_port_receive_wait(&ports[1], &msg, UVA_WAIT_FOREVER), 0);
    thread_join(&thread);
    ck_assert_uint_eq(msg_value(msg), 42);
    uva_msg_free(msg);
  }
  ck_assert_uint_eq(process_spun(), before);
  ck_assert_int_eq(uva_port_close(&ports[0]), 0);
  ck_assert_int_eq(uva_port_close(&ports[1]), 0);
}
END_TEST

static void close_port(void *arg) {
  REQUIRE(uva_port_close(arg) == 0);
}

/* The peer's close ends a spinning receive with UV_EPIPE. The close may come before the reader looks (then
 * nothing spins): tried until one came during the spin, as above. */
START_TEST(test_receive_wait_spin_ends_on_close) {
  int several = uv_available_parallelism() > 1;
  uint64_t before = 0;
  uva_port_t a, b;
  uv_thread_t thread;
  uva_msg_t *msg;
  int tries;

  for (tries = 0; tries < (several ? 1000 : 10); tries++) {
    ck_assert_int_eq(uva_channel_init(&a, &b), 0);
    spin_for_an_hour(&b);
    before = process_spun();
    thread_start(&thread, close_port, &a);
    ck_assert_int_eq(uva_port_receive_wait(&b, &msg, UVA_WAIT_FOREVER), UV_EPIPE);
    thread_join(&thread);
    ck_assert_int_eq(uva_port_close(&b), 0);
    if (process_spun() != before)
      break;
  }
  if (several)
    ck_assert_uint_gt(process_spun(), before);
}
END_TEST

/* A timed wait spins no longer than its timeout, and a wait of 0 not at all (the wait rule). */
START_TEST(test_receive_wait_spin_keeps_the_timeout) {
  uint64_t before;
  uva_port_t a, b;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  spin_for_an_hour(&b);
  before = process_spun();
  ck_assert_int_eq(uva_port_receive_wait(&b, &msg, 0), UV_ETIMEDOUT);
  ck_assert_uint_eq(process_spun(), before);
  ck_assert_int_eq(uva_port_receive_wait(&b, &msg, 20), UV_ETIMEDOUT);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

#define POSTERS 4
#define POSTS_EACH 5000

typedef struct {
  uva_port_t *port;
  uint64_t poster;
} poster_t;

static void post_sequence(void *arg) {
  poster_t *p = arg;
  uint64_t seq;

  for (seq = 0; seq < POSTS_EACH; seq++)
    post_value(p->port, p->poster << 32 | seq);
}

/* Many posters, one reader in uva_port_receive_wait() (spinning, sleeping, or finding the queue full):
 * every message comes once, in order per poster. */
START_TEST(test_receive_wait_many_posters) {
  uint64_t next[POSTERS] = {0};
  uv_thread_t threads[POSTERS];
  poster_t posters[POSTERS];
  uva_port_t a, b;
  uva_msg_t *msg;
  uint64_t value;
  int i;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  for (i = 0; i < POSTERS; i++) {
    posters[i].port = &a;
    posters[i].poster = (uint64_t)i;
    thread_start(&threads[i], post_sequence, &posters[i]);
  }
  for (i = 0; i < POSTERS * POSTS_EACH; i++) {
    ck_assert_int_eq(uva_port_receive_wait(&b, &msg, UVA_WAIT_FOREVER), 0);
    value = msg_value(msg);
    uva_msg_free(msg);
    ck_assert_uint_lt(value >> 32, POSTERS);
    ck_assert_uint_eq(value & 0xffffffffu, next[value >> 32]);
    next[value >> 32]++;
  }
  for (i = 0; i < POSTERS; i++)
    thread_join(&threads[i]);
  ck_assert_int_eq(uva_port_receive(&b, &msg), UV_EAGAIN);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

START_TEST(test_receive_on_started_port) {
  uva_port_t a, b;
  sink_t sink = {0};
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  start_sink(&b, test_loop, &sink);
  post_values(&a, 0, 2);
  ck_assert_int_eq(uva_port_receive_wait(&b, &msg, 0), UV_EBUSY);
  /* The owner may still take a message synchronously: then the loop does not deliver it. */
  ck_assert_uint_eq(receive_value(&b), 0);
  sink.next = 1;
  ck_assert_int_eq(uva_port_close(&a), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 1);
}
END_TEST

/* ---- bounded ports ------------------------------------------------------------------------------- */

START_TEST(test_limit_messages) {
  uva_port_t a, b;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_set_limits(NULL, 1, 0), UV_EINVAL);
  ck_assert_int_eq(uva_port_set_limits(&b, 2, 0), 0);
  post_values(&a, 0, 2);
  msg = value_msg(2);
  ck_assert_int_eq(uva_port_post(&a, msg), UV_EAGAIN);
  ck_assert_uint_eq(receive_value(&b), 0);
  ck_assert_int_eq(uva_port_post(&a, msg), 0); /* refused, not consumed: the same message goes now */
  ck_assert_uint_eq(receive_value(&b), 1);
  ck_assert_uint_eq(receive_value(&b), 2);
  /* No bound again. */
  ck_assert_int_eq(uva_port_set_limits(&b, 0, 0), 0);
  post_values(&a, 0, 10);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

/* A message whose body is a bin of len bytes (len + 2 bytes of body for len < 256). */
static uva_msg_t *bin_msg(size_t len) {
  uva_msg_t *msg;
  char bytes[256] = {0};

  REQUIRE(len <= sizeof(bytes));
  REQUIRE(uva_msg_new(&msg) == 0);
  REQUIRE(msgpack_pack_bin_with_body(uva_msg_packer(msg), bytes, len) == 0);
  return msg;
}

START_TEST(test_limit_bytes) {
  uva_port_t a, b;
  uva_msg_t *big, *second, *got;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_set_limits(&b, 0, 32), 0);
  big = bin_msg(40);
  ck_assert_int_eq(uva_port_post(&a, big), UV_E2BIG);          /* could never fit */
  ck_assert_int_eq(uva_port_post_wait(&a, big, 10), UV_E2BIG); /* not worth waiting for */
  uva_msg_free(big);
  ck_assert_int_eq(uva_port_post(&a, bin_msg(20)), 0);
  second = bin_msg(20);
  ck_assert_int_eq(uva_port_post(&a, second), UV_EAGAIN); /* 22 + 22 bytes > 32 */
  ck_assert_int_eq(uva_port_receive(&b, &got), 0);
  uva_msg_free(got);
  ck_assert_int_eq(uva_port_post(&a, second), 0);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

/* With uva_port_admit_oversized(), a message over the byte bound alone enters an empty queue: UV_EAGAIN
 * while anything waits, never UV_E2BIG; the queue holds the bound, or that one message. */
START_TEST(test_admit_oversized) {
  uva_port_t a, b;
  uva_msg_t *big, *small, *got;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_set_limits(&b, 0, 32), 0);
  ck_assert_int_eq(uva_port_admit_oversized(&b, 1), 0);
  ck_assert_int_eq(uva_port_post(&a, bin_msg(40)), 0); /* alone: it goes */
  small = bin_msg(20);
  ck_assert_int_eq(uva_port_post(&a, small), UV_EAGAIN); /* 42 + 22 bytes > 32 */
  ck_assert_int_eq(uva_port_post_wait(&a, small, 0), UV_ETIMEDOUT);
  ck_assert_int_eq(uva_port_receive(&b, &got), 0);
  ck_assert_uint_eq(uva_msg_size(got), 42);
  uva_msg_free(got);
  ck_assert_int_eq(uva_port_post(&a, small), 0);
  big = bin_msg(40);
  ck_assert_int_eq(uva_port_post(&a, big), UV_EAGAIN); /* waits for an empty queue */
  ck_assert_int_eq(uva_port_receive(&b, &got), 0);
  uva_msg_free(got);
  ck_assert_int_eq(uva_port_post_wait(&a, big, UVA_WAIT_FOREVER), 0);
  /* Off again: too big whatever waits. */
  ck_assert_int_eq(uva_port_receive(&b, &got), 0);
  uva_msg_free(got);
  ck_assert_int_eq(uva_port_admit_oversized(&b, 0), 0);
  big = bin_msg(40);
  ck_assert_int_eq(uva_port_post(&a, big), UV_E2BIG);
  uva_msg_free(big);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

/* uva_port_set_max_message() caps each part, the body and every moved buffer, apart from the bounds: a
 * message with a part over it is refused with UV_E2BIG and stays the sender's, unchanged; 0 lifts it. */
START_TEST(test_max_message) {
  uva_port_t a, b;
  uva_msg_t *msg, *got;
  char *buf;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_set_max_message(&b, 32), 0);
  ck_assert_int_eq(uva_port_post(&a, bin_msg(30)), 0); /* 32 bytes: at the cap */
  msg = bin_msg(31);
  ck_assert_int_eq(uva_port_post(&a, msg), UV_E2BIG);
  ck_assert_uint_eq(uva_msg_size(msg), 33);
  uva_msg_free(msg);
  /* A small body with a moved buffer over the cap. */
  ck_assert_int_eq(uva_msg_new(&msg), 0);
  buf = malloc(64);
  ck_assert_ptr_nonnull(buf);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, buf, 64, free), 0);
  ck_assert_int_eq(uva_port_post(&a, msg), UV_E2BIG);
  ck_assert_int_eq(uva_port_set_max_message(&b, 64), 0);
  ck_assert_int_eq(uva_port_post(&a, msg), 0);
  ck_assert_int_eq(uva_port_set_max_message(&b, 0), 0);
  ck_assert_int_eq(uva_port_post(&a, bin_msg(200)), 0);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(uva_port_receive(&b, &got), 0);
    uva_msg_free(got);
  }
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

static int drained_calls;

static void on_drained(uva_port_t *port) {
  (void)port;
  drained_calls++;
}

/* uva_port_on_drain(): once, on the sender's loop, when the peer's queue is down to the level asked for,
 * bounded or not; at once (next turn) if it is already; a writable request replaces it. */
START_TEST(test_on_drain) {
  uva_port_t a, b;
  sink_t sink = {0};
  uva_msg_t *got;

  drained_calls = 0;
  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_on_drain(&a, 0, on_drained), UV_EINVAL); /* not started */
  start_sink(&a, test_loop, &sink);
  post_values(&a, 0, 3);
  ck_assert_int_eq(uva_port_on_drain(&a, 1, on_drained), 0);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(drained_calls, 0); /* 3 wait */
  ck_assert_int_eq(uva_port_receive(&b, &got), 0);
  uva_msg_free(got);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(drained_calls, 0); /* 2 wait */
  ck_assert_int_eq(uva_port_receive(&b, &got), 0);
  uva_msg_free(got);
  ck_assert_int_eq(drained_calls, 0); /* never inside the receive */
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(drained_calls, 1);
  ck_assert_int_eq(uva_port_on_drain(&a, 1, on_drained), 0); /* 1 waits: already */
  ck_assert_int_eq(drained_calls, 1);                        /* never inside the call */
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(drained_calls, 2);
  /* Replaced by a writable request (room at once: it runs, once), the drain never comes. */
  ck_assert_int_eq(uva_port_on_drain(&a, 0, on_drained), 0);
  ck_assert_int_eq(uva_port_on_writable(&a, on_drained), 0);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(drained_calls, 3);
  ck_assert_int_eq(uva_port_receive(&b, &got), 0);
  uva_msg_free(got);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(drained_calls, 3);
  ck_assert_int_eq(uva_port_close(&b), 0);
  ck_assert_int_eq(uva_port_on_drain(&a, 0, on_drained), UV_EPIPE);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 0);
}
END_TEST

/* A receiver that, at its 33rd message, posts one more to itself through its peer. */
typedef struct {
  uva_port_t *sender;
  int seen;
  int post_result;
} self_feed_t;

static void on_self_feed(uva_port_t *port, uva_msg_t *msg) {
  self_feed_t *f = port->data;
  uva_msg_t *more;

  uva_msg_free(msg);
  if (++f->seen != 33)
    return;
  more = value_msg(99);
  f->post_result = uva_port_post(f->sender, more);
  if (f->post_result != 0)
    uva_msg_free(more);
}

/* While a drain is asked for, the receiver's loop takes what it delivered off its queue's count every 16
 * messages of a batch, not at the batch's end: a full bounded queue of 40 has room again at the 33rd. */
START_TEST(test_on_drain_counts_within_a_batch) {
  uva_port_t a, b;
  sink_t sink = {0};
  self_feed_t feed = {&a, 0, 1};
  int turns;

  drained_calls = 0;
  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  start_sink(&a, test_loop, &sink);
  ck_assert_int_eq(uva_port_set_limits(&b, 40, 0), 0);
  post_values(&a, 0, 40);
  b.data = &feed;
  ck_assert_int_eq(uva_port_start(&b, test_loop, on_self_feed, NULL), 0);
  ck_assert_int_eq(uva_port_on_drain(&a, 0, on_drained), 0);
  /* One turn, as a rule; but a turn's share ends once its callbacks took 1 ms (looked at every 16
   * messages), which valgrind can take: then the next turns deliver the rest. */
  for (turns = 0; feed.seen < 33 && turns < 1000; turns++)
    uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_int_ge(feed.seen, 33);
  ck_assert_int_eq(feed.post_result, 0);
  ck_assert_int_eq(uva_port_close(&a), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(feed.seen, 41);
}
END_TEST

/* Counts writable callbacks and where they ran. */
typedef struct {
  int calls;
  uv_loop_t *running;    /* the loop the test is running right now */
  uv_loop_t *ran_on;     /* the loop that was running when the callback ran */
  uint64_t post_on_room; /* value to post from the callback */
} writable_t;

static writable_t *the_writable;

static void on_writable_count(uva_port_t *port) {
  writable_t *w = the_writable;

  w->calls++;
  w->ran_on = w->running;
  REQUIRE(uva_port_post(port, value_msg(w->post_on_room)) == 0);
}

static void run_nowait(writable_t *w, uv_loop_t *loop) {
  w->running = loop;
  uv_run(loop, UV_RUN_NOWAIT);
  w->running = NULL;
}

START_TEST(test_on_writable_runs_on_sender_loop_after_drain) {
  uva_port_t a, b;
  sink_t sink_a = {0}, sink_b = {0};
  writable_t w = {0, NULL, NULL, 1};
  uv_loop_t recv_loop;
  uva_msg_t *msg;

  the_writable = &w;
  ck_assert_int_eq(uv_loop_init(&recv_loop), 0);
  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  start_sink(&a, test_loop, &sink_a);
  start_sink(&b, &recv_loop, &sink_b);
  ck_assert_int_eq(uva_port_set_limits(&b, 1, 0), 0);
  post_value(&a, 0);
  msg = value_msg(1);
  ck_assert_int_eq(uva_port_post(&a, msg), UV_EAGAIN);
  uva_msg_free(msg);
  ck_assert_int_eq(uva_port_on_writable(&a, on_writable_count), 0);
  run_nowait(&w, test_loop);
  ck_assert_int_eq(w.calls, 0); /* still full */
  run_nowait(&w, &recv_loop);   /* b drains */
  ck_assert_uint_eq(sink_b.received, 1);
  ck_assert_int_eq(w.calls, 0); /* never on the receiver's loop */
  run_nowait(&w, test_loop);
  ck_assert_int_eq(w.calls, 1);
  ck_assert_ptr_eq(w.ran_on, test_loop);
  run_nowait(&w, &recv_loop);
  ck_assert_uint_eq(sink_b.received, 2);
  run_nowait(&w, test_loop);
  ck_assert_int_eq(w.calls, 1); /* once per request */
  ck_assert_int_eq(uva_port_close(&a), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  uv_run(&recv_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink_a, 0);
  check_sink_closed(&sink_b, 2);
  ck_assert_int_eq(uv_loop_close(&recv_loop), 0);
}
END_TEST

START_TEST(test_on_writable_with_room_runs_next_turn) {
  uva_port_t a, b;
  sink_t sink = {0};
  writable_t w = {0, NULL, NULL, 0};

  the_writable = &w;
  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_on_writable(&a, on_writable_count), UV_EINVAL); /* not started */
  start_sink(&a, test_loop, &sink);
  ck_assert_int_eq(uva_port_on_writable(&a, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_port_set_limits(&b, 5, 0), 0);
  ck_assert_int_eq(uva_port_on_writable(&a, on_writable_count), 0);
  ck_assert_int_eq(w.calls, 0); /* never from inside the call */
  run_nowait(&w, test_loop);
  ck_assert_int_eq(w.calls, 1);
  ck_assert_uint_eq(receive_value(&b), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
  ck_assert_int_eq(uva_port_on_writable(&a, on_writable_count), UV_EPIPE);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 0);
}
END_TEST

#define POST_WAIT_MESSAGES 10

static void post_wait_values(void *arg) {
  uva_port_t *port = arg;
  uint64_t i;

  for (i = 0; i < POST_WAIT_MESSAGES; i++)
    REQUIRE(uva_port_post_wait(port, value_msg(i), UVA_WAIT_FOREVER) == 0);
}

START_TEST(test_post_wait_blocks_until_drained) {
  uva_port_t a, b;
  sink_t sink = {0};
  uv_thread_t thread;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  sink.close_after = POST_WAIT_MESSAGES;
  start_sink(&b, test_loop, &sink);
  ck_assert_int_eq(uva_port_set_limits(&b, 1, 0), 0);
  thread_start(&thread, post_wait_values, &a);
  wait_until_blocked(&b, 1); /* the second post waits: the loop has not run */
  ck_assert_uint_eq(sink.received, 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  thread_join(&thread);
  check_sink_closed(&sink, POST_WAIT_MESSAGES);
  ck_assert_int_eq(uva_port_close(&a), 0);
}
END_TEST

START_TEST(test_post_wait_times_out) {
  uva_port_t a, b;
  uva_msg_t *msg;
  uint64_t start;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_set_limits(&b, 1, 0), 0);
  ck_assert_int_eq(uva_port_post_wait(&a, value_msg(0), 50), 0);
  msg = value_msg(1);
  start = uv_hrtime();
  ck_assert_int_eq(uva_port_post_wait(&a, msg, 50), UV_ETIMEDOUT);
  ck_assert_uint_ge(elapsed_ms(start), 49);
  ck_assert_uint_lt(elapsed_ms(start), HANG_GUARD_MS);
  ck_assert_uint_eq(receive_value(&b), 0);
  ck_assert_int_eq(uva_port_post_wait(&a, msg, 50), 0); /* still the caller's after the timeout */
  ck_assert_uint_eq(receive_value(&b), 1);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

/* uva_port_post_many() into a bounded queue posts what fits and stops: the rest stay the caller's, and the
 * next one alone is refused as uva_port_post() refuses it (UV_EAGAIN), counted once. */
START_TEST(test_post_many_stops_when_full) {
  uva_port_t a, b;
  uva_port_stats_t stats;
  uva_msg_t *run[5];
  size_t posted = 99;
  int i;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_set_limits(&b, 3, 0), 0);
  post_value(&a, 0);
  for (i = 0; i < 5; i++)
    run[i] = value_msg(1 + (uint64_t)i);
  ck_assert_int_eq(uva_port_post_many(&a, run, 5, &posted), 0);
  ck_assert_uint_eq(posted, 2);
  ck_assert_int_eq(uva_port_post_many(&a, run + 2, 3, &posted), UV_EAGAIN);
  ck_assert_uint_eq(posted, 0);
  ck_assert_int_eq(uva_port_stats(&b, &stats), 0);
  ck_assert_uint_eq(stats.in.refused, 1);
  ck_assert_uint_eq(receive_value(&b), 0);
  ck_assert_uint_eq(receive_value(&b), 1);
  ck_assert_int_eq(uva_port_post_many(&a, run + 2, 3, &posted), 0);
  ck_assert_uint_eq(posted, 2);
  for (i = 2; i < 5; i++)
    ck_assert_uint_eq(receive_value(&b), (uint64_t)i);
  ck_assert_int_eq(uva_port_post_many(&a, run + 4, 1, &posted), 0);
  ck_assert_uint_eq(receive_value(&b), 5);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

/* Waits until the test's thread is blocked receiving on ports[1], then posts a run of three through
 * ports[0]: one wake for the run (the reader's reference is taken once: a leak would show under the
 * sanitizers). */
static void post_run_to_blocked_receiver(void *arg) {
  uva_port_t *ports = arg;
  uva_msg_t *run[3] = {value_msg(1), value_msg(2), value_msg(3)};
  size_t posted;

  wait_until_blocked(&ports[1], 0);
  REQUIRE(uva_port_post_many(&ports[0], run, 3, &posted) == 0 && posted == 3);
}

START_TEST(test_post_many_wakes_receive_wait) {
  uva_port_t ports[2];
  uv_thread_t thread;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(&ports[0], &ports[1]), 0);
  thread_start(&thread, post_run_to_blocked_receiver, ports);
  ck_assert_int_eq(uva_port_receive_wait(&ports[1], &msg, UVA_WAIT_FOREVER), 0);
  ck_assert_uint_eq(msg_value(msg), 1);
  uva_msg_free(msg);
  thread_join(&thread);
  ck_assert_uint_eq(receive_value(&ports[1]), 2);
  ck_assert_uint_eq(receive_value(&ports[1]), 3);
  ck_assert_int_eq(uva_port_close(&ports[0]), 0);
  ck_assert_int_eq(uva_port_close(&ports[1]), 0);
}
END_TEST

START_TEST(test_close_wakes_post_wait) {
  uva_port_t full, sender; /* sender posts into full's queue, which holds its one message */
  closer_t closer = {&full, 1, &full};
  uv_thread_t thread;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(&full, &sender), 0);
  ck_assert_int_eq(uva_port_set_limits(&full, 1, 0), 0);
  post_value(&sender, 0);
  thread_start(&thread, close_when_blocked, &closer);
  msg = value_msg(1);
  ck_assert_int_eq(uva_port_post_wait(&sender, msg, UVA_WAIT_FOREVER), UV_EPIPE);
  uva_msg_free(msg);
  thread_join(&thread);
  ck_assert_int_eq(uva_port_close(&sender), 0);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("receive", 10, loop_setup, loop_teardown),
      TEST(test_receive_unstarted_and_after_close),
      TEST(test_receive_then_post_again),
      TEST(test_receive_wait_times_out),
      TEST(test_receive_wait_woken_by_post),
      TEST(test_receive_wait_woken_by_close),
      TEST(test_post_many_wakes_receive_wait),
      TEST(test_receive_on_started_port),
      TEST(test_receive_wait_spins_for_a_message),
      TEST(test_receive_wait_spin_off),
      TEST(test_receive_wait_spin_ends_on_close),
      TEST(test_receive_wait_spin_keeps_the_timeout),
      TEST(test_receive_wait_many_posters),

      TCASE("bounded", 10, loop_setup, loop_teardown),
      TEST(test_limit_messages),
      TEST(test_limit_bytes),
      TEST(test_admit_oversized),
      TEST(test_max_message),
      TEST(test_on_drain),
      TEST(test_on_drain_counts_within_a_batch),
      TEST(test_on_writable_runs_on_sender_loop_after_drain),
      TEST(test_on_writable_with_room_runs_next_turn),
      TEST(test_post_wait_blocks_until_drained),
      TEST(test_post_wait_times_out),
      TEST(test_close_wakes_post_wait),
      TEST(test_post_many_stops_when_full),
  };

  return suite_of_rows("port_wait", rows, sizeof(rows) / sizeof(rows[0]));
}
