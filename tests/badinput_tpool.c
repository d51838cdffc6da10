/* The bad-input rows of include/uvactor/tpool.h: task pools. Run by tests/test_badinput.c, which also shows
 * them in docs/errors.md. */

#include "badinput.h"
#include "run_until.h"

static int tp_init_with(fx_t *fx, uv_loop_t *loop, uva_tpool_options_t *options) {
  int err = uva_tpool_init(&fx->zeroed_tpool, loop, options);

  ck_assert_int_ne(err, 0); /* every row here is refused: nothing to close */
  return err;
}

static int tp_init_null(fx_t *fx) {
  return uva_tpool_init(NULL, fx->loop, NULL);
}

static int tp_init_per_thread(fx_t *fx) {
  uva_tpool_options_t o = {.per_thread = 65};
  return tp_init_with(fx, fx->loop, &o);
}

static int tp_init_name(fx_t *fx) {
  uva_tpool_options_t o = {.name = "012345678901234567890123456789012345678901234567"};
  return tp_init_with(fx, fx->loop, &o);
}

static int tp_init_min_over_max(fx_t *fx) {
  uva_tpool_options_t o = {.max_threads = 2, .min_threads = 3};
  return tp_init_with(fx, fx->loop, &o);
}

static int tp_init_flags(fx_t *fx) {
  uva_tpool_options_t o = {.flags = 2};
  return tp_init_with(fx, fx->loop, &o);
}

static int tp_init_reserved(fx_t *fx) {
  uva_tpool_options_t o = {.reserved = {NULL, fx}};
  return tp_init_with(fx, fx->loop, &o);
}

/* min_threads none: no worker starts at init, so only the option's check refuses the stack. */
static int tp_init_stack_small(fx_t *fx) {
  uva_tpool_options_t o = {.min_threads = UVA_TPOOL_MIN_NONE, .stack_size = UVA_ACTOR_STACK_MIN - 1};
  return tp_init_with(fx, fx->loop, &o);
}

static int tp_init_stack_huge(fx_t *fx) {
  uva_tpool_options_t o = {.min_threads = UVA_TPOOL_MIN_NONE, .stack_size = SIZE_MAX - 65535};
  return tp_init_with(fx, fx->loop, &o);
}

static int tp_init_loop_taken(fx_t *fx) {
  uva_tpool_options_t o = {.max_threads = 1};
  return tp_init_with(fx, fx->loop, &o);
}

/* Submits the fixture's message; it stays the caller's when refused. */
static int tp_submit_with(fx_t *fx, uva_task_t *task, uva_tpool_fn fn, const uva_task_options_t *options,
                          uva_task_cb cb) {
  int err = uva_tpool_submit(fx->tpool_p, task, fn, fx->msg, options, cb);

  if (err == 0)
    fx->msg = NULL;
  return err;
}

static int tp_submit(fx_t *fx) {
  return tp_submit_with(fx, &fx->task, fn_nothing, NULL, on_fx_task);
}

static int tp_submit_task_null(fx_t *fx) {
  return tp_submit_with(fx, NULL, fn_nothing, NULL, on_fx_task);
}

static int tp_submit_fn_null(fx_t *fx) {
  return tp_submit_with(fx, &fx->task, NULL, NULL, on_fx_task);
}

static int tp_submit_cb_null(fx_t *fx) {
  return tp_submit_with(fx, &fx->task, fn_nothing, NULL, NULL);
}

static int tp_submit_priority(fx_t *fx) {
  uva_task_options_t o = {.priority = UVA_TPOOL_PRIORITY_MAX + 1};
  return tp_submit_with(fx, &fx->task, fn_nothing, &o, on_fx_task);
}

static int tp_submit_reserved(fx_t *fx) {
  uva_task_options_t o = {.reserved = {fx}};
  return tp_submit_with(fx, &fx->task, fn_nothing, &o, on_fx_task);
}

static int tp_submit_full(fx_t *fx) {
  uva_task_t third;

  third.data = fx;
  return tp_submit_with(fx, &third, fn_nothing, NULL, on_fx_task);
}

/* The argument is refused as posting would refuse it: a failed pack, a malformed body. */
static int tp_submit_failed_pack(fx_t *fx) {
  uva_msg_t *msg = failed_pack_msg();
  int err = uva_tpool_submit(&fx->tpool, &fx->task, fn_nothing, msg, NULL, on_fx_task);

  if (err != 0)
    uva_msg_free(msg);
  return err;
}

static int tp_submit_truncated(fx_t *fx) {
  uva_msg_t *msg = raw_msg("\x92\x01", 2);
  int err = uva_tpool_submit(&fx->tpool, &fx->task, fn_nothing, msg, NULL, on_fx_task);

  if (err != 0)
    uva_msg_free(msg);
  return err;
}

static int tp_cancel_null(fx_t *fx) {
  (void)fx;
  return uva_tpool_cancel(NULL);
}

static int tp_cancel_done(fx_t *fx) {
  ck_assert_int_eq(tp_submit(fx), 0);
  ck_assert(run_until(fx->loop, &fx->tasks_done, 1));
  return uva_tpool_cancel(&fx->task);
}

static int tp_cancel_task(fx_t *fx) {
  return uva_tpool_cancel(&fx->task);
}

static int tp_wait_null(fx_t *fx) {
  (void)fx;
  return uva_tpool_wait(NULL, 0, NULL, NULL, NULL);
}

static int tp_wait_loop_pool(fx_t *fx) {
  ck_assert_int_eq(tp_submit(fx), 0);
  return uva_tpool_wait(&fx->task, 0, NULL, NULL, NULL);
}

/* Parked, so that it cannot complete before the wait looks (then the wait said UV_EALREADY, under valgrind).
 */
static int tp_wait_with_cb(fx_t *fx) {
  int err;

  ck_assert_int_eq(tp_submit_with(fx, &fx->task, fn_park, NULL, on_fx_task), 0);
  err = uva_tpool_wait(&fx->task, 0, NULL, NULL, NULL);
  ck_assert_int_eq(uva_tpool_cancel(&fx->task), 0);
  ck_assert_int_eq(uva_tpool_close(&fx->tpool, UVA_TPOOL_CLOSE_CANCEL, NULL), 0);
  return err;
}

static int tp_wait_twice(fx_t *fx) {
  ck_assert_int_eq(tp_submit_with(fx, &fx->task, fn_nothing, NULL, NULL), 0);
  ck_assert_int_eq(uva_tpool_wait(&fx->task, UVA_WAIT_FOREVER, NULL, NULL, NULL), 0);
  return uva_tpool_wait(&fx->task, 0, NULL, NULL, NULL);
}

/* Cancels and collects fx->task, parked by fn_park, and closes the pool cancelling: a draining close would
 * wait for ever for the function parked on the worker, if the worker took it before the cancel. */
static void tp_end_parked(fx_t *fx) {
  ck_assert_int_eq(uva_tpool_cancel(&fx->task), 0);
  ck_assert_int_eq(uva_tpool_wait(&fx->task, UVA_WAIT_FOREVER, NULL, NULL, NULL), 0);
  ck_assert_int_eq(uva_tpool_close(&fx->tpool, UVA_TPOOL_CLOSE_CANCEL, NULL), 0);
}

/* A task that cannot complete by itself. */
static int tp_wait_0ms(fx_t *fx) {
  int err;

  ck_assert_int_eq(tp_submit_with(fx, &fx->task, fn_park, NULL, NULL), 0);
  err = uva_tpool_wait(&fx->task, 0, NULL, NULL, NULL);
  tp_end_parked(fx);
  return err;
}

static void tp_wait_forever(void *arg) {
  fx_t *fx = arg;

  fx->wait_result = uva_tpool_wait(&fx->task, UVA_WAIT_FOREVER, NULL, NULL, NULL);
}

/* A look (0 ms) while another thread waits for the task: the row looks until that thread is in its wait,
 * then cancels the task, which that wait collects. */
static int tp_wait_busy(fx_t *fx) {
  uv_thread_t waiter;
  int err = UV_ETIMEDOUT;
  int i;

  ck_assert_int_eq(tp_submit_with(fx, &fx->task, fn_park, NULL, NULL), 0);
  ck_assert_int_eq(uv_thread_create(&waiter, tp_wait_forever, fx), 0);
  for (i = 0; i < HANG_GUARD_MS && err == UV_ETIMEDOUT; i++)
    if ((err = uva_tpool_wait(&fx->task, 0, NULL, NULL, NULL)) == UV_ETIMEDOUT)
      uv_sleep(1);
  ck_assert_int_eq(uva_tpool_cancel(&fx->task), 0);
  ck_assert_int_eq(uv_thread_join(&waiter), 0);
  ck_assert_int_eq(fx->wait_result, 0);
  ck_assert_int_eq(uva_tpool_close(&fx->tpool, UVA_TPOOL_CLOSE_CANCEL, NULL), 0);
  return err;
}

/* On the dispatcher: submits task2 and waits for it, which only the dispatcher itself could complete. */
static void on_fx_wait_in_callback(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  fx_t *fx = task->data;

  (void)status;
  (void)text;
  uva_msg_free(result);
  ck_assert_int_eq(uva_tpool_submit(&fx->tpool, &fx->task2, fn_nothing, NULL, NULL, NULL), 0);
  __atomic_store_n(&fx->wait_result, uva_tpool_wait(&fx->task2, 1, NULL, NULL, NULL), __ATOMIC_RELEASE);
}

/* The wait is made in a callback, on the pool's dispatcher thread; the row collects task2 afterwards. */
static int tp_wait_in_callback(fx_t *fx) {
  int i;

  fx->wait_result = 1;
  ck_assert_int_eq(uva_tpool_submit(&fx->tpool, &fx->task, fn_nothing, NULL, NULL, on_fx_wait_in_callback),
                   0);
  for (i = 0; i < HANG_GUARD_MS && __atomic_load_n(&fx->wait_result, __ATOMIC_ACQUIRE) == 1; i++)
    uv_sleep(1);
  ck_assert_int_eq(uva_tpool_wait(&fx->task2, UVA_WAIT_FOREVER, NULL, NULL, NULL), 0);
  return fx->wait_result;
}

static int main_wait_ending(uva_self_t *self) {
  fx_t *fx = uva_self_arg(self);

  ck_assert_int_eq(uva_self_exit(self, 0), 0);
  fx->wait_result = uva_tpool_wait(&fx->task, UVA_WAIT_FOREVER, NULL, NULL, NULL);
  return 0;
}

/* The wait is made on an actor's thread after uva_self_exit(). */
static int tp_wait_ending(fx_t *fx) {
  uva_actor_options_t options = {.arg = fx};
  uva_actor_t actor;

  ck_assert_int_eq(tp_submit_with(fx, &fx->task, fn_park, NULL, NULL), 0);
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, main_wait_ending, &options), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, NULL), 0);
  tp_end_parked(fx);
  return fx->wait_result;
}

/* An init in the teardown of an actor: in its port's close callback, which the teardown runs first. The
 * actor's arg says which loop: its own (1) or none (0). */
static int init_in_teardown;

static void on_parent_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

static void on_port_closed_init(uva_port_t *port) {
  uva_tpool_t *pool = port->data;

  init_in_teardown = uva_tpool_init(pool, pool->data != NULL ? port->loop : NULL, NULL);
}

static int main_init_in_teardown(uva_self_t *self) {
  uva_port_t *port = uva_self_port(self);

  port->data = uva_self_arg(self);
  if (uva_port_start(port, uva_self_loop(self), on_parent_message, on_port_closed_init) != 0)
    return 1;
  return uva_self_exit(self, 0);
}

static int tp_init_in_teardown(fx_t *fx, int own_loop) {
  uva_actor_options_t options = {.arg = &fx->zeroed_tpool};
  uva_actor_t actor;
  int code;

  fx->zeroed_tpool.data = own_loop ? fx : NULL;
  init_in_teardown = 1;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, main_init_in_teardown, &options), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, 0);
  ck_assert_int_ne(init_in_teardown, 0); /* refused: nothing to close */
  return init_in_teardown;
}

static int tp_init_in_teardown_loop(fx_t *fx) {
  return tp_init_in_teardown(fx, 1);
}

static int tp_init_in_teardown_loopless(fx_t *fx) {
  return tp_init_in_teardown(fx, 0);
}

static void on_fx_room(uva_tpool_t *tpool) {
  (void)tpool;
}

static int tp_on_room(fx_t *fx) {
  return uva_tpool_on_room(fx->tpool_p, on_fx_room);
}

static int tp_on_room_null_cb(fx_t *fx) {
  return uva_tpool_on_room(fx->tpool_p, NULL);
}

static int tp_stats(fx_t *fx) {
  uva_tpool_stats_t st;
  return uva_tpool_stats(fx->tpool_p, &st);
}

static int tp_stats_null(fx_t *fx) {
  return uva_tpool_stats(fx->tpool_p, NULL);
}

static int tp_stats_reset(fx_t *fx) {
  return uva_tpool_stats_reset(fx->tpool_p);
}

static int tp_utilization_null(fx_t *fx) {
  (void)fx;
  return uva_tpool_utilization(NULL, NULL) == 0 ? 0 : R_VALUE;
}

static int tp_close(fx_t *fx) {
  return uva_tpool_close(fx->tpool_p, 0, NULL);
}

static int tp_close_flags(fx_t *fx) {
  return uva_tpool_close(fx->tpool_p, 2, NULL);
}

static int tp_close_cb(fx_t *fx) {
  return uva_tpool_close(fx->tpool_p, 0, on_fx_tpool_closed);
}

static int tp_join(fx_t *fx) {
  return uva_tpool_join(fx->tpool_p, 0);
}

/* The pool a task function of a row joins: task functions get no pointer of the row's. */
static fx_t *joining_fx;

static int fn_close_and_join(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)ctx;
  (void)arg;
  (void)result;
  ck_assert_int_eq(uva_tpool_close(&joining_fx->tpool, 0, NULL), 0);
  joining_fx->wait_result = uva_tpool_join(&joining_fx->tpool, 0);
  return 0;
}

/* The join is made in a task function, on a worker of the pool; the row collects the task. */
static int tp_join_in_task(fx_t *fx) {
  joining_fx = fx;
  ck_assert_int_eq(tp_submit_with(fx, &fx->task, fn_close_and_join, NULL, NULL), 0);
  ck_assert_int_eq(uva_tpool_wait(&fx->task, UVA_WAIT_FOREVER, NULL, NULL, NULL), 0);
  return fx->wait_result;
}

static void on_fx_join_in_callback(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  fx_t *fx = task->data;

  (void)status;
  (void)text;
  uva_msg_free(result);
  ck_assert_int_eq(uva_tpool_close(&fx->tpool, 0, NULL), 0);
  __atomic_store_n(&fx->wait_result, uva_tpool_join(&fx->tpool, 0), __ATOMIC_RELEASE);
}

/* The join is made in a callback, on the pool's dispatcher thread. */
static int tp_join_in_callback(fx_t *fx) {
  int i;

  fx->wait_result = 1;
  ck_assert_int_eq(tp_submit_with(fx, &fx->task, fn_nothing, NULL, on_fx_join_in_callback), 0);
  for (i = 0; i < HANG_GUARD_MS && __atomic_load_n(&fx->wait_result, __ATOMIC_ACQUIRE) == 1; i++)
    uv_sleep(1);
  return fx->wait_result;
}

/* Joins until it is the one joining (another join may be in its look at that moment). */
static void tp_join_forever(void *arg) {
  fx_t *fx = arg;

  while ((fx->wait_result = uva_tpool_join(&fx->tpool, UVA_WAIT_FOREVER)) == UV_EBUSY)
    uv_sleep(1);
}

/* A look (0 ms) while another thread joins the pool, which a parked task keeps from ending until the row
 * closes it cancelling. */
static int tp_join_busy(fx_t *fx) {
  uv_thread_t joiner;
  int err = UV_ETIMEDOUT;
  int i;

  ck_assert_int_eq(tp_submit_with(fx, &fx->task, fn_park, NULL, on_fx_task), 0);
  ck_assert_int_eq(uva_tpool_close(&fx->tpool, 0, NULL), 0);
  ck_assert_int_eq(uv_thread_create(&joiner, tp_join_forever, fx), 0);
  for (i = 0; i < HANG_GUARD_MS && err == UV_ETIMEDOUT; i++)
    if ((err = uva_tpool_join(&fx->tpool, 0)) == UV_ETIMEDOUT)
      uv_sleep(1);
  ck_assert_int_eq(uva_tpool_close(&fx->tpool, UVA_TPOOL_CLOSE_CANCEL, NULL), 0);
  ck_assert_int_eq(uv_thread_join(&joiner), 0);
  ck_assert_int_eq(fx->wait_result, 0);
  fx->tpool_made = 0; /* joined */
  return err;
}

static int tp_join_uncollected(fx_t *fx) {
  int err;

  ck_assert_int_eq(tp_submit_with(fx, &fx->task, fn_nothing, NULL, NULL), 0);
  ck_assert_int_eq(uva_tpool_close(&fx->tpool, 0, NULL), 0);
  err = uva_tpool_join(&fx->tpool, 0);
  ck_assert_int_eq(uva_tpool_wait(&fx->task, UVA_WAIT_FOREVER, NULL, NULL, NULL), 0);
  return err;
}

static int tp_init_on_the_loop(fx_t *fx) {
  return tp_init_with(fx, fx->loop, NULL);
}

static int tp_init_forked(fx_t *fx) {
  return in_forked_child(fx, tp_init_on_the_loop);
}

static int tp_submit_forked(fx_t *fx) {
  return in_forked_child(fx, tp_submit);
}

static int tp_stats_forked(fx_t *fx) {
  return in_forked_child(fx, tp_stats);
}

static int tp_join_forked(fx_t *fx) {
  return in_forked_child(fx, tp_join);
}

static int tp_ctx_cancelled_null(fx_t *fx) {
  (void)fx;
  return uva_tpool_ctx_cancelled(NULL) == 0 ? 0 : R_VALUE;
}
static int tp_ctx_loop_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_tpool_ctx_loop(NULL));
}
static int tp_ctx_state_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_tpool_ctx_state(NULL));
}
static int tp_ctx_self_null(fx_t *fx) {
  (void)fx;
  return ptr_result(uva_tpool_ctx_self(NULL));
}
static int tp_ctx_fail_null(fx_t *fx) {
  (void)fx;
  return uva_tpool_ctx_fail(NULL, UV_EIO, "text");
}
static int tp_ctx_done_null(fx_t *fx) {
  (void)fx;
  return uva_tpool_ctx_done(NULL, 0, NULL);
}

static const row_t tpool_rows[] = {
    {"uva_tpool_init", "pool NULL", S_NONE, tp_init_null, UV_EINVAL},
    {"uva_tpool_init", "per_thread 65", S_NONE, tp_init_per_thread, UV_EINVAL},
    {"uva_tpool_init", "name of 48 bytes", S_NONE, tp_init_name, UV_EINVAL},
    {"uva_tpool_init", "min_threads over max_threads", S_NONE, tp_init_min_over_max, UV_EINVAL},
    {"uva_tpool_init", "unknown flags", S_NONE, tp_init_flags, UV_EINVAL},
    {"uva_tpool_init", "a nonzero reserved slot", S_NONE, tp_init_reserved, UV_EINVAL},
    {"uva_tpool_init", "stack_size UVA_ACTOR_STACK_MIN - 1", S_NONE, tp_init_stack_small, UV_EINVAL},
    {"uva_tpool_init", "stack_size within 64 KiB of SIZE_MAX", S_NONE, tp_init_stack_huge, UV_EINVAL},
    {"uva_tpool_init", "loop run by another thread", A_LOOP_TAKEN, tp_init_loop_taken, UV_EPERM},
    {"uva_tpool_init", "a loop inherited through fork() (in the child; a pool is on it)", T_OPEN,
     tp_init_forked, UVA_EFORKED},
    {"uva_tpool_init", "in the teardown of the actor whose loop it is (a port's close callback)", S_NONE,
     tp_init_in_teardown_loop, UV_ECANCELED},
    {"uva_tpool_init", "loop NULL, in the teardown of the calling actor (a port's close callback)", S_NONE,
     tp_init_in_teardown_loopless, UV_ECANCELED},

    {"uva_tpool_submit", "pool NULL (the argument stays the caller's)", T_NULL, tp_submit, UV_EINVAL},
    {"uva_tpool_submit", NULL, T_ZEROED, tp_submit, UV_EINVAL},
    {"uva_tpool_submit", "task NULL", T_OPEN, tp_submit_task_null, UV_EINVAL},
    {"uva_tpool_submit", "fn NULL", T_OPEN, tp_submit_fn_null, UV_EINVAL},
    {"uva_tpool_submit", "done_cb NULL on a pool with a loop", T_OPEN, tp_submit_cb_null, UV_EINVAL},
    {"uva_tpool_submit", "priority 8", T_OPEN, tp_submit_priority, UV_EINVAL},
    {"uva_tpool_submit", "a nonzero reserved slot", T_OPEN, tp_submit_reserved, UV_EINVAL},
    {"uva_tpool_submit", "an argument whose pack failed", T_OPEN, tp_submit_failed_pack, UV_ENOMEM},
    {"uva_tpool_submit", "a truncated argument", T_OPEN, tp_submit_truncated, UVA_ETRUNC},
    {"uva_tpool_submit", "queue full (the argument stays the caller's)", T_FULL, tp_submit_full, UV_EAGAIN},
    {"uva_tpool_submit", NULL, T_CLOSING, tp_submit, UV_EPIPE},
    {"uva_tpool_submit", NULL, T_CLOSED, tp_submit, UV_EBADF},
    {"uva_tpool_submit", NULL, T_OTHER_THREAD, tp_submit, UV_EPERM},
    {"uva_tpool_submit", NULL, T_JOINED, tp_submit, UV_EBADF},
    {"uva_tpool_submit", "in a child process that inherited the pool (fork())", T_OPEN, tp_submit_forked,
     UVA_EFORKED},

    {"uva_tpool_cancel", "task NULL", S_NONE, tp_cancel_null, UV_EINVAL},
    {"uva_tpool_cancel", "a task whose callback ran", T_OPEN, tp_cancel_done, UV_EALREADY},
    {"uva_tpool_cancel", "a task of another thread's pool", T_OTHER_THREAD, tp_cancel_task, UV_EPERM},

    {"uva_tpool_wait", "task NULL", S_NONE, tp_wait_null, UV_EINVAL},
    {"uva_tpool_wait", "a task of a pool with a loop", T_OPEN, tp_wait_loop_pool, UV_EINVAL},
    {"uva_tpool_wait", "a task submitted with a callback", T_LOOPLESS, tp_wait_with_cb, UV_EINVAL},
    {"uva_tpool_wait", "a task collected before", T_LOOPLESS, tp_wait_twice, UV_EALREADY},
    {"uva_tpool_wait", "not completed, 0 ms", T_LOOPLESS, tp_wait_0ms, UV_ETIMEDOUT},
    {"uva_tpool_wait", "not completed, on the thread of an actor that called uva_self_exit()", T_LOOPLESS,
     tp_wait_ending, UV_ECANCELED},
    {"uva_tpool_wait", "another thread is waiting for the task", T_LOOPLESS, tp_wait_busy, UV_EBUSY},
    {"uva_tpool_wait", "1 ms, in a callback (the dispatcher thread)", T_LOOPLESS, tp_wait_in_callback,
     UV_EPERM},

    {"uva_tpool_on_room", NULL, T_NULL, tp_on_room, UV_EINVAL},
    {"uva_tpool_on_room", "room_cb NULL", T_OPEN, tp_on_room_null_cb, UV_EINVAL},
    {"uva_tpool_on_room", NULL, T_CLOSING, tp_on_room, UV_EPIPE},
    {"uva_tpool_on_room", NULL, T_CLOSED, tp_on_room, UV_EBADF},
    {"uva_tpool_on_room", NULL, T_OTHER_THREAD, tp_on_room, UV_EPERM},

    {"uva_tpool_stats", NULL, T_NULL, tp_stats, UV_EINVAL},
    {"uva_tpool_stats", NULL, T_ZEROED, tp_stats, UV_EINVAL},
    {"uva_tpool_stats", "stats NULL", T_OPEN, tp_stats_null, UV_EINVAL},
    {"uva_tpool_stats", NULL, T_CLOSED, tp_stats, UV_EBADF},
    {"uva_tpool_stats", NULL, T_OTHER_THREAD, tp_stats, UV_EPERM},
    {"uva_tpool_stats", "from a thread that is not the pool's", T_LOOPLESS, tp_stats, 0},
    {"uva_tpool_stats", "in a child process that inherited the pool (fork())", T_LOOPLESS, tp_stats_forked,
     UVA_EFORKED},
    {"uva_tpool_stats_reset", NULL, T_NULL, tp_stats_reset, UV_EINVAL},
    {"uva_tpool_stats_reset", NULL, T_CLOSED, tp_stats_reset, UV_EBADF},
    {"uva_tpool_stats_reset", NULL, T_OTHER_THREAD, tp_stats_reset, UV_EPERM},
    {"uva_tpool_utilization", "both NULL", S_NONE, tp_utilization_null, 0},

    {"uva_tpool_close", NULL, T_NULL, tp_close, UV_EINVAL},
    {"uva_tpool_close", NULL, T_ZEROED, tp_close, UV_EINVAL},
    {"uva_tpool_close", "unknown flags", T_OPEN, tp_close_flags, UV_EINVAL},
    {"uva_tpool_close", "draining already", T_CLOSING, tp_close, UV_EALREADY},
    {"uva_tpool_close", NULL, T_CLOSED, tp_close, UV_EBADF},
    {"uva_tpool_close", NULL, T_OTHER_THREAD, tp_close, UV_EPERM},
    {"uva_tpool_close", "a close_cb on a pool without a loop", T_LOOPLESS, tp_close_cb, UV_EINVAL},

    {"uva_tpool_join", NULL, T_NULL, tp_join, UV_EINVAL},
    {"uva_tpool_join", "a pool with a loop", T_CLOSING, tp_join, UV_EINVAL},
    {"uva_tpool_join", "not closed", T_LOOPLESS, tp_join, UV_EINVAL},
    {"uva_tpool_join", "a task not collected", T_LOOPLESS, tp_join_uncollected, UV_EBUSY},
    {"uva_tpool_join", "another thread is joining the pool", T_LOOPLESS, tp_join_busy, UV_EBUSY},
    {"uva_tpool_join", "in a task function (a worker thread)", T_LOOPLESS, tp_join_in_task, UV_EPERM},
    {"uva_tpool_join", "in a callback (the dispatcher thread)", T_LOOPLESS, tp_join_in_callback, UV_EPERM},
    {"uva_tpool_join", NULL, T_JOINED, tp_join, UV_EALREADY},
    {"uva_tpool_join", "in a child process that inherited the pool (fork())", T_LOOPLESS_CLOSING,
     tp_join_forked, UVA_EFORKED},

    {"uva_tpool_ctx_cancelled", "ctx NULL", S_NONE, tp_ctx_cancelled_null, 0},
    {"uva_tpool_ctx_loop", "ctx NULL", S_NONE, tp_ctx_loop_null, R_NULL},
    {"uva_tpool_ctx_state", "ctx NULL", S_NONE, tp_ctx_state_null, R_NULL},
    {"uva_tpool_ctx_self", "ctx NULL", S_NONE, tp_ctx_self_null, R_NULL},
    {"uva_tpool_ctx_fail", "ctx NULL", S_NONE, tp_ctx_fail_null, UV_EINVAL},
    {"uva_tpool_ctx_done", "ctx NULL", S_NONE, tp_ctx_done_null, UV_EINVAL},
};

const table_t tpool_table = TABLE("Task pools", tpool_rows);
