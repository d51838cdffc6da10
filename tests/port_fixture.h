/* What the port suites (test_port*.c, test_broadcast*.c, test_api_regress.c, test_actor_regress.c) share: a
 * fresh loop per test, a hang guard, an assertion cheap enough for hot callbacks, and a white-box wait for a
 * thread blocked on a port. */
#ifndef UVA_TESTS_PORT_FIXTURE_H
#define UVA_TESTS_PORT_FIXTURE_H

#include <check.h>
#include <stdlib.h>

#include "channel/end.h" /* white-box: wait_until_blocked() reads the wait counters */
#include "uvactor.h"

/* ck_assert_*() records a check point each time it passes (a write to Check's pipe): in code that runs
 * thousands of times, or on a callback's hot path, only a failure reaches Check. */
#define REQUIRE(expr)                                \
  do {                                               \
    if (!(expr))                                     \
      ck_abort_msg("requirement failed: %s", #expr); \
  } while (0)

/* The loop's fairness rule (docs/ports.md): a turn delivers at most TURN_SHARE_MAX messages of one port, and
 * at least TURN_CLOCK_EVERY of a port that has them (the clock is looked at no more often). */
#define TURN_SHARE_MAX 1000
#define TURN_CLOCK_EVERY 16

/* Sanitized builds: their runtimes keep megabytes of per-thread state in static TLS, which glibc takes from
 * a thread's stack, and they report misuse (a double free) themselves. */
#include "sanitizers.h"

/* Bound for anything that waits on another thread: a hang guard, never a way to order events. */
#define HANG_GUARD_MS 10000

/* A new one per test, on the heap: with CK_FORK=no (valgrind) a failed test abandons its loop, ports and
 * all, and the next test must not initialize a loop at the same address over it. */
static uv_loop_t *test_loop;

static void loop_setup(void) {
  test_loop = malloc(sizeof(*test_loop));
  ck_assert_ptr_nonnull(test_loop);
  ck_assert_int_eq(uv_loop_init(test_loop), 0);
}

/* Each test runs its loop until its last port closed; a handle left behind makes uv_loop_close() fail. The
 * loop is not run here: after a failed test (CK_FORK=no) it would call into ports whose stack is gone. */
static void loop_teardown(void) {
  ck_assert_int_eq(uv_loop_close(test_loop), 0);
  free(test_loop);
}

/* White-box: waits until a thread is blocked on end's queue: waiting for a message in it (readers) or for
 * room in it (writers, posting from the peer). */
static inline void wait_until_end_blocked(uva__end_t *end, int writers) {
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;
  unsigned int waiting;

  for (;;) {
    uv_mutex_lock(&end->lock);
    waiting = writers ? end->writers_waiting : end->readers_waiting;
    uv_mutex_unlock(&end->lock);
    if (waiting > 0)
      return;
    REQUIRE(uv_hrtime() < deadline);
    uv_sleep(1);
  }
}

/* The same for a port's queue. */
static inline void wait_until_blocked(const uva_port_t *port, int writers) {
  wait_until_end_blocked(port->end_, writers);
}

#endif /* UVA_TESTS_PORT_FIXTURE_H */
