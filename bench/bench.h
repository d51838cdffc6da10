/* The benchmark tool's shared pieces: timing, the RESULT line, payloads and their checks. */
#ifndef UVA_BENCH_H
#define UVA_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "uvactor.h"

/* What a workload is asked to do. */
typedef struct {
  uint64_t n;          /* iterations: messages, round trips, spawns or hops; 0 for the default */
  size_t size;         /* payload bytes (stream workloads) */
  unsigned int actors; /* ring length, producer count, idle actors or a task pool's threads, by workload */
  int spin_us;         /* pingpong and ring: how long loops watch for messages before sleeping (0: never);
                          the streams' floors: how long their consumer does; -1: the library's default */
  size_t queue;        /* throughput, fanin and fanin-ports: the bound on each of the sink's queues, which
                          producers wait on (uva_port_post_wait); 0: unbounded, producers never wait */
} bench_params_t;

typedef struct {
  const char *name;
  void (*run)(const bench_params_t *params);
  uint64_t default_n;
} bench_workload_t;

/* Prints the line BENCH.md fixes. */
void bench_result(const char *peer, const char *workload, uint64_t n, double value, const char *unit);

/* A stream's two lines after its result, <workload>-sink-cpu and <workload>-producers-cpu: the CPU seconds
 * of its sink's thread and of its producers' threads over the run's seconds. Who had the cores: with more
 * threads than cores, a sink that gets less than one cannot keep up. */
void bench_stream_cpu(const char *peer, const char *workload, uint64_t n, double sink_cpu,
                      double producers_cpu, double seconds);

/* CPU seconds the calling thread has run. */
double bench_cpu_seconds(void);

/* Stops the run: a benchmark whose work was not done right must not report a number. */
void bench_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Fails unless err is 0; what names the call. */
void bench_check(int err, const char *what);

static inline double bench_seconds(uint64_t start_ns) {
  return (double)(uv_hrtime() - start_ns) / 1e9;
}

/* throughput's payload. */
#define BENCH_TEXT "0123456789abcdef"

/* A message [seq, text]; text is NUL-terminated. */
uva_msg_t *bench_seq_msg(uint64_t seq, const char *text, size_t len);

/* The seq of a message [seq, ...], after checking its shape; fails the run otherwise. */
uint64_t bench_msg_seq(uva_msg_t *msg, msgpack_object *view);

/* A port's message callback: answers [seq, ...] with [seq, "pong"] on the same port. */
void bench_pong(uva_port_t *port, uva_msg_t *msg);

/* bigmsg payloads (BENCH.md): byte j is (j*131+7) & 0xff, byte 0 is seq % 251, the last is (seq*7) % 253. */
void bench_payload_fill(unsigned char *buf, size_t size);
void bench_payload_stamp(unsigned char *buf, size_t size, uint64_t seq);
/* Checks the stamps, and the whole pattern when full. */
int bench_payload_check(const unsigned char *buf, size_t size, uint64_t seq, int full);

/* A loop-less actor that runs main_cb with arg; the caller joins it. name (or NULL) names its thread, so that
 * perf and /proc tell the roles of a workload's threads apart (bench/counts.py counts by thread name). */
void bench_spawn(uva_actor_t *actor, const char *name, uva_actor_main_cb main_cb, void *arg);

/* Names the calling thread (a producer's, a floor's), as the name of an actor's does. */
void bench_name_thread(const char *name);

/* Waits for the next message on the parent's port of a loop-less actor. */
uva_msg_t *bench_receive(uva_actor_t *actor);

/* Joins a loop-less actor and checks its exit code is 0. */
void bench_join(uva_actor_t *actor);

/* Scale (scale.c). Raises the soft RLIMIT_NOFILE to the hard limit: an actor holds several descriptors. */
void bench_raise_nofile(void);
/* Prints to stderr, after what, the process's descriptors, threads and mappings beside their limits. */
void bench_resources_report(const char *what);
/* bench_spawn() for the index-th of many actors: a failure reports the resources before it fails the run. */
void bench_spawn_counted(uva_actor_t *actor, const char *name, uva_actor_main_cb main_cb, void *arg,
                         unsigned int index);
/* The first message of the index-th of many actors; if it ended first (its loop could not be made), reports
 * the resources and fails the run. */
uva_msg_t *bench_receive_ready(uva_actor_t *actor, unsigned int index);
/* bench_check() inside an actor, which reports the resources first when err is out of descriptors or
 * memory. */
void bench_check_in_actor(int err, const char *what);

/* Workloads. */
void bench_pingpong(const bench_params_t *params);
void bench_throughput(const bench_params_t *params);
void bench_fanin(const bench_params_t *params);
void bench_fanin_ports(const bench_params_t *params);
void bench_bigmsg(const bench_params_t *params);
void bench_bigmsg_transfer(const bench_params_t *params);
void bench_ring(const bench_params_t *params);
void bench_call(const bench_params_t *params);
void bench_call_inflight(const bench_params_t *params);
void bench_spawn_workload(const bench_params_t *params);
void bench_restart(const bench_params_t *params);
void bench_idle_rss(const bench_params_t *params);
void bench_floor_pingpong(const bench_params_t *params);
void bench_floor_ring(const bench_params_t *params);
void bench_floor_spawn(const bench_params_t *params);
void bench_floor_throughput(const bench_params_t *params);
void bench_floor_fanin(const bench_params_t *params);
void bench_floor_fanin_ports(const bench_params_t *params);
void bench_loopfloor_pingpong(const bench_params_t *params);
void bench_loopfloor_ring(const bench_params_t *params);
void bench_onecore_throughput(const bench_params_t *params);
void bench_memcpy_bigmsg(const bench_params_t *params);
void bench_stamps_bigmsg_transfer(const bench_params_t *params);
void bench_tpool_empty(const bench_params_t *params);
void bench_queuework_empty(const bench_params_t *params);
void bench_tpool_cpu(const bench_params_t *params);
void bench_thread_cpu(const bench_params_t *params);
void bench_tpool_bytes(const bench_params_t *params);
void bench_queuework_bytes(const bench_params_t *params);

#ifdef UVA_BENCH_REMOTE
/* bench/remote.c: between two processes; the second is this binary again, run as "--peer MODE ENDPOINT". */
extern const char *bench_remote_transport; /* "tcp" or "ipc" (-e) */
void bench_remote_pingpong(const bench_params_t *params);
void bench_remote_pingpong_loop(const bench_params_t *params);
void bench_remote_throughput(const bench_params_t *params);
void bench_remote_bigmsg(const bench_params_t *params);
void bench_zmq_pingpong(const bench_params_t *params);
void bench_zmq_throughput(const bench_params_t *params);
void bench_zmq_bigmsg(const bench_params_t *params);
int bench_peer_main(int argc, char **argv);
#endif

#endif /* UVA_BENCH_H */
