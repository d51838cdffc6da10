/* call and call-inflight: main calls an actor that answers every request at once, [seq, "ping"] answered by
 * [seq, "pong"], with a timeout on every call (5 s, as Node's twin sets a timer per call). call makes them
 * one after another (us/call, against pingpong's us/rtt on the same ports); call-inflight keeps 64 in flight
 * (calls/s). Each reply is checked against its own call's seq. */
#include "bench.h"

#define WARMUP 1000
#define INFLIGHT 64
#define CALL_TIMEOUT_MS 5000

typedef struct {
  uva_call_t call;
  uint64_t seq;
} lane_t;

typedef struct {
  uva_actor_t actor;
  lane_t lanes[INFLIGHT];
  uint64_t made;
  uint64_t done;
  uint64_t total;    /* warm-up included */
  uint64_t start_ns; /* when the timed calls began */
  uint64_t elapsed_ns;
} caller_t;

static void answer(uva_port_t *port, uva_msg_t *msg) {
  msgpack_object view;
  uint64_t seq = bench_msg_seq(msg, &view);

  (void)port;
  if (!uva_msg_is_call(msg))
    bench_fail("call: the answerer got a message that is not a call");
  bench_check(uva_msg_reply(msg, bench_seq_msg(seq, "pong", 4)), "uva_msg_reply");
  uva_msg_free(msg);
}

static int answerer_main(uva_self_t *self) {
  bench_check(uva_port_start(uva_self_port(self), uva_self_loop(self), answer, NULL), "start");
  return 0;
}

static void on_reply(uva_call_t *call, int status, uva_msg_t *reply);

static void call_next(caller_t *c, lane_t *lane) {
  lane->seq = c->made++;
  bench_check(uva_port_call(uva_actor_port(&c->actor), &lane->call, bench_seq_msg(lane->seq, "ping", 4),
                            CALL_TIMEOUT_MS, on_reply),
              "uva_port_call");
}

static void on_reply(uva_call_t *call, int status, uva_msg_t *reply) {
  lane_t *lane = (lane_t *)call;
  caller_t *c = call->data;
  msgpack_object view;

  bench_check(status, "a call");
  if (bench_msg_seq(reply, &view) != lane->seq)
    bench_fail("call: a reply that is not its call's");
  uva_msg_free(reply);
  if (++c->done == WARMUP)
    c->start_ns = uv_hrtime();
  if (c->made < c->total) {
    call_next(c, lane);
    return;
  }
  if (c->done < c->total)
    return;
  c->elapsed_ns = uv_hrtime() - c->start_ns;
  uva_port_close(uva_actor_port(&c->actor));
}

/* n timed calls after the warm-up, lanes at a time; returns the seconds they took. */
static double run_calls(uint64_t n, unsigned int lanes) {
  caller_t *c = calloc(1, sizeof(*c));
  uv_loop_t loop;
  unsigned int i;
  double seconds;

  if (c == NULL)
    bench_fail("out of memory");
  c->total = WARMUP + n;
  bench_check(uv_loop_init(&loop), "uv_loop_init");
  bench_check(uva_actor_spawn(&c->actor, &loop, answerer_main, NULL), "spawn");
  for (i = 0; i < lanes; i++) {
    c->lanes[i].call.data = c;
    call_next(c, &c->lanes[i]);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  bench_check(uv_loop_close(&loop), "uv_loop_close");
  if (c->done != c->total)
    bench_fail("call: %llu of %llu calls answered", (unsigned long long)c->done,
               (unsigned long long)c->total);
  seconds = (double)c->elapsed_ns / 1e9;
  free(c);
  return seconds;
}

void bench_call(const bench_params_t *params) {
  double seconds = run_calls(params->n, 1);

  bench_result("uvactor", "call", params->n, seconds * 1e6 / (double)params->n, "us/call");
}

void bench_call_inflight(const bench_params_t *params) {
  double seconds = run_calls(params->n, INFLIGHT);

  bench_result("uvactor", "call-inflight", params->n, (double)params->n / seconds, "calls/s");
}
