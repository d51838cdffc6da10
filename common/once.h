/* Internal: the process-wide locks and the small macros every module shares. */
#ifndef UVA_COMMON_ONCE_H
#define UVA_COMMON_ONCE_H

#include <pthread.h>

#include "uvactor/common.h"

/* A process-wide lock, ready before main() runs: no once-function, no failure to handle. libuv's uv_mutex_t
 * is a pthread_mutex_t on every system with POSIX threads, which uvactor needs. */
#define UVA__MUTEX_INITIALIZER PTHREAD_MUTEX_INITIALIZER

#define UVA__STR(x) #x
#define UVA__XSTR(x) UVA__STR(x)

#endif /* UVA_COMMON_ONCE_H */
