/* actors/tpool*.c: the task pool, one test per rule of include/uvactor/tpool.h.
 *
 * Each test runs its pool on a loop of its own and ends by closing the pool and the loop (uv_loop_close() ==
 * 0: the pool left nothing on it). Nothing waits on time to order events: a task that must still be running
 * when something happens blocks on a gate the test opens (a condition variable), so a run timeout is tested
 * by a task that cannot finish before it fires, and an idle timeout by polling the pool's stats under a hang
 * guard. Checks made on worker threads are recorded and asserted on the test's thread (ACTOR_CHECK).
 *
 * Workers are actors, not libuv's threadpool, so Check may fork per test. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actor_check.h" /* ACTOR_CHECK(): workers are actors */
#include "forked.h"
#include "uvactor.h"

#define HANG_GUARD_MS 10000
#include "run_until.h"

/* ---- the gate: tasks that block until the test lets them go -------------------------------------- */

static uv_mutex_t gate_lock;
static uv_cond_t gate_cond;
static int gate_open_;
static int gate_waiting;

static void gate_init(void) {
  ck_assert_int_eq(uv_mutex_init(&gate_lock), 0);
  ck_assert_int_eq(uv_cond_init(&gate_cond), 0);
  gate_open_ = 0;
  gate_waiting = 0;
}

/* Waits until the gate opens; 0, or UV_ETIMEDOUT after the hang guard. */
static int gate_pass(void) {
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;
  int err = 0;

  uv_mutex_lock(&gate_lock);
  gate_waiting++;
  uv_cond_broadcast(&gate_cond);
  while (!gate_open_ && err == 0)
    if (uv_hrtime() >= deadline || uv_cond_timedwait(&gate_cond, &gate_lock, deadline - uv_hrtime()) != 0)
      err = gate_open_ ? 0 : UV_ETIMEDOUT;
  gate_waiting--;
  uv_mutex_unlock(&gate_lock);
  return err;
}

static void gate_open(void) {
  uv_mutex_lock(&gate_lock);
  gate_open_ = 1;
  uv_cond_broadcast(&gate_cond);
  uv_mutex_unlock(&gate_lock);
}

/* Waits for n tasks to be blocked at the gate (they are running). */
static void gate_wait_for(int n) {
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;

  uv_mutex_lock(&gate_lock);
  while (gate_waiting < n && uv_hrtime() < deadline)
    uv_cond_timedwait(&gate_cond, &gate_lock, 10 * 1000000);
  ck_assert_int_ge(gate_waiting, n);
  uv_mutex_unlock(&gate_lock);
}

/* ---- messages ------------------------------------------------------------------------------------ */

static uva_msg_t *int_msg(int64_t value) {
  uva_msg_t *msg = NULL;

  if (uva_msg_new(&msg) != 0)
    return NULL;
  msgpack_pack_int64(uva_msg_packer(msg), value);
  return msg;
}

static int64_t msg_int(uva_msg_t *msg) {
  msgpack_object obj;

  if (msg == NULL || uva_msg_object(msg, &obj) != 0)
    return INT64_MIN;
  if (obj.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
    return (int64_t)obj.via.u64;
  if (obj.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
    return obj.via.i64;
  return INT64_MIN;
}

/* Moved buffers whose frees are counted. */
static atomic_int buffer_frees;

static void counting_free(void *ptr) {
  atomic_fetch_add(&buffer_frees, 1);
  free(ptr);
}

/* ---- task functions ------------------------------------------------------------------------------ */

static atomic_int runs; /* task functions called */
static _Atomic(uva_tpool_ctx_t *) parked;
static _Atomic(uv_thread_t *) seen_thread;

/* [n] -> n * n */
static int fn_square(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  int64_t n = msg_int(arg);

  (void)ctx;
  atomic_fetch_add(&runs, 1);
  *result = int_msg(n * n);
  return *result != NULL ? 0 : UV_ENOMEM;
}

/* Blocks at the gate, then answers its argument back (the result is the argument itself). */
static int fn_gate(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)ctx;
  atomic_fetch_add(&runs, 1);
  ACTOR_CHECK(gate_pass() == 0);
  *result = arg;
  return 0;
}

static atomic_int saw_cancel;

/* Spins until its flag is set (or the hang guard), then answers 1. */
static int fn_until_cancelled(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;

  (void)arg;
  atomic_fetch_add(&runs, 1);
  ACTOR_CHECK(gate_pass() == 0);
  while (!uva_tpool_ctx_cancelled(ctx) && uv_hrtime() < deadline)
    ;
  if (uva_tpool_ctx_cancelled(ctx))
    atomic_fetch_add(&saw_cancel, 1);
  *result = int_msg(1);
  return 0;
}

/* ---- the test's side ----------------------------------------------------------------------------- */

typedef struct {
  uva_task_t task;
  int calls;
  int status;
  int64_t value;
  char text[160];
  int order;
  uv_thread_t thread;
} job_t;

static int completed; /* completion callbacks run */
static int closed;    /* close callbacks run */
static uv_loop_t loop;
static uva_tpool_t pool;

static void on_job(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  job_t *job = (job_t *)task;

  job->calls++;
  job->status = status;
  job->value = msg_int(result);
  job->order = completed++;
  job->thread = uv_thread_self();
  if (status == 0) {
    ck_assert_ptr_null(text);
  } else {
    ck_assert_ptr_null(result);
    ck_assert_ptr_nonnull(text);
  }
  snprintf(job->text, sizeof(job->text), "%s", text != NULL ? text : "");
  uva_msg_free(result);
}

static void on_closed(uva_tpool_t *p) {
  ck_assert_ptr_eq(p, &pool);
  closed++;
}

static void setup(void) {
  reset_actor_failure();
  atomic_store(&runs, 0);
  atomic_store(&saw_cancel, 0);
  atomic_store(&buffer_frees, 0);
  atomic_store(&seen_thread, NULL);
  atomic_store(&parked, NULL);
  completed = 0;
  closed = 0;
  gate_init();
  ck_assert_int_eq(uv_loop_init(&loop), 0);
}

static void teardown(void) {
  uv_cond_destroy(&gate_cond);
  uv_mutex_destroy(&gate_lock);
}

static uva_tpool_options_t opts_threads(unsigned int threads) {
  uva_tpool_options_t o;

  memset(&o, 0, sizeof(o));
  o.max_threads = threads;
  return o;
}

static void submit(job_t *job, uva_tpool_fn fn, int64_t value, const uva_task_options_t *options) {
  uva_msg_t *arg = int_msg(value);

  memset(job, 0, sizeof(*job));
  ck_assert_int_eq(uva_tpool_submit(&pool, &job->task, fn, arg, options, on_job), 0);
}

/* Closes the pool (draining), runs the loop until the close callback, and closes the loop. */
static void finish(unsigned int flags) {
  ck_assert_int_eq(uva_tpool_close(&pool, flags, on_closed), 0);
  ck_assert(run_until(&loop, &closed, 1));
  ck_assert_int_eq(closed, 1);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}

static uva_tpool_stats_t stats_of(void) {
  uva_tpool_stats_t s;

  ck_assert_int_eq(uva_tpool_stats(&pool, &s), 0);
  return s;
}

/* ---- results ------------------------------------------------------------------------------------- */

START_TEST(test_results_on_the_loop) {
  uva_tpool_options_t o = opts_threads(2);
  uv_thread_t me = uv_thread_self();
  job_t jobs[20];
  int i;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  ck_assert_uint_eq(stats_of().threads, 2); /* min_threads 0 means max_threads: started at init */
  for (i = 0; i < 20; i++)
    submit(&jobs[i], fn_square, i, NULL);
  ck_assert(run_until(&loop, &completed, 20));
  for (i = 0; i < 20; i++) {
    ck_assert_int_eq(jobs[i].calls, 1);
    ck_assert_int_eq(jobs[i].status, 0);
    ck_assert_int_eq(jobs[i].value, i * i);
    ck_assert(uv_thread_equal(&jobs[i].thread, &me));
  }
  ck_assert_int_eq(atomic_load(&runs), 20);
  ck_assert_uint_eq(stats_of().completed, 20);
  finish(0);
}
END_TEST

/* An idle pool does not keep its loop alive; a task does, until its callback. */
START_TEST(test_tasks_keep_the_loop_alive) {
  uva_tpool_options_t o = opts_threads(1);
  job_t job;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  submit(&job, fn_square, 3, NULL);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(job.calls, 1);
  ck_assert_int_eq(job.value, 9);
  finish(0);
}
END_TEST

static int fn_tag_thread(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  static uv_thread_t thread;
  char name[16] = "";

  (void)ctx;
  (void)arg;
  thread = uv_thread_self();
  atomic_store(&seen_thread, &thread);
  pthread_getname_np(pthread_self(), name, sizeof(name));
  ACTOR_CHECK(strcmp(name, "squares-1") == 0);
  *result = NULL;
  return 0;
}

START_TEST(test_runs_on_a_named_worker_thread) {
  uva_tpool_options_t o = opts_threads(1);
  uv_thread_t me = uv_thread_self();
  job_t job;

  o.name = "squares";
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&job, fn_tag_thread, 0, NULL);
  ck_assert(run_until(&loop, &completed, 1));
  ck_assert_int_eq(job.status, 0);
  ck_assert_int_eq(job.value, INT64_MIN); /* no result: NULL */
  ck_assert(!uv_thread_equal(atomic_load(&seen_thread), &me));
  finish(0);
}
END_TEST

/* ---- moved buffers: in and out without a copy ------------------------------------------------------ */

static void *moved_in;

/* Takes the buffer out of [buffer] and moves it into its result. */
static int fn_pass_buffer(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  msgpack_object obj;
  uva_free_cb free_cb;
  void *data;
  size_t len;

  (void)ctx;
  ACTOR_CHECK(uva_msg_object(arg, &obj) == 0 && obj.type == MSGPACK_OBJECT_ARRAY);
  ACTOR_CHECK(uva_msg_take_buffer(arg, &obj.via.array.ptr[0], &data, &len, &free_cb) == 0);
  ACTOR_CHECK(data == moved_in && len == 1 << 20);
  ACTOR_CHECK(uva_msg_new(result) == 0);
  msgpack_pack_array(uva_msg_packer(*result), 1);
  ACTOR_CHECK(uva_msg_pack_buffer(*result, data, len, free_cb) == 0);
  return 0;
}

static void *moved_out;

static void on_buffer(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  msgpack_object obj;
  size_t len;

  (void)text;
  ck_assert_int_eq(status, 0);
  ck_assert_int_eq(uva_msg_object(result, &obj), 0);
  ck_assert_int_eq(uva_msg_take_buffer(result, &obj.via.array.ptr[0], &moved_out, &len, NULL), 0);
  uva_msg_free(result);
  ((job_t *)task)->calls++;
  completed++;
}

START_TEST(test_moved_buffer_in_and_out_without_copy) {
  uva_tpool_options_t o = opts_threads(1);
  uva_msg_t *arg;
  job_t job;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  moved_in = malloc(1 << 20);
  ck_assert_ptr_nonnull(moved_in);
  ck_assert_int_eq(uva_msg_new(&arg), 0);
  msgpack_pack_array(uva_msg_packer(arg), 1);
  ck_assert_int_eq(uva_msg_pack_buffer(arg, moved_in, 1 << 20, counting_free), 0);
  memset(&job, 0, sizeof(job));
  ck_assert_int_eq(uva_tpool_submit(&pool, &job.task, fn_pass_buffer, arg, NULL, on_buffer), 0);
  ck_assert(run_until(&loop, &completed, 1));
  ck_assert_ptr_eq(moved_out, moved_in); /* the same memory came back: nothing was copied */
  counting_free(moved_out);
  ck_assert_int_eq(atomic_load(&buffer_frees), 1);
  finish(0);
}
END_TEST

/* A task failed by the pool frees what its argument carries, once. */
START_TEST(test_argument_freed_once) {
  uva_tpool_options_t o = opts_threads(1);
  uva_msg_t *arg;
  job_t job;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&job, fn_gate, 0, NULL); /* the worker is busy: the next one waits in the queue */
  ck_assert_int_eq(uva_msg_new(&arg), 0);
  ck_assert_int_eq(uva_msg_pack_buffer(arg, malloc(16), 16, counting_free), 0);
  job_t cancelled;
  memset(&cancelled, 0, sizeof(cancelled));
  ck_assert_int_eq(uva_tpool_submit(&pool, &cancelled.task, fn_square, arg, NULL, on_job), 0);
  ck_assert_int_eq(uva_tpool_cancel(&cancelled.task), 0);
  ck_assert(run_until(&loop, &completed, 1));
  ck_assert_int_eq(cancelled.status, UV_ECANCELED);
  ck_assert_int_eq(atomic_load(&buffer_frees), 1);
  gate_open();
  ck_assert(run_until(&loop, &completed, 2));
  ck_assert_int_eq(job.status, 0);
  ck_assert_int_eq(job.value, 0); /* the argument itself came back */
  finish(0);
}
END_TEST

/* ---- failures ------------------------------------------------------------------------------------ */

static int fn_fail_text(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)arg;
  *result = int_msg(5); /* freed: a failed task has no result */
  return uva_tpool_ctx_fail(ctx, UV_EIO, "disk on fire");
}

static int fn_fail_plain(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)ctx;
  (void)arg;
  (void)result;
  return UV_ENOENT;
}

static int fn_reserved(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)ctx;
  (void)arg;
  (void)result;
  return 2;
}

static int fn_malformed(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)ctx;
  (void)arg;
  ACTOR_CHECK(uva_msg_new(result) == 0);
  msgpack_pack_array(uva_msg_packer(*result), 2); /* promises two elements, has none */
  return 0;
}

static int fn_fail_checks(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)arg;
  (void)result;
  ACTOR_CHECK(uva_tpool_ctx_fail(ctx, 0, "x") == UV_EINVAL);
  ACTOR_CHECK(uva_tpool_ctx_fail(ctx, UV_EIO, NULL) == UV_EINVAL);
  ACTOR_CHECK(uva_tpool_ctx_fail(NULL, UV_EIO, "x") == UV_EINVAL);
  ACTOR_CHECK(uva_tpool_ctx_fail(ctx, UV_EIO, "first") == UV_EIO);
  return uva_tpool_ctx_fail(ctx, UV_EPROTO, "second");
}

START_TEST(test_failures_carry_code_and_text) {
  uva_tpool_options_t o = opts_threads(2);
  job_t jobs[5];

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&jobs[0], fn_fail_text, 0, NULL);
  submit(&jobs[1], fn_fail_plain, 0, NULL);
  submit(&jobs[2], fn_reserved, 0, NULL);
  submit(&jobs[3], fn_malformed, 0, NULL);
  submit(&jobs[4], fn_fail_checks, 0, NULL);
  ck_assert(run_until(&loop, &completed, 5));
  ck_assert_int_eq(jobs[0].status, UV_EIO);
  ck_assert_str_eq(jobs[0].text, "disk on fire");
  ck_assert_int_eq(jobs[0].value, INT64_MIN);
  ck_assert_int_eq(jobs[1].status, UV_ENOENT);
  ck_assert_str_eq(jobs[1].text, uva_strerror(UV_ENOENT));
  ck_assert_int_eq(jobs[2].status, UV_EINVAL);
  ck_assert_ptr_nonnull(strstr(jobs[2].text, "reserved"));
  ck_assert_int_eq(jobs[3].status, UVA_ETRUNC);
  ck_assert_ptr_nonnull(strstr(jobs[3].text, "malformed"));
  ck_assert_int_eq(jobs[4].status, UV_EPROTO);
  ck_assert_str_eq(jobs[4].text, "second");
  ck_assert_uint_eq(stats_of().failed, 5);
  finish(0);
}
END_TEST

/* ---- asynchronous tasks -------------------------------------------------------------------------- */

typedef struct {
  uv_timer_t timer;
  uva_tpool_ctx_t *ctx;
  int64_t value;
} later_t;

static void on_later_closed(uv_handle_t *handle) {
  free(handle->data);
}

static void on_later(uv_timer_t *timer) {
  later_t *later = timer->data;

  ACTOR_CHECK(uva_tpool_ctx_done(later->ctx, 1, NULL) == UV_EINVAL);
  ACTOR_CHECK(uva_tpool_ctx_done(later->ctx, 0, int_msg(later->value + 1)) == 0);
  ACTOR_CHECK(uva_tpool_ctx_done(later->ctx, 0, NULL) == UV_EINVAL); /* once */
  uv_close((uv_handle_t *)timer, on_later_closed);
}

static int fn_later(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  later_t *later = malloc(sizeof(*later));

  (void)result;
  ACTOR_CHECK(later != NULL);
  ACTOR_CHECK(uva_tpool_ctx_done(ctx, 0, NULL) == UV_EINVAL); /* not pending yet */
  later->ctx = ctx;
  later->value = msg_int(arg);
  later->timer.data = later;
  ACTOR_CHECK(uv_timer_init(uva_tpool_ctx_loop(ctx), &later->timer) == 0);
  ACTOR_CHECK(uv_timer_start(&later->timer, on_later, 1, 0) == 0);
  return UVA_TPOOL_PENDING;
}

START_TEST(test_async_tasks_complete_later) {
  uva_tpool_options_t o = opts_threads(1);
  job_t jobs[6];
  int i;

  o.per_thread = 3; /* one worker holds three pending tasks at once */
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  for (i = 0; i < 6; i++)
    submit(&jobs[i], fn_later, i, NULL);
  ck_assert(run_until(&loop, &completed, 6));
  for (i = 0; i < 6; i++) {
    ck_assert_int_eq(jobs[i].status, 0);
    ck_assert_int_eq(jobs[i].value, i + 1);
  }
  ck_assert_uint_eq(stats_of().threads, 1);
  finish(0);
}
END_TEST

static int fn_park(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)arg;
  (void)result;
  atomic_store(&parked, ctx);
  return UVA_TPOOL_PENDING;
}

static void done_from_here(void *arg) {
  (void)arg;
  ACTOR_CHECK(uva_tpool_ctx_done(atomic_load(&parked), 0, NULL) == UV_EPERM);
}

/* uva_tpool_ctx_done() from another thread is refused; the parked task completes with the close. */
START_TEST(test_done_only_on_the_worker_thread) {
  uva_tpool_options_t o = opts_threads(1);
  uv_thread_t thread;
  job_t job;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&job, fn_park, 0, NULL);
  while (atomic_load(&parked) == NULL) /* the function ran and returned UVA_TPOOL_PENDING */
    uv_sleep(1);
  ck_assert_int_eq(uv_thread_create(&thread, done_from_here, NULL), 0);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  ck_assert_int_eq(uva_tpool_close(&pool, UVA_TPOOL_CLOSE_CANCEL, on_closed), 0);
  ck_assert(run_until(&loop, &closed, 1));
  ck_assert_int_eq(job.status, UV_ECANCELED);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

/* ---- priorities ---------------------------------------------------------------------------------- */

START_TEST(test_priority_then_fifo) {
  static const int prio[] = {0, 1, -1, 7, 0, 1, -7, 7, 0};
  uva_tpool_options_t o = opts_threads(1);
  uva_task_options_t t;
  job_t blocker;
  job_t jobs[9];
  int i;
  int j;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&blocker, fn_gate, 100, NULL);
  gate_wait_for(1); /* it runs: the others queue behind it */
  for (i = 0; i < 9; i++) {
    memset(&t, 0, sizeof(t));
    t.priority = prio[i];
    submit(&jobs[i], fn_square, i, &t);
  }
  ck_assert_uint_eq(stats_of().queued, 9);
  gate_open();
  ck_assert(run_until(&loop, &completed, 10));
  /* Higher first; among equals, the order of submission. */
  for (i = 0; i < 9; i++)
    for (j = 0; j < 9; j++)
      if (prio[i] > prio[j] || (prio[i] == prio[j] && i < j))
        ck_assert_int_lt(jobs[i].order, jobs[j].order);
  finish(0);
}
END_TEST

/* ---- bounded queue ------------------------------------------------------------------------------- */

static job_t room_jobs[4];
static int room_calls;
static int room_submit_err;

static void on_room(uva_tpool_t *p) {
  uva_msg_t *arg = int_msg(2);

  room_calls++;
  ck_assert_uint_lt(stats_of().queued, 1);
  memset(&room_jobs[2], 0, sizeof(room_jobs[2]));
  room_submit_err = uva_tpool_submit(p, &room_jobs[2].task, fn_square, arg, NULL, on_job);
}

/* B's callback fills the queue again before the room callback could run: it must wait for real room. */
static void on_b_refill(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  on_job(task, status, result, text);
  memset(&room_jobs[3], 0, sizeof(room_jobs[3]));
  ck_assert_int_eq(uva_tpool_submit(&pool, &room_jobs[3].task, fn_square, int_msg(3), NULL, on_job), 0);
}

START_TEST(test_room_again_means_room) {
  uva_tpool_options_t o = opts_threads(1);
  uva_msg_t *refused = int_msg(9);
  job_t blocker;
  job_t c;

  o.max_queue = 1;
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&blocker, fn_gate, 1, NULL);
  gate_wait_for(1); /* it runs: it is not in the queue */
  ck_assert_int_eq(uva_tpool_submit(&pool, &room_jobs[1].task, fn_square, int_msg(1), NULL, on_b_refill), 0);
  ck_assert_int_eq(uva_tpool_submit(&pool, &c.task, fn_square, refused, NULL, on_job), UV_EAGAIN);
  ck_assert_int_eq(msg_int(refused), 9); /* still ours, unchanged */
  uva_msg_free(refused);
  ck_assert_int_eq(uva_tpool_on_room(&pool, on_room), 0);
  ck_assert_int_eq(uva_tpool_cancel(&room_jobs[1].task), 0);
  ck_assert(run_until(&loop, &completed, 1)); /* B cancelled; its callback queued D */
  ck_assert_int_eq(room_jobs[1].status, UV_ECANCELED);
  ck_assert_int_eq(room_calls, 0); /* the queue is full again: no room */
  ck_assert_uint_eq(stats_of().queued, 1);
  gate_open();
  ck_assert(run_until(&loop, &completed, 4)); /* blocker, D, then the room callback's task */
  ck_assert_int_eq(room_calls, 1);
  ck_assert_int_eq(room_submit_err, 0);
  ck_assert_int_eq(room_jobs[3].value, 9);
  ck_assert_int_eq(room_jobs[2].value, 4);
  finish(0);
}
END_TEST

/* A worker that cannot be started does not fail the submit, whose UV_EAGAIN means a full queue and nothing
 * else (uva_tpool_on_room() then waits for room, which a start failure is not): the task completes with the
 * start's error, on the next turn. Each submit tries one start. No thread can have the stack asked for (an
 * actor may ask for it: it is not within 64 KiB of SIZE_MAX). */
START_TEST(test_start_failure_fails_the_task_not_the_submit) {
  uva_tpool_options_t o = opts_threads(1);
  uva_tpool_stats_t s;
  job_t jobs[2];
  int i;

  o.min_threads = UVA_TPOOL_MIN_NONE;
  o.stack_size = SIZE_MAX - 65536;
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  for (i = 0; i < 2; i++) {
    submit(&jobs[i], fn_square, i, NULL);
    ck_assert_int_eq(jobs[i].calls, 0); /* never inside the call */
    ck_assert(run_until(&loop, &completed, i + 1));
    ck_assert_int_lt(jobs[i].status, 0); /* the system's (UV_EAGAIN; valgrind says UV_EINVAL) */
    ck_assert_str_eq(jobs[i].text, "no worker thread could be started");
  }
  s = stats_of();
  ck_assert_uint_eq(s.threads, 0);
  ck_assert_uint_eq(s.submitted, 2);
  ck_assert_uint_eq(s.failed, 2);
  ck_assert_int_eq(atomic_load(&runs), 0);
  finish(0);
}
END_TEST

/* A submit that fails changes nothing: the task's bytes, all of them, and its argument stay as they were. */
static void submit_refused(const uva_task_options_t *options, uva_tpool_fn fn, int expected) {
  unsigned char before[sizeof(uva_task_t)];
  uva_msg_t *arg = int_msg(7);
  uva_task_t task;

  memset(&task, 0xab, sizeof(task));
  memcpy(before, &task, sizeof(task));
  ck_assert_int_eq(uva_tpool_submit(&pool, &task, fn, arg, options, on_job), expected);
  ck_assert(memcmp(before, &task, sizeof(task)) == 0);
  ck_assert_int_eq(msg_int(arg), 7);
  uva_msg_free(arg);
}

START_TEST(test_refused_submit_leaves_the_task_unchanged) {
  uva_tpool_options_t o = opts_threads(1);
  uva_task_options_t bad = {.priority = UVA_TPOOL_PRIORITY_MAX + 1};
  job_t blocker;
  job_t queued;

  o.max_queue = 1;
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&blocker, fn_gate, 1, NULL);
  gate_wait_for(1);
  submit(&queued, fn_square, 2, NULL);
  submit_refused(&bad, fn_square, UV_EINVAL);
  submit_refused(NULL, NULL, UV_EINVAL);
  submit_refused(NULL, fn_square, UV_EAGAIN);
  ck_assert_int_eq(uva_tpool_close(&pool, 0, on_closed), 0);
  submit_refused(NULL, fn_square, UV_EPIPE);
  gate_open();
  ck_assert(run_until(&loop, &closed, 1));
  submit_refused(NULL, fn_square, UV_EBADF);
  ck_assert_int_eq(queued.value, 4);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

/* ---- cancellation -------------------------------------------------------------------------------- */

START_TEST(test_cancel_queued_never_runs) {
  uva_tpool_options_t o = opts_threads(1);
  job_t blocker;
  job_t job;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&blocker, fn_gate, 1, NULL);
  submit(&job, fn_square, 4, NULL);
  ck_assert_int_eq(uva_tpool_cancel(&job.task), 0);
  ck_assert_int_eq(job.calls, 0); /* never inside the call */
  ck_assert_int_eq(uva_tpool_cancel(&job.task), UV_EALREADY);
  ck_assert(run_until(&loop, &completed, 1));
  ck_assert_int_eq(job.calls, 1);
  ck_assert_int_eq(job.status, UV_ECANCELED);
  ck_assert_int_eq(uva_tpool_cancel(&job.task), UV_EALREADY);
  gate_open();
  ck_assert(run_until(&loop, &completed, 2));
  ck_assert_int_eq(atomic_load(&runs), 1); /* only the blocker ran */
  ck_assert_uint_eq(stats_of().cancelled, 1);
  finish(0);
}
END_TEST

START_TEST(test_cancel_running_sets_the_flag) {
  uva_tpool_options_t o = opts_threads(1);
  uva_tpool_stats_t s;
  job_t job;
  job_t next;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&job, fn_until_cancelled, 0, NULL);
  gate_wait_for(1);
  gate_open();
  ck_assert_int_eq(uva_tpool_cancel(&job.task), 0);
  ck_assert(run_until(&loop, &completed, 1));
  ck_assert_int_eq(job.status, UV_ECANCELED);
  ck_assert_int_eq(job.value, INT64_MIN); /* its result is discarded */
  submit(&next, fn_square, 5, NULL);      /* the worker is free once the function returns */
  ck_assert(run_until(&loop, &completed, 2));
  ck_assert_int_eq(next.value, 25);
  ck_assert_int_eq(atomic_load(&saw_cancel), 1);
  s = stats_of();
  ck_assert_uint_eq(s.cancelled, 1);
  ck_assert_uint_eq(s.late, 1);
  ck_assert_uint_eq(s.running, 0);
  finish(0);
}
END_TEST

/* ---- run timeouts -------------------------------------------------------------------------------- */

/* The task cannot end before its timeout fires: it waits at the gate, which opens only after. */
START_TEST(test_timeout_completes_at_once_slot_stays_busy) {
  uva_tpool_options_t o = opts_threads(1);
  uva_task_options_t t = {.timeout_ms = 5};
  uva_tpool_stats_t s;
  job_t job;
  job_t next;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&job, fn_gate, 1, &t);
  ck_assert(run_until(&loop, &completed, 1));
  ck_assert_int_eq(job.status, UV_ETIMEDOUT);
  s = stats_of();
  ck_assert_uint_eq(s.running, 1); /* the function still runs: its slot is busy */
  ck_assert_uint_eq(s.busy_threads, 1);
  submit(&next, fn_square, 6, NULL);
  ck_assert_uint_eq(stats_of().queued, 1); /* waits for the slot */
  gate_open();
  ck_assert(run_until(&loop, &completed, 2));
  ck_assert_int_eq(next.value, 36);
  s = stats_of();
  ck_assert_uint_eq(s.timed_out, 1);
  ck_assert_uint_eq(s.late, 1);
  ck_assert_uint_eq(s.running, 0);
  finish(0);
}
END_TEST

/* Every run timeout is accepted; one past what the clock can count is none. The largest used to wrap its
 * deadline and expire at once. The task with a 1 ms timeout is seen to expire while the others run on: a
 * deadline that wrapped would have expired by then too. */
START_TEST(test_timeout_past_the_clock_is_none) {
  static const uint64_t timeouts[] = {UINT64_MAX, 18446744073709, INT64_MAX / 1000000 + 1,
                                      INT64_MAX / 1000000, 1};
  uva_tpool_options_t o = opts_threads(5);
  uva_task_options_t t;
  job_t jobs[5];
  int i;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  for (i = 0; i < 5; i++) {
    memset(&t, 0, sizeof(t));
    t.timeout_ms = timeouts[i];
    submit(&jobs[i], fn_gate, i, &t);
    gate_wait_for(i + 1); /* it runs: its clock started */
  }
  ck_assert(run_until(&loop, &completed, 1));
  ck_assert_int_eq(jobs[4].status, UV_ETIMEDOUT);
  for (i = 0; i < 4; i++)
    ck_assert_int_eq(jobs[i].calls, 0);
  gate_open();
  ck_assert(run_until(&loop, &completed, 5));
  for (i = 0; i < 4; i++) {
    ck_assert_int_eq(jobs[i].status, 0);
    ck_assert_int_eq(jobs[i].value, i);
  }
  finish(0);
}
END_TEST

static void on_wait_over(uv_timer_t *timer) {
  (void)timer;
  gate_open();
}

/* The clock starts when the function starts: a task queued far longer than its timeout still runs. */
START_TEST(test_timeout_not_counted_while_queued) {
  uva_tpool_options_t o = opts_threads(1);
  uva_task_options_t t = {.timeout_ms = 250};
  uv_timer_t timer;
  job_t blocker;
  job_t job;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&blocker, fn_gate, 1, NULL);
  submit(&job, fn_square, 7, &t);
  ck_assert_int_eq(uv_timer_init(&loop, &timer), 0);
  ck_assert_int_eq(uv_timer_start(&timer, on_wait_over, 600, 0), 0);
  ck_assert(run_until(&loop, &completed, 2));
  ck_assert_int_eq(job.status, 0);
  ck_assert_int_eq(job.value, 49);
  uv_close((uv_handle_t *)&timer, NULL);
  finish(0);
}
END_TEST

/* ---- workers that end ---------------------------------------------------------------------------- */

static int fn_self_fail(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)arg;
  (void)result;
  ACTOR_CHECK(gate_pass() == 0);
  return uva_self_fail(uva_tpool_ctx_self(ctx), 3, "poisoned input");
}

static int fn_self_exit_clean(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  ACTOR_CHECK(uva_self_exit(uva_tpool_ctx_self(ctx), 0) == 0);
  *result = arg;
  return 0;
}

/* The worker ends: the task that ended it gets the exit code and the text; the one it held but never
 * started runs elsewhere; the pool replaces the worker. */
START_TEST(test_worker_that_fails_is_replaced) {
  uva_tpool_options_t o = opts_threads(1);
  uva_tpool_stats_t s;
  job_t bad;
  job_t innocent;
  job_t after;

  o.per_thread = 2;
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&bad, fn_self_fail, 0, NULL);
  submit(&innocent, fn_square, 3, NULL); /* waits behind it, on the same worker */
  gate_open();
  ck_assert(run_until(&loop, &completed, 2));
  ck_assert_int_eq(bad.status, 3);
  ck_assert_ptr_nonnull(strstr(bad.text, "poisoned input"));
  ck_assert_int_eq(innocent.calls, 1);
  ck_assert_int_eq(innocent.status, 0);
  ck_assert_int_eq(innocent.value, 9);
  submit(&after, fn_square, 4, NULL);
  ck_assert(run_until(&loop, &completed, 3));
  ck_assert_int_eq(after.value, 16);
  s = stats_of();
  ck_assert_uint_eq(s.worker_deaths, 1);
  ck_assert_uint_eq(s.threads, 1);
  ck_assert_uint_eq(s.running, 0);
  finish(0);
}
END_TEST

START_TEST(test_worker_that_exits_cleanly_keeps_its_result) {
  uva_tpool_options_t o = opts_threads(1);
  job_t job;
  job_t after;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&job, fn_self_exit_clean, 8, NULL);
  ck_assert(run_until(&loop, &completed, 1));
  ck_assert_int_eq(job.status, 0);
  ck_assert_int_eq(job.value, 8);
  submit(&after, fn_square, 2, NULL);
  ck_assert(run_until(&loop, &completed, 2));
  ck_assert_int_eq(after.value, 4);
  finish(0);
}
END_TEST

static int fn_exit_later(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)arg;
  (void)result;
  ACTOR_CHECK(uva_self_exit(uva_tpool_ctx_self(ctx), 0) == 0);
  return UVA_TPOOL_PENDING;
}

/* A task pending when its worker ends (and the one that ended it) complete once, with an error. */
START_TEST(test_pending_tasks_fail_when_the_worker_ends) {
  uva_tpool_options_t o = opts_threads(1);
  job_t parked_job;
  job_t ender;

  o.per_thread = 2;
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&parked_job, fn_park, 0, NULL);
  submit(&ender, fn_exit_later, 0, NULL);
  ck_assert(run_until(&loop, &completed, 2));
  ck_assert_int_eq(parked_job.calls, 1);
  ck_assert_int_eq(parked_job.status, UV_ECONNRESET);
  ck_assert_int_eq(ender.calls, 1);
  ck_assert_int_eq(ender.status, UV_ECONNRESET);
  ck_assert_uint_eq(stats_of().running, 0);
  finish(0);
}
END_TEST

/* ---- thread hooks -------------------------------------------------------------------------------- */

static atomic_int inits;
static atomic_int exits;

static int hook_init(uv_loop_t *wloop, void *arg, void **state) {
  int *scratch = malloc(sizeof(int));

  ACTOR_CHECK(wloop != NULL && arg == &inits);
  if (scratch == NULL)
    return UV_ENOMEM;
  *scratch = 40 + atomic_fetch_add(&inits, 1);
  *state = scratch;
  return 0;
}

static void hook_exit(uv_loop_t *wloop, void *arg, void *state) {
  ACTOR_CHECK(wloop != NULL && arg == &inits);
  free(state);
  atomic_fetch_add(&exits, 1);
}

static int fn_state(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  int *scratch = uva_tpool_ctx_state(ctx);

  (void)arg;
  ACTOR_CHECK(uva_tpool_ctx_loop(ctx) != NULL && uva_tpool_ctx_self(ctx) != NULL);
  *result = int_msg(*scratch);
  return 0;
}

START_TEST(test_thread_hooks_and_state) {
  uva_tpool_options_t o = opts_threads(2);
  job_t jobs[4];
  int i;

  atomic_store(&inits, 0);
  atomic_store(&exits, 0);
  o.thread_init = hook_init;
  o.thread_exit = hook_exit;
  o.arg = &inits;
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  for (i = 0; i < 4; i++)
    submit(&jobs[i], fn_state, 0, NULL);
  ck_assert(run_until(&loop, &completed, 4));
  for (i = 0; i < 4; i++)
    ck_assert(jobs[i].value == 40 || jobs[i].value == 41);
  finish(0);
  ck_assert_int_eq(atomic_load(&inits), 2);
  ck_assert_int_eq(atomic_load(&exits), 2);
}
END_TEST

static int hook_fail(uv_loop_t *wloop, void *arg, void **state) {
  (void)wloop;
  (void)arg;
  (void)state;
  return UV_EACCES;
}

START_TEST(test_thread_init_failure_fails_its_tasks) {
  uva_tpool_options_t o = opts_threads(1);
  job_t job;

  o.thread_init = hook_fail;
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&job, fn_square, 1, NULL);
  ck_assert(run_until(&loop, &completed, 1));
  ck_assert_int_eq(job.status, UV_EACCES);
  ck_assert_ptr_nonnull(strstr(job.text, "thread_init"));
  ck_assert_int_eq(atomic_load(&runs), 0);
  finish(0);
}
END_TEST

/* ---- sizing -------------------------------------------------------------------------------------- */

/* Runs the loop until the pool has want threads (looked at every millisecond), under the hang guard. */
static void on_poll_threads(uv_timer_t *timer) {
  (void)timer;
}

static void wait_threads(int want) {
  uv_timer_t timer;
  int reached = 0;
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;

  ck_assert_int_eq(uv_timer_init(&loop, &timer), 0);
  ck_assert_int_eq(uv_timer_start(&timer, on_poll_threads, 1, 1), 0);
  while (uv_hrtime() < deadline && !(reached = (int)stats_of().threads == want))
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&timer, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  ck_assert_msg(reached, "the pool has %u threads, not %d", stats_of().threads, want);
}

/* Runs the loop until the pool has counted at least want late results. */
static void wait_stats_late(uint64_t want) {
  uv_timer_t timer;
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;

  ck_assert_int_eq(uv_timer_init(&loop, &timer), 0);
  ck_assert_int_eq(uv_timer_start(&timer, on_poll_threads, 1, 1), 0);
  while (uv_hrtime() < deadline && stats_of().late < want)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&timer, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  ck_assert_uint_ge(stats_of().late, want);
}

/* Hooks that count their calls: one that always fails, one that lets only its first call through. */
static int hook_fail_counted(uv_loop_t *wloop, void *arg, void **state) {
  (void)wloop;
  (void)arg;
  (void)state;
  atomic_fetch_add(&inits, 1);
  return UV_EACCES;
}

static int hook_first_only(uv_loop_t *wloop, void *arg, void **state) {
  (void)wloop;
  (void)arg;
  (void)state;
  return atomic_fetch_add(&inits, 1) == 0 ? 0 : UV_EACCES;
}

/* With several workers whose starts fail, a failed start is not retried for the tasks already queued (it
 * would fail again, as fast as threads start): each worker made at init starts once, the queued tasks fail
 * with the hook's error once none is left, and the next submit tries one start again. */
START_TEST(test_failing_starts_are_not_retried_in_a_loop) {
  uva_tpool_options_t o = opts_threads(3);
  job_t jobs[6];
  int i;

  atomic_store(&inits, 0);
  o.thread_init = hook_fail_counted;
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  for (i = 0; i < 5; i++)
    submit(&jobs[i], fn_square, i, NULL);
  ck_assert(run_until(&loop, &completed, 5));
  for (i = 0; i < 5; i++)
    ck_assert_int_eq(jobs[i].status, UV_EACCES);
  ck_assert_int_eq(atomic_load(&inits), 3);
  ck_assert_uint_eq(stats_of().threads, 0);
  submit(&jobs[5], fn_square, 5, NULL); /* new demand: one start, which fails */
  ck_assert(run_until(&loop, &completed, 6));
  ck_assert_int_eq(jobs[5].status, UV_EACCES);
  ck_assert_int_eq(atomic_load(&inits), 4);
  ck_assert_int_eq(atomic_load(&runs), 0);
  finish(0);
}
END_TEST

/* Only the first worker starts: the tasks run on it, and the two that failed are not replaced meanwhile. */
START_TEST(test_tasks_run_on_the_worker_that_started) {
  uva_tpool_options_t o = opts_threads(3);
  job_t jobs[10];
  int i;

  atomic_store(&inits, 0);
  o.thread_init = hook_first_only;
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  for (i = 0; i < 10; i++)
    submit(&jobs[i], fn_square, i, NULL);
  ck_assert(run_until(&loop, &completed, 10));
  for (i = 0; i < 10; i++)
    ck_assert_int_eq(jobs[i].value, i * i);
  wait_threads(1); /* the two that failed have ended */
  ck_assert_int_eq(atomic_load(&inits), 3);
  ck_assert_uint_eq(stats_of().worker_deaths, 2);
  finish(0);
}
END_TEST

START_TEST(test_grows_to_max_and_shrinks_to_min) {
  uva_tpool_options_t o = opts_threads(3);
  job_t jobs[3];
  int i;

  o.min_threads = 1;
  o.idle_ms = 20;
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  ck_assert_uint_eq(stats_of().threads, 1);
  for (i = 0; i < 3; i++)
    submit(&jobs[i], fn_gate, i, NULL);
  ck_assert_uint_eq(stats_of().threads, 3); /* started on demand, up to max */
  gate_wait_for(3);                         /* all three run at once */
  gate_open();
  ck_assert(run_until(&loop, &completed, 3));
  wait_threads(1); /* the two above min end after idle_ms */
  ck_assert_uint_eq(stats_of().worker_deaths, 0);
  finish(0);
}
END_TEST

START_TEST(test_min_none_starts_on_demand) {
  uva_tpool_options_t o = opts_threads(2);
  job_t job;

  o.min_threads = UVA_TPOOL_MIN_NONE;
  o.idle_ms = 10;
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  ck_assert_uint_eq(stats_of().threads, 0);
  submit(&job, fn_square, 3, NULL);
  ck_assert_uint_eq(stats_of().threads, 1);
  ck_assert(run_until(&loop, &completed, 1));
  wait_threads(0);
  finish(0);
}
END_TEST

/* ---- stats --------------------------------------------------------------------------------------- */

/* One worker, so the order is fixed and every count is exact: six tasks run and complete, the seventh
 * times out at the gate (its function returns only after the test saw the timeout, so its run time is
 * at least its timeout), the eighth is cancelled while it waits behind it and never runs. */
START_TEST(test_stats_counters_summaries_reset) {
  uva_tpool_options_t o = opts_threads(1);
  uva_task_options_t t = {.timeout_ms = 5};
  uva_tpool_stats_t before;
  uva_tpool_stats_t s;
  job_t jobs[8];
  double u;
  int i;

  o.flags = UVA_TPOOL_STATS;
  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  before = stats_of();
  for (i = 0; i < 5; i++)
    submit(&jobs[i], fn_square, i, NULL);
  submit(&jobs[5], fn_fail_plain, 0, NULL);
  submit(&jobs[6], fn_gate, 0, &t); /* times out, and holds the worker at the gate */
  ck_assert(run_until(&loop, &completed, 7));
  submit(&jobs[7], fn_square, 1, NULL); /* queued behind the gated one */
  ck_assert_uint_eq(stats_of().queued, 1);
  ck_assert_int_eq(uva_tpool_cancel(&jobs[7].task), 0);
  ck_assert(run_until(&loop, &completed, 8));
  gate_open();
  wait_stats_late(1); /* the timed-out task's result, discarded */
  s = stats_of();
  ck_assert_uint_eq(s.submitted, 8);
  ck_assert_uint_eq(s.completed, 5);
  ck_assert_uint_eq(s.failed, 1);
  ck_assert_uint_eq(s.timed_out, 1);
  ck_assert_uint_eq(s.cancelled, 1);
  ck_assert_uint_eq(s.late, 1);
  ck_assert_uint_eq(s.running, 0);
  ck_assert_uint_eq(s.run.count, 7); /* every function that ran */
  ck_assert_uint_eq(s.wait.count, 7);
  ck_assert_int_eq(atomic_load(&runs), 6);
  ck_assert_uint_ge(s.run.max_ns, s.run.p99_ns);
  ck_assert_uint_ge(s.run.p99_ns, s.run.p90_ns);
  ck_assert_uint_ge(s.run.p90_ns, s.run.p50_ns);
  ck_assert_uint_ge(s.run.max_ns, t.timeout_ms * 1000000); /* the gated one outlived its timeout */
  ck_assert_uint_gt(s.thread_ns, before.thread_ns);
  ck_assert_uint_gt(s.busy_ns, 0);
  u = uva_tpool_utilization(&before, &s);
  ck_assert(u > 0 && u <= 1);
  ck_assert(uva_tpool_utilization(&s, &before) == 0);
  ck_assert_int_eq(uva_tpool_stats_reset(&pool), 0);
  s = stats_of();
  ck_assert_uint_eq(s.submitted, 0);
  ck_assert_uint_eq(s.completed, 0);
  ck_assert_uint_eq(s.run.count, 0);
  ck_assert_uint_eq(s.threads, 1);
  ck_assert_uint_gt(s.thread_ns, 0); /* not reset */
  finish(0);
}
END_TEST

START_TEST(test_stats_off_costs_nothing) {
  uva_tpool_options_t o = opts_threads(1);
  uva_tpool_stats_t s;
  job_t job;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&job, fn_square, 2, NULL);
  ck_assert(run_until(&loop, &completed, 1));
  s = stats_of();
  ck_assert_uint_eq(s.completed, 1); /* counters are always kept */
  ck_assert_uint_eq(s.run.count, 0);
  ck_assert_uint_eq(s.busy_ns, 0);
  ck_assert_uint_eq(s.thread_ns, 0);
  finish(0);
}
END_TEST

/* ---- close --------------------------------------------------------------------------------------- */

static void on_job_after_close(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  on_job(task, status, result, text);
  ck_assert_int_eq(closed, 0); /* every task's callback comes before close_cb */
}

START_TEST(test_close_drains) {
  uva_tpool_options_t o = opts_threads(1);
  uva_msg_t *late = int_msg(1);
  job_t jobs[4];
  job_t refused;
  int i;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  for (i = 0; i < 4; i++) {
    memset(&jobs[i], 0, sizeof(jobs[i]));
    ck_assert_int_eq(uva_tpool_submit(&pool, &jobs[i].task, fn_square, int_msg(i), NULL, on_job_after_close),
                     0);
  }
  ck_assert_int_eq(uva_tpool_close(&pool, 0, on_closed), 0);
  ck_assert_int_eq(uva_tpool_close(&pool, 0, on_closed), UV_EALREADY);
  ck_assert_int_eq(uva_tpool_submit(&pool, &refused.task, fn_square, late, NULL, on_job), UV_EPIPE);
  ck_assert_int_eq(uva_tpool_on_room(&pool, on_room), UV_EPIPE);
  uva_msg_free(late);
  ck_assert(run_until(&loop, &closed, 1));
  for (i = 0; i < 4; i++) {
    ck_assert_int_eq(jobs[i].status, 0);
    ck_assert_int_eq(jobs[i].value, i * i);
  }
  ck_assert_int_eq(uva_tpool_close(&pool, 0, NULL), UV_EBADF);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

START_TEST(test_close_cancels) {
  uva_tpool_options_t o = opts_threads(1);
  job_t running;
  job_t queued[3];
  int i;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&running, fn_until_cancelled, 0, NULL);
  for (i = 0; i < 3; i++)
    submit(&queued[i], fn_square, i, NULL);
  gate_wait_for(1);
  gate_open();
  ck_assert_int_eq(uva_tpool_close(&pool, 0, on_closed), 0);
  ck_assert_int_eq(uva_tpool_close(&pool, UVA_TPOOL_CLOSE_CANCEL, on_closed), 0); /* made cancelling */
  ck_assert_int_eq(uva_tpool_close(&pool, UVA_TPOOL_CLOSE_CANCEL, on_closed), UV_EALREADY);
  ck_assert(run_until(&loop, &closed, 1));
  ck_assert_int_eq(running.status, UV_ECANCELED);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(queued[i].status, UV_ECANCELED);
  ck_assert_int_eq(atomic_load(&saw_cancel), 1);
  ck_assert_int_eq(atomic_load(&runs), 1);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

static void on_job_then_close(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  on_job(task, status, result, text);
  ck_assert_int_eq(uva_tpool_close(&pool, 0, on_closed), 0);
}

START_TEST(test_close_from_a_callback) {
  uva_tpool_options_t o = opts_threads(2);
  job_t job;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  memset(&job, 0, sizeof(job));
  ck_assert_int_eq(uva_tpool_submit(&pool, &job.task, fn_square, int_msg(3), NULL, on_job_then_close), 0);
  ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ck_assert_int_eq(closed, 1);
  ck_assert_int_eq(job.value, 9);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

/* ---- threads ------------------------------------------------------------------------------------- */

static int other_thread_results[4];

static void calls_from_elsewhere(void *arg) {
  uva_tpool_stats_t s;
  job_t *job = arg;

  other_thread_results[0] = uva_tpool_submit(&pool, &job->task, fn_square, NULL, NULL, on_job);
  other_thread_results[1] = uva_tpool_stats(&pool, &s);
  other_thread_results[2] = uva_tpool_close(&pool, 0, NULL);
  other_thread_results[3] = uva_tpool_cancel(&job[1].task);
}

START_TEST(test_loop_pool_belongs_to_its_thread) {
  uva_tpool_options_t o = opts_threads(1);
  uv_thread_t thread;
  job_t jobs[2];
  int i;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  submit(&jobs[1], fn_gate, 0, NULL);
  ck_assert_int_eq(uv_thread_create(&thread, calls_from_elsewhere, jobs), 0);
  ck_assert_int_eq(uv_thread_join(&thread), 0);
  for (i = 0; i < 4; i++)
    ck_assert_int_eq(other_thread_results[i], UV_EPERM);
  gate_open();
  ck_assert(run_until(&loop, &completed, 1));
  finish(0);
}
END_TEST

/* ---- a pool without a loop ----------------------------------------------------------------------- */

#define LOOPLESS_PER_THREAD 50

static void submit_and_wait(void *arg) {
  int base = *(int *)arg;
  uva_task_t tasks[LOOPLESS_PER_THREAD];
  uva_msg_t *result;
  char *text;
  int status;
  int i;

  for (i = 0; i < LOOPLESS_PER_THREAD; i++)
    ACTOR_CHECK(uva_tpool_submit(&pool, &tasks[i], fn_square, int_msg(base + i), NULL, NULL) == 0);
  for (i = 0; i < LOOPLESS_PER_THREAD; i++) {
    ACTOR_CHECK(uva_tpool_wait(&tasks[i], UVA_WAIT_FOREVER, &status, &result, &text) == 0);
    ACTOR_CHECK(status == 0 && text == NULL && msg_int(result) == (base + i) * (base + i));
    uva_msg_free(result);
    ACTOR_CHECK(uva_tpool_wait(&tasks[i], 0, NULL, NULL, NULL) == UV_EALREADY);
  }
}

static atomic_int loopless_callbacks;
static _Atomic(uv_thread_t *) callback_thread;

static void on_loopless_job(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  static uv_thread_t thread;

  (void)task;
  (void)text;
  ACTOR_CHECK(status == 0 && msg_int(result) == 16);
  thread = uv_thread_self();
  atomic_store(&callback_thread, &thread);
  uva_msg_free(result);
  atomic_fetch_add(&loopless_callbacks, 1);
}

START_TEST(test_loopless_pool_from_many_threads) {
  uva_tpool_options_t o = opts_threads(2);
  uv_thread_t me = uv_thread_self();
  uv_thread_t threads[3];
  int bases[3] = {0, 1000, 2000};
  uva_task_t blocked;
  uva_task_t with_cb;
  uva_msg_t *result;
  char *text;
  int status;
  int err;
  int i;

  ck_assert_int_eq(uva_tpool_init(&pool, NULL, &o), 0);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(uv_thread_create(&threads[i], submit_and_wait, &bases[i]), 0);
  for (i = 0; i < 3; i++)
    ck_assert_int_eq(uv_thread_join(&threads[i]), 0);
  assert_actors_ok();

  /* A wait that times out leaves the task running; cancel, then the wait returns at once. */
  ck_assert_int_eq(uva_tpool_submit(&pool, &blocked, fn_gate, int_msg(1), NULL, NULL), 0);
  gate_wait_for(1);
  ck_assert_int_eq(uva_tpool_wait(&blocked, 0, &status, NULL, NULL), UV_ETIMEDOUT);
  ck_assert_int_eq(uva_tpool_wait(&blocked, 5, &status, NULL, NULL), UV_ETIMEDOUT);
  ck_assert_int_eq(uva_tpool_cancel(&blocked), 0);
  ck_assert_int_eq(uva_tpool_wait(&blocked, UVA_WAIT_FOREVER, &status, &result, &text), 0);
  ck_assert_int_eq(status, UV_ECANCELED);
  ck_assert_ptr_null(result);
  ck_assert_str_eq(text, "the task was cancelled");
  free(text);
  gate_open();

  /* A callback runs on the dispatcher thread. */
  atomic_store(&loopless_callbacks, 0);
  ck_assert_int_eq(uva_tpool_submit(&pool, &with_cb, fn_square, int_msg(4), NULL, on_loopless_job), 0);
  err = uva_tpool_wait(&with_cb, 0, NULL, NULL, NULL);
  ck_assert(err == UV_EINVAL || err == UV_EALREADY); /* EALREADY once its callback ran */
  while (atomic_load(&loopless_callbacks) == 0)
    uv_sleep(1);
  ck_assert(!uv_thread_equal(atomic_load(&callback_thread), &me));

  ck_assert_int_eq(uva_tpool_join(&pool, 0), UV_EINVAL); /* not closed */
  ck_assert_int_eq(uva_tpool_submit(&pool, &blocked, fn_square, int_msg(2), NULL, NULL), 0);
  ck_assert_int_eq(uva_tpool_close(&pool, 0, on_closed), UV_EINVAL);
  ck_assert_int_eq(uva_tpool_close(&pool, 0, NULL), 0);
  ck_assert_int_eq(uva_tpool_join(&pool, UVA_WAIT_FOREVER), UV_EBUSY); /* blocked is not collected */
  ck_assert_int_eq(uva_tpool_wait(&blocked, UVA_WAIT_FOREVER, &status, NULL, NULL), 0);
  ck_assert_int_eq(status, 0);
  ck_assert_int_eq(uva_tpool_join(&pool, UVA_WAIT_FOREVER), 0);
  ck_assert_int_eq(uva_tpool_join(&pool, 0), UV_EALREADY);
  ck_assert_int_eq(uva_tpool_submit(&pool, &blocked, fn_square, NULL, NULL, NULL), UV_EBADF);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

/* ---- waits follow the library's wait rule -------------------------------------------------------- */

static uva_task_t waited;

static void cancel_waited(void *arg) {
  (void)arg;
  ACTOR_CHECK(uva_tpool_cancel(&waited) == 0);
}

/* Submits waited, which cannot complete by itself: it waits in the queue behind blocker, which holds the
 * pool's one worker at the gate. */
static void submit_behind_blocker(uva_task_t *blocker) {
  uva_tpool_options_t o = opts_threads(1);

  ck_assert_int_eq(uva_tpool_init(&pool, NULL, &o), 0);
  ck_assert_int_eq(uva_tpool_submit(&pool, blocker, fn_gate, int_msg(1), NULL, NULL), 0);
  gate_wait_for(1);
  ck_assert_int_eq(uva_tpool_submit(&pool, &waited, fn_square, int_msg(2), NULL, NULL), 0);
}

/* Lets the blocker go, collects it and waited, and finishes the pool. */
static void finish_loopless(uva_task_t *blocker) {
  gate_open();
  ck_assert_int_eq(uva_tpool_wait(blocker, UVA_WAIT_FOREVER, NULL, NULL, NULL), 0);
  (void)uva_tpool_wait(&waited, UVA_WAIT_FOREVER, NULL, NULL, NULL); /* UV_EALREADY if collected */
  ck_assert_int_eq(uva_tpool_close(&pool, 0, NULL), 0);
  ck_assert_int_eq(uva_tpool_join(&pool, UVA_WAIT_FOREVER), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}

/* A timeout past what the clock can count is none: the wait lasts until the task completes (here: another
 * thread cancels it, before or during the wait), never UV_ETIMEDOUT at once. */
START_TEST(test_wait_timeout_past_the_clock) {
  static const int64_t timeouts[] = {INT64_MAX, (int64_t)1 << 62, 18446744073709};
  uv_thread_t canceller;
  uva_task_t blocker;
  int status;
  size_t i;

  submit_behind_blocker(&blocker);
  for (i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
    if (i > 0)
      ck_assert_int_eq(uva_tpool_submit(&pool, &waited, fn_square, int_msg(2), NULL, NULL), 0);
    ck_assert_int_eq(uv_thread_create(&canceller, cancel_waited, NULL), 0);
    status = 1;
    ck_assert_int_eq(uva_tpool_wait(&waited, timeouts[i], &status, NULL, NULL), 0);
    ck_assert_int_eq(status, UV_ECANCELED);
    ck_assert_int_eq(uv_thread_join(&canceller), 0);
  }
  finish_loopless(&blocker);
}
END_TEST

/* On the thread of an actor that is ending, a wait that would have to wait returns UV_ECANCELED: after
 * uva_self_exit() (mode 0: no limit; mode 1: 0 ms), or when the actor is terminated (mode 2; the terminate
 * may come before the wait or during it). */
static int ending_waits[3];
static uv_sem_t in_main;

static int main_wait_ending(uva_self_t *self) {
  int mode = *(int *)uva_self_arg(self);

  if (mode != 2)
    ACTOR_CHECK(uva_self_exit(self, 0) == 0);
  uv_sem_post(&in_main);
  ending_waits[mode] = uva_tpool_wait(&waited, mode == 1 ? 0 : UVA_WAIT_FOREVER, NULL, NULL, NULL);
  return 0;
}

START_TEST(test_wait_on_an_ending_actor) {
  uva_actor_options_t options;
  uva_actor_t actor;
  uva_task_t blocker;
  int modes[3] = {0, 1, 2};
  int code;
  int i;

  ck_assert_int_eq(uv_sem_init(&in_main, 0), 0);
  submit_behind_blocker(&blocker);
  for (i = 0; i < 3; i++) {
    memset(&options, 0, sizeof(options));
    options.arg = &modes[i];
    ending_waits[i] = 1;
    ck_assert_int_eq(uva_actor_spawn(&actor, NULL, main_wait_ending, &options), 0);
    uv_sem_wait(&in_main); /* a terminate before main would keep main from running */
    if (i == 2)
      ck_assert_int_eq(uva_actor_terminate(&actor), 0);
    ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
    ck_assert_int_eq(ending_waits[i], UV_ECANCELED);
  }
  uv_sem_destroy(&in_main);
  finish_loopless(&blocker);
}
END_TEST

/* Two threads wait for one task: one waits and collects it, the other is told at once (UV_EBUSY, as a second
 * uva_actor_join() is), whatever its timeout, rather than wait for an outcome it cannot get. */
static int first_wait = 1;
static int first_status = 1;

static void wait_waited(void *arg) {
  (void)arg;
  first_wait = uva_tpool_wait(&waited, UVA_WAIT_FOREVER, &first_status, NULL, NULL);
}

START_TEST(test_concurrent_waits_one_is_told) {
  uv_thread_t first;
  uva_task_t blocker;
  int err = UV_ETIMEDOUT;
  int i;

  submit_behind_blocker(&blocker);
  ck_assert_int_eq(uv_thread_create(&first, wait_waited, NULL), 0);
  for (i = 0; i < HANG_GUARD_MS && err == UV_ETIMEDOUT; i++) {
    err = uva_tpool_wait(&waited, 0, NULL, NULL, NULL); /* UV_ETIMEDOUT until the first one waits */
    if (err == UV_ETIMEDOUT)
      uv_sleep(1);
  }
  ck_assert_int_eq(err, UV_EBUSY);
  ck_assert_int_eq(uva_tpool_wait(&waited, UVA_WAIT_FOREVER, NULL, NULL, NULL), UV_EBUSY);
  ck_assert_int_eq(uva_tpool_cancel(&waited), 0);
  ck_assert_int_eq(uv_thread_join(&first), 0);
  ck_assert_int_eq(first_wait, 0);
  ck_assert_int_eq(first_status, UV_ECANCELED);
  ck_assert_int_eq(uva_tpool_wait(&waited, UVA_WAIT_FOREVER, NULL, NULL, NULL), UV_EALREADY);
  finish_loopless(&blocker);
}
END_TEST

/* A callback of a pool without a loop runs on its dispatcher, the thread that completes tasks: a wait there
 * could only wait for itself, so only a look (0 ms) is allowed. */
static int callback_waits[3];
static atomic_int callback_done;

static void on_wait_in_callback(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  (void)task;
  (void)status;
  (void)text;
  uva_msg_free(result);
  ACTOR_CHECK(uva_tpool_submit(&pool, &waited, fn_square, int_msg(3), NULL, NULL) == 0);
  callback_waits[0] = uva_tpool_wait(&waited, 0, NULL, NULL, NULL); /* it cannot be due before this returns */
  callback_waits[1] = uva_tpool_wait(&waited, 1, NULL, NULL, NULL);
  if (callback_waits[1] == UV_EPERM) /* else it would hang */
    callback_waits[2] = uva_tpool_wait(&waited, UVA_WAIT_FOREVER, NULL, NULL, NULL);
  atomic_store(&callback_done, 1);
}

START_TEST(test_wait_in_a_callback_is_refused) {
  uva_tpool_options_t o = opts_threads(1);
  uva_task_t task;
  int status = 1;

  ck_assert_int_eq(uva_tpool_init(&pool, NULL, &o), 0);
  ck_assert_int_eq(uva_tpool_submit(&pool, &task, fn_square, int_msg(1), NULL, on_wait_in_callback), 0);
  while (!atomic_load(&callback_done)) /* the hang guard is Check's */
    uv_sleep(1);
  ck_assert_int_eq(callback_waits[0], UV_ETIMEDOUT);
  ck_assert_int_eq(callback_waits[1], UV_EPERM);
  ck_assert_int_eq(callback_waits[2], UV_EPERM);
  ck_assert_int_eq(uva_tpool_wait(&waited, UVA_WAIT_FOREVER, &status, NULL, NULL), 0);
  ck_assert_int_eq(status, 0);
  ck_assert_int_eq(uva_tpool_close(&pool, 0, NULL), 0);
  ck_assert_int_eq(uva_tpool_join(&pool, UVA_WAIT_FOREVER), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

/* A task waits for another task of its own pool (under the pool's lock) when the pool is closed cancelling:
 * the close asks the worker to stop, which ends the wait, without holding that lock (it would deadlock). */
static uva_task_t inner;

static int fn_wait_inner(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  int err;

  (void)ctx;
  (void)arg;
  (void)result;
  atomic_fetch_add(&runs, 1);
  err = uva_tpool_wait(&inner, UVA_WAIT_FOREVER, NULL, NULL, NULL);
  ACTOR_CHECK(err == 0 || err == UV_ECANCELED); /* inner was cancelled too, or the worker was stopped first */
  return 0;
}

START_TEST(test_cancelling_close_ends_a_wait_in_a_task) {
  uva_tpool_options_t o = opts_threads(2);
  uva_task_t outer;
  int status = 1;
  int err;

  ck_assert_int_eq(uva_tpool_init(&pool, NULL, &o), 0);
  ck_assert_int_eq(uva_tpool_submit(&pool, &inner, fn_park, NULL, NULL, NULL), 0);
  ck_assert_int_eq(uva_tpool_submit(&pool, &outer, fn_wait_inner, NULL, NULL, NULL), 0);
  while (atomic_load(&runs) == 0 || atomic_load(&parked) == NULL) /* both run (the hang guard is Check's) */
    uv_sleep(1);
  ck_assert_int_eq(uva_tpool_close(&pool, UVA_TPOOL_CLOSE_CANCEL, NULL), 0);
  ck_assert_int_eq(uva_tpool_wait(&outer, UVA_WAIT_FOREVER, &status, NULL, NULL), 0);
  ck_assert_int_eq(status, UV_ECANCELED);
  /* outer's function may still be in its wait for inner (UV_EBUSY), and collect it (then UV_EALREADY). */
  while ((err = uva_tpool_wait(&inner, UVA_WAIT_FOREVER, NULL, NULL, NULL)) == UV_EBUSY)
    uv_sleep(1);
  ck_assert(err == 0 || err == UV_EALREADY);
  ck_assert_int_eq(uva_tpool_join(&pool, UVA_WAIT_FOREVER), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

/* ---- joins ---------------------------------------------------------------------------------------- */

/* A join on one of the pool's own threads would wait for itself: from a task (a worker) or a callback (the
 * dispatcher) it is refused, whatever its timeout, and leaves the pool to the thread that joins it. */
static int own_joins[4];
static atomic_int own_joins_done;

static int fn_close_and_join(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)ctx;
  (void)arg;
  (void)result;
  ACTOR_CHECK(uva_tpool_close(&pool, 0, NULL) == 0);
  own_joins[0] = uva_tpool_join(&pool, 0);
  if (own_joins[0] == UV_EPERM) /* else it would hang */
    own_joins[1] = uva_tpool_join(&pool, UVA_WAIT_FOREVER);
  return 0;
}

static void on_join_in_callback(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  (void)task;
  (void)status;
  (void)text;
  uva_msg_free(result);
  own_joins[2] = uva_tpool_join(&pool, 0);
  if (own_joins[2] == UV_EPERM)
    own_joins[3] = uva_tpool_join(&pool, UVA_WAIT_FOREVER);
  atomic_store(&own_joins_done, 1);
}

START_TEST(test_join_on_the_pools_threads_is_refused) {
  uva_tpool_options_t o = opts_threads(1);
  uva_task_t task;
  int i;

  ck_assert_int_eq(uva_tpool_init(&pool, NULL, &o), 0);
  ck_assert_int_eq(uva_tpool_submit(&pool, &task, fn_close_and_join, NULL, NULL, on_join_in_callback), 0);
  while (!atomic_load(&own_joins_done)) /* the hang guard is Check's */
    uv_sleep(1);
  for (i = 0; i < 4; i++)
    ck_assert_int_eq(own_joins[i], UV_EPERM);
  ck_assert_int_eq(uva_tpool_join(&pool, UVA_WAIT_FOREVER), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

/* A join that timed out on an actor's thread (a look, here) left the pool unjoinable: the real join got
 * UV_EBADF, and the pool's memory was never the caller's again. */
static int looked_join = 1;

static int main_look_at_join(uva_self_t *self) {
  (void)self;
  looked_join = uva_tpool_join(&pool, 0);
  return 0;
}

static void on_free_result(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  (void)task;
  (void)text;
  ACTOR_CHECK(status == 0);
  uva_msg_free(result);
}

START_TEST(test_join_after_a_look_from_an_actor) {
  uva_tpool_options_t o = opts_threads(1);
  uva_actor_t actor;
  uva_task_t blocker;

  ck_assert_int_eq(uva_tpool_init(&pool, NULL, &o), 0);
  ck_assert_int_eq(uva_tpool_submit(&pool, &blocker, fn_gate, int_msg(1), NULL, on_free_result), 0);
  ck_assert_int_eq(uva_tpool_close(&pool, 0, NULL), 0); /* draining: it cannot end before the gate opens */
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, main_look_at_join, NULL), 0);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, NULL), 0);
  ck_assert_int_eq(looked_join, UV_ETIMEDOUT);
  gate_open();
  ck_assert_int_eq(uva_tpool_join(&pool, UVA_WAIT_FOREVER), 0);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

/* Threads join one pool at once: one joins and frees its state, the others are told (UV_EBUSY while another
 * is in its join, UV_EALREADY after), and none touches the state once it is freed. The pool is on the heap,
 * freed as soon as the join returned 0, so a late touch is a use after free (ASan, valgrind). */
#define JOINERS 3
#define JOIN_ROUNDS 40

static uva_tpool_t *joined;
static uv_barrier_t joiners_go;
static atomic_int joined_callbacks;

static void on_joined_job(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  (void)task;
  (void)text;
  ACTOR_CHECK(status == 0);
  uva_msg_free(result);
  atomic_fetch_add(&joined_callbacks, 1);
}
static int join_results[JOINERS];

/* The first joiner waits; the others look (0 ms) until they are told something else than "not yet". */
static void join_at_once(void *arg) {
  int *result = arg;

  uv_barrier_wait(&joiners_go);
  if (result == &join_results[0])
    *result = uva_tpool_join(joined, UVA_WAIT_FOREVER);
  else
    while ((*result = uva_tpool_join(joined, 0)) == UV_ETIMEDOUT)
      ;
}

START_TEST(test_concurrent_joins_one_joins) {
  uva_tpool_options_t o = opts_threads(1);
  uv_thread_t threads[JOINERS];
  uva_task_t tasks[4];
  int round;
  int zeros;
  int i;

  for (round = 0; round < JOIN_ROUNDS; round++) {
    joined = malloc(sizeof(*joined));
    ck_assert_ptr_nonnull(joined);
    ck_assert_int_eq(uva_tpool_init(joined, NULL, &o), 0);
    for (i = 0; i < 4; i++)
      ck_assert_int_eq(uva_tpool_submit(joined, &tasks[i], fn_square, int_msg(i), NULL, on_joined_job), 0);
    ck_assert_int_eq(uva_tpool_close(joined, 0, NULL), 0);
    ck_assert_int_eq(uv_barrier_init(&joiners_go, JOINERS), 0);
    for (i = 0; i < JOINERS; i++)
      ck_assert_int_eq(uv_thread_create(&threads[i], join_at_once, &join_results[i]), 0);
    zeros = 0;
    for (i = 0; i < JOINERS; i++) {
      ck_assert_int_eq(uv_thread_join(&threads[i]), 0);
      zeros += join_results[i] == 0;
      ck_assert_msg(join_results[i] == 0 || join_results[i] == UV_EBUSY || join_results[i] == UV_EALREADY,
                    "round %d: a join returned %s", round, uva_err_name(join_results[i]));
    }
    uv_barrier_destroy(&joiners_go);
    ck_assert_int_eq(zeros, 1);
    free(joined); /* the join that returned 0 gave its memory back */
  }
  ck_assert_int_eq(atomic_load(&joined_callbacks), 4 * JOIN_ROUNDS); /* a draining close runs them all */
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

/* ---- the end of the actor that runs a pool's loop ----------------------------------------------- */

/* An actor makes two pools on its loop: one runs two tasks and holds two more in its queue, and was closed
 * draining (with a close callback); the other is idle and never closed. The actor is terminated. Its
 * teardown closes both pools cancelling, asking every worker to stop before it joins the first: the queued
 * tasks never start (before, a worker not yet asked took them while the first was joined), every task
 * completes once with UV_ECANCELED, the close callback runs, and both pools' state is freed (ASan and
 * valgrind see that). */
static uva_tpool_t owned;
static uva_tpool_t owned_idle;
static int owned_status[4];
static int owned_calls[4];
static int owned_closed;

static void on_owned_job(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  int i = (int)(intptr_t)task->data;

  (void)text;
  uva_msg_free(result);
  owned_calls[i]++;
  owned_status[i] = status;
}

static void on_owned_closed(uva_tpool_t *p) {
  ACTOR_CHECK(p == &owned);
  owned_closed++;
}

static int main_own_pools(uva_self_t *self) {
  static uva_task_t tasks[4];
  uva_tpool_options_t o = opts_threads(2);
  int i;

  ACTOR_CHECK(uva_tpool_init(&owned, uva_self_loop(self), &o) == 0);
  ACTOR_CHECK(uva_tpool_init(&owned_idle, uva_self_loop(self), &o) == 0);
  for (i = 0; i < 4; i++) {
    tasks[i].data = (void *)(intptr_t)i;
    ACTOR_CHECK(uva_tpool_submit(&owned, &tasks[i], i < 2 ? fn_until_cancelled : fn_square, int_msg(i), NULL,
                                 on_owned_job) == 0);
  }
  ACTOR_CHECK(uva_tpool_close(&owned, 0, on_owned_closed) == 0); /* draining: the queued two would run */
  return 0;
}

START_TEST(test_owner_teardown_stops_every_worker_first) {
  uva_actor_t actor;
  int code;
  int i;

  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, main_own_pools, NULL), 0);
  gate_wait_for(2); /* both running tasks are in their functions */
  gate_open();      /* they now run until they are cancelled */
  ck_assert_int_eq(uva_actor_terminate(&actor), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, UVA_EXIT_TERMINATED);
  for (i = 0; i < 4; i++) {
    ck_assert_int_eq(owned_calls[i], 1);
    ck_assert_int_eq(owned_status[i], UV_ECANCELED);
  }
  ck_assert_int_eq(atomic_load(&runs), 2); /* the queued ones never started */
  ck_assert_int_eq(atomic_load(&saw_cancel), 2);
  ck_assert_int_eq(owned_closed, 1);
  ck_assert_int_eq(uva_tpool_close(&owned, 0, NULL), UV_EBADF); /* closed: the memory is ours again */
  ck_assert_int_eq(uva_tpool_close(&owned_idle, 0, NULL), UV_EBADF);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

/* ---- the end of the actor that made a pool without a loop ---------------------------------------- */

/* An actor makes a pool without a loop and ends without joining it: its end reaps the pool, as it joins a
 * loop-less actor it spawned. The pool closes cancelling: the running task with a callback completes once
 * with UV_ECANCELED; a queued task another thread waits for is collected by that wait (UV_ECANCELED); a
 * queued task nobody collects is collected by the end (a later wait on it says UV_EALREADY). Then its
 * threads are joined and its state is freed (before, it leaked and a later join said UV_EALREADY: ASan and
 * valgrind see it now). Afterwards a join says UV_EALREADY and other calls UV_EBADF. */
static uva_task_t reaped[3];
static int reaped_calls;
static int reaped_status;
static int reaped_wait;
static int reaped_wait_status;

static void on_reaped_job(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  (void)task;
  (void)text;
  uva_msg_free(result);
  reaped_calls++;
  reaped_status = status;
}

static void on_parent_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

static int main_make_loopless_pool(uva_self_t *self) {
  uva_tpool_options_t o = opts_threads(1);

  ACTOR_CHECK(uva_tpool_init(&pool, NULL, &o) == 0);
  ACTOR_CHECK(uva_tpool_submit(&pool, &reaped[0], fn_until_cancelled, NULL, NULL, on_reaped_job) == 0);
  ACTOR_CHECK(uva_tpool_submit(&pool, &reaped[1], fn_square, int_msg(2), NULL, NULL) == 0);
  ACTOR_CHECK(uva_tpool_submit(&pool, &reaped[2], fn_square, int_msg(3), NULL, NULL) == 0);
  uv_sem_post(&in_main);
  /* Its loop lives until it is terminated. */
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), on_parent_message, NULL) == 0);
  return 0;
}

static void wait_reaped(void *arg) {
  (void)arg;
  reaped_wait = uva_tpool_wait(&reaped[2], UVA_WAIT_FOREVER, &reaped_wait_status, NULL, NULL);
}

START_TEST(test_actors_end_reaps_its_loopless_pool) {
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;
  uva_tpool_stats_t s;
  uva_actor_t actor;
  uv_thread_t waiter;
  int code;
  int err;

  reaped_calls = 0;
  reaped_wait = reaped_wait_status = 1;
  ck_assert_int_eq(uv_sem_init(&in_main, 0), 0);
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, main_make_loopless_pool, NULL), 0);
  uv_sem_wait(&in_main);
  gate_wait_for(1); /* reaped[0] runs; the others wait behind it */
  gate_open();      /* it now runs until it is cancelled */
  ck_assert_int_eq(uv_thread_create(&waiter, wait_reaped, NULL), 0);
  /* The waiter is in its wait once a look from here is told UV_EBUSY. */
  while ((err = uva_tpool_wait(&reaped[2], 0, NULL, NULL, NULL)) == UV_ETIMEDOUT && uv_hrtime() < deadline)
    uv_sleep(1);
  ck_assert_int_eq(err, UV_EBUSY);
  ck_assert_int_eq(uva_actor_terminate(&actor), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, UVA_EXIT_TERMINATED);
  ck_assert_int_eq(uv_thread_join(&waiter), 0);
  uv_sem_destroy(&in_main);

  ck_assert_int_eq(reaped_calls, 1);
  ck_assert_int_eq(reaped_status, UV_ECANCELED);
  ck_assert_int_eq(reaped_wait, 0);
  ck_assert_int_eq(reaped_wait_status, UV_ECANCELED);
  ck_assert_int_eq(atomic_load(&runs), 1); /* the queued ones never ran */
  ck_assert_int_eq(atomic_load(&saw_cancel), 1);
  ck_assert_int_eq(uva_tpool_wait(&reaped[1], 0, NULL, NULL, NULL), UV_EALREADY);
  ck_assert_int_eq(uva_tpool_wait(&reaped[2], 0, NULL, NULL, NULL), UV_EALREADY);
  ck_assert_int_eq(uva_tpool_cancel(&reaped[1]), UV_EALREADY);
  ck_assert_int_eq(uva_tpool_join(&pool, UVA_WAIT_FOREVER), UV_EALREADY);
  ck_assert_int_eq(uva_tpool_stats(&pool, &s), UV_EBADF);
  ck_assert_int_eq(uva_tpool_close(&pool, 0, NULL), UV_EBADF);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

/* A thread joins the pool while the actor that made it ends: the join frees the pool and the end leaves it
 * alone (it waits for that join rather than touch what the join frees). The pool is on the heap, freed as
 * soon as the join returned 0, so a late touch is a use after free (ASan, valgrind). */
static uva_tpool_t *joined_by_other;
static uva_task_t joined_by_other_task;
static int other_join = 1;

static int main_make_pool_to_join(uva_self_t *self) {
  uva_tpool_options_t o = opts_threads(1);

  ACTOR_CHECK(uva_tpool_init(joined_by_other, NULL, &o) == 0);
  ACTOR_CHECK(uva_tpool_submit(joined_by_other, &joined_by_other_task, fn_until_cancelled, NULL, NULL,
                               on_reaped_job) == 0);
  ACTOR_CHECK(uva_tpool_close(joined_by_other, 0, NULL) == 0); /* draining: it ends once the task does */
  uv_sem_post(&in_main);
  ACTOR_CHECK(uva_port_start(uva_self_port(self), uva_self_loop(self), on_parent_message, NULL) == 0);
  return 0;
}

/* Main's look (a join with a timeout of 0) joins for a moment too: a join that comes then is told UV_EBUSY,
 * and comes again. */
static void join_other(void *arg) {
  (void)arg;
  while ((other_join = uva_tpool_join(joined_by_other, UVA_WAIT_FOREVER)) == UV_EBUSY)
    uv_sleep(1);
}

START_TEST(test_join_while_its_actor_ends) {
  uint64_t deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;
  uva_actor_t actor;
  uv_thread_t joiner;
  int err;

  reaped_calls = 0;
  joined_by_other = malloc(sizeof(*joined_by_other));
  ck_assert_ptr_nonnull(joined_by_other);
  ck_assert_int_eq(uv_sem_init(&in_main, 0), 0);
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, main_make_pool_to_join, NULL), 0);
  uv_sem_wait(&in_main);
  gate_wait_for(1);
  gate_open(); /* the task runs until it is cancelled: by the actor's end */
  ck_assert_int_eq(uv_thread_create(&joiner, join_other, NULL), 0);
  while ((err = uva_tpool_join(joined_by_other, 0)) == UV_ETIMEDOUT && uv_hrtime() < deadline)
    uv_sleep(1);
  ck_assert_int_eq(err, UV_EBUSY); /* the joiner is in its join */
  ck_assert_int_eq(uva_actor_terminate(&actor), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, NULL), 0);
  ck_assert_int_eq(uv_thread_join(&joiner), 0);
  uv_sem_destroy(&in_main);
  ck_assert_int_eq(other_join, 0);
  ck_assert_int_eq(reaped_calls, 1);
  ck_assert_int_eq(reaped_status, UV_ECANCELED);
  ck_assert_int_eq(atomic_load(&saw_cancel), 1);
  free(joined_by_other); /* the join that returned 0 gave its memory back */
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  assert_actors_ok();
}
END_TEST

/* ---- fork ---------------------------------------------------------------------------------------- */

/* A pool inherited through fork() has no threads in the child (its workers and dispatcher are the parent's):
 * every call on it and on its tasks refuses, as on an inherited port or actor, rather than queue what
 * nothing will run. The parent's pools go on as if nothing happened. */
START_TEST(test_forked_child_cannot_use_inherited_pool) {
  uva_tpool_options_t o = opts_threads(1);
  uva_tpool_t loopless;
  uva_tpool_stats_t st;
  uva_task_t blocked;
  uva_task_t task;
  job_t job;
  forked_t child;

  ck_assert_int_eq(uva_tpool_init(&pool, &loop, &o), 0);
  ck_assert_int_eq(uva_tpool_init(&loopless, NULL, &o), 0);
  ck_assert_int_eq(uva_tpool_submit(&loopless, &blocked, fn_gate, int_msg(1), NULL, NULL), 0);
  submit(&job, fn_gate, 2, NULL);
  gate_wait_for(2);
  if (forked_start(&child)) {
    int bad = 0;

    bad |= uva_tpool_submit(&pool, &task, fn_square, NULL, NULL, on_job) != UVA_EFORKED;
    bad |= uva_tpool_submit(&loopless, &task, fn_square, NULL, NULL, NULL) != UVA_EFORKED;
    bad |= uva_tpool_cancel(&job.task) != UVA_EFORKED;
    bad |= uva_tpool_cancel(&blocked) != UVA_EFORKED;
    bad |= uva_tpool_wait(&blocked, 0, NULL, NULL, NULL) != UVA_EFORKED;
    bad |= uva_tpool_on_room(&pool, on_room) != UVA_EFORKED;
    bad |= uva_tpool_stats(&loopless, &st) != UVA_EFORKED;
    bad |= uva_tpool_stats_reset(&pool) != UVA_EFORKED;
    bad |= uva_tpool_close(&pool, 0, NULL) != UVA_EFORKED;
    bad |= uva_tpool_close(&loopless, 0, NULL) != UVA_EFORKED;
    bad |= uva_tpool_join(&loopless, 0) != UVA_EFORKED;
    forked_end(&child, bad);
  }
  ck_assert_int_eq(forked_wait(&child), 0);
  gate_open();
  ck_assert_int_eq(uva_tpool_wait(&blocked, UVA_WAIT_FOREVER, NULL, NULL, NULL), 0);
  ck_assert_int_eq(uva_tpool_close(&loopless, 0, NULL), 0);
  ck_assert_int_eq(uva_tpool_join(&loopless, UVA_WAIT_FOREVER), 0);
  ck_assert(run_until(&loop, &completed, 1));
  ck_assert_int_eq(job.value, 2);
  finish(0);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("tpool", 30, setup, teardown),
      TEST(test_results_on_the_loop),
      TEST(test_tasks_keep_the_loop_alive),
      TEST(test_runs_on_a_named_worker_thread),
      TEST(test_moved_buffer_in_and_out_without_copy),
      TEST(test_argument_freed_once),
      TEST(test_failures_carry_code_and_text),
      TEST(test_async_tasks_complete_later),
      TEST(test_done_only_on_the_worker_thread),
      TEST(test_priority_then_fifo),
      TEST(test_room_again_means_room),
      TEST(test_start_failure_fails_the_task_not_the_submit),
      TEST(test_refused_submit_leaves_the_task_unchanged),
      TEST(test_cancel_queued_never_runs),
      TEST(test_cancel_running_sets_the_flag),
      TEST(test_timeout_completes_at_once_slot_stays_busy),
      TEST(test_timeout_not_counted_while_queued),
      TEST(test_timeout_past_the_clock_is_none),
      TEST(test_worker_that_fails_is_replaced),
      TEST(test_worker_that_exits_cleanly_keeps_its_result),
      TEST(test_pending_tasks_fail_when_the_worker_ends),
      TEST(test_thread_hooks_and_state),
      TEST(test_thread_init_failure_fails_its_tasks),
      TEST(test_failing_starts_are_not_retried_in_a_loop),
      TEST(test_tasks_run_on_the_worker_that_started),
      TEST(test_grows_to_max_and_shrinks_to_min),
      TEST(test_min_none_starts_on_demand),
      TEST(test_stats_counters_summaries_reset),
      TEST(test_stats_off_costs_nothing),
      TEST(test_close_drains),
      TEST(test_close_cancels),
      TEST(test_close_from_a_callback),
      TEST(test_loop_pool_belongs_to_its_thread),
      TEST(test_loopless_pool_from_many_threads),
      TEST(test_wait_timeout_past_the_clock),
      TEST(test_wait_on_an_ending_actor),
      TEST(test_concurrent_waits_one_is_told),
      TEST(test_wait_in_a_callback_is_refused),
      TEST(test_cancelling_close_ends_a_wait_in_a_task),
      TEST(test_join_on_the_pools_threads_is_refused),
      TEST(test_join_after_a_look_from_an_actor),
      TEST(test_concurrent_joins_one_joins),
      TEST(test_owner_teardown_stops_every_worker_first),
      TEST(test_actors_end_reaps_its_loopless_pool),
      TEST(test_join_while_its_actor_ends),
      TEST(test_forked_child_cannot_use_inherited_pool),
  };

  return suite_of_rows("tpool", rows, sizeof(rows) / sizeof(rows[0]));
}
