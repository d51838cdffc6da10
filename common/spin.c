/* Spinning outside a loop (spin.h): one rule and one count for every wait that watches before it sleeps. */
#include <stdatomic.h>
#include <uv.h>

#include "common/spin.h"

static _Atomic uint64_t spun_ns; /* the time uva__spin() has spun */

/* Where this thread's spinning is counted besides (uva__spin_set_account()). */
static __thread uva__spin_account_t *thread_account __attribute__((tls_model("initial-exec")));

/* Spins before this thread reads its CPUs again: 0, at its first spin and after one that missed, so that a
 * thread moved onto one CPU (taskset, a cpuset) stops spinning after its next miss; a thread on one CPU
 * looks again every CPUS_RECHECK waits, in case it was given more. */
#define CPUS_RECHECK 64
static __thread unsigned int cpus_recheck __attribute__((tls_model("initial-exec")));
static __thread int several_cpus __attribute__((tls_model("initial-exec")));

void uva__spin_account_init(uva__spin_account_t *account) {
  atomic_init(&account->seq, 0);
  atomic_init(&account->spun, 0);
  atomic_init(&account->since, 0);
}

/* The account's thread. Sets spun and since as one, for readers (a sequence lock with one writer). */
static void account_write(uva__spin_account_t *account, uint64_t spun, uint64_t since) {
  unsigned int seq = atomic_load_explicit(&account->seq, memory_order_relaxed);

  atomic_store_explicit(&account->seq, seq + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  atomic_store_explicit(&account->spun, spun, memory_order_relaxed);
  atomic_store_explicit(&account->since, since, memory_order_relaxed);
  atomic_store_explicit(&account->seq, seq + 2, memory_order_release);
}

uint64_t uva__spin_account_read(uva__spin_account_t *account, uint64_t now) {
  unsigned int seq;
  uint64_t spun, since;

  for (;;) {
    seq = atomic_load_explicit(&account->seq, memory_order_acquire);
    spun = atomic_load_explicit(&account->spun, memory_order_relaxed);
    since = atomic_load_explicit(&account->since, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if ((seq & 1) == 0 && atomic_load_explicit(&account->seq, memory_order_relaxed) == seq)
      break;
    uva__cpu_relax(); /* the writer is between two stores */
  }
  if (since != 0 && now > since)
    spun += now - since;
  return spun;
}

void uva__spin_set_account(uva__spin_account_t *account) {
  thread_account = account;
}

int uva__spin_watch(uint64_t deadline, int (*ready)(const void *arg), const void *arg, uint64_t *spun) {
  uva__spin_account_t *account = thread_account;
  uint64_t start, now;
  int hit;

  start = now = uv_hrtime();
  if (account != NULL) /* the window is open: a reader counts it up to its own clock */
    account_write(account, atomic_load_explicit(&account->spun, memory_order_relaxed), start);
  while (!(hit = ready(arg)) && now < deadline) {
    uva__cpu_relax();
    now = uv_hrtime();
  }
  if (account != NULL)
    account_write(account, atomic_load_explicit(&account->spun, memory_order_relaxed) + (now - start), 0);
  *spun = now - start;
  return hit;
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
  uint64_t spun;
  int hit;

  if (ns == 0 || ready(arg) || !spin_allowed())
    return;
  if (uva__spin_backoff_skip(backoff))
    return;
  hit = uva__spin_watch(uv_hrtime() + ns, ready, arg, &spun);
  atomic_fetch_add_explicit(&spun_ns, spun, memory_order_relaxed);
  uva__spin_backoff_done(backoff, hit);
  if (!hit)
    cpus_recheck = 0;
}

uint64_t uva__spun_ns(void) {
  return atomic_load_explicit(&spun_ns, memory_order_relaxed);
}
