/* Fault injection (configure --enable-fault-injection): every fault point, failed once, through the API.
 *
 * Each scenario is a short, complete use of one part of the library that passes through fault points. The
 * walk runs it once with no fault and counts the points it passed (P); then for n = 1 .. P and a little
 * beyond (actor threads interleave, so a later run may pass more points) it runs the scenario with the nth
 * point failing, and then once more with no fault. A faulted run must either succeed fully (the failure
 * was recovered inside the library) or see the failure: an error code a public call documents, or, in an
 * actor scenario, the error event and UVA_EXIT_FAILED. Either way it cleans up all it made: ports closed,
 * messages freed, loops run until empty and uv_loop_close() == 0, threads joined, descriptors closed. The
 * clean run after it must fully work: the failure left the library usable. Moved buffers are counted (each
 * freed exactly once); every other leak is found by running this suite under valgrind and ASan.
 *
 * The sites that failed are collected; the last test checks that every fault point in the library's
 * sources (common/, serialize/, channel/, actors/, the task pool's and recovery's included; recovery's
 * scenarios are in faults_recovery.h) was walked and prints "fault sites walked: N (...)".
 *
 * Three tests hold the library to bugs the walk found and that are fixed: the codes a failed start gives,
 * the error event surviving a failed copy of its text, and recycled messages going back when their thread
 * ends (a leak only valgrind sees).
 *
 * The walk shares one process (UVA_TEST_NOFORK): the site list spans the tests, and no test here touches
 * libuv's threadpool (libuv#4443). Nothing can hang: every wait has a deadline (HANG_GUARD_MS). */
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"      /* the test hooks: uva_fault_inject(), uva_fault_points(), uva_fault_site() */
#include "serialize/message.h" /* UVA__MSG_INLINE_BYTES: which bodies leave the message */
#include "uvactor.h"

#ifndef UVA_FAULT_INJECTION
#error "test_faults needs a build configured with --enable-fault-injection"
#endif

/* The walk of a scenario sets the guard (walk()): a hang fails its run once the guard ran out. */
#define HANG_GUARD_DEFAULT_MS 10000
static int hang_guard_ms = HANG_GUARD_DEFAULT_MS;
#define HANG_GUARD_MS hang_guard_ms
#include "run_until.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- one run of a scenario ----------------------------------------------------------------------- */

/* What a run saw. Any thread may note into it (actors do), under lock. */
typedef struct {
  uv_mutex_t lock;
  int errors;          /* public calls that returned an error (or an actor that reported one) */
  int degraded;        /* events the library dropped with no call to say so (see note_degraded()) */
  int incomplete;      /* results the scenario expected and did not get */
  const char *missing; /* the first of them */
  char first[200];     /* the first error seen */
  char bad[300];       /* the first contract break: an undocumented code, a wrong result */
} run_t;

static void run_init(run_t *run) {
  memset(run, 0, sizeof(*run));
  if (uv_mutex_init(&run->lock) != 0)
    abort();
}

static void run_destroy(run_t *run) {
  uv_mutex_destroy(&run->lock);
}

static void note_bad(run_t *run, const char *fmt, ...) {
  va_list ap;

  uv_mutex_lock(&run->lock);
  if (run->bad[0] == '\0') {
    va_start(ap, fmt);
    vsnprintf(run->bad, sizeof(run->bad), fmt, ap);
    va_end(ap);
  }
  uv_mutex_unlock(&run->lock);
}

/* What a public call returned: 0, or one of the codes it documents for a failed allocation, descriptor or
 * thread (documented: a list ending in 0). Returns err. */
static int note_(run_t *run, const char *call, int err, const int *documented) {
  const int *d;

  if (err == 0)
    return 0;
  uv_mutex_lock(&run->lock);
  run->errors++;
  if (run->first[0] == '\0')
    snprintf(run->first, sizeof(run->first), "%s: %s", call, uva_err_name(err));
  uv_mutex_unlock(&run->lock);
  for (d = documented; *d != 0; d++)
    if (*d == err)
      return err;
  note_bad(run, "%s returned %s, which it does not document for this", call, uva_err_name(err));
  return err;
}

#define NOTE(run, call, ...) note_((run), #call, (call), (const int[]){__VA_ARGS__, 0})
/* A call no fault may fail: it documents no code for one. */
#define NOTE_NONE(run, call) note_((run), #call, (call), (const int[]){0})

/* The codes each call documents for what a fault point simulates. */
#define E_MEM UV_ENOMEM
/* uva_port_start(), uva_broadcast_start() and uva_actor_spawn() (which starts the parent's ports) allocate
 * the loop's wakeup context (test_start_codes); it opens no descriptor (channel/loop.c). */
#define E_START UV_ENOMEM

/* An event the library drops when it cannot allocate and no call is there to return the error: the actor's
 * online event (its thread cannot make the control message) and the actor's error event (the parent cannot
 * copy its text). The exit event still comes, so the walk lets these pass and lists them; the contract
 * tests below hold the error event to what the header promises. */
static void note_degraded(run_t *run) {
  uv_mutex_lock(&run->lock);
  run->degraded++;
  uv_mutex_unlock(&run->lock);
}

static void note_incomplete(run_t *run, const char *what) {
  uv_mutex_lock(&run->lock);
  if (run->incomplete++ == 0)
    run->missing = what;
  uv_mutex_unlock(&run->lock);
}

/* A result the scenario checks whatever the fault: a wrong one is a contract break. */
#define EXPECT(run, cond)                                               \
  do {                                                                  \
    if (!(cond))                                                        \
      note_bad((run), "%s:%d: expected %s", __FILE__, __LINE__, #cond); \
  } while (0)

/* ---- loops (run_until.h runs them) ------------------------------------------------------------- */

static uv_loop_t *loop_new(void) {
  uv_loop_t *loop = malloc(sizeof(*loop));

  ck_assert_ptr_nonnull(loop);
  ck_assert_int_eq(uv_loop_init(loop), 0);
  return loop;
}

/* Runs loop until nothing keeps it alive (a guard against a handle that never closes), then closes it: a
 * handle or a wakeup left behind fails the test. */
static void loop_finish(uv_loop_t *loop) {
  static const int never = 0;

  run_until(loop, &never, 1);
  ck_assert_msg(!uv_loop_alive(loop), "the loop is still alive after %d ms", HANG_GUARD_MS);
  uv_run(loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(loop), 0);
  free(loop);
}

/* Open descriptors, to see that a run closed every wakeup it opened; -1 where /proc is not there. */
static int open_fds(void) {
  DIR *dir = opendir("/proc/self/fd");
  struct dirent *d;
  int n = 0;

  if (dir == NULL)
    return -1;
  while ((d = readdir(dir)) != NULL)
    n++;
  closedir(dir);
  return n;
}

/* ---- messages ------------------------------------------------------------------------------------ */

static char filler[8192];
_Static_assert(UVA__MSG_INLINE_BYTES < 300, "the 300-byte strs below leave the inline buffer");

/* A new message holding one integer, in *msgp; 0 or the error (noted). */
static int int_msg(run_t *run, int64_t value, uva_msg_t **msgp) {
  int err = NOTE(run, uva_msg_new(msgp), E_MEM);

  if (err == 0 && msgpack_pack_int64(uva_msg_packer(*msgp), value) != 0) {
    err = NOTE(run, uva_msg_validate(*msgp, NULL), E_MEM);
    EXPECT(run, err != 0);
    uva_msg_free(*msgp);
  }
  return err;
}

static int64_t msg_int(uva_msg_t *msg) {
  msgpack_object obj;

  if (uva_msg_object(msg, &obj) != 0)
    return INT64_MIN;
  if (obj.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
    return (int64_t)obj.via.u64;
  if (obj.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
    return obj.via.i64;
  return INT64_MIN;
}

/* Posts an integer on port; 0 or the error (noted; the message is freed). Any thread. */
static int post_int(run_t *run, uva_port_t *port, int64_t value, int also_documented) {
  uva_msg_t *msg;
  int err = int_msg(run, value, &msg);

  if (err != 0)
    return err;
  err = NOTE(run, uva_port_post(port, msg), E_MEM, also_documented);
  if (err != 0)
    uva_msg_free(msg);
  return err;
}

/* Moved buffers freed through counted_free: each must be freed exactly once, by the message or by us. */
#define NBUFFERS 4
static atomic_int buffer_frees[NBUFFERS];

static void counted_free(void *ptr) {
  int index = *(int *)ptr;

  if (index >= 0 && index < NBUFFERS)
    atomic_fetch_add(&buffer_frees[index], 1);
  free(ptr);
}

static void *counted_buffer(int index) {
  int *p = calloc(1, 64); /* the remote walk sends it: every byte written */

  ck_assert_ptr_nonnull(p);
  *p = index;
  atomic_store(&buffer_frees[index], 0);
  return p;
}

/* (a) Messages: new, a body that outgrows the message (malloc, then realloc), a large array's view (its slot
 * storage), moved buffers and a shared buffer (the side table grows: malloc, then realloc), from_parts,
 * from_bytes. */
static void scenario_messages(run_t *run) {
  uva_shared_t *shared = NULL;
  uva_msg_t *msg = NULL;
  msgpack_packer *pk;
  msgpack_object obj;
  void *data;
  size_t len;
  int packed;
  int i;

  /* A large body: 300 bytes leave the inline buffer, 5000 more grow the heap block. */
  if (NOTE(run, uva_msg_new(&msg), E_MEM) == 0) {
    pk = uva_msg_packer(msg);
    packed = msgpack_pack_array(pk, 2) | msgpack_pack_str_with_body(pk, filler, 300) |
             msgpack_pack_bin_with_body(pk, filler, 5000);
    /* A pack that failed is remembered (UV_ENOMEM), not lost. */
    if (NOTE(run, uva_msg_validate(msg, NULL), E_MEM) == 0) {
      EXPECT(run, packed == 0);
      if (NOTE(run, uva_msg_object(msg, &obj), E_MEM) == 0)
        EXPECT(run, obj.type == MSGPACK_OBJECT_ARRAY && obj.via.array.size == 2 &&
                        obj.via.array.ptr[1].via.bin.size == 5000);
    } else {
      EXPECT(run, packed != 0);
    }
    uva_msg_free(msg);
  }

  /* A large array: its view needs slots beyond the message's inline ones. */
  if (NOTE(run, uva_msg_new(&msg), E_MEM) == 0) {
    pk = uva_msg_packer(msg);
    packed = msgpack_pack_array(pk, 100);
    for (i = 0; i < 100; i++)
      packed |= msgpack_pack_int(pk, i);
    if (NOTE(run, uva_msg_object(msg, &obj), E_MEM) == 0)
      EXPECT(run, packed == 0 && obj.via.array.size == 100 && obj.via.array.ptr[99].via.u64 == 99);
    uva_msg_free(msg);
  }

  /* Attachments: moved buffers and a shared buffer, so the side table grows twice. A buffer the message
   * did not take stays ours. */
  NOTE(run, uva_shared_new(256, &shared), E_MEM);
  if (NOTE(run, uva_msg_new(&msg), E_MEM) == 0) {
    int attached = 0;

    msgpack_pack_array(uva_msg_packer(msg), NBUFFERS + 1);
    for (i = 0; i < NBUFFERS; i++) {
      data = counted_buffer(i);
      if (NOTE(run, uva_msg_pack_buffer(msg, data, 64, counted_free), E_MEM) == 0)
        attached++;
      else
        counted_free(data);
    }
    if (shared != NULL && NOTE(run, uva_msg_pack_shared(msg, shared), E_MEM) == 0)
      attached++;
    if (attached == NBUFFERS + 1 && NOTE(run, uva_msg_object(msg, &obj), E_MEM) == 0) {
      /* Take one back: it is ours, and the message must not free it again. */
      EXPECT(run, uva_msg_take_buffer(msg, &obj.via.array.ptr[2], &data, &len, NULL) == 0);
      EXPECT(run, len == 64 && *(int *)data == 2);
      counted_free(data);
    }
    uva_msg_free(msg);
    for (i = 0; i < NBUFFERS; i++)
      EXPECT(run, atomic_load(&buffer_frees[i]) == 1);
  }
  uva_shared_unref(shared);

  /* Outside bytes with moved buffers (uva_msg_from_parts(), as the remote transport makes a message of a
   * frame): two buffers, more than the message's inline side table, so it gets a block of its own. On
   * failure the buffers stay ours. */
  {
    static const unsigned char body[] = {0x92, 0xd6, 126, 0, 0, 0, 0, 0xd6, 126, 0, 0, 0, 1};
    uva_msg_buffer_t bufs[2];

    for (i = 0; i < 2; i++) {
      bufs[i].data = counted_buffer(i);
      bufs[i].len = 64;
      bufs[i].free_cb = counted_free;
    }
    msg = NULL;
    if (NOTE(run, uva_msg_from_parts(&msg, body, sizeof(body), NULL, bufs, 2), E_MEM) == 0) {
      if (NOTE(run, uva_msg_object(msg, &obj), E_MEM) == 0) {
        EXPECT(run, uva_msg_take_buffer(msg, &obj.via.array.ptr[1], &data, &len, NULL) == 0);
        EXPECT(run, len == 64 && *(int *)data == 1);
        counted_free(data);
      }
      uva_msg_free(msg);
    } else {
      for (i = 0; i < 2; i++)
        counted_free(bufs[i].data);
    }
    for (i = 0; i < 2; i++)
      EXPECT(run, atomic_load(&buffer_frees[i]) == 1);
  }

  /* Outside bytes: a 300-byte str16 (the copy leaves the inline buffer). */
  {
    unsigned char bytes[3 + 300];

    bytes[0] = 0xda;
    bytes[1] = 300 >> 8;
    bytes[2] = 300 & 0xff;
    memset(bytes + 3, 'b', 300);
    msg = NULL;
    if (NOTE(run, uva_msg_from_bytes(&msg, bytes, sizeof(bytes), NULL), E_MEM) == 0) {
      EXPECT(run, uva_msg_size(msg) == sizeof(bytes));
      uva_msg_free(msg);
    } else {
      EXPECT(run, msg == NULL);
    }
  }
}

/* ---- (b) channels -------------------------------------------------------------------------------- */

typedef struct {
  run_t *run;
  uv_loop_t *loop;
  uva_port_t a, b, c, d, e;
  uva_broadcast_t member[3];
  uva_shared_t *shared;
  uva_msg_t *inbox[4]; /* what b received, kept */
  int received;        /* messages in inbox */
  int e_received;
  int heard;  /* broadcast copies received */
  int closed; /* close callbacks run */
} chan_t;

static void on_b_message(uva_port_t *port, uva_msg_t *msg) {
  chan_t *ch = port->data;

  if (ch->received < (int)ARRAY_SIZE(ch->inbox)) {
    ch->inbox[ch->received++] = msg;
  } else {
    note_bad(ch->run, "b received too many messages");
    uva_msg_free(msg);
  }
}

static void on_e_message(uva_port_t *port, uva_msg_t *msg) {
  chan_t *ch = port->data;

  EXPECT(ch->run, msg_int(msg) == 4);
  ch->e_received++;
  uva_msg_free(msg);
}

static void on_port_close(uva_port_t *port) {
  chan_t *ch = port->data;
  ch->closed++;
}

static void on_member_message(uva_broadcast_t *bc, uva_msg_t *msg) {
  chan_t *ch = bc->data;
  uva_shared_t *got[2] = {NULL, NULL};
  msgpack_object obj;
  int i;

  /* Every copy is whole: the 300-byte str and both references to the one shared buffer. */
  EXPECT(ch->run, uva_msg_object(msg, &obj) == 0 && obj.type == MSGPACK_OBJECT_ARRAY &&
                      obj.via.array.size == 3 && obj.via.array.ptr[0].via.str.size == 300);
  if (obj.type == MSGPACK_OBJECT_ARRAY && obj.via.array.size == 3)
    for (i = 0; i < 2; i++) {
      EXPECT(ch->run, uva_msg_get_shared(msg, &obj.via.array.ptr[i + 1], &got[i]) == 0);
      EXPECT(ch->run, got[i] == ch->shared);
      uva_shared_unref(got[i]);
    }
  ch->heard++;
  uva_msg_free(msg);
}

static void on_member_close(uva_broadcast_t *bc) {
  chan_t *ch = bc->data;
  ch->closed++;
}

/* Takes b's oldest kept message (after waiting for it); NULL if none came. */
static uva_msg_t *b_next(chan_t *ch) {
  uva_msg_t *msg;
  int i;

  if (!run_until(ch->loop, &ch->received, 1))
    return NULL;
  msg = ch->inbox[0];
  for (i = 1; i < ch->received; i++)
    ch->inbox[i - 1] = ch->inbox[i];
  ch->received--;
  return msg;
}

/* A port sent through the channel a-b: c-d is made, d travels to b's loop, is taken into e and started;
 * what c posts then reaches e. */
static void transfer_section(chan_t *ch) {
  run_t *run = ch->run;
  uva_msg_t *msg;
  msgpack_object obj;
  int closed;

  if (NOTE(run, uva_channel_init(&ch->c, &ch->d), E_MEM) != 0)
    return;
  if (NOTE(run, uva_msg_new(&msg), E_MEM) != 0) {
    EXPECT(run, uva_port_close(&ch->c) == 0 && uva_port_close(&ch->d) == 0);
    return;
  }
  msgpack_pack_array(uva_msg_packer(msg), 2);
  /* The array, the str8 header and the str fill the inline buffer: the ext grows the body. */
  msgpack_pack_str_with_body(uva_msg_packer(msg), filler, UVA__MSG_INLINE_BYTES - 3);
  if (NOTE(run, uva_msg_pack_port(msg, &ch->d), E_MEM) != 0) {
    /* Nothing changed: d is still ours. */
    uva_msg_free(msg);
    EXPECT(run, uva_port_close(&ch->c) == 0 && uva_port_close(&ch->d) == 0);
    return;
  }
  if (NOTE(run, uva_port_post(&ch->a, msg), E_MEM) != 0) {
    uva_msg_free(msg); /* closes the port it carries: c's peer */
    EXPECT(run, uva_port_close(&ch->c) == 0);
    return;
  }
  msg = b_next(ch);
  if (msg == NULL) {
    note_incomplete(run, "the port message");
    EXPECT(run, uva_port_close(&ch->c) == 0);
    return;
  }
  EXPECT(run, uva_msg_object(msg, &obj) == 0 && obj.via.array.size == 2);
  EXPECT(run, uva_msg_take_port(msg, &obj.via.array.ptr[1], &ch->e) == 0);
  uva_msg_free(msg);
  ch->e.data = ch;
  if (NOTE(run, uva_port_start(&ch->e, ch->loop, on_e_message, on_port_close), E_START) == 0) {
    closed = ch->closed;
    if (post_int(run, &ch->c, 4, UV_EPIPE) == 0 && !run_until(ch->loop, &ch->e_received, 1))
      note_incomplete(run, "e's message");
    EXPECT(run, uva_port_close(&ch->e) == 0);
    if (!run_until(ch->loop, &ch->closed, closed + 1))
      note_bad(run, "e's close callback never ran");
  } else {
    EXPECT(run, uva_port_close(&ch->e) == 0);
  }
  EXPECT(run, uva_port_close(&ch->c) == 0);
}

/* The channel a-b: a post received without a loop, a backlog delivered when b starts on a fresh loop (its
 * loop context and wakeup descriptor are made), then a transfer. */
static void channel_section(chan_t *ch) {
  run_t *run = ch->run;
  uva_msg_t *msg;
  int posted;
  int closed;

  ch->a.data = ch->b.data = ch;
  if (post_int(run, &ch->a, 1, 0) == 0) {
    if (NOTE(run, uva_port_receive(&ch->b, &msg), 0) == 0) {
      EXPECT(run, msg_int(msg) == 1);
      uva_msg_free(msg);
    }
  }
  posted = post_int(run, &ch->a, 2, 0) == 0;
  if (NOTE(run, uva_port_start(&ch->b, ch->loop, on_b_message, on_port_close), E_START) != 0) {
    /* b stays new: closing it frees its backlog. */
    EXPECT(run, uva_port_close(&ch->b) == 0 && uva_port_close(&ch->a) == 0);
    return;
  }
  if (posted) {
    msg = b_next(ch);
    if (msg != NULL) {
      EXPECT(run, msg_int(msg) == 2);
      uva_msg_free(msg);
    } else {
      note_incomplete(run, "b's backlog");
    }
  }
  transfer_section(ch);
  closed = ch->closed;
  EXPECT(run, uva_port_close(&ch->b) == 0 && uva_port_close(&ch->a) == 0);
  if (!run_until(ch->loop, &ch->closed, closed + 1))
    note_bad(run, "b's close callback never ran");
}

/* A group of three members; member 0 posts a message with a 300-byte str and two references to one shared
 * buffer, so the copy for the second receiver grows its body and its side table. Member 2 is bounded: the
 * post checks every member's room before it copies, and a failed copy must still leave no member with the
 * message. */
static void broadcast_section(chan_t *ch) {
  run_t *run = ch->run;
  uva_msg_t *msg = NULL;
  int started = 0;
  int members;
  int closed;
  int i;

  for (members = 0; members < 3; members++) {
    if (NOTE(run, uva_broadcast_init(&ch->member[members], "uva-test-faults"), E_MEM) != 0)
      break;
    ch->member[members].data = ch;
  }
  for (i = 1; i < members; i++) {
    if (NOTE(run, uva_broadcast_start(&ch->member[i], ch->loop, on_member_message, on_member_close),
             E_START) != 0)
      break;
    started++;
  }
  if (started == 2)
    EXPECT(run, uva_broadcast_set_limits(&ch->member[2], 1, 0) == 0);
  if (members == 3 && started == 2 && NOTE(run, uva_shared_new(32, &ch->shared), E_MEM) == 0 &&
      NOTE(run, uva_msg_new(&msg), E_MEM) == 0) {
    msgpack_pack_array(uva_msg_packer(msg), 3);
    msgpack_pack_str_with_body(uva_msg_packer(msg), filler, 300);
    if (NOTE(run, uva_msg_pack_shared(msg, ch->shared), E_MEM) == 0 &&
        NOTE(run, uva_msg_pack_shared(msg, ch->shared), E_MEM) == 0 &&
        NOTE(run, uva_broadcast_post(&ch->member[0], msg), E_MEM) == 0) {
      msg = NULL;
      if (!run_until(ch->loop, &ch->heard, 2))
        note_incomplete(run, "the broadcast copies");
    }
    uva_msg_free(msg); /* still ours if something failed */
  }
  closed = ch->closed;
  for (i = 0; i < members; i++)
    EXPECT(run, uva_broadcast_close(&ch->member[i]) == 0);
  if (!run_until(ch->loop, &ch->closed, closed + started))
    note_bad(run, "a member's close callback never ran");
  uva_shared_unref(ch->shared);
}

static void scenario_channel(run_t *run) {
  chan_t ch;

  memset(&ch, 0, sizeof(ch));
  ch.run = run;
  ch.loop = loop_new();
  memset(filler, 'f', sizeof(filler));
  if (NOTE(run, uva_channel_init(&ch.a, &ch.b), E_MEM) == 0)
    channel_section(&ch);
  broadcast_section(&ch);
  loop_finish(ch.loop);
  if (run->errors == 0 && run->incomplete == 0)
    EXPECT(run, ch.e_received == 1 && ch.heard == 2 && ch.closed == 4);
}

/* ---- (c) calls ----------------------------------------------------------------------------------- */

/* a calls b on one loop, NCALLS at once (the id table grows past its first slots): b answers value + 100,
 * an error for 5, nothing for 6 (it frees the request: a broken promise, which allocates nothing); the call
 * of 3 times out at once (b holds its request until the calls completed, then frees it: its notice is late).
 * Then a loop-less call that times out, its answer late. Every call completes exactly once, whatever fails.
 */
#define NCALLS 12

typedef struct {
  run_t *run;
  uv_loop_t *loop;
  uva_port_t a, b, x, y;
  uva_call_t calls[NCALLS];
  uva_msg_t *held; /* the request of 3 */
  int done[NCALLS];
  int status[NCALLS];
  int64_t reply[NCALLS];
  int made;
  int completed;
  int closed;
} calls_ctx_t;

static void on_call_request(uva_port_t *port, uva_msg_t *msg) {
  calls_ctx_t *ctx = port->data;
  run_t *run = ctx->run;
  int64_t value = msg_int(msg);
  uva_msg_t *reply;

  EXPECT(run, uva_msg_is_call(msg));
  if (value == 3 && ctx->held == NULL) {
    ctx->held = msg;
    return;
  }
  if (value == 5)
    (void)NOTE(run, uva_msg_reply_error(msg, 5, "five"), E_MEM);
  else if (value != 6 && int_msg(run, value + 100, &reply) == 0 &&
           NOTE(run, uva_msg_reply(msg, reply), 0) != 0)
    uva_msg_free(reply);
  uva_msg_free(msg); /* unanswered (6, or an answer that could not be made): UV_ECONNRESET */
}

static void on_call_done(uva_call_t *call, int status, uva_msg_t *reply) {
  calls_ctx_t *ctx = call->data;
  int i = (int)(call - ctx->calls);

  ctx->done[i]++;
  ctx->status[i] = status;
  ctx->reply[i] = reply != NULL && status == 0 ? msg_int(reply) : -1;
  uva_msg_free(reply);
  ctx->completed++;
}

static void on_calls_port_close(uva_port_t *port) {
  calls_ctx_t *ctx = port->data;
  ctx->closed++;
}

/* The status call i must get with no fault: the callee's choice. With a fault, a reply that could not be
 * made turns into UV_ECONNRESET. */
static int call_expected(int i) {
  return i == 3 ? UV_ETIMEDOUT : i == 5 ? 5 : i == 6 ? UV_ECONNRESET : 0;
}

static void calls_async_section(calls_ctx_t *ctx) {
  run_t *run = ctx->run;
  uva_msg_t *msg;
  int err;
  int i;

  for (i = 0; i < NCALLS; i++) {
    if (int_msg(run, i, &msg) != 0)
      continue;
    ctx->calls[i].data = ctx;
    err = uva_port_call(&ctx->a, &ctx->calls[i], msg, i == 3 ? 0 : HANG_GUARD_MS, on_call_done);
    if (note_(run, "uva_port_call()", err, (const int[]){E_MEM, 0}) != 0) {
      EXPECT(run, !uva_msg_is_call(msg));
      uva_msg_free(msg);
      continue;
    }
    ctx->made++;
  }
  if (!run_until(ctx->loop, &ctx->completed, ctx->made))
    note_bad(run, "%d of %d calls completed", ctx->completed, ctx->made);
  if (ctx->held != NULL)
    uva_msg_free(ctx->held);
  ctx->held = NULL;
  for (i = 0; i < NCALLS; i++) {
    EXPECT(run, ctx->done[i] <= 1);
    if (ctx->done[i] == 0)
      continue;
    if (ctx->status[i] == call_expected(i))
      EXPECT(run, ctx->status[i] != 0 || ctx->reply[i] == i + 100);
    else if (ctx->status[i] != UV_ECONNRESET || run->errors == 0)
      note_bad(run, "call %d: status %s", i, uva_err_name(ctx->status[i]));
  }
}

/* A loop-less call on x (not started) that times out at once; its answer, made later, is late and the
 * receive after it skips it. */
static void calls_wait_section(calls_ctx_t *ctx) {
  run_t *run = ctx->run;
  uva_port_stats_t stats;
  uva_msg_t *msg;
  uva_msg_t *reply;
  int err;

  if (NOTE(run, uva_channel_init(&ctx->x, &ctx->y), E_MEM) != 0)
    return;
  ctx->x.data = ctx->y.data = ctx;
  if (int_msg(run, 1, &msg) == 0) {
    /* Timing out is what this call does; only a failure is noted. */
    err = uva_port_call_wait(&ctx->x, msg, 0, &reply);
    if (err != UV_ETIMEDOUT && note_(run, "uva_port_call_wait()", err, (const int[]){E_MEM, 0}) != 0)
      uva_msg_free(msg);
    if (err == UV_ETIMEDOUT) {
      EXPECT(run, uva_port_receive(&ctx->y, &msg) == 0 && uva_msg_is_call(msg));
      on_call_request(&ctx->y, msg);
      EXPECT(run, uva_port_receive(&ctx->x, &msg) == UV_EAGAIN);
      EXPECT(run, uva_port_stats(&ctx->x, &stats) == 0 && stats.late_replies == 1);
    }
  }
  EXPECT(run, uva_port_close(&ctx->x) == 0 && uva_port_close(&ctx->y) == 0);
}

static void scenario_calls(run_t *run) {
  calls_ctx_t ctx;

  memset(&ctx, 0, sizeof(ctx));
  ctx.run = run;
  ctx.loop = loop_new();
  if (NOTE(run, uva_channel_init(&ctx.a, &ctx.b), E_MEM) == 0) {
    ctx.a.data = ctx.b.data = &ctx;
    if (NOTE(run, uva_port_start(&ctx.a, ctx.loop, on_call_request, on_calls_port_close), E_START) == 0 &&
        NOTE(run, uva_port_start(&ctx.b, ctx.loop, on_call_request, on_calls_port_close), E_START) == 0)
      calls_async_section(&ctx);
    (void)uva_port_close(&ctx.a);
    (void)uva_port_close(&ctx.b);
  }
  calls_wait_section(&ctx);
  loop_finish(ctx.loop);
}

/* ---- (d) actors ---------------------------------------------------------------------------------- */

/* The actor's side. It takes its init message (42), starts its port, says hello (1); for the parent's 7 it
 * answers 8 and ends: with a loop parent through uva_self_fail(self, 3, "bye") (an error event and exit 3),
 * with a loop-less parent through uva_self_exit(self, 5). A call that fails is noted and the actor ends with
 * exit code ACTOR_GAVE_UP. */
#define ACTOR_GAVE_UP 20

typedef struct {
  run_t *run;
  int loopless;
  uva_actor_t actor;
  int online;
  int hello;
  int answer;
  int exited;
  int exit_code;
  char error[64];
} actor_ctx_t;

static void on_parent_message(uva_port_t *port, uva_msg_t *msg) {
  uva_self_t *self = port->data;
  actor_ctx_t *ctx = uva_self_arg(self);
  run_t *run = ctx->run;

  EXPECT(run, msg_int(msg) == 7);
  uva_msg_free(msg);
  post_int(run, port, 8, UV_EPIPE);
  if (ctx->loopless) {
    EXPECT(run, uva_self_exit(self, 5) == 0);
  } else {
    /* The actor ends even when the error cannot be sent. */
    (void)NOTE(run, uva_self_fail(self, 3, "bye"), E_MEM);
  }
}

static int actor_main(uva_self_t *self) {
  actor_ctx_t *ctx = uva_self_arg(self);
  run_t *run = ctx->run;
  uva_port_t *port = uva_self_port(self);
  uva_msg_t *init = uva_self_init(self);

  EXPECT(run, strcmp(uva_self_name(self), "faulty") == 0);
  if (init != NULL) {
    EXPECT(run, msg_int(init) == 42);
    uva_msg_free(init);
  } else if (!ctx->loopless) {
    note_bad(run, "the actor got no init message");
  }
  port->data = self;
  if (NOTE(run, uva_port_start(port, uva_self_loop(self), on_parent_message, NULL), E_START) != 0)
    return ACTOR_GAVE_UP;
  post_int(run, port, 1, UV_EPIPE);
  return 0;
}

static void on_actor_online(uva_actor_t *actor) {
  actor_ctx_t *ctx = actor->data;
  ctx->online++;
}

static void on_actor_message(uva_actor_t *actor, uva_msg_t *msg) {
  actor_ctx_t *ctx = actor->data;
  int64_t value = msg_int(msg);

  if (value == 1)
    ctx->hello++;
  else if (value == 8)
    ctx->answer++;
  else
    note_bad(ctx->run, "the actor sent %lld", (long long)value);
  uva_msg_free(msg);
}

static void on_actor_error(uva_actor_t *actor, const char *text) {
  actor_ctx_t *ctx = actor->data;
  snprintf(ctx->error, sizeof(ctx->error), "%s", text);
}

static void on_actor_exit(uva_actor_t *actor, int exit_code) {
  actor_ctx_t *ctx = actor->data;

  ctx->exit_code = exit_code;
  ctx->exited++;
}

/* What the actor's exit says: it could not set up its loop (the error event says why), it gave up after a
 * failed call (noted on its thread), or it ended as asked. */
static void check_exit(actor_ctx_t *ctx, int want_code) {
  run_t *run = ctx->run;

  if (ctx->exit_code == UVA_EXIT_FAILED) {
    /* The actor thread's own failure: it shows as the error event and this exit. */
    note_(run, "the actor's loop (exit UVA_EXIT_FAILED)", UV_ENOMEM, (const int[]){UV_ENOMEM, 0});
    if (!ctx->loopless)
      EXPECT(run, strcmp(ctx->error, uva_strerror(UV_ENOMEM)) == 0);
  } else if (ctx->exit_code == UVA_EXIT_TERMINATED) {
    EXPECT(run, run->errors > 0); /* terminated by us, after a failed post */
  } else if (ctx->exit_code == ACTOR_GAVE_UP) {
    EXPECT(run, run->errors > 0);
  } else {
    EXPECT(run, ctx->exit_code == want_code);
  }
}

/* An actor with a parent loop: spawn (init message, name), the parent posts, the actor answers, reports an
 * error and ends; the parent sees online, hello, the answer, the error text, then exit 3. */
static void scenario_actor_loop(run_t *run) {
  uv_loop_t *loop = loop_new();
  uva_actor_options_t options;
  actor_ctx_t ctx;
  uva_msg_t *init;

  memset(&ctx, 0, sizeof(ctx));
  ctx.run = run;
  ctx.actor.data = &ctx;
  memset(&options, 0, sizeof(options));
  options.name = "faulty";
  options.arg = &ctx;
  options.online_cb = on_actor_online;
  options.message_cb = on_actor_message;
  options.error_cb = on_actor_error;
  options.exit_cb = on_actor_exit;
  if (int_msg(run, 42, &init) != 0) {
    loop_finish(loop);
    return;
  }
  options.init = init;
  if (NOTE(run, uva_actor_spawn(&ctx.actor, loop, actor_main, &options), E_START, UV_EAGAIN) != 0) {
    uva_msg_free(init); /* still ours */
    loop_finish(loop);
    return;
  }
  if (post_int(run, uva_actor_port(&ctx.actor), 7, UV_EPIPE) != 0)
    /* The actor would wait for it forever; EALREADY if it ended on its own. */
    (void)uva_actor_terminate(&ctx.actor);
  if (!run_until(loop, &ctx.exited, 1)) {
    uva_actor_terminate(&ctx.actor);
    run_until(loop, &ctx.exited, 1);
    ck_abort_msg("the actor did not end within %d ms (fault %s)", HANG_GUARD_MS, uva_fault_site());
  }
  loop_finish(loop);
  check_exit(&ctx, 3);
  if (ctx.exit_code != 3)
    return;
  /* It ended as planned; what the parent saw is whole, or an event was dropped under the fault. */
  EXPECT(run, ctx.exited == 1 && ctx.online <= 1);
  if (ctx.hello != 1 || ctx.answer != 1)
    note_incomplete(run, "the actor's messages");
  /* The error event always comes; its text may be a stand-in when the parent could not copy it. */
  if (ctx.online == 0 || ctx.error[0] == '\0')
    note_degraded(run);
}

/* An actor with a loop-less parent: spawn, post, uva_port_receive_wait() for the answer, join (exit 5). */
static void scenario_actor_loopless(run_t *run) {
  actor_ctx_t ctx;
  uva_actor_options_t options;
  uva_msg_t *msg;
  int err;

  memset(&ctx, 0, sizeof(ctx));
  ctx.run = run;
  ctx.loopless = 1;
  memset(&options, 0, sizeof(options));
  options.name = "faulty";
  options.arg = &ctx;
  if (NOTE(run, uva_actor_spawn(&ctx.actor, NULL, actor_main, &options), E_MEM, UV_EAGAIN) != 0)
    return;
  if (post_int(run, uva_actor_port(&ctx.actor), 7, UV_EPIPE) != 0)
    (void)uva_actor_terminate(&ctx.actor);
  /* The hello, then the answer; EPIPE when the actor ended without them. */
  for (;;) {
    err = uva_port_receive_wait(uva_actor_port(&ctx.actor), &msg, HANG_GUARD_MS);
    if (err != 0)
      break;
    if (msg_int(msg) == 1)
      ctx.hello++;
    else if (msg_int(msg) == 8)
      ctx.answer++;
    uva_msg_free(msg);
  }
  if (err == UV_ETIMEDOUT) {
    uva_actor_terminate(&ctx.actor);
    uva_actor_join(&ctx.actor, HANG_GUARD_MS, NULL);
    ck_abort_msg("the actor did not end within %d ms (fault %s)", HANG_GUARD_MS, uva_fault_site());
  }
  EXPECT(run, err == UV_EPIPE);
  err = uva_actor_join(&ctx.actor, HANG_GUARD_MS, &ctx.exit_code);
  ck_assert_msg(err == 0, "uva_actor_join: %s (fault %s)", uva_err_name(err), uva_fault_site());
  check_exit(&ctx, 5);
  if (ctx.exit_code == 5 && (ctx.hello != 1 || ctx.answer != 1))
    note_incomplete(run, "the actor's messages");
}

/* ---- the task pool ------------------------------------------------------------------------------- */

/* A pool with a loop, one worker and stats: a task that answers, one that fails with a text, one whose
 * worker fails under it (the error event, the exit text), in that order; stats; a draining close. Then a
 * pool without a loop: a failing task submitted without a callback and waited for with its text; close,
 * join. Every task completes once; a faulted run sees its fault as a call's code, as a task's status (a
 * worker that could not start: its error, or UV_ECONNRESET), or as a text that could not be copied. */

#define TP_TASKS 3

typedef struct {
  run_t *run;
  uva_task_t tasks[TP_TASKS];
  int submitted;
  int done;
  int closed;
  int calls[TP_TASKS];
  int status[TP_TASKS];
  char text[TP_TASKS][96];
} tp_run_t;

/* The statuses a task may get from a worker that could not start. */
#define E_WORKER UV_ENOMEM, UV_EMFILE, UV_EAGAIN, UV_ECONNRESET

static int tp_answer(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)ctx;
  *result = arg;
  return 0;
}

static int tp_fail(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)arg;
  (void)result;
  return uva_tpool_ctx_fail(ctx, UV_EIO, "failed on purpose");
}

static int tp_kill(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)arg;
  (void)result;
  uva_self_fail(uva_tpool_ctx_self(ctx), 7, "worker failed on purpose");
  return 0;
}

static const uva_tpool_fn tp_fns[TP_TASKS] = {tp_answer, tp_fail, tp_kill};

static void on_tp_done(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  tp_run_t *t = task->data;
  int i = (int)(task - t->tasks);

  t->calls[i]++;
  t->status[i] = status;
  snprintf(t->text[i], sizeof(t->text[i]), "%s", text != NULL ? text : "");
  if (i == 0 && status == 0)
    EXPECT(t->run, msg_int(result) == 0);
  uva_msg_free(result);
  t->done++;
}

static void on_tp_closed(uva_tpool_t *pool) {
  tp_run_t *t = pool->data;

  t->closed++;
}

/* What each task should get, or a fault's trace. */
static void tp_check(tp_run_t *t) {
  static const int want[TP_TASKS] = {0, UV_EIO, 7};
  static const char *const want_text[TP_TASKS] = {"", "failed on purpose", "worker failed on purpose"};
  run_t *run = t->run;
  int i;

  for (i = 0; i < TP_TASKS; i++) {
    if (i >= t->submitted)
      break;
    EXPECT(run, t->calls[i] == 1);
    if (t->status[i] != want[i])
      note_(run, "a task's status", t->status[i], (const int[]){E_WORKER, 0});
    else if (strstr(t->text[i], want_text[i]) == NULL)
      note_degraded(run); /* the text could not be copied: a stand-in came */
  }
}

static void scenario_tpool(run_t *run) {
  uva_tpool_options_t options;
  uva_tpool_stats_t stats;
  uv_loop_t *loop = loop_new();
  uva_tpool_t pool;
  uva_task_t task;
  tp_run_t t;
  uva_msg_t *msg;
  char *text = NULL;
  int status;
  int i;

  memset(&t, 0, sizeof(t));
  t.run = run;
  memset(&options, 0, sizeof(options));
  options.max_threads = 1;
  options.flags = UVA_TPOOL_STATS;
  pool.data = &t;
  if (NOTE(run, uva_tpool_init(&pool, loop, &options), E_START, UV_EAGAIN) != 0) {
    loop_finish(loop);
    return;
  }
  for (i = 0; i < TP_TASKS; i++) {
    if (int_msg(run, i, &msg) != 0)
      break;
    t.tasks[i].data = &t;
    /* A worker that cannot start fails the task, not the submit; the argument is whole, the queue open. */
    if (NOTE_NONE(run, uva_tpool_submit(&pool, &t.tasks[i], tp_fns[i], msg, NULL, on_tp_done)) != 0) {
      uva_msg_free(msg);
      break;
    }
    t.submitted++;
  }
  if (!run_until(loop, &t.done, t.submitted))
    ck_abort_msg("the pool's tasks did not complete within %d ms (fault %s)", HANG_GUARD_MS,
                 uva_fault_site());
  EXPECT(run, uva_tpool_stats(&pool, &stats) == 0 && stats.completed + stats.failed == (uint64_t)t.submitted);
  EXPECT(run, uva_tpool_close(&pool, 0, on_tp_closed) == 0);
  if (!run_until(loop, &t.closed, 1))
    ck_abort_msg("the pool did not close within %d ms (fault %s)", HANG_GUARD_MS, uva_fault_site());
  loop_finish(loop);
  tp_check(&t);
  if (t.submitted != TP_TASKS)
    return;

  /* Without a loop. */
  if (NOTE(run, uva_tpool_init(&pool, NULL, &options), E_START, UV_EAGAIN) != 0)
    return;
  if (int_msg(run, 5, &msg) == 0) {
    if (NOTE_NONE(run, uva_tpool_submit(&pool, &task, tp_fail, msg, NULL, NULL)) != 0) {
      uva_msg_free(msg);
    } else {
      EXPECT(run, uva_tpool_wait(&task, HANG_GUARD_MS, &status, NULL, &text) == 0);
      if (status != UV_EIO)
        note_(run, "a task's status", status, (const int[]){E_WORKER, 0});
      else if (text == NULL || strcmp(text, "failed on purpose") != 0)
        note_degraded(run);
      free(text);
    }
  }
  EXPECT(run, uva_tpool_close(&pool, 0, NULL) == 0);
  EXPECT(run, uva_tpool_join(&pool, HANG_GUARD_MS) == 0);
}

#include "faults_recovery.h"
#ifdef UVA_FAULTS_REMOTE
#include "faults_remote.h"
#endif

/* ---- the walk ------------------------------------------------------------------------------------ */

/* Sites that failed in some run, as "dir/file.c:line". */
#define MAX_SITES 128
static char walked[MAX_SITES][64];
static int nwalked;

/* "…/serialize/message.c:15" -> "serialize/message.c:15". */
static const char *short_site(const char *site) {
  const char *p = site + strlen(site);
  int slashes = 0;

  while (p > site && slashes < 2)
    if (*--p == '/')
      slashes++;
  return slashes == 2 ? p + 1 : site;
}

static void record_site(const char *site) {
  int i;

  site = short_site(site);
  for (i = 0; i < nwalked; i++)
    if (strcmp(walked[i], site) == 0)
      return;
  ck_assert_int_lt(nwalked, MAX_SITES);
  snprintf(walked[nwalked++], sizeof(walked[0]), "%s", site);
}

/* Appends site to a space-separated list (as far as it fits); returns 1. */
static int append_site(char *list, size_t size, const char *site) {
  size_t len = strlen(list);

  snprintf(list + len, size - len, "%s%s", len > 0 ? " " : "", short_site(site));
  return 1;
}

typedef void (*scenario_fn)(run_t *run);

/* One run with the nth point failing (0: none), or the first pass of target; returns the site that failed,
 * or NULL. */
static const char *run_once(scenario_fn scenario, unsigned long nth, const char *target, run_t *run,
                            unsigned long *points) {
  const char *site;
  int fds;

  /* Each actor gets a thread and a loop made for it, none kept: every run meets the points that make them,
   * and a kept loop's descriptors are not counted as left open. */
  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0);
  fds = open_fds();

  run_init(run);
  if (target != NULL)
    uva_fault_inject_site(target);
  else
    uva_fault_inject(nth);
  scenario(run);
  site = uva_fault_site();
  *points = uva_fault_points();
  uva_fault_inject(0);
  ck_assert_msg(open_fds() == fds, "fault %lu (%s): %d descriptors open before, %d after", nth,
                site != NULL ? short_site(site) : "none", fds, open_fds());
  return site;
}

/* A run without a fault must fully work. */
static void check_clean(const run_t *run, const char *when) {
  ck_assert_msg(run->bad[0] == '\0', "%s: %s", when, run->bad);
  ck_assert_msg(run->errors == 0, "%s: %s with no fault injected", when, run->first);
  ck_assert_msg(run->incomplete == 0, "%s: %s never came", when, run->missing);
  ck_assert_msg(run->degraded == 0, "%s: an actor event was dropped", when);
}

static int is_walked(const char *site) {
  int i;

  site = short_site(site);
  for (i = 0; i < nwalked; i++)
    if (strcmp(walked[i], site) == 0)
      return 1;
  return 0;
}

typedef struct {
  int seen;      /* runs that saw the fault as an error */
  int degraded;  /* runs that lost an actor event to it */
  int recovered; /* runs it did not change */
  char dropped[256];
} tally_t;

/* Judges a run made with a fault (at: which; site: the point that failed, or NULL if the run passed none):
 * either the library recovered and the run fully worked, or the run saw the failure; and a clean run after
 * it fully works. */
static void judge(const char *name, scenario_fn scenario, const char *at, run_t *run, const char *site,
                  tally_t *tally) {
  unsigned long passed;
  char when[200];

  snprintf(when, sizeof(when), "%s, fault %s at %s", name, at, site != NULL ? short_site(site) : "none");
  ck_assert_msg(run->bad[0] == '\0', "%s: %s", when, run->bad);
  if (site == NULL) {
    check_clean(run, when); /* the run passed no point that was to fail: it must have fully worked */
  } else {
    record_site(site);
    ck_assert_msg(run->errors > 0 || run->degraded > 0 || run->incomplete == 0,
                  "%s: the run did not complete and saw no error", when);
    if (run->errors > 0)
      tally->seen++;
    else if (run->degraded > 0)
      tally->degraded += append_site(tally->dropped, sizeof(tally->dropped), site);
    else
      tally->recovered++;
  }
  run_destroy(run);
  run_once(scenario, 0, NULL, run, &passed); /* still usable */
  snprintf(when, sizeof(when), "%s, the clean run after fault %s", name, at);
  check_clean(run, when);
  run_destroy(run);
}

static void walk(const char *name, scenario_fn scenario, int guard_ms) {
  tally_t tally = {0, 0, 0, ""};
  unsigned long points;
  unsigned long limit;
  unsigned long n;
  unsigned long passed;
  const char *site;
  const char *target;
  char when[160];
  char at[24];
  uv_loop_t warm;
  unsigned int i;
  run_t run;

  hang_guard_ms = guard_ms;
  /* libuv opens process-wide descriptors with the first loop; the runs count theirs. */
  ck_assert_int_eq(uv_loop_init(&warm), 0);
  ck_assert_int_eq(uv_loop_close(&warm), 0);
  run_once(scenario, 0, NULL, &run, &points);
  snprintf(when, sizeof(when), "%s without faults", name);
  check_clean(&run, when);
  run_destroy(&run);
  ck_assert_msg(points > 0, "%s passed no fault point", name);
  /* Threads may pass more points in one run than in another: walk a little beyond. */
  limit = points + points / 2 + 4;
  for (n = 1; n <= limit; n++) {
    site = run_once(scenario, n, NULL, &run, &passed);
    if (passed > limit && passed < 4 * points)
      limit = passed;
    snprintf(at, sizeof(at), "%lu", n);
    judge(name, scenario, at, &run, site, &tally);
  }
  /* Threads pass the points in another order in every run, so the countdown may miss a site that a run
   * passed: each such site once more, by name (its first pass fails, whichever thread it is on). */
  for (i = 0; (target = uva_fault_seen(i)) != NULL; i++) {
    if (is_walked(target))
      continue;
    site = run_once(scenario, 0, target, &run, &passed);
    judge(name, scenario, short_site(target), &run, site, &tally);
  }
  fprintf(stderr,
          "# %s: %lu fault points; runs with the fault seen as an error: %d, "
          "an event dropped: %d (%s), no effect: %d\n",
          name, points, tally.seen, tally.degraded, tally.dropped, tally.recovered);
  hang_guard_ms = HANG_GUARD_DEFAULT_MS;
}

START_TEST(test_walk_messages) {
  walk("messages", scenario_messages, HANG_GUARD_DEFAULT_MS);
}
END_TEST

START_TEST(test_walk_channel) {
  walk("channel", scenario_channel, HANG_GUARD_DEFAULT_MS);
}
END_TEST

START_TEST(test_walk_calls) {
  walk("calls", scenario_calls, HANG_GUARD_DEFAULT_MS);
}
END_TEST

START_TEST(test_walk_actor_loop) {
  walk("actor with a loop", scenario_actor_loop, HANG_GUARD_DEFAULT_MS);
}
END_TEST

START_TEST(test_walk_actor_loopless) {
  walk("actor without a loop", scenario_actor_loopless, HANG_GUARD_DEFAULT_MS);
}
END_TEST

START_TEST(test_walk_tpool) {
  walk("task pool", scenario_tpool, HANG_GUARD_DEFAULT_MS);
}
END_TEST

START_TEST(test_walk_monitor) {
  walk("monitor", scenario_monitor, HANG_GUARD_DEFAULT_MS);
}
END_TEST

START_TEST(test_walk_names) {
  walk("names", scenario_names, HANG_GUARD_DEFAULT_MS);
}
END_TEST

START_TEST(test_walk_supervisor) {
  walk("supervisor", scenario_supervisor, HANG_GUARD_DEFAULT_MS);
}
END_TEST

#ifdef UVA_FAULTS_REMOTE
START_TEST(test_walk_remote) {
  /* Three threads pass its points (the test's, the transport's, the spawned actor's): the walk's failing
   * of each site by name catches those the countdown misses (remote/channel.c's error copy, now and then). */
  walk("remote", scenario_remote, REMOTE_GUARD_MS);
  /* A fault in the transport's start, on its thread, ended the node with UVA_NODE_FAILED. */
  ck_assert_int_gt(rwalk_failed_runs, 0);
}
END_TEST

START_TEST(test_walk_remote_on_loop) {
  walk("remote, the transport on the loop", scenario_remote_on_loop, REMOTE_GUARD_MS);
}
END_TEST
#endif

/* ---- every fault point of the sources was walked ------------------------------------------------- */

#ifndef UVA_SRCDIR
#define UVA_SRCDIR "."
#endif

static const char *const fault_markers[] = {"UVA__FAULT()",       "uva__malloc(",  "uva__calloc(",
                                            "uva__realloc(",      "uva__strndup(", "uva__strdup(",
                                            "uva__aligned_alloc("};

/* Appends to sites ("dir/file:line") each line of the .c files in srcdir/dir that passes through a fault
 * point. */
static int source_sites(const char *srcdir, const char *dir, char (*sites)[64], int n) {
  char path[4096];
  char line[1024];
  struct dirent *d;
  DIR *dp;
  FILE *f;
  size_t i;
  int lineno;

  snprintf(path, sizeof(path), "%s/%s", srcdir, dir);
  dp = opendir(path);
  ck_assert_msg(dp != NULL, "cannot read %s (set UVA_TOP_SRCDIR)", path);
  while ((d = readdir(dp)) != NULL) {
    size_t len = strlen(d->d_name);
    if (len < 3 || strcmp(d->d_name + len - 2, ".c") != 0)
      continue;
    snprintf(path, sizeof(path), "%s/%s/%s", srcdir, dir, d->d_name);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    for (lineno = 1; fgets(line, sizeof(line), f) != NULL; lineno++)
      for (i = 0; i < ARRAY_SIZE(fault_markers); i++)
        if (strstr(line, fault_markers[i]) != NULL) {
          ck_assert_int_lt(n, MAX_SITES);
          /* A cut name would never match the walk's: fail instead. */
          ck_assert_int_lt(snprintf(sites[n++], sizeof(sites[0]), "%s/%s:%d", dir, d->d_name, lineno),
                           (int)sizeof(sites[0]));
          break;
        }
    fclose(f);
  }
  closedir(dp);
  return n;
}

START_TEST(test_every_site_walked) {
#ifdef UVA_FAULTS_REMOTE
  static const char *const dirs[] = {"common", "serialize", "channel", "actors", "remote"};
#else
  static const char *const dirs[] = {"common", "serialize", "channel", "actors"};
#endif
  static char sites[MAX_SITES][64];
  const char *srcdir = getenv("UVA_TOP_SRCDIR");
  char list[MAX_SITES * 64];
  char missing[MAX_SITES * 64];
  size_t i;
  int nsites = 0;
  int j;
  int k;

  if (srcdir == NULL)
    srcdir = UVA_SRCDIR;
  for (i = 0; i < ARRAY_SIZE(dirs); i++)
    nsites = source_sites(srcdir, dirs[i], sites, nsites);
  list[0] = missing[0] = '\0';
  for (j = 0; j < nwalked; j++) {
    strcat(list, j > 0 ? ", " : "");
    strcat(list, walked[j]);
  }
  for (j = 0; j < nsites; j++) {
    for (k = 0; k < nwalked && strcmp(sites[j], walked[k]) != 0; k++)
      ;
    if (k == nwalked) {
      strcat(missing, missing[0] != '\0' ? ", " : "");
      strcat(missing, sites[j]);
    }
  }
  fprintf(stderr, "# fault sites walked: %d (%s)\n", nwalked, list);
  for (j = k = 0; j < nwalked; j++)
    k += strncmp(walked[j], "remote/", 7) == 0;
  fprintf(stderr, "# of them in remote/: %d\n", k);
  fflush(stderr);
  ck_assert_msg(missing[0] == '\0', "fault points in the sources no scenario failed: %s", missing);
  ck_assert_int_eq(nwalked, nsites);
}
END_TEST

/* ---- the codes of a failed start ----------------------------------------------------------------- */

static void on_unused_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

/* Starting the first port on a fresh loop passes the points of its wakeup context (an allocation; the
 * wakeup itself is the loop's own descriptor: channel/loop.c), each failed in turn until the start
 * succeeds. uva_port_start() documents UV_EINVAL, UV_EBUSY, UV_EBADF, UV_EPERM and UV_ENOMEM; a failed
 * allocation must give one of those. */
START_TEST(test_start_codes) {
  static const int documented[] = {UV_EINVAL, UV_EBUSY, UV_EBADF, UV_EPERM, UV_ENOMEM};
  uv_loop_t *loop = loop_new();
  char wrong[200] = "";
  const char *site;
  uva_port_t a;
  uva_port_t b;
  unsigned long nth;
  size_t i;
  int err;

  for (nth = 1, err = -1; err != 0; nth++) {
    ck_assert_int_eq(uva_channel_init(&a, &b), 0);
    uva_fault_inject(nth);
    err = uva_port_start(&b, loop, on_unused_message, NULL);
    site = uva_fault_site();
    uva_fault_inject(0);
    for (i = 0; i < ARRAY_SIZE(documented) && documented[i] != err; i++)
      ;
    if (err != 0 && i == ARRAY_SIZE(documented) && wrong[0] == '\0')
      snprintf(wrong, sizeof(wrong),
               "uva_port_start with fault point %lu (%s) failing: %s, not a code "
               "include/uvactor/port.h documents",
               nth, site != NULL ? short_site(site) : "none", uva_err_name(err));
    ck_assert_int_eq(uva_port_close(&b), 0);
    ck_assert_int_eq(uva_port_close(&a), 0);
  }
  loop_finish(loop);
  ck_assert_msg(wrong[0] == '\0', "%s", wrong);
  ck_assert_uint_gt(nth, 2); /* a point failed the start before it succeeded */
}
END_TEST

/* ---- an error the actor reported is not lost ---------------------------------------------------- */

typedef struct {
  uv_sem_t failed; /* the actor's uva_self_fail() returned */
  int fail_err;    /* what it returned */
  int errors;      /* error events */
  int exited;
} fail_ctx_t;

static int failing_main(uva_self_t *self) {
  fail_ctx_t *ctx = uva_self_arg(self);

  ctx->fail_err = uva_self_fail(self, 3, "bye");
  uv_sem_post(&ctx->failed);
  return 0; /* after this the actor's thread passes no fault point: it only tears down */
}

static void on_fail_error(uva_actor_t *actor, const char *text) {
  fail_ctx_t *ctx = actor->data;

  (void)text;
  ctx->errors++;
}

static void on_fail_exit(uva_actor_t *actor, int exit_code) {
  fail_ctx_t *ctx = actor->data;

  ck_assert_int_eq(exit_code, 3);
  ctx->exited++;
}

/* uva_self_fail() returned 0: the error reached the parent's side, which must report it. The parent copies
 * the text when it takes the control message (actors/spawn.c); make that copy, the first fault point the
 * parent's loop passes, fail. The header promises "its error callback gets a copy of text" and "the parent
 * sees the error before the exit": an error that was sent must not vanish on the way. */
START_TEST(test_error_event_survives_failed_copy) {
  uv_loop_t *loop = loop_new();
  uva_actor_options_t options;
  uva_actor_t actor;
  fail_ctx_t ctx;
  const char *site;

  memset(&ctx, 0, sizeof(ctx));
  ck_assert_int_eq(uv_sem_init(&ctx.failed, 0), 0);
  memset(&options, 0, sizeof(options));
  options.arg = &ctx;
  options.error_cb = on_fail_error;
  options.exit_cb = on_fail_exit;
  actor.data = &ctx;
  ck_assert_int_eq(uva_actor_spawn(&actor, loop, failing_main, &options), 0);
  uv_sem_wait(&ctx.failed);
  ck_assert_int_eq(ctx.fail_err, 0);
  uva_fault_inject(1);
  run_until(loop, &ctx.exited, 1);
  site = uva_fault_site();
  uva_fault_inject(0);
  loop_finish(loop);
  uv_sem_destroy(&ctx.failed);
  ck_assert_int_eq(ctx.exited, 1);
  ck_assert_msg(site != NULL && strstr(site, "actors/spawn.c") != NULL, "the fault hit %s", site);
  ck_assert_msg(ctx.errors == 1, "the actor's error was lost when %s failed: no error event before exit 3",
                short_site(site));
}
END_TEST

/* ---- a thread that ends gives back the message objects it holds --------------------------------- */

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define HAVE_MEMCHECK 1
#endif
#endif

/* Bytes valgrind's memcheck finds definitely lost now; 0 when not running under it. */
static unsigned long definitely_lost(void) {
#ifdef HAVE_MEMCHECK
  unsigned long leaked = 0;
  unsigned long dubious = 0;
  unsigned long reachable = 0;
  unsigned long suppressed = 0;

  if (!RUNNING_ON_VALGRIND)
    return 0;
  VALGRIND_DO_QUICK_LEAK_CHECK;
  VALGRIND_COUNT_LEAKS(leaked, dubious, reachable, suppressed);
  (void)dubious;
  (void)reachable;
  (void)suppressed;
  return leaked;
#else
  return 0;
#endif
}

/* A message with a body past the inline buffer: its object and its body each come from a pool. */
static int new_with_body(uva_msg_t **msgp) {
  int err = uva_msg_new(msgp);

  if (err == 0)
    msgpack_pack_str_with_body(uva_msg_packer(*msgp), filler, 300);
  return err;
}

static void new_and_free_one(void *arg) {
  uva_msg_t *msg;

  (void)arg;
  if (new_with_body(&msg) == 0)
    uva_msg_free(msg);
}

static void do_nothing(void *arg) {
  (void)arg;
}

static void run_thread(uv_thread_cb fn) {
  uv_thread_t thread;

  ck_assert_int_eq(uv_thread_create(&thread, fn, NULL), 0);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
}

/* Makes and frees 256 messages with bodies on this thread: its caches overflow into the depots in
 * batches. */
static void churn_messages(void) {
  uva_msg_t *msgs[256];
  size_t i;

  for (i = 0; i < ARRAY_SIZE(msgs); i++)
    ck_assert_int_eq(new_with_body(&msgs[i]), 0);
  for (i = 0; i < ARRAY_SIZE(msgs); i++)
    uva_msg_free(msgs[i]);
}

/* Freed message objects are recycled (serialize/recycle.c): a thread whose cache is empty takes a batch
 * from the process-wide depot. A thread that took a batch and ends without ever freeing into an empty cache
 * never registered its cache for the flush at thread exit, so the rest of the batch is lost once nothing
 * points to it any more (the depot's slot is reused, the thread's stack and TLS are reused): every actor
 * that makes a message can leak a batch. Found by the walk under valgrind without UVA_NO_RECYCLE; `make
 * check-valgrind` sets that, and ASan builds never recycle, so neither sees it. Only valgrind can see this
 * leak; elsewhere the test checks nothing. */
START_TEST(test_ended_thread_keeps_no_messages) {
  unsigned long before;

  churn_messages();
  before = definitely_lost();
  run_thread(new_and_free_one); /* takes a batch from the depot, ends with it */
  run_thread(do_nothing);       /* reuses that thread's stack and TLS */
  churn_messages();             /* reuses the depot's slots */
  ck_assert_msg(definitely_lost() == before, "a thread that ended lost %lu bytes of message objects",
                definitely_lost() - before);
}
END_TEST

#define UVA_TEST_NOFORK
/* Freed memory is scribbled over, so that a read of it after its free meets garbage. Sanitizers see such a
 * read only in instrumented code: libuv finishing the close of a handle whose memory the library freed
 * reads it in libuv, where its asserts then stop the process (the transport freed itself before its
 * timers' closes were finished: valgrind saw it, ASan did not). */
#ifdef __SANITIZE_ADDRESS__
/* Default visibility: the build hides what it does not export, and the sanitizer's runtime looks it up. */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
__attribute__((visibility("default"))) const char *__asan_default_options(void) {
  return "max_free_fill_size=4096:free_fill_byte=165";
}
#else
#include <malloc.h>
static void scribble_freed(void) {
  mallopt(M_PERTURB, 0xa5);
}
#define UVA_TEST_BEFORE_ALL scribble_freed
#endif

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("walk", 120, NULL, NULL),
      TEST(test_walk_messages),
      TEST(test_walk_channel),
      TEST(test_walk_calls),
      TEST(test_walk_actor_loop),
      TEST(test_walk_actor_loopless),
      TEST(test_walk_tpool),
      TEST(test_walk_monitor),
      TEST(test_walk_names),
      TEST(test_walk_supervisor),
#ifdef UVA_FAULTS_REMOTE
      TEST(test_walk_remote),
      TEST(test_walk_remote_on_loop),
#endif
      TEST(test_every_site_walked),
      TEST(test_start_codes),
      TEST(test_error_event_survives_failed_copy),
      TEST(test_ended_thread_keeps_no_messages),
  };

  memset(filler, 'f', sizeof(filler));
  return suite_of_rows("faults", rows, sizeof(rows) / sizeof(rows[0]));
}
