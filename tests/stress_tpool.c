/* Stress for the task pool: tasks of every kind submitted, cancelled and timing out while their workers die
 * and their pools close, at random.
 *
 * main runs a loop with one pool at a time, made with random options (threads, min, per_thread, max_queue,
 * idle_ms, stats). Every millisecond it submits a few tasks of random kinds and priorities, cancels some
 * tasks in flight, and now and then closes the pool (draining or cancelling) and makes the next one when the
 * close callback comes. Task kinds: quick (answers its argument back), failing (UV_EIO and a text), spinning
 * (a while, watching its flag), asynchronous (a timer on its worker's loop), killing its worker
 * (uva_self_fail) or ending it cleanly (uva_self_exit with a result), and timing out (spins until its flag,
 * with a run timeout). Meanwhile a second thread drives a pool without a loop: submits from two threads,
 * waits, cancels, closes and joins, over and over.
 *
 * What must hold: every submitted task completes exactly once, with a status its kind and what was done to
 * it allow (UV_ECANCELED only when it was cancelled or its pool closed cancelling; a quick task's value
 * comes back); every argument's moved buffer is freed exactly once; a pool's close callback comes after the
 * callbacks of all its tasks; the stats' counters add up to what the test saw, and no pool holds more
 * slots than it has; the loop closes at the end. Leaks and races are for ASan, valgrind and TSan.
 *
 * UVA_STRESS_SECONDS (default 3) and UVA_STRESS_SEED (or argv[1]) as in the other stress tests. Speaks TAP.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "random.h"
#include "uvactor.h"

#define MAX_TASKS 200000
#define HANG_GUARD_MS 60000

enum { K_QUICK, K_FAIL, K_SPIN, K_ASYNC, K_KILL, K_EXIT, K_TIMEOUT, NKINDS };
static const char *const kind_names[] = {"quick", "fail", "spin", "async", "kill", "exit", "timeout"};

/* Per task, in a table indexed by its id (the argument carries the id and a moved buffer naming it). */
typedef struct {
  uva_task_t task;
  int kind;
  int pool_gen; /* which pool */
  int calls;    /* completion callbacks */
  int cancel_asked;
  int status;
} task_t;

static struct {
  uint64_t seed;
  uint64_t rng;
  double seconds;
  uint64_t start;
  uv_loop_t loop;
  uv_timer_t tick;
  uva_tpool_t pool;
  int pool_open; /* made and not yet closed */
  int pool_closing;
  unsigned int close_flags;
  int pool_gen;
  int pools;
  int outstanding; /* tasks of the current pool not completed */
  int stopping;
  task_t *tasks;
  uint32_t ntasks;
  atomic_int *buffer_frees;
  uint64_t by_status[NKINDS][4]; /* ok, own error, cancelled, other */
  uint64_t seen_completed, seen_failed, seen_cancelled, seen_timed_out;
  uva_tpool_stats_t last;
  atomic_int failures;
  /* the loop-less side */
  uv_thread_t loopless_thread;
  atomic_int loopless_rounds;
  atomic_uint_fast64_t loopless_tasks;
} g;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#include <stdarg.h>
static void fail(const char *fmt, ...) {
  va_list ap;

  fprintf(stderr, "# unexpected: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  atomic_fetch_add(&g.failures, 1);
}

#define MUST(call)                                                                         \
  do {                                                                                     \
    int err_ = (call);                                                                     \
    if (err_ != 0) {                                                                       \
      fprintf(stderr, "# %s:%d: %s: %s\n", __FILE__, __LINE__, #call, uva_err_name(err_)); \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)

static double env_number(const char *name, double fallback) {
  const char *v = getenv(name);
  return v != NULL && *v != '\0' ? atof(v) : fallback;
}

/* ---- arguments: [id, buffer] with a counted moved buffer ----------------------------------------- */

static void buffer_free(void *ptr) {
  uint32_t id = *(uint32_t *)ptr;

  atomic_fetch_add(&g.buffer_frees[id], 1);
  free(ptr);
}

static uva_msg_t *arg_msg(uint32_t id) {
  uint32_t *buf = malloc(sizeof(*buf));
  uva_msg_t *msg;

  if (buf == NULL || uva_msg_new(&msg) != 0)
    exit(1);
  *buf = id;
  msgpack_pack_array(uva_msg_packer(msg), 2);
  msgpack_pack_uint32(uva_msg_packer(msg), id);
  MUST(uva_msg_pack_buffer(msg, buf, sizeof(*buf), buffer_free));
  return msg;
}

static int64_t arg_id(uva_msg_t *msg) {
  msgpack_object obj;

  if (msg == NULL || uva_msg_object(msg, &obj) != 0 || obj.type != MSGPACK_OBJECT_ARRAY ||
      obj.via.array.size != 2)
    return -1;
  return (int64_t)obj.via.array.ptr[0].via.u64;
}

/* ---- task functions (worker threads) ------------------------------------------------------------- */

static int fn_quick(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)ctx;
  *result = arg; /* the argument comes back, buffer and all */
  return 0;
}

static int fn_fail(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)arg;
  (void)result;
  return uva_tpool_ctx_fail(ctx, UV_EIO, "failed on purpose");
}

static int fn_spin(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  uint64_t until = uv_hrtime() + (uint64_t)(arg_id(arg) % 7) * 50000;

  while (uv_hrtime() < until && !uva_tpool_ctx_cancelled(ctx))
    ;
  *result = NULL;
  return 0;
}

/* An asynchronous task is a timer on its worker's loop, kept in a per-thread list (the pool's thread
 * state): a worker that ends with tasks pending closes their timers in thread_exit, which frees them. */
typedef struct async_s {
  uv_timer_t timer;
  uva_tpool_ctx_t *ctx;
  struct async_s *next;
  struct async_s *prev;
} async_t;

typedef struct {
  async_t head;
} thread_state_t;

static int on_thread_init(uv_loop_t *loop, void *arg, void **state) {
  thread_state_t *ts = calloc(1, sizeof(*ts));

  (void)loop;
  (void)arg;
  if (ts == NULL)
    return UV_ENOMEM;
  ts->head.next = ts->head.prev = &ts->head;
  *state = ts;
  return 0;
}

static void on_async_closed(uv_handle_t *handle) {
  free(handle->data);
}

static void async_end(async_t *a) {
  a->prev->next = a->next;
  a->next->prev = a->prev;
  uv_close((uv_handle_t *)&a->timer, on_async_closed);
}

static void on_thread_exit(uv_loop_t *loop, void *arg, void *state) {
  thread_state_t *ts = state;

  (void)loop;
  (void)arg;
  while (ts->head.next != &ts->head)
    async_end(ts->head.next);
  free(ts);
}

static void on_async(uv_timer_t *timer) {
  async_t *a = timer->data;

  if (uva_tpool_ctx_done(a->ctx, 0, NULL) != 0)
    fail("uva_tpool_ctx_done refused a pending task");
  async_end(a);
}

static int fn_async(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  thread_state_t *ts = uva_tpool_ctx_state(ctx);
  async_t *a = malloc(sizeof(*a));

  (void)result;
  if (a == NULL || uv_timer_init(uva_tpool_ctx_loop(ctx), &a->timer) != 0)
    exit(1);
  a->timer.data = a;
  a->ctx = ctx;
  a->next = ts->head.next;
  a->prev = &ts->head;
  ts->head.next->prev = a;
  ts->head.next = a;
  uv_timer_start(&a->timer, on_async, (uint64_t)(arg_id(arg) % 3), 0);
  return UVA_TPOOL_PENDING;
}

static int fn_kill(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  (void)arg;
  (void)result;
  uva_self_fail(uva_tpool_ctx_self(ctx), 9, "killed on purpose");
  return 0;
}

static int fn_exit(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  uva_self_exit(uva_tpool_ctx_self(ctx), 0);
  *result = arg;
  return 0;
}

static int fn_until_flag(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result) {
  uint64_t guard = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;

  (void)arg;
  (void)result;
  while (!uva_tpool_ctx_cancelled(ctx) && uv_hrtime() < guard)
    ;
  return 0;
}

static const uva_tpool_fn kind_fns[NKINDS] = {fn_quick, fn_fail, fn_spin,      fn_async,
                                              fn_kill,  fn_exit, fn_until_flag};

/* ---- the loop's pool ----------------------------------------------------------------------------- */

/* Whether status is one kind may end with; UV_ECANCELED only if asked. */
static int status_allowed(const task_t *t, int status, int64_t value, const char *text, uint32_t id) {
  int cancelled = t->cancel_asked || (g.pool_gen == t->pool_gen && (g.close_flags & UVA_TPOOL_CLOSE_CANCEL));

  if (status == UV_ECANCELED)
    return cancelled;
  switch (t->kind) {
  case K_QUICK:
  case K_EXIT:
    return status == 0 && value == (int64_t)id;
  case K_FAIL:
    return status == UV_EIO && strcmp(text, "failed on purpose") == 0;
  case K_SPIN:
    return status == 0;
  case K_ASYNC:
    return status == 0 || status == UV_ECONNRESET; /* pending on a worker another task killed */
  case K_KILL:
    return status == 9 && strstr(text, "killed on purpose") != NULL;
  case K_TIMEOUT:
    return status == UV_ETIMEDOUT;
  }
  return 0;
}

static void on_task(uva_task_t *task, int status, uva_msg_t *result, const char *text) {
  task_t *t = (task_t *)task;
  uint32_t id = (uint32_t)(t - g.tasks);
  int64_t value = arg_id(result);

  t->calls++;
  t->status = status;
  if (t->calls != 1)
    fail("task %" PRIu32 " (%s) completed %d times", id, kind_names[t->kind], t->calls);
  if (!status_allowed(t, status, value, text != NULL ? text : "", id))
    fail("task %" PRIu32 " (%s, cancel asked %d, pool %d, closing %d flags %u): status %s, value %" PRId64
         ", text %s",
         id, kind_names[t->kind], t->cancel_asked, t->pool_gen, g.pool_closing, g.close_flags,
         uva_err_name(status), value, text != NULL ? text : "(none)");
  if ((status == 0) != (text == NULL))
    fail("task %" PRIu32 ": status %d with text %s", id, status, text != NULL ? text : "(none)");
  g.by_status[t->kind][status == 0                                                 ? 0
                       : status == UV_ECANCELED                                    ? 2
                       : status == UV_ETIMEDOUT || status == UV_EIO || status == 9 ? 1
                                                                                   : 3]++;
  if (status == 0)
    g.seen_completed++;
  else if (status == UV_ECANCELED)
    g.seen_cancelled++;
  else if (status == UV_ETIMEDOUT)
    g.seen_timed_out++;
  else
    g.seen_failed++;
  uva_msg_free(result);
  if (t->pool_gen == g.pool_gen)
    g.outstanding--;
}

static void check_stats(void) {
  uva_tpool_stats_t s;
  uint64_t ended;

  MUST(uva_tpool_stats(&g.pool, &s));
  ended = s.completed + s.failed + s.cancelled + s.timed_out;
  if (s.submitted != ended + (uint64_t)g.outstanding)
    fail("stats: submitted %" PRIu64 " != completed %" PRIu64 " + outstanding %d", s.submitted, ended,
         g.outstanding);
  if (s.completed != g.seen_completed || s.failed != g.seen_failed || s.cancelled != g.seen_cancelled ||
      s.timed_out != g.seen_timed_out)
    fail("stats: counters differ from the callbacks seen");
  if (s.running > (size_t)s.threads * 3)
    fail("stats: %zu slots busy with %u threads", s.running, s.threads);
  if (s.queued > (size_t)g.outstanding)
    fail("stats: %zu queued, %d outstanding", s.queued, g.outstanding);
}

static void pool_open(void);

static void on_pool_closed(uva_tpool_t *pool) {
  (void)pool;
  if (g.outstanding != 0)
    fail("pool %d closed with %d tasks outstanding", g.pool_gen, g.outstanding);
  g.pool_open = 0;
  g.pool_closing = 0;
  if (!g.stopping)
    pool_open();
}

static void pool_open(void) {
  uva_tpool_options_t o;

  memset(&o, 0, sizeof(o));
  o.max_threads = 1 + (unsigned int)(next_random(&g.rng) % 4);
  o.min_threads =
      chance(&g.rng, 3000) ? UVA_TPOOL_MIN_NONE : 1 + (unsigned int)(next_random(&g.rng) % o.max_threads);
  o.per_thread = 1 + (unsigned int)(next_random(&g.rng) % 3);
  o.max_queue = chance(&g.rng, 3000) ? 1 + next_random(&g.rng) % 20 : 0;
  o.idle_ms = 1 + (unsigned int)(next_random(&g.rng) % 20);
  o.flags = chance(&g.rng, 5000) ? UVA_TPOOL_STATS : 0;
  o.name = "stress";
  o.thread_init = on_thread_init;
  o.thread_exit = on_thread_exit;
  MUST(uva_tpool_init(&g.pool, &g.loop, &o));
  g.pool_open = 1;
  g.pool_gen++;
  g.pools++;
  g.close_flags = 0;
  g.seen_completed = g.seen_failed = g.seen_cancelled = g.seen_timed_out = 0;
}

static void submit_one(void) {
  uva_task_options_t o;
  uva_msg_t *arg;
  task_t *t;
  uint32_t id;
  uint64_t r;
  int err;

  if (g.ntasks == MAX_TASKS)
    return;
  id = g.ntasks;
  t = &g.tasks[id];
  r = next_random(&g.rng) % 1000;
  t->kind = r < 500   ? K_QUICK
            : r < 600 ? K_FAIL
            : r < 750 ? K_SPIN
            : r < 880 ? K_ASYNC
            : r < 910 ? K_KILL
            : r < 940 ? K_EXIT
                      : K_TIMEOUT;
  t->pool_gen = g.pool_gen;
  memset(&o, 0, sizeof(o));
  o.priority = (int)(next_random(&g.rng) % 5) - 2;
  if (t->kind == K_TIMEOUT)
    o.timeout_ms = 1 + next_random(&g.rng) % 3;
  else if (chance(&g.rng, 1000))
    o.timeout_ms = 60000; /* never expires */
  arg = arg_msg(id);
  err = uva_tpool_submit(&g.pool, &t->task, kind_fns[t->kind], arg, &o, on_task);
  if (err == 0) {
    g.ntasks++;
    g.outstanding++;
    return;
  }
  if (err != UV_EAGAIN && !(err == UV_EPIPE && g.pool_closing))
    fail("submit: %s", uva_err_name(err));
  uva_msg_free(arg); /* refused: still ours, frees its buffer (counted under this id, reused next) */
  atomic_fetch_sub(&g.buffer_frees[id], 1);
}

static void cancel_one(void) {
  task_t *t;
  int err;

  if (g.ntasks == 0)
    return;
  t = &g.tasks[next_random(&g.rng) % g.ntasks];
  if (t->calls != 0 || t->cancel_asked)
    return;
  err = uva_tpool_cancel(&t->task);
  if (err == 0)
    t->cancel_asked = 1;
  else if (err != UV_EALREADY)
    fail("cancel: %s", uva_err_name(err));
}

static void on_tick(uv_timer_t *timer) {
  int i;

  if (uv_hrtime() - g.start > (uint64_t)(g.seconds * 1e9)) {
    g.stopping = 1;
    uv_timer_stop(timer);
    uv_close((uv_handle_t *)timer, NULL);
    if (g.pool_open && !g.pool_closing) {
      g.pool_closing = 1;
      MUST(uva_tpool_close(&g.pool, 0, on_pool_closed));
    }
    return;
  }
  if (!g.pool_open)
    return;
  if (!g.pool_closing) {
    for (i = (int)(next_random(&g.rng) % 6); i > 0; i--)
      submit_one();
    check_stats();
  }
  if (chance(&g.rng, 1500))
    cancel_one();
  if (!g.pool_closing && chance(&g.rng, 60)) {
    g.pool_closing = 1;
    g.close_flags = chance(&g.rng, 5000) ? UVA_TPOOL_CLOSE_CANCEL : 0;
    MUST(uva_tpool_close(&g.pool, g.close_flags, on_pool_closed));
  } else if (g.pool_closing && !(g.close_flags & UVA_TPOOL_CLOSE_CANCEL) && chance(&g.rng, 100)) {
    g.close_flags = UVA_TPOOL_CLOSE_CANCEL; /* a draining close made cancelling */
    MUST(uva_tpool_close(&g.pool, g.close_flags, on_pool_closed));
  }
}

/* ---- a pool without a loop, on its own threads ---------------------------------------------------- */

#define LL_TASKS 64

static void loopless_submitter(void *arg) {
  uva_tpool_t *pool = arg;
  uva_task_t tasks[LL_TASKS];
  uva_msg_t *result;
  uint64_t rng = (uint64_t)(uintptr_t)&tasks | 1;
  char *text;
  int status;
  int i;
  int err;

  for (i = 0; i < LL_TASKS; i++) {
    uva_msg_t *msg = NULL;
    if (uva_msg_new(&msg) != 0)
      exit(1);
    msgpack_pack_array(uva_msg_packer(msg), 2);
    msgpack_pack_uint32(uva_msg_packer(msg), (uint32_t)i);
    msgpack_pack_nil(uva_msg_packer(msg));
    err = uva_tpool_submit(pool, &tasks[i], i % 5 == 0 ? fn_spin : fn_quick, msg, NULL, NULL);
    if (err != 0)
      fail("loop-less submit: %s", uva_err_name(err));
    if (chance(&rng, 2000) && (err = uva_tpool_cancel(&tasks[i])) != 0 && err != UV_EALREADY)
      fail("loop-less cancel: %s", uva_err_name(err));
  }
  for (i = 0; i < LL_TASKS; i++) {
    err = uva_tpool_wait(&tasks[i], chance(&rng, 3000) ? 0 : UVA_WAIT_FOREVER, &status, &result, &text);
    if (err == UV_ETIMEDOUT)
      err = uva_tpool_wait(&tasks[i], UVA_WAIT_FOREVER, &status, &result, &text);
    if (err != 0 || !(status == UV_ECANCELED || (status == 0 && (i % 5 == 0 || arg_id(result) == i))))
      fail("loop-less task %d: wait %s, status %s", i, uva_err_name(err), uva_err_name(status));
    uva_msg_free(result);
    free(text);
    atomic_fetch_add(&g.loopless_tasks, 1);
  }
}

static void loopless_main(void *arg) {
  uva_tpool_options_t o;
  uv_thread_t threads[2];
  uva_tpool_t pool;
  int i;

  (void)arg;
  while (uv_hrtime() - g.start < (uint64_t)(g.seconds * 1e9)) {
    memset(&o, 0, sizeof(o));
    o.max_threads = 2;
    o.per_thread = 2;
    MUST(uva_tpool_init(&pool, NULL, &o));
    for (i = 0; i < 2; i++)
      MUST(uv_thread_create(&threads[i], loopless_submitter, &pool));
    for (i = 0; i < 2; i++)
      uv_thread_join(&threads[i]);
    MUST(uva_tpool_close(&pool, atomic_load(&g.loopless_rounds) % 2 ? UVA_TPOOL_CLOSE_CANCEL : 0, NULL));
    MUST(uva_tpool_join(&pool, HANG_GUARD_MS));
    atomic_fetch_add(&g.loopless_rounds, 1);
  }
}

int main(int argc, char **argv) {
  uint64_t kinds[NKINDS][4];
  uint32_t id;
  int bad;
  int k;

  g.seconds = env_number("UVA_STRESS_SECONDS", 3);
  g.seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)env_number("UVA_STRESS_SEED", 0);
  if (g.seed == 0)
    g.seed = uv_hrtime() | 1;
  g.rng = g.seed;
  printf("1..1\n# seed %" PRIu64 " (UVA_STRESS_SEED=%" PRIu64 " or argv[1] to replay), %.3g s\n", g.seed,
         g.seed, g.seconds);
  fflush(stdout);
  g.tasks = calloc(MAX_TASKS, sizeof(*g.tasks));
  g.buffer_frees = calloc(MAX_TASKS, sizeof(*g.buffer_frees));
  if (g.tasks == NULL || g.buffer_frees == NULL)
    return 1;
  MUST(uv_loop_init(&g.loop));
  MUST(uv_timer_init(&g.loop, &g.tick));
  g.start = uv_hrtime();
  MUST(uv_thread_create(&g.loopless_thread, loopless_main, NULL));
  pool_open();
  MUST(uv_timer_start(&g.tick, on_tick, 1, 1));
  uv_run(&g.loop, UV_RUN_DEFAULT);
  uv_thread_join(&g.loopless_thread);
  if (g.pool_open)
    fail("the last pool never closed");
  if (uv_loop_close(&g.loop) != 0)
    fail("the loop did not close");
  for (id = 0; id < g.ntasks; id++) {
    if (g.tasks[id].calls != 1)
      fail("task %" PRIu32 " (%s) completed %d times", id, kind_names[g.tasks[id].kind], g.tasks[id].calls);
    if (atomic_load(&g.buffer_frees[id]) != 1)
      fail("task %" PRIu32 " (%s): its buffer was freed %d times", id, kind_names[g.tasks[id].kind],
           atomic_load(&g.buffer_frees[id]));
  }
  memcpy(kinds, g.by_status, sizeof(kinds));
  printf("# pools %d, tasks %" PRIu32 " (ok/own error/cancelled/other):", g.pools, g.ntasks);
  for (k = 0; k < NKINDS; k++)
    printf(" %s %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64, kind_names[k], kinds[k][0], kinds[k][1],
           kinds[k][2], kinds[k][3]);
  printf("; loop-less rounds %d, tasks %" PRIu64 "\n", atomic_load(&g.loopless_rounds),
         (uint64_t)atomic_load(&g.loopless_tasks));
  bad = atomic_load(&g.failures);
  printf("%s 1 - every task completed once with a status it may have, every buffer freed once\n",
         bad == 0 ? "ok" : "not ok");
  free(g.tasks);
  free(g.buffer_frees);
  return bad == 0 ? 0 : 1;
}
