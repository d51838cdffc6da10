/* Checks on actor threads, for the actor suites: Check's own assertions are for the test's thread. */
#ifndef UVA_TESTS_ACTOR_CHECK_H
#define UVA_TESTS_ACTOR_CHECK_H

#include <check.h>
#include <stdatomic.h>
#include <stdint.h>

#include "uvactor.h"

/* Check's assertions belong to the test's own thread (with CK_FORK=no a failure longjmps), so an actor (a
 * task pool's worker, a supervised child) only records its first failed check, and the test asserts none at
 * its end (assert_actors_ok(): the actor suites' loop_finish() and join_ok() do). */
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

static inline void assert_actors_ok(void) {
  const char *failure = atomic_load(&actor_failure);

  ck_assert_msg(failure == NULL, "actor check failed: %s", failure);
}

static inline void reset_actor_failure(void) {
  atomic_store(&actor_failure, NULL);
}

/* An actor's stand-in for a blocking wait: spins until asked to stop; 1 if it was, 0 after 10 s. */
static inline int spin_until_stop(uva_self_t *self) {
  uint64_t deadline = uv_hrtime() + 10 * (uint64_t)1000000000;

  while (!uva_self_should_stop(self))
    if (uv_hrtime() > deadline)
      return 0;
  return 1;
}

#endif /* UVA_TESTS_ACTOR_CHECK_H */
