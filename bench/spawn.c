/* spawn: spawn an actor that posts "ready" and ends; wait for the message; join. And idle-rss: the memory an
 * actor costs while it waits. */
#include <string.h>
#include <unistd.h>

#include "bench.h"

static int ready_main(uva_self_t *self) {
  bench_check(uva_port_post(uva_self_port(self), bench_seq_msg(0, "ready", 5)), "post ready");
  return 0;
}

void bench_spawn_workload(const bench_params_t *params) {
  uva_actor_t actor;
  uint64_t start;
  uint64_t i;

  start = uv_hrtime();
  for (i = 0; i < params->n; i++) {
    bench_spawn(&actor, ready_main, NULL);
    uva_msg_free(bench_receive(&actor));
    bench_join(&actor);
  }
  bench_result("uvactor", "spawn", params->n, bench_seconds(start) * 1e6 / (double)params->n, "us/spawn");
}

/* Resident bytes of this process. */
static double rss_bytes(void) {
  long pages = 0;
  long resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");

  if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2)
    bench_fail("cannot read /proc/self/statm");
  fclose(f);
  return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static void idle_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

/* Waits on its port until the parent closes it, and says it is waiting. */
static int idle_main(uva_self_t *self) {
  bench_check(uva_port_start(uva_self_port(self), uva_self_loop(self), idle_message, NULL), "start");
  bench_check(uva_port_post(uva_self_port(self), bench_seq_msg(0, "idle", 4)), "post idle");
  return 0;
}

void bench_idle_rss(const bench_params_t *params) {
  unsigned int count = params->actors != 0 ? params->actors : 1000;
  uva_actor_t *actors = calloc(count, sizeof(*actors));
  double before;
  double after;
  unsigned int i;

  if (actors == NULL)
    bench_fail("out of memory");
  before = rss_bytes();
  for (i = 0; i < count; i++) {
    bench_spawn(&actors[i], idle_main, NULL);
    uva_msg_free(bench_receive(&actors[i]));
  }
  after = rss_bytes();
  for (i = 0; i < count; i++) {
    bench_check(uva_port_close(uva_actor_port(&actors[i])), "close");
    bench_join(&actors[i]);
  }
  free(actors);
  bench_result("uvactor", "idle-rss", count, (after - before) / count / 1024, "KiB/actor");
}
