/* Internal: the clocks the library reads. */
#ifndef UVA_COMMON_CLOCK_H
#define UVA_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds of a monotonic clock that advances once per system tick (1 to 10 ms): reading it costs a few
 * nanoseconds where uv_hrtime() costs tens (under a hypervisor, a hundred), so a post can afford it. */
static inline uint64_t uva__clock_coarse(void) {
  struct timespec ts;

#ifdef CLOCK_MONOTONIC_COARSE
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
  clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* UVA_COMMON_CLOCK_H */
