/* actors/pool.c: the worker pool, libuv's one process-wide threadpool, sized once by uva_pool_init().
 *
 * The pool can be started once per process, so this suite runs its tests in one process, in the order they
 * are added (UVA_TEST_NOFORK): first what holds before the pool starts (its default size, what the
 * environment says, refused sizes), then uva_pool_init(3), then what holds after (UV_EBUSY, and actors
 * sharing the three threads). A fork after the pool started would also crash at exit (libuv#4443).
 * UV_THREADPOOL_SIZE is cleared before anything runs and around each test, so the outside environment cannot
 * change the result.
 * The "too late" path, where something used the pool before uva_pool_init(), is test_pool_late.c. */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "forked.h"
#include "pool_helpers.h"
#include "sanitizers.h"

#define POOL_SIZE 3

/* ---- before the pool starts ---------------------------------------------------------------------- */

START_TEST(test_size_default) {
  ck_assert_ptr_null(getenv("UV_THREADPOOL_SIZE"));
  ck_assert_uint_eq(uva_pool_size(), 4);
}
END_TEST

/* Until uva_pool_init() sets it, the size is what libuv will read from UV_THREADPOOL_SIZE: 0 and junk make
 * one thread, more than 1024 makes 1024. */
START_TEST(test_size_follows_env) {
  static const struct {
    const char *value;
    unsigned int size;
  } cases[] = {{"6", 6}, {"1", 1}, {"1024", 1024}, {"2000", 1024}, {"0", 1}, {"abc", 1}, {"7threads", 7}};
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ck_assert_int_eq(setenv("UV_THREADPOOL_SIZE", cases[i].value, 1), 0);
    ck_assert_msg(uva_pool_size() == cases[i].size, "UV_THREADPOOL_SIZE=%s: %u, expected %u", cases[i].value,
                  uva_pool_size(), cases[i].size);
  }
  clear_pool_env();
  ck_assert_uint_eq(uva_pool_size(), 4);
}
END_TEST

/* libuv 1.44 reads the variable with atoi() into an unsigned int: "-3" wraps around and is capped, making
 * 1024 threads, so that is the pool's size, not 1. */
START_TEST(test_size_env_negative) {
  ck_assert_int_eq(setenv("UV_THREADPOOL_SIZE", "-3", 1), 0);
  ck_assert_uint_eq(uva_pool_size(), 1024);
  clear_pool_env();
}
END_TEST

/* Refused sizes change nothing: not the size, not the environment, and no thread starts. */
START_TEST(test_init_einval) {
  long before = thread_count();

  ck_assert_int_eq(uva_pool_init(0), UV_EINVAL);
  ck_assert_int_eq(uva_pool_init(1025), UV_EINVAL);
  ck_assert_int_eq(uva_pool_init(2000), UV_EINVAL);
  ck_assert_uint_eq(uva_pool_size(), 4);
  ck_assert_ptr_null(getenv("UV_THREADPOOL_SIZE"));
  ck_assert_int_eq(thread_count(), before);
}
END_TEST

/* Kept actor threads end by themselves once idle (actors/threads.c): one ending while uva_pool_init()
 * counts the threads it started would make the new pool look like a running one (UV_EBUSY). Each child
 * keeps KEPT threads that end 1 ms after their actors, then starts its pool at a different moment of that
 * millisecond; every one must get 0. */
#define KEPT 8
#define TRIES 24

static int return_zero_main(uva_self_t *self) {
  (void)self;
  return 0;
}

static char try_init_while_kept_threads_end(uint64_t offset_ns) {
  uva_actor_t actors[KEPT];
  uint64_t until;
  int i;

  if (uva_actor_set_reuse(KEPT, 1) != 0)
    return 's';
  for (i = 0; i < KEPT; i++)
    if (uva_actor_spawn(&actors[i], NULL, return_zero_main, NULL) != 0)
      return 'a';
  for (i = 0; i < KEPT; i++)
    if (uva_actor_join(&actors[i], UVA_WAIT_FOREVER, NULL) != 0)
      return 'j';
  until = uv_hrtime() + offset_ns;
  while (uv_hrtime() < until)
    ;
  return uva_pool_init(2) == 0 ? 'y' : 'n';
}

/* Program threads that end as the pool starts: one still counts in the process for a moment after it is
 * gone for pthread_join(), and a count of the threads before and after took a new pool for a running one
 * (ci, the ASan stage: 1 of 24 tries). Each child releases ENDING threads, each waiting on a pipe, then
 * starts its pool at a different moment of their ends; every one must get 0. */
#define ENDING 8

static void *read_one_main(void *arg) {
  char byte;

  return read(*(int *)arg, &byte, 1) == 1 ? NULL : arg;
}

static char try_init_while_program_threads_end(uint64_t offset_ns) {
  static int release[2];
  pthread_t thread;
  char bytes[ENDING] = {0};
  uint64_t until;
  int i;

  if (pipe(release) != 0)
    return 'p';
  for (i = 0; i < ENDING; i++)
    if (pthread_create(&thread, NULL, read_one_main, &release[0]) != 0 || pthread_detach(thread) != 0)
      return 't';
  if (write(release[1], bytes, sizeof(bytes)) != (ssize_t)sizeof(bytes))
    return 'w';
  until = uv_hrtime() + offset_ns;
  while (uv_hrtime() < until)
    ;
  return uva_pool_init(2) == 0 ? 'y' : 'n';
}

/* Runs try in TRIES children, each at another offset in 0 .. span_us, where it starts a pool of 2 and
 * answers 'y' when that returned 0. */
static void each_child_starts_its_pool(char (*try)(uint64_t offset_ns), uint64_t span_us) {
  forked_t child;
  int i, answer;

  for (i = 0; i < TRIES; i++) {
    if (forked_start(&child))
      forked_end(&child, try(i * span_us * 1000 / TRIES));
    answer = forked_wait(&child);
    ck_assert_msg(answer == 'y', "try %d (%" PRIu64 " ns in): '%c'", i, i * span_us * 1000 / TRIES, answer);
  }
}

START_TEST(test_init_while_kept_threads_end) {
  if (TSAN)
    return; /* ThreadSanitizer makes no thread in a child of a process that had threads */
  each_child_starts_its_pool(try_init_while_kept_threads_end, 1500); /* the millisecond they end in */
}
END_TEST

START_TEST(test_init_while_program_threads_end) {
  if (TSAN)
    return;
  each_child_starts_its_pool(try_init_while_program_threads_end, 150);
}
END_TEST

/* A fork while a thread is inside uva_pool_init(): that thread may hold the C library's environment lock, or
 * libuv's start of the pool, which the child inherits held; a setenv() there waited for ever (an independent
 * attack: 5 of 30 children hung). The child's call says UVA_EFORKED then, or 0 where the fork came before or
 * after the call (the child's pool is its own). Each try is a child, whose pool is not started, with a
 * thread that calls uva_pool_init() while the child forks a grandchild, which calls it too, under an alarm:
 * 'h' if it hung. */
typedef struct {
  atomic_int calling;
  int result;
} init_call_t;

static void init_pool_of_two(void *arg) {
  init_call_t *call = arg;

  atomic_store(&call->calling, 1);
  call->result = uva_pool_init(2);
}

static char try_fork_while_init_runs(uint64_t offset_ns) {
  init_call_t call = {.result = 1};
  forked_t grandchild;
  uv_thread_t thread;
  uint64_t until;
  int answer = 'h';
  int err;

  if (uv_thread_create(&thread, init_pool_of_two, &call) != 0)
    return 't';
  while (!atomic_load(&call.calling))
    ;
  until = uv_hrtime() + offset_ns;
  while (uv_hrtime() < until)
    ;
  if (forked_start(&grandchild)) {
    signal(SIGALRM, SIG_DFL); /* not Check's timeout handler, which kills the whole process group */
    alarm(10);
    err = uva_pool_init(2);
    forked_end(&grandchild, err == 0 || err == UVA_EFORKED ? 'y' : 'n');
  }
  close(grandchild.answer[1]);
  if (read(grandchild.answer[0], &answer, sizeof(answer)) != sizeof(answer))
    answer = 'h'; /* killed by its alarm */
  (void)waitpid(grandchild.pid, NULL, 0);
  uv_thread_join(&thread);
  return call.result != 0 ? 'r' : (char)answer;
}

START_TEST(test_fork_while_init_runs) {
  if (SANITIZED)
    return; /* a sanitizer's own locks do not survive a fork taken while other threads run (ci, faults
             * stage: a child died before it answered, 1 of 24) */
  each_child_starts_its_pool(try_fork_while_init_runs, 25); /* its setenv() is at the start */
}
END_TEST

/* ---- uva_pool_init() ----------------------------------------------------------------------------- */

/* The pool starts at once, with exactly the threads asked for. */
START_TEST(test_init) {
  long before = thread_count();

  ck_assert_int_eq(uva_pool_init(POOL_SIZE), 0);
  ck_assert_int_eq(thread_count() - before, POOL_SIZE);
  ck_assert_uint_eq(uva_pool_size(), POOL_SIZE);
  /* Set: the environment no longer matters. */
  ck_assert_int_eq(setenv("UV_THREADPOOL_SIZE", "9", 1), 0);
  ck_assert_uint_eq(uva_pool_size(), POOL_SIZE);
  clear_pool_env();
}
END_TEST

/* A forked child's pool is its own, not started (libuv starts it afresh there): uva_pool_init() in the child
 * sizes and starts it as in a new process. It said UV_EBUSY, because the parent had called it, though a
 * parent that had started its pool through libuv left a child that got 0 (an independent attack). The
 * child leaves with _exit() (docs/pool.md, "Fork"). */
START_TEST(test_forked_child_inits_its_own_pool) {
  forked_t child;

  if (TSAN)
    return; /* ThreadSanitizer makes no thread in a child of a process that had threads */
  if (forked_start(&child))
    forked_end(&child, uva_pool_init(2) == 0 && uva_pool_size() == 2 && uva_pool_init(2) == UV_EBUSY);
  ck_assert_int_eq(forked_wait(&child), 1);
  ck_assert_uint_eq(uva_pool_size(), POOL_SIZE);
}
END_TEST

START_TEST(test_init_twice_ebusy) {
  long before = thread_count();

  ck_assert_int_eq(uva_pool_init(POOL_SIZE), UV_EBUSY);
  ck_assert_int_eq(uva_pool_init(5), UV_EBUSY);
  ck_assert_int_eq(uva_pool_init(0), UV_EINVAL);
  ck_assert_uint_eq(uva_pool_size(), POOL_SIZE);
  ck_assert_int_eq(thread_count(), before);
}
END_TEST

/* ---- actors share the pool ----------------------------------------------------------------------- */

#define ACTORS 8
#define ITEMS 50

typedef struct actor_work_s actor_work_t;

typedef struct {
  uv_work_t req;
  actor_work_t *owner;
  int ran;       /* [table.lock] times the work function ran */
  int after_ran; /* actor thread: times the after-work callback ran */
  int after_status;
  int after_on_actor_thread;
} item_t;

struct actor_work_s {
  uv_thread_t thread; /* the actor's, as it saw itself */
  item_t items[ITEMS];
  int queue_errors;
};

/* Every thread that ran a work item, and how many items ran at once. */
static struct {
  uv_mutex_t lock;
  uv_thread_t threads[64];
  int nthreads;
  int running;
  int max_running;
} table;

/* Records the thread, then stays busy for a millisecond so the other items spread over every thread the
 * pool has: a pool of more than POOL_SIZE threads would show more threads, and more items at once. */
static void record_work(uv_work_t *req) {
  item_t *item = req->data;
  uv_thread_t self = uv_thread_self();
  uint64_t until;
  int i;

  uv_mutex_lock(&table.lock);
  for (i = 0; i < table.nthreads; i++)
    if (uv_thread_equal(&table.threads[i], &self))
      break;
  if (i == table.nthreads && table.nthreads < 64)
    table.threads[table.nthreads++] = self;
  item->ran++;
  if (++table.running > table.max_running)
    table.max_running = table.running;
  uv_mutex_unlock(&table.lock);
  until = uv_hrtime() + 1000000;
  while (uv_hrtime() < until)
    ;
  uv_mutex_lock(&table.lock);
  table.running--;
  uv_mutex_unlock(&table.lock);
}

static void after_record_work(uv_work_t *req, int status) {
  item_t *item = req->data;
  uv_thread_t self = uv_thread_self();

  item->after_ran++;
  item->after_status = status;
  item->after_on_actor_thread = uv_thread_equal(&self, &item->owner->thread);
}

static int queue_items_main(uva_self_t *self) {
  actor_work_t *w = uva_self_arg(self);
  int i;

  w->thread = uv_thread_self();
  for (i = 0; i < ITEMS; i++) {
    w->items[i].owner = w;
    w->items[i].req.data = &w->items[i];
    if (uv_queue_work(uva_self_loop(self), &w->items[i].req, record_work, after_record_work) != 0)
      w->queue_errors++;
  }
  return 0;
}

/* 8 actors, 50 work items each: all 400 run on the same POOL_SIZE threads, each once, and each after-work
 * callback runs on the loop (the thread) of the actor that queued it. */
START_TEST(test_actors_share_pool) {
  uva_actor_t actors[ACTORS];
  actor_work_t *work;
  uva_actor_options_t opts = {0};
  int code;
  int i;
  int j;

  work = calloc(ACTORS, sizeof(*work));
  ck_assert_ptr_nonnull(work);
  memset(&table, 0, sizeof(table));
  ck_assert_int_eq(uv_mutex_init(&table.lock), 0);
  for (i = 0; i < ACTORS; i++) {
    opts.arg = &work[i];
    ck_assert_int_eq(uva_actor_spawn(&actors[i], NULL, queue_items_main, &opts), 0);
  }
  for (i = 0; i < ACTORS; i++) {
    ck_assert_int_eq(uva_actor_join(&actors[i], UVA_WAIT_FOREVER, &code), 0);
    ck_assert_int_eq(code, 0);
  }
  for (i = 0; i < ACTORS; i++) {
    ck_assert_int_eq(work[i].queue_errors, 0);
    for (j = 0; j < ITEMS; j++) {
      item_t *item = &work[i].items[j];
      ck_assert_int_eq(item->ran, 1);
      ck_assert_int_eq(item->after_ran, 1);
      ck_assert_int_eq(item->after_status, 0);
      ck_assert_int_eq(item->after_on_actor_thread, 1);
    }
  }
  ck_assert_int_ge(table.nthreads, 1);
  ck_assert_int_le(table.nthreads, POOL_SIZE);
  ck_assert_int_le(table.max_running, POOL_SIZE);
  for (i = 0; i < table.nthreads; i++)
    for (j = 0; j < ACTORS; j++)
      ck_assert(!uv_thread_equal(&table.threads[i], &work[j].thread));
  uv_mutex_destroy(&table.lock);
  free(work);
}
END_TEST

/* uv_fs_* from an actor runs on the same pool: with all POOL_SIZE threads held by the actor's own work
 * items, its uv_fs_stat() cannot finish; once they are let go it does, and its callback runs on the actor. */
typedef struct {
  uv_work_t blockers[POOL_SIZE];
  uv_fs_t stat;
  uv_sem_t started;   /* a blocker holds a pool thread */
  uv_sem_t gate;      /* lets the blockers go */
  uv_sem_t submitted; /* the stat was queued */
  uv_mutex_t lock;
  uv_cond_t cond;
  int gate_open; /* [lock] */
  int stat_done; /* [lock] */
  int stat_result;
  int stat_saw_gate_open;
  int stat_on_actor_thread;
  uint64_t stat_size;
  uv_thread_t actor_thread;
  uv_thread_t blocker_threads[POOL_SIZE];
  int blocker_errors;
} fs_test_t;

static fs_test_t *fs_test;

static void block_work(uv_work_t *req) {
  fs_test_t *t = fs_test;

  t->blocker_threads[req - t->blockers] = uv_thread_self();
  uv_sem_post(&t->started);
  uv_sem_wait(&t->gate);
}

static void after_block_work(uv_work_t *req, int status) {
  (void)req;
  if (status != 0)
    fs_test->blocker_errors++;
}

static void on_stat(uv_fs_t *req) {
  fs_test_t *t = req->data;
  uv_thread_t self = uv_thread_self();

  t->stat_result = (int)req->result;
  t->stat_size = req->statbuf.st_size;
  t->stat_on_actor_thread = uv_thread_equal(&self, &t->actor_thread);
  uv_fs_req_cleanup(req);
  uv_mutex_lock(&t->lock);
  t->stat_saw_gate_open = t->gate_open;
  t->stat_done = 1;
  uv_cond_signal(&t->cond);
  uv_mutex_unlock(&t->lock);
}

static int fs_main(uva_self_t *self) {
  fs_test_t *t = uva_self_arg(self);
  int i;

  t->actor_thread = uv_thread_self();
  for (i = 0; i < POOL_SIZE; i++)
    if (uv_queue_work(uva_self_loop(self), &t->blockers[i], block_work, after_block_work) != 0)
      return 1;
  for (i = 0; i < POOL_SIZE; i++)
    uv_sem_wait(&t->started);
  t->stat.data = t;
  if (uv_fs_stat(uva_self_loop(self), &t->stat, "/proc/self/exe", on_stat) != 0)
    return 2;
  uv_sem_post(&t->submitted);
  return 0;
}

START_TEST(test_fs_runs_on_pool) {
  uva_actor_options_t opts = {0};
  uva_actor_t actor;
  int done_early;
  fs_test_t t;
  int code = -1;
  int i;

  memset(&t, 0, sizeof(t));
  fs_test = &t;
  ck_assert_int_eq(uv_sem_init(&t.started, 0), 0);
  ck_assert_int_eq(uv_sem_init(&t.gate, 0), 0);
  ck_assert_int_eq(uv_sem_init(&t.submitted, 0), 0);
  ck_assert_int_eq(uv_mutex_init(&t.lock), 0);
  ck_assert_int_eq(uv_cond_init(&t.cond), 0);
  opts.arg = &t;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, fs_main, &opts), 0);
  uv_sem_wait(&t.submitted);
  /* Every pool thread is held: the stat must not finish, however long it is given (here 100 ms). */
  uv_mutex_lock(&t.lock);
  if (!t.stat_done)
    (void)uv_cond_timedwait(&t.cond, &t.lock, 100 * 1000000);
  done_early = t.stat_done;
  t.gate_open = 1;
  uv_mutex_unlock(&t.lock);
  /* Let go before asserting: a held pool thread would hang the process at exit. */
  for (i = 0; i < POOL_SIZE; i++)
    uv_sem_post(&t.gate);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, &code), 0);
  ck_assert_int_eq(done_early, 0);
  ck_assert_int_eq(code, 0);
  ck_assert_int_eq(t.stat_done, 1);
  ck_assert_int_eq(t.stat_result, 0);
  ck_assert_uint_gt(t.stat_size, 0);
  ck_assert_int_eq(t.stat_saw_gate_open, 1);
  ck_assert_int_eq(t.stat_on_actor_thread, 1);
  ck_assert_int_eq(t.blocker_errors, 0);
  /* The pool's POOL_SIZE threads were all held at once, by distinct threads. */
  ck_assert(!uv_thread_equal(&t.blocker_threads[0], &t.blocker_threads[1]));
  ck_assert(!uv_thread_equal(&t.blocker_threads[0], &t.blocker_threads[2]));
  ck_assert(!uv_thread_equal(&t.blocker_threads[1], &t.blocker_threads[2]));
  uv_cond_destroy(&t.cond);
  uv_mutex_destroy(&t.lock);
  uv_sem_destroy(&t.submitted);
  uv_sem_destroy(&t.gate);
  uv_sem_destroy(&t.started);
}
END_TEST

/* Teardown: on terminate the actor's ports close first (their close callbacks run), then the other handles;
 * a request already running on the pool still completes, and its callback runs, before the actor ends. */
typedef struct {
  uv_work_t work;
  uv_sem_t started; /* the work item holds a pool thread */
  uv_sem_t gate;    /* lets it go: opened by the port's close callback */
  char order[8];    /* actor thread: P port closed, W after-work callback */
  int norder;
  int after_status;
} teardown_t;

static void held_work(uv_work_t *req) {
  teardown_t *t = req->data;

  uv_sem_post(&t->started);
  uv_sem_wait(&t->gate);
}

static void after_held_work(uv_work_t *req, int status) {
  teardown_t *t = req->data;

  t->after_status = status;
  if (t->norder < 7)
    t->order[t->norder++] = 'W';
}

static void release_on_close(uva_port_t *port) {
  teardown_t *t = port->data;

  if (t->norder < 7)
    t->order[t->norder++] = 'P';
  uv_sem_post(&t->gate);
}

static void drop_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

static int teardown_main(uva_self_t *self) {
  teardown_t *t = uva_self_arg(self);

  uva_self_port(self)->data = t;
  if (uva_port_start(uva_self_port(self), uva_self_loop(self), drop_message, release_on_close) != 0)
    return 1;
  t->work.data = t;
  if (uv_queue_work(uva_self_loop(self), &t->work, held_work, after_held_work) != 0)
    return 2;
  return 0;
}

START_TEST(test_teardown_waits_for_pool_requests) {
  uva_actor_options_t opts = {0};
  uva_actor_t actor;
  teardown_t t;
  int code = 0;

  memset(&t, 0, sizeof(t));
  ck_assert_int_eq(uv_sem_init(&t.started, 0), 0);
  ck_assert_int_eq(uv_sem_init(&t.gate, 0), 0);
  opts.arg = &t;
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, teardown_main, &opts), 0);
  uv_sem_wait(&t.started);
  ck_assert_int_eq(uva_actor_terminate(&actor), 0);
  ck_assert_int_eq(uva_actor_join(&actor, UVA_WAIT_FOREVER, &code), 0);
  ck_assert_int_eq(code, UVA_EXIT_TERMINATED);
  ck_assert_str_eq(t.order, "PW");
  ck_assert_int_eq(t.after_status, 0);
  uv_sem_destroy(&t.gate);
  uv_sem_destroy(&t.started);
}
END_TEST

#define UVA_TEST_NOFORK
#define UVA_TEST_BEFORE_ALL before_all
#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      /* In this order: the pool can start only once. Each test starts and ends with UV_THREADPOOL_SIZE unset,
       * even one that failed half-way. */
      TCASE("pool", 60, clear_pool_env, clear_pool_env),
      TEST(test_size_default),
      TEST(test_size_follows_env),
      TEST(test_size_env_negative),
      TEST(test_init_einval),
      TEST(test_init_while_kept_threads_end),
      TEST(test_init_while_program_threads_end),
      TEST(test_fork_while_init_runs),
      TEST(test_init),
      TEST(test_init_twice_ebusy),
      TEST(test_forked_child_inits_its_own_pool),
      TEST(test_actors_share_pool),
      TEST(test_fs_runs_on_pool),
      TEST(test_teardown_waits_for_pool_requests),
  };

  return suite_of_rows("pool", rows, sizeof(rows) / sizeof(rows[0]));
}
