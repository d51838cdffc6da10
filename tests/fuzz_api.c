/* libFuzzer target for the port and message API: the input is a program of API calls, run on one thread
 * with ports on two loops (both run by this thread, each turned with uv_run(UV_RUN_NOWAIT) when the input
 * says so). No actors and no threadpool.
 *
 * Each op reads a byte for what to do and a few more for its arguments, over small pools of port handles,
 * broadcast members, messages and shared buffers: create channels, start, post (messages built op by op, with
 * moved buffers, shared buffers and ports packed in, or made from raw input bytes), receive, close, transfer
 * (pack, take, start elsewhere), limits, writable, ref/unref, spin, run a loop, broadcast, and actions armed
 * to run inside the next message callback (close, transfer, receive, post from there). Calls too: a pool of
 * call handles makes calls with pooled messages as requests (timeouts none, 0 or 1 ms), cancels them, and
 * answers the requests that come in (reply, error reply, or free them), with loop-less calls of timeout 0.
 *
 * What is checked: every call returns a code its header documents (anything else aborts, which libFuzzer
 * reports as a crash), every call callback runs exactly once with a status call.h lists (a reply with 0 and
 * the callee's codes only), memory errors and leaks (ASan, LSan), and that after each input everything can be
 * closed: every port and member closed, every call completed, the loops run a bounded number of times, then
 * uv_loop_close() == 0.
 * A loop that never quiets down is a hang, reported as a crash too.
 *
 * One thing the harness avoids on purpose: two ports each queued, in transit, inside a message on the other's
 * channel form a cycle that nothing can free (tests/test_api_regress.c, test_ports_queued_in_each_other_are_
 * freed). To keep finding other leaks, a message carrying a port is posted only to an end held by a handle,
 * and an end is transferred only when no message carrying a port waits in its queue: then no end in transit
 * ever holds a port, and no cycle can form. The harness tracks ends by ids it gives them for that. A request
 * follows the rule as a post does; replies, and requests of loop-less calls (which cannot say whether they
 * were posted when they fail with UV_EPIPE), carry no port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvactor.h"

#define NPORTS 8
#define NBC 4
#define NMSGS 6
#define NSHARED 3
#define NCALLS 6
#define MAX_CHANNELS 64
#define MAX_ENDS (2 * MAX_CHANNELS)
#define MAX_ATT 24      /* attachments the harness tracks per message */
#define MAX_INFLIGHT 64 /* posted messages that carry a port */
#define MAX_OPS 4096
#define DRAIN_RUNS 64 /* loop turns allowed to close everything at the end of an input */
#define LIVELOCK_CALLS 1000

#define FAIL(...)                              \
  do {                                         \
    fprintf(stderr, "fuzz_api: " __VA_ARGS__); \
    fputc('\n', stderr);                       \
    abort();                                   \
  } while (0)

/* ---- what each call may return ------------------------------------------------------------------- */

enum {
  A_OK = 1 << 0,
  A_EINVAL = 1 << 1,
  A_ENOMEM = 1 << 2,
  A_EBADF = 1 << 3,
  A_EPIPE = 1 << 4,
  A_EAGAIN = 1 << 5,
  A_E2BIG = 1 << 6,
  A_EBUSY = 1 << 7,
  A_EPERM = 1 << 8,
  A_EALREADY = 1 << 9,
  A_ETIMEDOUT = 1 << 10,
  A_ELOOP = 1 << 11,
  A_UVA = 1 << 12, /* the UVA_E* codes of malformed msgpack */
  A_ECANCELED = 1 << 13,
  A_ECONNRESET = 1 << 14,
  A_CALLEE = 1 << 15 /* a callee's own code: positive */
};

static unsigned int code_bit(int err) {
  switch (err) {
  case 0:
    return A_OK;
  case UV_EINVAL:
    return A_EINVAL;
  case UV_ENOMEM:
    return A_ENOMEM;
  case UV_EBADF:
    return A_EBADF;
  case UV_EPIPE:
    return A_EPIPE;
  case UV_EAGAIN:
    return A_EAGAIN;
  case UV_E2BIG:
    return A_E2BIG;
  case UV_EBUSY:
    return A_EBUSY;
  case UV_EPERM:
    return A_EPERM;
  case UV_EALREADY:
    return A_EALREADY;
  case UV_ETIMEDOUT:
    return A_ETIMEDOUT;
  case UV_ELOOP:
    return A_ELOOP;
  case UV_ECANCELED:
    return A_ECANCELED;
  case UV_ECONNRESET:
    return A_ECONNRESET;
  default:
    if (err > 0)
      return A_CALLEE;
    return err <= UVA_ETRUNC && err > UVA_ERRNO_MAX_ - 100 ? A_UVA : 0;
  }
}

/* UVA_FUZZ_TRACE=1 prints every call and what it returned: to read what a crashing input does. */
static int trace = -1;

/* Aborts unless err is one of the codes the header documents for call. */
static int expect(const char *call, int err, unsigned int allowed) {
  const char *text = uva_strerror(err);

  if (text == NULL || uva_err_name(err) == NULL)
    FAIL("no text for %d", err);
  if (trace)
    fprintf(stderr, "  %s: %s\n", call, err == 0 ? "0" : uva_err_name(err));
  if ((code_bit(err) & allowed) == 0)
    FAIL("%s returned %d (%s), which its header does not document", call, err, uva_err_name(err));
  return err;
}

/* From include/uvactor/{msg,port}.h. */
#define R_CHANNEL_INIT (A_OK | A_EINVAL | A_ENOMEM)
#define R_START (A_OK | A_EINVAL | A_EBUSY | A_EBADF | A_EPERM | A_ENOMEM)
#define R_POST (A_OK | A_EINVAL | A_UVA | A_ENOMEM | A_EBADF | A_EPIPE | A_EAGAIN | A_E2BIG | A_ELOOP)
#define R_POST_WAIT (R_POST | A_ETIMEDOUT)
#define R_RECEIVE (A_OK | A_EAGAIN | A_EPIPE | A_EINVAL | A_EBADF | A_EPERM)
#define R_RECEIVE_WAIT (R_RECEIVE | A_ETIMEDOUT | A_EBUSY)
#define R_CLOSE (A_OK | A_EINVAL | A_EBADF | A_EALREADY | A_EPERM)
#define R_REF (A_OK | A_EINVAL | A_EBADF | A_EPERM)
#define R_SPIN (A_OK | A_EINVAL | A_EBADF | A_EPERM)
#define R_LIMITS (A_OK | A_EINVAL | A_EBADF | A_EPERM)
#define R_WRITABLE (A_OK | A_EINVAL | A_EBADF | A_EPIPE | A_EPERM)
#define R_PACK_PORT (A_OK | A_EINVAL | A_EBADF | A_EBUSY | A_EPERM | A_ENOMEM)
#define R_TAKE (A_OK | A_EINVAL | A_EALREADY)
#define R_BC_INIT (A_OK | A_EINVAL | A_ENOMEM)
/* port.h lists 0, UV_EINVAL, UV_EBADF and UV_ENOMEM, but the body is validated as uva_port_post() does, so a
 * malformed one gets its UVA_E* code and an oversized one UV_E2BIG (reported; accepted here meanwhile). */
#define R_BC_POST (A_OK | A_EINVAL | A_EBADF | A_ENOMEM | A_UVA | A_E2BIG)
#define R_BC_CLOSE (A_OK | A_EINVAL | A_EBADF | A_EALREADY | A_EPERM)
#define R_MSG_NEW (A_OK | A_EINVAL | A_ENOMEM)
#define R_VALIDATE (A_OK | A_EINVAL | A_ENOMEM | A_E2BIG | A_UVA)
#define R_FROM_BYTES (A_OK | A_EINVAL | A_ENOMEM | A_E2BIG | A_UVA)
#define R_OBJECT (A_OK | A_EINVAL | A_ENOMEM | A_E2BIG | A_UVA)
#define R_PACK (A_OK | A_EINVAL | A_ENOMEM)
/* msg.h lists 0 and UV_EINVAL; a raw reserved ext of the shared type that names a moved buffer's slot passes
 * validation (only the index is checked), and once that buffer is taken the call says UV_EALREADY (reported).
 */
#define R_GET_SHARED (A_OK | A_EINVAL | A_EALREADY)
#define R_SHARED_NEW (A_OK | A_EINVAL | A_ENOMEM)
/* From include/uvactor/call.h. */
#define R_CALL (R_POST | A_EPERM)
#define R_CALL_STATUS (A_OK | A_CALLEE | A_ETIMEDOUT | A_ECANCELED | A_EPIPE | A_ECONNRESET)
#define R_CALL_WAIT (R_CALL | A_EBUSY | R_CALL_STATUS)
#define R_CANCEL (A_OK | A_EINVAL | A_EALREADY | A_EPERM)
#define R_REPLY (A_OK | A_EINVAL | A_EALREADY | A_EPIPE | A_ELOOP | A_ENOMEM | A_E2BIG | A_UVA)
#define R_REPLY_ERROR (A_OK | A_EINVAL | A_EALREADY | A_EPIPE | A_ENOMEM | A_E2BIG)
/* From include/uvactor/stats.h: any thread may read a port's statistics. */
#define R_STATS (A_OK | A_EINVAL | A_EBADF)

/* ---- the harness's model ------------------------------------------------------------------------- */

/* What a handle slot holds, as far as the harness knows. */
enum {
  H_FREE, /* never used, closed, or spent: its memory may be given to a new handle */
  H_NEW,
  H_STARTED,
  H_CLOSING, /* closed while started: the close callback is due */
  H_ZOMBIE   /* started without a close callback: never reused within this input */
};

enum { ATT_BUFFER, ATT_SHARED, ATT_PORT };

/* Where an end is, for the cycle rule. */
enum { LOC_GONE = -2, LOC_IN_MSG = -1 }; /* else the slot holding it */

typedef struct {
  int natt;
  struct {
    int kind;
    int end; /* ATT_PORT: the end's id */
  } att[MAX_ATT];
  int dest; /* posted: the end it was queued to, -1 if none */
} rec_t;

typedef struct {
  uva_msg_t *msg;
  rec_t rec;
} mslot_t;

static struct {
  uv_loop_t loops[2];
  uva_port_t ports[NPORTS];
  int pstate[NPORTS];
  int pend[NPORTS];   /* the end a slot holds */
  int parm[NPORTS];   /* action for its next message callback */
  int pretry[NPORTS]; /* its writable callback posts again (a message of about this size) */
  int writable_calls; /* writable callbacks in the current loop turn */
  uva_broadcast_t bcs[NBC];
  int bstate[NBC];
  mslot_t msgs[NMSGS];
  uva_shared_t *shared[NSHARED];
  uva_call_t calls[NCALLS];
  int cpending[NCALLS]; /* made, callback not run yet */
  int nchannels;
  int loc[MAX_ENDS];
  int ported[MAX_ENDS]; /* messages carrying a port queued to this end */
  struct {
    uva_msg_t *msg;
    rec_t rec;
  } inflight[MAX_INFLIGHT];
  int cleaning; /* the input is over: callbacks free what they get */
  const uint8_t *in;
  size_t left;
} s;

static uint8_t next_byte(void) {
  if (s.left == 0)
    return 0;
  s.left--;
  return *s.in++;
}

/* ---- messages and their records ---------------------------------------------------------------- */

static int rec_carries_port(const rec_t *rec) {
  int i;

  for (i = 0; i < rec->natt; i++)
    if (rec->att[i].kind == ATT_PORT && rec->att[i].end >= 0)
      return 1;
  return 0;
}

/* A message just made at an address forgets whatever record an earlier one there left in flight (freed inside
 * the library, with the queue it waited in). */
static void forget_inflight(uva_msg_t *msg) {
  int i;

  for (i = 0; i < MAX_INFLIGHT; i++)
    if (s.inflight[i].msg == msg)
      s.inflight[i].msg = NULL;
}

static int free_mslot(void) {
  int i;

  for (i = 0; i < NMSGS; i++)
    if (s.msgs[i].msg == NULL)
      return i;
  return -1;
}

/* A message came in (a callback or a receive) on end: it goes to a free message slot, with its record if it
 * was posted carrying a port; without a slot it is freed. */
static void keep_received(uva_msg_t *msg, int from_broadcast) {
  rec_t rec = {0, {{0, 0}}, -1};
  int m;
  int i;

  if (from_broadcast) {
    forget_inflight(msg); /* a copy the library made, or one whose ports the harness never saw */
  } else {
    for (i = 0; i < MAX_INFLIGHT; i++)
      if (s.inflight[i].msg == msg) {
        rec = s.inflight[i].rec;
        s.inflight[i].msg = NULL;
        if (rec.dest >= 0)
          s.ported[rec.dest]--;
        rec.dest = -1;
        break;
      }
  }
  m = s.cleaning ? -1 : free_mslot();
  if (m < 0) {
    uva_msg_free(msg);
    return;
  }
  s.msgs[m].msg = msg;
  s.msgs[m].rec = rec;
}

/* Frees the message in slot m; the ports it still carries close. */
static void drop_mslot(int m) {
  uva_msg_free(s.msgs[m].msg);
  s.msgs[m].msg = NULL;
}

/* ---- callbacks ------------------------------------------------------------------------------------- */

static int port_slot(uva_port_t *port) {
  return (int)(port - s.ports);
}

static void pack_port_into(int p, int m);
static void post_small(int p);

static void on_port_close(uva_port_t *port) {
  int p = port_slot(port);

  if (s.pstate[p] != H_STARTED && s.pstate[p] != H_CLOSING)
    FAIL("close callback for port %d, which is not started (state %d)", p, s.pstate[p]);
  s.pstate[p] = H_FREE;
  s.loc[s.pend[p]] = LOC_GONE;
}

static void on_port_message(uva_port_t *port, uva_msg_t *msg) {
  int p = port_slot(port);
  int arm = s.parm[p];
  uva_msg_t *got;
  int m;

  if (s.pstate[p] != H_STARTED && s.pstate[p] != H_CLOSING && s.pstate[p] != H_ZOMBIE)
    FAIL("message for port %d, which is not started (state %d)", p, s.pstate[p]);
  keep_received(msg, 0);
  if (s.cleaning || arm == 0)
    return;
  s.parm[p] = 0;
  /* Things done to a port from inside its own message callback. */
  switch (arm) {
  case 1:
    if (expect("uva_port_close", uva_port_close(port), R_CLOSE) == 0 && s.pstate[p] == H_STARTED) {
      s.pstate[p] = H_CLOSING;
      s.loc[s.pend[p]] = LOC_GONE;
    }
    break;
  case 2:
    m = free_mslot();
    if (m >= 0 && expect("uva_msg_new", uva_msg_new(&s.msgs[m].msg), R_MSG_NEW) == 0) {
      forget_inflight(s.msgs[m].msg);
      memset(&s.msgs[m].rec, 0, sizeof(s.msgs[m].rec));
      s.msgs[m].rec.dest = -1;
      msgpack_pack_array(uva_msg_packer(s.msgs[m].msg), 1);
      pack_port_into(p, m);
    }
    break;
  case 3:
    if (expect("uva_port_receive", uva_port_receive(port, &got), R_RECEIVE) == 0)
      keep_received(got, 0);
    break;
  case 4:
    expect("uva_port_unref", uva_port_unref(port), R_REF);
    break;
  case 5:
    expect("uva_port_set_limits", uva_port_set_limits(port, 1, 0), R_LIMITS);
    break;
  default:
    post_small(p);
    break;
  }
}

/* What a sender does when told there is room: post again, and ask again if the post is refused. A callback
 * that keeps running within one loop turn is a livelock (tests/test_api_regress.c has the one found). */
static void on_writable(uva_port_t *port) {
  int p = port_slot(port);
  uva_msg_t *msg;
  int err;

  if (++s.writable_calls > LIVELOCK_CALLS)
    FAIL("the writable callback ran %d times in one loop turn", s.writable_calls);
  if (s.cleaning || !s.pretry[p])
    return;
  if (expect("uva_msg_new", uva_msg_new(&msg), R_MSG_NEW) != 0)
    return;
  forget_inflight(msg);
  msgpack_pack_bin_with_body(uva_msg_packer(msg), "retry-retry-retry", 1 + s.pretry[p] % 16);
  err = expect("uva_port_post", uva_port_post(port, msg), R_POST);
  if (err != 0)
    uva_msg_free(msg);
  if (err == UV_EAGAIN)
    expect("uva_port_on_writable", uva_port_on_writable(port, on_writable), R_WRITABLE);
}

static int bc_slot(uva_broadcast_t *bc) {
  return (int)(bc - s.bcs);
}

static void on_bc_message(uva_broadcast_t *bc, uva_msg_t *msg) {
  int b = bc_slot(bc);

  if (s.bstate[b] != H_STARTED && s.bstate[b] != H_CLOSING && s.bstate[b] != H_ZOMBIE)
    FAIL("broadcast message for member %d, which is not started (state %d)", b, s.bstate[b]);
  keep_received(msg, 1);
}

static void on_bc_close(uva_broadcast_t *bc) {
  int b = bc_slot(bc);

  if (s.bstate[b] != H_STARTED && s.bstate[b] != H_CLOSING)
    FAIL("close callback for member %d, which is not started (state %d)", b, s.bstate[b]);
  s.bstate[b] = H_FREE;
}

static void on_call(uva_call_t *call, int status, uva_msg_t *reply) {
  int c = (int)(call - s.calls);

  expect("a call's status", status, R_CALL_STATUS);
  if (!s.cpending[c])
    FAIL("call %d completed, but it was not pending", c);
  s.cpending[c] = 0;
  if ((status >= 0) != (reply != NULL))
    FAIL("call %d: status %d with%s a reply", c, status, reply != NULL ? "" : "out");
  if (reply != NULL) {
    if (uva_msg_is_call(reply))
      FAIL("a reply is a request");
    keep_received(reply, 1); /* the harness made it carry no port */
  }
}

/* ---- ops ------------------------------------------------------------------------------------------- */

static int live(int state) {
  return state != H_FREE;
}

static void op_channel(void) {
  int a = next_byte() % NPORTS;
  int b = next_byte() % NPORTS;
  int err;

  /* A live handle's memory is the library's: only free slots are given to a new channel. */
  if (live(s.pstate[a]) || live(s.pstate[b]) || s.nchannels >= MAX_CHANNELS)
    return;
  err = expect("uva_channel_init", uva_channel_init(&s.ports[a], &s.ports[b]), R_CHANNEL_INIT);
  if (a == b && err == 0)
    FAIL("uva_channel_init accepted the same handle twice");
  if (err != 0)
    return;
  s.pstate[a] = s.pstate[b] = H_NEW;
  s.pend[a] = 2 * s.nchannels;
  s.pend[b] = 2 * s.nchannels + 1;
  s.loc[s.pend[a]] = a;
  s.loc[s.pend[b]] = b;
  s.ported[s.pend[a]] = s.ported[s.pend[b]] = 0;
  s.parm[a] = s.parm[b] = 0;
  s.pretry[a] = s.pretry[b] = 0;
  s.nchannels++;
}

static void op_start(void) {
  int p = next_byte() % NPORTS;
  uint8_t how = next_byte();
  int err;

  err = expect(
      "uva_port_start",
      uva_port_start(&s.ports[p], &s.loops[how & 1], on_port_message, (how & 6) ? on_port_close : NULL),
      R_START);
  if (err == 0) {
    if (s.pstate[p] != H_NEW)
      FAIL("uva_port_start accepted port %d in state %d", p, s.pstate[p]);
    s.pstate[p] = (how & 6) ? H_STARTED : H_ZOMBIE;
  } else if (err == UV_EBUSY && s.pstate[p] == H_NEW) {
    FAIL("uva_port_start: a new port is busy");
  }
}

/* Whether msg may be posted on port p without risking a cycle (see the top). */
static int post_allowed(int p, const rec_t *rec) {
  int dest;

  if (!rec_carries_port(rec))
    return 1;
  if (s.pstate[p] == H_FREE)
    return 1; /* the post fails: the handle is spent or closed */
  dest = s.pend[p] ^ 1;
  return s.loc[dest] >= 0;
}

/* A post of slot m's message on port p went through: it is the library's now. */
static void posted(int p, int m) {
  rec_t *rec = &s.msgs[m].rec;
  int i;

  if (rec_carries_port(rec)) {
    for (i = 0; i < MAX_INFLIGHT && s.inflight[i].msg != NULL; i++)
      ;
    if (i == MAX_INFLIGHT)
      FAIL("no room to track a message in flight"); /* post_allowed() keeps this from happening */
    rec->dest = s.pend[p] ^ 1;
    s.ported[rec->dest]++;
    s.inflight[i].msg = s.msgs[m].msg;
    s.inflight[i].rec = *rec;
  }
  s.msgs[m].msg = NULL;
}

static int inflight_full(void) {
  int i;

  for (i = 0; i < MAX_INFLIGHT; i++)
    if (s.inflight[i].msg == NULL)
      return 0;
  return 1;
}

static int64_t wait_ms(void) {
  return next_byte() == 0xff ? 1 : 0;
}

static void op_post(int wait) {
  int p = next_byte() % NPORTS;
  int m = next_byte() % NMSGS;
  int err;

  if (s.msgs[m].msg == NULL || !post_allowed(p, &s.msgs[m].rec) ||
      (rec_carries_port(&s.msgs[m].rec) && inflight_full()))
    return;
  /* A wait of 1 ms now and then: the queue is not drained by anyone while this thread waits. */
  if (wait)
    err =
        expect("uva_port_post_wait", uva_port_post_wait(&s.ports[p], s.msgs[m].msg, wait_ms()), R_POST_WAIT);
  else
    err = expect("uva_port_post", uva_port_post(&s.ports[p], s.msgs[m].msg), R_POST);
  if (err == 0)
    posted(p, m);
}

/* A fresh one-element message on port p (ops and armed callbacks use it to keep messages flowing). */
static void post_small(int p) {
  uva_msg_t *msg;

  if (expect("uva_msg_new", uva_msg_new(&msg), R_MSG_NEW) != 0)
    return;
  forget_inflight(msg);
  msgpack_pack_uint32(uva_msg_packer(msg), (uint32_t)p);
  if (expect("uva_port_post", uva_port_post(&s.ports[p], msg), R_POST) != 0)
    uva_msg_free(msg);
}

static void op_receive(int wait) {
  int p = next_byte() % NPORTS;
  uva_msg_t *msg = NULL;
  int err;

  if (wait)
    err =
        expect("uva_port_receive_wait", uva_port_receive_wait(&s.ports[p], &msg, wait_ms()), R_RECEIVE_WAIT);
  else
    err = expect("uva_port_receive", uva_port_receive(&s.ports[p], &msg), R_RECEIVE);
  if (err == 0) {
    if (msg == NULL)
      FAIL("receive returned 0 without a message");
    keep_received(msg, 0);
  }
}

static void op_close(void) {
  int p = next_byte() % NPORTS;
  int err = expect("uva_port_close", uva_port_close(&s.ports[p]), R_CLOSE);

  if (err != 0)
    return;
  if (s.pstate[p] == H_NEW) {
    s.pstate[p] = H_FREE;
    s.loc[s.pend[p]] = LOC_GONE;
  } else if (s.pstate[p] == H_STARTED) {
    s.pstate[p] = H_CLOSING;
    s.loc[s.pend[p]] = LOC_GONE;
  } else if (s.pstate[p] == H_ZOMBIE) {
    s.loc[s.pend[p]] = LOC_GONE;
  } else {
    FAIL("uva_port_close accepted port %d in state %d", p, s.pstate[p]);
  }
}

/* Packs port p into slot m's message, if the cycle rule lets that end travel. */
static void pack_port_into(int p, int m) {
  rec_t *rec = &s.msgs[m].rec;
  int live_port = s.pstate[p] == H_NEW || s.pstate[p] == H_STARTED || s.pstate[p] == H_ZOMBIE;
  int err;

  if (s.msgs[m].msg == NULL || rec->natt >= MAX_ATT || (live_port && s.ported[s.pend[p]] > 0))
    return;
  err = expect("uva_msg_pack_port", uva_msg_pack_port(s.msgs[m].msg, &s.ports[p]), R_PACK_PORT);
  if (err != 0)
    return;
  if (!live_port)
    FAIL("uva_msg_pack_port accepted port %d in state %d", p, s.pstate[p]);
  rec->att[rec->natt].kind = ATT_PORT;
  rec->att[rec->natt].end = s.pend[p];
  rec->natt++;
  s.loc[s.pend[p]] = LOC_IN_MSG;
  s.pstate[p] = H_FREE;
}

static void op_pack_port(void) {
  int m = next_byte() % NMSGS;
  int p = next_byte() % NPORTS;

  pack_port_into(p, m);
}

static void op_msg_new(void) {
  int m = next_byte() % NMSGS;
  uint8_t n = next_byte();

  if (s.msgs[m].msg != NULL)
    return;
  if (expect("uva_msg_new", uva_msg_new(&s.msgs[m].msg), R_MSG_NEW) != 0)
    return;
  forget_inflight(s.msgs[m].msg);
  memset(&s.msgs[m].rec, 0, sizeof(s.msgs[m].rec));
  s.msgs[m].rec.dest = -1;
  if (n & 0x80)
    msgpack_pack_array(uva_msg_packer(s.msgs[m].msg), n & 7); /* the usual shape: an array of what follows */
}

static void op_pack_value(void) {
  int m = next_byte() % NMSGS;
  uint8_t what = next_byte();
  msgpack_packer *pk;
  char str[16];

  if (s.msgs[m].msg == NULL)
    return;
  pk = uva_msg_packer(s.msgs[m].msg);
  switch (what % 8) {
  case 0:
    msgpack_pack_nil(pk);
    break;
  case 1:
    msgpack_pack_int64(pk, (int8_t)next_byte());
    break;
  case 2:
    msgpack_pack_uint64(pk, (uint64_t)next_byte() << 40);
    break;
  case 3:
    memset(str, 'a' + what % 26, sizeof(str));
    msgpack_pack_str_with_body(pk, str, what % sizeof(str));
    break;
  case 4:
    msgpack_pack_array(pk, next_byte() % 4);
    break;
  case 5:
    msgpack_pack_map(pk, next_byte() % 3);
    break;
  case 6:
    msgpack_pack_ext_with_body(pk, "\0\0\0\0", 4, (int8_t)(UVA_EXT_RESERVED_MIN + next_byte() % 8));
    break;
  default:
    msgpack_pack_double(pk, what);
    break;
  }
}

static void counting_free(void *ptr) {
  free(ptr);
}

static void op_pack_buffer(void) {
  int m = next_byte() % NMSGS;
  uint8_t len = next_byte();
  rec_t *rec = &s.msgs[m].rec;
  void *data;

  if (s.msgs[m].msg == NULL || rec->natt >= MAX_ATT)
    return;
  data = malloc(1 + len % 64);
  if (data == NULL)
    return;
  memset(data, len, 1 + len % 64);
  if (expect("uva_msg_pack_buffer",
             uva_msg_pack_buffer(s.msgs[m].msg, data, 1 + len % 64, (len & 0x40) ? counting_free : NULL),
             R_PACK) != 0) {
    free(data);
    return;
  }
  rec->att[rec->natt].kind = ATT_BUFFER;
  rec->att[rec->natt].end = -1;
  rec->natt++;
}

static void op_pack_shared(void) {
  int m = next_byte() % NMSGS;
  int h = next_byte() % NSHARED;
  rec_t *rec = &s.msgs[m].rec;

  if (s.msgs[m].msg == NULL || rec->natt >= MAX_ATT || s.shared[h] == NULL)
    return;
  if (expect("uva_msg_pack_shared", uva_msg_pack_shared(s.msgs[m].msg, s.shared[h]), R_PACK) != 0)
    return;
  rec->att[rec->natt].kind = ATT_SHARED;
  rec->att[rec->natt].end = -1;
  rec->natt++;
}

static void op_shared(void) {
  int h = next_byte() % NSHARED;
  uint8_t size = next_byte();

  if (s.shared[h] != NULL) {
    if (size & 1) {
      uva_shared_unref(s.shared[h]);
      s.shared[h] = NULL;
    } else {
      memset(uva_shared_data(s.shared[h]), size, uva_shared_size(s.shared[h]));
    }
    return;
  }
  if (expect("uva_shared_new", uva_shared_new(size % 48, &s.shared[h]), R_SHARED_NEW) != 0)
    s.shared[h] = NULL;
}

static void op_free_msg(void) {
  int m = next_byte() % NMSGS;

  if (s.msgs[m].msg != NULL)
    drop_mslot(m);
}

static void op_from_bytes(void) {
  int m = next_byte() % NMSGS;
  size_t len = next_byte() % 24;
  uint8_t bytes[24];
  uva_msg_limits_t limits = {0, 0, 0, 0};
  size_t i;

  if (s.msgs[m].msg != NULL)
    return;
  for (i = 0; i < len; i++)
    bytes[i] = next_byte();
  limits.max_depth = next_byte() % 8;
  if (expect("uva_msg_from_bytes", uva_msg_from_bytes(&s.msgs[m].msg, bytes, len, &limits), R_FROM_BYTES) !=
      0) {
    s.msgs[m].msg = NULL;
    return;
  }
  forget_inflight(s.msgs[m].msg);
  memset(&s.msgs[m].rec, 0, sizeof(s.msgs[m].rec));
  s.msgs[m].rec.dest = -1;
}

static void op_validate(void) {
  int m = next_byte() % NMSGS;
  uint8_t how = next_byte();
  uva_msg_limits_t limits;

  if (s.msgs[m].msg == NULL)
    return;
  limits.max_size = how & 1 ? 16 + next_byte() : 0;
  limits.max_depth = how & 2 ? next_byte() * 2u : 0; /* over UVA_MSG_MAX_DEPTH: UV_EINVAL */
  limits.max_container = how & 4 ? next_byte() % 8 : 0;
  limits.max_objects = how & 8 ? next_byte() % 16 : 0;
  expect("uva_msg_validate", uva_msg_validate(s.msgs[m].msg, (how & 0x10) ? NULL : &limits), R_VALIDATE);
}

/* Collects the ext objects of a view, every payload byte read on the way (for ASan). */
static void collect_ext(const msgpack_object *o, const msgpack_object **ext, int *n, int max, unsigned *sum) {
  uint32_t i;

  switch (o->type) {
  case MSGPACK_OBJECT_STR:
    for (i = 0; i < o->via.str.size; i++)
      *sum += (unsigned char)o->via.str.ptr[i];
    break;
  case MSGPACK_OBJECT_BIN:
    for (i = 0; i < o->via.bin.size; i++)
      *sum += (unsigned char)o->via.bin.ptr[i];
    break;
  case MSGPACK_OBJECT_EXT:
    for (i = 0; i < o->via.ext.size; i++)
      *sum += (unsigned char)o->via.ext.ptr[i];
    if (*n < max)
      ext[(*n)++] = o;
    break;
  case MSGPACK_OBJECT_ARRAY:
    for (i = 0; i < o->via.array.size; i++)
      collect_ext(&o->via.array.ptr[i], ext, n, max, sum);
    break;
  case MSGPACK_OBJECT_MAP:
    for (i = 0; i < o->via.map.size; i++) {
      collect_ext(&o->via.map.ptr[i].key, ext, n, max, sum);
      collect_ext(&o->via.map.ptr[i].val, ext, n, max, sum);
    }
    break;
  default:
    break;
  }
}

/* The attachment index an ext names (the harness's own reading of the 4-byte payload), or -1. */
static int ext_index(const msgpack_object *ext) {
  const unsigned char *p = (const unsigned char *)ext->via.ext.ptr;

  if (ext->via.ext.size != 4)
    return -1;
  return (int)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) & 0x7fffffff;
}

static int free_port_slot(void) {
  int p;

  for (p = 0; p < NPORTS; p++)
    if (s.pstate[p] == H_FREE)
      return p;
  return -1;
}

/* Takes one ext of slot m's message as kind (which may not be what it is). */
static void take_ext(int m, const msgpack_object *ext, int kind, int from) {
  rec_t *rec = &s.msgs[from].rec;
  uva_shared_t *shared;
  uva_free_cb free_cb;
  void *data;
  size_t len;
  int idx = ext_index(ext);
  int q;

  switch (kind) {
  case ATT_BUFFER:
    if (expect("uva_msg_take_buffer", uva_msg_take_buffer(s.msgs[m].msg, ext, &data, &len, &free_cb),
               R_TAKE) == 0)
      free_cb(data);
    break;
  case ATT_SHARED:
    if (expect("uva_msg_get_shared", uva_msg_get_shared(s.msgs[m].msg, ext, &shared), R_GET_SHARED) == 0)
      uva_shared_unref(shared);
    break;
  default:
    q = free_port_slot();
    if (q < 0)
      return;
    if (expect("uva_msg_take_port", uva_msg_take_port(s.msgs[m].msg, ext, &s.ports[q]), R_TAKE) != 0)
      return;
    if (m != from || idx < 0 || idx >= rec->natt || rec->att[idx].kind != ATT_PORT || rec->att[idx].end < 0)
      FAIL("uva_msg_take_port took what the harness did not pack as a port (slot %d, index %d)", m, idx);
    s.pstate[q] = H_NEW;
    s.pend[q] = rec->att[idx].end;
    s.loc[s.pend[q]] = q;
    s.parm[q] = 0;
    s.pretry[q] = 0;
    rec->att[idx].end = -1;
    break;
  }
}

/* Views slot m's message and takes some of what it carries, as the input says; now and then hands an ext to
 * another message (which must refuse it). */
static void op_take(void) {
  int m = next_byte() % NMSGS;
  uint8_t how = next_byte();
  const msgpack_object *ext[16];
  msgpack_object obj;
  unsigned sum = 0;
  int other = (m + 1 + how % (NMSGS - 1)) % NMSGS;
  int n = 0;
  int i;

  if (s.msgs[m].msg == NULL || expect("uva_msg_object", uva_msg_object(s.msgs[m].msg, &obj), R_OBJECT) != 0)
    return;
  collect_ext(&obj, ext, &n, 16, &sum);
  for (i = 0; i < (int)uva_msg_size(s.msgs[m].msg); i++)
    sum += (unsigned char)uva_msg_data(s.msgs[m].msg)[i];
  (void)*(volatile unsigned *)&sum;
  for (i = 0; i < n; i++) {
    uint8_t b = next_byte();
    int kind = ext[i]->via.ext.type == UVA_EXT_PORT     ? ATT_PORT
               : ext[i]->via.ext.type == UVA_EXT_SHARED ? ATT_SHARED
                                                        : ATT_BUFFER;
    if (b & 1)
      continue;
    if (b & 2)
      kind = (kind + 1 + (b >> 2) % 2) % 3; /* the wrong kind: UV_EINVAL */
    if ((b & 0x80) && s.msgs[other].msg != NULL)
      take_ext(other, ext[i], kind, m); /* not the other message's: UV_EINVAL */
    else
      take_ext(m, ext[i], kind, m);
  }
}

static void op_limits(void) {
  int p = next_byte() % NPORTS;
  uint8_t a = next_byte();
  uint8_t b = next_byte();

  expect("uva_port_set_limits", uva_port_set_limits(&s.ports[p], a % 4, b < 128 ? 0 : 8 + b % 64), R_LIMITS);
}

static void op_writable(void) {
  int p = next_byte() % NPORTS;

  s.pretry[p] = next_byte() & 0x3f; /* 0: the callback only counts */

  expect("uva_port_on_writable", uva_port_on_writable(&s.ports[p], on_writable), R_WRITABLE);
}

static void op_ref(void) {
  int p = next_byte() % NPORTS;
  uint8_t how = next_byte();
  int has;

  switch (how % 3) {
  case 0:
    expect("uva_port_ref", uva_port_ref(&s.ports[p]), R_REF);
    break;
  case 1:
    expect("uva_port_unref", uva_port_unref(&s.ports[p]), R_REF);
    break;
  default:
    has = uva_port_has_ref(&s.ports[p]);
    if (has != 0 && has != 1)
      FAIL("uva_port_has_ref returned %d", has);
    break;
  }
}

static void op_spin(void) {
  int p = next_byte() % NPORTS;
  uint8_t usec = next_byte();

  /* A few microseconds at most: a spinning loop holds this (only) thread. */
  expect("uva_port_set_spin", uva_port_set_spin(&s.ports[p], usec & 0x80 ? 2000000 : usec % 4), R_SPIN);
}

static void run_loop(int i) {
  s.writable_calls = 0;
  uv_run(&s.loops[i], UV_RUN_NOWAIT);
}

static void op_run(void) {
  run_loop(next_byte() & 1);
}

static void op_arm(void) {
  int p = next_byte() % NPORTS;

  s.parm[p] = next_byte() % 7;
}

static void op_post_small(void) {
  post_small(next_byte() % NPORTS);
}

static void op_bc_init(void) {
  static char long_name[300];
  int b = next_byte() % NBC;
  uint8_t how = next_byte();
  const char *name = how & 1 ? "g1" : "g0";
  int err;

  if (live(s.bstate[b]))
    return;
  if ((how & 0x30) == 0x30) {
    memset(long_name, 'n', sizeof(long_name) - 1);
    name = how & 0x40 ? "" : long_name; /* both refused */
  }
  err = expect("uva_broadcast_init", uva_broadcast_init(&s.bcs[b], name), R_BC_INIT);
  if (err == 0) {
    if (name[0] != 'g')
      FAIL("uva_broadcast_init accepted a name of %zu bytes", strlen(name));
    s.bstate[b] = H_NEW;
  }
}

static void op_bc_start(void) {
  int b = next_byte() % NBC;
  uint8_t how = next_byte();
  int err;

  err =
      expect("uva_broadcast_start",
             uva_broadcast_start(&s.bcs[b], &s.loops[how & 1], on_bc_message, (how & 6) ? on_bc_close : NULL),
             R_START);
  if (err == 0) {
    if (s.bstate[b] != H_NEW)
      FAIL("uva_broadcast_start accepted member %d in state %d", b, s.bstate[b]);
    s.bstate[b] = (how & 6) ? H_STARTED : H_ZOMBIE;
  }
}

static void op_bc_post(void) {
  int b = next_byte() % NBC;
  int m = next_byte() % NMSGS;

  if (s.msgs[m].msg == NULL)
    return;
  if (expect("uva_broadcast_post", uva_broadcast_post(&s.bcs[b], s.msgs[m].msg), R_BC_POST) == 0) {
    if (rec_carries_port(&s.msgs[m].rec))
      FAIL("uva_broadcast_post accepted a message that carries a port");
    s.msgs[m].msg = NULL;
  }
}

static void op_bc_close(void) {
  int b = next_byte() % NBC;

  if (expect("uva_broadcast_close", uva_broadcast_close(&s.bcs[b]), R_BC_CLOSE) != 0)
    return;
  if (s.bstate[b] == H_NEW)
    s.bstate[b] = H_FREE;
  else if (s.bstate[b] == H_STARTED)
    s.bstate[b] = H_CLOSING;
  else if (s.bstate[b] != H_ZOMBIE)
    FAIL("uva_broadcast_close accepted member %d in state %d", b, s.bstate[b]);
}

static int64_t call_timeout(uint8_t b) {
  return b < 200 ? UVA_WAIT_FOREVER : b < 250 ? 0 : 1;
}

static void op_call(void) {
  int c = next_byte() % NCALLS;
  int p = next_byte() % NPORTS;
  int m = next_byte() % NMSGS;
  int64_t timeout = call_timeout(next_byte());
  int err;

  if (s.cpending[c] || s.msgs[m].msg == NULL || !post_allowed(p, &s.msgs[m].rec) ||
      (rec_carries_port(&s.msgs[m].rec) && inflight_full()))
    return;
  err = uva_port_call(&s.ports[p], &s.calls[c], s.msgs[m].msg, timeout, on_call);
  if (expect("uva_port_call", err, R_CALL) != 0)
    return;
  s.cpending[c] = 1;
  posted(p, m);
}

static void op_call_wait(void) {
  int p = next_byte() % NPORTS;
  int m = next_byte() % NMSGS;
  uva_msg_t *reply = NULL;
  int err;

  if (s.msgs[m].msg == NULL || rec_carries_port(&s.msgs[m].rec))
    return;
  /* Timeout 0 only: nobody could answer while this (only) thread waited. */
  err = expect("uva_port_call_wait", uva_port_call_wait(&s.ports[p], s.msgs[m].msg, 0, &reply), R_CALL_WAIT);
  if (err >= 0 || err == UV_ETIMEDOUT || err == UV_EPIPE || err == UV_ECONNRESET || err == UV_ECANCELED)
    s.msgs[m].msg = NULL; /* consumed */
  if ((err >= 0) != (reply != NULL))
    FAIL("uva_port_call_wait: %d with%s a reply", err, reply != NULL ? "" : "out");
  if (reply != NULL)
    keep_received(reply, 1);
}

static void op_cancel(void) {
  int c = next_byte() % NCALLS;
  int err = expect("uva_call_cancel", uva_call_cancel(&s.calls[c]), R_CANCEL);

  if (err == 0 && !s.cpending[c])
    FAIL("uva_call_cancel accepted call %d, which is not pending", c);
}

/* Answers slot m's message (a request, or not) with slot r's (replies carry no port), an error, or both. */
static void op_reply(void) {
  int m = next_byte() % NMSGS;
  int r = next_byte() % NMSGS;
  uint8_t how = next_byte();
  int err;

  if (s.msgs[m].msg == NULL)
    return;
  if (how & 1) {
    err = uva_msg_reply_error(s.msgs[m].msg, (int8_t)next_byte(), how & 2 ? NULL : "no");
    if (expect("uva_msg_reply_error", err, R_REPLY_ERROR) == 0 && uva_msg_is_call(s.msgs[m].msg))
      FAIL("a request answered is still a request");
    return;
  }
  if (s.msgs[r].msg == NULL || rec_carries_port(&s.msgs[r].rec))
    return;
  err = expect("uva_msg_reply", uva_msg_reply(s.msgs[m].msg, s.msgs[r].msg), R_REPLY);
  if (err == 0) {
    if (m == r)
      FAIL("uva_msg_reply took a request as its own reply");
    s.msgs[r].msg = NULL;
  }
}

static void op_call_misc(void) {
  int p = next_byte() % NPORTS;
  int m = next_byte() % NMSGS;
  uva_port_stats_t stats;
  int is;

  expect("uva_port_stats", uva_port_stats(&s.ports[p], &stats), R_STATS);
  is = uva_msg_is_call(s.msgs[m].msg);
  if (is != 0 && is != 1)
    FAIL("uva_msg_is_call returned %d", is);
}

static void (*const ops[])(void) = {
    op_channel,     op_start,    op_close,    op_pack_port,  op_msg_new,  op_pack_value, op_pack_buffer,
    op_pack_shared, op_shared,   op_free_msg, op_from_bytes, op_validate, op_take,       op_limits,
    op_writable,    op_ref,      op_spin,     op_run,        op_run,      op_arm,        op_post_small,
    op_bc_init,     op_bc_start, op_bc_post,  op_bc_close,
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

/* Calls came later: numbered after the ops with a flag, so that the seeds written before keep their ops. */
static void (*const call_ops[])(void) = {
    op_call, op_call, op_call_wait, op_cancel, op_reply, op_reply, op_call_misc,
};
#define NCALL_OPS (sizeof(call_ops) / sizeof(call_ops[0]))

static void run_op(uint8_t op) {
  unsigned int n = op % (unsigned)(NOPS + 4 + NCALL_OPS);

  if (trace)
    fprintf(stderr, "op %u\n", n);
  /* The ops with a flag are listed apart. */
  switch (n) {
  case NOPS:
    op_post(0);
    break;
  case NOPS + 1:
    op_post(1);
    break;
  case NOPS + 2:
    op_receive(0);
    break;
  case NOPS + 3:
    op_receive(1);
    break;
  default:
    n < NOPS ? ops[n]() : call_ops[n - NOPS - 4]();
    break;
  }
}

/* ---- the end of an input ----------------------------------------------------------------------------- */

static void print_handle(uv_handle_t *handle, void *arg) {
  (void)arg;
  fprintf(stderr, "fuzz_api: left on the loop: handle type %s, active %d, closing %d\n",
          uv_handle_type_name(handle->type), uv_is_active(handle), uv_is_closing(handle));
}

/* Frees what the harness holds, closes every handle, and runs the loops until they close. */
static void cleanup(void) {
  int i;
  int k;

  s.cleaning = 1;
  for (i = 0; i < NMSGS; i++)
    if (s.msgs[i].msg != NULL)
      drop_mslot(i);
  for (i = 0; i < NPORTS; i++)
    if (live(s.pstate[i])) {
      expect("uva_port_close", uva_port_close(&s.ports[i]), R_CLOSE);
      if (s.pstate[i] == H_NEW)
        s.pstate[i] = H_FREE;
    }
  for (i = 0; i < NBC; i++)
    if (live(s.bstate[i])) {
      expect("uva_broadcast_close", uva_broadcast_close(&s.bcs[i]), R_BC_CLOSE);
      if (s.bstate[i] == H_NEW)
        s.bstate[i] = H_FREE;
    }
  for (i = 0; i < NSHARED; i++) {
    uva_shared_unref(s.shared[i]);
    s.shared[i] = NULL;
  }
  for (k = 0; k < DRAIN_RUNS && (uv_loop_alive(&s.loops[0]) || uv_loop_alive(&s.loops[1])); k++) {
    run_loop(0);
    run_loop(1);
  }
  for (i = 0; i < NPORTS; i++)
    if (s.pstate[i] == H_STARTED || s.pstate[i] == H_CLOSING)
      FAIL("port %d never got its close callback", i);
  for (i = 0; i < NBC; i++)
    if (s.bstate[i] == H_STARTED || s.bstate[i] == H_CLOSING)
      FAIL("member %d never got its close callback", i);
  for (i = 0; i < NCALLS; i++)
    if (s.cpending[i])
      FAIL("call %d never completed", i);
  for (i = 0; i < 2; i++)
    if (uv_loop_close(&s.loops[i]) != 0) {
      uv_walk(&s.loops[i], print_handle, NULL);
      FAIL("loop %d does not close after %d turns", i, DRAIN_RUNS);
    }
  for (i = 0; i < NMSGS; i++)
    if (s.msgs[i].msg != NULL)
      FAIL("a message reached the harness while it cleaned up");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int ops_run;
  int i;

  if (trace < 0)
    trace = getenv("UVA_FUZZ_TRACE") != NULL;
  memset(&s, 0, sizeof(s));
  for (i = 0; i < MAX_ENDS; i++)
    s.loc[i] = LOC_GONE;
  if (uv_loop_init(&s.loops[0]) != 0 || uv_loop_init(&s.loops[1]) != 0)
    FAIL("uv_loop_init");
  s.in = data;
  s.left = size;
  for (ops_run = 0; ops_run < MAX_OPS && s.left > 0; ops_run++)
    run_op(next_byte());
  cleanup();
  return 0;
}
