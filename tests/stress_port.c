/* Stress for channel/: many channels whose ends move between threads while messages flow both ways.
 *
 * Workers: UVA_STRESS_THREADS threads (default 4) each run their own loop, and UVA_STRESS_FEEDERS threads
 * (default 2) run none. Every data end is held by one worker at a time: started on a loop worker's loop
 * (posting from its timer, receiving in its message callback), or new in a loop-less worker (posting with
 * uva_port_post() or uva_port_post_wait(), receiving with uva_port_receive()). At random a holder posts a
 * burst of [channel, producer, seq, moved buffer] messages, closes its end, transfers it to another worker
 * (packed into a message on that worker's control channel, sometimes from inside its own message callback),
 * or creates a channel to keep about UVA_STRESS_CHANNELS (default 64) alive; a quarter of them are bounded. A
 * fifth of the ends started on a loop make it spin a few microseconds before it sleeps.
 *
 * What must hold, per channel and direction (checked at the end):
 *   posted = delivered + dropped, where posted counts posts that returned 0 and a message is dropped only
 *   when its receiving end was never started again before it closed (closed while new, or freed inside a
 *   control message): a started end delivers everything. The moved buffer's free function counts drops.
 *   Delivered in order, exactly once: seq 0, 1, 2, ... with no gap; dropped seqs are the ones after.
 *   Every end finished exactly once; a started end got exactly one close callback; every loop closes
 *   with uv_loop_close() == 0. Leaks and races are for ASan, valgrind and TSan to find.
 *
 * Runs UVA_STRESS_SECONDS (default 1; fractions allowed) with seed UVA_STRESS_SEED (default: from the
 * clock), printed first so a failure can be replayed (scheduling still varies). Speaks TAP. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "random.h"
#include "uvactor.h"

#define MAX_WORKERS 64
#define BURST_MAX 4
#define HANG_GUARD_MS 60000

/* Chances, in parts per 10000, of what a holder does with an end at each step. */
#define P_CLOSE 40
#define P_TRANSFER 80
#define P_TRANSFER_IN_CALLBACK 20
#define P_BOUNDED 2500
#define P_FREE_IN_TRANSIT 300
#define P_POST_WAIT 5000
#define P_SPIN 2000

enum { FATE_NONE, FATE_CLOSED_STARTED, FATE_CLOSED_NEW, FATE_FREED_IN_TRANSIT };

/* One channel; direction d carries what side d posts to side 1 - d. */
typedef struct {
  atomic_uint_fast64_t posted[2];
  atomic_uint_fast64_t delivered[2];
  atomic_uint_fast64_t dropped[2];
  atomic_uint_fast64_t dropped_seq_sum[2];
  atomic_uint_fast64_t errors[2]; /* out of order, duplicated, or a body that does not match */
  atomic_int close_cbs[2];        /* per side */
  atomic_int fate[2];             /* per side: how the end finished */
  atomic_int ends_done;
  /* Touched only by whoever holds the end at the time; a transfer hands them over through a queue lock. */
  uint64_t next_seq[2]; /* by the holder of side d, which posts direction d */
  uint64_t expect[2];   /* by the holder of side 1 - d, which receives direction d */
} channel_t;

/* The moved buffer every data message carries: a drop is its free function running on a posted message. */
typedef struct {
  uint32_t channel;
  uint32_t dir;
  uint64_t seq;
  int posted;
} tag_t;

typedef struct worker_s worker_t;

/* A data end held by a worker. */
typedef struct held_s {
  struct held_s *next;
  struct held_s *prev;
  uva_port_t port;
  worker_t *owner;
  uint32_t channel;
  int side;
  int closing; /* uva_port_close() called on a started end; its close callback is due */
  int blocked; /* a post found the peer full: wait for the writable callback */
} held_t;

struct worker_s {
  int index;
  int has_loop;
  uv_thread_t thread;
  uv_loop_t loop;
  uv_timer_t tick;
  uva_port_t ctl_in;  /* ports transferred to this worker arrive here */
  uva_port_t ctl_out; /* every other thread posts them here (posting is thread-safe) */
  held_t held;        /* list head */
  unsigned int nheld;
  uint64_t rng;
  int quiesced;
  int loop_close_err;
};

static struct {
  double seconds;
  uint64_t seed;
  int nloops;
  int nfeeders;
  int nworkers;
  uint32_t target_channels;
  uint32_t max_channels;
  channel_t *channels;
  atomic_uint nchannels; /* created so far */
  atomic_uint live;      /* created and not yet finished at both ends */
  atomic_int stopping;
  worker_t workers[MAX_WORKERS];
  uv_mutex_t lock; /* guards quiesced, with cond */
  uv_cond_t cond;
  int quiesced;
  atomic_uint_fast64_t transfers;
  atomic_uint_fast64_t closes;
  atomic_uint_fast64_t failures; /* API calls that returned what the contract rules out */
} g;

static void fail(const char *what, int err) {
  atomic_fetch_add(&g.failures, 1);
  fprintf(stderr, "# unexpected: %s: %s\n", what, err != 0 ? uva_err_name(err) : "");
}

#define EXPECT_OK(call)  \
  do {                   \
    int err_ = (call);   \
    if (err_ != 0)       \
      fail(#call, err_); \
  } while (0)

/* ---- small tools --------------------------------------------------------------------------------- */

static worker_t *random_worker(worker_t *w) {
  return &g.workers[next_random(&w->rng) % (uint64_t)g.nworkers];
}

static int stopping(void) {
  return atomic_load(&g.stopping);
}

static double env_number(const char *name, double fallback) {
  const char *s = getenv(name);
  return s != NULL && *s != '\0' ? strtod(s, NULL) : fallback;
}

static held_t *held_new(worker_t *w, uint32_t channel, int side) {
  held_t *h = calloc(1, sizeof(*h));

  if (h == NULL)
    abort();
  h->owner = w;
  h->channel = channel;
  h->side = side;
  h->port.data = h;
  h->prev = &w->held;
  h->next = w->held.next;
  w->held.next->prev = h;
  w->held.next = h;
  w->nheld++;
  return h;
}

static void held_free(held_t *h) {
  h->prev->next = h->next;
  h->next->prev = h->prev;
  h->owner->nheld--;
  free(h);
}

/* ---- how ends finish ----------------------------------------------------------------------------- */

static void end_finished(uint32_t channel, int side, int fate) {
  channel_t *c = &g.channels[channel];
  int none = FATE_NONE;

  if (!atomic_compare_exchange_strong(&c->fate[side], &none, fate))
    fail("an end finished twice", 0);
  if (atomic_fetch_add(&c->ends_done, 1) == 1)
    atomic_fetch_sub(&g.live, 1);
}

/* Closes an end that is not started: closed on return, and what was queued to it is dropped. */
static void close_new_end(held_t *h) {
  EXPECT_OK(uva_port_close(&h->port));
  atomic_fetch_add(&g.closes, 1);
  end_finished(h->channel, h->side, FATE_CLOSED_NEW);
  held_free(h);
}

static void close_started_end(held_t *h) {
  EXPECT_OK(uva_port_close(&h->port));
  atomic_fetch_add(&g.closes, 1);
  h->closing = 1;
}

static void on_data_close(uva_port_t *port) {
  held_t *h = port->data;

  atomic_fetch_add(&g.channels[h->channel].close_cbs[h->side], 1);
  end_finished(h->channel, h->side, FATE_CLOSED_STARTED);
  held_free(h);
}

/* ---- data messages ------------------------------------------------------------------------------- */

static void free_tag(void *ptr) {
  tag_t *tag = ptr;
  channel_t *c = &g.channels[tag->channel];

  /* A posted message freed without being received. Its end is being released by whoever held it last, so
   * expect is that holder's final word: a drop must come after everything delivered. */
  if (tag->posted) {
    if (tag->seq < c->expect[tag->dir])
      atomic_fetch_add(&c->errors[tag->dir], 1);
    atomic_fetch_add(&c->dropped[tag->dir], 1);
    atomic_fetch_add(&c->dropped_seq_sum[tag->dir], tag->seq);
  }
  free(tag);
}

/* [channel, producer, seq, moved tag]; *tagp stays valid while the message is the caller's. */
static uva_msg_t *data_msg(const held_t *h, uint64_t seq, tag_t **tagp) {
  msgpack_packer *pk;
  uva_msg_t *msg;
  tag_t *tag = malloc(sizeof(*tag));

  if (tag == NULL || uva_msg_new(&msg) != 0)
    abort();
  tag->channel = h->channel;
  tag->dir = (uint32_t)h->side;
  tag->seq = seq;
  tag->posted = 0;
  pk = uva_msg_packer(msg);
  msgpack_pack_array(pk, 4);
  msgpack_pack_uint32(pk, h->channel);
  msgpack_pack_int(pk, h->owner->index);
  msgpack_pack_uint64(pk, seq);
  EXPECT_OK(uva_msg_pack_buffer(msg, tag, sizeof(*tag), free_tag));
  *tagp = tag;
  return msg;
}

/* Posts the end's next message, waiting up to wait_ms for room (0: not at all). */
static int post_next(held_t *h, int64_t wait_ms) {
  channel_t *c = &g.channels[h->channel];
  tag_t *tag;
  uva_msg_t *msg = data_msg(h, c->next_seq[h->side], &tag);
  int err;

  tag->posted = 1; /* before the post: once it succeeds the message is no longer ours to touch */
  err = wait_ms > 0 ? uva_port_post_wait(&h->port, msg, wait_ms) : uva_port_post(&h->port, msg);
  if (err == 0) {
    c->next_seq[h->side]++;
    atomic_fetch_add(&c->posted[h->side], 1);
    return 0;
  }
  tag->posted = 0;
  uva_msg_free(msg);
  if (err != UV_EAGAIN && err != UV_ETIMEDOUT && err != UV_EPIPE)
    fail("post", err);
  return err;
}

/* Checks one received message against its channel's order and counts it. */
static void receive_data(held_t *h, uva_msg_t *msg) {
  int dir = 1 - h->side;
  channel_t *c = &g.channels[h->channel];
  msgpack_object obj;
  void *data;
  size_t len;
  tag_t *tag;

  if (uva_msg_object(msg, &obj) != 0 || obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size != 4 ||
      uva_msg_take_buffer(msg, &obj.via.array.ptr[3], &data, &len, NULL) != 0) {
    fail("a data message that does not parse", 0);
    uva_msg_free(msg);
    return;
  }
  tag = data;
  if (tag->channel != h->channel || tag->dir != (uint32_t)dir || obj.via.array.ptr[0].via.u64 != h->channel ||
      obj.via.array.ptr[2].via.u64 != tag->seq || tag->seq != c->expect[dir])
    atomic_fetch_add(&c->errors[dir], 1);
  c->expect[dir] = tag->seq + 1;
  atomic_fetch_add(&c->delivered[dir], 1);
  free(tag);
  uva_msg_free(msg);
}

/* ---- transfer ------------------------------------------------------------------------------------ */

/* Packs the end into [channel, side, port] and posts it to to's control channel; the handle is spent. */
static void transfer(held_t *h, worker_t *to) {
  msgpack_packer *pk;
  uva_msg_t *msg;
  int err;

  if (uva_msg_new(&msg) != 0)
    abort();
  pk = uva_msg_packer(msg);
  msgpack_pack_array(pk, 3);
  msgpack_pack_uint32(pk, h->channel);
  msgpack_pack_int(pk, h->side);
  err = uva_msg_pack_port(msg, &h->port);
  if (err != 0) {
    fail("uva_msg_pack_port", err);
    uva_msg_free(msg);
    return;
  }
  err = uva_port_post(&to->ctl_out, msg);
  if (err != 0) {
    /* Control channels close only after every worker stopped sending: this is a bug, but the port in
     * msg must still finish somewhere. */
    fail("post on a control channel", err);
    uva_msg_free(msg);
    end_finished(h->channel, h->side, FATE_FREED_IN_TRANSIT);
  }
  atomic_fetch_add(&g.transfers, 1);
  held_free(h);
}

static void start_data_end(held_t *h);

/* A transferred end arrives: the worker takes it (and starts it, if it runs a loop), or now and then frees
 * the message untaken, which closes the end. After stopping, every end that arrives is closed at once. */
static void receive_transfer(worker_t *w, uva_msg_t *msg) {
  msgpack_object obj;
  uint32_t channel;
  int side;
  held_t *h;

  if (uva_msg_object(msg, &obj) != 0 || obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size != 3) {
    fail("a control message that does not parse", 0);
    uva_msg_free(msg);
    return;
  }
  channel = (uint32_t)obj.via.array.ptr[0].via.u64;
  side = (int)obj.via.array.ptr[1].via.u64;
  if (chance(&w->rng, P_FREE_IN_TRANSIT)) {
    uva_msg_free(msg);
    end_finished(channel, side, FATE_FREED_IN_TRANSIT);
    return;
  }
  h = held_new(w, channel, side);
  EXPECT_OK(uva_msg_take_port(msg, &obj.via.array.ptr[2], &h->port));
  uva_msg_free(msg);
  if (stopping())
    close_new_end(h);
  else if (w->has_loop)
    start_data_end(h);
}

/* Creates a channel (bounded now and then) and sends one end to a random worker; returns the other end, new,
 * or NULL when the run has made all the channels it has room for. */
static held_t *create_channel(worker_t *w) {
  uint32_t id = atomic_fetch_add(&g.nchannels, 1);
  held_t *a;
  held_t *b;

  if (id >= g.max_channels) {
    atomic_store(&g.nchannels, g.max_channels);
    return NULL;
  }
  atomic_fetch_add(&g.live, 1);
  a = held_new(w, id, 0);
  b = held_new(w, id, 1);
  EXPECT_OK(uva_channel_init(&a->port, &b->port));
  if (chance(&w->rng, P_BOUNDED)) {
    EXPECT_OK(uva_port_set_limits(&a->port, 1 + next_random(&w->rng) % 8, 0));
    EXPECT_OK(uva_port_set_limits(&b->port, 0, 256 + next_random(&w->rng) % 512));
  }
  transfer(b, random_worker(w));
  return a;
}

static void keep_channels_alive(worker_t *w) {
  held_t *h;

  if (stopping() || atomic_load(&g.live) >= g.target_channels)
    return;
  h = create_channel(w);
  if (h != NULL && w->has_loop)
    start_data_end(h);
}

/* ---- loop workers -------------------------------------------------------------------------------- */

static void on_data_message(uva_port_t *port, uva_msg_t *msg) {
  held_t *h = port->data;

  receive_data(h, msg);
  /* Leaving from inside its own callback: what is still queued goes, in order, to the next holder. */
  if (!h->closing && !stopping() && chance(&h->owner->rng, P_TRANSFER_IN_CALLBACK))
    transfer(h, random_worker(h->owner));
}

static void on_data_writable(uva_port_t *port) {
  held_t *h = port->data;
  h->blocked = 0;
}

static void start_data_end(held_t *h) {
  EXPECT_OK(uva_port_start(&h->port, &h->owner->loop, on_data_message, on_data_close));
  /* Some loops spin for a few microseconds: their windows stay open, stay awake or back off as traffic
   * comes and goes, and none of that may lose or reorder a message. */
  if (chance(&h->owner->rng, P_SPIN))
    EXPECT_OK(uva_port_set_spin(&h->port, 1 + (unsigned int)(next_random(&h->owner->rng) % 30)));
}

/* Posts a burst from the loop; a full peer makes the end wait for its writable callback. */
static void post_burst_from_loop(held_t *h) {
  unsigned int n = 1 + next_random(&h->owner->rng) % BURST_MAX;
  int err;

  while (n-- > 0) {
    err = post_next(h, 0);
    if (err == UV_EAGAIN) {
      err = uva_port_on_writable(&h->port, on_data_writable);
      if (err == 0)
        h->blocked = 1;
      else if (err != UV_EPIPE)
        fail("uva_port_on_writable", err);
    }
    if (err != 0)
      return;
  }
}

static void quiesce(worker_t *w) {
  uv_mutex_lock(&g.lock);
  w->quiesced = 1;
  g.quiesced++;
  uv_cond_signal(&g.cond);
  uv_mutex_unlock(&g.lock);
}

static void loop_step_end(held_t *h) {
  worker_t *w = h->owner;

  if (h->closing)
    return;
  if (stopping() || chance(&w->rng, P_CLOSE))
    close_started_end(h);
  else if (chance(&w->rng, P_TRANSFER))
    transfer(h, random_worker(w));
  else if (!h->blocked)
    post_burst_from_loop(h);
}

static void on_tick(uv_timer_t *timer) {
  worker_t *w = timer->data;
  held_t *h;
  held_t *next;

  for (h = w->held.next; h != &w->held; h = next) {
    next = h->next;
    loop_step_end(h);
  }
  keep_channels_alive(w);
  if (stopping() && w->nheld == 0) {
    uv_timer_stop(timer);
    quiesce(w);
  }
}

static void on_ctl_message(uva_port_t *port, uva_msg_t *msg) {
  receive_transfer(port->data, msg);
}

/* Every worker has stopped sending: the control channel closes, and with it the loop's last handles. */
static void on_ctl_close(uva_port_t *port) {
  worker_t *w = port->data;
  uv_close((uv_handle_t *)&w->tick, NULL);
}

static void run_loop_worker(worker_t *w) {
  if (uv_loop_init(&w->loop) != 0 || uv_timer_init(&w->loop, &w->tick) != 0)
    abort();
  w->tick.data = w;
  w->ctl_in.data = w;
  EXPECT_OK(uva_port_start(&w->ctl_in, &w->loop, on_ctl_message, on_ctl_close));
  uv_timer_start(&w->tick, on_tick, 1, 1);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  w->loop_close_err = uv_loop_close(&w->loop);
}

/* ---- loop-less workers --------------------------------------------------------------------------- */

/* Receives what is queued; a drained, closed channel is closed on this side too. */
static int drain_new_end(held_t *h) {
  uva_msg_t *msg;
  int err;

  while ((err = uva_port_receive(&h->port, &msg)) == 0)
    receive_data(h, msg);
  if (err == UV_EPIPE) {
    close_new_end(h);
    return 1;
  }
  if (err != UV_EAGAIN)
    fail("uva_port_receive", err);
  return 0;
}

static void post_burst_without_loop(held_t *h) {
  worker_t *w = h->owner;
  unsigned int n = 1 + next_random(&w->rng) % BURST_MAX;

  while (n-- > 0)
    if (post_next(h, chance(&w->rng, P_POST_WAIT) ? 1 + (int64_t)(next_random(&w->rng) % 3) : 0) != 0)
      return;
}

static void feeder_step_end(held_t *h) {
  worker_t *w = h->owner;

  if (drain_new_end(h))
    return;
  if (chance(&w->rng, P_CLOSE))
    close_new_end(h);
  else if (chance(&w->rng, P_TRANSFER))
    transfer(h, random_worker(w));
  else
    post_burst_without_loop(h);
}

static void feeder_step(worker_t *w) {
  held_t *h;
  held_t *next;
  uva_msg_t *msg;

  /* Waiting here for a transferred end is also what paces the feeder. */
  if (uva_port_receive_wait(&w->ctl_in, &msg, 1) == 0)
    receive_transfer(w, msg);
  for (h = w->held.next; h != &w->held; h = next) {
    next = h->next;
    feeder_step_end(h);
  }
  keep_channels_alive(w);
}

static void run_feeder(worker_t *w) {
  uva_msg_t *msg;
  int err;

  while (!stopping())
    feeder_step(w);
  while (w->held.next != &w->held)
    close_new_end(w->held.next);
  quiesce(w);
  /* Ends may still arrive until every worker stopped sending; then the control channel closes. */
  while ((err = uva_port_receive_wait(&w->ctl_in, &msg, UVA_WAIT_FOREVER)) == 0)
    receive_transfer(w, msg);
  if (err != UV_EPIPE)
    fail("uva_port_receive_wait on the control channel", err);
  EXPECT_OK(uva_port_close(&w->ctl_in));
}

static void worker_main(void *arg) {
  worker_t *w = arg;

  if (w->has_loop)
    run_loop_worker(w);
  else
    run_feeder(w);
}

/* ---- the run ------------------------------------------------------------------------------------- */

static void setup(void) {
  uint32_t i;
  int k;

  g.seconds = env_number("UVA_STRESS_SECONDS", 1);
  g.seed = (uint64_t)env_number("UVA_STRESS_SEED", 0);
  if (g.seed == 0)
    g.seed = uv_hrtime() | 1;
  g.nloops = (int)env_number("UVA_STRESS_THREADS", 4);
  g.nfeeders = (int)env_number("UVA_STRESS_FEEDERS", 2);
  g.target_channels = (uint32_t)env_number("UVA_STRESS_CHANNELS", 64);
  if (g.nloops < 1 || g.nfeeders < 0 || g.nloops + g.nfeeders > MAX_WORKERS || g.target_channels < 1) {
    fprintf(stderr, "stress_port: 1 <= UVA_STRESS_THREADS, 0 <= UVA_STRESS_FEEDERS, %d workers at most\n",
            MAX_WORKERS);
    exit(2);
  }
  g.nworkers = g.nloops + g.nfeeders;
  g.max_channels = g.target_channels + (uint32_t)(20000 * (g.seconds + 1));
  g.channels = calloc(g.max_channels, sizeof(*g.channels));
  if (g.channels == NULL || uv_mutex_init(&g.lock) != 0 || uv_cond_init(&g.cond) != 0)
    abort();
  for (k = 0; k < g.nworkers; k++) {
    worker_t *w = &g.workers[k];
    w->index = k;
    w->has_loop = k < g.nloops;
    w->held.next = w->held.prev = &w->held;
    w->rng = g.seed + 0x9E3779B97F4A7C15ULL * (uint64_t)(k + 1);
    EXPECT_OK(uva_channel_init(&w->ctl_in, &w->ctl_out));
  }
  /* The first channels are made here, both ends handed out the way every later transfer goes. */
  for (i = 0; i < g.target_channels; i++) {
    worker_t *maker = &g.workers[i % (uint32_t)g.nworkers];
    transfer(create_channel(maker), random_worker(maker));
  }
}

/* Waits until every worker has stopped sending; 0 if that takes longer than the hang guard. */
static int wait_quiesced(void) {
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;
  uint64_t now;
  int all;

  uv_mutex_lock(&g.lock);
  while (g.quiesced < g.nworkers && (now = uv_hrtime()) < deadline)
    uv_cond_timedwait(&g.cond, &g.lock, deadline - now);
  all = g.quiesced == g.nworkers;
  uv_mutex_unlock(&g.lock);
  return all;
}

typedef struct {
  uint64_t posted, delivered, dropped, errors;
} totals_t;

/* Checks one channel; returns the number of broken invariants. */
static int check_channel(uint32_t id, totals_t *t) {
  channel_t *c = &g.channels[id];
  int bad = 0;
  int d;

  for (d = 0; d < 2; d++) {
    uint64_t posted = c->posted[d], delivered = c->delivered[d], dropped = c->dropped[d];
    int receiver = 1 - d;
    uint64_t first_dropped = delivered;
    uint64_t expect_sum = (posted - first_dropped) * (first_dropped + posted - 1) / 2;

    t->posted += posted;
    t->delivered += delivered;
    t->dropped += dropped;
    t->errors += c->errors[d];
    if (posted != delivered + dropped || c->errors[d] != 0 ||
        (dropped > 0 && c->dropped_seq_sum[d] != expect_sum) ||
        (dropped > 0 && c->fate[receiver] == FATE_CLOSED_STARTED)) {
      fprintf(stderr,
              "# channel %" PRIu32 " dir %d: posted %" PRIu64 " delivered %" PRIu64 " dropped %" PRIu64
              " errors %" PRIu64 " receiver fate %d\n",
              id, d, posted, delivered, dropped, (uint64_t)c->errors[d], (int)c->fate[receiver]);
      bad++;
    }
  }
  for (d = 0; d < 2; d++)
    if (c->fate[d] == FATE_NONE || c->close_cbs[d] != (c->fate[d] == FATE_CLOSED_STARTED)) {
      fprintf(stderr, "# channel %" PRIu32 " side %d: fate %d, %d close callbacks\n", id, d, (int)c->fate[d],
              (int)c->close_cbs[d]);
      bad++;
    }
  return bad;
}

int main(void) {
  uint64_t start;
  double took;
  totals_t t = {0, 0, 0, 0};
  uint32_t nchannels;
  uint32_t id;
  int bad = 0;
  int k;

  setup();
  printf("1..1\n# seed %" PRIu64 " (UVA_STRESS_SEED=%" PRIu64 " to replay), %.3g s\n", g.seed, g.seed,
         g.seconds);
  fflush(stdout);
  start = uv_hrtime();
  for (k = 0; k < g.nworkers; k++)
    if (uv_thread_create(&g.workers[k].thread, worker_main, &g.workers[k]) != 0)
      abort();
  uv_sleep((unsigned int)(g.seconds * 1000)); /* the run's length, not a way to order anything */
  atomic_store(&g.stopping, 1);
  if (!wait_quiesced()) {
    printf("not ok 1 - workers did not stop within %d s\n", HANG_GUARD_MS / 1000);
    return 1;
  }
  for (k = 0; k < g.nworkers; k++)
    EXPECT_OK(uva_port_close(&g.workers[k].ctl_out));
  for (k = 0; k < g.nworkers; k++) {
    uv_thread_join(&g.workers[k].thread);
    if (g.workers[k].has_loop && g.workers[k].loop_close_err != 0) {
      fprintf(stderr, "# worker %d: uv_loop_close: %s\n", k, uv_err_name(g.workers[k].loop_close_err));
      bad++;
    }
  }
  took = (double)(uv_hrtime() - start) / 1e9;
  nchannels = atomic_load(&g.nchannels);
  for (id = 0; id < nchannels; id++)
    bad += check_channel(id, &t);
  if (atomic_load(&g.live) != 0)
    bad++;
  bad += (int)atomic_load(&g.failures);
  printf("# threads %d (+%d loop-less), channels %" PRIu32 ", posted %" PRIu64 ", delivered %" PRIu64
         ", dropped %" PRIu64 ", transfers %" PRIu64 ", closes %" PRIu64 ", %.2f s\n",
         g.nloops, g.nfeeders, nchannels, t.posted, t.delivered, t.dropped, (uint64_t)g.transfers,
         (uint64_t)g.closes, took);
  printf("%s 1 - every message delivered once in order, or dropped with an end never started again\n",
         bad == 0 ? "ok" : "not ok");
  free(g.channels);
  uv_cond_destroy(&g.cond);
  uv_mutex_destroy(&g.lock);
  return bad == 0 ? 0 : 1;
}
