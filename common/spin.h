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

#endif /* UVA_COMMON_SPIN_H */
