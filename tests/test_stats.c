/* uvactor/stats.h: port and member counters, loop utilization, process-wide counts. One test per rule of the
 * header, each with numbers that a wrong counter would miss: exact counts after known traffic, counts read
 * inside the callbacks that move them, an age measured against the test's own clock, utilization over an
 * interval the test holds open by the work it gives (an actor busy until it is told to stop, an actor that
 * nothing wakes), and the process back to zero once everything is closed and joined.
 *
 * Time passes in some tests (an age to measure, an idle interval), but never orders events: what an assertion
 * depends on is made to happen by a message or a flag, and bounds are wide enough for a loaded machine.
 * Nothing here touches libuv's threadpool: Check may fork per test. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "actor_mains.h"
#include "loop_thread.h"
#include "run_until.h"

#define MS ((uint64_t)1000000)

/* An actor that answers each integer doubled and ends on a negative one (actor_mains.h). */
static int echo_start_main(uva_self_t *self) {
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), echo_on_message, NULL) == 0);
  return 0;
}

/* A message whose body is a str of len bytes (len < 256: a 2-byte header); its size, for the byte counts. */
static uva_msg_t *str_msg(size_t len) {
  static const char text[256];
  uva_msg_t *msg;

  REQUIRE(len < sizeof(text));
  REQUIRE(uva_msg_new(&msg) == 0);
  REQUIRE(msgpack_pack_str_with_body(uva_msg_packer(msg), text, len) == 0);
  return msg;
}

/* Posts a str message of len bytes through port; returns its size. */
static size_t post_str(uva_port_t *port, size_t len) {
  uva_msg_t *msg = str_msg(len);
  size_t size = uva_msg_size(msg);

  ck_assert_int_eq(uva_port_post(port, msg), 0);
  return size;
}

static void receive_free(uva_port_t *port) {
  uva_msg_t *msg;

  ck_assert_int_eq(uva_port_receive(port, &msg), 0);
  uva_msg_free(msg);
}

static uva_queue_stats_t in_stats(const uva_port_t *port) {
  uva_port_stats_t stats;

  ck_assert_int_eq(uva_port_stats(port, &stats), 0);
  return stats.in;
}

static uva_queue_stats_t out_stats(const uva_port_t *port) {
  uva_port_stats_t stats;

  ck_assert_int_eq(uva_port_stats(port, &stats), 0);
  return stats.out;
}

#define ASSERT_QUEUE(q, queued_, bytes_, posted_, delivered_, high_)             \
  do {                                                                           \
    ck_assert_uint_eq((q).queued, (queued_));                                    \
    ck_assert_uint_eq((q).queued_bytes, (bytes_));                               \
    ck_assert_uint_eq((q).posted, (posted_));                                    \
    ck_assert_uint_eq((q).delivered, (delivered_));                              \
    ck_assert_uint_eq((q).high_water, (high_));                                  \
    ck_assert_uint_eq((q).posted_bytes, (q).delivered_bytes + (q).queued_bytes); \
  } while (0)

/* The system clock's tick, which the age is counted in. */
static uint64_t coarse_tick(void) {
  struct timespec res = {0, 10000000};

#ifdef CLOCK_MONOTONIC_COARSE
  clock_getres(CLOCK_MONOTONIC_COARSE, &res);
#endif
  return (uint64_t)res.tv_sec * 1000000000u + (uint64_t)res.tv_nsec;
}

/* Lets ns of wall-clock time pass: for an age to measure, never to order events. */
static void let_pass(uint64_t ns) {
  uint64_t until = uv_hrtime() + ns;

  while (uv_hrtime() < until)
    uv_sleep(5);
}

/* ---- port counters ------------------------------------------------------------------------------ */

/* Counts after known traffic on ports no loop runs: both views (a's out, b's in) of the one queue agree. */
START_TEST(test_port_stats_counts) {
  uva_port_stats_t spent;
  uva_queue_stats_t q;
  uva_port_t a, b;
  size_t s1, s2, s3, s4;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  q = in_stats(&b);
  ASSERT_QUEUE(q, 0, 0, 0, 0, 0);
  ck_assert_uint_eq(q.oldest_ns, 0);
  s1 = post_str(&a, 10);
  s2 = post_str(&a, 20);
  s3 = post_str(&a, 30);
  q = in_stats(&b);
  ASSERT_QUEUE(q, 3, s1 + s2 + s3, 3, 0, 3);
  ck_assert_uint_eq(q.high_water_bytes, s1 + s2 + s3);
  ck_assert_uint_eq(q.refused, 0);
  ck_assert_uint_eq(q.pending, 3); /* no loop, no batch: what waits */
  for (size_t i = 0; i < sizeof(q.reserved) / sizeof(q.reserved[0]); i++)
    ck_assert_uint_eq(q.reserved[i], 0);
  q = out_stats(&a);
  ASSERT_QUEUE(q, 3, s1 + s2 + s3, 3, 0, 3);
  q = in_stats(&a); /* nothing went the other way */
  ASSERT_QUEUE(q, 0, 0, 0, 0, 0);

  receive_free(&b);
  receive_free(&b);
  q = in_stats(&b);
  ASSERT_QUEUE(q, 1, s3, 3, 2, 3);
  ck_assert_uint_eq(q.pending, 1); /* a receive leaves the count at once */
  ck_assert_uint_eq(q.delivered_bytes, s1 + s2);
  s4 = post_str(&a, 5);
  q = in_stats(&b); /* 2 waiting now, the mark stays at 3 */
  ASSERT_QUEUE(q, 2, s3 + s4, 4, 2, 3);
  ck_assert_uint_eq(q.high_water_bytes, s1 + s2 + s3);
  receive_free(&b);
  receive_free(&b);
  q = in_stats(&b);
  ASSERT_QUEUE(q, 0, 0, 4, 4, 3);
  ck_assert_uint_eq(q.posted_bytes, s1 + s2 + s3 + s4);
  ck_assert_uint_eq(q.oldest_ns, 0);

  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
  ck_assert_int_eq(uva_port_stats(&b, &spent), UV_EBADF);
}
END_TEST

/* refused counts the posts the bounds turned away: UV_EAGAIN, a wait of 0, a wait that timed out; not a
 * message too big for the bound ever to fit (UV_E2BIG), nor a post that waited and got room. */
START_TEST(test_port_stats_refused) {
  uva_queue_stats_t q;
  uva_port_t a, b;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_port_set_limits(&b, 2, 0), 0);
  post_str(&a, 1);
  post_str(&a, 1);
  msg = str_msg(1);
  ck_assert_int_eq(uva_port_post(&a, msg), UV_EAGAIN);
  ck_assert_int_eq(uva_port_post_wait(&a, msg, 0), UV_ETIMEDOUT);
  ck_assert_int_eq(uva_port_post_wait(&a, msg, 20), UV_ETIMEDOUT);
  q = in_stats(&b);
  ck_assert_uint_eq(q.refused, 3);
  ASSERT_QUEUE(q, 2, q.posted_bytes, 2, 0, 2);

  uva_msg_free(msg);
  ck_assert_int_eq(uva_port_set_limits(&b, 0, 4), 0);
  msg = str_msg(10);
  ck_assert_int_eq(uva_port_post(&a, msg), UV_E2BIG);
  uva_msg_free(msg);
  ck_assert_uint_eq(in_stats(&b).refused, 3);
  ck_assert_int_eq(uva_port_set_limits(&b, 0, 0), 0);
  receive_free(&b);
  receive_free(&b);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

/* Counts read inside the message callbacks: the k-th callback sees exactly k delivered, across the loop's
 * turns and batches (2500 messages: three turns' shares). */
#define DELIVERY_N 2500

typedef struct {
  uva_port_t a, b;
  int seen;
  int wrong;
} delivery_t;

static void on_counted(uva_port_t *port, uva_msg_t *msg) {
  delivery_t *d = port->data;
  uva_queue_stats_t q;
  uva_port_stats_t stats;

  uva_msg_free(msg);
  d->seen++;
  REQUIRE(uva_port_stats(port, &stats) == 0);
  q = stats.in;
  if (q.delivered != (uint64_t)d->seen || q.queued != (uint64_t)(DELIVERY_N - d->seen) ||
      q.posted != DELIVERY_N || q.high_water != DELIVERY_N)
    d->wrong++;
  if (d->seen == DELIVERY_N)
    REQUIRE(uva_port_close(port) == 0);
}

START_TEST(test_port_stats_delivery_exact) {
  delivery_t d = {.seen = 0, .wrong = 0};
  uva_queue_stats_t q;
  size_t bytes = 0;
  int i;

  ck_assert_int_eq(uva_channel_init(&d.a, &d.b), 0);
  d.b.data = &d;
  for (i = 0; i < DELIVERY_N; i++)
    bytes += post_str(&d.a, (size_t)i % 100);
  ck_assert_int_eq(uva_port_start(&d.b, test_loop, on_counted, NULL), 0);
  ck_assert(run_until(test_loop, &d.seen, DELIVERY_N));
  ck_assert_int_eq(d.wrong, 0);
  q = out_stats(&d.a);
  ASSERT_QUEUE(q, 0, 0, DELIVERY_N, DELIVERY_N, DELIVERY_N);
  ck_assert_uint_eq(q.delivered_bytes, bytes);
  ck_assert_uint_eq(q.high_water_bytes, bytes);
  ck_assert_int_eq(uva_port_close(&d.a), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
}
END_TEST

/* The age of the oldest waiting message, against the test's clock: it is the first message's, not the
 * newest's; draining the queue ends it; the next message starts a new one. */
START_TEST(test_port_stats_oldest_waiting) {
  uint64_t slack = 2 * coarse_tick() + MS;
  uint64_t before, after, read0, read1;
  uva_queue_stats_t q;
  uva_port_t a, b;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  before = uv_hrtime();
  post_str(&a, 1);
  after = uv_hrtime();
  let_pass(100 * MS);
  post_str(&a, 1); /* younger: the age stays the first one's */
  read0 = uv_hrtime();
  q = in_stats(&b);
  read1 = uv_hrtime();
  ck_assert_uint_ge(q.oldest_ns + slack, read0 - after);
  ck_assert_uint_le(q.oldest_ns, read1 - before + slack);

  receive_free(&b);
  receive_free(&b);
  ck_assert_uint_eq(in_stats(&b).oldest_ns, 0);
  let_pass(100 * MS);
  before = uv_hrtime();
  post_str(&a, 1);
  q = in_stats(&b);
  ck_assert_uint_le(q.oldest_ns, uv_hrtime() - before + slack); /* the new message's age, not the port's */
  receive_free(&b);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

/* What waits in the batch a loop took counts from when the batch began to queue, not from when the loop
 * took it: three messages wait 100 ms before the port starts, and the first one's callback holds the loop
 * 100 ms more; the two behind it have waited all that time. The one delivered is not queued, but the
 * bounds (pending) count it until the loop is done with the batch. */
typedef struct {
  uva_port_t a, b;
  int seen;
  uint64_t posted;            /* uv_hrtime() after the three posts */
  uva_queue_stats_t in_first; /* read at the end of the first callback */
  uint64_t waited;            /* then, how long since the posts */
} batch_age_t;

static void on_batch_message(uva_port_t *port, uva_msg_t *msg) {
  batch_age_t *t = port->data;

  uva_msg_free(msg);
  if (++t->seen == 1) {
    let_pass(100 * MS);
    t->waited = uv_hrtime() - t->posted;
    t->in_first = in_stats(port);
  }
  if (t->seen == 3)
    REQUIRE(uva_port_close(port) == 0);
}

START_TEST(test_port_stats_oldest_in_batch) {
  batch_age_t t = {.seen = 0};

  ck_assert_int_eq(uva_channel_init(&t.a, &t.b), 0);
  t.b.data = &t;
  post_str(&t.a, 1);
  post_str(&t.a, 2);
  post_str(&t.a, 3);
  t.posted = uv_hrtime();
  let_pass(100 * MS);
  ck_assert_int_eq(uva_port_start(&t.b, test_loop, on_batch_message, NULL), 0);
  ck_assert(run_until(test_loop, &t.seen, 3));
  ck_assert_uint_eq(t.in_first.queued, 2);
  ck_assert_uint_eq(t.in_first.delivered, 1);
  ck_assert_uint_eq(t.in_first.pending, 3); /* the one delivered leaves the bounds' count with its batch */
  ck_assert_uint_ge(t.in_first.oldest_ns + 2 * coarse_tick() + MS, t.waited);
  ck_assert_int_eq(uva_port_close(&t.a), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
}
END_TEST

/* A queue's counts travel with its port: the handle that takes it sees what was posted before. */
START_TEST(test_port_stats_travel_with_port) {
  uva_port_t a, b, x, y, taken;
  uva_port_stats_t spent;
  msgpack_object obj;
  uva_queue_stats_t q;
  uva_msg_t *carrier;
  size_t bytes;

  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  ck_assert_int_eq(uva_channel_init(&x, &y), 0);
  bytes = post_str(&a, 7) + post_str(&a, 8) + post_str(&a, 9);
  receive_free(&b);
  ck_assert_int_eq(uva_msg_new(&carrier), 0);
  ck_assert_int_eq(uva_msg_pack_port(carrier, &b), 0);
  ck_assert_int_eq(uva_port_stats(&b, &spent), UV_EBADF); /* the handle is spent */
  ck_assert_int_eq(uva_port_post(&x, carrier), 0);
  ck_assert_int_eq(uva_port_receive(&y, &carrier), 0);
  ck_assert_int_eq(uva_msg_object(carrier, &obj), 0);
  ck_assert_int_eq(uva_msg_take_port(carrier, &obj, &taken), 0);
  q = in_stats(&taken);
  ASSERT_QUEUE(q, 2, q.queued_bytes, 3, 1, 3);
  ck_assert_uint_eq(q.posted_bytes, bytes);
  uva_msg_free(carrier);
  ck_assert_int_eq(uva_port_close(&taken), 0);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&x), 0);
  ck_assert_int_eq(uva_port_close(&y), 0);
}
END_TEST

/* Any thread, while the queue moves: a poster, a loop that delivers, and a reader that checks what must
 * hold in every snapshot (posted = delivered + queued, nothing goes back, the mark covers what waits). */
#define STRESS_N 20000

typedef struct {
  uva_port_t a, b;
  loop_thread_t consumer;
  uv_thread_t poster, reader;
  atomic_int received;
  int snapshots;
  const char *broken;
} stress_t;

static void on_stress_message(uva_port_t *port, uva_msg_t *msg) {
  stress_t *s = port->data;

  uva_msg_free(msg);
  if (atomic_fetch_add(&s->received, 1) + 1 == STRESS_N)
    REQUIRE(uva_port_close(port) == 0);
}

static void stress_setup(loop_thread_t *lt) {
  stress_t *s = lt->arg;

  REQUIRE(uva_port_start(&s->b, &lt->loop, on_stress_message, NULL) == 0);
}

static void stress_post(void *arg) {
  stress_t *s = arg;
  int i;

  for (i = 0; i < STRESS_N; i++) {
    uva_msg_t *msg = str_msg((size_t)i % 50);

    REQUIRE(uva_port_post(&s->a, msg) == 0);
  }
}

static void stress_read(void *arg) {
  stress_t *s = arg;
  uva_queue_stats_t last = {0};
  uva_port_stats_t stats;

  do {
    REQUIRE(uva_port_stats(&s->a, &stats) == 0);
    s->snapshots++;
    if (stats.out.posted != stats.out.delivered + stats.out.queued)
      s->broken = "posted != delivered + queued";
    else if (stats.out.posted_bytes != stats.out.delivered_bytes + stats.out.queued_bytes)
      s->broken = "posted bytes != delivered + queued";
    else if (stats.out.posted < last.posted || stats.out.delivered < last.delivered)
      s->broken = "a count went back";
    else if (stats.out.queued > stats.out.high_water || stats.out.queued_bytes > stats.out.high_water_bytes)
      s->broken = "more waiting than the high-water mark";
    last = stats.out;
  } while (s->broken == NULL && stats.out.delivered < STRESS_N);
}

START_TEST(test_port_stats_any_thread) {
  stress_t *s = calloc(1, sizeof(*s));
  uva_queue_stats_t q;

  ck_assert_ptr_nonnull(s);
  ck_assert_int_eq(uva_channel_init(&s->a, &s->b), 0);
  s->b.data = s;
  loop_thread_start(&s->consumer, stress_setup, s);
  thread_start(&s->reader, stress_read, s);
  thread_start(&s->poster, stress_post, s);
  thread_join(&s->poster);
  thread_join(&s->reader);
  loop_thread_join(&s->consumer);
  ck_assert_msg(s->broken == NULL, "%s (after %d snapshots)", s->broken, s->snapshots);
  q = out_stats(&s->a); /* the peer closed and let its queue go: its counts stay */
  ASSERT_QUEUE(q, 0, 0, STRESS_N, STRESS_N, q.high_water);
  ck_assert_int_eq(uva_port_close(&s->a), 0);
  free(s);
}
END_TEST

/* The call counters, read from a third thread while the owner's loop makes calls and cancels half of them:
 * only the owner writes them, and a read elsewhere races with nothing (TSan builds check it). Every
 * cancelled call's answer is late. The callee answers in order and answers reach the caller in order, so by
 * the last call's callback every late answer has been counted; the caller closes its port there, which
 * closes the callee's. */
#define CALLS_N 2000

typedef struct {
  uva_port_t a, b;
  loop_thread_t caller, callee;
  uv_thread_t reader;
  uva_call_t calls[CALLS_N];
  int completed;     /* [caller] */
  uint64_t late_end; /* [caller] late_replies read by the owner at the last callback */
  int snapshots;
  const char *broken;
} calls_stress_t;

static void on_calls_request(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  REQUIRE(uva_msg_reply(msg, str_msg(1)) == 0);
  uva_msg_free(msg);
}

static void on_calls_unexpected(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  (void)msg;
  ck_abort_msg("a message that is no answer reached the caller");
}

static void on_calls_done(uva_call_t *call, int status, uva_msg_t *reply) {
  calls_stress_t *s = call->data;
  int i = (int)(call - s->calls);
  uva_port_stats_t stats;

  REQUIRE(status == (i % 2 == 0 ? UV_ECANCELED : 0));
  uva_msg_free(reply);
  if (++s->completed < CALLS_N)
    return;
  REQUIRE(uva_port_stats(&s->a, &stats) == 0);
  s->late_end = stats.late_replies;
  REQUIRE(uva_port_close(&s->a) == 0);
}

static void calls_callee_setup(loop_thread_t *lt) {
  calls_stress_t *s = lt->arg;

  REQUIRE(uva_port_start(&s->b, &lt->loop, on_calls_request, NULL) == 0);
}

static void calls_caller_setup(loop_thread_t *lt) {
  calls_stress_t *s = lt->arg;
  int i;

  REQUIRE(uva_port_start(&s->a, &lt->loop, on_calls_unexpected, NULL) == 0);
  for (i = 0; i < CALLS_N; i++) {
    s->calls[i].data = s;
    REQUIRE(uva_port_call(&s->a, &s->calls[i], str_msg(1), UVA_WAIT_FOREVER, on_calls_done) == 0);
    if (i % 2 == 0) /* the last call, answered, completes after every answer before it */
      REQUIRE(uva_call_cancel(&s->calls[i]) == 0);
  }
}

static void calls_read(void *arg) {
  calls_stress_t *s = arg;
  uint64_t last_late = 0;
  uva_port_stats_t stats;

  while (s->broken == NULL && uva_port_stats(&s->a, &stats) == 0) {
    s->snapshots++;
    if (stats.calls_pending > CALLS_N)
      s->broken = "more calls pending than made";
    else if (stats.late_replies < last_late)
      s->broken = "late_replies went back";
    else if (stats.late_replies > CALLS_N / 2)
      s->broken = "more late replies than cancelled calls";
    last_late = stats.late_replies;
  }
}

START_TEST(test_port_stats_calls_any_thread) {
  calls_stress_t *s = calloc(1, sizeof(*s));

  ck_assert_ptr_nonnull(s);
  ck_assert_int_eq(uva_channel_init(&s->a, &s->b), 0);
  s->a.data = s;
  s->b.data = s;
  loop_thread_start(&s->callee, calls_callee_setup, s);
  thread_start(&s->reader, calls_read, s);
  loop_thread_start(&s->caller, calls_caller_setup, s);
  loop_thread_join(&s->caller);
  thread_join(&s->reader);
  loop_thread_join(&s->callee);
  ck_assert_msg(s->broken == NULL, "%s (after %d snapshots)", s->broken, s->snapshots);
  ck_assert_int_eq(s->completed, CALLS_N);
  ck_assert_uint_eq(s->late_end, CALLS_N / 2);
  free(s);
}
END_TEST

/* An actor's queue, from its parent's port (the out view), and the replies (the in view). */
START_TEST(test_actor_port_out) {
  uva_port_stats_t stats;
  uva_actor_t actor;
  uva_msg_t *msg;
  int code;
  int i;

  reset_actor_failure();
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, echo_start_main, NULL), 0);
  for (i = 1; i <= 50; i++)
    ck_assert_int_eq(post_int(uva_actor_port(&actor), i), 0);
  ck_assert_int_eq(uva_port_stats(uva_actor_port(&actor), &stats), 0);
  ck_assert_uint_eq(stats.out.posted, 50); /* whatever the actor has done with them yet */
  ck_assert_uint_eq(stats.out.posted, stats.out.delivered + stats.out.queued);
  for (i = 1; i <= 50; i++) {
    ck_assert_int_eq(uva_port_receive_wait(uva_actor_port(&actor), &msg, HANG_GUARD_MS), 0);
    ck_assert_int_eq(msg_int(msg), 2 * i);
    uva_msg_free(msg);
  }
  ck_assert_int_eq(uva_port_stats(uva_actor_port(&actor), &stats), 0);
  ASSERT_QUEUE(stats.out, 0, 0, 50, 50, stats.out.high_water); /* each echo left after its message */
  ASSERT_QUEUE(stats.in, 0, 0, 50, 50, stats.in.high_water);
  ck_assert_int_eq(post_int(uva_actor_port(&actor), -1), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, 0);
  assert_actors_ok();
}
END_TEST

/* ---- broadcast members ------------------------------------------------------------------------- */

static uva_queue_stats_t member_stats(const uva_broadcast_t *bc) {
  uva_queue_stats_t q;

  ck_assert_int_eq(uva_broadcast_stats(bc, &q), 0);
  return q;
}

static uva_msg_t *one_msg(void) {
  return str_msg(3);
}

START_TEST(test_broadcast_stats_counts) {
  uva_broadcast_t m1, m2, m3;
  uva_queue_stats_t q;
  uva_msg_t *received;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_broadcast_init(&m1, "stats-counts"), 0);
  ck_assert_int_eq(uva_broadcast_init(&m2, "stats-counts"), 0);
  ck_assert_int_eq(uva_broadcast_init(&m3, "stats-counts"), 0);
  ck_assert_int_eq(uva_broadcast_set_limits(&m3, 1, 0), 0);
  ck_assert_int_eq(uva_broadcast_post(&m1, one_msg()), 0);
  q = member_stats(&m2);
  ASSERT_QUEUE(q, 1, q.posted_bytes, 1, 0, 1);
  q = member_stats(&m1); /* never to the poster */
  ASSERT_QUEUE(q, 0, 0, 0, 0, 0);

  msg = one_msg();
  ck_assert_int_eq(uva_broadcast_post(&m1, msg), UV_EAGAIN); /* m3 is full: nobody gets it */
  ck_assert_int_eq(uva_broadcast_post_wait(&m1, msg, 0), UV_ETIMEDOUT);
  ck_assert_int_eq(uva_broadcast_post_wait(&m1, msg, 20), UV_ETIMEDOUT);
  ck_assert_uint_eq(member_stats(&m3).refused, 3);
  ck_assert_uint_eq(member_stats(&m2).refused, 0); /* it had room */
  ck_assert_uint_eq(member_stats(&m2).posted, 1);

  ck_assert_int_eq(uva_broadcast_receive(&m3, &received), 0);
  uva_msg_free(received);
  ck_assert_int_eq(uva_broadcast_post(&m1, msg), 0);
  q = member_stats(&m2);
  ASSERT_QUEUE(q, 2, q.posted_bytes, 2, 0, 2);
  q = member_stats(&m3);
  ASSERT_QUEUE(q, 1, q.queued_bytes, 2, 1, 1);
  ck_assert_int_eq(uva_broadcast_close(&m1), 0);
  ck_assert_int_eq(uva_broadcast_close(&m2), 0);
  ck_assert_int_eq(uva_broadcast_close(&m3), 0);
  ck_assert_int_eq(uva_broadcast_stats(&m3, &q), UV_EBADF);
}
END_TEST

/* ---- loop utilization -------------------------------------------------------------------------- */

static uint64_t elu_total(const uva_elu_t *e) {
  return e->busy_ns + e->idle_ns + e->spin_ns;
}

/* Asks for the actor's utilization until its loop measures and sleeps in its poll (its idle time grows
 * between two reads); returns that last snapshot. The first ask returns an empty one. */
static uva_elu_t elu_when_asleep(uva_actor_t *actor) {
  uint64_t deadline = uv_hrtime() + HANG_GUARD_MS * MS;
  uva_elu_t last = {0};
  uva_elu_t now;

  for (;;) {
    ck_assert_int_eq(uva_actor_elu(actor, &now), 0);
    if (elu_total(&last) > 0 && now.idle_ns > last.idle_ns)
      return now;
    last = now;
    ck_assert(uv_hrtime() < deadline);
    uv_sleep(1);
  }
}

static uva_elu_t elu_interval(const uva_elu_t *before, const uva_elu_t *after) {
  uva_elu_t d;

  ck_assert_int_eq(uva_elu_diff(before, after, &d), 0);
  ck_assert_uint_eq(elu_total(&d), elu_total(after) - elu_total(before));
  return d;
}

static void end_echo_actor(uva_actor_t *actor) {
  int code;

  ck_assert_int_eq(post_int(uva_actor_port(actor), -1), 0);
  ck_assert_int_eq(uva_actor_join(actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, 0);
  assert_actors_ok();
}

/* An actor nothing wakes: near 0, all of it idle, none of it spinning. The first call starts measuring. */
START_TEST(test_elu_idle_actor) {
  uva_actor_options_t options = {.spin_us = UVA_SPIN_OFF};
  uva_elu_t e1, e2, d;
  uva_actor_t actor;

  reset_actor_failure();
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, echo_start_main, &options), 0);
  ck_assert_int_eq(uva_actor_elu(&actor, &e1), 0);
  ck_assert_uint_eq(elu_total(&e1), 0); /* measuring starts now */
  e1 = elu_when_asleep(&actor);
  let_pass(200 * MS);
  ck_assert_int_eq(uva_actor_elu(&actor, &e2), 0);
  d = elu_interval(&e1, &e2);
  ck_assert_msg(d.utilization < 0.2, "an idle actor's utilization is %.3f", d.utilization);
  ck_assert_uint_ge(d.idle_ns, 150 * MS);
  ck_assert_uint_eq(d.spin_ns, 0);
  end_echo_actor(&actor);
}
END_TEST

/* An actor busy in a callback until the test says stop: near 1, no idle time, no spin, over an interval
 * the test holds inside that callback. */
static atomic_int busy_release;

static void busy_on_message(uva_port_t *port, uva_msg_t *msg) {
  int64_t value = msg_int(msg);
  uint64_t deadline = uv_hrtime() + HANG_GUARD_MS * MS;

  uva_msg_free(msg);
  if (value < 0) {
    ACTOR_CHECK(uva_port_close(port) == 0);
    return;
  }
  ACTOR_CHECK(post_int(port, 1) == 0); /* working */
  while (!atomic_load(&busy_release) && uv_hrtime() < deadline)
    ;
  ACTOR_CHECK(post_int(port, 2) == 0); /* done */
}

static int busy_main(uva_self_t *self) {
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), busy_on_message, NULL) == 0);
  return 0;
}

static void receive_int(uva_actor_t *actor, int64_t want) {
  uva_msg_t *msg;

  ck_assert_int_eq(uva_port_receive_wait(uva_actor_port(actor), &msg, HANG_GUARD_MS), 0);
  ck_assert_int_eq(msg_int(msg), want);
  uva_msg_free(msg);
}

START_TEST(test_elu_busy_actor) {
  uva_actor_options_t options = {.spin_us = UVA_SPIN_OFF};
  uva_elu_t e1, e2, d;
  uva_actor_t actor;

  reset_actor_failure();
  atomic_store(&busy_release, 0);
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, busy_main, &options), 0);
  elu_when_asleep(&actor);
  ck_assert_int_eq(post_int(uva_actor_port(&actor), 0), 0);
  receive_int(&actor, 1);
  ck_assert_int_eq(uva_actor_elu(&actor, &e1), 0);
  let_pass(200 * MS);
  ck_assert_int_eq(uva_actor_elu(&actor, &e2), 0);
  atomic_store(&busy_release, 1);
  receive_int(&actor, 2);
  d = elu_interval(&e1, &e2);
  ck_assert_msg(d.utilization > 0.5, "a busy actor's utilization is %.3f", d.utilization);
  ck_assert_uint_eq(d.idle_ns, 0); /* inside one callback: the loop never polled */
  ck_assert_uint_eq(d.spin_ns, 0);
  ck_assert_uint_ge(d.busy_ns, 150 * MS);
  ck_assert_int_eq(post_int(uva_actor_port(&actor), -1), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, NULL), 0);
  assert_actors_ok();
}
END_TEST

/* Spinning is not work: an actor that answered and then watches its port for 300 ms (its spin window)
 * shows that time as spin, not busy. */
START_TEST(test_elu_spin_apart) {
  uva_actor_options_t options = {.spin_us = 300000};
  uint64_t deadline = uv_hrtime() + HANG_GUARD_MS * MS;
  uva_elu_t e1, e2, d;
  uva_actor_t actor;

  reset_actor_failure();
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, echo_start_main, &options), 0);
  e1 = elu_when_asleep(&actor);
  ck_assert_int_eq(post_int(uva_actor_port(&actor), 21), 0);
  receive_int(&actor, 42); /* posted from its loop: the loop now spins for an answer that never comes */
  do {
    ck_assert(uv_hrtime() < deadline);
    uv_sleep(5);
    ck_assert_int_eq(uva_actor_elu(&actor, &e2), 0);
  } while (e2.spin_ns - e1.spin_ns < 200 * MS);
  d = elu_interval(&e1, &e2);
  ck_assert_msg(d.busy_ns < d.spin_ns, "busy %llu ns, spin %llu ns", (unsigned long long)d.busy_ns,
                (unsigned long long)d.spin_ns);
  ck_assert_msg(d.utilization < 0.5, "a spinning actor's utilization is %.3f", d.utilization);
  end_echo_actor(&actor);
}
END_TEST

/* A post to a port started on the poster's own loop arms no spin: its answer could come only from that
 * thread, which a spin would keep from making it. The actor, whose window is long, posts every 10 ms from a
 * timer to a port on its loop that does not answer; its loop sleeps between the posts, where after a post to
 * another loop it spins for the window (test_elu_spin_apart). An integer on its own port ends it. */
typedef struct {
  uva_port_t a;
  uva_port_t b;
  uv_timer_t timer;
  atomic_int got;
} own_loop_t;

static void own_on_b(uva_port_t *port, uva_msg_t *msg) {
  own_loop_t *o = port->data;

  uva_msg_free(msg);
  atomic_fetch_add(&o->got, 1);
}

static void own_on_timer(uv_timer_t *timer) {
  own_loop_t *o = timer->data;

  ACTOR_CHECK(post_int(&o->a, 1) == 0);
}

static void own_on_end(uva_port_t *port, uva_msg_t *msg) {
  own_loop_t *o = port->data;

  uva_msg_free(msg);
  uv_close((uv_handle_t *)&o->timer, NULL);
  ACTOR_CHECK(uva_port_close(&o->a) == 0);
  ACTOR_CHECK(uva_port_close(port) == 0);
}

static int own_loop_main(uva_self_t *self) {
  own_loop_t *o = uva_self_arg(self);
  uv_loop_t *loop = uva_self_loop(self);

  ACTOR_CHECK(uva_channel_init(&o->a, &o->b) == 0);
  o->a.data = o->b.data = o;
  uva_self_port(self)->data = o;
  ACTOR_CHECK(uva_port_start(&o->a, loop, own_on_b, NULL) == 0); /* b never posts: a hears nothing */
  ACTOR_CHECK(uva_port_start(&o->b, loop, own_on_b, NULL) == 0);
  ACTOR_CHECK(uva_port_start(uva_self_port(self), loop, own_on_end, NULL) == 0);
  ACTOR_CHECK(uv_timer_init(loop, &o->timer) == 0);
  o->timer.data = o;
  ACTOR_CHECK(uv_timer_start(&o->timer, own_on_timer, 10, 10) == 0);
  return 0;
}

START_TEST(test_elu_no_spin_after_own_loop_post) {
  uva_actor_options_t options = {.spin_us = 300000};
  uint64_t deadline = uv_hrtime() + HANG_GUARD_MS * MS;
  own_loop_t o = {0};
  uva_elu_t e1, e2, d;
  uva_actor_t actor;
  int code;

  options.arg = &o;
  reset_actor_failure();
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, own_loop_main, &options), 0);
  e1 = elu_when_asleep(&actor);
  while (atomic_load(&o.got) < 20) { /* 20 posts, 19 sleeps between them */
    ck_assert(uv_hrtime() < deadline);
    uv_sleep(5);
  }
  ck_assert_int_eq(uva_actor_elu(&actor, &e2), 0);
  d = elu_interval(&e1, &e2);
  ck_assert_msg(d.spin_ns < MS, "spun %llu ns after posts to its own loop", (unsigned long long)d.spin_ns);
  ck_assert_uint_ge(d.idle_ns, 100 * MS);
  ck_assert_int_eq(post_int(uva_actor_port(&actor), -1), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, 0);
  assert_actors_ok();
}
END_TEST

/* Inside the actor: measuring from main; busy in main, then idle waiting for a timer. */
typedef struct {
  uva_elu_t start, after_work, after_wait;
  uv_timer_t timer;
  uva_self_t *self;
} self_elu_t;

static void on_self_timer(uv_timer_t *timer) {
  self_elu_t *t = timer->data;

  ACTOR_CHECK(uva_self_elu(t->self, &t->after_wait) == 0);
  uv_close((uv_handle_t *)timer, NULL);
}

static int self_elu_main(uva_self_t *self) {
  self_elu_t *t = uva_self_arg(self);
  uint64_t until;

  t->self = self;
  ACTOR_CHECK(uva_self_elu(self, &t->start) == 0);
  until = uv_hrtime() + 100 * MS; /* after the first look: its clock starts the measure */
  while (uv_hrtime() < until)
    ;
  ACTOR_CHECK(uva_self_elu(self, &t->after_work) == 0);
  uv_update_time(uva_self_loop(self)); /* the loop's clock stood still while main worked */
  ACTOR_CHECK(uv_timer_init(uva_self_loop(self), &t->timer) == 0);
  t->timer.data = t;
  ACTOR_CHECK(uv_timer_start(&t->timer, on_self_timer, 400, 0) == 0);
  return 0;
}

START_TEST(test_self_elu) {
  uva_actor_options_t options;
  self_elu_t t;
  uva_actor_t actor;
  uva_elu_t d;

  memset(&t, 0, sizeof(t));
  memset(&options, 0, sizeof(options));
  options.arg = &t;
  reset_actor_failure();
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, self_elu_main, &options), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, NULL), 0);
  assert_actors_ok();
  ck_assert_uint_eq(elu_total(&t.start), 0); /* measuring starts with the first call */
  d = elu_interval(&t.start, &t.after_work);
  ck_assert_msg(d.utilization > 0.5, "busy in main: %.3f", d.utilization);
  ck_assert_uint_ge(d.busy_ns, 100 * MS);
  d = elu_interval(&t.after_work, &t.after_wait);
  ck_assert_msg(d.utilization < 0.2, "waiting for a timer: %.3f", d.utilization);
  ck_assert_uint_ge(d.idle_ns, 300 * MS);
}
END_TEST

/* uva_elu_diff: the parts' growth and its utilization; swapped snapshots are refused; a part that seems
 * to go back (clock reads a few ns apart) counts as none. */
START_TEST(test_elu_diff) {
  uva_elu_t before = {.busy_ns = 100, .idle_ns = 200, .spin_ns = 50};
  uva_elu_t after = {.busy_ns = 400, .idle_ns = 500, .spin_ns = 350};
  uva_elu_t jitter = {.busy_ns = 99, .idle_ns = 210, .spin_ns = 50};
  uva_elu_t d;

  ck_assert_int_eq(uva_elu_diff(&before, &after, &d), 0);
  ck_assert_uint_eq(d.busy_ns, 300);
  ck_assert_uint_eq(d.idle_ns, 300);
  ck_assert_uint_eq(d.spin_ns, 300);
  ck_assert_double_eq_tol(d.utilization, 1.0 / 3, 1e-9);
  ck_assert_int_eq(uva_elu_diff(&after, &before, &d), UV_EINVAL);
  ck_assert_int_eq(uva_elu_diff(&before, &jitter, &d), 0);
  ck_assert_uint_eq(d.busy_ns, 0);
  ck_assert_uint_eq(d.idle_ns, 9);
  ck_assert_uint_eq(d.spin_ns, 0);
  ck_assert_int_eq(uva_elu_diff(&before, &before, &d), 0);
  ck_assert_uint_eq(elu_total(&d), 0);
  ck_assert_double_eq(d.utilization, 0);
  d = after; /* delta may be one of the two */
  ck_assert_int_eq(uva_elu_diff(&before, &d, &d), 0);
  ck_assert_uint_eq(d.busy_ns, 300);
}
END_TEST

/* Another thread reads while the actor ends and is joined: the figures stop with the loop, and after the
 * join the handle says UV_ESRCH. */
typedef struct {
  uva_actor_t actor;
  uv_thread_t reader;
  int reads;
  int last_err;
  uva_elu_t last;
} end_reader_t;

/* Reads as fast as it can, but lets the others run between reads: a read takes the actor's lock, which the
 * ending actor needs too, and a thread that takes a lock again at once can keep a woken waiter from it for
 * as long as it loops (valgrind, which runs one thread at a time, showed the join time out so). */
static void read_until_gone(void *arg) {
  end_reader_t *r = arg;

  do {
    r->last_err = uva_actor_elu(&r->actor, &r->last);
    r->reads++;
    sched_yield();
  } while (r->last_err == 0);
}

START_TEST(test_elu_read_while_ending) {
  end_reader_t r;
  uva_elu_t e;

  memset(&r, 0, sizeof(r));
  reset_actor_failure();
  ck_assert_int_eq(uva_actor_spawn(&r.actor, NULL, echo_start_main, NULL), 0);
  elu_when_asleep(&r.actor);
  thread_start(&r.reader, read_until_gone, &r);
  ck_assert_int_eq(post_int(uva_actor_port(&r.actor), -1), 0);
  ck_assert_int_eq(uva_actor_join(&r.actor, HANG_GUARD_MS, NULL), 0);
  thread_join(&r.reader);
  ck_assert_int_eq(r.last_err, UV_ESRCH);
  ck_assert_int_eq(uva_actor_elu(&r.actor, &e), UV_ESRCH);
  assert_actors_ok();
}
END_TEST

/* A parent with a loop: the exit event comes after the join that gives it its exit code, so from inside the
 * exit callback (and from just before it) the handle has no figures: UV_ESRCH, as stats.h says. */
typedef struct {
  int exits;
  int err_in_exit;
} exit_elu_t;

static void elu_in_exit(uva_actor_t *actor, int exit_code) {
  exit_elu_t *t = actor->data;
  uva_elu_t e;

  ck_assert_int_eq(exit_code, 3);
  t->err_in_exit = uva_actor_elu(actor, &e);
  t->exits++;
}

START_TEST(test_elu_in_exit_event) {
  uva_actor_options_t options;
  exit_elu_t t = {0};
  uva_actor_t actor;

  memset(&options, 0, sizeof(options));
  options.exit_cb = elu_in_exit;
  actor.data = &t;
  reset_actor_failure();
  ck_assert_int_eq(uva_actor_spawn(&actor, test_loop, return_three_main, &options), 0);
  uv_run(test_loop, UV_RUN_DEFAULT);
  assert_actors_ok();
  ck_assert_int_eq(t.exits, 1);
  ck_assert_int_eq(t.err_in_exit, UV_ESRCH);
}
END_TEST

/* ---- the process ------------------------------------------------------------------------------- */

static uva_process_stats_t process_stats(void) {
  uva_process_stats_t p;

  ck_assert_int_eq(uva_process_stats(&p), 0);
  return p;
}

#define ASSERT_PROCESS(p, actors_, ports_, members_, queued_) \
  do {                                                        \
    ck_assert_uint_eq((p).actors, (actors_));                 \
    ck_assert_uint_eq((p).ports, (ports_));                   \
    ck_assert_uint_eq((p).members, (members_));               \
    ck_assert_uint_eq((p).queued, (queued_));                 \
  } while (0)

/* Counts of what is made and not ended, back to zero once everything is closed and joined (every test of
 * this suite ends so; with CK_FORK=no they share this process). */
START_TEST(test_process_stats_counts) {
  uva_process_stats_t p;
  uva_broadcast_t member;
  uva_actor_t actor;
  uva_port_t a, b;
  size_t bytes;
  int code;

  reset_actor_failure();
  p = process_stats();
  ASSERT_PROCESS(p, 0, 0, 0, 0);
  ck_assert_uint_eq(p.queued_bytes, 0);
  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  bytes = post_str(&a, 10) + post_str(&a, 20) + post_str(&b, 30);
  p = process_stats();
  ASSERT_PROCESS(p, 0, 2, 0, 3);
  ck_assert_uint_eq(p.queued_bytes, bytes);
  ck_assert_int_eq(uva_broadcast_init(&member, "stats-process"), 0);
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, echo_start_main, NULL), 0);
  p = process_stats();
  ASSERT_PROCESS(p, 1, 6, 1, p.queued); /* the actor's two channels; its online event may be in flight */
  ck_assert_int_eq(post_int(uva_actor_port(&actor), -1), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, 0);
  p = process_stats();
  ASSERT_PROCESS(p, 0, 2, 1, 3);
  receive_free(&b);
  ck_assert_int_eq(uva_port_close(&a), 0); /* freeing the one message queued to a */
  p = process_stats();
  ASSERT_PROCESS(p, 0, 1, 1, 1);
  ck_assert_int_eq(uva_port_close(&b), 0);
  ck_assert_int_eq(uva_broadcast_close(&member), 0);
  p = process_stats();
  ASSERT_PROCESS(p, 0, 0, 0, 0);
  ck_assert_uint_eq(p.queued_bytes, 0);
  assert_actors_ok();
}
END_TEST

/* Spinning outside any loop is counted apart: a thread done with an actor watches for its next one before
 * it sleeps, with more than one CPU, and that time shows in spin_ns; with one CPU nothing spins. The actor
 * gets a thread made for it, which has not spun before, so it does not back off. */
START_TEST(test_process_stats_spin) {
  uint64_t before, deadline;
  uva_actor_t actor;
  int code;

  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0); /* ends the kept threads */
  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, 0), 0);
  before = process_stats().spin_ns;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, return_three_main, NULL), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, 3);
  if (uv_available_parallelism() > 1) {
    /* The thread spins after its actor, while the join returns: wait for the count, not for a time. */
    deadline = uv_hrtime() + HANG_GUARD_MS * MS;
    while (process_stats().spin_ns == before && uv_hrtime() < deadline)
      uv_sleep(1);
    ck_assert_uint_gt(process_stats().spin_ns, before);
  } else {
    ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0); /* joins the thread: what it did is counted */
    ck_assert_uint_eq(process_stats().spin_ns, before);
  }
  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, 0), 0);
}
END_TEST

/* An actor whose main joins its children spins on its own thread, outside its loop: that time is in its
 * utilization's spin_ns, not its busy_ns. With no thread kept, children on threads of their own, and the
 * test's thread not joining (a join of 0 does not spin), the actor's thread is the only one that spins, so
 * what it spun and what the process spun over the same interval are one and the same. */
typedef struct {
  uva_elu_t start, end;
  uint64_t process_start, process_end;
} join_spin_t;

static int join_children_main(uva_self_t *self) {
  join_spin_t *t = uva_self_arg(self);
  uva_actor_options_t options;
  uva_actor_t child;
  int code, i;

  memset(&options, 0, sizeof(options));
  options.flags = UVA_ACTOR_NEW_THREAD;            /* a thread that may be kept spins for its joiner's word */
  ACTOR_CHECK(uva_self_elu(self, &t->start) == 0); /* starts measuring */
  t->process_start = process_stats().spin_ns;
  for (i = 0; i < 200; i++) {
    ACTOR_CHECK(uva_actor_spawn(&child, NULL, return_three_main, &options) == 0);
    ACTOR_CHECK(uva_actor_join(&child, UVA_WAIT_FOREVER, &code) == 0 && code == 3);
  }
  t->process_end = process_stats().spin_ns;
  ACTOR_CHECK(uva_self_elu(self, &t->end) == 0);
  return 0;
}

/* Joins without spinning: polls with a wait of 0. */
static int join_polling(uva_actor_t *actor) {
  uint64_t deadline = uv_hrtime() + HANG_GUARD_MS * MS;
  int code, err;

  while ((err = uva_actor_join(actor, 0, &code)) == UV_ETIMEDOUT && uv_hrtime() < deadline)
    uv_sleep(1);
  ck_assert_int_eq(err, 0);
  return code;
}

START_TEST(test_elu_counts_join_spin) {
  uva_actor_options_t options;
  uva_actor_t actor;
  join_spin_t t;

  memset(&t, 0, sizeof(t));
  memset(&options, 0, sizeof(options));
  options.arg = &t;
  reset_actor_failure();
  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0); /* no kept thread spins meanwhile */
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, join_children_main, &options), 0);
  ck_assert_int_eq(join_polling(&actor), 0);
  assert_actors_ok();
  ck_assert_uint_eq(t.end.spin_ns, t.process_end - t.process_start);
  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, 0), 0);
}
END_TEST

/* A receive in main with a window of a second spins in one go: a snapshot taken within the window sees that
 * time as spun, never as busy time a later snapshot takes back. */
typedef struct {
  atomic_int measuring; /* main has started measuring */
  atomic_int done;      /* main's receive has timed out */
} long_spin_t;

static int long_receive_spin_main(uva_self_t *self) {
  long_spin_t *t = uva_self_arg(self);
  uva_msg_t *msg;
  uva_elu_t elu;

  ACTOR_CHECK(uva_self_elu(self, &elu) == 0); /* starts measuring */
  atomic_store(&t->measuring, 1);
  ACTOR_CHECK(uva_port_set_spin(uva_self_port(self), 1000000) == 0);
  ACTOR_CHECK(uva_port_receive_wait(uva_self_port(self), &msg, 300) == UV_ETIMEDOUT);
  atomic_store(&t->done, 1);
  return 0;
}

START_TEST(test_elu_spin_counted_as_it_goes) {
  uva_actor_options_t options;
  uva_elu_t last, now;
  uva_actor_t actor;
  long_spin_t t;
  int snapshots = 0;
  int done;

  atomic_init(&t.measuring, 0);
  atomic_init(&t.done, 0);
  memset(&options, 0, sizeof(options));
  options.arg = &t;
  reset_actor_failure();
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, long_receive_spin_main, &options), 0);
  while (!atomic_load(&t.measuring))
    uv_sleep(1);
  memset(&last, 0, sizeof(last));
  for (;;) {
    done = atomic_load(&t.done); /* then one snapshot more: the window has closed */
    ck_assert_int_eq(uva_actor_elu(&actor, &now), 0);
    /* Back by no more than the moment between one snapshot's clock reads (a millisecond is generous). */
    ck_assert_msg(now.busy_ns + MS >= last.busy_ns, "busy went back from %llu to %llu ns",
                  (unsigned long long)last.busy_ns, (unsigned long long)now.busy_ns);
    ck_assert_uint_ge(now.spin_ns + MS, last.spin_ns); /* as much: a window closing as it is read */
    last = now;
    snapshots++;
    if (done)
      break;
    uv_sleep(1);
  }
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, NULL), 0);
  assert_actors_ok();
  ck_assert_int_gt(snapshots, 0);
}
END_TEST

/* One CPU is the thread's own affinity, read again after a spin that missed and every 64 waits: a thread
 * narrowed to one CPU after it started spinning stops (a thread made from it inherits the mask, and reads
 * it at its first spin). The warm-up is 65 waits that find nothing, which under the new mask have read it
 * again whatever their spins did; joins alone may not be: a join that finds its actor ended does not count,
 * and under valgrind most do, so a measured join could still spin on the old answer (ci, 1 window). */
START_TEST(test_spin_stops_on_one_cpu) {
  cpu_set_t all, one;
  uva_actor_t actor;
  uva_port_t a, b;
  uva_msg_t *msg;
  uint64_t before;
  int code, i;

  if (uv_available_parallelism() < 2)
    return; /* nothing to narrow */
  ck_assert_int_eq(pthread_getaffinity_np(pthread_self(), sizeof(all), &all), 0);
  CPU_ZERO(&one);
  for (i = 0; i < CPU_SETSIZE && !CPU_ISSET(i, &all); i++)
    ;
  CPU_SET(i, &one);
  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0);
  for (i = 0; i < 50; i++) { /* spinning, as before */
    ck_assert_int_eq(uva_actor_spawn(&actor, NULL, return_three_main, NULL), 0);
    ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  }
  ck_assert_int_eq(pthread_setaffinity_np(pthread_self(), sizeof(one), &one), 0);
  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  for (i = 0; i < 65; i++)
    ck_assert_int_eq(uva_port_receive_wait(&a, &msg, 1), UV_ETIMEDOUT);
  before = process_stats().spin_ns;
  for (i = 0; i < 300; i++) {
    ck_assert_int_eq(uva_actor_spawn(&actor, NULL, return_three_main, NULL), 0);
    ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
    ck_assert_int_eq(code, 3);
  }
  for (i = 0; i < 65; i++)
    ck_assert_int_eq(uva_port_receive_wait(&a, &msg, 1), UV_ETIMEDOUT);
  ck_assert_uint_eq(process_stats().spin_ns, before);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
  ck_assert_int_eq(pthread_setaffinity_np(pthread_self(), sizeof(all), &all), 0);
  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, 0), 0);
}
END_TEST

/* A forked child inherited the parent's ports and actor: none of them is its own, so none counts there,
 * and their stats are the parent's (UVA_EFORKED). The child says what it saw through a pipe. */
START_TEST(test_process_stats_forked_child) {
  uva_port_stats_t stats;
  uva_process_stats_t p;
  uva_actor_t actor;
  uva_port_t a, b;
  int fds[2];
  char verdict = 'x';
  pid_t child;
  int status;

  reset_actor_failure();
  ck_assert_int_eq(uva_channel_init(&a, &b), 0);
  post_str(&a, 1);
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, echo_start_main, NULL), 0);
  ck_assert_int_eq(pipe(fds), 0);
  child = fork();
  ck_assert_int_ge(child, 0);
  if (child == 0) {
    char seen = 'y';

    if (uva_process_stats(&p) != 0 || p.actors != 0 || p.ports != 0 || p.queued != 0)
      seen = 'c';
    else if (uva_port_stats(&b, &stats) != UVA_EFORKED)
      seen = 'p';
    else if (uva_actor_elu(&actor, &(uva_elu_t){0}) != UVA_EFORKED)
      seen = 'a';
    if (write(fds[1], &seen, 1) != 1)
      _exit(1);
    _exit(0);
  }
  close(fds[1]);
  ck_assert_int_eq(read(fds[0], &verdict, 1), 1);
  close(fds[0]);
  ck_assert_int_eq(waitpid(child, &status, 0), child);
  ck_assert_msg(verdict == 'y', "the child saw '%c'", verdict);
  p = process_stats();
  ck_assert_uint_eq(p.actors, 1);
  end_echo_actor(&actor);
  receive_free(&b);
  ck_assert_int_eq(uva_port_close(&a), 0);
  ck_assert_int_eq(uva_port_close(&b), 0);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("process", 30, NULL, NULL),
      TEST(test_process_stats_counts),
      TEST(test_process_stats_forked_child),
      TEST(test_process_stats_spin),
      TEST(test_elu_counts_join_spin),
      TEST(test_elu_spin_counted_as_it_goes),
      TEST(test_spin_stops_on_one_cpu),
      TCASE("ports", 30, loop_setup, loop_teardown),
      TEST(test_port_stats_counts),
      TEST(test_port_stats_refused),
      TEST(test_port_stats_delivery_exact),
      TEST(test_port_stats_oldest_waiting),
      TEST(test_port_stats_oldest_in_batch),
      TEST(test_port_stats_travel_with_port),
      TEST(test_port_stats_any_thread),
      TEST(test_port_stats_calls_any_thread),
      TEST(test_actor_port_out),
      TEST(test_broadcast_stats_counts),
      TEST(test_elu_in_exit_event),
      TCASE("utilization", 30, NULL, NULL),
      TEST(test_elu_idle_actor),
      TEST(test_elu_busy_actor),
      TEST(test_elu_spin_apart),
      TEST(test_elu_no_spin_after_own_loop_post),
      TEST(test_self_elu),
      TEST(test_elu_diff),
      TEST(test_elu_read_while_ending),
  };

  return suite_of_rows("stats", rows, sizeof(rows) / sizeof(rows[0]));
}
