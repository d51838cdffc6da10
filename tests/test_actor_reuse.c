/* Threads kept from ended actors (uva_actor_set_reuse(), UVA_ACTOR_NEW_THREAD): an actor on a kept thread
 * sees what it would on a new one, kept threads stay bounded and end when idle, and nothing is lost.
 *
 * Every parent here runs no loop: it spawns, joins, and reads what the actor saw. Which thread an actor
 * ran on is its kernel thread id. Threads meet through joins and semaphores, never sleeps; the one wait is
 * for idle threads to end (a condition, polled, with a deadline), under an idle time of 1 ms. Nothing
 * touches libuv's threadpool (Check forks per test: libuv#4443). */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uvactor.h"

#include "sanitizers.h"

#define KEEP_LONG_MS UVA_REUSE_IDLE_MS_MAX /* no kept thread ends by itself during a test */
#define HANG_GUARD_MS 10000

#include "proc_counts.h"

/* What an actor saw of its thread and loop, as main began. */
typedef struct {
  pid_t tid;
  char thread_name[16];
  unsigned int handles; /* on its loop, by uv_walk() */
  int loop_alive;
  uint64_t now_ms;  /* its loop's time */
  int usr1_blocked; /* in its signal mask */
  int usr2_blocked;
  int wait_code;  /* a wait with timeout 0 on a new port: UV_ETIMEDOUT unless the thread is ending */
  int spawn_code; /* a spawn from it */
  size_t stack_size;
  double utilization; /* uva_self_elu() over a busy millisecond, if asked */
  int leave_state;    /* leave a timer, a blocked SIGUSR2, a name and an ELU measure behind */
  int measure;        /* measure the utilization of a busy millisecond */
  void *spare;        /* the test's own */
} seen_t;

static void count_handle(uv_handle_t *handle, void *arg) {
  (void)handle;
  ++*(unsigned int *)arg;
}

static int return_zero_main(uva_self_t *self) {
  (void)self;
  return 0;
}

static void on_leftover_timer(uv_timer_t *timer) {
  (void)timer;
}

static int look_main(uva_self_t *self) {
  seen_t *seen = uva_self_arg(self);
  uv_loop_t *loop = uva_self_loop(self);
  static uv_timer_t timer; /* one actor at a time leaves it behind */
  pthread_attr_t attr;
  uva_actor_options_t child_options = {.flags = UVA_ACTOR_NEW_THREAD}; /* keeps no thread of its own */
  uva_actor_t child;
  uv_timer_t *idle_timer;
  sigset_t mask;
  uva_port_t a, b;
  uva_msg_t *msg;
  uva_elu_t elu;
  uint64_t start;

  seen->tid = (pid_t)syscall(SYS_gettid);
  prctl(PR_GET_NAME, seen->thread_name);
  uv_walk(loop, count_handle, &seen->handles);
  seen->loop_alive = uv_loop_alive(loop);
  seen->now_ms = uv_now(loop);
  pthread_sigmask(SIG_BLOCK, NULL, &mask);
  seen->usr1_blocked = sigismember(&mask, SIGUSR1);
  seen->usr2_blocked = sigismember(&mask, SIGUSR2);
  if (uva_channel_init(&a, &b) == 0) {
    seen->wait_code = uva_port_receive_wait(&a, &msg, 0);
    uva_port_close(&a);
    uva_port_close(&b);
  }
  seen->spawn_code = uva_actor_spawn(&child, NULL, return_zero_main, &child_options);
  if (seen->spawn_code == 0)
    uva_actor_join(&child, UVA_WAIT_FOREVER, NULL);
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    pthread_attr_getstacksize(&attr, &seen->stack_size);
    pthread_attr_destroy(&attr);
  }
  if (seen->measure) {
    uva_self_elu(self, &elu);
    for (start = uv_hrtime(); uv_hrtime() - start < 1000000;)
      ;
    uva_self_elu(self, &elu);
    seen->utilization = elu.utilization;
  }
  if (seen->leave_state) {
    /* All of this is the actor's thread's: the next actor on it must not see any of it. */
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_leftover_timer, 3600 * 1000, 0);
    uv_unref((uv_handle_t *)&timer);
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    prctl(PR_SET_NAME, "renamed");
    if (seen->measure) {
      /* Idle time counted: 5 ms asleep in the poll, which a kept loop would carry over. */
      idle_timer = malloc(sizeof(*idle_timer));
      uv_timer_init(loop, idle_timer);
      uv_timer_start(idle_timer, on_leftover_timer, 5, 0);
      uv_run(loop, UV_RUN_DEFAULT);
      uv_close((uv_handle_t *)idle_timer, (uv_close_cb)free);
    }
    return uva_self_exit(self, 7) == 0 ? 0 : 1;
  }
  return 0;
}

/* Spawns look_main with options, joins it; its exit code. */
static int run_look(seen_t *seen, const char *name, size_t stack_size, unsigned int flags) {
  uva_actor_options_t options = {.name = name, .stack_size = stack_size, .arg = seen, .flags = flags};
  uva_actor_t actor;
  int code = -100;

  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, look_main, &options), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  return code;
}

/* An actor on a kept thread has its own name, the spawner's signal mask, an empty loop with its time now,
 * and uvactor's own state of the thread reset: what the same actor sees on a new thread. */
START_TEST(test_kept_thread_is_fresh) {
  seen_t first = {.leave_state = 1};
  seen_t fresh = {0};
  seen_t kept = {0};
  seen_t unnamed = {0};
  char main_name[16];
  sigset_t usr1;
  uint64_t before;

  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, KEEP_LONG_MS), 0);
  prctl(PR_GET_NAME, main_name);
  ck_assert_int_eq(run_look(&first, "first", 0, 0), 7);
  /* The same actor on a new thread, for comparison; its thread is not kept. */
  ck_assert_int_eq(run_look(&fresh, "second", 0, UVA_ACTOR_NEW_THREAD), 0);
  ck_assert_int_ne(fresh.tid, first.tid);
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, NULL);
  before = uv_hrtime() / 1000000;
  ck_assert_int_eq(run_look(&kept, "second", 0, 0), 0);
  pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
  ck_assert_int_eq(kept.tid, first.tid); /* kept */
  ck_assert_str_eq(kept.thread_name, "second");
  ck_assert_uint_eq(kept.handles, fresh.handles);
  ck_assert_int_eq(kept.loop_alive, 0);
  ck_assert_int_eq(fresh.loop_alive, 0);
  ck_assert_uint_ge(kept.now_ms + 20, before); /* libuv's clock is coarse, by a few ms */
  ck_assert_int_eq(kept.usr1_blocked, 1);      /* the spawner's mask, as a new thread inherits it */
  ck_assert_int_eq(kept.usr2_blocked, 0);      /* not what the last actor left */
  ck_assert_int_eq(kept.wait_code, UV_ETIMEDOUT);
  ck_assert_int_eq(fresh.wait_code, UV_ETIMEDOUT);
  ck_assert_int_eq(kept.spawn_code, 0);
  /* Unnamed: the spawner's name, as a new thread's, not the last actor's. */
  ck_assert_int_eq(run_look(&unnamed, NULL, 0, 0), 0);
  ck_assert_int_eq(unnamed.tid, first.tid);
  ck_assert_str_eq(unnamed.thread_name, main_name);
  ck_assert_int_eq(unnamed.usr1_blocked, 0);
}
END_TEST

/* The loop of an actor that measured its utilization is not kept: the next actor's figures start at zero
 * (a busy millisecond is all busy, none of it the last actor's idle time). */
START_TEST(test_measured_loop_is_not_kept) {
  seen_t first = {.leave_state = 1, .measure = 1};
  seen_t next = {.measure = 1};

  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, KEEP_LONG_MS), 0);
  ck_assert_int_eq(run_look(&first, "first", 0, 0), 7);
  ck_assert_int_eq(run_look(&next, "next", 0, 0), 0);
  ck_assert_int_eq(next.tid, first.tid);
  ck_assert(next.utilization > 0.5);
}
END_TEST

/* UVA_ACTOR_NEW_THREAD: a thread made for the actor, which is not kept after it. */
START_TEST(test_new_thread_flag) {
  seen_t a = {0}, b = {0}, c = {0};

  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, KEEP_LONG_MS), 0);
  ck_assert_int_eq(run_look(&a, NULL, 0, 0), 0);
  ck_assert_int_eq(run_look(&b, NULL, 0, UVA_ACTOR_NEW_THREAD), 0);
  ck_assert_int_ne(b.tid, a.tid);
  ck_assert_int_eq(run_look(&c, NULL, 0, 0), 0);
  ck_assert_int_eq(c.tid, a.tid);
}
END_TEST

/* A kept thread serves only a spawn that asks for its stack size; each actor gets the stack it asked for. */
START_TEST(test_reuse_by_stack_size) {
  const size_t small = 4 * 1024 * 1024; /* big enough for sanitizers, below the usual default */
  seen_t a = {0}, b = {0}, c = {0};

  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, KEEP_LONG_MS), 0);
  ck_assert_int_eq(run_look(&a, NULL, small, 0), 0);
  ck_assert_int_eq(run_look(&b, NULL, 16 * 1024 * 1024, 0), 0);
  ck_assert_int_ne(b.tid, a.tid);
  ck_assert_uint_ge(b.stack_size, 16 * 1024 * 1024);
  ck_assert_int_eq(run_look(&c, NULL, small, 0), 0);
  ck_assert_int_eq(c.tid, a.tid);
  ck_assert_uint_ge(c.stack_size, small); /* glibc may give a bigger stack from its cache */
}
END_TEST

/* The threads and descriptors of the process with no thread kept, after one actor made and joined (so that
 * libuv's first loop, and a sanitizer's own thread, are counted). */
static void baseline(int *threads, int *fds) {
  uva_actor_t actor;

  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0);
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, return_zero_main, NULL), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, NULL), 0);
  *threads = count_threads(); /* a joined thread may still be listed: that only loosens the bounds below */
  *fds = count_fds();
}

/* 1000 spawns and joins keep at most the kept threads (one here: one actor at a time) and their loops'
 * descriptors; with reuse off they are gone, and the process holds what it held before. */
START_TEST(test_spawn_join_cycles_stay_bounded) {
  uva_actor_t actor;
  int threads, fds, code, i;

  baseline(&threads, &fds);
  ck_assert_int_eq(uva_actor_set_reuse(2, KEEP_LONG_MS), 0);
  for (i = 0; i < 1000; i++) {
    ck_assert_int_eq(uva_actor_spawn(&actor, NULL, return_zero_main, NULL), 0);
    ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
    ck_assert_int_eq(code, 0);
    ck_assert_int_le(threads_settle(threads + 1), threads + 1);
  }
  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0);
  ck_assert_int_le(threads_settle(threads), threads);
  ck_assert_int_eq(count_fds(), fds);
}
END_TEST

/* Waits for the test's go; the exit code is 0. */
static int wait_go_main(uva_self_t *self) {
  seen_t *seen = uva_self_arg(self);

  seen->tid = (pid_t)syscall(SYS_gettid);
  uv_sem_wait((uv_sem_t *)seen->spare);
  return 0;
}

/* Runs n actors alive together (so on n threads) and joins them; their thread ids in tids. */
static void run_together(int n, pid_t *tids) {
  uva_actor_options_t options = {0};
  uva_actor_t actors[3];
  seen_t seen[3];
  uv_sem_t go;
  int i;

  ck_assert_int_eq(uv_sem_init(&go, 0), 0);
  for (i = 0; i < n; i++) {
    memset(&seen[i], 0, sizeof(seen[i]));
    seen[i].spare = &go;
    options.arg = &seen[i];
    ck_assert_int_eq(uva_actor_spawn(&actors[i], NULL, wait_go_main, &options), 0);
  }
  for (i = 0; i < n; i++)
    uv_sem_post(&go);
  for (i = 0; i < n; i++) {
    ck_assert_int_eq(uva_actor_join(&actors[i], HANG_GUARD_MS, NULL), 0);
    tids[i] = seen[i].tid;
  }
  uv_sem_destroy(&go);
}

static int task_exists(pid_t tid) {
  char path[64];

  snprintf(path, sizeof(path), "/proc/self/task/%d", (int)tid);
  return access(path, F_OK) == 0;
}

/* Kept threads beyond max end at once (the longest idle first); the rest end after idle_ms without an
 * actor. Which thread an actor ran on says which were kept. */
START_TEST(test_kept_threads_end) {
  pid_t first[3], second[3], third[1];
  uint64_t deadline;
  int threads, fds, kept, i, j;

  baseline(&threads, &fds);
  ck_assert_int_eq(uva_actor_set_reuse(4, KEEP_LONG_MS), 0);
  run_together(3, first);
  ck_assert_int_le(threads_settle(threads + 3), threads + 3);
  ck_assert_int_eq(uva_actor_set_reuse(1, KEEP_LONG_MS), 0); /* two end now */
  run_together(3, second);
  for (kept = 0, i = 0; i < 3; i++)
    for (j = 0; j < 3; j++)
      kept += second[i] == first[j];
  ck_assert_int_eq(kept, 1);
  /* The one kept now: the thread of second's last join. Idle for a millisecond, it ends by itself. */
  ck_assert_int_eq(uva_actor_set_reuse(1, 1), 0);
  deadline = uv_hrtime() + (uint64_t)HANG_GUARD_MS * 1000000;
  while ((task_exists(second[0]) || task_exists(second[1]) || task_exists(second[2])) &&
         uv_hrtime() < deadline)
    usleep(1000);
  for (i = 0; i < 3; i++)
    ck_assert_msg(!task_exists(second[i]), "thread %d still there", (int)second[i]);
  ck_assert_int_le(threads_settle(threads), threads);
  /* And spawns go on, on a new thread. */
  run_together(1, third);
  for (i = 0; i < 3; i++)
    ck_assert_int_ne(third[0], second[i]);
  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0);
  ck_assert_int_eq(count_fds(), fds);
}
END_TEST

/* An actor that stays in its loop, idle, until terminated: with its port started, or with only a timer an
 * hour away. */
typedef struct {
  uv_sem_t *ready;
  int start_port;
  uv_timer_t timer;
} idle_ctx_t;

static void drop_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

static void never_fires(uv_timer_t *timer) {
  (void)timer;
  abort();
}

static int stay_idle_main(uva_self_t *self) {
  idle_ctx_t *ctx = uva_self_arg(self);
  int err;

  if (ctx->start_port)
    err = uva_port_start(uva_self_port(self), uva_self_loop(self), drop_message, NULL);
  else if ((err = uv_timer_init(uva_self_loop(self), &ctx->timer)) == 0)
    err = uv_timer_start(&ctx->timer, never_fires, 3600 * 1000, 0);
  uv_sem_post(ctx->ready);
  return err;
}

/* Every idle actor holds exactly four descriptors, all its libuv loop's: the epoll instance, the pipe
 * libuv 1.44's uv_loop_init() makes for every loop's signal handling (two ends), and the eventfd
 * uv_loop_init() makes for the loop's uv_async_t handles, which is also uvactor's wakeup (channel/loop.c
 * writes it; terminate and uva_actor_elu() go through that wakeup too). Starting a port adds none, and
 * terminate and join give all four back. The baseline keeps no thread, so each actor makes a new loop. */
#define IDLE_ACTORS 6
#define ACTOR_FDS 4

START_TEST(test_idle_actor_holds_four_descriptors) {
  uva_actor_options_t options = {0};
  uva_actor_t actors[IDLE_ACTORS];
  idle_ctx_t ctx[IDLE_ACTORS];
  uv_sem_t ready;
  int threads, fds, code, i;

  baseline(&threads, &fds);
  ck_assert_int_eq(uv_sem_init(&ready, 0), 0);
  for (i = 0; i < IDLE_ACTORS; i++) {
    memset(&ctx[i], 0, sizeof(ctx[i]));
    ctx[i].ready = &ready;
    ctx[i].start_port = i % 2;
    options.arg = &ctx[i];
    ck_assert_int_eq(uva_actor_spawn(&actors[i], NULL, stay_idle_main, &options), 0);
  }
  for (i = 0; i < IDLE_ACTORS; i++)
    uv_sem_wait(&ready);
  ck_assert_int_eq(count_fds(), fds + IDLE_ACTORS * ACTOR_FDS);
  for (i = 0; i < IDLE_ACTORS; i++) {
    ck_assert_int_eq(uva_actor_terminate(&actors[i]), 0);
    ck_assert_int_eq(uva_actor_join(&actors[i], HANG_GUARD_MS, &code), 0);
    ck_assert_int_eq(code, UVA_EXIT_TERMINATED);
  }
  uv_sem_destroy(&ready);
  ck_assert_int_eq(count_fds(), fds);
}
END_TEST

/* Closes every handle uv_walk() finds, the loop's own wakeup among them, as programs end a loop. */
static void close_every_handle(uv_handle_t *handle, void *arg) {
  (void)arg;
  if (!uv_is_closing(handle))
    uv_close(handle, NULL);
}

/* The walk that closes every handle, then, with run set, a run that finishes those closes. */
static int close_all_main(uva_self_t *self) {
  int *run = uva_self_arg(self);

  uv_walk(uva_self_loop(self), close_every_handle, NULL);
  if (*run)
    uv_run(uva_self_loop(self), UV_RUN_DEFAULT);
  return 5;
}

/* A main that closes every handle its loop has, the wakeup's too, ends as any other, whether libuv has
 * finished those closes when main returns or not; the actor after it on the same thread sees what one on
 * a new thread does, and the process holds no more than before. (The teardown closed the wakeup's handles
 * a second time and libuv aborted: "uv_close: Assertion `!uv__is_closing(handle)' failed".) */
START_TEST(test_main_that_closes_every_handle) {
  seen_t first = {0}, fresh = {0}, next = {0};
  uva_actor_options_t options = {0};
  uva_actor_t actor;
  int threads, fds, code, run;

  baseline(&threads, &fds);
  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, KEEP_LONG_MS), 0);
  ck_assert_int_eq(run_look(&first, NULL, 0, 0), 0);
  ck_assert_int_eq(run_look(&fresh, NULL, 0, UVA_ACTOR_NEW_THREAD), 0);
  for (run = 0; run < 2; run++) {
    options.arg = &run;
    ck_assert_int_eq(uva_actor_spawn(&actor, NULL, close_all_main, &options), 0);
    ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
    ck_assert_int_eq(code, 5);
    memset(&next, 0, sizeof(next));
    ck_assert_int_eq(run_look(&next, NULL, 0, 0), 0);
    ck_assert_int_eq(next.tid, first.tid);
    ck_assert_uint_eq(next.handles, fresh.handles);
    ck_assert_int_eq(next.loop_alive, 0);
  }
  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0);
  ck_assert_int_le(threads_settle(threads), threads);
  ck_assert_int_eq(count_fds(), fds);
}
END_TEST

static void on_fs_event(uv_fs_event_t *handle, const char *filename, int events, int status) {
  (void)handle;
  (void)filename;
  (void)events;
  (void)status;
}

/* Opens, and closes, what makes libuv open a descriptor of the loop's that it keeps until
 * uv_loop_close(): a stream (a spare descriptor for accept()'s EMFILE) and a uv_fs_event_t (inotify's). */
static int lazy_descriptors_main(uva_self_t *self) {
  uv_loop_t *loop = uva_self_loop(self);
  uv_fs_event_t event;
  uv_pipe_t pipe;

  if (uv_pipe_init(loop, &pipe, 0) != 0 || uv_fs_event_init(loop, &event) != 0)
    return 1;
  if (uv_fs_event_start(&event, on_fs_event, ".", 0) != 0)
    return 2;
  uv_close((uv_handle_t *)&pipe, NULL);
  uv_close((uv_handle_t *)&event, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0;
}

/* A loop that holds descriptors a new loop has not is not kept: the kept thread holds none until its next
 * actor, which gets a new loop of four (it had six: two more than docs/actors.md says an actor holds). */
START_TEST(test_loop_with_lazy_descriptors_is_not_kept) {
  uva_actor_options_t options = {0};
  uva_actor_t actor;
  seen_t next = {0};
  int threads, fds, code;

  baseline(&threads, &fds);
  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, KEEP_LONG_MS), 0);
  ck_assert_int_eq(uva_actor_spawn(&actor, NULL, lazy_descriptors_main, &options), 0);
  ck_assert_int_eq(uva_actor_join(&actor, HANG_GUARD_MS, &code), 0);
  ck_assert_int_eq(code, 0);
  ck_assert_int_eq(count_fds(), fds);
  ck_assert_int_eq(run_look(&next, NULL, 0, 0), 0);
  ck_assert_int_eq(count_fds(), fds + ACTOR_FDS); /* its empty loop is kept */
  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0);
  ck_assert_int_eq(count_fds(), fds);
}
END_TEST

START_TEST(test_set_reuse_einval) {
  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_MAX + 1, 0), UV_EINVAL);
  ck_assert_int_eq(uva_actor_set_reuse(0, UVA_REUSE_IDLE_MS_MAX + 1), UV_EINVAL);
  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_MAX, UVA_REUSE_IDLE_MS_MAX), 0);
  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, 0), 0);
}
END_TEST

/* A forked child has none of its parent's kept threads, and spawns and joins actors of its own. Its verdict
 * comes through a pipe, not its exit status (under valgrind that is valgrind's own, about the parent's
 * memory the child inherited). */
static int forked_child_verdict(void) {
  seen_t child = {0}, child2 = {0};
  uva_actor_t actor;
  int code = -1;

  if (count_threads() != 1)
    return 2;
  if (TSAN)
    return 0; /* ThreadSanitizer makes no thread in a child of a process that had threads */
  if (uva_actor_spawn(&actor, NULL, return_zero_main, NULL) != 0)
    return 2;
  if (uva_actor_join(&actor, HANG_GUARD_MS, &code) != 0 || code != 0)
    return 3;
  if (run_look(&child, NULL, 0, 0) != 0 || run_look(&child2, NULL, 0, 0) != 0 || child.tid != child2.tid)
    return 4; /* the child keeps threads of its own */
  return 0;
}

START_TEST(test_forked_child_spawns) {
  seen_t parent = {0}, again = {0};
  char verdict = 1;
  int fds[2];
  int status;
  pid_t pid;

  ck_assert_int_eq(uva_actor_set_reuse(UVA_REUSE_DEFAULT, KEEP_LONG_MS), 0);
  ck_assert_int_eq(run_look(&parent, NULL, 0, 0), 0); /* its thread is kept */
  ck_assert_int_eq(pipe(fds), 0);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    verdict = (char)forked_child_verdict();
    if (write(fds[1], &verdict, 1) != 1)
      _exit(1);
    exit(0); /* its exit joins what it kept */
  }
  close(fds[1]);
  ck_assert_int_eq(read(fds[0], &verdict, 1), 1);
  close(fds[0]);
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_int_eq(verdict, 0);
  ck_assert_int_eq(run_look(&again, NULL, 0, 0), 0);
  ck_assert_int_eq(again.tid, parent.tid);
}
END_TEST

/* Several threads spawn and join at once: every actor runs once, every join returns once, with the actor's
 * own exit code, and the kept threads stay within their bound. */
#define SPAWNERS 4
#define SPAWNS 150

static atomic_int ran[SPAWNERS * SPAWNS];
static atomic_int joined[SPAWNERS * SPAWNS];

static int count_run_main(uva_self_t *self) {
  int index = (int)(intptr_t)uva_self_arg(self);

  atomic_fetch_add(&ran[index], 1);
  return index % 100;
}

static void spawner(void *arg) {
  int base = (int)(intptr_t)arg * SPAWNS;
  uva_actor_options_t options = {0};
  uva_actor_t actors[2];
  int code, i;

  /* Two alive at a time, so that spawns and joins of one spawner interleave too. */
  for (i = 0; i < SPAWNS; i++) {
    options.arg = (void *)(intptr_t)(base + i);
    if (uva_actor_spawn(&actors[i % 2], NULL, count_run_main, &options) != 0)
      abort();
    if (i > 0) {
      code = -1;
      if (uva_actor_join(&actors[(i - 1) % 2], HANG_GUARD_MS, &code) != 0 || code != (base + i - 1) % 100)
        abort();
      atomic_fetch_add(&joined[base + i - 1], 1);
    }
  }
  code = -1;
  if (uva_actor_join(&actors[(SPAWNS - 1) % 2], HANG_GUARD_MS, &code) != 0 ||
      code != (base + SPAWNS - 1) % 100)
    abort();
  atomic_fetch_add(&joined[base + SPAWNS - 1], 1);
}

START_TEST(test_concurrent_spawns) {
  uv_thread_t threads[SPAWNERS];
  int before, fds, i;

  baseline(&before, &fds);
  ck_assert_int_eq(uva_actor_set_reuse(3, KEEP_LONG_MS), 0);
  for (i = 0; i < SPAWNERS; i++)
    ck_assert_int_eq(uv_thread_create(&threads[i], spawner, (void *)(intptr_t)i), 0);
  for (i = 0; i < SPAWNERS; i++)
    ck_assert_int_eq(uv_thread_join(&threads[i]), 0);
  for (i = 0; i < SPAWNERS * SPAWNS; i++) {
    ck_assert_int_eq(atomic_load(&ran[i]), 1);
    ck_assert_int_eq(atomic_load(&joined[i]), 1);
  }
  ck_assert_int_le(threads_settle(before + 3), before + 3);
  ck_assert_int_eq(uva_actor_set_reuse(0, 0), 0);
  ck_assert_int_le(threads_settle(before), before);
  ck_assert_int_eq(count_fds(), fds);
}
END_TEST

#include "check_main.h"

static Suite *make_suite(void) {
  const test_row_t rows[] = {
      TCASE("reuse", 60, NULL, NULL),
      TEST(test_kept_thread_is_fresh),
      TEST(test_measured_loop_is_not_kept),
      TEST(test_new_thread_flag),
      TEST(test_reuse_by_stack_size),
      TEST(test_spawn_join_cycles_stay_bounded),
      TEST(test_kept_threads_end),
      TEST(test_set_reuse_einval),
      TEST(test_forked_child_spawns),
      TEST(test_concurrent_spawns),
      TEST(test_idle_actor_holds_four_descriptors),
      TEST(test_main_that_closes_every_handle),
      TEST(test_loop_with_lazy_descriptors_is_not_kept),
  };

  return suite_of_rows("actor_reuse", rows, sizeof(rows) / sizeof(rows[0]));
}
