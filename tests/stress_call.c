/* Stress for calls (channel/call.c): calls in both directions between main and actors that die, and between
 * two loop-less threads, with random answers, timeouts, cancels, closes and terminates.
 *
 * main runs a loop and keeps UVA_STRESS_ACTORS actors (default 4) alive. Every millisecond main calls them,
 * and each actor calls main, a few calls at a time. A request is [token, action, code]: the token names the
 * caller's record (its index and a generation, so a stray answer can never match a reused record), the action
 * says what the callee does with it:
 *   NOW      answers [token] at once             LATER    keeps it and answers a few ticks later
 *   ERROR    answers the error code with text   FREE     frees it unanswered (UV_ECONNRESET)
 *   HOLD     keeps it; the callee frees it when its port closes, or answers it some time
 *   FORWARD  (main's calls) the actor posts the request on to main, which answers it: the duty moved
 * Timeouts are none, 0, or 1 to 20 ms; callers cancel pending calls at random. main terminates actors at
 * random (and respawns them), or closes its port to one (the actor then ends itself); actors end themselves
 * now and then. Meanwhile two plain threads call each other without loops: one calls with
 * uva_port_call_wait() while the other answers, answers late, fails or frees, and posts numbered plain
 * messages in between, which the caller must receive afterwards, all of them, in order.
 *
 * What must hold. Every call made completes exactly once: its record's callback count is 1 when its caller
 * checks, which is when the callee's actor has exited (main's calls to it), when an actor has exited (its
 * own calls), and at the end. A reply carries its call's token (no answer reaches the wrong call), and every
 * status is one the action allows: NOW, LATER, FORWARD 0; ERROR its code with its text; FREE and HOLD
 * UV_ECONNRESET; and for any, UV_ETIMEDOUT only with a timeout, UV_ECANCELED only once cancelled, UV_EPIPE
 * only when the channel closed. Late replies are at most the calls that timed out or were cancelled; for the
 * loop-less pair, exactly the answers that found no call. Every actor exits with the code its end gives, and
 * main's loop closes. Leaks and races are for ASan, TSan (and valgrind through test_call).
 *
 * The seed comes from argv[1], else UVA_STRESS_SEED, else the clock; printed first so a run can be replayed
 * (thread scheduling still varies). UVA_STRESS_SECONDS (default 2) sets the length. Speaks TAP. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress.h"
#include "uvactor.h"

#define MAX_ACTORS 16
#define MAIN_RECS 512 /* main's records, shared by all its calls */
#define ACTOR_RECS 64 /* each actor's */
#define MAX_KEPT 64   /* requests a callee keeps (LATER, HOLD) */
#define HANG_GUARD_MS 60000
#define EXIT_SELF 7

/* Chances in parts per 10000. Per caller tick (1 ms): */
#define P_CALL 6000  /* make a burst of 1..3 calls */
#define P_CANCEL 800 /* cancel one pending call */
/* Per main tick, per actor: */
#define P_TERMINATE 15
#define P_CLOSE_PORT 10
/* Per actor tick: */
#define P_SELF_EXIT 4
#define P_ANSWER_HELD 300 /* answer one held request */

enum { A_NOW, A_LATER, A_ERROR, A_FREE, A_HOLD, A_FORWARD, NACTIONS };
static const char *const action_names[] = {"now", "later", "error", "free", "hold", "forward"};

/* One call, from its caller's side. */
typedef struct {
  uva_call_t call;
  uint64_t token; /* index | generation << 16 */
  int action;
  int code; /* ERROR's */
  int64_t timeout_ms;
  int in_use;    /* made, not checked yet */
  int done;      /* callbacks run */
  int cancelled; /* uva_call_cancel() returned 0 */
  int status;
  uva_port_t *port;        /* the port it was made on */
  int target;              /* main's calls: the actor slot */
  unsigned int target_gen; /* ... and its spawn */
} rec_t;

/* A caller's records and counts: main's, and each actor's (owned by main, lent to the actor's thread). */
typedef struct {
  rec_t *recs;
  int nrecs;
  uint64_t gen;
  uint64_t made, completed, timeouts, cancels, pipes, resets, errors, replies;
  uint64_t late_bound; /* completed with UV_ETIMEDOUT or UV_ECANCELED: each may have one late answer */
} caller_t;

/* A request a callee keeps, to answer (LATER) or free later. */
typedef struct {
  uva_msg_t *msg[MAX_KEPT];
  int due[MAX_KEPT]; /* ticks left for LATER; -1 for HOLD */
  int n;
} kept_t;

/* An actor's state: made by main before the spawn, read by main after the exit event (the join orders it). */
typedef struct {
  int slot;
  unsigned int gen;
  uint64_t rng;
  uv_timer_t tick;
  uva_self_t *self;
  caller_t caller;
  kept_t kept;
  int port_closed; /* its port to main closed: it stops calling and ends */
  int self_exit;
  uint64_t late_seen; /* its port's late replies, when it last looked */
} actor_state_t;

typedef struct {
  uva_actor_t actor;
  actor_state_t *state; /* NULL: not running */
  unsigned int gen;
  int terminated;
  int port_closed;
  uint64_t late_seen; /* late replies on main's port to it, when main last looked */
} slot_t;

static struct {
  double seconds;
  uint64_t seed;
  int nactors;
  uint64_t rng;
  uv_loop_t loop;
  uv_timer_t tick;
  uv_timer_t guard;
  uint64_t start;
  int stopping;
  slot_t slots[MAX_ACTORS];
  caller_t main_caller;
  kept_t main_kept;
  atomic_uint_fast64_t failures;
  uint64_t spawns, terminates, closes, self_exits, forwards;
  uint64_t actor_made, actor_completed, late_main, late_actors, late_bound_actors;
} g;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...) {
  va_list ap;

  if (atomic_fetch_add(&g.failures, 1) > 20)
    return;
  fputs("# unexpected: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* ---- messages ------------------------------------------------------------------------------------ */

static uva_msg_t *request_msg(uint64_t token, int action, int code) {
  msgpack_packer *pk;
  uva_msg_t *msg;

  MUST(uva_msg_new(&msg));
  pk = uva_msg_packer(msg);
  msgpack_pack_array(pk, 3);
  msgpack_pack_uint64(pk, token);
  msgpack_pack_int(pk, action);
  msgpack_pack_int(pk, code);
  return msg;
}

static void request_read(uva_msg_t *msg, uint64_t *token, int *action, int *code) {
  msgpack_object obj;

  if (uva_msg_object(msg, &obj) != 0 || obj.type != MSGPACK_OBJECT_ARRAY || obj.via.array.size != 3) {
    fail("a request is not [token, action, code]");
    *token = 0;
    *action = A_FREE;
    *code = 0;
    return;
  }
  *token = obj.via.array.ptr[0].via.u64;
  *action = (int)obj.via.array.ptr[1].via.u64;
  *code = (int)obj.via.array.ptr[2].via.u64;
}

/* The token an answer carries: [token] for a reply, "e<token>" for an error's text; UINT64_MAX if neither. */
static uint64_t answer_token(uva_msg_t *msg, int error) {
  msgpack_object obj;
  char text[32];

  if (uva_msg_object(msg, &obj) != 0)
    return UINT64_MAX;
  if (!error)
    return obj.type == MSGPACK_OBJECT_ARRAY && obj.via.array.size == 1 ? obj.via.array.ptr[0].via.u64
                                                                       : UINT64_MAX;
  if (obj.type != MSGPACK_OBJECT_STR || obj.via.str.size < 2 || obj.via.str.size >= sizeof(text) ||
      obj.via.str.ptr[0] != 'e')
    return UINT64_MAX;
  memcpy(text, obj.via.str.ptr + 1, obj.via.str.size - 1);
  text[obj.via.str.size - 1] = '\0';
  return strtoull(text, NULL, 10);
}

/* Answers request as its action says (NOW, LATER, FORWARD: [token]; ERROR: the code). A reply the caller no
 * longer waits for (its channel closed) is refused with UV_EPIPE: the request is freed all the same. */
static void answer(uva_msg_t *request) {
  uint64_t token;
  int action;
  int code;
  uva_msg_t *reply;
  char text[32];
  int err;

  request_read(request, &token, &action, &code);
  if (action == A_FREE || action == A_HOLD) {
    uva_msg_free(request);
    return;
  }
  if (action == A_ERROR) {
    snprintf(text, sizeof(text), "e%" PRIu64, token);
    err = uva_msg_reply_error(request, code, text);
  } else {
    MUST(uva_msg_new(&reply));
    msgpack_pack_array(uva_msg_packer(reply), 1);
    msgpack_pack_uint64(uva_msg_packer(reply), token);
    err = uva_msg_reply(request, reply);
    if (err != 0)
      uva_msg_free(reply);
  }
  if (err != 0 && err != UV_EPIPE)
    fail("uva_msg_reply: %s", uva_err_name(err));
  if (err == 0 && uva_msg_is_call(request))
    fail("a request answered is still a call");
  uva_msg_free(request);
}

static void kept_add(kept_t *kept, uva_msg_t *request, int due) {
  if (kept->n == MAX_KEPT) {
    answer(request);
    return;
  }
  kept->msg[kept->n] = request;
  kept->due[kept->n] = due;
  kept->n++;
}

static void kept_answer(kept_t *kept, int i, int as_action) {
  uva_msg_t *request = kept->msg[i];

  kept->msg[i] = kept->msg[--kept->n];
  kept->due[i] = kept->due[kept->n];
  if (as_action == A_FREE)
    uva_msg_free(request);
  else
    answer(request);
}

/* One tick of a callee: LATER requests whose time came are answered; now and then a HOLD is let go (freed:
 * its caller gets UV_ECONNRESET). */
static void kept_tick(kept_t *kept, uint64_t *rng) {
  int i;

  for (i = 0; i < kept->n; i++)
    if (kept->due[i] > 0 && --kept->due[i] == 0)
      kept_answer(kept, i--, A_NOW);
  if (kept->n > 0 && chance(rng, P_ANSWER_HELD)) {
    i = (int)(next_random(rng) % (uint64_t)kept->n);
    if (kept->due[i] < 0)
      kept_answer(kept, i, A_FREE);
  }
}

/* The callee stops: what it kept goes as its action says, LATER answered, HOLD freed. */
static void kept_release_all(kept_t *kept) {
  while (kept->n > 0)
    kept_answer(kept, kept->n - 1, kept->due[kept->n - 1] > 0 ? A_NOW : A_FREE);
}

/* What a callee does with a request it got: its action. forward is where FORWARD goes, or NULL (main). */
static void handle_request(uva_msg_t *request, kept_t *kept, uva_port_t *forward, uint64_t *rng) {
  uint64_t token;
  int action;
  int code;

  if (!uva_msg_is_call(request)) {
    fail("a plain message where only requests travel");
    uva_msg_free(request);
    return;
  }
  request_read(request, &token, &action, &code);
  if (action == A_FORWARD && forward == NULL)
    g.forwards++; /* main, answering what an actor passed on */
  switch (action) {
  case A_LATER:
    kept_add(kept, request, 1 + (int)(next_random(rng) % 5));
    break;
  case A_HOLD:
    kept_add(kept, request, -1);
    break;
  case A_FORWARD:
    if (forward != NULL) {
      int err = uva_port_post(forward, request);
      if (err == 0)
        return;
      if (err != UV_EPIPE)
        fail("forward: %s", uva_err_name(err));
    }
    answer(request);
    break;
  default:
    answer(request);
    break;
  }
}

/* ---- callers ------------------------------------------------------------------------------------- */

static void caller_init(caller_t *c, int nrecs) {
  c->recs = calloc((size_t)nrecs, sizeof(*c->recs));
  if (c->recs == NULL)
    abort();
  c->nrecs = nrecs;
}

static rec_t *rec_free(caller_t *c, uint64_t *rng) {
  int start = (int)(next_random(rng) % (uint64_t)c->nrecs);
  int i;

  for (i = 0; i < c->nrecs; i++) {
    rec_t *r = &c->recs[(start + i) % c->nrecs];
    if (!r->in_use)
      return r;
  }
  return NULL;
}

enum { S_OK, S_TIMEDOUT, S_CANCELED, S_PIPE, S_RESET, S_ERROR, S_OTHER };

static int status_index(int status) {
  switch (status) {
  case 0:
    return S_OK;
  case UV_ETIMEDOUT:
    return S_TIMEDOUT;
  case UV_ECANCELED:
    return S_CANCELED;
  case UV_EPIPE:
    return S_PIPE;
  case UV_ECONNRESET:
    return S_RESET;
  default:
    return status > 0 ? S_ERROR : S_OTHER;
  }
}

/* Whether status is one the call's action allows. */
static int status_allowed(const rec_t *r, int status) {
  switch (status) {
  case UV_ETIMEDOUT:
    return r->timeout_ms >= 0;
  case UV_ECANCELED:
    return r->cancelled;
  case UV_EPIPE: /* only once the channel closed: the port is spent by the time its calls fail */
    return uva_port_stats(r->port, &(uva_port_stats_t){0}) == UV_EBADF;
  case UV_ECONNRESET:
    return r->action == A_FREE || r->action == A_HOLD;
  case 0:
    return r->action == A_NOW || r->action == A_LATER || r->action == A_FORWARD;
  default:
    return r->action == A_ERROR && status == r->code;
  }
}

static void on_call(uva_call_t *call, int status, uva_msg_t *reply) {
  rec_t *r = call->data;
  caller_t *c = r->call.loop->data;

  if (r->done++ != 0)
    fail("call %" PRIu64 " completed twice (%s, then %s)", r->token, uva_err_name(r->status),
         uva_err_name(status));
  r->status = status;
  if (!status_allowed(r, status))
    fail("call %" PRIu64 " (%s, timeout %" PRId64 "%s): status %s", r->token, action_names[r->action],
         r->timeout_ms, r->cancelled ? ", cancelled" : "",
         status > 0 ? "callee's code" : uva_err_name(status));
  if ((status == 0 || status > 0) != (reply != NULL))
    fail("call %" PRIu64 ": status %d with%s a reply", r->token, status, reply != NULL ? "" : "out");
  if (reply != NULL) {
    if (uva_msg_is_call(reply))
      fail("a reply is a call");
    if (answer_token(reply, status > 0) != r->token)
      fail("call %" PRIu64 " got the answer of %" PRIu64, r->token, answer_token(reply, status > 0));
    uva_msg_free(reply);
  }
  c->completed++;
  if (status == UV_ETIMEDOUT || status == UV_ECANCELED)
    c->late_bound++;
  c->timeouts += status == UV_ETIMEDOUT;
  c->cancels += status == UV_ECANCELED;
  c->pipes += status == UV_EPIPE;
  c->resets += status == UV_ECONNRESET;
  c->errors += status > 0;
  c->replies += status == 0;
}

/* Makes one call on port with a random action and timeout; records it. */
static void make_call(caller_t *c, uva_port_t *port, uint64_t *rng, int allow_forward, int target,
                      unsigned int target_gen) {
  static const int64_t timeouts[] = {-1, -1, -1, 0, 1, 2, 5, 10, 20};
  rec_t *r = rec_free(c, rng);
  uva_msg_t *msg;
  int err;

  if (r == NULL)
    return;
  memset(r, 0, sizeof(*r));
  r->in_use = 1;
  r->token = (uint64_t)(r - c->recs) | ++c->gen << 16;
  r->action = (int)(next_random(rng) % (allow_forward ? NACTIONS : NACTIONS - 1));
  r->code = 1 + (int)(next_random(rng) % 1000);
  r->timeout_ms = timeouts[next_random(rng) % (sizeof(timeouts) / sizeof(timeouts[0]))];
  r->port = port;
  r->target = target;
  r->target_gen = target_gen;
  r->call.data = r;
  msg = request_msg(r->token, r->action, r->code);
  err = uva_port_call(port, &r->call, msg, r->timeout_ms, on_call);
  if (err != 0) {
    r->in_use = 0;
    uva_msg_free(msg);
    if (err != UV_EPIPE && err != UV_EBADF)
      fail("uva_port_call: %s", uva_err_name(err));
    return;
  }
  c->made++;
}

static void cancel_one(caller_t *c, uint64_t *rng) {
  rec_t *r = &c->recs[next_random(rng) % (uint64_t)c->nrecs];
  int err;

  if (!r->in_use || r->done || r->cancelled)
    return;
  err = uva_call_cancel(&r->call);
  if (err == 0)
    r->cancelled = 1;
  else if (err != UV_EALREADY)
    fail("uva_call_cancel: %s", uva_err_name(err));
}

/* Every call of c that matches (all, or main's to one actor's spawn) completed exactly once; frees them. */
static void check_done(caller_t *c, int target, unsigned int target_gen, const char *who) {
  int i;

  for (i = 0; i < c->nrecs; i++) {
    rec_t *r = &c->recs[i];
    if (!r->in_use || (target >= 0 && (r->target != target || r->target_gen != target_gen)))
      continue;
    if (r->done != 1)
      fail("%s: call %" PRIu64 " (%s) completed %d times", who, r->token, action_names[r->action], r->done);
    r->in_use = 0;
  }
}

/* Frees the records of calls that completed, for reuse. */
static void recycle_done(caller_t *c) {
  int i;

  for (i = 0; i < c->nrecs; i++)
    if (c->recs[i].in_use && c->recs[i].done == 1)
      c->recs[i].in_use = 0;
}

/* ---- actors -------------------------------------------------------------------------------------- */

static void actor_on_request(uva_port_t *port, uva_msg_t *msg) {
  actor_state_t *s = port->data;

  handle_request(msg, &s->kept, port, &s->rng);
}

static void actor_end(actor_state_t *s) {
  uv_timer_stop(&s->tick);
  uv_close((uv_handle_t *)&s->tick, NULL);
  kept_release_all(&s->kept);
}

/* Its port to main closed (main closed it, or the actor is ending): pending calls failed already. */
static void actor_on_close(uva_port_t *port) {
  actor_state_t *s = port->data;

  s->port_closed = 1;
  if (!uv_is_closing((uv_handle_t *)&s->tick))
    actor_end(s);
}

static void actor_tick(uv_timer_t *timer) {
  actor_state_t *s = timer->data;
  uva_port_t *port = uva_self_port(s->self);
  uva_port_stats_t stats;
  int n;

  if (uva_port_stats(port, &stats) == 0)
    s->late_seen = stats.late_replies;
  kept_tick(&s->kept, &s->rng);
  recycle_done(&s->caller);
  if (chance(&s->rng, P_CALL))
    for (n = 1 + (int)(next_random(&s->rng) % 3); n > 0; n--)
      make_call(&s->caller, port, &s->rng, 0, -1, 0);
  if (chance(&s->rng, P_CANCEL))
    cancel_one(&s->caller, &s->rng);
  if (chance(&s->rng, P_SELF_EXIT)) {
    s->self_exit = 1;
    uva_self_exit(s->self, EXIT_SELF);
  }
}

static int actor_main(uva_self_t *self) {
  actor_state_t *s = uva_self_arg(self);
  uv_loop_t *loop = uva_self_loop(self);

  s->self = self;
  loop->data = &s->caller;
  uva_self_port(self)->data = s;
  MUST(uva_port_start(uva_self_port(self), loop, actor_on_request, actor_on_close));
  MUST(uv_timer_init(loop, &s->tick));
  s->tick.data = s;
  MUST(uv_timer_start(&s->tick, actor_tick, 1, 1));
  return 0;
}

/* ---- main ---------------------------------------------------------------------------------------- */

static void on_actor_message(uva_actor_t *actor, uva_msg_t *msg) {
  (void)actor;
  if (g.stopping && uva_msg_is_call(msg))
    answer(msg); /* nothing is kept past the stop */
  else
    handle_request(msg, &g.main_kept, NULL, &g.rng);
}

static void spawn(slot_t *s);

static void on_actor_exit(uva_actor_t *actor, int code) {
  slot_t *s = actor->data;
  actor_state_t *st = s->state;
  int want;

  /* The channel to it is closed: main's calls to it all completed; so did its own. */
  check_done(&g.main_caller, (int)(s - g.slots), s->gen, "main");
  check_done(&st->caller, -1, 0, "actor");
  want = s->terminated ? UVA_EXIT_TERMINATED : st->self_exit ? EXIT_SELF : 0;
  if (code != want && !(s->terminated && code == (st->self_exit ? EXIT_SELF : 0)))
    fail("actor %d exited with %d, not %d", (int)(s - g.slots), code, want);
  g.self_exits += st->self_exit;
  g.actor_made += st->caller.made;
  g.actor_completed += st->caller.completed;
  g.late_bound_actors += st->caller.late_bound;
  g.late_actors += st->late_seen;
  g.late_main += s->late_seen;
  s->late_seen = 0;
  if (st->kept.n != 0)
    fail("actor %d kept %d requests past its end", (int)(s - g.slots), st->kept.n);
  free(st->caller.recs);
  free(st);
  s->state = NULL;
  if (!g.stopping)
    spawn(s);
}

static void spawn(slot_t *s) {
  uva_actor_options_t options;
  actor_state_t *st = calloc(1, sizeof(*st));

  if (st == NULL)
    abort();
  st->slot = (int)(s - g.slots);
  st->gen = ++s->gen;
  st->rng = next_random(&g.rng) | 1;
  caller_init(&st->caller, ACTOR_RECS);
  memset(&options, 0, sizeof(options));
  options.name = "callee";
  options.arg = st;
  options.message_cb = on_actor_message;
  options.exit_cb = on_actor_exit;
  s->actor.data = s;
  s->state = st;
  s->terminated = 0;
  s->port_closed = 0;
  MUST(uva_actor_spawn(&s->actor, &g.loop, actor_main, &options));
  g.spawns++;
}

static void stop_all(void) {
  int k;

  g.stopping = 1;
  uv_timer_stop(&g.tick);
  uv_close((uv_handle_t *)&g.tick, NULL);
  uv_close((uv_handle_t *)&g.guard, NULL);
  kept_release_all(&g.main_kept);
  for (k = 0; k < g.nactors; k++)
    if (g.slots[k].state != NULL && !g.slots[k].terminated) {
      g.slots[k].terminated = 1;
      (void)uva_actor_terminate(&g.slots[k].actor);
    }
}

static void main_tick(uv_timer_t *timer) {
  uva_port_stats_t stats;
  int n;
  int k;

  (void)timer;
  if ((double)(uv_hrtime() - g.start) / 1e9 >= g.seconds) {
    stop_all();
    return;
  }
  kept_tick(&g.main_kept, &g.rng);
  recycle_done(&g.main_caller);
  for (k = 0; k < g.nactors; k++) {
    slot_t *s = &g.slots[k];
    if (s->state == NULL || s->terminated || s->port_closed)
      continue;
    if (chance(&g.rng, P_CALL))
      for (n = 1 + (int)(next_random(&g.rng) % 3); n > 0; n--)
        make_call(&g.main_caller, uva_actor_port(&s->actor), &g.rng, 1, k, s->gen);
    if (uva_port_stats(uva_actor_port(&s->actor), &stats) == 0)
      s->late_seen = stats.late_replies;
    if (chance(&g.rng, P_TERMINATE)) {
      s->terminated = 1;
      g.terminates++;
      if (uva_actor_terminate(&s->actor) != 0)
        s->terminated = 0; /* it ended by itself first */
    } else if (chance(&g.rng, P_CLOSE_PORT)) {
      s->port_closed = 1;
      g.closes++;
      MUST(uva_port_close(uva_actor_port(&s->actor)));
    }
  }
  if (chance(&g.rng, P_CANCEL))
    cancel_one(&g.main_caller, &g.rng);
}

static void on_guard(uv_timer_t *timer) {
  (void)timer;
  fprintf(stderr, "# stress_call: still running %d s after the end: a hang\n", HANG_GUARD_MS / 1000);
  abort();
}

/* ---- the loop-less pair -------------------------------------------------------------------------- */

typedef struct {
  uva_port_t wx, wy;
  uint64_t rng_caller, rng_callee;
  uint64_t calls, results[8], late_bound;
  uint64_t answers;    /* the callee's answers and notices: replies, errors, frees */
  uint64_t plain_sent; /* plain messages the callee posted */
  uint64_t plain_seen;
} pair_t;

static pair_t pair;

#define STOP_ACTION 100

static void pair_callee(void *arg) {
  pair_t *p = arg;
  uva_msg_t *kept = NULL;
  uva_msg_t *req;
  uva_msg_t *reply;
  uint64_t token;
  int action;
  int code;
  int n;

  for (;;) {
    int err = uva_port_receive_wait(&p->wy, &req, HANG_GUARD_MS);
    if (err != 0) {
      fail("pair callee: receive: %s", uva_err_name(err));
      break;
    }
    for (n = (int)(next_random(&p->rng_callee) % 3); n > 0; n--) {
      uva_msg_t *plain;
      MUST(uva_msg_new(&plain));
      msgpack_pack_uint64(uva_msg_packer(plain), ++p->plain_sent);
      MUST(uva_port_post(&p->wy, plain));
    }
    request_read(req, &token, &action, &code);
    if (kept != NULL) { /* a LATER from before: answered now, late or not */
      answer(kept);
      kept = NULL;
      p->answers++;
    }
    if (action == STOP_ACTION) {
      MUST(uva_msg_new(&reply));
      msgpack_pack_array(uva_msg_packer(reply), 1);
      msgpack_pack_uint64(uva_msg_packer(reply), p->plain_sent);
      MUST(uva_msg_reply(req, reply));
      uva_msg_free(req);
      break;
    }
    if (action == A_LATER) {
      kept = req;
      continue;
    }
    answer(req); /* NOW, ERROR, FREE (a notice), HOLD (freed: a notice) */
    p->answers++;
  }
  MUST(uva_port_close(&p->wy));
}

static void pair_drain(pair_t *p) {
  uva_msg_t *msg;
  msgpack_object obj;

  while (uva_port_receive(&p->wx, &msg) == 0) {
    if (uva_msg_is_call(msg) || uva_msg_object(msg, &obj) != 0 ||
        obj.type != MSGPACK_OBJECT_POSITIVE_INTEGER || obj.via.u64 != p->plain_seen + 1)
      fail("pair: plain message out of order (after %" PRIu64 ")", p->plain_seen);
    p->plain_seen++;
    uva_msg_free(msg);
  }
}

static void pair_caller(void *arg) {
  static const int64_t timeouts[] = {-1, 0, 1, 2, 5};
  pair_t *p = arg;
  uva_port_stats_t stats;
  uva_msg_t *reply;
  uint64_t token = 0;
  uint64_t deadline = uv_hrtime() + (uint64_t)(g.seconds * 1e9);
  int64_t timeout;
  int action;
  int code;
  int err;
  rec_t r;

  while (uv_hrtime() < deadline) {
    action = (int)(next_random(&p->rng_caller) % (A_HOLD + 1));
    code = 1 + (int)(next_random(&p->rng_caller) % 1000);
    timeout = timeouts[next_random(&p->rng_caller) % (sizeof(timeouts) / sizeof(timeouts[0]))];
    if (timeout < 0 && action == A_LATER)
      timeout = 5; /* its answer comes with the next request: a wait without a timeout would never end */
    reply = NULL;
    err = uva_port_call_wait(&p->wx, request_msg(++token, action, code), timeout, &reply);
    p->calls++;
    memset(&r, 0, sizeof(r));
    r.token = token;
    r.action = action;
    r.code = code;
    r.timeout_ms = timeout;
    r.port = &p->wx;
    if (!status_allowed(&r, err) || err == UV_EPIPE)
      fail("pair: call %" PRIu64 " (%s, timeout %" PRId64 "): %s", token, action_names[action], timeout,
           err > 0 ? "callee's code" : uva_err_name(err));
    if ((err >= 0) != (reply != NULL))
      fail("pair: status %d with%s a reply", err, reply != NULL ? "" : "out");
    if (reply != NULL && answer_token(reply, err > 0) != token)
      fail("pair: call %" PRIu64 " got the answer of %" PRIu64, token, answer_token(reply, err > 0));
    uva_msg_free(reply);
    p->results[status_index(err)]++;
    p->late_bound += err == UV_ETIMEDOUT;
    pair_drain(p);
  }
  /* The last call: every answer before it is queued before its reply, so the wait counts every late one. */
  err = uva_port_call_wait(&p->wx, request_msg(++token, STOP_ACTION, 0), HANG_GUARD_MS, &reply);
  if (err != 0) {
    fail("pair: stop call: %s", uva_err_name(err));
  } else {
    pair_drain(p);
    if (answer_token(reply, 0) != p->plain_seen)
      fail("pair: saw %" PRIu64 " plain messages of %" PRIu64, p->plain_seen, answer_token(reply, 0));
    uva_msg_free(reply);
  }
  MUST(uva_port_stats(&p->wx, &stats));
  if (stats.late_replies > p->late_bound ||
      stats.late_replies + p->results[S_OK] + p->results[S_ERROR] + p->results[S_RESET] != p->answers)
    fail("pair: %" PRIu64 " late answers, %" PRIu64 " timeouts, %" PRIu64 " answers given, %" PRIu64 " taken",
         stats.late_replies, p->late_bound, p->answers,
         p->results[S_OK] + p->results[S_ERROR] + p->results[S_RESET]);
  p->results[7] = stats.late_replies;
  MUST(uva_port_close(&p->wx));
}

/* ---- a crowd of timed calls --------------------------------------------------------------------- */

/* CROWD calls on one port, made in one turn with timeouts in random and decreasing order, to a peer that
 * never answers. A quarter have short timeouts (1 to 30 ms): they time out in deadline order, ties in call
 * order; one call in eight of the rest is cancelled at once (UV_ECANCELED); the rest fail when the peer then
 * closes (UV_EPIPE, or UV_ECONNRESET for a request freed before the close reached the caller). Each completes
 * once. How long the calls took to make is printed, never judged: with the deadlines in a sorted list they
 * cost O(n^2), tens of seconds here; a heap makes them milliseconds. */
#define CROWD 40000

typedef struct {
  uva_call_t call;
  int64_t timeout;
  int cancelled;
  int done;
} crowd_rec_t;

static struct {
  uva_port_t a, b; /* a calls; b, not started, holds the requests */
  crowd_rec_t *recs;
  int nshort;   /* calls with a short timeout */
  int timeouts; /* of them, timed out */
  crowd_rec_t *last_timeout;
  int completed;
} crowd;

static void crowd_on_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  fail("crowd: a plain message");
  uva_msg_free(msg);
}

static void crowd_on_call(uva_call_t *call, int status, uva_msg_t *reply) {
  crowd_rec_t *r = (crowd_rec_t *)call;
  int is_short = r->timeout < 1000;

  if (r->done++ != 0)
    fail("crowd: call %d completed twice", (int)(r - crowd.recs));
  crowd.completed++;
  uva_msg_free(reply);
  if (r->cancelled ? status != UV_ECANCELED
      : is_short   ? status != UV_ETIMEDOUT
                   : status != UV_EPIPE && status != UV_ECONNRESET)
    fail("crowd: call %d (timeout %" PRId64 " ms%s): %s", (int)(r - crowd.recs), r->timeout,
         r->cancelled ? ", cancelled" : "", uv_err_name(status));
  if (status != UV_ETIMEDOUT)
    return;
  /* Made in one turn, from one uv_now(): deadline order is timeout order, then call order. */
  if (crowd.last_timeout != NULL && (crowd.last_timeout->timeout > r->timeout ||
                                     (crowd.last_timeout->timeout == r->timeout && crowd.last_timeout > r)))
    fail("crowd: call %d (%" PRId64 " ms) timed out after call %d (%" PRId64 " ms)", (int)(r - crowd.recs),
         r->timeout, (int)(crowd.last_timeout - crowd.recs), crowd.last_timeout->timeout);
  crowd.last_timeout = r;
  if (++crowd.timeouts == crowd.nshort)
    MUST(uva_port_close(&crowd.b));
}

static void crowd_run(void) {
  uint64_t rng = next_random(&g.rng) | 1;
  uv_loop_t loop;
  uint64_t start;
  uva_msg_t *msg;
  int i;

  crowd.recs = calloc(CROWD, sizeof(*crowd.recs));
  if (crowd.recs == NULL)
    fail("crowd: out of memory");
  MUST(uv_loop_init(&loop));
  MUST(uva_channel_init(&crowd.a, &crowd.b));
  MUST(uva_port_start(&crowd.a, &loop, crowd_on_message, NULL));
  start = uv_hrtime();
  for (i = 0; i < CROWD && crowd.recs != NULL; i++) {
    crowd_rec_t *r = &crowd.recs[i];

    if (i % 4 == 0)
      r->timeout = 1 + (int64_t)(next_random(&rng) % 30);
    else if (i % 4 == 1)
      r->timeout = 600000 - i; /* decreasing: each before every one made so far */
    else
      r->timeout = 60000 + (int64_t)(next_random(&rng) % 540000);
    crowd.nshort += i % 4 == 0;
    MUST(uva_msg_new(&msg));
    msgpack_pack_int(uva_msg_packer(msg), i);
    MUST(uva_port_call(&crowd.a, &r->call, msg, r->timeout, crowd_on_call));
  }
  printf("# crowd: %d timed calls made in %.1f ms\n", CROWD, (double)(uv_hrtime() - start) / 1e6);
  for (i = 1; i < CROWD && crowd.recs != NULL; i += 8) {
    crowd.recs[i].cancelled = 1;
    MUST(uva_call_cancel(&crowd.recs[i].call));
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  MUST(uv_loop_close(&loop));
  if (crowd.completed != CROWD)
    fail("crowd: %d of %d calls completed", crowd.completed, CROWD);
  printf("# crowd: %d calls completed (%d timed out) in %.1f ms\n", crowd.completed, crowd.timeouts,
         (double)(uv_hrtime() - start) / 1e6);
  free(crowd.recs);
}

/* ---- the run ------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  uv_thread_t caller_thread;
  uv_thread_t callee_thread;
  uint64_t failures;
  double took;
  int err;
  int k;

  g.seconds = env_number("UVA_STRESS_SECONDS", 2);
  g.seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)env_number("UVA_STRESS_SEED", 0);
  if (g.seed == 0)
    g.seed = uv_hrtime() | 1;
  g.nactors = (int)env_number("UVA_STRESS_ACTORS", 4);
  if (g.nactors < 1 || g.nactors > MAX_ACTORS) {
    fprintf(stderr, "stress_call: 1 <= UVA_STRESS_ACTORS <= %d\n", MAX_ACTORS);
    return 2;
  }
  g.rng = g.seed;
  printf("1..2\n# seed %" PRIu64 " (UVA_STRESS_SEED=%" PRIu64 " or argv[1] to replay), %.3g s\n", g.seed,
         g.seed, g.seconds);
  fflush(stdout);
  caller_init(&g.main_caller, MAIN_RECS);
  MUST(uv_loop_init(&g.loop));
  g.loop.data = &g.main_caller;
  MUST(uv_timer_init(&g.loop, &g.tick));
  MUST(uv_timer_init(&g.loop, &g.guard));
  MUST(uv_timer_start(&g.guard, on_guard, (uint64_t)(g.seconds * 1000) + HANG_GUARD_MS, 0));
  uv_unref((uv_handle_t *)&g.guard);
  pair.rng_caller = next_random(&g.rng) | 1;
  pair.rng_callee = next_random(&g.rng) | 1;
  MUST(uva_channel_init(&pair.wx, &pair.wy));
  g.start = uv_hrtime();
  MUST(uv_thread_create(&callee_thread, pair_callee, &pair));
  MUST(uv_thread_create(&caller_thread, pair_caller, &pair));
  for (k = 0; k < g.nactors; k++)
    spawn(&g.slots[k]);
  MUST(uv_timer_start(&g.tick, main_tick, 1, 1));
  uv_run(&g.loop, UV_RUN_DEFAULT);
  took = (double)(uv_hrtime() - g.start) / 1e9;
  err = uv_loop_close(&g.loop);
  if (err != 0)
    fail("main: uv_loop_close: %s", uv_err_name(err));
  for (k = 0; k < g.nactors; k++)
    if (g.slots[k].state != NULL)
      fail("actor %d never exited", k);
  check_done(&g.main_caller, -1, 0, "main at the end");
  MUST(uv_thread_join(&caller_thread));
  MUST(uv_thread_join(&callee_thread));
  printf("# actors %d, spawns %" PRIu64 ", terminates %" PRIu64 ", port closes %" PRIu64
         ", self-exits %" PRIu64 ", %.2f s\n",
         g.nactors, g.spawns, g.terminates, g.closes, g.self_exits, took);
  printf("# main's calls: %" PRIu64 " (replies %" PRIu64 ", callee errors %" PRIu64 ", timeouts %" PRIu64
         ", cancels %" PRIu64 ", pipes %" PRIu64 ", resets %" PRIu64 "); actors' calls: %" PRIu64
         " (completed %" PRIu64 "); requests forwarded to main: %" PRIu64 "\n",
         g.main_caller.made, g.main_caller.replies, g.main_caller.errors, g.main_caller.timeouts,
         g.main_caller.cancels, g.main_caller.pipes, g.main_caller.resets, g.actor_made, g.actor_completed,
         g.forwards);
  printf("# loop-less pair: %" PRIu64 " calls (replies %" PRIu64 ", errors %" PRIu64 ", resets %" PRIu64
         ", timeouts %" PRIu64 "), late %" PRIu64 ", plain messages %" PRIu64 "\n",
         pair.calls, pair.results[S_OK], pair.results[S_ERROR], pair.results[S_RESET],
         pair.results[S_TIMEDOUT], pair.results[7], pair.plain_seen);
  printf("# late replies: main %" PRIu64 " (of %" PRIu64 " timed out or cancelled), actors %" PRIu64
         " (of %" PRIu64 ")\n",
         g.late_main, g.main_caller.late_bound, g.late_actors, g.late_bound_actors);
  if (g.late_main > g.main_caller.late_bound || g.late_actors > g.late_bound_actors)
    fail("more late replies than calls that could have one");
  if (g.main_caller.made != g.main_caller.completed || g.actor_made != g.actor_completed)
    fail("calls made %" PRIu64 " + %" PRIu64 ", completed %" PRIu64 " + %" PRIu64, g.main_caller.made,
         g.actor_made, g.main_caller.completed, g.actor_completed);
  printf("%s 1 - every call completed once, with its own answer or a status its action allows\n",
         atomic_load(&g.failures) == 0 ? "ok" : "not ok");
  free(g.main_caller.recs);
  failures = atomic_load(&g.failures);
  crowd_run();
  printf("%s 2 - a crowd of timed calls: each completed once, the timeouts in deadline order\n",
         atomic_load(&g.failures) == failures ? "ok" : "not ok");
  return atomic_load(&g.failures) == 0 ? 0 : 1;
}
