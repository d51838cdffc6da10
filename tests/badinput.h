/* The bad-input table's parts (tests/test_badinput.c): the fixture a row's call gets, the row, the tables
 * each area exports, and the helpers both the fixture and the calls use. */
#ifndef UVA_TESTS_BADINPUT_H
#define UVA_TESTS_BADINPUT_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forked.h"
#include "uvactor.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define HANG_GUARD_MS 10000

/* Results that are not error codes, for functions that return a pointer, a size or nothing. */
#define R_NULL 1    /* returned NULL */
#define R_VALUE 2   /* returned something else */
#define R_NOTHING 3 /* a void function: returned, and nothing happened */

/* The handle a row's call gets. */
typedef enum {
  S_NONE, /* the call makes what it needs (a channel a-b and a message exist, as in every fixture) */
  /* ports: the port under test is a, its peer b */
  P_NULL,                /* NULL */
  P_ZEROED,              /* a zeroed uva_port_t, never initialized */
  P_NEW,                 /* new, not started */
  P_STARTED,             /* started on this thread's loop */
  P_OTHER_THREAD,        /* started on this thread's loop; the call is made from a second thread */
  P_LOOP_TAKEN,          /* new; its peer is started on this thread's loop; the call is made from a second
                            thread, with that loop */
  P_CLOSING,             /* started, then closed: its close callback has not run yet */
  P_PEER_CLOSED,         /* new; its peer was closed */
  P_STARTED_PEER_CLOSED, /* started; its peer was closed */
  P_CLOSED,              /* closed */
  P_IN_MESSAGE,          /* packed into a message that is not posted yet: the handle is spent */
  P_IN_TRANSIT,          /* packed into a message that was posted and not taken yet: the handle is spent */
  P_PEER_FULL,           /* new; its peer is bounded to 1 message and holds 1 */
  P_PEER_SMALL,          /* new; its peer is bounded to 4 bytes (the message has 6) */
  P_STARTED_PEER_FULL,   /* started; its peer is bounded to 1 message and holds 1 */
  P_STARTED_PEER_SMALL,  /* started; its peer is bounded to 4 bytes */
  /* calls: a call made through the started port a, to b (new, never answering) */
  C_NULL,
  C_ZEROED,       /* a zeroed uva_call_t, never used */
  C_PENDING,      /* pending */
  C_OTHER_THREAD, /* pending; the call is made from a second thread */
  C_DUE,          /* cancelled: its callback is due, not run yet */
  C_DONE,         /* its callback ran */
  /* broadcast members: the member under test is bc, another member of its group bc2 */
  B_NULL,
  B_ZEROED,
  B_NEW,
  B_STARTED,
  B_OTHER_THREAD,
  B_LOOP_TAKEN, /* new; bc2 is started on this thread's loop; the call is made from a second thread */
  B_CLOSING,
  B_OTHER_FULL,  /* new; bc2 is bounded to 1 message and holds 1 */
  B_OTHER_SMALL, /* new; bc2 is bounded to 4 bytes (the message has 6) */
  B_CLOSED,
  /* actors */
  A_NULL,
  A_ZEROED,
  A_LOOP,              /* spawned with this thread's loop, running (until terminated) */
  A_LOOP_OTHER_THREAD, /* the same; the call is made from a second thread */
  A_LOOP_EXITED,       /* spawned with this thread's loop; its exit callback ran */
  A_LOOP_TAKEN,        /* no actor; a port is started on this thread's loop; the call is made from a second
                          thread, with that loop */
  A_LOOPLESS,          /* spawned without a loop, running (until terminated) */
  A_JOINED,            /* spawned without a loop, ended and joined */
  /* task pools: the pool under test is tpool, its tasks task and task2 */
  T_NULL,
  T_ZEROED,
  T_OPEN,             /* made with this thread's loop, one worker, idle */
  T_OTHER_THREAD,     /* the same; the call is made from a second thread */
  T_FULL,             /* max_queue 1 and one worker: task runs (pending forever), task2 waits in the queue */
  T_CLOSING,          /* closed, its close callback not run yet */
  T_CLOSED,           /* closed, its close callback run */
  T_LOOPLESS,         /* made without a loop, one worker, idle */
  T_LOOPLESS_CLOSING, /* made without a loop, closed, not joined */
  T_JOINED,           /* made without a loop, closed and joined */
  /* recovery (supervise.h): fx->mon, fx->name, fx->sup on this thread's loop */
  M_ACTIVE,       /* a monitor started, its callback not run yet */
  M_OTHER_THREAD, /* the same; the call is made from a second thread */
  M_DONE,         /* a monitor whose callback ran */
  N_REGISTERED,   /* a name registered */
  N_OTHER_THREAD, /* the same; the call is made from a second thread */
  V_IDLE,         /* a supervisor initialized, not started */
  V_STARTED,      /* a supervisor started, with no children */
  V_OTHER_THREAD, /* initialized; the call is made from a second thread */
  V_CLOSING,      /* a supervisor whose close was asked */
} state_t;

typedef struct {
  state_t state;
  uv_loop_t *loop;
  uva_port_t a, b;    /* the channel every fixture has */
  uva_port_t x, y;    /* P_IN_TRANSIT: the channel the carrier travels on */
  int transit;        /* x and y were made */
  uva_msg_t *carrier; /* P_IN_MESSAGE: the message that holds a */
  uva_port_t zeroed_port;
  uva_broadcast_t bc, bc2;
  uva_broadcast_t zeroed_bc;
  int members; /* bc and bc2 were made */
  uva_actor_t actor;
  uva_actor_t zeroed_actor;
  int actor_state;  /* 0: none, 1: spawned with the loop, 2: spawned without */
  int exited;       /* exit callbacks run */
  int delivered;    /* messages a, b, bc or bc2 received on the loop */
  int other_thread; /* the call is made from a second thread */
  uva_msg_t *msg;   /* a valid message the call may get; NULL once consumed */
  char body[16];    /* msg's bytes, to see that a refused message is unchanged */
  size_t body_len;
  uva_tpool_t tpool;
  uva_tpool_t zeroed_tpool;
  int tpool_made;   /* 1: with the loop, 2: without */
  int tpool_closed; /* close callbacks run */
  uva_task_t task, task2;
  int tasks_done;  /* completion callbacks run */
  int wait_result; /* what a wait made on another thread returned */
  uva_monitor_t mon;
  int downs; /* mon's callbacks, and name opens finished */
  uva_name_t name;
  uva_supervisor_t sup;
  uva_call_t call;     /* C_*: the call under test */
  int calls_done;      /* call callbacks run */
  uva_port_t p, q;     /* a channel whose p calls and q hands out the request (badinput_call.c) */
  uva_call_t req_call; /* p's call */
  int requests;        /* p and q were made */
  int peer_spent;      /* the row used b up: the channel a-b is not checked afterwards */
  /* what the call gets */
  uva_port_t *port;
  uva_broadcast_t *member;
  uva_actor_t *actor_p;
  uva_tpool_t *tpool_p;
  uva_call_t *call_p;
} fx_t;

/* One row of a table. */
typedef struct {
  const char *func;      /* the public function */
  const char *input;     /* what is wrong with the call (NULL: the state's text) */
  state_t state;         /* the handle it gets */
  int (*call)(fx_t *fx); /* makes the call; returns its result */
  int expected;          /* the documented result */
} row_t;

typedef struct {
  const char *title;
  const row_t *rows;
  size_t n;
} table_t;

#define TABLE(title, rows) \
  { title, rows, ARRAY_SIZE(rows) }

/* The tables, one per area, each in the file of its public header (docs/errors.md shows them in the order
 * test_badinput.c lists them). */
extern const table_t message_table, bytes_table, body_table;                          /* badinput_msg.c */
extern const table_t port_table, limit_table, broadcast_table, broadcast_limit_table; /* badinput_port.c */
extern const table_t actor_table;                                                     /* badinput_actor.c */
extern const table_t tpool_table;                                                     /* badinput_tpool.c */
extern const table_t monitor_table, name_table, supervisor_table; /* badinput_supervise.c */
extern const table_t call_table;                                  /* badinput_call.c */
extern const table_t stats_table;                                 /* badinput_stats.c */
#ifdef UVA_BADINPUT_REMOTE
extern const table_t node_table, rport_table; /* badinput_remote.c: uvactor/remote.h, when it is built */
#endif

/* ---- what the fixture and the calls share ------------------------------------------------------- */

static inline void on_fx_message(uva_port_t *port, uva_msg_t *msg) {
  fx_t *fx = port->data;

  fx->delivered++;
  uva_msg_free(msg);
}

static inline void on_fx_member_message(uva_broadcast_t *bc, uva_msg_t *msg) {
  fx_t *fx = bc->data;

  fx->delivered++;
  uva_msg_free(msg);
}

static inline void on_fx_exit(uva_actor_t *actor, int exit_code) {
  fx_t *fx = actor->data;

  (void)exit_code;
  fx->exited++;
}

static inline void on_fx_task(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  fx_t *fx = task->data;

  (void)status;
  (void)text;
  uva_msg_free(result);
  fx->tasks_done++;
}

/* Makes the call in a child process, which inherits what the fixture made (a pool, a node) through fork();
 * returns what the call returned there, read from a pipe. The child's exit status only says it was not
 * killed: under valgrind it is valgrind's (1 when the child's leak check counts as lost what only the
 * parent's other threads, which the child does not have, pointed to: a pool's or a transport's thread in
 * the middle of its work at the fork). */
static inline int in_forked_child(fx_t *fx, int (*call)(fx_t *fx)) {
  forked_t child;

  if (forked_start(&child))
    forked_end(&child, call(fx));
  return forked_wait(&child);
}

static inline void on_fx_down(uva_monitor_t *mon, int exit_code, const char *text) {
  fx_t *fx = mon->data;

  (void)exit_code;
  (void)text;
  fx->downs++;
}

/* A holder that accepts nothing: an opener is refused. */
static inline void on_fx_accept(uva_name_t *name) {
  (void)name;
}

static inline void on_fx_call(uva_call_t *call, int status, uva_msg_t *reply) {
  fx_t *fx = call->data;

  (void)status;
  fx->calls_done++;
  uva_msg_free(reply);
}

static inline void on_fx_tpool_closed(uva_tpool_t *tpool) {
  fx_t *fx = tpool->data;

  fx->tpool_closed++;
}

/* A task that never completes by itself: it keeps its worker's slot until the pool is closed. */
static inline int fn_park(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)ctx;
  (void)arg;
  (void)result;
  return UVA_TPOOL_PENDING;
}

static inline int fn_nothing(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)ctx;
  (void)arg;
  (void)result;
  return 0;
}

/* A valid message: [1, "two"]. */
static inline uva_msg_t *body_msg(void) {
  uva_msg_t *msg;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  msgpack_pack_array(uva_msg_packer(msg), 2);
  msgpack_pack_int(uva_msg_packer(msg), 1);
  msgpack_pack_str_with_body(uva_msg_packer(msg), "two", 3);
  return msg;
}

/* A message whose body is these bytes, written as they are (msgpack_pack_bin_body adds no header). */
static inline uva_msg_t *raw_msg(const void *bytes, size_t len) {
  uva_msg_t *msg;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  if (len > 0)
    ck_assert_int_eq(msgpack_pack_bin_body(uva_msg_packer(msg), bytes, len), 0);
  return msg;
}

static inline int main_return(uva_self_t *self) {
  (void)self;
  return 0;
}

/* ---- helpers for calls --------------------------------------------------------------------------- */

/* Results of functions that return a pointer or a size. */
static inline int ptr_result(const void *p) {
  return p == NULL ? R_NULL : R_VALUE;
}

static inline int size_result(size_t n) {
  return n == 0 ? 0 : R_VALUE;
}

/* A message whose one pack could not grow the body (more than half the address space): it remembers
 * UV_ENOMEM. */
static inline uva_msg_t *failed_pack_msg(void) {
  static const char byte;
  uva_msg_t *msg;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  ck_assert_int_eq(msgpack_pack_bin_body(uva_msg_packer(msg), &byte, SIZE_MAX / 2 + 1), -1);
  return msg;
}

/* A message [buffer ext, shared ext, 7], and its view. */
static uva_shared_t *attached_shared;

static inline uva_msg_t *attached_msg(msgpack_object *view) {
  uva_msg_t *msg;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  msgpack_pack_array(uva_msg_packer(msg), 3);
  ck_assert_int_eq(uva_msg_pack_buffer(msg, malloc(16), 16, NULL), 0);
  ck_assert_int_eq(uva_shared_new(16, &attached_shared), 0);
  ck_assert_int_eq(uva_msg_pack_shared(msg, attached_shared), 0);
  uva_shared_unref(attached_shared); /* the message holds it */
  msgpack_pack_int(uva_msg_packer(msg), 7);
  ck_assert_int_eq(uva_msg_object(msg, view), 0);
  return msg;
}

/* A message [port ext] carrying the fixture's port b, and its view. */
static inline uva_msg_t *port_msg(fx_t *fx, msgpack_object *view) {
  uva_msg_t *msg;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  msgpack_pack_array(uva_msg_packer(msg), 1);
  ck_assert_int_eq(uva_msg_pack_port(msg, &fx->b), 0);
  ck_assert_int_eq(uva_msg_object(msg, view), 0);
  return msg;
}

#define BUFFER_EXT(view) (&(view).via.array.ptr[0])
#define SHARED_EXT(view) (&(view).via.array.ptr[1])
#define INT_OBJ(view) (&(view).via.array.ptr[2])

/* Malformed inputs, each named after the code it must get. */
static const unsigned char trunc_array[] = {0x92, 0xc0};                     /* [nil, ...missing */
static const unsigned char trunc_str[] = {0xa5, 'a', 'b'};                   /* str of 5, 2 given */
static const unsigned char bad_byte[] = {0x91, 0xc1};                        /* [0xc1] */
static const unsigned char trailing[] = {0xc0, 0xc0};                        /* two objects */
static const unsigned char count_over[] = {0xdd, 0x00, 0x10, 0x00, 0x01};    /* array32 of 1 Mi + 1 */
static const unsigned char map_of_3[] = {0x83, 1, 1, 2, 2, 3, 3};            /* {1:1, 2:2, 3:3} */
static const unsigned char port_ext[] = {0xd6, UVA_EXT_PORT, 0, 0, 0, 0};    /* fixext4 of type 125 */
static const unsigned char reserved_ext[] = {0xd4, UVA_EXT_RESERVED_MIN, 0}; /* fixext1 of type 120 */
static const unsigned char five_nils[] = {0x95, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0};

#endif /* UVA_TESTS_BADINPUT_H */
