/* One-way streams into a counting actor: throughput, fanin, bigmsg and bigmsg-transfer.
 *
 * Producers post [seq, payload]; seqs of producer p run from p*per to (p+1)*per - 1, so the sink checks each
 * producer's order on its own. The sink replies once, with the count, when it has everything. A payload's
 * stamps are checked on arrival; the whole pattern of the first and last payloads after the reply, which
 * stops the clock (two byte loops over 1 MiB would otherwise weigh on a move's per-message cost). */
#include <string.h>

#include "bench.h"

typedef enum { PAYLOAD_TEXT, PAYLOAD_COPY, PAYLOAD_MOVE } payload_kind_t;

typedef struct {
  payload_kind_t kind;
  size_t size; /* payload bytes for COPY and MOVE */
  unsigned int producers;
  uint64_t per;   /* messages per producer */
  uint64_t *next; /* sink: next seq expected from each producer */
  uint64_t received;
  void **taken; /* MOVE: the buffers the sink took, freed after the clock (Node leaves them to its
                   garbage collector, outside its clock; glibc would munmap each 1 MiB one) */
  const unsigned char *ends[2]; /* COPY, MOVE: the first and last payloads, for their full check */
  uva_msg_t *kept[2];           /* COPY: the messages ends[] point into, freed after that check */
} stream_t;

/* Checks a message as it arrives; returns 1 if the sink keeps it (a copied end, checked in full later). */
static int sink_check(stream_t *st, uva_msg_t *msg) {
  const msgpack_object *payload;
  msgpack_object view;
  uint64_t seq = bench_msg_seq(msg, &view);
  uint64_t p = seq / st->per;
  int end = seq == st->per - 1 ? 1 : seq == 0 ? 0 : -1; /* last, first (bigmsg has one producer) */
  void *data;
  size_t len;

  if (p >= st->producers || st->next[p] != seq)
    bench_fail("stream: message %llu out of order", (unsigned long long)seq);
  st->next[p]++;
  payload = &view.via.array.ptr[1];
  switch (st->kind) {
  case PAYLOAD_TEXT:
    if (payload->type != MSGPACK_OBJECT_STR || payload->via.str.size != sizeof(BENCH_TEXT) - 1)
      bench_fail("stream: bad payload");
    break;
  case PAYLOAD_COPY:
    if (payload->type != MSGPACK_OBJECT_BIN || payload->via.bin.size != st->size ||
        !bench_payload_check((const unsigned char *)payload->via.bin.ptr, st->size, seq, 0))
      bench_fail("bigmsg: payload %llu is wrong", (unsigned long long)seq);
    if (end >= 0) {
      st->ends[end] = (const unsigned char *)payload->via.bin.ptr;
      st->kept[end] = msg;
      return 1;
    }
    break;
  case PAYLOAD_MOVE:
    bench_check(uva_msg_take_buffer(msg, payload, &data, &len, NULL), "take buffer");
    if (len != st->size || !bench_payload_check(data, len, seq, 0))
      bench_fail("bigmsg-transfer: payload %llu is wrong", (unsigned long long)seq);
    st->taken[st->received] = data;
    if (end >= 0)
      st->ends[end] = data;
    break;
  }
  return 0;
}

/* The whole pattern of the first and last payloads (one, if they are the same message). */
static void sink_check_ends(stream_t *st) {
  int end;

  for (end = 0; end < 2; end++)
    if (st->ends[end] != NULL && !bench_payload_check(st->ends[end], st->size, end ? st->per - 1 : 0, 1))
      bench_fail("%s: payload %llu is wrong", st->kind == PAYLOAD_COPY ? "bigmsg" : "bigmsg-transfer",
                 (unsigned long long)(end ? st->per - 1 : 0));
  uva_msg_free(st->kept[0]);
  uva_msg_free(st->kept[1]);
}

static void sink_message(uva_port_t *port, uva_msg_t *msg) {
  stream_t *st = port->data;

  if (!sink_check(st, msg))
    uva_msg_free(msg);
  if (++st->received == st->per * st->producers) {
    bench_check(uva_port_post(port, bench_seq_msg(st->received, "done", 4)), "post done");
    /* After "done", which stops the clock; main reports only after joining us, so a mismatch exits first. */
    sink_check_ends(st);
    uva_port_close(port);
  }
}

static void sink_close(uva_port_t *port) {
  (void)port;
}

static int sink_main(uva_self_t *self) {
  uva_port_t *port = uva_self_port(self);

  port->data = uva_self_arg(self);
  bench_check(uva_port_start(port, uva_self_loop(self), sink_message, sink_close), "start sink");
  return 0;
}

typedef struct {
  stream_t *st;
  uva_port_t *port;
  unsigned int id;
  unsigned char *source; /* COPY: the pattern, stamped per message */
  unsigned char **moved; /* MOVE: one prepared buffer per message */
} producer_t;

static uva_msg_t *produce(producer_t *pr, uint64_t i) {
  uint64_t seq = pr->id * pr->st->per + i;
  msgpack_packer *pk;
  uva_msg_t *msg;

  if (pr->st->kind == PAYLOAD_TEXT)
    return bench_seq_msg(seq, BENCH_TEXT, sizeof(BENCH_TEXT) - 1);
  bench_check(uva_msg_new(&msg), "uva_msg_new");
  pk = uva_msg_packer(msg);
  msgpack_pack_array(pk, 2);
  msgpack_pack_uint64(pk, seq);
  if (pr->st->kind == PAYLOAD_COPY) {
    bench_payload_stamp(pr->source, pr->st->size, seq);
    msgpack_pack_bin(pk, pr->st->size);
    msgpack_pack_bin_body(pk, pr->source, pr->st->size);
  } else {
    bench_check(uva_msg_pack_buffer(msg, pr->moved[i], pr->st->size, free), "pack buffer");
  }
  return msg;
}

static void producer_run(void *arg) {
  producer_t *pr = arg;
  uint64_t i;

  for (i = 0; i < pr->st->per; i++)
    bench_check(uva_port_post(pr->port, produce(pr, i)), "post");
}

/* Payloads are made before the clock starts: a moved buffer is the sender's to fill and stamp, once; the
 * copied source is one buffer, stamped again for every message. */
static void producer_prepare(producer_t *pr) {
  uint64_t i;

  if (pr->st->kind == PAYLOAD_COPY) {
    pr->source = malloc(pr->st->size);
    if (pr->source == NULL)
      bench_fail("out of memory");
    bench_payload_fill(pr->source, pr->st->size);
  } else if (pr->st->kind == PAYLOAD_MOVE) {
    pr->moved = malloc(pr->st->per * sizeof(*pr->moved));
    for (i = 0; pr->moved != NULL && i < pr->st->per; i++) {
      pr->moved[i] = malloc(pr->st->size);
      if (pr->moved[i] == NULL)
        bench_fail("out of memory");
      bench_payload_fill(pr->moved[i], pr->st->size);
      bench_payload_stamp(pr->moved[i], pr->st->size, pr->id * pr->st->per + i);
    }
    if (pr->moved == NULL)
      bench_fail("out of memory");
  }
}

/* Runs a stream and returns its seconds; producers beyond the first run on threads of their own. */
static double stream_run(stream_t *st) {
  producer_t *producers = calloc(st->producers, sizeof(*producers));
  uv_thread_t *threads = calloc(st->producers, sizeof(*threads));
  uva_actor_t sink;
  uint64_t start;
  double seconds;
  unsigned int p;
  uint64_t i;
  uva_msg_t *done;

  st->next = calloc(st->producers, sizeof(*st->next));
  st->taken = st->kind == PAYLOAD_MOVE ? calloc(st->per * st->producers, sizeof(*st->taken)) : NULL;
  if (producers == NULL || threads == NULL || st->next == NULL ||
      (st->kind == PAYLOAD_MOVE && st->taken == NULL))
    bench_fail("out of memory");
  for (p = 0; p < st->producers; p++)
    st->next[p] = p * st->per;
  bench_spawn(&sink, sink_main, st);
  for (p = 0; p < st->producers; p++) {
    producers[p].st = st;
    producers[p].port = uva_actor_port(&sink);
    producers[p].id = p;
    producer_prepare(&producers[p]);
  }
  start = uv_hrtime();
  for (p = 1; p < st->producers; p++)
    bench_check(uv_thread_create(&threads[p], producer_run, &producers[p]), "uv_thread_create");
  producer_run(&producers[0]);
  done = bench_receive(&sink);
  seconds = bench_seconds(start);
  uva_msg_free(done);
  for (p = 1; p < st->producers; p++)
    uv_thread_join(&threads[p]);
  bench_join(&sink);
  for (p = 0; p < st->producers; p++) {
    free(producers[p].source);
    free(producers[p].moved);
  }
  for (i = 0; st->taken != NULL && i < st->per * st->producers; i++)
    free(st->taken[i]);
  free(st->taken);
  free(producers);
  free(threads);
  free(st->next);
  return seconds;
}

static void stream_workload(const char *name, payload_kind_t kind, const bench_params_t *params,
                            unsigned int producers) {
  stream_t st = {0};
  double seconds;
  uint64_t n;

  st.kind = kind;
  st.size = params->size;
  st.producers = producers;
  st.per = params->n / producers;
  n = st.per * producers;
  seconds = stream_run(&st);
  if (kind == PAYLOAD_TEXT)
    bench_result("uvactor", name, n, (double)n / seconds, "msg/s");
  else
    bench_result("uvactor", name, n, (double)n * (double)st.size / seconds / 1e9, "GB/s");
}

void bench_throughput(const bench_params_t *params) {
  stream_workload("throughput", PAYLOAD_TEXT, params, 1);
}

void bench_fanin(const bench_params_t *params) {
  stream_workload("fanin", PAYLOAD_TEXT, params, params->actors != 0 ? params->actors : 2);
}

void bench_bigmsg(const bench_params_t *params) {
  stream_workload("bigmsg", PAYLOAD_COPY, params, 1);
}

void bench_bigmsg_transfer(const bench_params_t *params) {
  stream_workload("bigmsg-transfer", PAYLOAD_MOVE, params, 1);
}
