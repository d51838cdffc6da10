/* Shared pieces of the benchmark tool. */
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "bench.h"

void bench_result(const char *peer, const char *workload, uint64_t n, double value, const char *unit) {
  printf("RESULT peer=%s workload=%s n=%llu value=%.6g unit=%s\n", peer, workload, (unsigned long long)n,
         value, unit);
  fflush(stdout);
}

void bench_stream_cpu(const char *peer, const char *workload, uint64_t n, double sink_cpu,
                      double producers_cpu, double seconds) {
  char line[64];

  snprintf(line, sizeof(line), "%s-sink-cpu", workload);
  bench_result(peer, line, n, sink_cpu / seconds, "cores");
  snprintf(line, sizeof(line), "%s-producers-cpu", workload);
  bench_result(peer, line, n, producers_cpu / seconds, "cores");
}

double bench_cpu_seconds(void) {
  struct timespec ts;

  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_fail(const char *fmt, ...) {
  va_list ap;

  fprintf(stderr, "uvactor-bench: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

void bench_check(int err, const char *what) {
  if (err != 0)
    bench_fail("%s: %s", what, uva_strerror(err));
}

uva_msg_t *bench_seq_msg(uint64_t seq, const char *text, size_t len) {
  msgpack_packer *pk;
  uva_msg_t *msg;

  bench_check(uva_msg_new(&msg), "uva_msg_new");
  pk = uva_msg_packer(msg);
  msgpack_pack_array(pk, 2);
  msgpack_pack_uint64(pk, seq);
  msgpack_pack_str_with_body(pk, text, len);
  return msg;
}

uint64_t bench_msg_seq(uva_msg_t *msg, msgpack_object *view) {
  bench_check(uva_msg_object(msg, view), "uva_msg_object");
  if (view->type != MSGPACK_OBJECT_ARRAY || view->via.array.size < 2 ||
      view->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    bench_fail("a message is not [seq, ...]");
  return view->via.array.ptr[0].via.u64;
}

void bench_pong(uva_port_t *port, uva_msg_t *msg) {
  msgpack_object view;
  uint64_t seq = bench_msg_seq(msg, &view);

  uva_msg_free(msg);
  bench_check(uva_port_post(port, bench_seq_msg(seq, "pong", 4)), "post pong");
}

void bench_payload_fill(unsigned char *buf, size_t size) {
  size_t j;

  for (j = 0; j < size; j++)
    buf[j] = (unsigned char)((j * 131 + 7) & 0xff);
}

void bench_payload_stamp(unsigned char *buf, size_t size, uint64_t seq) {
  buf[0] = (unsigned char)(seq % 251);
  buf[size - 1] = (unsigned char)((seq * 7) % 253);
}

int bench_payload_check(const unsigned char *buf, size_t size, uint64_t seq, int full) {
  size_t j;

  if (buf[0] != seq % 251 || buf[size - 1] != (seq * 7) % 253)
    return 0;
  if (full)
    for (j = 1; j + 1 < size; j++)
      if (buf[j] != ((j * 131 + 7) & 0xff))
        return 0;
  return 1;
}

void bench_spawn(uva_actor_t *actor, const char *name, uva_actor_main_cb main_cb, void *arg) {
  uva_actor_options_t options;

  memset(&options, 0, sizeof(options));
  options.name = name;
  options.arg = arg;
  bench_check(uva_actor_spawn(actor, NULL, main_cb, &options), "uva_actor_spawn");
}

uva_msg_t *bench_receive(uva_actor_t *actor) {
  uva_msg_t *msg;

  bench_check(uva_port_receive_wait(uva_actor_port(actor), &msg, UVA_WAIT_FOREVER), "receive");
  return msg;
}

void bench_name_thread(const char *name) {
  pthread_setname_np(pthread_self(), name);
}

void bench_join(uva_actor_t *actor) {
  int code;

  bench_check(uva_actor_join(actor, UVA_WAIT_FOREVER, &code), "uva_actor_join");
  if (code != 0)
    bench_fail("an actor exited with %d", code);
}
