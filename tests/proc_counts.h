/* What the process holds, counted in /proc: threads and descriptors, to see that nothing grows. A joined
 * thread's task may stay listed in /proc/self/task for a moment after pthread_join() returned (the kernel
 * wakes the joiner first): a thread count taken after joins is an upper bound, and threads_settle() waits
 * for one to come down. The includer defines HANG_GUARD_MS. */
#ifndef UVA_TESTS_PROC_COUNTS_H
#define UVA_TESTS_PROC_COUNTS_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
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

/* The highest descriptor this process has open below limit, or -1. (Above it are only those a tool keeps
 * out of the program's way: valgrind's own.) */
static inline int highest_fd(rlim_t limit) {
  DIR *dir = opendir("/proc/self/fd");
  struct dirent *d;
  int top = -1;
  int fd;

  if (dir == NULL)
    return -1;
  while ((d = readdir(dir)) != NULL)
    if (d->d_name[0] != '.' && (fd = atoi(d->d_name)) != dirfd(dir) && fd > top && (rlim_t)fd < limit)
      top = fd;
  closedir(dir);
  return top;
}

/* Lowers the descriptor limit so that exactly k more can be opened: every free number below the highest open
 * one is taken first (/dev/null), so that holes in the table, which differ from one machine to the next,
 * leave no more than k. 0, or -1. */
static inline int leave_fds(int k) {
  struct rlimit rl;
  int top;
  int fd;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || (top = highest_fd(rl.rlim_cur)) < 0)
    return -1;
  while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && fd < top)
    ;
  if (fd < 0)
    return -1;
  close(fd); /* top + 1, the first of the k */
  rl.rlim_cur = (rlim_t)top + 1 + (rlim_t)k;
  return setrlimit(RLIMIT_NOFILE, &rl);
}

#endif /* UVA_TESTS_PROC_COUNTS_H */
