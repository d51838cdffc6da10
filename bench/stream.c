/* One-way streams into a counting actor: throughput, fanin, fanin-ports, bigmsg and bigmsg-transfer.
 *
 * Producers post [seq, payload]; seqs of producer p run from p*per to (p+1)*per - 1, so the sink checks each
 * producer's order on its own. In fanin every producer posts to the sink's own port (the mailbox pattern); in
 * fanin-ports each has a channel of its own to the sink, which it closes after its last message. The sink
 * replies once, with the count, when it has everything. A payload's
 * stamps are checked on arrival; the whole pattern of the first and last payloads after the reply, which
 * stops the clock (two byte loops over 1 MiB would otherwise weigh on a move's per-message cost). */
#include <string.h>

#include "bench.h"

typedef enum { PAYLOAD_TEXT, PAYLOAD_COPY, PAYLOAD_MOVE } payload_kind_t;

typedef struct {
  payload_kind_t kind;
  size_t size; /* payload bytes for COPY and MOVE */
  unsigned int producers;
  size_t limit;      /* -q: the bound on each of the sink's queues (0: none); producers wait for room */
  uva_port_t *ports; /* fanin-ports: the channels, producer p posting on ports[2p] to the sink's ports[2p+1];
                        NULL: every producer posts to the sink's own port */
  uint64_t per;      /* messages per producer */
  /* The sink's, from here: written on every message, so on lines of their own, or every post would fetch
   * the line of the parameters above, which the producers read, back from the sink's core. */
  uint64_t *next __attribute__((aligned(64))); /* next seq expected from each producer (lines of its own) */
  uint64_t received;
  void **taken; /* MOVE: the buffers the sink took, freed after the clock (Node leaves them to its
                   garbage collector, outside its clock; glibc would munmap each 1 MiB one) */
  const unsigned char *ends[2]; /* COPY, MOVE: the first and last payloads, for their full check */
  uva_msg_t *kept[2];           /* COPY: the messages ends[] point into, freed after that check */
  uva_port_t *parent;           /* the sink's own port, where "done" goes */
  double sink_cpu;              /* CPU seconds of the sink's thread from its start to its last message */
  double producers_cpu;         /* CPU seconds of the producers' threads while they produced */
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
    st->sink_cpu = bench_cpu_seconds() - st->sink_cpu;
    bench_check(uva_port_post(st->parent, bench_seq_msg(st->received, "done", 4)), "post done");
    /* After "done", which stops the clock; main reports only after joining us, so a mismatch exits first. */
    sink_check_ends(st);
    /* fanin-ports: each producer closes its channel after its last message, which ends the sink's loop. */
    if (st->ports == NULL)
      uva_port_close(port);
  }
}

static void sink_close(uva_port_t *port) {
  (void)port;
}

static int sink_main(uva_self_t *self) {
  stream_t *st = uva_self_arg(self);
  unsigned int p;

  st->sink_cpu = bench_cpu_seconds();
  st->parent = uva_self_port(self);
  if (st->ports == NULL) {
    st->parent->data = st;
    bench_check(uva_port_start(st->parent, uva_self_loop(self), sink_message, sink_close), "start sink");
    return 0;
  }
  for (p = 0; p < st->producers; p++) {
    st->ports[2 * p + 1].data = st;
    bench_check(uva_port_start(&st->ports[2 * p + 1], uva_self_loop(self), sink_message, sink_close),
                "start sink");
  }
  return 0;
}

typedef struct {
  stream_t *st;
  uva_port_t *port;
  unsigned int id;
  unsigned char *source; /* COPY: the pattern, stamped per message */
  unsigned char **moved; /* MOVE: one prepared buffer per message */
  double cpu;            /* CPU seconds of its thread while it produced */
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

  pr->cpu = bench_cpu_seconds();
  for (i = 0; i < pr->st->per; i++)
    bench_check(pr->st->limit != 0 ? uva_port_post_wait(pr->port, produce(pr, i), UVA_WAIT_FOREVER)
                                   : uva_port_post(pr->port, produce(pr, i)),
                "post");
  if (pr->st->ports != NULL)
    bench_check(uva_port_close(pr->port), "close");
  pr->cpu = bench_cpu_seconds() - pr->cpu;
}

/* Producers beyond the first, on threads of their own, named for perf and bench/counts.py (the first is
 * main's thread). */
static void producer_thread(void *arg) {
  bench_name_thread("producer");
  producer_run(arg);
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
  uva_actor_options_t options;
  uva_actor_t sink;
  uint64_t start;
  double seconds;
  unsigned int p;
  uint64_t i;
  uva_msg_t *done;

  st->next = aligned_alloc(64, (st->producers * sizeof(*st->next) + 63) / 64 * 64);
  st->taken = st->kind == PAYLOAD_MOVE ? calloc(st->per * st->producers, sizeof(*st->taken)) : NULL;
  if (producers == NULL || threads == NULL || st->next == NULL ||
      (st->kind == PAYLOAD_MOVE && st->taken == NULL))
    bench_fail("out of memory");
  for (p = 0; p < st->producers; p++)
    st->next[p] = p * st->per;
  /* The sink's ends are plain handles until it starts them: every channel is in place before it runs. */
  for (p = 0; st->ports != NULL && p < st->producers; p++) {
    bench_check(uva_channel_init(&st->ports[2 * p], &st->ports[2 * p + 1]), "uva_channel_init");
    bench_check(uva_port_set_limits(&st->ports[2 * p + 1], st->limit, 0), "uva_port_set_limits");
  }
  memset(&options, 0, sizeof(options));
  options.name = "sink";
  options.arg = st;
  options.max_messages = st->ports == NULL ? st->limit : 0;
  bench_check(uva_actor_spawn(&sink, NULL, sink_main, &options), "uva_actor_spawn");
  for (p = 0; p < st->producers; p++) {
    producers[p].st = st;
    producers[p].port = st->ports != NULL ? &st->ports[2 * p] : uva_actor_port(&sink);
    producers[p].id = p;
    producer_prepare(&producers[p]);
  }
  start = uv_hrtime();
  for (p = 1; p < st->producers; p++)
    bench_check(uv_thread_create(&threads[p], producer_thread, &producers[p]), "uv_thread_create");
  producer_run(&producers[0]);
  done = bench_receive(&sink);
  seconds = bench_seconds(start);
  uva_msg_free(done);
  for (p = 1; p < st->producers; p++)
    uv_thread_join(&threads[p]);
  bench_join(&sink);
  for (p = 0; p < st->producers; p++) {
    st->producers_cpu += producers[p].cpu;
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
                            unsigned int producers, int own_ports) {
  stream_t st = {0};
  double seconds;
  uint64_t n;

  if (producers == 0)
    bench_fail("%s: needs at least 1 producer", name);
  st.kind = kind;
  st.size = params->size;
  st.limit = params->queue;
  st.producers = producers;
  st.per = params->n / producers;
  st.ports = own_ports ? calloc(2 * (size_t)producers, sizeof(*st.ports)) : NULL;
  if (own_ports && st.ports == NULL)
    bench_fail("out of memory");
  n = st.per * producers;
  seconds = stream_run(&st);
  free(st.ports);
  if (kind == PAYLOAD_TEXT)
    bench_result("uvactor", name, n, (double)n / seconds, "msg/s");
  else
    bench_result("uvactor", name, n, (double)n * (double)st.size / seconds / 1e9, "GB/s");
  bench_stream_cpu("uvactor", name, n, st.sink_cpu, st.producers_cpu, seconds);
}

void bench_throughput(const bench_params_t *params) {
  stream_workload("throughput", PAYLOAD_TEXT, params, 1, 0);
}

void bench_fanin(const bench_params_t *params) {
  stream_workload("fanin", PAYLOAD_TEXT, params, params->actors != 0 ? params->actors : 2, 0);
}

void bench_fanin_ports(const bench_params_t *params) {
  stream_workload("fanin-ports", PAYLOAD_TEXT, params, params->actors != 0 ? params->actors : 2, 1);
}

void bench_bigmsg(const bench_params_t *params) {
  stream_workload("bigmsg", PAYLOAD_COPY, params, 1, 0);
}

void bench_bigmsg_transfer(const bench_params_t *params) {
  stream_workload("bigmsg-transfer", PAYLOAD_MOVE, params, 1, 0);
}
