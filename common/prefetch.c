/* Whether the processor has PREFETCHW: every x86-64 processor of the last decade does, but older ones may
 * not, and the library is built for any. */
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "common/prefetch.h"

int uva__prefetchw_on;

#if defined(__x86_64__) || defined(__i386__)
__attribute__((constructor)) static void prefetch_probe(void) {
  unsigned int eax, ebx, ecx, edx;

  uva__prefetchw_on = __get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx) && (ecx & bit_PRFCHW) != 0;
}
#endif
