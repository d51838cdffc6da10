/* Internal: asking early for the lines of a message another core wrote. */
#ifndef UVA_COMMON_PREFETCH_H
#define UVA_COMMON_PREFETCH_H

/* The processor has x86's PREFETCHW (set before main() runs). */
extern int uva__prefetchw_on;

/* Asks for a line this thread is about to write, in the state a write needs. On x86 that is PREFETCHW:
 * __builtin_prefetch(p, 1) compiles to a read prefetch there unless the whole build targets it, and a line
 * fetched to be read must be taken again from the core that shares it when it is written. */
static inline void uva__prefetch_write(const void *p) {
#if defined(__x86_64__) || defined(__i386__)
  if (uva__prefetchw_on) {
    __asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
    return;
  }
#endif
  __builtin_prefetch(p, 1);
}

#endif /* UVA_COMMON_PREFETCH_H */
