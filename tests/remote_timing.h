/* The remote tests' heartbeats and hang guards: short, so that a lost peer shows within a second, and
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

#endif /* UVA_TESTS_REMOTE_TIMING_H */
