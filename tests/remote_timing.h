/* The remote tests' heartbeats and hang guards, and where their nodes' transports run.
 *
 * Heartbeats and hang guards: short, so that a lost peer shows within a second, and
 * longer in a sanitized build (CK_TIMEOUT_MULTIPLIER, which tests/local.mk sets to 10 there) and under
 * valgrind (UVA_VALGRIND, which make check-valgrind sets), up to 10 times, where a loaded machine may stall a
 * transport's thread for longer than a plain build's timeout. */
#ifndef UVA_TESTS_REMOTE_TIMING_H
#define UVA_TESTS_REMOTE_TIMING_H

#include <stdlib.h>

static inline unsigned int remote_slowdown(void) {
  const char *v = getenv("CK_TIMEOUT_MULTIPLIER");
  int m = v != NULL ? atoi(v) : 1;

  if (getenv("UVA_VALGRIND") != NULL)
    m = 10;
  return m < 1 ? 1 : m > 10 ? 10 : (unsigned int)m;
}

/* Whether nodes run their transport on their own loops (uva_node_options_t.on_loop): test_remote_loop says
 * so, to itself and to the remote_node processes it starts. */
static inline int remote_on_loop(void) {
  return getenv("UVA_TEST_ON_LOOP") != NULL;
}

#endif /* UVA_TESTS_REMOTE_TIMING_H */
