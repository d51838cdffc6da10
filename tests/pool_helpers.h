/* What the two pool suites (test_pool.c, test_pool_late.c) share: the pool is process-wide, so each is a
 * program of its own that counts threads and starts from a clean environment. */
#ifndef UVA_TESTS_POOL_HELPERS_H
#define UVA_TESTS_POOL_HELPERS_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "uvactor.h"

/* Threads in this process, from /proc/self/status. */
static long thread_count(void) {
  char line[256];
  long n = -1;
  FILE *f;

  f = fopen("/proc/self/status", "r");
  ck_assert_ptr_nonnull(f);
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "Threads: %ld", &n) == 1)
      break;
  fclose(f);
  ck_assert_int_gt(n, 0);
  return n;
}

static void clear_pool_env(void) {
  unsetenv("UV_THREADPOOL_SIZE");
}

static void no_op_thread(void *arg) {
  (void)arg;
}

/* Before anything: clears UV_THREADPOOL_SIZE, and starts and joins one thread, so that a helper thread a
 * sanitizer starts with the process's first thread (ThreadSanitizer does) is not counted as the pool's. */
static void before_all(void) {
  uv_thread_t thread;

  clear_pool_env();
  if (uv_thread_create(&thread, no_op_thread, NULL) == 0)
    uv_thread_join(&thread);
}

#endif /* UVA_TESTS_POOL_HELPERS_H */
