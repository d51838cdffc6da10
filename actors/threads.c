/* Actor threads: made for a spawn, or kept from an actor that ended.
 *
 * Making a thread (clone, its stack, its TLS) and joining it cost more than the rest of a spawn, so the
 * thread an ended actor leaves is kept, idle, for the next spawn that asks for the same stack size: at most
 * max_idle of them, each ending by itself once it has been idle for idle_ns. The thread runs each actor in
 * uva__actor_thread(), which makes the actor a loop of its own and leaves uvactor's thread-locals as it
 * found them; before an actor on a kept thread, the thread takes the spawner's signal mask and name, which a
 * new thread inherits from the thread that creates it (docs/actors.md, "Threads are reused", says what a
 * kept thread keeps).
 *
 * Join: the actor's thread says it is done with the actor (done) as its last act; the joiner waits for
 * that, not for the thread's end, and then either puts the thread on the idle list or tells it to end and
 * joins it. The joiner decides, not the thread: a thread on the idle list can be taken by the next spawn at
 * once, so it must not get there before its done was seen by the one joiner it was meant for.
 *
 * Spinning: a thread done with an actor watches for its next one for a moment before it sleeps, and a
 * loop-less join watches for the thread to be done, so that a spawn or an end that comes soon costs no
 * wakeup of a sleeping thread (spin(): bounded, backing off, never with one CPU, counted apart).
 *
 * Trimming: an idle thread that got nothing to run for idle_ns leaves the idle list and ends. It joins the
 * threads that ended that way before it, and goes on the ended list itself, to be joined by the next
 * spawn, join or reuse setting that passes, or at exit: an idle process keeps at most one ended thread
 * unjoined, which has left the kernel (/proc/self/task) but not yet given its stack back.
 *
 * fork(): the child has none of these threads: its lists start empty (the parent's copies stay reachable).
 * exit(): a handler (registered when the first thread is made) ends the idle threads and joins them and the
 * ended ones, so that valgrind and the sanitizers see none left behind. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "actors/actor.h"
#include "common/spin.h"

#define DEFAULT_IDLE_MS 1000
#define DEFAULT_MAX_IDLE_MIN 4 /* the default keeps this many, or one per CPU if there are more */
#define MAX_IDLE_UNSET (~0u)
#define SPIN_US 50 /* how long a thread watches for what it waits for before it sleeps (spin()) */

struct uva__thread_s {
  uv_thread_t thread;
  uv_cond_t wake;           /* the thread waits here for an actor, or to end */
  uv_cond_t done_cond;      /* the joiner waits here for done */
  uva__actor_shared_t *job; /* [lock] the actor to run next (atomic: read without the lock, spinning) */
  int done;                 /* [lock] the thread is done with its actor, which is not yet joined (atomic, as
                               job: a joiner spins on it) */
  int end;                  /* [lock] told to end (atomic, as job) */
  int keep;                 /* may be kept after its actor: not UVA_ACTOR_NEW_THREAD */
  size_t stack_size;        /* as asked at its creation; 0: the system's default */
  uint64_t idle_since;      /* [lock] uv_hrtime() when it went on the idle list */
  uva__link_t link;         /* [lock] on idle or ended, or on neither (running, or about to end) */
  uv_loop_t loop; /* [its thread] its actors' loop, kept from one to the next when it proves empty */
  unsigned long loop_flags;        /* [its thread] loop.flags as uv_loop_init() left them */
  int loop_open;                   /* [its thread] loop is initialized */
  sigset_t mask;                   /* [its thread] its signal mask and name, as its last actor left them */
  char name[UVA__THREAD_NAME_LEN]; /* (read after that actor, so that the next spawn's path sets only what
                                      differs) */
};

static uv_mutex_t lock = UVA__MUTEX_INITIALIZER;
static uva__link_t idle = {&idle, &idle};             /* [lock] kept threads, the most recently idle first */
static uva__link_t ended = {&ended, &ended};          /* [lock] threads that ended by themselves, unjoined */
static uva__link_t forsaken = {&forsaken, &forsaken}; /* a forked child's copies of the parent's */
static unsigned int idle_count;                       /* [lock] on idle */
static unsigned int max_idle = MAX_IDLE_UNSET;        /* [lock] */
static uint64_t idle_ns = (uint64_t)DEFAULT_IDLE_MS * 1000000; /* [lock] */
static int exiting;        /* [lock] the exit handler ran: nothing more is kept */
static unsigned int holds; /* [lock] while > 0, no idle thread ends by itself (uva__threads_hold()) */

/* This thread's spins back off when they keep missing, as a loop's do (common/spin.h). */
static __thread uva__spin_backoff_t backoff __attribute__((tls_model("initial-exec")));
static uv_once_t exit_once = UV_ONCE_INIT;

#define THREAD_OF(l) uva__container_of(l, uva__thread_t, link)

/* lock held, but read without it too (uva__thread_start()). */
static void count_idle(int delta) {
  __atomic_store_n(&idle_count, idle_count + delta, __ATOMIC_RELAXED);
}

static void threads_after_fork(void) {
  UVA__MUTEX_RESET(lock);
  uva__list_move(&idle, &forsaken);
  uva__list_move(&ended, &forsaken);
  idle_count = 0;
}

UVA__AFTER_FORK(threads_after_fork)

static unsigned int default_max_idle(void) {
  unsigned int cpus = uv_available_parallelism();

  return cpus > DEFAULT_MAX_IDLE_MIN ? cpus : DEFAULT_MAX_IDLE_MIN;
}

static void thread_free(uva__thread_t *t) {
  uv_cond_destroy(&t->wake);
  uv_cond_destroy(&t->done_cond);
  free(t);
}

/* Joins and frees the threads on list, which nobody else can reach any more. */
static void join_all(uva__link_t *list) {
  uva__thread_t *t;

  while (!uva__list_empty(list)) {
    t = THREAD_OF(list->next);
    uva__list_remove(&t->link);
    uv_thread_join(&t->thread);
    thread_free(t);
  }
}

/* lock held. Moves the ended threads onto out, and the idle ones beyond keep (the longest idle first),
 * told to end, for join_all() after the unlock. */
static void collect_locked(unsigned int keep, uva__link_t *out) {
  uva__thread_t *t;

  uva__list_move(&ended, out);
  while (idle_count > keep) {
    t = THREAD_OF(idle.prev);
    uva__list_remove(&t->link);
    count_idle(-1);
    __atomic_store_n(&t->end, 1, __ATOMIC_RELAXED);
    uv_cond_signal(&t->wake);
    uva__list_insert_tail(out, &t->link);
  }
}

static void threads_at_exit(void) {
  uva__link_t out = {&out, &out};

  uv_mutex_lock(&lock);
  exiting = 1;
  collect_locked(0, &out);
  uv_mutex_unlock(&lock);
  join_all(&out);
}

static void register_exit(void) {
  (void)atexit(threads_at_exit);
}

/* Gives the thread name, unless it has it already (current: its name now, or NULL if not known). */
static void set_name(const char *name, const char *current) {
#if defined(__linux__) && defined(__GLIBC__)
  char shortname[UVA__THREAD_NAME_LEN];
  size_t len = strnlen(name, sizeof(shortname) - 1);

  memcpy(shortname, name, len);
  shortname[len] = '\0';
  if (current == NULL || strcmp(shortname, current) != 0)
    pthread_setname_np(pthread_self(), shortname);
#else
  (void)name;
  (void)current;
#endif
}

/* Reads what the thread's last actor left of its signal mask and name. */
static void note_state(uva__thread_t *t) {
  pthread_sigmask(SIG_BLOCK, NULL, &t->mask);
  t->name[0] = '\0';
#if defined(__linux__) && defined(__GLIBC__)
  (void)pthread_getname_np(pthread_self(), t->name, sizeof(t->name));
#endif
}

/* Watches t for a moment, without the lock, until ready(t) (common/spin.h: bounded, backing off, never with
 * one CPU, counted in uva_process_stats_t.spin_ns). */
static void spin(uva__thread_t *t, int (*ready)(const void *t)) {
  uva__spin((uint64_t)SPIN_US * 1000, &backoff, ready, t);
}

static int has_job(const void *arg) {
  const uva__thread_t *t = arg;

  return __atomic_load_n(&t->job, __ATOMIC_RELAXED) != NULL || __atomic_load_n(&t->end, __ATOMIC_RELAXED);
}

static int is_done(const void *arg) {
  const uva__thread_t *t = arg;

  return __atomic_load_n(&t->done, __ATOMIC_RELAXED);
}

/* lock held. Waits for an actor to run: returns it, or NULL when the thread is to end: told to, or idle for
 * idle_ns (then it has left the idle list for ended, and moved the threads there before it onto out). */
static uva__actor_shared_t *wait_job_locked(uva__thread_t *t, uva__link_t *out) {
  uint64_t idle_for;
  int spun = 0;

  for (;;) {
    if (t->job != NULL || t->end)
      return t->job;
    /* Programs spawn in runs (a loop of spawns, a supervisor's restarts, a task pool's workers): a thread
     * that may be kept watches for its next actor before it sleeps, and the spawn costs no wakeup. */
    if (!spun && t->keep && !exiting) {
      spun = 1;
      uv_mutex_unlock(&lock);
      spin(t, has_job);
      uv_mutex_lock(&lock);
      continue;
    }
    /* Timed even before its joiner puts it on the idle list, which wakes nobody. */
    idle_for = uva__list_empty(&t->link) ? 0 : uv_hrtime() - t->idle_since;
    if (idle_for < idle_ns || holds > 0) {
      (void)uv_cond_timedwait(&t->wake, &lock, idle_for < idle_ns ? idle_ns - idle_for : idle_ns);
      continue;
    }
    uva__list_remove(&t->link);
    count_idle(-1);
    uva__list_move(&ended, out);
    uva__list_insert_tail(&ended, &t->link);
    return NULL;
  }
}

static void thread_main(void *arg) {
  uva__thread_t *t = arg;
  uva__link_t out = {&out, &out};
  uva__actor_shared_t *actor;
  int kept = 0;

  uv_mutex_lock(&lock);
  while ((actor = wait_job_locked(t, &out)) != NULL) {
    uv_mutex_unlock(&lock);
    /* A new thread has the spawner's signal mask and name already; a kept one takes them where its last
     * actor left others. */
    if (kept && memcmp(&actor->spawner_mask, &t->mask, sizeof(t->mask)) != 0)
      pthread_sigmask(SIG_SETMASK, &actor->spawner_mask, NULL);
    if (kept || actor->self.name[0] != '\0')
      set_name(actor->self.name[0] != '\0' ? actor->self.name : actor->spawner_name, kept ? t->name : NULL);
    kept = 1;
    uva__actor_thread(actor);
    uv_mutex_lock(&lock);
    t->job = NULL;
    __atomic_store_n(&t->done, 1, __ATOMIC_RELAXED);
    /* After the unlock, so that the joiner does not wake to a held lock: t outlives the call, since the
     * joiner either keeps it or joins this thread before it frees it. */
    uv_mutex_unlock(&lock);
    uv_cond_signal(&t->done_cond);
    note_state(t); /* while the joiner goes on */
    uv_mutex_lock(&lock);
  }
  uv_mutex_unlock(&lock);
  if (t->loop_open)
    uv_loop_close(&t->loop);
  join_all(&out);
}

int uva__thread_loop_open(uva__actor_shared_t *actor) {
  uva__thread_t *t = actor->thread;
  int err;

  if (t->loop_open) {
    /* Proved empty (uva__thread_loop_close()); the rest of what a new loop has: no data, no stop asked, the
     * time now. */
    t->loop.data = NULL;
    t->loop.stop_flag = 0;
    uv_update_time(&t->loop);
  } else {
    err = UVA__FAULT() ? UV_ENOMEM : uv_loop_init(&t->loop);
    if (err != 0)
      return err;
    t->loop_flags = t->loop.flags;
    t->loop_open = 1;
  }
  actor->self.loop = &t->loop;
  return 0;
}

static void count_handle(uv_handle_t *handle, void *arg) {
  (void)handle;
  ++*(unsigned int *)arg;
}

/* Whether the loop holds a descriptor a new loop has not: libuv opens some at their first use and keeps
 * them until uv_loop_close(): a spare one at the first stream (for accept()'s EMFILE), inotify's at the
 * first uv_fs_event_t. */
static int holds_lazy_descriptors(const uv_loop_t *loop) {
#ifdef __linux__
  if (loop->inotify_fd != -1)
    return 1;
#endif
  return loop->emfile_fd != -1;
}

void uva__thread_loop_close(uva__actor_shared_t *actor, int reusable) {
  uva__thread_t *t = actor->thread;
  unsigned int handles = 0;

  /* Empty as a new loop: no handle (uv_walk() shows all but libuv's own), nothing active or closing, no
   * option set (uv_loop_configure()), no idle time counted, no descriptor beyond a new loop's. */
  if (reusable && t->keep) {
    uv_walk(&t->loop, count_handle, &handles);
    if (handles == 0 && !uv_loop_alive(&t->loop) && t->loop.flags == t->loop_flags &&
        uv_metrics_idle_time(&t->loop) == 0 && !holds_lazy_descriptors(&t->loop))
      return;
  }
  uv_loop_close(&t->loop);
  t->loop_open = 0;
}

/* Gives actor to a kept thread with stack_size, taken off the idle list, and returns it; or NULL. */
static uva__thread_t *take_idle(uva__actor_shared_t *actor, size_t stack_size) {
  uva__thread_t *t = NULL;
  uva__link_t *l;

  uv_mutex_lock(&lock);
  uva__list_foreach(l, &idle) {
    if (THREAD_OF(l)->stack_size == stack_size) {
      t = THREAD_OF(l);
      uva__list_remove(&t->link);
      count_idle(-1);
      actor->thread = t;
      __atomic_store_n(&t->job, actor, __ATOMIC_RELEASE); /* a spinning thread takes it without the lock */
      break;
    }
  }
  uv_mutex_unlock(&lock);
  /* After the unlock, which the thread would wake to; it cannot end, it has a job. A thread still spinning
   * waits on no condition, and the signal costs no system call. */
  if (t != NULL)
    uv_cond_signal(&t->wake);
  return t;
}

/* A new thread for actor, which it starts on at once. */
static int thread_new(uva__actor_shared_t *actor, size_t stack_size, int keep) {
  uv_thread_options_t options;
  uva__thread_t *t;
  int err;

  t = uva__calloc(1, sizeof(*t));
  if (t == NULL)
    return UV_ENOMEM;
  err = uv_cond_init(&t->wake);
  if (err != 0)
    goto fail_wake;
  err = uv_cond_init(&t->done_cond);
  if (err != 0)
    goto fail_done;
  uva__list_init(&t->link);
  t->stack_size = stack_size;
  t->keep = keep;
  t->job = actor; /* before the thread exists: nobody else looks */
  actor->thread = t;
  uv_once(&exit_once, register_exit);
  options.flags = stack_size != 0 ? UV_THREAD_HAS_STACK_SIZE : 0;
  options.stack_size = stack_size;
  err = UVA__FAULT() ? UV_EAGAIN : uv_thread_create_ex(&t->thread, &options, thread_main, t);
  if (err == 0)
    return 0;
  actor->thread = NULL;
  uv_cond_destroy(&t->done_cond);
fail_done:
  uv_cond_destroy(&t->wake);
fail_wake:
  free(t);
  return err;
}

int uva__thread_start(uva__actor_shared_t *actor, size_t stack_size, int keep) {
  /* idle_count is read without the lock: a miss only makes a new thread. */
  if (!keep || __atomic_load_n(&idle_count, __ATOMIC_RELAXED) == 0)
    return thread_new(actor, stack_size, keep);
  /* What a new thread would inherit, for a kept one to take: read before the thread can see the actor. */
  pthread_sigmask(SIG_BLOCK, NULL, &actor->spawner_mask);
  actor->spawner_name[0] = '\0';
#if defined(__linux__) && defined(__GLIBC__)
  if (actor->self.name[0] == '\0')
    (void)pthread_getname_np(pthread_self(), actor->spawner_name, sizeof(actor->spawner_name));
#endif
  return take_idle(actor, stack_size) != NULL ? 0 : thread_new(actor, stack_size, keep);
}

void uva__thread_spin_done(uva__actor_shared_t *actor) {
  spin(actor->thread, is_done);
}

void uva__thread_join(uva__actor_shared_t *actor) {
  uva__thread_t *t = actor->thread;
  uva__link_t out = {&out, &out};
  int keep;

  uv_mutex_lock(&lock);
  while (!t->done)
    uv_cond_wait(&t->done_cond, &lock);
  t->done = 0;
  if (max_idle == MAX_IDLE_UNSET)
    max_idle = default_max_idle();
  keep = t->keep && !exiting && idle_count < max_idle;
  if (keep) {
    t->idle_since = uv_hrtime();
    uva__list_insert_tail(idle.next, &t->link); /* first */
    count_idle(1);
  } else {
    __atomic_store_n(&t->end, 1, __ATOMIC_RELAXED);
    uv_cond_signal(&t->wake);
  }
  uva__list_move(&ended, &out);
  uv_mutex_unlock(&lock);
  if (!keep) {
    uv_thread_join(&t->thread);
    thread_free(t);
  }
  join_all(&out);
}

int uva_actor_set_reuse(unsigned int max, unsigned int idle_ms) {
  uva__link_t out = {&out, &out};
  uva__link_t *l;

  if ((max > UVA_REUSE_MAX && max != UVA_REUSE_DEFAULT) || idle_ms > UVA_REUSE_IDLE_MS_MAX)
    return UV_EINVAL;
  uv_mutex_lock(&lock);
  max_idle = max == UVA_REUSE_DEFAULT ? default_max_idle() : max;
  idle_ns = (uint64_t)(idle_ms != 0 ? idle_ms : DEFAULT_IDLE_MS) * 1000000;
  collect_locked(max_idle, &out);
  /* Those it keeps wait by the new idle time from now. */
  uva__list_foreach(l, &idle) uv_cond_signal(&THREAD_OF(l)->wake);
  uv_mutex_unlock(&lock);
  join_all(&out);
  return 0;
}

void uva__threads_hold(void) {
  uva__link_t out = {&out, &out};

  uv_mutex_lock(&lock);
  holds++;
  uva__list_move(&ended, &out); /* one may still be on its way out of the kernel */
  uv_mutex_unlock(&lock);
  join_all(&out);
}

void uva__threads_release(void) {
  uv_mutex_lock(&lock);
  holds--;
  uv_mutex_unlock(&lock);
}
