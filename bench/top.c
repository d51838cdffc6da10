/* uvactor-top: a busy actor system and, once a second, a table of what each actor is doing, as top shows
 * processes: its loop utilization, its queue, how fast it takes messages and how many its bounds refuse.
 *
 * The system: a gateway posts requests at a steady rate, round robin, to three workers whose requests cost
 * 1, 2 and 8 times the base cost; each worker answers a sink. With the defaults the third worker cannot keep
 * up: its utilization is near 100%, its queue sits at its bound, and the gateway's posts to it are refused
 * (the gateway sheds them). Everything the table shows is read from main's thread while the actors run,
 * through uvactor/stats.h: nothing is sent to the actors to ask.
 *
 *   uvactor-top [-t SECONDS] [-i MS] [-r RATE] [-c USEC]
 *
 * -t stops after that many seconds (CI runs it briefly); without it, Ctrl-C stops it. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uvactor.h"

#define WORKERS 3
#define QUEUE_BOUND 1000 /* messages a worker's queue may hold */
#define TICK_MS 10       /* the gateway posts a burst every tick */

static const unsigned int cost_factor[WORKERS] = {1, 2, 8};

/* Every port lives here, in main's memory: each actor is given the ones it uses (through its arg), and main
 * reads their counters from its own thread. */
typedef struct {
  uva_port_t to_worker[WORKERS]; /* the gateway posts through these */
  uva_port_t worker_in[WORKERS]; /* each worker's queue, started on its loop */
  uva_port_t to_sink[WORKERS];   /* worker i answers through to_sink[i] */
  uva_port_t sink_in[WORKERS];   /* the sink's queues */
  uint64_t rate;                 /* requests per second */
  uint64_t cost_us;              /* a request's base cost */
} system_t;

typedef struct {
  system_t *sys;
  int index; /* a worker's */
  uv_timer_t timer;
  uint64_t seq;
} role_t;

/* A row of the table: an actor, its queues, and the last snapshot of each, for the rates. */
typedef struct {
  const char *name;
  uva_actor_t actor;
  role_t role;
  uva_port_t *queues[WORKERS]; /* the ports whose in-queues are this actor's */
  int nqueues;
  uva_elu_t elu;
  uint64_t delivered;
  uint64_t refused;
} row_t;

enum { GATEWAY, WORKER1, SINK = WORKER1 + WORKERS, NROWS };

static row_t rows[NROWS];
static system_t sys;
static uv_timer_t screen_timer;
static uv_signal_t sigint;
static uint64_t start_ns, last_ns, stop_after_ns;
static unsigned int interval_ms = 1000;
static int exits;
static int stopping;

/* ---- the actors ------------------------------------------------------------------------------ */

static void post_pair(uva_port_t *port, uint64_t a, uint64_t b) {
  uva_msg_t *msg;

  if (uva_msg_new(&msg) != 0)
    return;
  msgpack_pack_array(uva_msg_packer(msg), 2);
  msgpack_pack_uint64(uva_msg_packer(msg), a);
  msgpack_pack_uint64(uva_msg_packer(msg), b);
  if (uva_port_post(port, msg) != 0)
    uva_msg_free(msg); /* a full queue sheds the request (its refusal is counted there) */
}

static void on_gateway_tick(uv_timer_t *timer) {
  role_t *role = timer->data;
  uint64_t burst = role->sys->rate * TICK_MS / 1000;
  uint64_t i;

  for (i = 0; i < burst; i++, role->seq++)
    post_pair(&role->sys->to_worker[role->seq % WORKERS], role->seq, role->sys->cost_us);
}

static int gateway_main(uva_self_t *self) {
  role_t *role = uva_self_arg(self);

  role->timer.data = role;
  if (uv_timer_init(uva_self_loop(self), &role->timer) != 0 ||
      uv_timer_start(&role->timer, on_gateway_tick, TICK_MS, TICK_MS) != 0)
    return 1;
  return 0;
}

/* A request [seq, cost]: the worker works for cost times its factor, then answers the sink. */
static void on_request(uva_port_t *port, uva_msg_t *msg) {
  role_t *role = port->data;
  msgpack_object obj;
  uint64_t until;

  if (uva_msg_object(msg, &obj) == 0 && obj.type == MSGPACK_OBJECT_ARRAY && obj.via.array.size == 2) {
    until = uv_hrtime() + obj.via.array.ptr[1].via.u64 * cost_factor[role->index] * 1000;
    while (uv_hrtime() < until)
      ;
    post_pair(&role->sys->to_sink[role->index], obj.via.array.ptr[0].via.u64, (uint64_t)role->index);
  }
  uva_msg_free(msg);
}

static int worker_main(uva_self_t *self) {
  role_t *role = uva_self_arg(self);
  uva_port_t *in = &role->sys->worker_in[role->index];

  in->data = role;
  return uva_port_start(in, uva_self_loop(self), on_request, NULL) != 0;
}

static void on_result(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

static int sink_main(uva_self_t *self) {
  role_t *role = uva_self_arg(self);
  int i;

  for (i = 0; i < WORKERS; i++)
    if (uva_port_start(&role->sys->sink_in[i], uva_self_loop(self), on_result, NULL) != 0)
      return 1;
  return 0;
}

/* ---- the table ------------------------------------------------------------------------------- */

static void print_table(void) {
  uint64_t now = uv_hrtime();
  double seconds = (double)(now - last_ns) / 1e9;
  uva_process_stats_t proc;
  uva_port_stats_t ps;
  uva_elu_t elu, d;
  int r, q;

  if (isatty(STDOUT_FILENO))
    fputs("\033[H\033[J", stdout); /* a screen, as top: home, clear */
  uva_process_stats(&proc);
  printf(
      "uvactor-top %.1fs: %" PRIu64 " actors, %" PRIu64 " ports, %" PRIu64 " messages (%.1f KiB) in flight\n",
      (double)(now - start_ns) / 1e9, proc.actors, proc.ports, proc.queued, (double)proc.queued_bytes / 1024);
  printf("%-10s %6s %6s %7s %7s %8s %9s %10s\n", "ACTOR", "BUSY%", "SPIN%", "QUEUE", "HIGH", "OLDEST", "IN/s",
         "REFUSED/s");
  for (r = 0; r < NROWS; r++) {
    row_t *row = &rows[r];
    uint64_t queued = 0, high = 0, oldest = 0, delivered = 0, refused = 0;

    if (uva_actor_elu(&row->actor, &elu) != 0 || uva_elu_diff(&row->elu, &elu, &d) != 0)
      memset(&d, 0, sizeof(d));
    row->elu = elu;
    for (q = 0; q < row->nqueues; q++) {
      if (uva_port_stats(row->queues[q], &ps) != 0)
        continue;
      queued += ps.in.queued;
      high += ps.in.high_water;
      delivered += ps.in.delivered;
      refused += ps.in.refused;
      if (ps.in.oldest_ns > oldest)
        oldest = ps.in.oldest_ns;
    }
    /* An interval before measuring started (the first screen) has no time in it: nothing to show yet. */
    if (d.busy_ns + d.idle_ns + d.spin_ns == 0)
      printf("%-10s %6s %6s", row->name, "-", "-");
    else
      printf("%-10s %6.1f %6.1f", row->name, 100 * d.utilization,
             100.0 * (double)d.spin_ns / (double)(d.busy_ns + d.idle_ns + d.spin_ns));
    printf(" %7" PRIu64 " %7" PRIu64 " %6" PRIu64 "ms %9.0f %10.0f\n", queued, high, oldest / 1000000,
           (double)(delivered - row->delivered) / seconds, (double)(refused - row->refused) / seconds);
    row->delivered = delivered;
    row->refused = refused;
  }
  fflush(stdout);
  last_ns = now;
}

/* ---- main ------------------------------------------------------------------------------------ */

static void stop(void) {
  int r;

  if (stopping)
    return;
  stopping = 1;
  uv_timer_stop(&screen_timer);
  uv_close((uv_handle_t *)&screen_timer, NULL);
  uv_close((uv_handle_t *)&sigint, NULL);
  for (r = 0; r < NROWS; r++)
    uva_actor_terminate(&rows[r].actor);
}

static void on_screen(uv_timer_t *timer) {
  (void)timer;
  print_table();
  if (stop_after_ns != 0 && uv_hrtime() - start_ns >= stop_after_ns)
    stop();
}

static void on_sigint(uv_signal_t *signal, int signum) {
  (void)signal;
  (void)signum;
  stop();
}

static void on_exit_event(uva_actor_t *actor, int exit_code) {
  (void)actor;
  (void)exit_code;
  exits++;
}

static void fail(const char *what, int err) {
  fprintf(stderr, "uvactor-top: %s: %s\n", what, uva_strerror(err));
  exit(1);
}

static void spawn_row(int r, const char *name, uva_actor_main_cb main_cb, int index) {
  uva_actor_options_t options = {.name = name, .arg = &rows[r].role, .exit_cb = on_exit_event};
  int err;

  rows[r].name = name;
  rows[r].role.sys = &sys;
  rows[r].role.index = index;
  err = uva_actor_spawn(&rows[r].actor, uv_default_loop(), main_cb, &options);
  if (err != 0)
    fail("uva_actor_spawn", err);
  uva_actor_elu(&rows[r].actor, &rows[r].elu); /* starts measuring: the first screen has a baseline */
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: uvactor-top [-t SECONDS] [-i MS] [-r RATE] [-c USEC]\n"
          "  -t SECONDS  stop after that long (default: at Ctrl-C)\n"
          "  -i MS       time between screens (default 1000)\n"
          "  -r RATE     requests per second from the gateway (default 20000)\n"
          "  -c USEC     a request's base cost; worker-3's cost 8 times that (default 20)\n");
}

int main(int argc, char **argv) {
  static const char *const worker_names[WORKERS] = {"worker-1", "worker-2", "worker-3"};
  uv_loop_t *loop = uv_default_loop();
  int err;
  int opt;
  int i;

  sys.rate = 20000;
  sys.cost_us = 20;
  while ((opt = getopt(argc, argv, "t:i:r:c:h")) != -1) {
    switch (opt) {
    case 't':
      stop_after_ns = (uint64_t)(strtod(optarg, NULL) * 1e9);
      break;
    case 'i':
      interval_ms = (unsigned int)strtoul(optarg, NULL, 10);
      break;
    case 'r':
      sys.rate = strtoull(optarg, NULL, 10);
      break;
    case 'c':
      sys.cost_us = strtoull(optarg, NULL, 10);
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (interval_ms == 0)
    interval_ms = 1000;
  for (i = 0; i < WORKERS; i++) {
    if ((err = uva_channel_init(&sys.to_worker[i], &sys.worker_in[i])) != 0 ||
        (err = uva_channel_init(&sys.to_sink[i], &sys.sink_in[i])) != 0)
      fail("uva_channel_init", err);
    uva_port_set_limits(&sys.worker_in[i], QUEUE_BOUND, 0);
    rows[WORKER1 + i].queues[0] = &sys.worker_in[i];
    rows[WORKER1 + i].nqueues = 1;
    rows[SINK].queues[i] = &sys.sink_in[i];
  }
  rows[SINK].nqueues = WORKERS;
  spawn_row(SINK, "sink", sink_main, 0);
  for (i = 0; i < WORKERS; i++)
    spawn_row(WORKER1 + i, worker_names[i], worker_main, i);
  spawn_row(GATEWAY, "gateway", gateway_main, 0); /* its queue is its parent's, which sends it nothing */

  start_ns = last_ns = uv_hrtime();
  uv_timer_init(loop, &screen_timer);
  uv_timer_start(&screen_timer, on_screen, interval_ms, interval_ms);
  uv_signal_init(loop, &sigint);
  uv_signal_start(&sigint, on_sigint, SIGINT);
  uv_run(loop, UV_RUN_DEFAULT);

  /* Every actor has ended (its exit event ran): close the ports only posted through, which no actor held. */
  for (i = 0; i < WORKERS; i++) {
    uva_port_close(&sys.to_worker[i]);
    uva_port_close(&sys.to_sink[i]);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  if (exits != NROWS || uv_loop_close(loop) != 0) {
    fprintf(stderr, "uvactor-top: %d of %d actors ended; the loop did not close\n", exits, NROWS);
    return 1;
  }
  return 0;
}
