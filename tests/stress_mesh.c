/* Stress for actors/: a random mesh of actors whose ports move, close and die with their actors.
 *
 * main runs a loop and spawns UVA_STRESS_ACTORS actors (default 6). It keeps about UVA_STRESS_CHANNELS
 * channels (default 24) alive: each new channel's two ends go to two random actors, packed into ADOPT
 * messages on the actors' ports (now and then inside a new actor's init message); a third of the channels
 * are bounded (uva_port_set_limits()). Every millisecond each actor, for each end it holds, at random:
 * posts a burst of data messages [channel, direction, seq, tag, pad?], closes the end, transfers it to
 * another actor, receives synchronously, flips ref/unref or changes its limits. A transfer packs the end
 * into a TRANSFER message to main, which routes it to the target actor, either as it is or taken and packed
 * again into a new message; the end's sequence state (next seq to post, next seq expected) travels with it,
 * so the numbers continue in order at the new owner. A post that returns UV_EAGAIN keeps its message and
 * retries from uva_port_on_writable(). main terminates actors at random and respawns them; now and then an
 * actor ends itself with uva_self_exit(). After UVA_STRESS_SECONDS (default 4) main sends STOP: each actor
 * closes its ends, sends its final report and closes its port to main, and main's loop runs out.
 *
 * Ports travel only through main, never inside data messages: two ends each queued inside a message on the
 * other's channel would make a cycle that no one can take or free.
 *
 * Accounting. Each actor counts, per (channel, direction), the messages it posted with success and the ones
 * it received (checking each seq is the one expected: no loss, no duplicate, no reordering), and reports the
 * counts to main at the end of every loop iteration (a uv_check_t) and in its final report. An actor posts
 * and receives only inside loop callbacks, each followed in the same iteration by the check phase, so even a
 * terminated actor's counts all reach main (everything an actor posted is delivered before its exit event).
 * A message freed without being received is a drop: its tag is a moved buffer whose free function counts it
 * (an atomic, per channel and direction), which happens when its receiving end is closed while new, freed in
 * transit (inside an untaken message, e.g. one queued to a terminated actor), or aborted by its actor's end.
 * Every transfer message also carries a moved token whose free function records an end lost in transit.
 *
 * What must hold, per channel and direction: posted = delivered + dropped; receivers saw 0, 1, 2, ... in
 * order; the dropped seqs are exactly delivered .. posted - 1; no drop if the receiving end ended by a normal
 * close callback (a started port delivers everything queued). Every end finished exactly once; every exit
 * code is the one its cause gives; main's loop closes. Leaks and races are for ASan, valgrind and TSan.
 *
 * The seed comes from argv[1], else UVA_STRESS_SEED, else the clock; it is printed first so a failing run can
 * be replayed (thread scheduling still varies). Speaks TAP. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"
#include "uvactor.h"

#define MAX_ACTORS 64
#define CHUNK_BITS 10
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define MAX_CHUNKS 4096
#define BURST_MAX 4
#define PAD_MAX 200
#define HANG_GUARD_MS 60000
#define EXIT_VOLUNTARY 7
#define BUSY_MAX_MS 5

/* Chances, in parts per 10000. Per end and per actor tick (1 ms): */
#define P_CLOSE 15
#define P_TRANSFER 40
#define P_RECEIVE_SYNC 300
#define P_REF 50
#define P_LIMITS 30
#define P_SELF_EXIT 2 /* per actor tick */
#define P_BUSY 20     /* per actor tick: compute for a while, so that messages pile up */
/* Per received message: */
#define P_TRANSFER_IN_CB 5
#define P_CLOSE_IN_CB 3
/* Per adopted end: */
#define P_RECEIVE_BEFORE_START 2000
/* Per data message: */
#define P_PAD 2000
/* main, per tick (1 ms) and per event: */
#define P_TERMINATE 100
#define P_BOUNDED 3000
#define P_INIT_PORT 5000
#define P_REPACK 5000
#define P_RESPAWN_AT_ONCE 5000
#define P_SMALL_STACK 3000

enum { MSG_ADOPT, MSG_TRANSFER, MSG_STOP, MSG_REPORT };

/* How an end finished. */
enum { FATE_NONE, FATE_CLOSED, FATE_ABORTED, FATE_CLOSED_NEW, FATE_LOST };
static const char *const fate_names[] = {"none", "closed", "aborted", "closed new", "lost in transit"};

/* One channel; direction d carries what side d posts to side 1 - d. */
typedef struct {
  /* main's only, from the actors' reports */
  uint64_t posted[2];
  uint64_t delivered[2];
  uint64_t errors[2];
  /* from any thread */
  atomic_uint_fast64_t dropped[2];
  atomic_uint_fast64_t dropped_sum[2];
  atomic_uint_fast64_t dropped_min[2];
  atomic_uint_fast64_t dropped_max[2];
  atomic_int fate[2];
  atomic_int ends_done;
} channel_t;

/* The moved buffer in every data message: its free function running means the message was dropped. */
typedef struct {
  uint32_t channel;
  uint32_t dir;
  uint64_t seq;
  int posted; /* set by the sender before each attempt, cleared after a failed one */
} tag_t;

/* The moved buffer in every message that carries an end: its free function running means the end is lost. */
typedef struct {
  uint32_t channel;
  int side;
} token_t;

typedef struct actor_s actor_t;

/* An end held by an actor, always started on its loop. */
typedef struct held_s {
  struct held_s *next;
  struct held_s *prev;
  uva_port_t port;
  actor_t *owner;
  uint32_t channel;
  int side;
  uint64_t next_seq; /* direction side: the next seq to post */
  uint64_t expect;   /* direction 1 - side: the next seq to receive */
  uva_msg_t *retry;  /* a post that returned UV_EAGAIN, posted again once there is room */
  tag_t *retry_tag;  /* its tag, still in it */
  int blocked;       /* waiting for the writable callback */
  int closing;
} held_t;

/* Counts not yet reported to main. */
typedef struct {
  uint32_t channel;
  uint32_t dir;
  uint64_t posted;
  uint64_t delivered;
  uint64_t errors;
} delta_t;

/* One incarnation of an actor. main allocates it and frees it at the exit event (the thread is joined by
 * then); the actor's thread uses it in between. */
struct actor_s {
  int slot;
  unsigned int incarnation;
  uva_self_t *self;
  uva_port_t *parent;
  uv_timer_t tick;
  uv_check_t flush;
  held_t held; /* list head */
  unsigned int nheld;
  uint64_t rng;
  int stopping;
  int finished; /* sent the final report */
  delta_t *deltas;
  size_t ndeltas;
  size_t cdeltas;
  /* main's */
  int final_seen;
};

typedef struct {
  int index;
  uva_actor_t actor;
  actor_t *state; /* the running incarnation, or NULL */
  unsigned int incarnations;
  int terminated; /* uva_actor_terminate() returned 0 for the running incarnation */
  int respawn_due;
} slot_t;

static struct {
  double seconds;
  uint64_t seed;
  int nactors;
  uint32_t target_channels;
  uint64_t rng; /* main's */
  uv_loop_t loop;
  uv_timer_t tick;
  uv_timer_t guard;
  uint64_t start;
  int stopping;
  slot_t slots[MAX_ACTORS];
  channel_t *chunks[MAX_CHUNKS]; /* written by main before any id in the chunk is handed out */
  uint32_t nchannels;            /* main's */
  atomic_uint live;              /* channels with an end not finished */
  atomic_uint_fast64_t transfers;
  atomic_uint_fast64_t closes;
  atomic_uint_fast64_t failures; /* API results the contract rules out, and broken checks */
  uint64_t terminates, self_exits, exits, spawns, reports;
} g;

static void fail(const char *what, int err) {
  atomic_fetch_add(&g.failures, 1);
  fprintf(stderr, "# unexpected: %s%s%s\n", what, err != 0 ? ": " : "", err != 0 ? uva_err_name(err) : "");
}

/* ---- small tools --------------------------------------------------------------------------------- */

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n, size);

  if (p == NULL)
    abort();
  return p;
}

static channel_t *channel_of(uint32_t id) {
  return &g.chunks[id >> CHUNK_BITS][id & (CHUNK_SIZE - 1)];
}

static void atomic_min_u64(atomic_uint_fast64_t *v, uint64_t x) {
  uint_fast64_t cur = atomic_load(v);
  while (x < cur && !atomic_compare_exchange_weak(v, &cur, x))
    ;
}

static void atomic_max_u64(atomic_uint_fast64_t *v, uint64_t x) {
  uint_fast64_t cur = atomic_load(v);
  while (x > cur && !atomic_compare_exchange_weak(v, &cur, x))
    ;
}

static void end_finished(uint32_t channel, int side, int fate) {
  channel_t *c = channel_of(channel);
  int none = FATE_NONE;

  if (!atomic_compare_exchange_strong(&c->fate[side], &none, fate)) {
    fprintf(stderr, "# channel %" PRIu32 " side %d finished twice: %s, then %s\n", channel, side,
            fate_names[none], fate_names[fate]);
    atomic_fetch_add(&g.failures, 1);
  }
  if (atomic_fetch_add(&c->ends_done, 1) == 1)
    atomic_fetch_sub(&g.live, 1);
}

/* A message is read as an array of at least n elements; NULL otherwise. */
static const msgpack_object *array_of(uva_msg_t *msg, msgpack_object *obj, uint32_t n) {
  if (uva_msg_object(msg, obj) != 0 || obj->type != MSGPACK_OBJECT_ARRAY || obj->via.array.size < n)
    return NULL;
  return obj->via.array.ptr;
}

/* ---- data messages ------------------------------------------------------------------------------- */

static void tag_free(void *ptr) {
  tag_t *tag = ptr;
  channel_t *c;

  if (tag->posted) {
    c = channel_of(tag->channel);
    atomic_fetch_add(&c->dropped[tag->dir], 1);
    atomic_fetch_add(&c->dropped_sum[tag->dir], tag->seq);
    atomic_min_u64(&c->dropped_min[tag->dir], tag->seq);
    atomic_max_u64(&c->dropped_max[tag->dir], tag->seq);
  }
  free(tag);
}

static void token_lost(void *ptr) {
  token_t *token = ptr;

  end_finished(token->channel, token->side, FATE_LOST);
  free(token);
}

/* Limits for one end's incoming queue: by messages, by bytes (never below one data message), or none. */
static void random_limits(uint64_t *rng, size_t *max_messages, size_t *max_bytes) {
  uint64_t r = next_random(rng);

  *max_messages = r % 3 == 0 ? 0 : 1 + (size_t)(r >> 8) % 8;
  *max_bytes = r % 3 == 1 ? 0 : 512 + (size_t)(r >> 16) % 1024;
}

/* [kind, slot, channel, side, next_seq, expect, port, token]: an end with its sequence state. The handle is
 * spent; token (NULL: a new one) is moved into the message. */
static uva_msg_t *end_msg(int kind, int slot, uint32_t channel, int side, uint64_t next_seq, uint64_t expect,
                          uva_port_t *port, token_t *token) {
  msgpack_packer *pk;
  uva_msg_t *msg;

  if (token == NULL) {
    token = xcalloc(1, sizeof(*token));
    token->channel = channel;
    token->side = side;
  }
  MUST(uva_msg_new(&msg));
  pk = uva_msg_packer(msg);
  msgpack_pack_array(pk, 8);
  msgpack_pack_int(pk, kind);
  msgpack_pack_int(pk, slot);
  msgpack_pack_uint32(pk, channel);
  msgpack_pack_int(pk, side);
  msgpack_pack_uint64(pk, next_seq);
  msgpack_pack_uint64(pk, expect);
  /* The port first: if the token were in and the port not, freeing the message would report a lost end. */
  MUST(uva_msg_pack_port(msg, port));
  MUST(uva_msg_pack_buffer(msg, token, sizeof(*token), token_lost));
  return msg;
}

/* Takes the token of a message whose end was taken: the end is not lost. */
static void take_token(uva_msg_t *msg, const msgpack_object *ext) {
  void *data;
  size_t len;

  MUST(uva_msg_take_buffer(msg, ext, &data, &len, NULL));
  free(data);
}

/* [channel, dir, seq, tag, pad?]; *tagp stays valid while the message is the caller's. */
static uva_msg_t *data_msg(held_t *h, tag_t **tagp) {
  uint64_t *rng = &h->owner->rng;
  size_t padlen = chance(rng, P_PAD) ? 1 + next_random(rng) % PAD_MAX : 0;
  tag_t *tag = xcalloc(1, sizeof(*tag));
  msgpack_packer *pk;
  uva_msg_t *msg;
  char pad[PAD_MAX];

  tag->channel = h->channel;
  tag->dir = (uint32_t)h->side;
  tag->seq = h->next_seq;
  MUST(uva_msg_new(&msg));
  pk = uva_msg_packer(msg);
  msgpack_pack_array(pk, padlen > 0 ? 5 : 4);
  msgpack_pack_uint32(pk, h->channel);
  msgpack_pack_int(pk, h->side);
  msgpack_pack_uint64(pk, h->next_seq);
  MUST(uva_msg_pack_buffer(msg, tag, sizeof(*tag), tag_free));
  if (padlen > 0) {
    memset(pad, (int)(h->next_seq & 0xff), padlen);
    msgpack_pack_bin_with_body(pk, pad, padlen);
  }
  *tagp = tag;
  return msg;
}

/* ---- actors: counts -------------------------------------------------------------------------------- */

static delta_t *delta_for(actor_t *a, uint32_t channel, uint32_t dir) {
  size_t i;

  for (i = 0; i < a->ndeltas; i++)
    if (a->deltas[i].channel == channel && a->deltas[i].dir == dir)
      return &a->deltas[i];
  if (a->finished)
    fail("counts after the final report", 0);
  if (a->ndeltas == a->cdeltas) {
    a->cdeltas = a->cdeltas == 0 ? 16 : a->cdeltas * 2;
    a->deltas = realloc(a->deltas, a->cdeltas * sizeof(*a->deltas));
    if (a->deltas == NULL)
      abort();
  }
  a->deltas[a->ndeltas] = (delta_t){channel, dir, 0, 0, 0};
  return &a->deltas[a->ndeltas++];
}

/* [REPORT, final, channel, dir, posted, delivered, errors, ...] to main. */
static void report(actor_t *a, int final) {
  msgpack_packer *pk;
  uva_msg_t *msg;
  size_t i;
  int err;

  if (a->ndeltas == 0 && !final)
    return;
  MUST(uva_msg_new(&msg));
  pk = uva_msg_packer(msg);
  msgpack_pack_array(pk, 2 + 5 * a->ndeltas);
  msgpack_pack_int(pk, MSG_REPORT);
  msgpack_pack_int(pk, final);
  for (i = 0; i < a->ndeltas; i++) {
    msgpack_pack_uint32(pk, a->deltas[i].channel);
    msgpack_pack_uint32(pk, a->deltas[i].dir);
    msgpack_pack_uint64(pk, a->deltas[i].posted);
    msgpack_pack_uint64(pk, a->deltas[i].delivered);
    msgpack_pack_uint64(pk, a->deltas[i].errors);
  }
  err = uva_port_post(a->parent, msg);
  if (err != 0) {
    fail("posting a report", err);
    uva_msg_free(msg);
  }
  a->ndeltas = 0;
}

/* The check phase ends every loop iteration: what this one counted goes to main now. */
static void on_flush(uv_check_t *check) {
  report(check->data, 0);
}

/* ---- actors: ends ---------------------------------------------------------------------------------- */

static held_t *held_new(actor_t *a) {
  held_t *h = xcalloc(1, sizeof(*h));

  h->owner = a;
  h->port.data = h;
  h->prev = &a->held;
  h->next = a->held.next;
  a->held.next->prev = h;
  a->held.next = h;
  a->nheld++;
  return h;
}

static void held_free(held_t *h) {
  h->prev->next = h->next;
  h->next->prev = h->prev;
  h->owner->nheld--;
  free(h);
}

/* Frees the message waiting for room. It was never posted with success, so it is no drop (its tag says so).
 */
static void drop_retry(held_t *h) {
  uva_msg_free(h->retry);
  h->retry = NULL;
  h->retry_tag = NULL;
  h->blocked = 0;
}

/* Checks one received message against the order of its direction and counts it. */
static void receive_data(held_t *h, uva_msg_t *msg) {
  uint32_t dir = (uint32_t)(1 - h->side);
  msgpack_object obj;
  const msgpack_object *item = array_of(msg, &obj, 4);
  delta_t *d = delta_for(h->owner, h->channel, dir);
  tag_t *tag;
  void *data;
  size_t len;
  uint32_t i;
  int ok;

  d->delivered++;
  if (item == NULL || uva_msg_take_buffer(msg, &item[3], &data, &len, NULL) != 0 || len != sizeof(*tag)) {
    fail("a data message that does not parse", 0);
    d->errors++;
    uva_msg_free(msg);
    return;
  }
  tag = data;
  ok = tag->channel == h->channel && tag->dir == dir && item[0].via.u64 == h->channel &&
       item[1].via.u64 == dir && item[2].via.u64 == tag->seq && tag->seq == h->expect;
  if (obj.via.array.size == 5) {
    const msgpack_object_bin *pad = &item[4].via.bin;
    for (i = 0; i < pad->size; i++)
      ok = ok && (unsigned char)pad->ptr[i] == (tag->seq & 0xff);
  }
  if (!ok) {
    fprintf(stderr, "# channel %" PRIu32 " dir %" PRIu32 ": got seq %" PRIu64 ", expected %" PRIu64 "\n",
            h->channel, dir, tag->seq, h->expect);
    d->errors++;
  }
  h->expect = tag->seq + 1;
  free(tag);
  uva_msg_free(msg);
}

/* Receives up to max messages without the loop (on a new port, or a started one on its own thread). */
static void receive_sync(held_t *h, int max) {
  uva_msg_t *msg;
  int err;

  while (max-- > 0) {
    err = uva_port_receive(&h->port, &msg);
    if (err != 0) {
      if (err != UV_EAGAIN && err != UV_EPIPE)
        fail("uva_port_receive", err);
      return;
    }
    receive_data(h, msg);
  }
}

static void finish(actor_t *a);

static void close_end(held_t *h) {
  drop_retry(h);
  MUST(uva_port_close(&h->port));
  h->closing = 1;
  atomic_fetch_add(&g.closes, 1);
}

static void on_data_close(uva_port_t *port) {
  held_t *h = port->data;
  actor_t *a = h->owner;

  /* Only an actor asked to stop has its ends aborted (by its loop's teardown), dropping what is queued. */
  end_finished(h->channel, h->side, uva_self_should_stop(a->self) ? FATE_ABORTED : FATE_CLOSED);
  drop_retry(h);
  held_free(h);
  if (a->stopping && a->nheld == 0)
    finish(a);
}

/* Packs the end into a TRANSFER to main, which routes it to the actor in a random slot (maybe this one). */
static void transfer(held_t *h) {
  actor_t *a = h->owner;
  int to = (int)(next_random(&a->rng) % (uint64_t)g.nactors);
  uva_msg_t *msg;
  int err;

  drop_retry(h);
  msg = end_msg(MSG_TRANSFER, to, h->channel, h->side, h->next_seq, h->expect, &h->port, NULL);
  held_free(h);
  err = uva_port_post(a->parent, msg);
  if (err != 0) {
    fail("posting a transfer to main", err);
    uva_msg_free(msg);
  }
}

/* Posts the next message, or the one that found the peer full before. 0 or the post's error. */
static int post_next(held_t *h) {
  int err;

  if (h->retry == NULL)
    h->retry = data_msg(h, &h->retry_tag);
  /* Before the post: once posted, the message is no longer ours to touch. */
  h->retry_tag->posted = 1;
  err = uva_port_post(&h->port, h->retry);
  if (err == 0) {
    h->retry = NULL;
    h->retry_tag = NULL;
    h->next_seq++;
    delta_for(h->owner, h->channel, (uint32_t)h->side)->posted++;
    return 0;
  }
  h->retry_tag->posted = 0;
  if (err == UV_EAGAIN)
    return err; /* kept: the same seq goes again once there is room */
  drop_retry(h);
  if (err != UV_EPIPE)
    fail("uva_port_post", err);
  return err;
}

static void post_burst(held_t *h);

static void on_writable(uva_port_t *port) {
  held_t *h = port->data;

  h->blocked = 0;
  if (!h->closing && !h->owner->stopping)
    post_burst(h);
}

static void post_burst(held_t *h) {
  unsigned int n = 1 + (unsigned int)(next_random(&h->owner->rng) % BURST_MAX);
  int err;

  while (n-- > 0) {
    err = post_next(h);
    if (err == UV_EAGAIN) {
      err = uva_port_on_writable(&h->port, on_writable);
      if (err == 0) {
        h->blocked = 1;
      } else {
        if (err != UV_EPIPE)
          fail("uva_port_on_writable", err);
        drop_retry(h);
      }
    }
    if (err != 0)
      return;
  }
}

static void toggle_ref(held_t *h) {
  int had = uva_port_has_ref(&h->port);

  MUST(had ? uva_port_unref(&h->port) : uva_port_ref(&h->port));
  if (uva_port_has_ref(&h->port) == had)
    fail("uva_port_has_ref did not follow ref/unref", 0);
}

static void on_data_message(uva_port_t *port, uva_msg_t *msg) {
  held_t *h = port->data;
  uint64_t *rng = &h->owner->rng;

  receive_data(h, msg);
  if (h->closing || h->owner->stopping)
    return;
  /* Leaving from inside its own callback: what is still queued goes, in order, to the next owner. */
  if (chance(rng, P_TRANSFER_IN_CB))
    transfer(h);
  else if (chance(rng, P_CLOSE_IN_CB))
    close_end(h);
}

static void step_end(held_t *h) {
  uint64_t *rng = &h->owner->rng;
  size_t max_messages;
  size_t max_bytes;

  if (h->closing)
    return;
  if (chance(rng, P_CLOSE)) {
    close_end(h);
    return;
  }
  if (chance(rng, P_TRANSFER)) {
    transfer(h);
    return;
  }
  if (chance(rng, P_RECEIVE_SYNC))
    receive_sync(h, 1 + (int)(next_random(rng) % 4));
  if (chance(rng, P_REF))
    toggle_ref(h);
  if (chance(rng, P_LIMITS)) {
    random_limits(rng, &max_messages, &max_bytes);
    MUST(uva_port_set_limits(&h->port, max_messages, max_bytes));
  }
  if (!h->blocked)
    post_burst(h);
}

/* An end arrives: take it and start it (now and then receiving a little first), or close it at once when
 * the actor is stopping. */
static void adopt(actor_t *a, uva_msg_t *msg, const msgpack_object *item) {
  uint32_t channel = (uint32_t)item[2].via.u64;
  int side = (int)item[3].via.u64;
  uva_port_t port;
  held_t *h;

  if (a->stopping) {
    MUST(uva_msg_take_port(msg, &item[6], &port));
    take_token(msg, &item[7]);
    MUST(uva_port_close(&port));
    atomic_fetch_add(&g.closes, 1);
    end_finished(channel, side, FATE_CLOSED_NEW);
    return;
  }
  h = held_new(a);
  h->channel = channel;
  h->side = side;
  h->next_seq = item[4].via.u64;
  h->expect = item[5].via.u64;
  MUST(uva_msg_take_port(msg, &item[6], &h->port));
  take_token(msg, &item[7]);
  if (chance(&a->rng, P_RECEIVE_BEFORE_START))
    receive_sync(h, 1 + (int)(next_random(&a->rng) % 8));
  MUST(uva_port_start(&h->port, uva_self_loop(a->self), on_data_message, on_data_close));
}

/* All ends closed after STOP: the final report, then the port to main closes and the loop runs out. An actor
 * being ended anyway (terminated, or its own exit) leaves that to its loop's teardown. */
static void finish(actor_t *a) {
  if (a->finished || uva_self_should_stop(a->self))
    return;
  report(a, 1);
  a->finished = 1;
  uv_close((uv_handle_t *)&a->tick, NULL);
  uv_close((uv_handle_t *)&a->flush, NULL);
  MUST(uva_port_close(a->parent));
}

static void begin_stop(actor_t *a) {
  held_t *h;

  if (a->stopping)
    return;
  a->stopping = 1;
  for (h = a->held.next; h != &a->held; h = h->next)
    if (!h->closing)
      close_end(h);
  if (a->nheld == 0)
    finish(a);
}

/* Work that C cannot interrupt: up to BUSY_MAX_MS of it, polling uva_self_should_stop() as such code should.
 * Returns 1 if asked to stop meanwhile. */
static int busy(actor_t *a) {
  uint64_t until = uv_hrtime() + (1 + next_random(&a->rng) % BUSY_MAX_MS) * 1000000;

  while (uv_hrtime() < until)
    if (uva_self_should_stop(a->self))
      return 1;
  return 0;
}

static void on_tick(uv_timer_t *timer) {
  actor_t *a = timer->data;
  held_t *h;
  held_t *next;

  if (a->stopping)
    return;
  if (chance(&a->rng, P_SELF_EXIT)) {
    MUST(uva_self_exit(a->self, EXIT_VOLUNTARY));
    return;
  }
  if (chance(&a->rng, P_BUSY) && busy(a))
    return;
  for (h = a->held.next; h != &a->held; h = next) {
    next = h->next;
    step_end(h);
  }
}

static void on_parent_message(uva_port_t *port, uva_msg_t *msg) {
  actor_t *a = port->data;
  msgpack_object obj;
  const msgpack_object *item = array_of(msg, &obj, 1);

  if (item == NULL || item[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    fail("a message from main that does not parse", 0);
  else if ((item[0].via.u64 == MSG_ADOPT || item[0].via.u64 == MSG_TRANSFER) && obj.via.array.size == 8)
    adopt(a, msg, item);
  else if (item[0].via.u64 == MSG_STOP)
    begin_stop(a);
  else
    fail("a message from main of no known kind", 0);
  uva_msg_free(msg);
}

static int actor_main(uva_self_t *self) {
  actor_t *a = uva_self_arg(self);
  uv_loop_t *loop = uva_self_loop(self);
  uva_msg_t *init;

  a->self = self;
  a->parent = uva_self_port(self);
  a->parent->data = a;
  a->held.next = a->held.prev = &a->held;
  MUST(uv_timer_init(loop, &a->tick));
  a->tick.data = a;
  MUST(uv_timer_start(&a->tick, on_tick, 1, 1));
  MUST(uv_check_init(loop, &a->flush));
  a->flush.data = a;
  MUST(uv_check_start(&a->flush, on_flush));
  uv_unref((uv_handle_t *)&a->flush);
  MUST(uva_port_start(a->parent, loop, on_parent_message, NULL));
  init = uva_self_init(self);
  if (init != NULL)
    on_parent_message(a->parent, init);
  /* This is no loop callback: if the actor is terminated now, no check phase will report for it. */
  report(a, 0);
  return 0;
}

/* ---- main: channels and routing -------------------------------------------------------------------- */

/* A new channel between p0 and p1, a third of its ends bounded; UINT32_MAX when the table is full. */
static uint32_t new_channel(uva_port_t *p0, uva_port_t *p1) {
  uint32_t id = g.nchannels;
  channel_t *chunk;
  size_t max_messages;
  size_t max_bytes;
  uint32_t i;
  int d;

  if ((id >> CHUNK_BITS) >= MAX_CHUNKS)
    return UINT32_MAX;
  if ((id & (CHUNK_SIZE - 1)) == 0) {
    chunk = xcalloc(CHUNK_SIZE, sizeof(*chunk));
    for (i = 0; i < CHUNK_SIZE; i++)
      for (d = 0; d < 2; d++)
        atomic_init(&chunk[i].dropped_min[d], UINT64_MAX);
    g.chunks[id >> CHUNK_BITS] = chunk;
  }
  MUST(uva_channel_init(p0, p1));
  if (chance(&g.rng, P_BOUNDED)) {
    random_limits(&g.rng, &max_messages, &max_bytes);
    MUST(uva_port_set_limits(p0, max_messages, max_bytes));
  }
  if (chance(&g.rng, P_BOUNDED)) {
    random_limits(&g.rng, &max_messages, &max_bytes);
    MUST(uva_port_set_limits(p1, max_messages, max_bytes));
  }
  g.nchannels++;
  atomic_fetch_add(&g.live, 1);
  return id;
}

static int random_slot(void) {
  return (int)(next_random(&g.rng) % (uint64_t)g.nactors);
}

/* Posts msg to a slot's actor, or frees it (closing any end it carries) when the actor is gone or ending.
 * An ending actor's port answers UV_EPIPE while its side closes, then UV_EBADF from the moment the parent's
 * side has closed until the exit event. */
static void post_to_actor(int slot, uva_msg_t *msg) {
  slot_t *s = &g.slots[slot];
  int err = UV_EPIPE;

  if (s->state != NULL)
    err = uva_port_post(uva_actor_port(&s->actor), msg);
  if (err != 0) {
    if (err != UV_EPIPE && err != UV_EBADF)
      fail("posting to an actor", err);
    uva_msg_free(msg);
  }
}

/* Makes a channel and gives its end 1 to a random actor; end 0 is left in *p0, new. */
static uint32_t half_channel(uva_port_t *p0) {
  uva_port_t p1;
  uint32_t id = new_channel(p0, &p1);
  int to = random_slot();

  if (id != UINT32_MAX)
    post_to_actor(to, end_msg(MSG_ADOPT, to, id, 1, 0, 0, &p1, NULL));
  return id;
}

static void keep_channels(void) {
  uva_port_t p0;
  uint32_t id;
  int made;
  int to;

  /* A few per tick at most: with every actor gone, each new channel is lost at once. */
  for (made = 0; made < 8 && atomic_load(&g.live) < g.target_channels; made++) {
    id = half_channel(&p0);
    if (id == UINT32_MAX)
      return;
    to = random_slot();
    post_to_actor(to, end_msg(MSG_ADOPT, to, id, 0, 0, 0, &p0, NULL));
  }
}

/* A TRANSFER from an actor: on to its target, as it is or repacked into a new message. */
static void route(uva_msg_t *msg, const msgpack_object *item) {
  int to = (int)item[1].via.u64;
  uva_msg_t *fresh;
  uva_port_t port;
  void *token;
  size_t len;

  atomic_fetch_add(&g.transfers, 1);
  if (to < 0 || to >= g.nactors) {
    fail("a transfer to no slot", 0);
    uva_msg_free(msg);
    return;
  }
  if (chance(&g.rng, P_REPACK)) {
    MUST(uva_msg_take_port(msg, &item[6], &port));
    MUST(uva_msg_take_buffer(msg, &item[7], &token, &len, NULL));
    fresh = end_msg(MSG_ADOPT, to, (uint32_t)item[2].via.u64, (int)item[3].via.u64, item[4].via.u64,
                    item[5].via.u64, &port, token);
    uva_msg_free(msg);
    msg = fresh;
  }
  post_to_actor(to, msg);
}

static void apply_report(slot_t *s, const msgpack_object *item, uint32_t n) {
  channel_t *c;
  uint32_t channel;
  uint32_t dir;
  uint32_t i;

  g.reports++;
  if ((n - 2) % 5 != 0) {
    fail("a report that does not parse", 0);
    return;
  }
  for (i = 2; i < n; i += 5) {
    channel = (uint32_t)item[i].via.u64;
    dir = (uint32_t)item[i + 1].via.u64;
    if (channel >= g.nchannels || dir > 1) {
      fail("a report about no channel", 0);
      continue;
    }
    c = channel_of(channel);
    c->posted[dir] += item[i + 2].via.u64;
    c->delivered[dir] += item[i + 3].via.u64;
    c->errors[dir] += item[i + 4].via.u64;
  }
  if (item[1].via.u64 != 0)
    s->state->final_seen = 1;
}

static void on_actor_message(uva_actor_t *actor, uva_msg_t *msg) {
  slot_t *s = actor->data;
  msgpack_object obj;
  const msgpack_object *item = array_of(msg, &obj, 2);

  if (item == NULL || item[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
    fail("a message from an actor that does not parse", 0);
  } else if (item[0].via.u64 == MSG_REPORT) {
    apply_report(s, item, obj.via.array.size);
  } else if (item[0].via.u64 == MSG_TRANSFER && obj.via.array.size == 8) {
    route(msg, item);
    return;
  } else {
    fail("a message from an actor of no known kind", 0);
  }
  uva_msg_free(msg);
}

/* ---- main: actors ---------------------------------------------------------------------------------- */

static void on_actor_exit(uva_actor_t *actor, int code);

static void spawn(slot_t *s) {
  uva_actor_options_t options;
  actor_t *a = xcalloc(1, sizeof(*a));
  uva_port_t p0;
  uint32_t id = UINT32_MAX;
  char name[32];
  int err;

  a->slot = s->index;
  a->incarnation = s->incarnations++;
  a->rng = (g.seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(s->index + 1)) ^
            (0xC2B2AE3D27D4EB4FULL * (uint64_t)(a->incarnation + 1))) |
           1;
  snprintf(name, sizeof(name), "mesh%d.%u", s->index, a->incarnation);
  memset(&options, 0, sizeof(options));
  options.name = name;
  options.arg = a;
  options.message_cb = on_actor_message;
  options.exit_cb = on_actor_exit;
  if (chance(&g.rng, P_SMALL_STACK))
    options.stack_size = 256 * 1024;
  /* Node's workerData can carry a port too. */
  if (chance(&g.rng, P_INIT_PORT) && (id = half_channel(&p0)) != UINT32_MAX)
    options.init = end_msg(MSG_ADOPT, s->index, id, 0, 0, 0, &p0, NULL);
  s->actor.data = s;
  err = uva_actor_spawn(&s->actor, &g.loop, actor_main, &options);
  if (err != 0) {
    fail("uva_actor_spawn", err);
    uva_msg_free(options.init);
    free(a);
    return;
  }
  s->state = a;
  s->terminated = 0;
  s->respawn_due = 0;
  g.spawns++;
}

static void on_actor_exit(uva_actor_t *actor, int code) {
  slot_t *s = actor->data;
  actor_t *a = s->state;
  int ok;

  /* terminate returned 0 exactly when the exit is UVA_EXIT_TERMINATED; a clean exit comes only after STOP
   * and after the final report. */
  if (s->terminated)
    ok = code == UVA_EXIT_TERMINATED;
  else
    ok = code == EXIT_VOLUNTARY || (code == 0 && g.stopping && a->final_seen);
  if (!ok) {
    fprintf(stderr, "# actor %d.%u: exit code %d (terminated %d, stopping %d, final report %d)\n", s->index,
            a->incarnation, code, s->terminated, g.stopping, a->final_seen);
    atomic_fetch_add(&g.failures, 1);
  }
  if (code == EXIT_VOLUNTARY)
    g.self_exits++;
  g.exits++;
  free(a->deltas);
  free(a);
  s->state = NULL;
  if (g.stopping)
    return;
  /* The handle is the caller's again in its exit callback: now and then it is reused right here. */
  if (chance(&g.rng, P_RESPAWN_AT_ONCE))
    spawn(s);
  else
    s->respawn_due = 1;
}

/* ---- main: the run ------------------------------------------------------------------------------- */

static void on_guard(uv_timer_t *timer) {
  int k;

  (void)timer;
  for (k = 0; k < g.nactors; k++)
    if (g.slots[k].state != NULL)
      fprintf(stderr, "# actor %d.%u has not exited (terminated %d)\n", k, g.slots[k].state->incarnation,
              g.slots[k].terminated);
  fprintf(stderr, "# %u channels still live\n", atomic_load(&g.live));
  /* UVA_STRESS_HANG_GDB=1: every thread's stack, to see where it hangs. */
  if (getenv("UVA_STRESS_HANG_GDB") != NULL) {
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "gdb -p %d -batch -ex 'thread apply all bt' >&2 </dev/null", (int)getpid());
    if (system(cmd) != 0)
      fprintf(stderr, "# gdb failed\n");
  }
  printf("not ok 1 - the mesh did not stop within %d s\n", HANG_GUARD_MS / 1000);
  fflush(stdout);
  _exit(1);
}

static void stop_all(void) {
  msgpack_packer *pk;
  uva_msg_t *msg;
  int k;

  g.stopping = 1;
  uv_close((uv_handle_t *)&g.tick, NULL);
  for (k = 0; k < g.nactors; k++) {
    MUST(uva_msg_new(&msg));
    pk = uva_msg_packer(msg);
    msgpack_pack_array(pk, 1);
    msgpack_pack_int(pk, MSG_STOP);
    post_to_actor(k, msg);
  }
  MUST(uv_timer_start(&g.guard, on_guard, HANG_GUARD_MS, 0));
  uv_unref((uv_handle_t *)&g.guard);
}

static void on_main_tick(uv_timer_t *timer) {
  slot_t *s;
  int err;
  int k;

  (void)timer;
  if ((double)(uv_hrtime() - g.start) / 1e9 >= g.seconds) {
    stop_all();
    return;
  }
  for (k = 0; k < g.nactors; k++)
    if (g.slots[k].respawn_due)
      spawn(&g.slots[k]);
  if (chance(&g.rng, P_TERMINATE)) {
    s = &g.slots[random_slot()];
    if (s->state != NULL && !s->terminated) {
      err = uva_actor_terminate(&s->actor);
      if (err == 0) {
        s->terminated = 1;
        g.terminates++;
      } else if (err != UV_EALREADY) { /* EALREADY: it is ending by its own exit */
        fail("uva_actor_terminate", err);
      }
    }
  }
  keep_channels();
}

typedef struct {
  uint64_t posted, delivered, dropped;
} totals_t;

/* Checks one channel; returns the number of broken rules. */
static int check_channel(uint32_t id, totals_t *t) {
  channel_t *c = channel_of(id);
  int bad = 0;
  int d;

  for (d = 0; d < 2; d++) {
    uint64_t posted = c->posted[d], delivered = c->delivered[d], dropped = atomic_load(&c->dropped[d]);
    int receiver = atomic_load(&c->fate[1 - d]);
    /* The dropped seqs must be exactly delivered .. posted - 1. */
    uint64_t want_sum = (posted - delivered) * (delivered + posted - 1) / 2;
    int drops_ok = dropped == 0 || (atomic_load(&c->dropped_sum[d]) == want_sum &&
                                    atomic_load(&c->dropped_min[d]) == delivered &&
                                    atomic_load(&c->dropped_max[d]) == posted - 1 && receiver != FATE_CLOSED);

    t->posted += posted;
    t->delivered += delivered;
    t->dropped += dropped;
    if (posted != delivered + dropped || c->errors[d] != 0 || !drops_ok) {
      fprintf(stderr,
              "# channel %" PRIu32 " dir %d: posted %" PRIu64 " delivered %" PRIu64 " dropped %" PRIu64
              " (seqs %" PRIu64 "..%" PRIu64 ", if any) errors %" PRIu64 ", receiver %s\n",
              id, d, posted, delivered, dropped, (uint64_t)atomic_load(&c->dropped_min[d]) * (dropped > 0),
              (uint64_t)atomic_load(&c->dropped_max[d]), c->errors[d], fate_names[receiver]);
      bad++;
    }
  }
  for (d = 0; d < 2; d++)
    if (atomic_load(&c->fate[d]) == FATE_NONE) {
      fprintf(stderr, "# channel %" PRIu32 " side %d never finished\n", id, d);
      bad++;
    }
  return bad;
}

static void setup(int argc, char **argv) {
  int k;

  g.seconds = env_number("UVA_STRESS_SECONDS", 4);
  g.seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)env_number("UVA_STRESS_SEED", 0);
  if (g.seed == 0)
    g.seed = uv_hrtime() | 1;
  g.nactors = (int)env_number("UVA_STRESS_ACTORS", 6);
  g.target_channels = (uint32_t)env_number("UVA_STRESS_CHANNELS", 24);
  if (g.nactors < 1 || g.nactors > MAX_ACTORS || g.target_channels < 1) {
    fprintf(stderr, "stress_mesh: 1 <= UVA_STRESS_ACTORS <= %d, 1 <= UVA_STRESS_CHANNELS\n", MAX_ACTORS);
    exit(2);
  }
  g.rng = g.seed;
  for (k = 0; k < g.nactors; k++)
    g.slots[k].index = k;
}

int main(int argc, char **argv) {
  totals_t t = {0, 0, 0};
  double took;
  uint32_t id;
  int bad = 0;
  int err;
  int k;

  setup(argc, argv);
  printf("1..1\n# seed %" PRIu64 " (UVA_STRESS_SEED=%" PRIu64 " or argv[1] to replay), %.3g s\n", g.seed,
         g.seed, g.seconds);
  fflush(stdout);
  MUST(uv_loop_init(&g.loop));
  MUST(uv_timer_init(&g.loop, &g.tick));
  MUST(uv_timer_init(&g.loop, &g.guard));
  g.start = uv_hrtime();
  for (k = 0; k < g.nactors; k++)
    spawn(&g.slots[k]);
  MUST(uv_timer_start(&g.tick, on_main_tick, 1, 1));
  uv_run(&g.loop, UV_RUN_DEFAULT);
  took = (double)(uv_hrtime() - g.start) / 1e9;
  uv_close((uv_handle_t *)&g.guard, NULL);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  err = uv_loop_close(&g.loop);
  if (err != 0) {
    fprintf(stderr, "# main: uv_loop_close: %s\n", uv_err_name(err));
    bad++;
  }
  for (k = 0; k < g.nactors; k++)
    if (g.slots[k].state != NULL) {
      fprintf(stderr, "# actor %d never exited\n", k);
      bad++;
    }
  for (id = 0; id < g.nchannels; id++)
    bad += check_channel(id, &t);
  if (atomic_load(&g.live) != 0) {
    fprintf(stderr, "# %u channels still live\n", atomic_load(&g.live));
    bad++;
  }
  bad += (int)atomic_load(&g.failures);
  printf("# actors %d, spawns %" PRIu64 " (respawns %" PRIu64 "), channels %" PRIu32 " (%" PRIu32
         " ports), posted %" PRIu64 ", delivered %" PRIu64 ", dropped %" PRIu64 ", transfers %" PRIu64
         ", closes %" PRIu64 ", terminates %" PRIu64 ", self-exits %" PRIu64 ", reports %" PRIu64
         ", %.2f s\n",
         g.nactors, g.spawns, g.spawns - (uint64_t)g.nactors, g.nchannels, 2 * g.nchannels, t.posted,
         t.delivered, t.dropped, (uint64_t)atomic_load(&g.transfers), (uint64_t)atomic_load(&g.closes),
         g.terminates, g.self_exits, g.reports, took);
  printf("%s 1 - every message posted was delivered once and in order, or dropped with its end\n",
         bad == 0 ? "ok" : "not ok");
  for (k = 0; k < MAX_CHUNKS && g.chunks[k] != NULL; k++)
    free(g.chunks[k]);
  return bad == 0 ? 0 : 1;
}
