/* Spinning outside a loop (spin.h): one rule and one count for every wait that watches before it sleeps. */
#include <stdatomic.h>
#include <uv.h>

#include "common/counter.h"
#include "common/spin.h"

static _Atomic uint64_t spun_ns; /* the time uva__spin() has spun */

/* Where this thread's spinning is counted besides (uva__spin_set_account()). */
static __thread _Atomic uint64_t *thread_account __attribute__((tls_model("initial-exec")));

/* Spins before this thread reads its CPUs again: 0, at its first spin and after one that missed, so that a
 * thread moved onto one CPU (taskset, a cpuset) stops spinning after its next miss; a thread on one CPU
 * looks again every CPUS_RECHECK waits, in case it was given more. */
#define CPUS_RECHECK 64
static __thread unsigned int cpus_recheck __attribute__((tls_model("initial-exec")));
static __thread int several_cpus __attribute__((tls_model("initial-exec")));

void uva__spin_set_account(_Atomic uint64_t *account) {
  thread_account = account;
}

uint64_t uva__spin_clock(uint64_t last) {
  uint64_t now = uv_hrtime();

  /* Only this thread writes its account; other threads read it (uva_actor_elu()), at any moment of a window
   * that may last a second: counted as it goes, so that what a reader sees spun never turns into busy time
   * and back. */
  if (thread_account != NULL)
    uva__counter_add(thread_account, (int64_t)(now - last));
  return now;
}

/* Whether the thread may run beside the one it waits for. uv_available_parallelism() reads the calling
 * thread's affinity, a system call: not on every wait. */
static int spin_allowed(void) {
  if (cpus_recheck == 0) {
    several_cpus = uv_available_parallelism() > 1;
    cpus_recheck = CPUS_RECHECK;
  }
  cpus_recheck--;
  return several_cpus;
}

void uva__spin(uint64_t ns, uva__spin_backoff_t *backoff, int (*ready)(const void *arg), const void *arg) {
  uint64_t start, now, deadline;
  int hit;

  if (ns == 0 || ready(arg) || !spin_allowed())
    return;
  if (uva__spin_backoff_skip(backoff))
    return;
  start = now = uv_hrtime();
  deadline = start + ns;
  while (!(hit = ready(arg)) && now < deadline) {
    uva__cpu_relax();
    now = uva__spin_clock(now);
  }
  atomic_fetch_add_explicit(&spun_ns, now - start, memory_order_relaxed);
  uva__spin_backoff_done(backoff, hit);
  if (!hit)
    cpus_recheck = 0;
}

uint64_t uva__spun_ns(void) {
  return atomic_load_explicit(&spun_ns, memory_order_relaxed);
}
