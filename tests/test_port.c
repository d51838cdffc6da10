/* channel/: MessagePort and MessageChannel, one test per rule of include/uvactor/port.h: delivery and its
 * fair share per turn, close, transfer, the handle (ref, threads, what is not a port). The calls that wait
 * and bounded ports are test_port_wait.c's, the BroadcastChannel's basics test_broadcast_basics.c's.
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
#include <time.h>

#include "loop_thread.h"
#include "port_fixture.h"
#include "port_msgs.h"
#include "port_sink.h"

/* ---- channel_init -------------------------------------------------------------------------------- */

START_TEST(test_channel_init) {
  uva_port_t a, b;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(NULL, &b), UV_EINVAL);
  ck_assert_int_eq(uva_channel_init(&a, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_channel_init(&a, &a), UV_EINVAL);
  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  /* Both new: attached to no loop, empty, and entangled with each other. */
  ck_assert_int_eq(uva_port_has_ref(&a), 0);
  ck_assert_int_eq(uva_port_ref(&b), UV_EINVAL);
  ck_assert_int_eq(uva_port_receive(&a, &msg), UV_EAGAIN);
  ck_assert_int_eq(uva_port_receive(&b, &msg), UV_EAGAIN);
  post_value(&a, 1);
  post_value(&b, 2);
  ck_assert_uint_eq(receive_value(&b), 1);
  ck_assert_uint_eq(receive_value(&a), 2);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

/* ---- delivery ------------------------------------------------------------------------------------ */

START_TEST(test_backlog_delivered_on_start) {
  uva_port_t a, b;
  sink_t sink = {0};

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  post_values(&a, 0, 10);
  start_sink(&b, test_loop, &sink);
  ck_assert_uint_eq(sink.received, 0); /* delivered by the loop, never inside uva_port_start() */
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(sink.received, 10);
  ck_assert_uint_eq(sink.out_of_order, 0);
  post_values(&a, 10, 5);
  ck_assert_int_eq(uva_port_close(&a), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 15);
}
END_TEST

#define FIFO_MESSAGES 100000

static void post_fifo_then_close(void *arg) {
  uva_port_t *port = arg;

  post_values(port, 0, FIFO_MESSAGES);
  REQUIRE(uva_port_close(port) == 0);
}

START_TEST(test_fifo_from_another_thread) {
  uva_port_t a, b;
  uv_thread_t producer;
  sink_t sink = {0};

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  start_sink(&b, test_loop, &sink);
  thread_start(&producer, post_fifo_then_close, &a);
  uv_run(test_loop, UV_RUN_DEFAULT); /* returns once b is closed, after everything a posted */
  thread_join(&producer);
  check_sink_closed(&sink, FIFO_MESSAGES);
}
END_TEST

/* A post from the loop's own thread writes no wakeup, though the loop said it would sleep (its prepare
 * callback did, before the poll that the timer ended): the thread is awake, and the post keeps the loop's
 * next poll from blocking instead. /proc/self/io counts the process's write calls; none other is made
 * meanwhile (a ck_assert that passes writes to Check's pipe: REQUIRE does not). */
typedef struct {
  uva_port_t a;
  uva_port_t b;
  uv_timer_t timer;
  int posted;
  int received;
} own_post_t;

#define OWN_POSTS 100

static void own_post_on_timer(uv_timer_t *timer) {
  own_post_t *t = timer->data;

  REQUIRE(uva_port_post(&t->a, value_msg((uint64_t)t->posted)) == 0);
  if (++t->posted == OWN_POSTS)
    uv_close((uv_handle_t *)timer, NULL);
}

static void own_post_received(uva_port_t *port, uva_msg_t *msg) {
  own_post_t *t = port->data;

  REQUIRE(msg_value(msg) == (uint64_t)t->received);
  uva_msg_free(msg);
  if (++t->received == OWN_POSTS)
    REQUIRE(uva_port_close(port) == 0);
}

static uint64_t write_calls(void) {
  unsigned long long n = 0;
  char line[128];
  FILE *f = fopen("/proc/self/io", "r");
  int found = 0;

  REQUIRE(f != NULL);
  while (!found && fgets(line, sizeof(line), f) != NULL)
    found = sscanf(line, "syscw: %llu", &n) == 1;
  fclose(f);
  REQUIRE(found);
  return n;
}

START_TEST(test_own_thread_post_writes_no_wakeup) {
  own_post_t t = {0};
  uint64_t before;
  uint64_t after;

  REQUIRE(uva_channel_init(&t.a, &t.b) == 0);
  t.b.data = &t;
  REQUIRE(uva_port_start(&t.b, test_loop, own_post_received, NULL) == 0);
  REQUIRE(uv_timer_init(test_loop, &t.timer) == 0);
  t.timer.data = &t;
  REQUIRE(uv_timer_start(&t.timer, own_post_on_timer, 1, 1) == 0);
  before = write_calls();
  REQUIRE(uv_run(test_loop, UV_RUN_DEFAULT) == 0);
  after = write_calls();
  ck_assert_int_eq(t.received, OWN_POSTS);
  ck_assert_msg(after - before < OWN_POSTS / 10, "%llu write calls for %d posts",
                (unsigned long long)(after - before), OWN_POSTS);
  ck_assert_int_eq(uva_port_close(&t.a), 0); /* never started: closed on return */
}
END_TEST

/* The loop's prepare callback runs before the program's, as its check callback does (docs/ports.md,
 * "Delivery and the loop"): a message posted to a port of the loop within its check phase is delivered by
 * the prepare callback, and a prepare handle the program started after the port's delivered already within
 * that turn, as a pump that sends what its ports were given must, before the loop blocks. */
typedef struct {
  uva_port_t a;
  uva_port_t b;
  uv_check_t check;
  uv_prepare_t prepare;
  uv_idle_t idle; /* the loop turns without blocking */
  int checks;
  int posted;    /* by the check callback, once */
  int delivered; /* b's callback ran */
  int seen;      /* the prepare callback after the post: what it found */
} prepare_order_t;

static void order_on_b(uva_port_t *port, uva_msg_t *msg) {
  prepare_order_t *t = port->data;

  uva_msg_free(msg);
  t->delivered = 1;
  REQUIRE(uva_port_close(port) == 0);
}

static void order_on_idle(uv_idle_t *idle) {
  (void)idle;
}

static void order_on_check(uv_check_t *check) {
  prepare_order_t *t = check->data;

  if (t->posted || ++t->checks < 3) /* a turn for the loop's prepare callback to take its place */
    return;
  t->posted = 1;
  REQUIRE(uva_port_post(&t->a, value_msg(1)) == 0);
}

static void order_on_prepare(uv_prepare_t *prepare) {
  prepare_order_t *t = prepare->data;

  if (!t->posted || t->seen)
    return;
  t->seen = t->delivered ? 1 : -1;
  uv_close((uv_handle_t *)&t->idle, NULL);
  uv_close((uv_handle_t *)&t->check, NULL);
  uv_close((uv_handle_t *)prepare, NULL);
}

START_TEST(test_prepare_delivers_before_programs_prepare) {
  prepare_order_t t = {0};

  REQUIRE(uva_channel_init(&t.a, &t.b) == 0);
  t.b.data = &t;
  REQUIRE(uva_port_start(&t.b, test_loop, order_on_b, NULL) == 0); /* the loop's handles start here */
  REQUIRE(uv_check_init(test_loop, &t.check) == 0);
  REQUIRE(uv_prepare_init(test_loop, &t.prepare) == 0);
  REQUIRE(uv_idle_init(test_loop, &t.idle) == 0);
  REQUIRE(uv_idle_start(&t.idle, order_on_idle) == 0);
  t.check.data = t.prepare.data = &t;
  REQUIRE(uv_check_start(&t.check, order_on_check) == 0);
  REQUIRE(uv_prepare_start(&t.prepare, order_on_prepare) == 0); /* after the loop's: libuv runs it first */
  REQUIRE(uv_run(test_loop, UV_RUN_DEFAULT) == 0);
  ck_assert_int_eq(t.seen, 1);
  ck_assert_int_eq(uva_port_close(&t.a), 0);
}
END_TEST

/* One wakeup starts the backlog; the loop's turns deliver the rest, a share each, with no further post. */
START_TEST(test_one_wakeup_delivers_backlog) {
  uva_port_t a, b;
  sink_t sink = {0};

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  post_values(&a, 0, 5000);
  start_sink(&b, test_loop, &sink);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_gt(sink.received, 0);
  ck_assert_uint_le(sink.received, TURN_SHARE_MAX);
  while (sink.received < 5000)
    uv_run(test_loop, UV_RUN_ONCE);
  ck_assert_int_eq(uva_port_close(&a), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 5000);
}
END_TEST

/* uva_port_post_many(): a run goes in order, between single posts, and one turn of the receiving loop
 * delivers it whole; it stops at the first message that cannot go (a malformed one here), which stays the
 * caller's with those after it. */
START_TEST(test_post_many_in_order) {
  uva_msg_t *run[8];
  uva_port_t a, b;
  sink_t sink = {0};
  size_t posted = 99;
  int i;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  start_sink(&b, test_loop, &sink);
  post_value(&a, 0);
  for (i = 0; i < 8; i++)
    run[i] = value_msg(1 + (uint64_t)i);
  ck_assert_int_eq(uva_port_post_many(&a, run, 8, &posted), 0);
  ck_assert_uint_eq(posted, 8);
  post_value(&a, 9);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(sink.received, 10);
  ck_assert_uint_eq(sink.out_of_order, 0);

  run[0] = value_msg(10);
  run[1] = value_msg(11);
  run[2] = value_msg(99);
  REQUIRE(msgpack_pack_nil(uva_msg_packer(run[2])) == 0); /* two objects: malformed (UVA_ETRAILING) */
  run[3] = value_msg(12);
  ck_assert_int_eq(uva_port_post_many(&a, run, 4, &posted), 0);
  ck_assert_uint_eq(posted, 2);
  ck_assert_int_eq(uva_port_post_many(&a, run + 2, 2, &posted), UVA_ETRAILING);
  ck_assert_uint_eq(posted, 0);
  uva_msg_free(run[2]);
  ck_assert_int_eq(uva_port_post_many(&a, run + 3, 1, &posted), 0);
  ck_assert_uint_eq(posted, 1);
  ck_assert_int_eq(uva_port_close(&a), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 13);
}
END_TEST

/* A port that floods itself: each message it gets posts two more to it (through its peer), until cap. */
typedef struct {
  uva_port_t in;
  uva_port_t out;
  uint64_t posted;
  uint64_t received;
  uint64_t cap;
  uva_port_t *nudge; /* posted to once, from the first message's callback, if not NULL */
} flood_t;

static void on_flood_message(uva_port_t *port, uva_msg_t *msg) {
  flood_t *flood = port->data;
  int i;

  REQUIRE(msg_value(msg) == flood->received); /* in order, whatever the turns */
  flood->received++;
  uva_msg_free(msg);
  for (i = 0; i < 2 && flood->posted < flood->cap; i++)
    post_value(&flood->out, flood->posted++);
  if (flood->nudge != NULL) {
    post_value(flood->nudge, 0);
    flood->nudge = NULL;
  }
}

static void flood_start(flood_t *flood, uv_loop_t *loop, uint64_t queued, uint64_t cap) {
  memset(flood, 0, sizeof(*flood));
  ck_assert_int_eq(uva_channel_init(&flood->in, &flood->out), 0);
  flood->cap = cap;
  flood->in.data = flood;
  post_values(&flood->out, 0, queued);
  flood->posted = queued;
  ck_assert_int_eq(uva_port_start(&flood->in, loop, on_flood_message, NULL), 0);
}

/* Stops the flood, lets the port drain and close, and checks nothing was lost. */
static void flood_finish(flood_t *flood, uv_loop_t *loop) {
  flood->cap = 0;
  ck_assert_int_eq(uva_port_close(&flood->out), 0);
  uv_run(loop, UV_RUN_DEFAULT);
  ck_assert_uint_eq(flood->received, flood->posted);
}

/* The fairness rule (docs/ports.md): one turn delivers at most TURN_SHARE_MAX messages of a port, however
 * long its queue (Node's max(queue length, 1000) grows with a flood), and fewer only once its callbacks
 * have taken a millisecond, which the loop looks at every TURN_CLOCK_EVERY messages. */
START_TEST(test_turn_delivers_a_share_of_a_long_queue) {
  flood_t flood;

  flood_start(&flood, test_loop, 5000, 100000);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_ge(flood.received, TURN_CLOCK_EVERY);
  ck_assert_uint_le(flood.received, TURN_SHARE_MAX);
  flood_finish(&flood, test_loop);
}
END_TEST

/* A machine so slow that a millisecond passes between any two looks at the clock: this program's uv_hrtime()
 * takes the place of libuv's for the library (the executable's definition comes first in the dynamic link)
 * and, while slow_clock is set, moves 2 ms on at every call; while stopped_clock is set, it does not move,
 * so that no turn's time share runs out whatever the machine's load. */
static atomic_int slow_clock;
static atomic_int stopped_clock;
static atomic_uint_fast64_t slow_now;

uint64_t uv_hrtime(void) {
  struct timespec ts;

  if (atomic_load(&slow_clock))
    return atomic_fetch_add(&slow_now, 2000000) + 2000000;
  if (atomic_load(&stopped_clock))
    return atomic_load(&slow_now);
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* A delivery takes what the queue held when it began (docs/ports.md): what its callbacks post comes on the
 * loop's next turn, so a port that floods itself is delivered 10, 20, 40 ... messages a turn. The clock
 * stands still meanwhile: on a loaded machine 40 callbacks can take the turn's millisecond (a distcheck
 * beside another build delivered 32 of them). */
START_TEST(test_turn_delivers_what_was_queued) {
  flood_t flood;

  atomic_store(&slow_now, uv_hrtime());
  atomic_store(&stopped_clock, 1);
  flood_start(&flood, test_loop, 10, 100000);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(flood.received, 10);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(flood.received, 30);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(flood.received, 70);
  atomic_store(&stopped_clock, 0);
  flood_finish(&flood, test_loop);
}
END_TEST

/* A turn that ends inside the batch it took (a share of the 5000 queued) keeps the rest for the next turn,
 * ahead of what was posted since. */
START_TEST(test_turn_leftover_comes_first) {
  flood_t flood;

  flood_start(&flood, test_loop, 5000, 100000);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_le(flood.received, TURN_SHARE_MAX);
  ck_assert_uint_eq(receive_value(&flood.in),
                    flood.received); /* a receive takes the oldest, from the leftover */
  flood.received++;
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_gt(flood.received, TURN_CLOCK_EVERY + 1);
  flood_finish(&flood, test_loop); /* the callback checks the order to the end */
}
END_TEST

/* The clock starts with a turn's first message: on the slow machine each turn delivers the messages up to
 * the first look that counts (TURN_CLOCK_EVERY), never none (it yielded with nothing delivered, turn after
 * turn, once valgrind was slow enough). */
START_TEST(test_slow_turn_delivers_up_to_its_first_clock_look) {
  uva_port_t a, b;
  sink_t sink = {0};
  int turn;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  post_values(&a, 0, 3 * TURN_CLOCK_EVERY);
  start_sink(&b, test_loop, &sink);
  atomic_store(&slow_clock, 1);
  for (turn = 1; turn <= 3; turn++) {
    uv_run(test_loop, UV_RUN_NOWAIT);
    ck_assert_uint_eq(sink.received, (uint64_t)turn * TURN_CLOCK_EVERY);
  }
  atomic_store(&slow_clock, 0);
  ck_assert_int_eq(uva_port_close(&a), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 3 * TURN_CLOCK_EVERY);
}
END_TEST

/* Counts messages, and notes how far the flood had got when the first one arrived. */
typedef struct {
  uint64_t received;
  const flood_t *flood;
  uint64_t flood_then;
} bystander_t;

static void on_bystander_message(uva_port_t *port, uva_msg_t *msg) {
  bystander_t *b = port->data;

  if (b->received++ == 0)
    b->flood_then = b->flood->received;
  uva_msg_free(msg);
}

START_TEST(test_flooded_port_does_not_starve_another) {
  flood_t flood;
  uva_port_t c, d;
  bystander_t bystander = {0, &flood, 0};

  ck_assert_int_eq(uva_channel_init(&c, &d), 0);
  d.data = &bystander;
  ck_assert_int_eq(uva_port_start(&d, test_loop, on_bystander_message, NULL), 0);
  flood_start(&flood, test_loop, 1, 50000);
  flood.nudge = &c; /* d's message is posted while the flood is being delivered */
  while (bystander.received == 0 && flood.received < flood.cap)
    uv_run(test_loop, UV_RUN_ONCE);
  ck_assert_uint_eq(bystander.received, 1);
  /* It waited for the flood's fair share, not for the flood to end. */
  ck_assert_uint_le(bystander.flood_then, 2 * TURN_SHARE_MAX);
  ck_assert_int_eq(uva_port_close(&c), 0);
  flood_finish(&flood, test_loop);
}
END_TEST

/* ---- close --------------------------------------------------------------------------------------- */

START_TEST(test_close_delivers_queued_both_ways) {
  uva_port_t a, b;
  sink_t sink_a = {0}, sink_b = {0};
  uva_msg_t *msg;
  int err;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  start_sink(&a, test_loop, &sink_a);
  start_sink(&b, test_loop, &sink_b);
  post_values(&a, 0, 3);
  post_values(&b, 0, 4);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&a), UV_EALREADY);
  /* Nothing enters either queue now; a refused message is still the caller's (and is freed once). */
  atomic_store(&buffers_freed, 0);
  msg = buffer_msg();
  ck_assert_int_eq(uva_port_post(&a, msg), UV_EPIPE);
  ck_assert_int_eq(uva_port_post(&b, msg), UV_EPIPE);
  uva_msg_free(msg);
  ck_assert_int_eq(atomic_load(&buffers_freed), 1);
  /* b is closing too (its peer closed it); closing it from its side as well changes nothing. */
  err = uva_port_close(&b);
  ck_assert(err == 0 || err == UV_EALREADY);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink_a, 4);
  check_sink_closed(&sink_b, 3);
  ck_assert_int_eq(uva_port_close(&a), UV_EBADF);
  ck_assert_int_eq(uva_port_close(&b), UV_EBADF);
  msg = value_msg(0);
  ck_assert_int_eq(uva_port_post(&b, msg), UV_EBADF);
  uva_msg_free(msg);
}
END_TEST

START_TEST(test_close_unstarted_port_frees_queue_and_closes_peer) {
  uva_port_t a, b;
  sink_t sink = {0};
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  start_sink(&b, test_loop, &sink);
  atomic_store(&buffers_freed, 0);
  ck_assert_int_eq(uva_port_post(&b, buffer_msg()), 0); /* queued to a, never read */
  post_values(&a, 0, 2);
  ck_assert_int_eq(uva_port_close(&a), 0);
  /* Closed on return: a's queue is freed, the handle is spent, no callback ever runs for it. */
  ck_assert_int_eq(atomic_load(&buffers_freed), 1);
  ck_assert_int_eq(uva_port_close(&a), UV_EBADF);
  msg = value_msg(9);
  ck_assert_int_eq(uva_port_post(&a, msg), UV_EBADF);
  ck_assert_int_eq(uva_port_post(&b, msg), UV_EPIPE);
  uva_msg_free(msg);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 2);
}
END_TEST

/* A port never started whose peer closed is still new: it can be started (it delivers its queue, then gets
 * its close callback) or closed (0, its queue freed). */
START_TEST(test_unstarted_port_whose_peer_closed_starts_or_closes) {
  uva_port_t a, b, c, d;
  sink_t sink = {0};
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  post_values(&a, 0, 2);
  ck_assert_int_eq(uva_port_close(&a), 0);
  msg = value_msg(9);
  ck_assert_int_eq(uva_port_post(&b, msg), UV_EPIPE);
  uva_msg_free(msg);
  start_sink(&b, test_loop, &sink);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 2);
  ck_assert_int_eq(uva_port_close(&b), UV_EBADF);
  ck_assert_int_eq(uva_channel_init(&c, &d), 0);
  atomic_store(&buffers_freed, 0);
  ck_assert_int_eq(uva_port_post(&c, buffer_msg()), 0);
  ck_assert_int_eq(uva_port_close(&c), 0);
  ck_assert_int_eq(uva_port_close(&d), 0);
  ck_assert_int_eq(atomic_load(&buffers_freed), 1);
  ck_assert_int_eq(uva_port_close(&d), UV_EBADF);
}
END_TEST

START_TEST(test_close_inside_message_callback) {
  uva_port_t a, b;
  sink_t sink = {0};

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  post_values(&a, 0, 5);
  sink.close_after = 2;
  start_sink(&b, test_loop, &sink);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 5); /* the three queued behind the close still arrive */
  ck_assert_int_eq(uva_port_close(&a), 0);
}
END_TEST

/* ---- transfer ------------------------------------------------------------------------------------ */

/* The receiving side of a transfer: its carrier port gets the message with the port, takes the port into
 * moved and starts it on loop, feeding sink. */
typedef struct {
  uva_port_t carrier;
  uva_port_t moved;
  uv_loop_t *loop;
  sink_t *sink;
  int taken;
  int tell_started; /* post a value back on the carrier once moved is started */
} receiver_t;

static void on_carrier_message(uva_port_t *carrier, uva_msg_t *msg) {
  receiver_t *r = carrier->data;

  take_port(msg, &r->moved);
  uva_msg_free(msg);
  r->taken++;
  start_sink(&r->moved, r->loop, r->sink);
  r->sink->also_close = carrier; /* the carrier goes once the moved port is done */
  if (r->tell_started)
    post_value(carrier, 1);
}

static void receiver_start(receiver_t *r, uv_loop_t *loop) {
  r->loop = loop;
  r->carrier.data = r;
  REQUIRE(uva_port_start(&r->carrier, loop, on_carrier_message, NULL) == 0);
}

static void receiver_setup(loop_thread_t *lt) {
  receiver_start(lt->arg, &lt->loop);
}

START_TEST(test_transfer_to_another_thread_keeps_order) {
  uva_port_t p, q, c1;
  receiver_t r = {0};
  sink_t sink = {0};
  loop_thread_t lt;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(&p, &q), 0);
  ck_assert_int_eq(uva_channel_init(&c1, &r.carrier), 0);
  r.sink = &sink;
  r.tell_started = 1;
  post_values(&q, 0, 3); /* before the transfer */
  ck_assert_int_eq(uva_port_post(&c1, port_msg(&p)), 0);
  post_values(&q, 3, 3); /* in transit: the carrier is not even started */
  loop_thread_start(&lt, receiver_setup, &r);
  ck_assert_int_eq(uva_port_receive_wait(&c1, &msg, HANG_GUARD_MS), 0);
  uva_msg_free(msg);
  post_values(&q, 6, 3); /* after the new owner started it */
  ck_assert_int_eq(uva_port_close(&q), 0);
  loop_thread_join(&lt);
  check_sink_closed(&sink, 9);
  ck_assert_int_eq(uva_port_close(&c1), 0);
}
END_TEST

START_TEST(test_transferred_handle_is_spent) {
  uva_port_t p, q;
  sink_t sink = {0};
  uva_msg_t *carrying;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(&p, &q), 0);
  carrying = port_msg(&p);
  msg = value_msg(0);
  ck_assert_int_eq(uva_msg_pack_port(msg, &p), UV_EBADF); /* packing twice */
  ck_assert_int_eq(uva_port_post(&p, msg), UV_EBADF);
  ck_assert_int_eq(uva_port_post_wait(&p, msg, 0), UV_EBADF);
  ck_assert_int_eq(uva_port_receive(&p, &msg), UV_EBADF);
  ck_assert_int_eq(uva_port_close(&p), UV_EBADF);
  ck_assert_int_eq(uva_port_start(&p, test_loop, on_sink_message, NULL), UV_EBADF);
  uva_msg_free(msg);
  /* Posting the port to itself (the message would sit in the queue of the port it carries). */
  ck_assert_int_eq(uva_port_post(&q, carrying), UV_ELOOP);
  /* Still the caller's: freed untaken, it closes the port, and the peer sees the close. */
  start_sink(&q, test_loop, &sink);
  uva_msg_free(carrying);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 0);
}
END_TEST

START_TEST(test_take_port_twice) {
  uva_port_t p, q, c1, c2, taken, again;
  uva_msg_t *msg;
  msgpack_object obj;

  ck_assert_int_eq(uva_channel_init(&p, &q), 0);
  ck_assert_int_eq(uva_channel_init(&c1, &c2), 0);
  ck_assert_int_eq(uva_port_post(&c1, port_msg(&p)), 0);
  ck_assert_int_eq(uva_port_receive(&c2, &msg), 0);
  ck_assert_int_eq(uva_msg_object(msg, &obj), 0);
  ck_assert_int_eq(uva_msg_take_port(msg, &obj, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_msg_take_port(msg, &obj, &taken), 0);
  ck_assert_int_eq(uva_msg_take_port(msg, &obj, &again), UV_EALREADY);
  uva_msg_free(msg); /* taken: freeing the message leaves the port alone */
  post_value(&q, 7);
  ck_assert_uint_eq(receive_value(&taken), 7);
  /* An object that is not a port ext of the message. */
  msg = value_msg(3);
  ck_assert_int_eq(uva_msg_object(msg, &obj), 0);
  ck_assert_int_eq(uva_msg_take_port(msg, &obj, &again), UV_EINVAL);
  uva_msg_free(msg);
  ck_assert_int_eq(uva_port_close(&taken), 0);
  ck_assert_int_eq(uva_port_close(&q), 0);
  ck_assert_int_eq(uva_port_close(&c1), 0);
  ck_assert_int_eq(uva_port_close(&c2), 0);
}
END_TEST

typedef struct {
  uva_port_t *port;
  uv_loop_t *loop;
  int pack, close, receive, receive_wait, ref, unref, set_limits, on_writable, start_on_loop;
} foreign_t;

static void on_writable_noop(uva_port_t *port) {
  (void)port;
}

/* Calls that only a started port's own thread may make, made from another thread. */
static void call_from_foreign_thread(void *arg) {
  foreign_t *f = arg;
  uva_port_t c, d;
  uva_msg_t *msg;

  REQUIRE(uva_msg_new(&msg) == 0);
  f->pack = uva_msg_pack_port(msg, f->port);
  uva_msg_free(msg);
  f->close = uva_port_close(f->port);
  f->receive = uva_port_receive(f->port, &msg);
  f->receive_wait = uva_port_receive_wait(f->port, &msg, 0);
  f->ref = uva_port_ref(f->port);
  f->unref = uva_port_unref(f->port);
  f->set_limits = uva_port_set_limits(f->port, 1, 0);
  f->on_writable = uva_port_on_writable(f->port, on_writable_noop);
  /* The loop is run by the test's thread, which started a port on it first. */
  REQUIRE(uva_channel_init(&c, &d) == 0);
  f->start_on_loop = uva_port_start(&c, f->loop, on_sink_message, NULL);
  REQUIRE(uva_port_close(&c) == 0);
  REQUIRE(uva_port_close(&d) == 0);
}

START_TEST(test_started_port_refuses_other_threads) {
  uva_port_t a, b;
  sink_t sink = {0};
  foreign_t f = {&b, test_loop, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  uv_thread_t thread;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  start_sink(&b, test_loop, &sink);
  thread_start(&thread, call_from_foreign_thread, &f);
  thread_join(&thread);
  ck_assert_int_eq(f.pack, UV_EPERM);
  ck_assert_int_eq(f.close, UV_EPERM);
  ck_assert_int_eq(f.receive, UV_EPERM);
  ck_assert_int_eq(f.receive_wait, UV_EPERM);
  ck_assert_int_eq(f.ref, UV_EPERM);
  ck_assert_int_eq(f.unref, UV_EPERM);
  ck_assert_int_eq(f.set_limits, UV_EPERM);
  ck_assert_int_eq(f.on_writable, UV_EPERM);
  ck_assert_int_eq(f.start_on_loop, UV_EPERM);
  /* Nothing changed: b is still started here and still keeps the loop alive. */
  ck_assert_int_eq(uva_port_has_ref(&b), 1);
  ck_assert_int_eq(uva_port_start(&b, test_loop, on_sink_message, NULL), UV_EBUSY);
  ck_assert_int_eq(uva_port_close(&a), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 0);
}
END_TEST

/* A port transferred from inside its own message callback, with messages still queued behind it. */
typedef struct {
  sink_t sink; /* first: the sink callbacks see this as their sink_t */
  uint64_t transfer_at;
  uva_port_t *carrier; /* the message with the port goes out through here */
} self_transfer_t;

static void on_message_transfer_self(uva_port_t *port, uva_msg_t *msg) {
  self_transfer_t *st = port->data;
  uint64_t value = msg_value(msg);

  sink_take(&st->sink, msg);
  if (value == st->transfer_at)
    REQUIRE(uva_port_post(st->carrier, port_msg(port)) == 0);
}

START_TEST(test_transfer_from_own_callback_keeps_queue) {
  uva_port_t p, q, c1;
  self_transfer_t st = {{0}, 3, &c1};
  receiver_t r = {0};
  uv_loop_t other;
  uva_msg_t *msg;

  ck_assert_int_eq(uv_loop_init(&other), 0);
  ck_assert_int_eq(uva_channel_init(&p, &q), 0);
  ck_assert_int_eq(uva_channel_init(&c1, &r.carrier), 0);
  post_values(&q, 0, 10);
  p.data = &st;
  ck_assert_int_eq(uva_port_start(&p, test_loop, on_message_transfer_self, on_sink_close), 0);
  uv_run(test_loop, UV_RUN_DEFAULT); /* returns when p leaves: it was the loop's only port */
  ck_assert_uint_eq(st.sink.received, 4);
  msg = value_msg(0);
  ck_assert_int_eq(uva_port_post(&p, msg), UV_EBADF);
  uva_msg_free(msg);
  post_values(&q, 10, 2);
  ck_assert_int_eq(uva_port_close(&q), 0);
  r.sink = &st.sink;
  receiver_start(&r, &other);
  uv_run(&other, UV_RUN_DEFAULT);
  ck_assert_int_eq(r.taken, 1);
  check_sink_closed(&st.sink, 12);
  ck_assert_int_eq(uva_port_close(&c1), 0);
  ck_assert_int_eq(uv_loop_close(&other), 0);
}
END_TEST

/* A port transferred between turns, with part of a batch its loop took still undelivered: the new owner
 * gets that part first, then the queue, in order. */
START_TEST(test_transfer_with_turn_leftover_keeps_order) {
  flood_t flood;
  uva_port_t c1;
  receiver_t r = {0};
  sink_t sink = {0};
  uv_loop_t other;

  ck_assert_int_eq(uv_loop_init(&other), 0);
  flood_start(&flood, test_loop, 10, 2000);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_le(flood.received, TURN_SHARE_MAX);
  ck_assert_int_eq(uva_channel_init(&c1, &r.carrier), 0);
  ck_assert_int_eq(uva_port_post(&c1, port_msg(&flood.in)), 0);
  ck_assert_int_eq(uva_port_close(&flood.out), 0);
  sink.next = flood.received;
  r.sink = &sink;
  receiver_start(&r, &other);
  uv_run(&other, UV_RUN_DEFAULT);
  ck_assert_int_eq(r.taken, 1);
  ck_assert_uint_eq(sink.received, flood.posted - flood.received);
  ck_assert_uint_eq(sink.out_of_order, 0);
  ck_assert_int_eq(sink.closed, 1);
  ck_assert_int_eq(uva_port_close(&c1), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&other), 0);
}
END_TEST

/* ---- posting from other threads ----------------------------------------------------------------- */

/* Posts through a port started on another thread's loop until the channel refuses. */
typedef struct {
  uva_port_t *port;
  uv_thread_t thread;
  uint64_t posted;
  uint64_t delivered;
  int last_err;
} poster_t;

static void post_until_refused(void *arg) {
  poster_t *p = arg;
  uva_msg_t *msg;

  for (;;) {
    msg = value_msg(p->posted);
    p->last_err = uva_port_post(p->port, msg);
    if (p->last_err != 0)
      break;
    p->posted++;
  }
  uva_msg_free(msg);
}

static void on_count_message(uva_port_t *port, uva_msg_t *msg) {
  (*(uint64_t *)port->data)++;
  uva_msg_free(msg);
}

/* Starts the poster's port on this thread's loop (where it closes when its peer closes the channel), then
 * the poster: posting only begins once the port is started. */
static void start_port_then_poster(loop_thread_t *lt) {
  poster_t *poster = lt->arg;

  poster->port->data = &poster->delivered;
  REQUIRE(uva_port_start(poster->port, &lt->loop, on_count_message, NULL) == 0);
  REQUIRE(uv_thread_create(&poster->thread, post_until_refused, poster) == 0);
}

/* port.h: posting is thread-safe on a started port too, and a poster must only not race with "the close or
 * transfer of that same handle". Here the peer closes the channel: the started port closes on its own loop
 * while another thread may be inside uva_port_post() on it, and the poster has no way to know when. */
START_TEST(test_post_through_started_port_while_peer_closes) {
  uva_port_t p, q;
  loop_thread_t lt;
  poster_t poster = {.port = &q};
  uva_msg_t *msg;
  uint64_t value;

  ck_assert_int_eq(uva_channel_init(&p, &q), 0);
  loop_thread_start(&lt, start_port_then_poster, &poster);
  do {
    ck_assert_int_eq(uva_port_receive_wait(&p, &msg, HANG_GUARD_MS), 0);
    value = msg_value(msg);
    uva_msg_free(msg);
  } while (value < 100); /* the poster is well under way */
  ck_assert_int_eq(uva_port_close(&p), 0);
  loop_thread_join(&lt);
  thread_join(&poster.thread);
  ck_assert(poster.last_err == UV_EPIPE || poster.last_err == UV_EBADF);
}
END_TEST

/* ---- ref / unref --------------------------------------------------------------------------------- */

START_TEST(test_ref_unref) {
  uva_port_t a, b;
  sink_t sink = {0};

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_ref(&a), UV_EINVAL);
  ck_assert_int_eq(uva_port_unref(&a), UV_EINVAL);
  ck_assert_int_eq(uva_port_ref(NULL), UV_EINVAL);
  ck_assert_int_eq(uva_port_has_ref(&a), 0);
  ck_assert_int_eq(uva_port_has_ref(NULL), 0);
  start_sink(&b, test_loop, &sink);
  ck_assert_int_eq(uva_port_has_ref(&b), 1);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_int_ne(uv_loop_alive(test_loop), 0);
  ck_assert_int_eq(uva_port_unref(&b), 0);
  ck_assert_int_eq(uva_port_has_ref(&b), 0);
  ck_assert_int_eq(uv_loop_alive(test_loop), 0);
  ck_assert_int_eq(uv_run(test_loop, UV_RUN_DEFAULT), 0); /* returns at once: nothing keeps it */
  ck_assert_int_eq(uva_port_ref(&b), 0);
  ck_assert_int_eq(uva_port_has_ref(&b), 1);
  ck_assert_int_ne(uv_loop_alive(test_loop), 0);
  ck_assert_int_eq(uva_port_unref(&b), 0);
  ck_assert_int_eq(uva_port_unref(&b), 0); /* not counted: one ref(), and the loop is kept again */
  ck_assert_int_eq(uva_port_ref(&b), 0);
  ck_assert_int_ne(uv_loop_alive(test_loop), 0);
  ck_assert_int_eq(uva_port_close(&a), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 0);
  ck_assert_int_eq(uva_port_ref(&b), UV_EBADF);
  ck_assert_int_eq(uva_port_unref(&b), UV_EBADF);
  ck_assert_int_eq(uva_port_has_ref(&b), 0);
}
END_TEST

START_TEST(test_closing_port_keeps_loop_alive) {
  uva_port_t a, b;
  sink_t sink = {0};

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  start_sink(&b, test_loop, &sink);
  ck_assert_int_eq(uva_port_unref(&b), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
  ck_assert_int_eq(uva_port_has_ref(&b), 1);
  ck_assert_int_eq(uva_port_unref(&b), 0);
  ck_assert_int_eq(uva_port_has_ref(&b), 1); /* closing: the close callback must get its turn */
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 0);
  ck_assert_int_eq(uva_port_close(&a), 0);
}
END_TEST

/* An unref'd port whose peer closes the channel is closing (port.h's "Life of a port"), and a closing port
 * keeps its loop alive until its close callback. */
START_TEST(test_unrefd_port_whose_peer_closed_finishes_on_close) {
  uva_port_t a, b;
  sink_t sink = {0};

  /* port.h: an unref'd port whose peer closes closes only if its loop runs; like any libuv handle it is
   * finished by closing it and running the loop, which then closes cleanly. */
  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  start_sink(&b, test_loop, &sink);
  ck_assert_int_eq(uva_port_unref(&b), 0);
  post_values(&a, 0, 3);
  ck_assert_int_eq(uva_port_close(&a), 0);
  uv_run(test_loop, UV_RUN_NOWAIT);
  if (sink.closed == 0) {
    ck_assert_int_eq(uva_port_close(&b), 0);
    uv_run(test_loop, UV_RUN_DEFAULT);
  }
  check_sink_closed(&sink, 3);
}
END_TEST

static void close_every_handle(uv_handle_t *handle, void *arg) {
  (void)arg;
  if (!uv_is_closing(handle))
    uv_close(handle, NULL);
}

/* A program that closes every handle of its loop while a port is started there (a walk at the loop's end)
 * closes the loop's wakeup too, and with it the port's delivery, close callbacks included, as ports.md
 * says; the loop still closes. */
START_TEST(test_walk_that_closes_the_wakeup) {
  uva_port_t a, b;
  sink_t sink = {0};

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  start_sink(&b, test_loop, &sink);
  post_values(&a, 0, 3);
  uv_walk(test_loop, close_every_handle, NULL);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uva_port_close(&b), 0);
  ck_assert_int_eq(uva_port_close(&a), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_uint_eq(sink.received, 0);
  ck_assert_int_eq(sink.closed, 0);
}
END_TEST

static void on_timer_noop(uv_timer_t *timer) {
  (void)timer;
}

/* The loop's last port closes while its loop spins: the loop's own handles close with it, and none of them
 * may still be scheduled when their memory goes. The loop runs on after (a closing timer keeps it alive for
 * a turn), which would walk anything left scheduled. */
START_TEST(test_last_port_closes_inside_spin_window) {
  uva_port_t a, b;
  uv_timer_t tick;
  sink_t sink = {0};

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_set_spin(&b, 1000), 0);
  start_sink(&b, test_loop, &sink);
  post_values(&a, 0, 1);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
  ck_assert_int_eq(uv_timer_init(test_loop, &tick), 0);
  ck_assert_int_eq(uv_timer_start(&tick, on_timer_noop, 5, 5), 0);
  uv_unref((uv_handle_t *)&tick);
  while (uv_loop_alive(test_loop))
    uv_run(test_loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(test_loop, UV_RUN_NOWAIT);
  check_sink_closed(&sink, 1); /* a started port drains, then closes */
}
END_TEST

static void on_timer_stamp(uv_timer_t *timer) {
  *(uint64_t *)timer->data = uv_hrtime();
}

/* Posts through the port the message came on: its loop then spins for an answer, which never comes. */
static void on_message_post_back(uva_port_t *port, uva_msg_t *msg) {
  uva_msg_free(msg);
  post_value(port, 0);
}

#define LONG_SPIN_US 1000000 /* the longest window uva_port_set_spin() allows */
#define HALF_LONG_SPIN_NS ((uint64_t)LONG_SPIN_US * 1000 / 2) /* what a test of its end allows: 500 ms */

/* Starts a on test_loop with the longest spin window, its peer b left unstarted. */
static void start_long_spinner(uva_port_t *a, uva_port_t *b, uva_port_message_cb cb) {
  ck_assert_int_eq(uva_channel_init(a, b), 0);
  ck_assert_int_eq(uva_port_set_spin(a, LONG_SPIN_US), 0);
  ck_assert_int_eq(uva_port_start(a, test_loop, cb, NULL), 0);
}

/* A spin window ends at the loop's next timer (port.h: a loop never spins "when it has other work due"): a
 * loop waiting for an answer that does not come, its window a second long, runs a 5 ms timer on time. Before
 * the window was capped, the timer ran a second late, and uv_run(UV_RUN_NOWAIT) could block that long. */
START_TEST(test_spin_window_ends_at_a_timer) {
  uva_port_t a, b;
  uv_timer_t timer;
  uint64_t start, fired = 0;
  int turns;

  start_long_spinner(&a, &b, on_message_post_back);
  post_values(&b, 0, 1);
  ck_assert_int_eq(uv_timer_init(test_loop, &timer), 0);
  timer.data = &fired;
  start = uv_hrtime();
  ck_assert_int_eq(uv_timer_start(&timer, on_timer_stamp, 5, 0), 0);
  for (turns = 0; fired == 0 && turns < 1000; turns++)
    uv_run(test_loop, UV_RUN_ONCE);
  ck_assert_uint_ne(fired, 0);
  ck_assert_uint_lt(fired - start, HALF_LONG_SPIN_NS);
  ck_assert_int_eq(uva_port_close(&b), 0);
  uv_close((uv_handle_t *)&timer, NULL);
  uv_run(test_loop, UV_RUN_DEFAULT); /* a gets its close */
}
END_TEST

typedef struct {
  uv_timer_t timer;
  uint64_t due;   /* uv_hrtime() when the timer should fire */
  uint64_t worst; /* the latest it fired, ns after due */
  int fires;
} periodic_t;

static void on_periodic(uv_timer_t *timer) {
  periodic_t *p = (periodic_t *)timer; /* its first member */
  uint64_t now = uv_hrtime();

  if (now > p->due && now - p->due > p->worst)
    p->worst = now - p->due;
  if (++p->fires == 3)
    return;
  p->due = now + 40 * 1000000;
  REQUIRE(uv_timer_start(timer, on_periodic, 40, 0) == 0);
}

/* The window is cut at the timer, and libuv then works out its poll's timeout from its clock: read before the
 * window, the clock made the poll wait a timer's period again (found by the second attack: a 40 ms timer, in
 * UV_RUN_DEFAULT, fired 40 ms late each time). Three fires, each well within half a period. */
START_TEST(test_spin_window_keeps_a_timer_period) {
  uva_port_t a, b;
  periodic_t p = {0};

  start_long_spinner(&a, &b, on_message_post_back);
  post_values(&b, 0, 1);
  ck_assert_int_eq(uv_timer_init(test_loop, &p.timer), 0);
  p.due = uv_hrtime() + 40 * 1000000;
  ck_assert_int_eq(uv_timer_start(&p.timer, on_periodic, 40, 0), 0);
  uva_port_unref(&a); /* the loop runs for the timer alone */
  uv_run(test_loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(p.fires, 3);
  ck_assert_uint_lt(p.worst, (uint64_t)20 * 1000000);
  ck_assert_int_eq(uva_port_close(&b), 0);
  uv_close((uv_handle_t *)&p.timer, NULL);
  uv_run(test_loop, UV_RUN_DEFAULT); /* a gets its close */
}
END_TEST

/* Posts through its port, as a loop waiting for an answer does, then stops the loop. */
static void on_message_post_back_stop(uva_port_t *port, uva_msg_t *msg) {
  on_message_post_back(port, msg);
  uv_stop(port->loop);
}

/* uv_stop() from a callback ends the loop's spin window: uv_run() returns at the end of the turn, not a
 * second later (the second attack: it waited for the whole window). */
START_TEST(test_uv_stop_ends_a_spin_window) {
  uva_port_t a, b;
  uint64_t start;
  int round;

  start_long_spinner(&a, &b, on_message_post_back_stop);
  for (round = 0; round < 3; round++) {
    post_values(&b, (uint64_t)round, 1);
    start = uv_hrtime();
    uv_run(test_loop, UV_RUN_DEFAULT);
    ck_assert_uint_lt(uv_hrtime() - start, HALF_LONG_SPIN_NS);
  }
  ck_assert_int_eq(uva_port_close(&b), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
}
END_TEST

/* ---- handles that are not ports ------------------------------------------------------------------ */

/* uva_port_pause() holds the port's messages; a resume from a timer, on a loop that went to sleep and woke
 * to the timer, not to a post, delivers them in order, and the loop closes: a resume that scheduled the
 * port without waking its loop would leave a waker counted and the loop's teardown waiting forever. */
static void resume_on_timer(uv_timer_t *timer) {
  REQUIRE(uva_port_resume(timer->data) == 0);
  uv_close((uv_handle_t *)timer, NULL);
}

START_TEST(test_pause_then_resume_from_a_timer) {
  uva_port_t a, b;
  sink_t sink = {0};
  uv_timer_t timer;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  start_sink(&b, test_loop, &sink);
  ck_assert_int_eq(uva_port_pause(&b), 0);
  ck_assert_int_eq(uva_port_pause(&b), 0); /* pausing twice is pausing once */
  post_values(&a, 0, 10);
  uv_run(test_loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(sink.received, 0);
  ck_assert_int_eq(uv_timer_init(test_loop, &timer), 0);
  timer.data = &b;
  ck_assert_int_eq(uv_timer_start(&timer, resume_on_timer, 1, 0), 0);
  while (sink.received < 10)
    uv_run(test_loop, UV_RUN_ONCE);
  post_values(&a, 10, 5);
  ck_assert_int_eq(uva_port_close(&a), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 15);
}
END_TEST

START_TEST(test_zeroed_handle_is_refused) {
  uva_port_t zero;
  uva_msg_t *msg = value_msg(1);
  uva_msg_t *out;

  memset(&zero, 0, sizeof(zero));
  ck_assert_int_eq(uva_port_start(&zero, test_loop, on_sink_message, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_port_post(&zero, msg), UV_EINVAL);
  ck_assert_int_eq(uva_port_post_wait(&zero, msg, 10), UV_EINVAL);
  ck_assert_int_eq(uva_port_receive(&zero, &out), UV_EINVAL);
  ck_assert_int_eq(uva_port_receive_wait(&zero, &out, 10), UV_EINVAL);
  ck_assert_int_eq(uva_port_close(&zero), UV_EINVAL);
  ck_assert_int_eq(uva_port_ref(&zero), UV_EINVAL);
  ck_assert_int_eq(uva_port_unref(&zero), UV_EINVAL);
  ck_assert_int_eq(uva_port_has_ref(&zero), 0);
  ck_assert_int_eq(uva_port_set_limits(&zero, 1, 1), UV_EINVAL);
  ck_assert_int_eq(uva_port_on_writable(&zero, on_writable_noop), UV_EINVAL);
  ck_assert_int_eq(uva_msg_pack_port(msg, &zero), UV_EINVAL);
  ck_assert_int_eq(uva_msg_pack_port(NULL, &zero), UV_EINVAL);
  ck_assert_int_eq(uva_port_start(NULL, test_loop, on_sink_message, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_port_post(NULL, msg), UV_EINVAL);
  uva_msg_free(msg);
}
END_TEST

START_TEST(test_start_arguments) {
  uva_port_t a, b;
  sink_t sink = {0};

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_start(&b, NULL, on_sink_message, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_port_start(&b, test_loop, NULL, NULL), UV_EINVAL);
  ck_assert_int_eq(uva_port_post(&a, NULL), UV_EINVAL);
  start_sink(&b, test_loop, &sink);
  ck_assert_int_eq(uva_port_start(&b, test_loop, on_sink_message, NULL), UV_EBUSY);
  ck_assert_int_eq(uva_port_close(&b), 0);
  ck_assert_int_eq(uva_port_start(&b, test_loop, on_sink_message, NULL), UV_EBUSY); /* closing */
  uv_run(test_loop, UV_RUN_DEFAULT);
  check_sink_closed(&sink, 0);
  ck_assert_int_eq(uva_port_start(&b, test_loop, on_sink_message, NULL), UV_EBADF);
  ck_assert_int_eq(uva_port_close(&a), 0);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("delivery", 30, loop_setup, loop_teardown),
      TEST(test_channel_init),
      TEST(test_backlog_delivered_on_start),
      TEST(test_fifo_from_another_thread),
      TEST(test_one_wakeup_delivers_backlog),
      TEST(test_own_thread_post_writes_no_wakeup),
      TEST(test_prepare_delivers_before_programs_prepare),
      TEST(test_post_many_in_order),
      TEST(test_flooded_port_does_not_starve_another),
      TEST(test_turn_delivers_a_share_of_a_long_queue),
      TEST(test_turn_delivers_what_was_queued),
      TEST(test_turn_leftover_comes_first),
      TEST(test_slow_turn_delivers_up_to_its_first_clock_look),

      TCASE("close", 10, loop_setup, loop_teardown),
      TEST(test_close_delivers_queued_both_ways),
      TEST(test_close_unstarted_port_frees_queue_and_closes_peer),
      TEST(test_close_inside_message_callback),
      TEST(test_unstarted_port_whose_peer_closed_starts_or_closes),

      TCASE("transfer", 10, loop_setup, loop_teardown),
      TEST(test_transfer_to_another_thread_keeps_order),
      TEST(test_transferred_handle_is_spent),
      TEST(test_take_port_twice),
      TEST(test_transfer_from_own_callback_keeps_queue),
      TEST(test_transfer_with_turn_leftover_keeps_order),

      TCASE("handle", 10, loop_setup, loop_teardown),
      TEST(test_ref_unref),
      TEST(test_closing_port_keeps_loop_alive),
      TEST(test_unrefd_port_whose_peer_closed_finishes_on_close),
      TEST(test_walk_that_closes_the_wakeup),
      TEST(test_last_port_closes_inside_spin_window),
      TEST(test_spin_window_ends_at_a_timer),
      TEST(test_spin_window_keeps_a_timer_period),
      TEST(test_uv_stop_ends_a_spin_window),
      TEST(test_post_through_started_port_while_peer_closes),
      TEST(test_started_port_refuses_other_threads),
      TEST(test_pause_then_resume_from_a_timer),
      TEST(test_zeroed_handle_is_refused),
      TEST(test_start_arguments),
  };

  return suite_of_rows("port", rows, sizeof(rows) / sizeof(rows[0]));
}
