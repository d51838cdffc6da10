/* uvactor-bench: runs the workloads of BENCH.md through the public API and prints one RESULT line each. */
#include <getopt.h>
#include <string.h>

#include "bench.h"

static const bench_workload_t workloads[] = {
    {"pingpong", bench_pingpong, 100000},
    {"throughput", bench_throughput, 1000000},
    {"fanin", bench_fanin, 1000000},
    {"fanin-ports", bench_fanin_ports, 1000000},
    {"spawn", bench_spawn_workload, 200},
    {"restart", bench_restart, 200},
    {"bigmsg", bench_bigmsg, 1000},
    {"bigmsg-transfer", bench_bigmsg_transfer, 1000},
    {"ring", bench_ring, 100000},
    {"call", bench_call, 100000},
    {"call-inflight", bench_call_inflight, 200000},
    {"floor-pingpong", bench_floor_pingpong, 100000},
    {"floor-ring", bench_floor_ring, 100000},
    {"floor-spawn", bench_floor_spawn, 200},
    {"floor-throughput", bench_floor_throughput, 1000000},
    {"floor-fanin", bench_floor_fanin, 1000000},
    {"floor-fanin-ports", bench_floor_fanin_ports, 1000000},
    {"loopfloor-pingpong", bench_loopfloor_pingpong, 100000},
    {"loopfloor-ring", bench_loopfloor_ring, 100000},
    {"onecore-throughput", bench_onecore_throughput, 1000000},
    {"memcpy-bigmsg", bench_memcpy_bigmsg, 1000},
    {"stamps-bigmsg-transfer", bench_stamps_bigmsg_transfer, 1000},
    {"tpool-empty", bench_tpool_empty, 200000},
    {"queuework-empty", bench_queuework_empty, 200000},
    {"tpool-cpu", bench_tpool_cpu, 96},
    {"thread-cpu", bench_thread_cpu, 1},
    {"tpool-bytes", bench_tpool_bytes, 20000},
    {"queuework-bytes", bench_queuework_bytes, 20000},
    {"idle-rss", bench_idle_rss, 1000},
#ifdef UVA_BENCH_REMOTE
    {"remote-pingpong", bench_remote_pingpong, 20000},
    {"remote-pingpong-loop", bench_remote_pingpong_loop, 20000},
    {"zmq-pingpong", bench_zmq_pingpong, 20000},
    {"remote-throughput", bench_remote_throughput, 1000000},
    {"zmq-throughput", bench_zmq_throughput, 1000000},
    {"remote-bigmsg", bench_remote_bigmsg, 1000},
    {"zmq-bigmsg", bench_zmq_bigmsg, 1000},
#endif
};

#define NWORKLOADS (sizeof(workloads) / sizeof(workloads[0]))
#define BIGMSG_SIZE ((size_t)1 << 20)

static void usage(FILE *out) {
  size_t i;

  fprintf(
      out,
      "usage: uvactor-bench [-n N] [-s BYTES] [-a COUNT] [-S USEC] [-q COUNT] [WORKLOAD...]\n"
      "  -n N      iterations (messages, round trips, calls, spawns, restarts, hops); default per workload\n"
      "  -s BYTES  payload size for bigmsg, bigmsg-transfer and tpool-bytes (default 1 MiB)\n"
      "  -a COUNT  actors in the ring, producers for fanin and fanin-ports (and their floors), actors for\n"
      "            idle-rss, threads of the task pool and of queuework (default: the CPUs)\n"
      "  -S USEC   pingpong and ring: loops spin up to USEC for messages before sleeping (0: never;\n"
      "            default: the library's, UVA_SPIN_DEFAULT_US); the streams' floors: their consumer does\n"
      "  -q COUNT  throughput, fanin and fanin-ports: bound each of the sink's queues to COUNT messages;\n"
      "            producers wait for room (default 0: unbounded, producers never wait)\n"
      "  -e tcp|ipc  remote-* and zmq-*: the endpoints, tcp://127.0.0.1 (default) or ipc://\n"
      "workloads (default: all but idle-rss):");
  for (i = 0; i < NWORKLOADS; i++)
    fprintf(out, " %s", workloads[i].name);
  fputc('\n', out);
}

static const bench_workload_t *find(const char *name) {
  size_t i;

  for (i = 0; i < NWORKLOADS; i++)
    if (strcmp(workloads[i].name, name) == 0)
      return &workloads[i];
  return NULL;
}

static void run(const bench_workload_t *w, const bench_params_t *given) {
  bench_params_t params = *given;

  if (params.n == 0)
    params.n = w->default_n;
  w->run(&params);
}

int main(int argc, char **argv) {
  bench_params_t params = {0, BIGMSG_SIZE, 0, -1, 0};
  const bench_workload_t *w;
  size_t i;
  int opt;

#ifdef UVA_BENCH_REMOTE
  if (argc > 1 && strcmp(argv[1], "--peer") == 0)
    return bench_peer_main(argc, argv);
#endif
  while ((opt = getopt(argc, argv, "n:s:a:S:q:e:h")) != -1) {
    switch (opt) {
    case 'n':
      params.n = strtoull(optarg, NULL, 10);
      break;
    case 's':
      params.size = strtoull(optarg, NULL, 10);
      break;
    case 'a':
      params.actors = (unsigned int)strtoul(optarg, NULL, 10);
      break;
    case 'S':
      params.spin_us = (int)strtol(optarg, NULL, 10);
      break;
    case 'q':
      params.queue = strtoull(optarg, NULL, 10);
      break;
    case 'e':
#ifdef UVA_BENCH_REMOTE
      if (strcmp(optarg, "tcp") != 0 && strcmp(optarg, "ipc") != 0)
        bench_fail("-e: tcp or ipc");
      bench_remote_transport = optarg;
#endif
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (params.size < 2)
    bench_fail("-s: a payload needs at least 2 bytes for its stamps");
  bench_raise_nofile();
  if (optind == argc) {
    for (i = 0; i < NWORKLOADS; i++)
      if (strcmp(workloads[i].name, "idle-rss") != 0)
        run(&workloads[i], &params);
    return 0;
  }
  for (; optind < argc; optind++) {
    w = find(argv[optind]);
    if (w == NULL) {
      usage(stderr);
      return 2;
    }
    run(w, &params);
  }
  return 0;
}
