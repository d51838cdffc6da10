/* The worker pool: sizing libuv's one process-wide threadpool before it starts.
 *
 * libuv reads UV_THREADPOOL_SIZE once, when the first loop submits work, and offers no way to ask whether
 * that happened. So uva_pool_init() sets the variable and starts the pool itself with one empty work
 * request. The thread that runs it tells whether the pool is new: if it was not among the process's threads
 * before the call, the call made it. The list of those threads is read from /proc/self/task until a
 * reading adds nothing (a reading stops short where the thread it stands on ends as it is read). Where the
 * system does not list threads, or the process has more than the list holds, the process's threads are
 * counted before and after instead: if fewer new ones appeared than asked for, the pool was already running
 * and its size cannot change, which the caller is told (UV_EBUSY) instead of silence. A count can be fooled
 * by a thread that ends meanwhile (one still counts for a moment after pthread_join() returned for it), and
 * a comparison of ids or start times by ids that wrap around and by threads made in the same clock tick:
 * neither decides where the list can. The threads actors leave for reuse (threads.c) are held from ending
 * while the threads are read.
 *
 * A forked child has a pool of its own, not yet started: libuv starts it afresh there at its first use. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
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

/* The ids of the threads that were in this process before a call, sorted: what /proc/self/task listed in
 * readings until one added none. */
#define KNOWN_MAX 4096
static long known[KNOWN_MAX]; /* [pool_lock] */
static size_t nknown;         /* [pool_lock] */

static int id_order(const void *a, const void *b) {
  long x = *(const long *)a;
  long y = *(const long *)b;

  return (x > y) - (x < y);
}

static int id_known(long id) {
  return bsearch(&id, known, nknown, sizeof(known[0]), id_order) != NULL;
}

/* Adds to known what one reading of /proc/self/task lists and it lacks: how many, or -1 where the system
 * does not list threads or they are more than known holds. */
static long read_threads(void) {
  struct dirent *entry;
  size_t sorted = nknown;
  long added = 0;
  long id;
  DIR *dir;

  dir = opendir("/proc/self/task");
  if (dir == NULL)
    return -1;
  while ((entry = readdir(dir)) != NULL) {
    id = strtol(entry->d_name, NULL, 10);
    if (id <= 0 || bsearch(&id, known, sorted, sizeof(known[0]), id_order) != NULL)
      continue;
    if (nknown == KNOWN_MAX) {
      added = -1;
      break;
    }
    known[nknown++] = id;
    added++;
  }
  closedir(dir);
  qsort(known, nknown, sizeof(known[0]), id_order);
  return added;
}

/* Reads the threads into known until a reading adds none (at most four readings): 1, or 0 where the
 * system does not list them all. */
static int know_threads(void) {
  long added;
  int readings;

  nknown = 0;
  for (readings = 0; readings < 4; readings++) {
    added = read_threads();
    if (added < 0)
      return 0;
    if (readings > 0 && added == 0)
      return 1;
  }
  return 1;
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
  long worker = -1;
  int listed;
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
  uva__threads_hold(); /* no kept actor thread ends by itself while the threads are read */
  listed = know_threads();
  before = thread_count();
  err = pool_start(&worker);
  after = thread_count();
  uva__threads_release();
  if (err != 0)
    goto restore;
  pool_started = 1;
  if (listed ? id_known(worker) : before >= 0 && after - before < (long)size) {
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
  pool_calling = 0;
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
