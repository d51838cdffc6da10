/* The parent's side of the actor suites: one actor's events recorded, on a loop of the test's own. */
#ifndef UVA_TESTS_ACTOR_RECORD_H
#define UVA_TESTS_ACTOR_RECORD_H

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "actor_check.h"
#include "int_msg.h"

typedef struct rec_s rec_t;

struct rec_s {
  uva_actor_t actor;
  uva_actor_options_t opts;
  char events[64]; /* O online, M message, E error, X exit */
  size_t nevents;
  int64_t values[16]; /* the first integers the actor posted */
  int nvalues;
  int nmessages;
  char error[128];
  int exit_code;
  int exited;
  /* optional hooks, called after the event is recorded; on_message takes over the message */
  void (*on_online)(rec_t *rec);
  void (*on_message)(rec_t *rec, uva_msg_t *msg);
  void (*on_exit)(rec_t *rec);
  void *ctx; /* the test's */
};

static inline void record(rec_t *rec, char event) {
  ck_assert_uint_lt(rec->nevents, sizeof(rec->events) - 1);
  rec->events[rec->nevents++] = event;
  rec->events[rec->nevents] = '\0';
}

static inline void rec_on_online(uva_actor_t *actor) {
  rec_t *rec = actor->data;

  record(rec, 'O');
  if (rec->on_online != NULL)
    rec->on_online(rec);
}

static inline void rec_on_message(uva_actor_t *actor, uva_msg_t *msg) {
  rec_t *rec = actor->data;

  ck_assert_ptr_nonnull(msg);
  if (rec->nevents < 16)
    record(rec, 'M');
  rec->nmessages++;
  if (rec->on_message != NULL) {
    rec->on_message(rec, msg);
    return;
  }
  if (rec->nvalues < 16)
    rec->values[rec->nvalues++] = msg_int(msg);
  uva_msg_free(msg);
}

static inline void rec_on_error(uva_actor_t *actor, const char *text) {
  rec_t *rec = actor->data;

  record(rec, 'E');
  ck_assert_ptr_nonnull(text);
  snprintf(rec->error, sizeof(rec->error), "%s", text);
}

static inline void rec_on_exit(uva_actor_t *actor, int exit_code) {
  rec_t *rec = actor->data;

  record(rec, 'X');
  ck_assert_int_eq(rec->exited, 0);
  rec->exited = 1;
  rec->exit_code = exit_code;
  /* The handle is ended: no port any more, and terminating it is too late. */
  ck_assert_ptr_null(uva_actor_port(actor));
  ck_assert_int_eq(uva_actor_terminate(actor), UV_EALREADY);
  if (rec->on_exit != NULL)
    rec->on_exit(rec);
}

/* A recorder with every callback set; rec->opts may be changed before rec_spawn(). ctx becomes the actor's
 * uva_self_arg() unless opts.arg is set. */
static inline void rec_init(rec_t *rec, void *ctx) {
  memset(rec, 0, sizeof(*rec));
  rec->ctx = ctx;
  rec->opts.arg = ctx;
  rec->opts.online_cb = rec_on_online;
  rec->opts.message_cb = rec_on_message;
  rec->opts.error_cb = rec_on_error;
  rec->opts.exit_cb = rec_on_exit;
}

static inline int rec_spawn(rec_t *rec, uv_loop_t *loop, uva_actor_main_cb main_cb) {
  rec->actor.data = rec;
  return uva_actor_spawn(&rec->actor, loop, main_cb, &rec->opts);
}

static inline void loop_start(uv_loop_t *loop) {
  ck_assert_int_eq(uv_loop_init(loop), 0);
}

/* Runs the loop until nothing keeps it alive, then closes it: every actor's exit was delivered and nothing
 * of theirs is left on it. */
static inline void loop_finish(uv_loop_t *loop) {
  ck_assert_int_eq(uv_run(loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(loop), 0);
  assert_actors_ok();
}

/* Spawns one actor on a fresh loop, runs it to its exit and closes the loop. */
static inline void run_actor(rec_t *rec, uva_actor_main_cb main_cb) {
  uv_loop_t loop;

  loop_start(&loop);
  ck_assert_int_eq(rec_spawn(rec, &loop, main_cb), 0);
  loop_finish(&loop);
  ck_assert_int_eq(rec->exited, 1);
}

#endif /* UVA_TESTS_ACTOR_RECORD_H */
