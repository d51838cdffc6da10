/* The floor: threads that wake each other through bare eventfds, with no queue and no serialization. A
 * message passing design that sleeps between messages cannot beat this; it can only come close. */
#include <sys/eventfd.h>
#include <unistd.h>

#include "bench.h"

typedef struct {
  int *fds;            /* one eventfd per thread */
  unsigned int count;
  unsigned int index;
  uint64_t hops;       /* total hops; the token is the number left */
} floor_thread_t;

static uint64_t wait_token(int fd) {
  uint64_t value;

  if (read(fd, &value, sizeof(value)) != (ssize_t)sizeof(value))
    bench_fail("floor: read failed");
  return value;
}

static void pass_token(int fd, uint64_t value) {
  if (write(fd, &value, sizeof(value)) != (ssize_t)sizeof(value))
    bench_fail("floor: write failed");
}

/* The token is hops left + 1 (an eventfd cannot carry 0); at 1 the hops are done and 0... is never sent:
 * the thread holding the last hop wakes everyone with a stop value instead. */
#define STOP UINT64_C(0xfffffffffffffffe)

static void floor_thread(void *arg) {
  floor_thread_t *t = arg;
  uint64_t token;
  unsigned int i;

  for (;;) {
    token = wait_token(t->fds[t->index]);
    if (token == STOP)
      return;
    if (token == 1) {
      for (i = 0; i < t->count; i++)
        if (i != t->index)
          pass_token(t->fds[i], STOP);
      return;
    }
    pass_token(t->fds[(t->index + 1) % t->count], token - 1);
  }
}

static double floor_run(unsigned int count, uint64_t hops) {
  floor_thread_t *threads = calloc(count, sizeof(*threads));
  uv_thread_t *tids = calloc(count, sizeof(*tids));
  int *fds = calloc(count, sizeof(*fds));
  uint64_t start;
  double seconds;
  unsigned int i;

  if (threads == NULL || tids == NULL || fds == NULL)
    bench_fail("out of memory");
  for (i = 0; i < count; i++) {
    fds[i] = eventfd(0, EFD_CLOEXEC);
    if (fds[i] < 0)
      bench_fail("eventfd failed");
    threads[i] = (floor_thread_t){fds, count, i, hops};
    bench_check(uv_thread_create(&tids[i], floor_thread, &threads[i]), "uv_thread_create");
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

void bench_floor_pingpong(const bench_params_t *params) {
  /* A round trip is two hops between two threads. */
  bench_result("floor", "pingpong", params->n, floor_run(2, 2 * params->n) * 1e6 / (double)params->n, "us/rtt");
}

void bench_floor_ring(const bench_params_t *params) {
  unsigned int count = params->actors != 0 ? params->actors : 32;

  bench_result("floor", "ring", params->n, floor_run(count, params->n) * 1e6 / (double)params->n, "us/hop");
}
