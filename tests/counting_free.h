/* A free function for moved buffers that counts: how often it ran, and with which pointer last. */
#ifndef UVA_TESTS_COUNTING_FREE_H
#define UVA_TESTS_COUNTING_FREE_H

#include <stdlib.h>

static int frees;
static void *last_freed;

static inline void counting_free(void *ptr) {
  frees++;
  last_freed = ptr;
  free(ptr);
}

#endif /* UVA_TESTS_COUNTING_FREE_H */
