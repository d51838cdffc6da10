/* What the process holds, counted in /proc: threads and descriptors, to see that nothing grows. A joined
 * thread's task may stay listed in /proc/self/task for a moment after pthread_join() returned (the kernel
 * wakes the joiner first): a thread count taken after joins is an upper bound, and threads_settle() waits
 * for one to come down. The includer defines HANG_GUARD_MS. */
#ifndef UVA_TESTS_PROC_COUNTS_H
#define UVA_TESTS_PROC_COUNTS_H

#include <dirent.h>
#include <stdint.h>
#include <unistd.h>

#include "uvactor.h"

/* The entries of a directory, or -1 if it cannot be read. */
static inline int count_dir(const char *path) {
  DIR *dir = opendir(path);
  struct dirent *d;
  int n = 0;

  if (dir == NULL)
    return -1;
  while ((d = readdir(dir)) != NULL)
    if (d->d_name[0] != '.')
      n++;
  closedir(dir);
  return n;
}

static inline int count_threads(void) {
  return count_dir("/proc/self/task");
}

static inline int count_fds(void) {
  return count_dir("/proc/self/fd");
}

/* The threads once they number expected or fewer, or at the hang guard: a condition polled, not a sleep
 * taken for proof. */
static inline int threads_settle(int expected) {
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;
  int n;

  while ((n = count_threads()) > expected && uv_hrtime() < deadline)
    usleep(1000);
  return n;
}

#endif /* UVA_TESTS_PROC_COUNTS_H */
