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

/* Inits a lock that two threads take by turns, each for a few dozen nanoseconds (a channel end's: every post
 * takes it, and the loop once a batch). glibc's adaptive mutex spins a moment for a holder running on
 * another CPU before it sleeps; a plain one sleeps at once, and the holder's unlock then makes a system call
 * to wake it, so a reader that met a poster inside the lock cost both a futex call each (perf stat,
 * throughput: 0.09 futex calls a message, against 0.0006 with this one). Elsewhere, a plain mutex. */
static inline int uva__mutex_init_adaptive(uv_mutex_t *mutex) {
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
  pthread_mutexattr_t attr;
  int err;

  err = pthread_mutexattr_init(&attr);
  if (err != 0)
    return -err;
  err = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
  if (err == 0)
    err = pthread_mutex_init(mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  return -err;
#else
  return uv_mutex_init(mutex);
#endif
}

/* Makes a process-wide lock unlocked again (in a forked child). */
#define UVA__MUTEX_RESET(lock) ((lock) = (uv_mutex_t)UVA__MUTEX_INITIALIZER)

#define UVA__STR(x) #x
#define UVA__XSTR(x) UVA__STR(x)

#endif /* UVA_COMMON_ONCE_H */
