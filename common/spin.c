/* Spinning outside a loop (spin.h): one rule and one count for every wait that watches before it sleeps. */
#include <stdatomic.h>
#include <uv.h>

#include "common/spin.h"

static int several_cpus = -1;    /* 1 or 0; -1: not yet known (atomic: a race sets it twice, to the same) */
static _Atomic uint64_t spun_ns; /* the time uva__spin() has spun */

void uva__spin(uint64_t ns, uva__spin_backoff_t *backoff, int (*ready)(const void *arg), const void *arg) {
  int several = __atomic_load_n(&several_cpus, __ATOMIC_RELAXED);
  uint64_t start, now, deadline;
  int hit;

  if (several < 0) { /* uv_available_parallelism() is a system call: asked once */
    several = uv_available_parallelism() > 1;
    __atomic_store_n(&several_cpus, several, __ATOMIC_RELAXED);
  }
  if (ns == 0 || !several || ready(arg))
    return;
  if (uva__spin_backoff_skip(backoff))
    return;
  start = now = uv_hrtime();
  deadline = start + ns;
  while (!(hit = ready(arg)) && now < deadline) {
    uva__cpu_relax();
    now = uv_hrtime();
  }
  atomic_fetch_add_explicit(&spun_ns, now - start, memory_order_relaxed);
  uva__spin_backoff_done(backoff, hit);
}

uint64_t uva__spun_ns(void) {
  return atomic_load_explicit(&spun_ns, memory_order_relaxed);
}
