/* Internal: watching memory for a moment before sleeping. */
#ifndef UVA_COMMON_SPIN_H
#define UVA_COMMON_SPIN_H

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

#endif /* UVA_COMMON_SPIN_H */
