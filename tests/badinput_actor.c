/* The bad-input rows of include/uvactor/actor.h: actors and the pool. Run by tests/test_badinput.c, which
 * also shows them in docs/errors.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "badinput.h"

/* ---- actors (actor.h) ---------------------------------------------------------------------------- */

/* Spawns with options; init is the fixture's message, which stays the caller's on failure. An actor that
 * was spawned after all is waited for (with a loop) or joined (without). */
static int spawn_with(fx_t *fx, uva_actor_t *actor, uv_loop_t *loop, uva_actor_main_cb main_cb,
                      uva_actor_options_t *options) {
  int err;

  options->init = fx->msg;
  err = uva_actor_spawn(actor, loop, main_cb, options);
  if (err != 0)
    return err;
  fx->msg = NULL;
  if (actor == &fx->actor)
    fx->actor_state = loop != NULL ? 1 : 2;
  return 0;
}

static int spawn_null_actor(fx_t *fx) {
  uva_actor_options_t options = {0};
  return spawn_with(fx, NULL, fx->loop, main_return, &options);
}

static int spawn_null_main(fx_t *fx) {
  uva_actor_options_t options = {0};
  return spawn_with(fx, &fx->actor, fx->loop, NULL, &options);
}

static int spawn_name_64(fx_t *fx) {
  uva_actor_options_t options = {.name = "0123456789012345678901234567890123456789012345678901234567890123"};
  return spawn_with(fx, &fx->actor, fx->loop, main_return, &options);
}

static int spawn_name_63(fx_t *fx) {
  uva_actor_options_t options = {.name = "012345678901234567890123456789012345678901234567890123456789012",
                                 .exit_cb = on_fx_exit};
  fx->actor.data = fx;
  return spawn_with(fx, &fx->actor, fx->loop, main_return, &options);
}

static int spawn_stack(fx_t *fx, size_t stack_size) {
  uva_actor_options_t options = {.stack_size = stack_size};
  return spawn_with(fx, &fx->actor, fx->loop, main_return, &options);
}

static int spawn_stack_1(fx_t *fx) {
  return spawn_stack(fx, 1);
}
static int spawn_stack_under_min(fx_t *fx) {
  return spawn_stack(fx, UVA_ACTOR_STACK_MIN - 1);
}

static int spawn_loopless_with_cb(fx_t *fx) {
  uva_actor_options_t options = {.exit_cb = on_fx_exit};
  return spawn_with(fx, &fx->actor, NULL, main_return, &options);
}

static int spawn_spin_over(fx_t *fx) {
  uva_actor_options_t options = {.spin_us = 1000001};
  return spawn_with(fx, &fx->actor, fx->loop, main_return, &options);
}

static int spawn_loop_taken(fx_t *fx) {
  uva_actor_options_t options = {0};
  return spawn_with(fx, &fx->actor, fx->loop, main_return, &options);
}

/* The parent's port to an actor cannot be transferred; it still works afterwards. */
static int pack_actor_port(fx_t *fx) {
  uva_msg_t *msg;
  int err;

  ck_assert_int_eq(uva_msg_new(&msg), 0);
  err = uva_msg_pack_port(msg, uva_actor_port(&fx->actor));
  uva_msg_free(msg);
  if (err != 0 && uva_port_post(uva_actor_port(&fx->actor), body_msg()) != 0)
    err = R_VALUE;
  return err;
}

static int actor_port(fx_t *fx) {
  return ptr_result(uva_actor_port(fx->actor_p));
}

static int terminate(fx_t *fx) {
  return uva_actor_terminate(fx->actor_p);
}

static int terminate_twice(fx_t *fx) {
  ck_assert_int_eq(uva_actor_terminate(fx->actor_p), 0);
  return uva_actor_terminate(fx->actor_p);
}

static int join_10ms(fx_t *fx) {
  return uva_actor_join(fx->actor_p, 10, NULL);
}

static int actor_ref(fx_t *fx) {
  return uva_actor_ref(fx->actor_p);
}

static int actor_unref(fx_t *fx) {
  return uva_actor_unref(fx->actor_p);
}

static int actor_has_ref(fx_t *fx) {
  return uva_actor_has_ref(fx->actor_p);
}

static int self_loop_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_self_loop(NULL));
}
static int self_port_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_self_port(NULL));
}
static int self_init_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_self_init(NULL));
}
static int self_arg_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_self_arg(NULL));
}
static int self_name_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_self_name(NULL));
}
static int self_should_stop_null(fx_t *fx) {
  (void)fx;
  return uva_self_should_stop(NULL) == 0 ? 0 : R_VALUE;
}
static int self_exit_null(fx_t *fx) {
  (void)fx;
  return uva_self_exit(NULL, 1);
}
static int self_fail_null(fx_t *fx) {
  (void)fx;
  return uva_self_fail(NULL, 1, "text");
}

/* uva_self_fail(self, code, NULL), inside an actor: what it returns becomes the exit code. */
static int main_fail_null_text(uva_self_t *self) {
  return -uva_self_fail(self, 1, NULL);
}

static int self_fail_null_text(fx_t *fx) {
  uva_actor_t actor;
  int code = 0;

  (void)fx;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, main_fail_null_text, NULL), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  return -code;
}

static int pool_init_0(fx_t *fx) {
  (void)fx;
  return uva_pool_init(0);
}
static int pool_init_1025(fx_t *fx) {
  (void)fx;
  return uva_pool_init(1025);
}
static int pool_init_2000(fx_t *fx) {
  (void)fx;
  return uva_pool_init(2000);
}

/* Ids and links. */
static int id_result(uint64_t id) {
  return id == 0 ? 0 : R_VALUE;
}

static int actor_id(fx_t *fx) {
  return id_result(uva_actor_id(fx->actor_p));
}
static int self_id_null(fx_t *fx) {
  (void)fx;
  return id_result(uva_self_id(NULL));
}
static int trap_exits_null(fx_t *fx) {
  (void)fx;
  return uva_self_trap_exits(NULL, 1);
}

static int spawn_unknown_flag(fx_t *fx) {
  uva_actor_options_t options = {.flags = 4};
  return spawn_with(fx, &fx->actor, fx->loop, main_return, &options);
}

static int set_reuse_max_over(fx_t *fx) {
  (void)fx;
  return uva_actor_set_reuse(UVA_REUSE_MAX + 1, 0);
}
static int set_reuse_idle_over(fx_t *fx) {
  (void)fx;
  return uva_actor_set_reuse(UVA_REUSE_DEFAULT, UVA_REUSE_IDLE_MS_MAX + 1);
}

static const row_t actor_rows[] = {
    {"uva_actor_spawn", "actor NULL (init stays the caller's)", S_NONE, spawn_null_actor, UV_EINVAL},
    {"uva_actor_spawn", "main_cb NULL (init stays the caller's)", S_NONE, spawn_null_main, UV_EINVAL},
    {"uva_actor_spawn", "name of 64 bytes (init stays the caller's)", S_NONE, spawn_name_64, UV_EINVAL},
    {"uva_actor_spawn", "name of 63 bytes (the longest allowed)", S_NONE, spawn_name_63, 0},
    {"uva_actor_spawn", "loop NULL with a callback (init stays the caller's)", S_NONE, spawn_loopless_with_cb,
     UV_EINVAL},
    {"uva_actor_spawn", "spin_us 1000001 (init stays the caller's)", S_NONE, spawn_spin_over, UV_EINVAL},
    {"uva_actor_spawn", "stack_size 1 (init stays the caller's)", S_NONE, spawn_stack_1, UV_EINVAL},
    {"uva_actor_spawn", "stack_size UVA_ACTOR_STACK_MIN - 1 (init stays the caller's)", S_NONE,
     spawn_stack_under_min, UV_EINVAL},
    {"uva_actor_spawn", "loop run by another thread (init stays the caller's)", A_LOOP_TAKEN,
     spawn_loop_taken, UV_EPERM},

    {"uva_msg_pack_port", "the parent's port of an actor (uva_actor_port())", A_LOOP, pack_actor_port,
     UV_EINVAL},

    {"uva_actor_port", NULL, A_NULL, actor_port, R_NULL},
    {"uva_actor_port", NULL, A_ZEROED, actor_port, R_NULL},
    {"uva_actor_port", NULL, A_LOOP_EXITED, actor_port, R_NULL},
    {"uva_actor_port", NULL, A_JOINED, actor_port, R_NULL},

    {"uva_actor_terminate", NULL, A_NULL, terminate, UV_EINVAL},
    {"uva_actor_terminate", NULL, A_ZEROED, terminate, UV_EINVAL},
    {"uva_actor_terminate", "asked before", A_LOOP, terminate_twice, UV_EALREADY},
    {"uva_actor_terminate", NULL, A_LOOP_EXITED, terminate, UV_EALREADY},
    {"uva_actor_terminate", NULL, A_JOINED, terminate, UV_EALREADY},

    {"uva_actor_join", NULL, A_NULL, join_10ms, UV_EINVAL},
    {"uva_actor_join", NULL, A_ZEROED, join_10ms, UV_EINVAL},
    {"uva_actor_join", NULL, A_LOOP, join_10ms, UV_EINVAL},
    {"uva_actor_join", "still running, 10 ms", A_LOOPLESS, join_10ms, UV_ETIMEDOUT},
    {"uva_actor_join", NULL, A_JOINED, join_10ms, UV_EALREADY},

    {"uva_actor_ref", NULL, A_NULL, actor_ref, UV_EINVAL},
    {"uva_actor_ref", NULL, A_ZEROED, actor_ref, UV_EINVAL},
    {"uva_actor_ref", NULL, A_LOOPLESS, actor_ref, UV_EINVAL},
    {"uva_actor_ref", NULL, A_LOOP_EXITED, actor_ref, UV_EINVAL},
    {"uva_actor_ref", NULL, A_LOOP_OTHER_THREAD, actor_ref, UV_EPERM},
    {"uva_actor_unref", NULL, A_NULL, actor_unref, UV_EINVAL},
    {"uva_actor_unref", NULL, A_ZEROED, actor_unref, UV_EINVAL},
    {"uva_actor_unref", NULL, A_LOOPLESS, actor_unref, UV_EINVAL},
    {"uva_actor_unref", NULL, A_LOOP_EXITED, actor_unref, UV_EINVAL},
    {"uva_actor_unref", NULL, A_LOOP_OTHER_THREAD, actor_unref, UV_EPERM},
    {"uva_actor_has_ref", NULL, A_NULL, actor_has_ref, 0},
    {"uva_actor_has_ref", NULL, A_ZEROED, actor_has_ref, 0},
    {"uva_actor_has_ref", NULL, A_LOOPLESS, actor_has_ref, 0},
    {"uva_actor_has_ref", NULL, A_LOOP_EXITED, actor_has_ref, 0},
    {"uva_actor_has_ref", NULL, A_LOOP_OTHER_THREAD, actor_has_ref, 0},

    {"uva_self_loop", "self NULL", S_NONE, self_loop_null, R_NULL},
    {"uva_self_port", "self NULL", S_NONE, self_port_null, R_NULL},
    {"uva_self_init", "self NULL", S_NONE, self_init_null, R_NULL},
    {"uva_self_arg", "self NULL", S_NONE, self_arg_null, R_NULL},
    {"uva_self_name", "self NULL", S_NONE, self_name_null, R_NULL},
    {"uva_self_should_stop", "self NULL", S_NONE, self_should_stop_null, 0},
    {"uva_self_exit", "self NULL", S_NONE, self_exit_null, UV_EINVAL},
    {"uva_self_fail", "self NULL", S_NONE, self_fail_null, UV_EINVAL},
    {"uva_self_fail", "text NULL (inside an actor)", S_NONE, self_fail_null_text, UV_EINVAL},

    {"uva_actor_id", NULL, A_NULL, actor_id, 0},
    {"uva_actor_id", NULL, A_ZEROED, actor_id, 0},
    {"uva_actor_id", "after its exit (kept)", A_LOOP_EXITED, actor_id, R_VALUE},
    {"uva_self_id", "self NULL", S_NONE, self_id_null, 0},
    {"uva_self_trap_exits", "self NULL", S_NONE, trap_exits_null, UV_EINVAL},
    {"uva_actor_spawn",
     "flags with a bit other than UVA_ACTOR_LINK and UVA_ACTOR_NEW_THREAD (init stays the caller's)", S_NONE,
     spawn_unknown_flag, UV_EINVAL},
    {"uva_actor_set_reuse", "max UVA_REUSE_MAX + 1", S_NONE, set_reuse_max_over, UV_EINVAL},
    {"uva_actor_set_reuse", "idle_ms UVA_REUSE_IDLE_MS_MAX + 1", S_NONE, set_reuse_idle_over, UV_EINVAL},

    {"uva_pool_init", "size 0", S_NONE, pool_init_0, UV_EINVAL},
    {"uva_pool_init", "size 1025", S_NONE, pool_init_1025, UV_EINVAL},
    {"uva_pool_init", "size 2000", S_NONE, pool_init_2000, UV_EINVAL},
};

const table_t actor_table = TABLE("Actors and the pool", actor_rows);
