/* The worker pool: sizing libuv's one process-wide threadpool before it starts.
 *
 * libuv reads UV_THREADPOOL_SIZE once, when the first loop submits work, and offers no way to ask whether
 * that happened. So uva_pool_init() sets the variable, starts the pool itself with one empty work request,
 * and counts the process's threads before and after: if no new threads appeared, the pool was already
 * running and its size cannot change, which the caller is told (UV_EBUSY) instead of silence. The threads
 * actors leave for reuse (threads.c) are held meanwhile: one ending by itself in between would make a new
 * pool look like a running one. */
#include <stdio.h>
#include <stdlib.h>

#include "actors/actor.h"

#define POOL_MAX 1024  /* libuv's own cap */
#define POOL_DEFAULT 4 /* libuv's default */

static uv_mutex_t pool_lock = UVA__MUTEX_INITIALIZER;

static void pool_after_fork(void) {
  UVA__MUTEX_RESET(pool_lock);
}

UVA__AFTER_FORK(pool_after_fork)
static unsigned int pool_size_set; /* [pool_lock] 0 until uva_pool_init() succeeds */
static int pool_started;           /* [pool_lock] uva_pool_init() started it, or found it running */

/* Threads in this process, or -1 where the system does not say. */
static long thread_count(void) {
  char line[256];
  long n = -1;
  FILE *f;

  f = fopen("/proc/self/status", "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "Threads: %ld", &n) == 1)
      break;
  fclose(f);
  return n;
}

static void noop_work(uv_work_t *req) {
  (void)req;
}

/* Makes libuv start its pool: one empty request on a private loop. */
static int pool_start(void) {
  uv_loop_t loop;
  uv_work_t req;
  int err;

  err = uv_loop_init(&loop);
  if (err != 0)
    return err;
  err = uv_queue_work(&loop, &req, noop_work, NULL);
  if (err == 0)
    uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return err;
}

int uva_pool_init(unsigned int size) {
  char *old = NULL;
  char value[16];
  long before;
  long after;
  int err;

  if (size == 0 || size > POOL_MAX)
    return UV_EINVAL;
  uv_mutex_lock(&pool_lock);
  if (pool_started) {
    err = UV_EBUSY;
    goto out;
  }
  /* The old value comes back if the pool turns out to run already: a failed call changes nothing. */
  old = getenv("UV_THREADPOOL_SIZE");
  if (old != NULL && (old = strdup(old)) == NULL) {
    err = UV_ENOMEM;
    goto out;
  }
  snprintf(value, sizeof(value), "%u", size);
  if (setenv("UV_THREADPOOL_SIZE", value, 1) != 0) {
    err = UV_ENOMEM;
    goto restore;
  }
  uva__threads_hold(); /* no kept actor thread ends by itself while the threads are counted */
  before = thread_count();
  err = pool_start();
  after = thread_count();
  uva__threads_release();
  if (err != 0)
    goto restore;
  pool_started = 1;
  if (before >= 0 && after - before < (long)size) {
    err = UV_EBUSY;
    goto restore;
  }
  pool_size_set = size;
  goto out;
restore:
  if (old != NULL)
    setenv("UV_THREADPOOL_SIZE", old, 1);
  else
    unsetenv("UV_THREADPOOL_SIZE");
out:
  free(old);
  uv_mutex_unlock(&pool_lock);
  return err;
}

unsigned int uva_pool_size(void) {
  unsigned int size;
  const char *env;
  unsigned int n;

  uv_mutex_lock(&pool_lock);
  size = pool_size_set;
  uv_mutex_unlock(&pool_lock);
  if (size != 0)
    return size;
  env = getenv("UV_THREADPOOL_SIZE");
  if (env == NULL)
    return POOL_DEFAULT;
  /* As libuv 1.44 reads it: atoi into an unsigned int, so a negative value is huge and gets the cap. */
  n = (unsigned int)atoi(env);
  return n == 0 ? 1 : n > POOL_MAX ? POOL_MAX : n;
}
