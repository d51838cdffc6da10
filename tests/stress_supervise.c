/* Stress for supervisors: supervision trees whose children fail at random, every event checked against a
 * model of the strategy.
 *
 * Rounds, one after another on main's loop, for UVA_STRESS_SECONDS (default 3). A round makes a root
 * supervisor with a random strategy, intensity R (1..60, over a period of an hour, so the limit is exact) and
 * now and then a backoff, and 2..6 children of random restart types. A child is a worker, or (one in five)
 * a subtree: an actor that runs a supervisor of its own over 2..4 workers, with its own strategy and
 * intensity, and fails (exit 9) when that supervisor gives up, which its parent sees like any failure. Each
 * worker instance picks its fate as it starts: to fail in main (return a code, or uva_self_fail()), to end
 * normally in main, to end a moment later (uva_self_exit() with 0 or a code, or uva_self_fail()), or to run
 * until stopped; and a chaos timer on each supervisor's loop terminates one of its children now and then (a
 * terminate that is not the supervisor's own: a failure like any other). A round ends when its root gives up,
 * or it is closed after a random time.
 *
 * The model. Each supervisor's events go, in order, through a model of what supervise.h promises (a copy of
 * the rules, not of the code): a child starts only when no stop is under way; a stop is one child at a time,
 * the last one marked first, and only children the supervisor marked get STOPPED; a child's own end while it
 * is not marked is a decision: restarted or not by its restart type, counted against the intensity (the
 * (R + 1)th decision gives up, never an earlier one: GAVE_UP names it, after every child stopped), and the
 * strategy marks the children to stop and owes each its restart, with the cause; every RESTARTED pays a debt
 * with its latest cause and restart count, in order under one_for_all and rest_for_one; a temporary child is
 * never restarted; nothing is owed when the supervisor gives up or closes. Every round's root must give up or
 * close with no child left running; nothing may be owed then.
 *
 * What the process holds: after a first round to warm up, the threads, the descriptors and (outside the
 * sanitizers and valgrind, which count their own) the heap in use must be back where they were after every
 * round, over thousands of restarts. glibc's per-thread caches would hold up to some 200 KiB of freed blocks
 * on main's thread and hide a small leak, so the program runs itself again with them off (GLIBC_TUNABLES),
 * and the heap may not grow by more than HEAP_SLACK. Leaks and races are for ASan, valgrind and TSan.
 *
 * The seed comes from argv[1], else UVA_STRESS_SEED, else the clock; it is printed first so that a failing
 * run can be replayed (thread scheduling still varies). Speaks TAP. */
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stress.h"
#include "uvactor.h"

#define MAX_CHILDREN 6
#define MAX_SUB_CHILDREN 4
#define HANG_GUARD_MS 60000
#include "proc_counts.h"
#define SUBTREE_GAVE_UP 9
/* glibc's own bookkeeping as the number of threads alive at once reaches new peaks (a cached stack's TLS). */
#define HEAP_SLACK (64 * 1024)
#define NO_TCACHE "glibc.malloc.tcache_count=0"

#include "sanitizers.h"

/* ---- failures, from any thread ----------------------------------------------------------------- */

static atomic_int failures;
static char first_failure[512];
static uv_mutex_t failure_lock;

static void fail(const char *fmt, ...) {
  va_list ap;

  uv_mutex_lock(&failure_lock);
  if (atomic_fetch_add(&failures, 1) == 0) {
    va_start(ap, fmt);
    vsnprintf(first_failure, sizeof(first_failure), fmt, ap);
    va_end(ap);
  }
  uv_mutex_unlock(&failure_lock);
}

static uint64_t seed;
static atomic_uint_fast64_t instances; /* worker instances started, for their random streams */

/* Counts, over the run (any thread). */
static atomic_uint_fast64_t n_starts, n_restarts, n_exits, n_stops, n_gave_up, n_decisions, n_terminates;

/* ---- the model ------------------------------------------------------------------------------------ */

enum { M_RUNNING, M_GIVING_UP, M_GAVE_UP, M_CLOSING };

typedef struct {
  const char *who; /* "root" or "subtree" */
  int n;
  uva_supervisor_strategy strategy;
  unsigned int intensity;
  uva_restart_type type[MAX_CHILDREN];
  int removed[MAX_CHILDREN]; /* a temporary child that ended */
  int running[MAX_CHILDREN];
  int must_stop[MAX_CHILDREN];
  int owed[MAX_CHILDREN]; /* a restart owed: 1 + the cause's index, or 0 */
  unsigned int restarts[MAX_CHILDREN];
  int in_flight; /* the child being stopped, or -1 */
  int mode;
  int give_up_cause;
  unsigned int decisions;
} model_t;

static void model_init(model_t *m, const char *who, int n, uva_supervisor_strategy strategy,
                       unsigned int intensity) {
  memset(m, 0, sizeof(*m));
  m->who = who;
  m->n = n;
  m->strategy = strategy;
  m->intensity = intensity;
  m->in_flight = -1;
  m->mode = M_RUNNING;
}

#define CHECK(m, cond, ...)                        \
  do {                                             \
    if (!(cond)) {                                 \
      char what_[256];                             \
      snprintf(what_, sizeof(what_), __VA_ARGS__); \
      fail("%s: %s (%s)", (m)->who, what_, #cond); \
    }                                              \
  } while (0)

static int stop_under_way(const model_t *m) {
  int i;

  for (i = 0; i < m->n; i++)
    if (m->running[i] && m->must_stop[i])
      return 1;
  return 0;
}

/* After each event: the next stop, if none is under way, is the last marked child still running. */
static void model_pick_stop(model_t *m) {
  int i;

  if (m->in_flight >= 0)
    return;
  for (i = m->n - 1; i >= 0; i--)
    if (m->running[i] && m->must_stop[i]) {
      m->in_flight = i;
      return;
    }
}

/* Marks every running child to stop, owes nothing: giving up, closing. */
static void model_stop_all(model_t *m) {
  int i;

  for (i = 0; i < m->n; i++) {
    m->owed[i] = 0;
    m->must_stop[i] = m->running[i];
  }
  model_pick_stop(m);
}

/* A child that was not marked ended by itself with code: a decision. */
static void model_decide(model_t *m, int c, int code) {
  int i;
  int again;

  if (m->mode != M_RUNNING) {
    m->removed[c] |= m->type[c] == UVA_TEMPORARY;
    return;
  }
  again = m->type[c] == UVA_PERMANENT || (m->type[c] == UVA_TRANSIENT && code != 0);
  if (!again) {
    m->owed[c] = 0;
    m->removed[c] |= m->type[c] == UVA_TEMPORARY;
    return;
  }
  atomic_fetch_add(&n_decisions, 1);
  if (++m->decisions > m->intensity) {
    m->mode = M_GIVING_UP;
    m->give_up_cause = c;
    model_stop_all(m);
    return;
  }
  for (i = 0; i < m->n; i++) {
    if (m->removed[i] ||
        (i != c && (m->strategy == UVA_ONE_FOR_ONE || (m->strategy == UVA_REST_FOR_ONE && i < c))))
      continue;
    m->must_stop[i] = m->running[i];
    m->owed[i] = m->type[i] != UVA_TEMPORARY ? c + 1 : 0;
  }
}

static int child_index(const char *id) {
  return id != NULL && id[0] == 'c' ? atoi(id + 1) : -1;
}

static void model_event(model_t *m, const uva_supervisor_event_t *e) {
  int c = child_index(e->child);
  int cause = child_index(e->cause);
  int i;

  if (e->type != UVA_SUPERVISOR_GAVE_UP) {
    CHECK(m, c >= 0 && c < m->n && !m->removed[c], "an event for child %s", e->child);
    if (c < 0 || c >= m->n)
      return;
  }
  switch (e->type) {
  case UVA_SUPERVISOR_STARTED:
    atomic_fetch_add(&n_starts, 1);
    CHECK(m, !m->running[c] && m->restarts[c] == 0, "STARTED %s", e->child);
    CHECK(m, !stop_under_way(m), "STARTED %s while a stop is under way", e->child);
    m->running[c] = 1;
    break;
  case UVA_SUPERVISOR_RESTARTED:
    atomic_fetch_add(&n_restarts, 1);
    CHECK(m, m->mode == M_RUNNING, "RESTARTED %s after giving up or closing", e->child);
    CHECK(m, !m->running[c], "RESTARTED %s while it runs", e->child);
    CHECK(m, m->owed[c] != 0, "RESTARTED %s: no restart was owed", e->child);
    CHECK(m, cause == m->owed[c] - 1, "RESTARTED %s by %s: the cause is c%d", e->child, e->cause,
          m->owed[c] - 1);
    CHECK(m, e->restarts == ++m->restarts[c], "RESTARTED %s: restart %u, the model counts %u", e->child,
          e->restarts, m->restarts[c]);
    CHECK(m, !stop_under_way(m), "RESTARTED %s while a stop is under way", e->child);
    if (m->strategy != UVA_ONE_FOR_ONE)
      for (i = 0; i < c; i++)
        CHECK(m, m->owed[i] == 0, "RESTARTED %s before c%d, which is owed a restart too", e->child, i);
    m->owed[c] = 0;
    m->running[c] = 1;
    break;
  case UVA_SUPERVISOR_EXITED:
    atomic_fetch_add(&n_exits, 1);
    if (!m->running[c]) {
      /* A spawn that failed: its error, and a decision like any end. */
      CHECK(m, e->exit_code < UVA_EXIT_LINKED, "EXITED %s %d, which was not running", e->child, e->exit_code);
      m->owed[c] = 0;
      model_decide(m, c, e->exit_code);
      break;
    }
    m->running[c] = 0;
    if (m->must_stop[c]) {
      /* Marked to stop, it ended by itself first: no decision. */
      m->must_stop[c] = 0;
      if (m->in_flight == c)
        m->in_flight = -1;
      m->removed[c] |= m->type[c] == UVA_TEMPORARY;
    } else {
      model_decide(m, c, e->exit_code);
    }
    break;
  case UVA_SUPERVISOR_STOPPED:
    atomic_fetch_add(&n_stops, 1);
    CHECK(m, m->running[c] && m->must_stop[c], "STOPPED %s, which was not marked", e->child);
    CHECK(m, m->in_flight == c, "STOPPED %s out of order: the stop under way is c%d", e->child, m->in_flight);
    CHECK(m, e->exit_code == UVA_EXIT_TERMINATED, "STOPPED %s %d", e->child, e->exit_code);
    m->running[c] = 0;
    m->must_stop[c] = 0;
    m->in_flight = -1;
    m->removed[c] |= m->type[c] == UVA_TEMPORARY;
    break;
  case UVA_SUPERVISOR_STOP_TIMEOUT:
    break; /* a loaded machine; the stop still comes */
  case UVA_SUPERVISOR_GAVE_UP:
    atomic_fetch_add(&n_gave_up, 1);
    CHECK(m, m->mode == M_GIVING_UP, "GAVE_UP after %u decisions, intensity %u", m->decisions, m->intensity);
    CHECK(m, cause == m->give_up_cause, "GAVE_UP by %s, the model says c%d", e->cause, m->give_up_cause);
    CHECK(m, !stop_under_way(m), "GAVE_UP before every child stopped");
    m->mode = M_GAVE_UP;
    break;
  }
  model_pick_stop(m);
}

/* The supervisor closed: nothing runs, nothing is owed. */
static void model_closed(model_t *m) {
  int i;

  for (i = 0; i < m->n; i++) {
    CHECK(m, !m->running[i], "c%d still runs after the close", i);
    CHECK(m, m->owed[i] == 0, "c%d is still owed a restart", i);
  }
}

/* ---- workers ----------------------------------------------------------------------------------- */

/* A worker slot: one instance at a time (the next starts after the last one ended), so what a worker
 * needs past its main lives here. */
typedef struct {
  uv_timer_t timer;
  uva_self_t *self;
  int code;
  int how;
} worker_t;

enum { LATER_EXIT, LATER_CODE, LATER_FAIL };

static void on_worker_timer(uv_timer_t *timer) {
  worker_t *w = timer->data;

  if (w->how == LATER_EXIT)
    uva_self_exit(w->self, 0);
  else if (w->how == LATER_CODE)
    uva_self_exit(w->self, w->code);
  else
    uva_self_fail(w->self, w->code, "failed later");
}

static void on_worker_message(uva_port_t *port, uva_msg_t *msg) {
  (void)port;
  uva_msg_free(msg);
}

static int worker_main(uva_self_t *self) {
  worker_t *w = uva_self_arg(self);
  uint64_t rng = seed ^ (0x9E3779B97F4A7C15ULL * (atomic_fetch_add(&instances, 1) + 1));
  unsigned int fate = (unsigned int)(next_random(&rng) % 100);

  w->self = self;
  w->code = 1 + (int)(next_random(&rng) % 3);
  if (fate < 12)
    return w->code; /* fails as it starts */
  if (fate < 20) {
    uva_self_fail(self, w->code, "failed at start");
    return 0;
  }
  if (fate < 24)
    return 0; /* done at once */
  /* The rest runs until stopped, or until its timer says. */
  MUST(uva_port_start(uva_self_port(self), uva_self_loop(self), on_worker_message, NULL));
  if (fate < 64) {
    w->how = (int)(next_random(&rng) % 3);
    MUST(uv_timer_init(uva_self_loop(self), &w->timer));
    w->timer.data = w;
    MUST(uv_timer_start(&w->timer, on_worker_timer, next_random(&rng) % 3, 0));
  }
  return 0;
}

/* ---- supervisors ------------------------------------------------------------------------------- */

/* What a supervisor of the run needs: its handle, its model, its chaos timer. */
typedef struct {
  uva_supervisor_t sup;
  model_t model;
  uv_timer_t chaos;
  uint64_t rng;
  uva_self_t *self; /* a subtree's actor; NULL for a root */
  worker_t workers[MAX_CHILDREN];
  int closed;
} tree_t;

static void on_event(uva_supervisor_t *sup, const uva_supervisor_event_t *e) {
  tree_t *t = sup->data;

  model_event(&t->model, e);
  if (e->type == UVA_SUPERVISOR_GAVE_UP && t->self != NULL)
    uva_self_exit(t->self, SUBTREE_GAVE_UP); /* to its own supervisor, a failure */
}

/* Now and then terminates one of the supervisor's children: not its own stop, a failure. */
static void on_chaos(uv_timer_t *timer) {
  tree_t *t = timer->data;
  char id[8];
  uva_actor_t *actor;

  if (!chance(&t->rng, 3000))
    return;
  snprintf(id, sizeof(id), "c%d", (int)(next_random(&t->rng) % (uint64_t)t->model.n));
  actor = uva_supervisor_child(&t->sup, id);
  if (actor != NULL && uva_actor_terminate(actor) == 0)
    atomic_fetch_add(&n_terminates, 1);
}

static int subtree_main(uva_self_t *self);

/* Builds t's supervisor on loop with n children (a subtree among them, for a root, now and then). */
static void tree_start(tree_t *t, uv_loop_t *loop, const char *who, int n, tree_t *subtrees,
                       uva_supervisor_event_cb event_cb) {
  uva_supervisor_options_t options = {.event_cb = event_cb, .period_ms = 3600000};
  uva_actor_options_t child_options[MAX_CHILDREN];
  uva_child_spec_t spec;
  char id[8];
  int i;

  options.strategy = (uva_supervisor_strategy)(next_random(&t->rng) % 3);
  options.intensity = 1 + (unsigned int)(next_random(&t->rng) % (t->self != NULL ? 12 : 60));
  if (chance(&t->rng, 2000)) {
    options.backoff_min_ms = 1;
    options.backoff_max_ms = 2;
    options.backoff_jitter = 50;
  } else {
    options.backoff_min_ms = UVA_BACKOFF_OFF;
  }
  t->sup.data = t;
  MUST(uva_supervisor_init(&t->sup, loop, &options));
  model_init(&t->model, who, n, options.strategy, options.intensity);
  for (i = 0; i < n; i++) {
    memset(&child_options[i], 0, sizeof(child_options[i]));
    memset(&spec, 0, sizeof(spec));
    snprintf(id, sizeof(id), "c%d", i);
    spec.id = id;
    spec.restart = (uva_restart_type)(next_random(&t->rng) % 3);
    spec.options = &child_options[i];
    if (subtrees != NULL && chance(&t->rng, 2000)) {
      spec.main_cb = subtree_main;
      child_options[i].arg = &subtrees[i];
    } else {
      spec.main_cb = worker_main;
      child_options[i].arg = &t->workers[i];
    }
    t->model.type[i] = spec.restart;
    MUST(uva_supervisor_add(&t->sup, &spec));
  }
  MUST(uv_timer_init(loop, &t->chaos));
  t->chaos.data = t;
  MUST(uv_timer_start(&t->chaos, on_chaos, 1, 1));
  MUST(uva_supervisor_start(&t->sup));
}

/* A subtree: its supervisor on the actor's loop, 2..4 workers; its memory is its slot's (tree_t). Its
 * teardown (when its parent stops it) takes the supervisor, the workers and the chaos timer. */
static int subtree_main(uva_self_t *self) {
  tree_t *t = uva_self_arg(self);

  memset(t, 0, sizeof(*t));
  t->self = self;
  t->rng = seed ^ (0xC2B2AE3D27D4EB4FULL * (atomic_fetch_add(&instances, 1) + 1));
  tree_start(t, uva_self_loop(self), "subtree", 2 + (int)(next_random(&t->rng) % (MAX_SUB_CHILDREN - 1)),
             NULL, on_event);
  return 0;
}

/* ---- rounds on main's loop ----------------------------------------------------------------------- */

static struct {
  uv_loop_t loop;
  uv_timer_t end; /* closes a round that has not given up */
  uint64_t rng;
  uint64_t deadline;
  tree_t root;
  tree_t subtrees[MAX_CHILDREN];
  int rounds;
  int gave_up_rounds;
  int round_done;
} g;

static void on_chaos_closed(uv_handle_t *handle) {
  (void)handle;
  g.round_done = 1;
}

static void on_root_closed(uva_supervisor_t *sup) {
  tree_t *t = sup->data;

  model_closed(&t->model);
  uv_close((uv_handle_t *)&t->chaos, on_chaos_closed);
}

static void close_root(void) {
  uv_timer_stop(&g.end);
  if (g.root.model.mode == M_RUNNING || g.root.model.mode == M_GIVING_UP) {
    g.root.model.mode = M_CLOSING;
    model_stop_all(&g.root.model);
  }
  MUST(uva_supervisor_close(&g.root.sup, on_root_closed));
}

static void on_round_end(uv_timer_t *timer) {
  (void)timer;
  close_root();
}

static void on_root_event(uva_supervisor_t *sup, const uva_supervisor_event_t *e) {
  on_event(sup, e);
  if (e->type == UVA_SUPERVISOR_GAVE_UP) {
    g.gave_up_rounds++;
    close_root();
  }
}

static void run_round(void) {
  g.round_done = 0;
  memset(&g.root, 0, sizeof(g.root));
  g.root.rng = next_random(&g.rng);
  tree_start(&g.root, &g.loop, "root", 2 + (int)(next_random(&g.rng) % (MAX_CHILDREN - 1)), g.subtrees,
             on_root_event);
  MUST(uv_timer_start(&g.end, on_round_end, 5 + next_random(&g.rng) % 60, 0));
  while (!g.round_done)
    uv_run(&g.loop, UV_RUN_ONCE);
  g.rounds++;
}

/* Threads kept from ended actors (uva_actor_set_reuse()) during the rounds, and the descriptors each one's
 * loop holds (docs/actors.md, "What an actor holds"). */
#define KEPT 2
#define KEPT_LOOP_FDS 4

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33)) && !SANITIZED
#define HEAP_COUNTED 1
static size_t heap_in_use(void) {
  return mallinfo2().uordblks;
}
#else
#define HEAP_COUNTED 0
static size_t heap_in_use(void) {
  return 0;
}
#endif

/* Where the heap is counted, runs this program again, once, with glibc's per-thread caches off; and without
 * uvactor's recycling of messages, a bounded pool of freed blocks too. */
static void without_caches(char **argv) {
  const char *tunables = getenv("GLIBC_TUNABLES");
  char value[512];

  if (!HEAP_COUNTED || (tunables != NULL && strstr(tunables, NO_TCACHE) != NULL))
    return;
  snprintf(value, sizeof(value), "%s%s%s", tunables != NULL ? tunables : "", tunables != NULL ? ":" : "",
           NO_TCACHE);
  if (setenv("GLIBC_TUNABLES", value, 1) == 0 && setenv("UVA_NO_RECYCLE", "1", 1) == 0)
    execv("/proc/self/exe", argv);
  fprintf(stderr, "# cannot run again without the allocator's caches: the heap check may fail\n");
}

/* A joined actor's thread that its pool does not keep ends right after the join returned: waits (a second
 * at most) for the threads and descriptors to be back under the bounds before they are counted. */
static void settle(int threads_max, int fds_max) {
  uint64_t deadline = uv_hrtime() + (uint64_t)1000000000;

  while ((count_threads() > threads_max || count_fds() > fds_max) && uv_hrtime() < deadline)
    uv_sleep(1);
}

int main(int argc, char **argv) {
  double seconds = env_number("UVA_STRESS_SECONDS", 3);
  int threads, fds, grew_threads = 0, grew_fds = 0;
  size_t heap, heap_max = 0;
  uint64_t start;

  without_caches(argv);
  MUST(uv_mutex_init(&failure_lock));
  seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)env_number("UVA_STRESS_SEED", 0);
  if (seed == 0)
    seed = uv_hrtime() | 1;
  g.rng = seed;
  printf("1..3\n# seed %" PRIu64 " (UVA_STRESS_SEED=%" PRIu64 " or argv[1] to replay), %.3g s\n", seed, seed,
         seconds);
  fflush(stdout);
  MUST(uv_loop_init(&g.loop));
  MUST(uv_timer_init(&g.loop, &g.end));
  start = uv_hrtime();
  g.deadline = start + (uint64_t)(seconds * 1e9);
  run_round(); /* warm: libuv's first loops, the recycled messages */
  /* The baseline without kept threads; the rounds may keep up to KEPT, each with its loop's descriptors. */
  MUST(uva_actor_set_reuse(0, 0));
  threads = count_threads();
  fds = count_fds();
  MUST(uva_actor_set_reuse(KEPT, UVA_REUSE_IDLE_MS_MAX));
  heap = heap_in_use();
  while (uv_hrtime() < g.deadline && atomic_load(&failures) == 0) {
    run_round();
    settle(threads + KEPT, fds + KEPT * KEPT_LOOP_FDS);
    grew_threads += count_threads() > threads + KEPT;
    grew_fds += count_fds() > fds + KEPT * KEPT_LOOP_FDS;
    if (heap_in_use() > heap_max)
      heap_max = heap_in_use();
  }
  uv_close((uv_handle_t *)&g.end, NULL);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&g.loop) != 0)
    fail("main's loop has handles left");
  printf("# rounds %d (%d gave up, the rest closed), starts %" PRIu64 ", restarts %" PRIu64 ", exits %" PRIu64
         ", stops %" PRIu64 ", decisions %" PRIu64 ", gave up %" PRIu64
         " (subtrees included), chaos terminates %" PRIu64 ", worker instances %" PRIu64 ", %.2f s\n",
         g.rounds, g.gave_up_rounds, (uint64_t)n_starts, (uint64_t)n_restarts, (uint64_t)n_exits,
         (uint64_t)n_stops, (uint64_t)n_decisions, (uint64_t)n_gave_up, (uint64_t)n_terminates,
         (uint64_t)instances, (double)(uv_hrtime() - start) / 1e9);
  if (atomic_load(&failures) != 0)
    printf("# %s\n", first_failure);
  printf("%s 1 - every event is one the strategy, the restart types and the intensity ask for\n",
         atomic_load(&failures) == 0 ? "ok" : "not ok");
  printf("%s 2 - threads (%d) and descriptors (%d) are back after every round\n",
         grew_threads == 0 && grew_fds == 0 ? "ok" : "not ok", threads, fds);
  if (!HEAP_COUNTED)
    printf("ok 3 - # SKIP the heap is counted by the sanitizer or valgrind here\n");
  else
    printf("%s 3 - the heap does not grow with the rounds (%zu bytes after the first, at most %zu after)\n",
           heap_max <= heap + HEAP_SLACK ? "ok" : "not ok", heap, heap_max);
  return atomic_load(&failures) == 0 && grew_threads == 0 && grew_fds == 0 &&
                 (!HEAP_COUNTED || heap_max <= heap + HEAP_SLACK)
             ? 0
             : 1;
}
