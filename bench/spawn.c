/* spawn: spawn an actor that posts "ready" and ends; wait for the message; join. */
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
    bench_spawn(&actor, NULL, ready_main, NULL);
    uva_msg_free(bench_receive(&actor));
    bench_join(&actor);
  }
  bench_result("uvactor", "spawn", params->n, bench_seconds(start) * 1e6 / (double)params->n, "us/spawn");
}
