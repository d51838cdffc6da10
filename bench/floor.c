/* The floors: threads that pass a token through eventfds, with no queue and no serialization; and the floor
 * of spawn, a bare thread that says "ready" through an eventfd and is joined.
 *
 * The floor blocks in read() on its eventfd: one syscall per wakeup. A message passing design that sleeps
 * between messages cannot beat it; it can only come close.
 *
 * The loop floor passes the same token the same way, but each thread sleeps in a libuv loop of its own
 * with a uv_poll_t on its (non-blocking) eventfd: a wakeup is epoll_wait, the read() and a loop turn. Any
 * design built on a libuv loop per thread pays that; what uvactor costs above it is its own. */
#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bench.h"

typedef struct {
  int *fds; /* one eventfd per thread */
  unsigned int count;
  unsigned int index;
  uint64_t hops; /* total hops; the token is the number left */
} floor_thread_t;

static void pass_token(int fd, uint64_t value) {
  if (write(fd, &value, sizeof(value)) != (ssize_t)sizeof(value))
    bench_fail("floor: write failed");
}

/* The token is hops left + 1 (an eventfd cannot carry 0); at 1 the hops are done and 0... is never sent:
 * the thread holding the last hop wakes everyone with a stop value instead. */
#define STOP UINT64_C(0xfffffffffffffffe)

/* Acts on a value read from the thread's eventfd: passes the token on, or stops everyone at the last hop.
 * Returns 0 when the thread is done. */
static int take_token(const floor_thread_t *t, uint64_t token) {
  unsigned int i;

  if (token == STOP)
    return 0;
  if (token == 1) {
    for (i = 0; i < t->count; i++)
      if (i != t->index)
        pass_token(t->fds[i], STOP);
    return 0;
  }
  pass_token(t->fds[(t->index + 1) % t->count], token - 1);
  return 1;
}

/* The floor: a blocking read() per wakeup. */
static void floor_thread(void *arg) {
  floor_thread_t *t = arg;
  uint64_t token;

  bench_name_thread("floor");
  do {
    if (read(t->fds[t->index], &token, sizeof(token)) != (ssize_t)sizeof(token))
      bench_fail("floor: read failed");
  } while (take_token(t, token));
}

/* The loop floor: the token arrives in a poll callback. */
static void loop_floor_readable(uv_poll_t *poll, int status, int events) {
  const floor_thread_t *t = poll->data;
  uint64_t token;
  ssize_t got;

  (void)events;
  bench_check(status, "loopfloor: poll");
  got = read(t->fds[t->index], &token, sizeof(token));
  if (got < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (got != (ssize_t)sizeof(token))
    bench_fail("loopfloor: read failed");
  if (!take_token(t, token))
    bench_check(uv_poll_stop(poll), "uv_poll_stop"); /* nothing else is active: uv_run returns */
}

static void loop_floor_thread(void *arg) {
  floor_thread_t *t = arg;
  uv_loop_t loop;
  uv_poll_t poll;

  bench_name_thread("loopfloor");
  bench_check_in_actor(uv_loop_init(&loop), "uv_loop_init");
  bench_check(uv_poll_init(&loop, &poll, t->fds[t->index]), "uv_poll_init");
  poll.data = t;
  bench_check(uv_poll_start(&poll, UV_READABLE, loop_floor_readable), "uv_poll_start");
  bench_check(uv_run(&loop, UV_RUN_DEFAULT), "uv_run");
  uv_close((uv_handle_t *)&poll, NULL);
  bench_check(uv_run(&loop, UV_RUN_DEFAULT), "uv_run");
  bench_check(uv_loop_close(&loop), "uv_loop_close");
}

/* One kind of floor: its peer name in the RESULT line, its threads, and how their eventfds are made. */
typedef struct {
  const char *peer;
  uv_thread_cb thread;
  int efd_flags;
} floor_kind_t;

static const floor_kind_t bare_floor = {"floor", floor_thread, 0};
static const floor_kind_t loop_floor = {"loopfloor", loop_floor_thread, EFD_NONBLOCK};

static double floor_run(const floor_kind_t *kind, unsigned int count, uint64_t hops) {
  floor_thread_t *threads = calloc(count, sizeof(*threads));
  uv_thread_t *tids = calloc(count, sizeof(*tids));
  int *fds = calloc(count, sizeof(*fds));
  uint64_t start;
  double seconds;
  unsigned int i;

  if (threads == NULL || tids == NULL || fds == NULL)
    bench_fail("out of memory");
  for (i = 0; i < count; i++) {
    fds[i] = eventfd(0, EFD_CLOEXEC | kind->efd_flags);
    if (fds[i] < 0)
      bench_check_in_actor(uv_translate_sys_error(errno), "eventfd");
    threads[i] = (floor_thread_t){fds, count, i, hops};
    bench_check(uv_thread_create(&tids[i], kind->thread, &threads[i]), "uv_thread_create");
  }
  start = uv_hrtime();
  pass_token(fds[0], hops + 1);
  for (i = 0; i < count; i++)
    uv_thread_join(&tids[i]);
  seconds = bench_seconds(start);
  for (i = 0; i < count; i++)
    close(fds[i]);
  free(threads);
  free(tids);
  free(fds);
  return seconds;
}

static void floor_pingpong(const floor_kind_t *kind, const bench_params_t *params) {
  /* A round trip is two hops between two threads. */
  bench_result(kind->peer, "pingpong", params->n, floor_run(kind, 2, 2 * params->n) * 1e6 / (double)params->n,
               "us/rtt");
}

static void floor_ring(const floor_kind_t *kind, const bench_params_t *params) {
  unsigned int count = params->actors != 0 ? params->actors : 32;

  bench_result(kind->peer, "ring", params->n, floor_run(kind, count, params->n) * 1e6 / (double)params->n,
               "us/hop");
}

void bench_floor_pingpong(const bench_params_t *params) {
  floor_pingpong(&bare_floor, params);
}

void bench_floor_ring(const bench_params_t *params) {
  floor_ring(&bare_floor, params);
}

void bench_loopfloor_pingpong(const bench_params_t *params) {
  floor_pingpong(&loop_floor, params);
}

void bench_loopfloor_ring(const bench_params_t *params) {
  floor_ring(&loop_floor, params);
}

/* The spawn floor's thread: writes "ready" (1) to the eventfd it is given and ends. */
static void *spawn_floor_thread(void *arg) {
  pass_token(*(const int *)arg, 1);
  return NULL;
}

/* What spawn does with no actor: pthread_create with the system's default attributes (as an actor with no
 * stack_size), a blocking read() of the thread's "ready", pthread_join. Each read must return 1: two readies
 * in one read, or one lost, fail the run. */
void bench_floor_spawn(const bench_params_t *params) {
  int fd = eventfd(0, EFD_CLOEXEC);
  uint64_t start, i, ready;
  pthread_t thread;
  int err;

  if (fd < 0)
    bench_fail("eventfd failed");
  start = uv_hrtime();
  for (i = 0; i < params->n; i++) {
    err = pthread_create(&thread, NULL, spawn_floor_thread, &fd);
    if (err != 0)
      bench_fail("pthread_create: %s", uv_strerror(-err));
    if (read(fd, &ready, sizeof(ready)) != (ssize_t)sizeof(ready) || ready != 1)
      bench_fail("floor-spawn: spawn %llu did not say ready once", (unsigned long long)i);
    err = pthread_join(thread, NULL);
    if (err != 0)
      bench_fail("pthread_join: %s", uv_strerror(-err));
  }
  bench_result("floor", "spawn", params->n, bench_seconds(start) * 1e6 / (double)params->n, "us/spawn");
  close(fd);
}
