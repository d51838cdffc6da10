/* pingpong: main <-> one actor, round trips of [seq, "ping"]; the actor answers each with [seq, "pong"]. */
#include "bench.h"

#define WARMUP 1000

typedef struct {
  uint64_t sent;
  uint64_t total;    /* warm-up included */
  uint64_t start_ns; /* when the timed trips began */
  uint64_t elapsed_ns;
} pingpong_t;

static void echo_close(uva_port_t *port) {
  (void)port;
}

static int echo_main(uva_self_t *self) {
  bench_check(uva_port_start(uva_self_port(self), uva_self_loop(self), bench_pong, echo_close), "start");
  return 0;
}

static void send_ping(uva_actor_t *actor, pingpong_t *pp) {
  bench_check(uva_port_post(uva_actor_port(actor), bench_seq_msg(pp->sent++, "ping", 4)), "post ping");
}

static void on_pong(uva_actor_t *actor, uva_msg_t *msg) {
  pingpong_t *pp = actor->data;
  msgpack_object view;

  if (bench_msg_seq(msg, &view) != pp->sent - 1)
    bench_fail("pingpong: pong out of order");
  uva_msg_free(msg);
  if (pp->sent == WARMUP)
    pp->start_ns = uv_hrtime();
  if (pp->sent < pp->total) {
    send_ping(actor, pp);
    return;
  }
  pp->elapsed_ns = uv_hrtime() - pp->start_ns;
  uva_port_close(uva_actor_port(actor));
}

void bench_pingpong(const bench_params_t *params) {
  uva_actor_options_t options = {0};
  pingpong_t pp = {0};
  uva_actor_t actor;
  uv_loop_t loop;

  pp.total = WARMUP + params->n;
  options.message_cb = on_pong;
  if (params->spin_us >= 0)
    options.spin_us = params->spin_us > 0 ? (unsigned int)params->spin_us : UVA_SPIN_OFF;
  bench_check(uv_loop_init(&loop), "uv_loop_init");
  actor.data = &pp;
  bench_check(uva_actor_spawn(&actor, &loop, echo_main, &options), "spawn");
  if (params->spin_us >= 0)
    bench_check(uva_port_set_spin(uva_actor_port(&actor), (unsigned int)params->spin_us), "spin");
  send_ping(&actor, &pp);
  uv_run(&loop, UV_RUN_DEFAULT);
  bench_check(uv_loop_close(&loop), "uv_loop_close");
  bench_result("uvactor", "pingpong", params->n, (double)pp.elapsed_ns / 1e3 / (double)params->n, "us/rtt");
}
