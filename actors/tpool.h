/* Internal: the task pool's state, shared by actors/tpool*.c.
 *
 * The pool's side (its "owner": the loop's thread, or the dispatcher thread of a pool without a loop) holds
 * the queue, the workers and the bookkeeping; workers are actors spawned on the owner's loop. The queue is
 * under the pool's lock, and a worker with a free slot (uva_tpool_ctx_t) takes the highest task itself, as
 * libuv's threadpool threads do: no round trip through the owner per task, and priorities hold at the
 * moment a worker takes. A worker that finds nothing goes to sleep in its loop; the owner wakes it with its
 * wake message when tasks come. A finished slot goes on its worker's done list, and the worker rings its
 * bell (a message to the owner, on its port) if the bell is not already on its way: the owner takes the
 * whole list per bell, so results come back in batches. The argument and the result travel in the slot by
 * pointer: nothing is copied, and the only messages are the wake and the bell, made once per worker, so a
 * task costs no allocation.
 *
 * A pool without a loop runs the same owner code on a dispatcher actor; other threads take the lock to
 * submit, cancel, wait or read stats, and wake the dispatcher with its doorbell (one message that goes back
 * and forth) for what only it may do: start workers, arm timers, run callbacks. */
#ifndef UVA_ACTORS_TPOOL_H
#define UVA_ACTORS_TPOOL_H

#include "actor.h"

#define TPOOL_LEVELS (UVA_TPOOL_PRIORITY_MAX - UVA_TPOOL_PRIORITY_MIN + 1)
#define TPOOL_PER_THREAD_MAX 64
#define TPOOL_NAME_MAX 47
#define TPOOL_IDLE_MS_DEFAULT 5000
#define TPOOL_SPARE 32 /* slots a worker has beyond per_thread, for outcomes the owner has not read yet */
#define TPOOL_BURST 64 /* tasks a worker takes in one turn of its loop */
/* The longest run timeout (292 years); a longer one is none. uv_hrtime() stays below 2^63 for as long, so a
 * start plus the timeout, in nanoseconds, never wraps. */
#define TPOOL_TIMEOUT_MS_MAX ((uint64_t)INT64_MAX / 1000000)

typedef struct uva__tpool_s uva__tpool_t;
typedef struct uva__tpool_worker_s uva__tpool_worker_t;
typedef struct uva__tpool_hist_s uva__tpool_hist_t;

/* uva_tpool_t.state_ (odd values, so a zeroed handle is refused). */
enum { TPOOL_OPEN = 0x75740101, TPOOL_CLOSING, TPOOL_CLOSED };
/* uva_tpool_t.flags_ */
#define TPOOL_HANDLE_LOOPLESS 1u

/* uva_task_t.state_ */
enum {
  TASK_QUEUED = 0x75740201, /* in the pool's queue */
  TASK_RUNNING,             /* handed to a worker */
  TASK_DUE,                 /* completed; its callback (or uva_tpool_wait()) is due */
  TASK_DONE                 /* callback run, or collected: the caller's again */
};
/* uva_task_t.flags_ */
#define TASK_TEXT_OWNED 1u /* text_ is malloc()ed */
#define TASK_WAITED 2u     /* [lock] a thread is in uva_tpool_wait() for it */

/* uva_tpool_ctx_t.state */
enum { CTX_FREE, CTX_TAKEN, CTX_DONE, CTX_HELD };

/* A worker's slot: a task it took, from the moment it takes it until the pool has read its outcome. */
struct uva_tpool_ctx_s {
  uva__tpool_worker_t *worker;
  uva_tpool_ctx_t *next; /* [lock] in its worker's free list or done list */
  int state;             /* [lock] FREE; TAKEN (running, pending); DONE (outcome ready); HELD (it ended
                            its worker: decided at the worker's exit) */
  uva_task_t *task;      /* [lock] NULL once abandoned (cancelled or timed out while taken) */
  /* copied from the task when the worker takes it [lock] */
  uva_tpool_fn fn;
  uva_msg_t *arg;
  uint64_t submit_ns;
  uint64_t timeout_ns;
  int timing; /* the worker notes when the function starts and ends */
  /* both sides */
  atomic_int cancelled;
  _Atomic uint64_t start_ns; /* when the function started, 0 before (with timing) */
  /* the outcome, written by the worker before the slot is DONE */
  int status;
  uva_msg_t *result;
  char *text;
  int text_static;
  int ran;          /* the function was called */
  int ended_worker; /* the worker was stopping when the task finished: it ended the worker */
  uint64_t end_ns;
  int pending; /* [worker] returned UVA_TPOOL_PENDING, not done yet */
};

enum { WORKER_RUNNING = 1, WORKER_RETIRING, WORKER_ENDING };

struct uva__tpool_worker_s {
  uva_actor_t actor;
  uva__tpool_t *pool;
  uva__tpool_worker_t *next; /* in the pool's list of workers */
  uva__tpool_worker_t *prev;
  int state;               /* [lock] */
  unsigned int unfinished; /* [lock] slots TAKEN */
  unsigned int held;       /* [lock] slots not FREE */
  int asleep;              /* [lock] it stopped taking tasks: the pool wakes it when there are some */
  uva_msg_t *wake;         /* [lock] the pool's wake-up message to it: at rest here, or on its way */
  uva_msg_t *bell;         /* [lock] its message to the pool, "slots are DONE": at rest here, or on its way */
  uva_tpool_ctx_t *free_ctx;  /* [lock] */
  uva_tpool_ctx_t *done_head; /* [lock] */
  uva_tpool_ctx_t *done_tail;
  uint64_t born_ns;
  uint64_t idle_since; /* loop time (ms) when held fell to 0 */
  int failed;          /* its error event came */
  char *error;         /* its text, if it could be copied */
  /* the worker thread's, read by the pool after the thread is joined (or atomics) */
  uva_self_t *self;
  uv_loop_t *loop;
  void *thread_state; /* what thread_init made */
  uv_thread_t thread;
  uv_idle_t more; /* the next burst of tasks, on the next turn of its loop */
  int init_err;
  const char *init_what;              /* what failed, a static text */
  int ready;                          /* started its port: it can run tasks */
  atomic_uint_fast64_t busy_ns;       /* time in task functions (with UVA_TPOOL_STATS) */
  atomic_uint_fast64_t running_since; /* when the current function started, 0 if none */
  unsigned int nctx;
  uva_tpool_ctx_t ctx[];
};

struct uva__tpool_s {
  uva_tpool_t *handle;
  uv_loop_t *loop;
  uv_thread_t owner;
  unsigned int generation; /* the process generation it was made in: a forked child's copy refuses */
  int loopless;
  uv_mutex_t lock; /* loopless only: everything below */
  uv_cond_t cond;  /* loopless only: a task completed, or was collected */
  /* options */
  unsigned int max_threads;
  unsigned int min_threads;
  unsigned int per_thread;
  unsigned int idle_ms;
  unsigned int flags;
  size_t max_queue;
  size_t stack_size;
  char name[TPOOL_NAME_MAX + 1];
  uva_tpool_thread_init_cb thread_init;
  uva_tpool_thread_exit_cb thread_exit;
  void *arg;
  /* the queue: one FIFO per priority; nonempty has bit i set when level i has tasks */
  uva_task_t *head[TPOOL_LEVELS];
  uva_task_t *tail[TPOOL_LEVELS];
  unsigned int nonempty;
  size_t queued;
  /* workers */
  uva__tpool_worker_t *workers;
  unsigned int nworkers; /* alive: running, retiring or ending */
  unsigned int nrunning; /* RUNNING */
  unsigned int nretiring;
  unsigned int next_id;
  size_t running;  /* slots TAKEN */
  size_t inflight; /* tasks submitted and not completed */
  int spawn_err;   /* a worker could not start (its error): none is started again before the next submit */
  /* completions whose callback is due, FIFO */
  uva_task_t *due_head;
  uva_task_t *due_tail;
  size_t uncollected;    /* tasks without a callback, not yet collected by uva_tpool_wait() */
  uva_task_t *due_waits; /* those of them that completed (a list, through next_ and prev_) */
  uva_tpool_room_cb room_cb;
  /* close */
  int closing;
  unsigned int close_flags;
  int close_begun; /* the owner acted on the close flags */
  int finishing;   /* its handles are closing */
  int handles;     /* loop handles not yet closed */
  uva_tpool_close_cb close_cb;
  /* loop handles */
  uv_idle_t flush; /* runs due callbacks on the next turn */
  uv_timer_t timeouts;
  uv_timer_t idle;
  uv_check_t keepalive;     /* ref'd while the pool has work: keeps a loop pool's loop alive */
  uva_port_t lifeline;      /* started on the loop before any worker: its close tells of the loop's end */
  uva_port_t lifeline_peer; /* never started, never posted on */
  int torn_down;            /* the lifeline closed under the pool, its loop ending; the owner's alone */
  uint64_t timeouts_due;    /* hrtime the timeouts timer is set for, 0: not set */
  uint64_t timeouts_wanted; /* a worker took a task that expires before that: set it, at the next bell */
  uint64_t idle_due;
  /* a pool without a loop */
  uva_actor_t dispatcher;
  uva_self_t *dispatcher_self;
  uva_msg_t *doorbell; /* at rest here; NULL while rung */
  uva_msg_t *started;  /* the dispatcher's one message to init: it is running */
  int start_err;
  int joining;      /* a thread is in uva_tpool_join(), or the reap of the actor that made the pool */
  int joined;       /* that join succeeded: it frees the pool once every call has left */
  uva__hold_t hold; /* on the list of the actor that made the pool, whose end reaps it */
  /* stats */
  uint64_t submitted, completed, failed, cancelled, timed_out, late, worker_deaths;
  uint64_t thread_ns;     /* lifetimes of the workers that ended */
  uint64_t busy_ns_ended; /* their busy_ns */
  uva__tpool_hist_t *wait_hist;
  uva__tpool_hist_t *run_hist;
};

/* tpool.c: entering a call, the lock, and what happens after a change */
/* Checks a handle and the calling thread, and keeps a pool without a loop from being freed until
 * uva__tpool_leave(). */
int uva__tpool_enter(uva_tpool_t *pool, uva__tpool_t **pp);
void uva__tpool_leave(uva_tpool_t *pool);
void uva__tpool_lock(uva__tpool_t *p);
void uva__tpool_unlock(uva__tpool_t *p);
int uva__tpool_is_owner(const uva__tpool_t *p);
/* Runs due callbacks and room, on the owner's thread, outside the lock (takes it as needed). */
void uva__tpool_flush(uva__tpool_t *p);
/* The owner should flush and look at the pool again soon: on its next turn, or, from another thread, when
 * the doorbell wakes it. Lock held. */
void uva__tpool_poke(uva__tpool_t *p);
/* Closes the pool's handles once it is closing and nothing is left; keeps the loop alive while there is
 * work. Owner, lock held. */
void uva__tpool_settle(uva__tpool_t *p);
/* Acts on close flags set by uva_tpool_close(). Owner, lock held. */
void uva__tpool_close_step(uva__tpool_t *p);
/* Asks the workers a cancelling close marked ending to stop. Owner, without the lock: a worker may be blocked
 * in a wait under it, which the terminate ends (and takes the lock to wake). Only the owner adds and removes
 * workers, so the list holds still meanwhile. */
void uva__tpool_stop_workers(uva__tpool_t *p);

/* tpool_queue.c: the queue and completions (lock held) */
/* Tasks are queued: wakes sleeping workers that have room and, on the owner's thread, starts workers up to
 * max_threads if those are not enough. */
void uva__tpool_dispatch(uva__tpool_t *p);
/* A worker takes the highest queued task into a free slot. */
uva_tpool_ctx_t *uva__tpool_take(uva__tpool_t *p, uva__tpool_worker_t *w);
/* The task's outcome is decided: its callback becomes due (or uva_tpool_wait() may collect it). text is
 * static unless owned. */
void uva__tpool_complete(uva__tpool_t *p, uva_task_t *task, int status, uva_msg_t *result, char *text,
                         int owned);
/* Collects every completed task without a callback that no uva_tpool_wait() is collecting (their outcome is
 * freed): the end of the actor that made the pool, which no one may wait for. */
void uva__tpool_collect_all(uva__tpool_t *p);
/* Completes a task a worker has taken now, with status; the slot stays busy until the function returns. */
void uva__tpool_abandon(uva__tpool_t *p, uva_task_t *task, int status);
/* Completes every queued task with status. */
void uva__tpool_fail_queued(uva__tpool_t *p, int status, const char *text);
/* Tasks are queued and no worker is alive, nor can one be started: they fail, rather than wait forever. */
void uva__tpool_starve(uva__tpool_t *p);
void uva__tpool_arm_timeouts(uva__tpool_t *p, uint64_t due_ns);
void uva__tpool_on_timeouts(uv_timer_t *timer);

/* tpool_spawn.c: the owner's side of the workers (lock held) */
int uva__tpool_spawn(uva__tpool_t *p);
/* Starts workers up to min_threads; 0 or the first spawn's error. */
int uva__tpool_fill(uva__tpool_t *p);
/* Whether a RUNNING worker may take a task now. */
int uva__tpool_can_take(const uva__tpool_worker_t *w);
void uva__tpool_retire(uva__tpool_worker_t *w);
/* The worker is going away on its own: it gets no more tasks. */
void uva__tpool_worker_ending(uva__tpool_worker_t *w);
void uva__tpool_on_idle(uv_timer_t *timer);

/* tpool_worker.c: the worker's thread */
int uva__tpool_worker_main(uva_self_t *self);
/* Whether the calling thread is one of p's workers. */
int uva__tpool_is_worker(const uva__tpool_t *p);

/* tpool_stats.c */
int uva__tpool_stats_init(uva__tpool_t *p);
void uva__tpool_stats_free(uva__tpool_t *p);
/* Counts a completion by its status. */
void uva__tpool_count(uva__tpool_t *p, int status);
/* Records a finished function's wait and run time (with UVA_TPOOL_STATS). */
void uva__tpool_record(uva__tpool_t *p, const uva_tpool_ctx_t *ctx);

#endif /* UVA_ACTORS_TPOOL_H */
