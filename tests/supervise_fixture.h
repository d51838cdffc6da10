/* What the recovery suites (test_monitor.c, test_names.c, test_supervisor.c) share: the loop fixture and hang
 * guard of port_fixture.h, checks on actor threads (actor_check.h), integer messages, an actor the test
 * steers by message, and counts of the process's threads, descriptors and heap, to see that nothing grows. */
#ifndef UVA_TESTS_SUPERVISE_FIXTURE_H
#define UVA_TESTS_SUPERVISE_FIXTURE_H

#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "actor_check.h" /* ACTOR_CHECK(), assert_actors_ok() */
#include "int_msg.h"     /* int_msg(), msg_int(), post_int() */
#include "port_fixture.h"
#include "proc_counts.h" /* count_threads(), count_fds(), threads_settle() */
#include "run_until.h"

/* ---- an actor steered by its parent -------------------------------------------------------------- */

/* What the steered actor does with the parent's message v: v >= 0 ends it with exit code v; v < 0 fails it
 * with exit code -v and the text "failed". It posts its id first, so the parent can watch it by id. */
static inline void on_steer(uva_port_t *port, uva_msg_t *msg) {
  uva_self_t *self = port->data;
  int64_t v = msg_int(msg);

  uva_msg_free(msg);
  if (v >= 0)
    uva_self_exit(self, (int)v);
  else
    uva_self_fail(self, (int)-v, "failed");
}

static inline int steered_main(uva_self_t *self) {
  uva_port_t *port = uva_self_port(self);
  int err;

  port->data = self;
  ACTOR_CHECK(uva_port_start(port, uva_self_loop(self), on_steer, NULL) == 0);
  err = post_int(port, (int64_t)uva_self_id(self));
  ACTOR_CHECK(err == 0 || err == UV_EPIPE); /* UV_EPIPE: its parent ended first (it stops it now) */
  return 0;
}

/* ---- what the process holds ---------------------------------------------------------------------- */

/* Heap bytes in use, or 0 where they cannot be told (sanitizers and valgrind have their own allocators; they
 * find leaks themselves). */
static inline size_t heap_in_use(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  if (SANITIZED)
    return 0;
  return mallinfo2().uordblks;
#else
  return 0;
#endif
}

#endif /* UVA_TESTS_SUPERVISE_FIXTURE_H */
