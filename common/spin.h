/* Internal: watching memory for a moment before sleeping. */
#ifndef UVA_COMMON_SPIN_H
#define UVA_COMMON_SPIN_H

#include <stdatomic.h>
#include <stdint.h>

/* One step of a spin: tells the CPU the thread is waiting on memory, which lets its sibling hyperthread run
 * and saves the pipeline flush when the value changes. */
static inline void uva__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* A spinner whose spins keep missing (what it waits for comes later than the window, or the thread that
 * would bring it has no core to run on while the spin holds one) sleeps at once for its next 1, 3, 7 ... up
 * to 63 waits before it spins again, so a spin costs little where it does not pay. */
#define UVA__SPIN_MISS_SHIFT_MAX 6

typedef struct {
  unsigned int misses; /* spins in a row that ended with nothing */
  unsigned int skip;   /* waits left that sleep at once */
} uva__spin_backoff_t;

/* Whether this wait sleeps at once, backing off (and counts it). */
static inline int uva__spin_backoff_skip(uva__spin_backoff_t *b) {
  if (b->skip == 0)
    return 0;
  b->skip--;
  return 1;
}

/* A spin ended: hit, what it waited for came within it. */
static inline void uva__spin_backoff_done(uva__spin_backoff_t *b, int hit) {
  if (hit) {
    b->misses = 0;
    return;
  }
  if (b->misses < UVA__SPIN_MISS_SHIFT_MAX)
    b->misses++;
  b->skip = (1u << b->misses) - 1;
}

/* A wait outside any loop (a kept thread watching for its next actor, a join watching for the actor's end,
 * a blocking receive watching its queue) watches, without its lock, until ready(arg) or for ns, whichever
 * comes first, unless backoff says its spins keep missing: a wakeup costs both threads more than that
 * moment when what they wait for is that close. Never with one CPU (the thread's own affinity, read again
 * after a spin that missed), where the spin would only hold up the thread it waits for. The time spun is
 * counted in uva__spun_ns() and in the thread's account (uva__spin_set_account()). */
void uva__spin(uint64_t ns, uva__spin_backoff_t *backoff, int (*ready)(const void *arg), const void *arg);

/* How long uva__spin() has spun in this process (uva_process_stats_t.spin_ns): neither work nor idleness. */
uint64_t uva__spun_ns(void);

/* What one thread has spun, for other threads to read at any moment (uva_actor_elu()): its closed windows,
 * and when its open one, if any, began, so that a reader counts an open window up to its own clock. A window
 * may last a second (uva_port_set_spin()); counted only once closed, a snapshot within it would show it as
 * busy time and a later one take that back. Its one writer is the thread; seq (odd while it writes) lets a
 * reader take spun and since as one. */
typedef struct {
  atomic_uint seq;
  _Atomic uint64_t spun;  /* closed windows, ns */
  _Atomic uint64_t since; /* uv_hrtime() when the open window began; 0: none is open */
} uva__spin_account_t;

void uva__spin_account_init(uva__spin_account_t *account);

/* Any thread. What the account's thread has spun, its open window counted until now (uv_hrtime(), the
 * reader's own clock read, so that its other figures and this one are of one moment). */
uint64_t uva__spin_account_read(uva__spin_account_t *account, uint64_t now);

/* Where the calling thread's spins (uva__spin_watch(): its loops' windows and uva__spin()) are also counted:
 * the actor layer gives each actor's thread its actor's account, which uva_actor_elu() subtracts from busy
 * time; NULL: nowhere. */
void uva__spin_set_account(uva__spin_account_t *account);

/* One window: watches, spinning, until ready(arg) or deadline (uv_hrtime()), counted in the calling
 * thread's account as it lasts. Returns whether ready(arg) came, and in *spun how long it watched. The
 * caller decides whether to spin at all (uva__spin()'s rules, or a loop's own, channel/loop.c). */
int uva__spin_watch(uint64_t deadline, int (*ready)(const void *arg), const void *arg, uint64_t *spun);

#endif /* UVA_COMMON_SPIN_H */
