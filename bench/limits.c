/* References for the streams: the part of each stream's cost that no second core and no wakeup is in.
 *
 * onecore-throughput: throughput's messages, posted and received by one thread, a thousand at a time. What
 * is left is the work per message itself: packing, the checks, the queue, the view, recycling. A stream
 * does the same work on two cores; what it costs above this is the cores exchanging the messages.
 *
 * memcpy-bigmsg: bigmsg's copy alone, size bytes from one stamped source into one of four buffers in turn
 * (a message body is recycled the same way). A copying post cannot beat it.
 *
 * stamps-bigmsg-transfer: bigmsg-transfer's per-message stamp checks alone, over buffers made and stamped
 * the same way and checked on another thread, with no message at all. It is what grows with the payload
 * in that workload. */
#include <string.h>

#include "bench.h"

#define ONECORE_ROUND 1000
#define MEMCPY_BUFFERS 4

void bench_onecore_throughput(const bench_params_t *params) {
  const msgpack_object *payload;
  msgpack_object view;
  uva_port_t in, out;
  uva_msg_t *msg;
  uint64_t start, seq, round, i;
  double seconds;

  bench_check(uva_channel_init(&in, &out), "uva_channel_init");
  start = uv_hrtime();
  for (seq = 0; seq < params->n; seq += round) {
    round = params->n - seq < ONECORE_ROUND ? params->n - seq : ONECORE_ROUND;
    for (i = 0; i < round; i++)
      bench_check(uva_port_post(&out, bench_seq_msg(seq + i, BENCH_TEXT, sizeof(BENCH_TEXT) - 1)), "post");
    for (i = 0; i < round; i++) {
      bench_check(uva_port_receive(&in, &msg), "receive");
      if (bench_msg_seq(msg, &view) != seq + i)
        bench_fail("onecore: message %llu out of order", (unsigned long long)(seq + i));
      payload = &view.via.array.ptr[1];
      if (payload->type != MSGPACK_OBJECT_STR || payload->via.str.size != sizeof(BENCH_TEXT) - 1)
        bench_fail("onecore: bad payload");
      uva_msg_free(msg);
    }
  }
  seconds = bench_seconds(start);
  bench_check(uva_port_close(&in), "close");
  bench_check(uva_port_close(&out), "close");
  bench_result("onecore", "throughput", params->n, (double)params->n / seconds, "msg/s");
}

void bench_memcpy_bigmsg(const bench_params_t *params) {
  unsigned char *source = malloc(params->size);
  unsigned char *bodies[MEMCPY_BUFFERS];
  uint64_t start, seq;
  double seconds;
  int i;

  if (source == NULL)
    bench_fail("out of memory");
  bench_payload_fill(source, params->size);
  for (i = 0; i < MEMCPY_BUFFERS; i++) {
    bodies[i] = malloc(params->size);
    if (bodies[i] == NULL)
      bench_fail("out of memory");
    memset(bodies[i], 0, params->size); /* mapped, as a recycled body is */
  }
  start = uv_hrtime();
  for (seq = 0; seq < params->n; seq++) {
    bench_payload_stamp(source, params->size, seq);
    memcpy(bodies[seq % MEMCPY_BUFFERS], source, params->size);
  }
  seconds = bench_seconds(start);
  if (params->n > 0 &&
      !bench_payload_check(bodies[(params->n - 1) % MEMCPY_BUFFERS], params->size, params->n - 1, 1))
    bench_fail("memcpy: the last copy is wrong");
  for (i = 0; i < MEMCPY_BUFFERS; i++)
    free(bodies[i]);
  free(source);
  bench_result("memcpy", "bigmsg", params->n, (double)params->n * (double)params->size / seconds / 1e9,
               "GB/s");
}

typedef struct {
  unsigned char **buffers;
  uint64_t n;
  size_t size;
  double seconds;
} stamps_t;

/* On a thread of its own, as the sink that checks moved buffers is: they were made on another core. */
static void stamps_check(void *arg) {
  stamps_t *st = arg;
  uint64_t start = uv_hrtime();
  uint64_t seq;

  for (seq = 0; seq < st->n; seq++)
    if (!bench_payload_check(st->buffers[seq], st->size, seq, 0))
      bench_fail("stamps: buffer %llu is wrong", (unsigned long long)seq);
  st->seconds = bench_seconds(start);
}

void bench_stamps_bigmsg_transfer(const bench_params_t *params) {
  stamps_t st = {malloc(params->n * sizeof(*st.buffers)), params->n, params->size, 0};
  uv_thread_t checker;
  uint64_t seq;

  if (st.buffers == NULL)
    bench_fail("out of memory");
  for (seq = 0; seq < st.n; seq++) {
    st.buffers[seq] = malloc(st.size);
    if (st.buffers[seq] == NULL)
      bench_fail("out of memory");
    bench_payload_fill(st.buffers[seq], st.size);
    bench_payload_stamp(st.buffers[seq], st.size, seq);
  }
  bench_check(uv_thread_create(&checker, stamps_check, &st), "uv_thread_create");
  uv_thread_join(&checker);
  for (seq = 0; seq < st.n; seq++)
    free(st.buffers[seq]);
  free(st.buffers);
  bench_result("stamps", "bigmsg-transfer", st.n, (double)st.n * (double)st.size / st.seconds / 1e9, "GB/s");
}
