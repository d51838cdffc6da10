/* Internal: the process-wide locks and the small macros every module shares. */
#ifndef UVA_COMMON_ONCE_H
#define UVA_COMMON_ONCE_H

#include <pthread.h>

#include "uvactor/common.h"

/* A process-wide lock, ready before main() runs: no once-function, no failure to handle. libuv's uv_mutex_t
 * is a pthread_mutex_t on every system with POSIX threads, which uvactor needs. */
#define UVA__MUTEX_INITIALIZER PTHREAD_MUTEX_INITIALIZER

/* A lock the parent's other threads may have held at the fork stays locked in the child, where no thread
 * will ever let it go: UVA__AFTER_FORK(fn) runs fn in the child after every fork() (registered from a
 * constructor), to make such process-wide state fresh there. */
#define UVA__AFTER_FORK(fn)                                   \
  __attribute__((constructor)) static void fn##_watch(void) { \
    (void)pthread_atfork(NULL, NULL, fn);                     \
  }

/* Makes a process-wide lock unlocked again (in a forked child). */
#define UVA__MUTEX_RESET(lock) ((lock) = (uv_mutex_t)UVA__MUTEX_INITIALIZER)

#define UVA__STR(x) #x
#define UVA__XSTR(x) UVA__STR(x)

#endif /* UVA_COMMON_ONCE_H */
