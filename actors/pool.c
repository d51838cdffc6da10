/* The worker pool: sizing libuv's one process-wide threadpool before it starts.
 *
 * libuv reads UV_THREADPOOL_SIZE once, when the first loop submits work, and offers no way to ask whether
 * that happened. So uva_pool_init() sets the variable and starts the pool itself with one empty work
 * request. The thread that runs it tells whether the pool is new (made_since()): by when it started and by
 * its id, above the last one handed out before the call if it was made since (Linux hands ids out rising).
 * Where those cannot tell (the ids wrapped around meanwhile, no /proc), the process's threads are counted
 * before and after instead: if fewer new ones appeared than asked for, the pool was already running and its
 * size cannot change, which the caller is told (UV_EBUSY) instead of silence. A count can be fooled by a
 * thread that ends meanwhile (one still counts for a moment after pthread_join() returned for it), which is
 * why it only decides where the thread cannot; the threads actors leave for reuse (threads.c) are held from
 * ending while it counts.
 *
 * A forked child has a pool of its own, not yet started: libuv starts it afresh there at its first use. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "actors/actor.h"

#define POOL_MAX 1024  /* libuv's own cap */
#define POOL_DEFAULT 4 /* libuv's default */

static uv_mutex_t pool_lock = UVA__MUTEX_INITIALIZER;
static unsigned int pool_size_set; /* [pool_lock] 0 until uva_pool_init() succeeds */
static int pool_started;           /* [pool_lock] uva_pool_init() started it, or found it running */
static int pool_calling; /* [pool_lock] a uva_pool_init() is between its first setenv() and its end */
/* A fork came then: the child may have the environment's lock, or libuv's start of the pool (its
 * pthread_once()), taken for good by a thread it does not have. */
static int pool_forsaken;

static void pool_after_fork(void) {
  UVA__MUTEX_RESET(pool_lock);
  pool_started = 0; /* libuv starts the child's pool afresh */
  pool_size_set = 0;
  if (pool_calling)
    pool_forsaken = 1;
}

UVA__AFTER_FORK(pool_after_fork)

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

/* The last thread or process id handed out in this process's namespace, or -1 where the system does not
 * say. */
static long last_id(void) {
  long id = -1;
  FILE *f;

  f = fopen("/proc/sys/kernel/ns_last_pid", "r");
  if (f == NULL)
    return -1;
  if (fscanf(f, "%ld", &id) != 1)
    id = -1;
  fclose(f);
  return id;
}

/* When the thread id of this process started, in clock ticks since boot (the 22nd field of its stat), or -1
 * where the system does not say. */
static long long thread_started(long id) {
  char path[64];
  char stat[1024];
  const char *p;
  size_t n;
  int field;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", id);
  f = fopen(path, "r");
  if (f == NULL)
    return -1;
  n = fread(stat, 1, sizeof(stat) - 1, f);
  fclose(f);
  stat[n] = '\0';
  p = strrchr(stat, ')'); /* the end of the name, which may hold anything: field 3 is after it */
  for (field = 2; p != NULL && field < 22; field++)
    p = strchr(p + 1, ' ');
  return p != NULL ? strtoll(p + 1, NULL, 10) : -1;
}

/* Now, in thread_started()'s ticks (the kernel's nsec_to_clock_t() of the boot time clock), or -1. */
static long long now_ticks(void) {
  long hz = sysconf(_SC_CLK_TCK);
  struct timespec ts;

  if (hz <= 0 || 1000000000L % hz != 0 || clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
    return -1;
  return (long long)ts.tv_sec * hz + ts.tv_nsec / (1000000000L / hz);
}

/* Whether the thread id was made since the tick start, when last was the last id handed out: 1 or 0, or -1
 * where that cannot be told. One that started in an earlier tick is old. One that started since, with an id
 * above last, is new: an old thread of that same tick with a higher id would need the ids to wrap around
 * within the tick, after it. */
static int made_since(long id, long long start, long last) {
  long long started = thread_started(id);

  if (started < 0 || start < 0)
    return -1;
  if (started < start)
    return 0;
  return last >= 0 && id > last ? 1 : -1;
}

static void note_thread_id(uv_work_t *req) {
  *(long *)req->data = (long)syscall(SYS_gettid);
}

/* Makes libuv start its pool: one request on a private loop, which notes the id of the thread that ran it in
 * *worker. */
static int pool_start(long *worker) {
  uv_loop_t loop;
  uv_work_t req;
  int err;

  err = uv_loop_init(&loop);
  if (err != 0)
    return err;
  req.data = worker;
  err = uv_queue_work(&loop, &req, note_thread_id, NULL);
  if (err == 0)
    uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return err;
}

int uva_pool_init(unsigned int size) {
  char *old = NULL;
  char value[16];
  long last, worker = -1;
  long long start;
  int made;
  long before;
  long after;
  int err;

  if (size == 0 || size > POOL_MAX)
    return UV_EINVAL;
  uv_mutex_lock(&pool_lock);
  if (pool_forsaken) {
    err = UVA_EFORKED;
    goto out;
  }
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
  pool_calling = 1;
  if (setenv("UV_THREADPOOL_SIZE", value, 1) != 0) {
    err = UV_ENOMEM;
    goto restore;
  }
  uva__threads_hold(); /* no kept actor thread ends by itself while the threads are counted */
  start = now_ticks();
  last = last_id();
  before = thread_count();
  err = pool_start(&worker);
  after = thread_count();
  uva__threads_release();
  if (err != 0)
    goto restore;
  pool_started = 1;
  made = made_since(worker, start, last);
  if (made == 0 || (made < 0 && before >= 0 && after - before < (long)size)) {
    err = UV_EBUSY;
    goto restore;
  }
  pool_size_set = size;
  pool_calling = 0;
  goto out;
restore:
  if (old != NULL)
    setenv("UV_THREADPOOL_SIZE", old, 1);
  else
    unsetenv("UV_THREADPOOL_SIZE");
  pool_calling = 0;
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
