/* uvactor task pool: run functions on worker actors and get their results back on your loop.
 *
 * A pool (uva_tpool_t) is N worker actors, each an OS thread with its own loop, and a queue of tasks that
 * lives on the pool's side, from which a worker with a free slot takes the highest task: a queued task can
 * be removed (cancel), priorities are exact, and "room again" (max_queue) means room (docs/tpool.md). A task
 * (uva_task_t, caller memory like libuv's uv_work_t) names a task function and an argument message; the
 * function runs on a worker's thread, and the task's completion callback runs exactly once, on the pool's
 * loop, with a status and, on success, the result message.
 *
 * Statuses a completion sees: 0; the task's own negative error code (returned by its function or given to
 * uva_tpool_ctx_done()); UV_EINVAL (its function returned a positive value other than UVA_TPOOL_PENDING);
 * a UVA_E* code (its result message is malformed); UV_ECANCELED (uva_tpool_cancel(), a cancelling close, or
 * the teardown of the actor whose loop the pool runs on); UV_ETIMEDOUT (its run timeout expired);
 * UV_ECONNRESET (its worker ended before the task completed: see uva_tpool_ctx_self()); the exit code of a
 * worker the task itself ended with uva_self_fail(); or the error of a worker that could not start (its
 * thread_init hook's, or UV_EAGAIN, UV_ENOMEM, UV_EMFILE). Every failure comes with a text.
 *
 * Cancellation is cooperative (C cannot stop a thread): a queued task never runs; a running task sees
 * uva_tpool_ctx_cancelled() become 1 and may stop early. Either way its completion runs at once, with
 * UV_ECANCELED, and the worker stays busy until the function returns; what it then returns is discarded
 * (counted as late in the stats). A run timeout does the same with UV_ETIMEDOUT; its clock starts when the
 * function starts, never while the task is queued.
 *
 * Threads. A pool made with a loop belongs to that loop's thread: every uva_tpool_* call on it and on its
 * tasks is made there (UV_EPERM elsewhere), and every callback runs there. A pool made without a loop runs a
 * dispatcher thread of its own; then every call may be made from any thread, tasks submitted without a
 * callback are waited for with uva_tpool_wait(), and callbacks, if given, run on the dispatcher thread.
 * The uva_tpool_ctx_* functions are for the worker thread the task runs on, except uva_tpool_ctx_cancelled().
 *
 * fork(): a pool does not survive it (its workers and dispatcher are the parent's threads). In the child,
 * every call on an inherited pool or on its tasks returns UVA_EFORKED, as on an inherited port or actor.
 *
 * Growth without breaking the ABI: uva_tpool_options_t and uva_task_options_t are zero-initialized by the
 * caller (= {0}, or memset); new fields take the place of their reserved slots, which keep the struct's
 * size and every field's offset, and a nonzero reserved slot is refused (UV_EINVAL), so a program built
 * today keeps its meaning. The handles uva_tpool_t and uva_task_t have reserved private space too.
 */
#ifndef UVACTOR_TPOOL_H
#define UVACTOR_TPOOL_H

#include "actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A task pool (its fields: struct uva_tpool_s). Caller-allocated: keep it valid until its close callback
 * (a pool without a loop: until uva_tpool_join() returned 0, or the end of the actor that made it reaped
 * it: see uva_tpool_init()). */
typedef struct uva_tpool_s uva_tpool_t;
/* A task (its fields: struct uva_task_s). Caller memory: keep it valid, untouched, until it completed (one
 * submitted without a callback: until it was collected). */
typedef struct uva_task_s uva_task_t;
/* What a task function gets: its slot on a worker. Opaque; valid until the task completes on the worker. */
typedef struct uva_tpool_ctx_s uva_tpool_ctx_t;

/* What a task function returns when it completes later, with uva_tpool_ctx_done(). */
#define UVA_TPOOL_PENDING 1

/* uva_task_options_t.priority: higher runs first; FIFO within a priority. */
#define UVA_TPOOL_PRIORITY_MIN (-7)
#define UVA_TPOOL_PRIORITY_MAX 7

/* uva_tpool_options_t.min_threads: no thread stays when the pool is idle. */
#define UVA_TPOOL_MIN_NONE (~0u)

/* uva_tpool_options_t.flags: keep the run and wait time summaries and the utilization times. */
#define UVA_TPOOL_STATS 1u

/* uva_tpool_close() flags: 0 drains (queued tasks run); this one cancels every task not yet completed. */
#define UVA_TPOOL_CLOSE_CANCEL 1u

/* The task function, on a worker's thread. arg is the task's argument (NULL if submitted without one),
 * borrowed until the task completes: read it with uva_msg_object(), take its moved buffers with
 * uva_msg_take_buffer(). Returns 0 (done: *result, NULL at entry, may be set to a message, which is then
 * consumed, and may be arg itself), a negative error code (failed: *result is freed if set; the text is
 * what uva_tpool_ctx_fail() gave, else uva_strerror()), or UVA_TPOOL_PENDING (it completes later, on this
 * worker's loop, with uva_tpool_ctx_done()). Other positive values are reserved: the task fails with
 * UV_EINVAL. */
typedef int (*uva_tpool_fn)(uva_tpool_ctx_t *ctx, uva_msg_t *arg, uva_msg_t **result);

/* The task completed. status as above; result (on success only, else NULL) is the callback's to free or
 * keep; text is NULL on success, else a message for the failure, borrowed for the call. The task's memory
 * is the caller's again, and may be submitted again from here. */
typedef void (*uva_task_cb)(uva_task_t *task, int status, uva_msg_t *result, const char *text);

/* The queue, full at the last submit, has room: a submit made now succeeds. */
typedef void (*uva_tpool_room_cb)(uva_tpool_t *pool);

/* The pool is closed: every task completed and every worker thread is joined. The handle's memory is the
 * caller's again. */
typedef void (*uva_tpool_close_cb)(uva_tpool_t *pool);

/* On each worker's thread before its first task: sets up per-thread state (a scratch buffer, a connection)
 * in *state, which tasks get from uva_tpool_ctx_state(). loop is the worker's. Returns 0, or an error code:
 * then the worker ends without taking a task, the pool starts no other worker before the next submit, and
 * if no worker runs the queued tasks they complete with that code. */
typedef int (*uva_tpool_thread_init_cb)(uv_loop_t *loop, void *arg, void **state);

/* On each worker's thread as it ends (its loop is still there, to close handles on). */
typedef void (*uva_tpool_thread_exit_cb)(uv_loop_t *loop, void *arg, void *state);

/* Options of uva_tpool_init(). Zero-initialize it: every field's zero is its default, and options itself may
 * be NULL. Init copies what it needs. */
typedef struct {
  unsigned int max_threads; /* at most this many workers; 0: the number of CPUs (uv_available_parallelism) */
  unsigned int min_threads; /* workers kept when idle; 0: max_threads; UVA_TPOOL_MIN_NONE: none */
  unsigned int idle_ms;     /* a worker above min_threads ends after this long without a task; 0: 5000 */
  unsigned int per_thread;  /* tasks a worker holds at once (running, or pending after UVA_TPOOL_PENDING);
                               0: 1, at most 64 */
  size_t max_queue;         /* tasks not yet taken by a worker; a submit beyond it fails with UV_EAGAIN;
                               0: none */
  size_t stack_size;        /* bytes of each worker thread's stack; 0: the system default; else, as for an
                               actor, at least UVA_ACTOR_STACK_MIN and not within 64 KiB of SIZE_MAX */
  const char *name;         /* workers are named "<name>-<n>" (top -H shows 15 bytes); NULL: "tpool";
                               copied, at most 47 bytes */
  unsigned int flags;       /* UVA_TPOOL_STATS */
  uva_tpool_thread_init_cb thread_init; /* may be NULL */
  uva_tpool_thread_exit_cb thread_exit; /* may be NULL */
  void *arg;                            /* given to both hooks; the caller's */
  void *reserved[6];                    /* zero */
} uva_tpool_options_t;

/* Options of uva_tpool_submit(). Zero-initialize it; options itself may be NULL. */
typedef struct {
  int priority;        /* UVA_TPOOL_PRIORITY_MIN .. UVA_TPOOL_PRIORITY_MAX; 0 is the default */
  uint64_t timeout_ms; /* the run timeout, counted from the moment the function starts; 0: none, and so is
                          one over INT64_MAX / 1000000 (292 years: past what the clock can count) */
  void *reserved[4];   /* zero */
} uva_task_options_t;

/* Count, mean and percentiles of a duration, in nanoseconds. Percentiles are within 1/32 (3%) of the
 * exact value; count, mean and max are exact. */
typedef struct {
  uint64_t count;
  uint64_t mean_ns;
  uint64_t p50_ns;
  uint64_t p90_ns;
  uint64_t p99_ns;
  uint64_t max_ns;
} uva_tpool_summary_t;

/* What uva_tpool_stats() fills in. */
typedef struct {
  unsigned int threads;      /* workers alive (starting and ending ones included) */
  unsigned int busy_threads; /* workers holding at least one task */
  size_t queued;             /* tasks waiting for a worker */
  size_t running;            /* tasks held by workers, cancelled or timed out ones included until their
                                function returns */
  /* Counted since init or the last uva_tpool_stats_reset(): */
  uint64_t submitted;
  uint64_t completed;     /* status 0 */
  uint64_t failed;        /* any other status but these three: */
  uint64_t cancelled;     /* UV_ECANCELED */
  uint64_t timed_out;     /* UV_ETIMEDOUT */
  uint64_t late;          /* results of cancelled or timed out tasks, discarded when they came */
  uint64_t worker_deaths; /* workers that ended while the pool needed them, and were replaced */
  /* With UVA_TPOOL_STATS, since init (never reset; for uva_tpool_utilization()), else 0: */
  uint64_t busy_ns;   /* time worker threads spent in task functions */
  uint64_t thread_ns; /* time worker threads were alive */
  /* With UVA_TPOOL_STATS, since init or the last reset, else zero: */
  uva_tpool_summary_t wait; /* submit to start */
  uva_tpool_summary_t run;  /* start to completion on the worker */
  uint64_t reserved[8];
} uva_tpool_stats_t;

/* Private: what a pool handle holds after UVA_HANDLE_FIELDS. */
#define UVA_TPOOL_PRIVATE_FIELDS struct uva__tpool_s *impl_;

/* A task pool. Public: data. Read-only: loop (the loop it belongs to, NULL for a pool without one) and
 * type (UVA_TPOOL). */
struct uva_tpool_s {
  UVA_HANDLE_FIELDS
  UVA_TPOOL_PRIVATE_FIELDS
};

/* Private: what a task holds after data. */
#define UVA_TASK_PRIVATE_FIELDS                                            \
  struct uva_task_s *next_;                                                \
  struct uva_task_s *prev_;                                                \
  struct uva_tpool_s *pool_;                                               \
  struct uva_tpool_ctx_s *ctx_;                                            \
  uva_tpool_fn fn_;                                                        \
  uva_msg_t *msg_; /* the argument until the task runs, then the result */ \
  uva_task_cb cb_;                                                         \
  char *text_;                                                             \
  uint64_t timeout_ms_;                                                    \
  uint64_t submit_ns_;                                                     \
  int status_;                                                             \
  int priority_;                                                           \
  unsigned int state_;                                                     \
  unsigned int flags_;                                                     \
  void *reserved_[4];

/* A task: a request, like uv_work_t, not a handle. Public: data. */
struct uva_task_s {
  void *data; /* the caller's */
  UVA_TASK_PRIVATE_FIELDS
};

/* Makes a pool. loop: the loop, run by the calling thread, that owns the pool and runs its callbacks; NULL
 * for a pool with a dispatcher thread of its own (see Threads above). options may be NULL. min_threads
 * workers are started now. If loop is an actor's and the actor ends before the pool is closed, its
 * teardown closes the pool as UVA_TPOOL_CLOSE_CANCEL would: every worker is asked to stop before the first
 * is joined (none starts a queued task meanwhile), every task not completed completes with UV_ECANCELED
 * (those callbacks run in the teardown), and once the workers are joined the pool's state is freed and its
 * handle is closed (close_cb runs if a close asked for one). If loop is NULL and the calling thread is an
 * actor's that ends without having joined the pool, its end reaps the pool as it joins a loop-less actor it
 * spawned: the pool closes as UVA_TPOOL_CLOSE_CANCEL would (the callbacks run on the dispatcher thread), its
 * threads are joined, the tasks submitted without a callback that no uva_tpool_wait() collects are collected
 * (their outcome freed), and its state is freed; the handle and those tasks stay the caller's memory and
 * must be valid until then. Afterwards uva_tpool_join() returns UV_EALREADY, and so does uva_tpool_wait() or
 * uva_tpool_cancel() on its tasks; other calls on it UV_EBADF. Returns 0, UV_EINVAL (NULL pool, an option
 * out of range, a nonzero reserved slot), UV_ENOMEM, UV_EAGAIN (no thread could be made), UV_EMFILE,
 * UV_EPERM (loop is run by another thread), UV_ECANCELED (called in the teardown of the actor whose loop it
 * is; loop NULL: of the calling actor) or UVA_EFORKED (loop was inherited through fork()); on error nothing
 * is left behind. */
UVA_EXTERN int uva_tpool_init(uva_tpool_t *pool, uv_loop_t *loop, const uva_tpool_options_t *options);

/* Submits a task: fn(ctx, arg, &result) will run on a worker. arg (may be NULL) is consumed on success: it
 * travels to the worker as it is, moved buffers and all, without a copy. options may be NULL. done_cb runs
 * once the task completes; it may be NULL only on a pool without a loop (then uva_tpool_wait() collects the
 * outcome). The task's memory must stay valid, untouched, until then: it cannot be submitted again before
 * (as with uv_queue_work(), that is not detected). Never waits for a worker; a worker that has to be
 * started and cannot be does not fail the submit: the task completes with the start's error (UV_EAGAIN,
 * UV_ENOMEM, UV_EMFILE...). Returns 0, UV_EINVAL (NULL pool, task or fn; an option out of range; a NULL
 * done_cb on a pool with a loop), a UVA_E* code or UV_ENOMEM (arg is malformed, or an earlier pack into it
 * failed), UV_EAGAIN (max_queue tasks are waiting, and only then: see uva_tpool_on_room()), UV_EPIPE (the
 * pool is closing), UV_EBADF (closed), UV_EPERM (not the pool's loop thread) or UVA_EFORKED; on error arg
 * and the task stay the caller's, unchanged. */
UVA_EXTERN int uva_tpool_submit(uva_tpool_t *pool, uva_task_t *task, uva_tpool_fn fn, uva_msg_t *arg,
                                const uva_task_options_t *options, uva_task_cb done_cb);

/* Cancels a task submitted and not yet completed: it completes with UV_ECANCELED, with its callback on the
 * next turn of the pool's loop (never inside this call). A queued task is removed and never runs; a
 * running one sees uva_tpool_ctx_cancelled() become 1, and its result is discarded. Returns 0, UV_EINVAL
 * (NULL, or a task never submitted), UV_EALREADY (completed, or its completion is already due), UV_EPERM or
 * UVA_EFORKED. */
UVA_EXTERN int uva_tpool_cancel(uva_task_t *task);

/* For a task submitted without a callback to a pool without a loop: waits up to timeout_ms for it to
 * complete, by the library's wait rule (UVA_WAIT_FOREVER: no limit; 0: only looks; a timeout past what the
 * clock can count is none), then hands over its outcome: *status, *result (the result message, the
 * caller's; NULL unless status is 0) and *text (the failure's text, a malloc()ed copy for the caller to
 * free(); NULL on success or if it could not be copied). Any of the three may be NULL (what is not taken is
 * freed). Afterwards the task's memory is the caller's. Any thread but the pool's dispatcher, which completes
 * the tasks and so may only look (timeout_ms 0) from a callback; one at a time per task: while a thread
 * waits for it, another's wait is told UV_EBUSY at once, as a second uva_actor_join() is. Returns 0,
 * UV_ETIMEDOUT (not completed yet: wait again, or cancel it and wait), UV_ECANCELED (on the thread of an
 * actor that is ending, a wait that would have to wait, whatever its timeout), UV_EBUSY (another thread is
 * waiting for it now), UV_EPERM (timeout_ms not 0, on the dispatcher thread: in one of the pool's
 * callbacks), UV_EINVAL (NULL, a task with a callback, on a pool with a loop, or not submitted), UV_EALREADY
 * (collected before, by a wait or by the end of the actor that made the pool) or UVA_EFORKED. */
UVA_EXTERN int uva_tpool_wait(uva_task_t *task, int64_t timeout_ms, int *status, uva_msg_t **result,
                              char **text);

/* After a submit returned UV_EAGAIN: asks for room_cb to run once, on the pool's loop (the dispatcher
 * thread for a pool without one), when a submit would succeed; on the next turn if it would already. It
 * runs only when there is room at that moment, never from inside this call. A close forgets it. Returns 0,
 * UV_EINVAL (NULL), UV_EPIPE (closing), UV_EBADF, UV_EPERM or UVA_EFORKED. */
UVA_EXTERN int uva_tpool_on_room(uva_tpool_t *pool, uva_tpool_room_cb room_cb);

/* Fills *stats (see uva_tpool_stats_t). Counters are exact. Returns 0, UV_EINVAL, UV_EBADF, UV_EPERM or
 * UVA_EFORKED. */
UVA_EXTERN int uva_tpool_stats(uva_tpool_t *pool, uva_tpool_stats_t *stats);

/* Zeroes the counters and the summaries (not busy_ns and thread_ns, nor the gauges). Returns 0,
 * UV_EINVAL, UV_EBADF, UV_EPERM or UVA_EFORKED. */
UVA_EXTERN int uva_tpool_stats_reset(uva_tpool_t *pool);

/* The share of worker thread time spent in task functions between two snapshots (0..1), from their
 * busy_ns and thread_ns; 0 when no worker lived between them. */
UVA_EXTERN double uva_tpool_utilization(const uva_tpool_stats_t *before, const uva_tpool_stats_t *after);

/* Closes the pool; from now on a submit gets UV_EPIPE. flags 0 drains: queued tasks still run. With
 * UVA_TPOOL_CLOSE_CANCEL every task not completed completes with UV_ECANCELED (running ones see their flag).
 * Then the workers end (thread_exit runs on each), their threads are joined, and close_cb (may be NULL)
 * runs on the pool's loop after every task's callback. A pool without a loop takes close_cb NULL and is
 * finished with uva_tpool_join(). Close may be called from a callback of the pool's, and a draining close
 * may be made cancelling by a second call. Returns 0, UV_EINVAL (NULL, unknown flags, a close_cb on a pool
 * without a loop), UV_EALREADY (closing already, with the same flags), UV_EBADF (closed), UV_EPERM or
 * UVA_EFORKED. */
UVA_EXTERN int uva_tpool_close(uva_tpool_t *pool, unsigned int flags, uva_tpool_close_cb close_cb);

/* For a pool without a loop, after uva_tpool_close(): waits up to timeout_ms for its threads to end, by the
 * library's wait rule (UVA_WAIT_FOREVER: no limit; 0: only looks), joins them and frees the pool's state;
 * the handle's memory is then the caller's. Any thread but the pool's own (the dispatcher its callbacks run
 * on, the workers its task functions run on), where it would wait for itself; one at a time: while a
 * thread joins, another's join is told UV_EBUSY at once, as a second uva_actor_join() is. Returns 0,
 * UV_ETIMEDOUT (still closing: join again), UV_ECANCELED (on the thread of an actor that is ending, a join
 * that would have to wait), UV_EBUSY (another thread is joining it now, or the end of the actor that made
 * it is reaping it, or a task submitted without a callback has not been collected by uva_tpool_wait()),
 * UV_EINVAL (NULL, a pool with a loop, not closed), UV_EPERM (on the dispatcher thread or a worker: in a
 * callback or a task function of the pool's), UV_EALREADY (joined, or reaped by the end of the actor that
 * made it: see uva_tpool_init()) or UVA_EFORKED. */
UVA_EXTERN int uva_tpool_join(uva_tpool_t *pool, int64_t timeout_ms);

/* Inside a task. These are for the task function, or its asynchronous continuation, on its worker's thread;
 * ctx is valid until the task completes on the worker (the function returned, or uva_tpool_ctx_done()). */

/* 1 once the task was cancelled, timed out, or its pool is closing with UVA_TPOOL_CLOSE_CANCEL: one atomic
 * load, for busy code to stop early. Any thread; 0 for NULL. */
UVA_EXTERN int uva_tpool_ctx_cancelled(const uva_tpool_ctx_t *ctx);

/* The worker's loop, for asynchronous tasks (timers, uv_fs_*, ports), and the state its thread_init hook
 * set. NULL for NULL. */
UVA_EXTERN uv_loop_t *uva_tpool_ctx_loop(const uva_tpool_ctx_t *ctx);
UVA_EXTERN void *uva_tpool_ctx_state(const uva_tpool_ctx_t *ctx);

/* The worker actor itself: uva_self_fail() or uva_self_exit() on it ends the worker, and the pool replaces
 * it. The task that ends it completes once it has ended, with its own outcome if it exited with code 0 and
 * reported no error, else with the exit code (UV_ECONNRESET for 0) and the error's text; every other task
 * it held completes with UV_ECONNRESET. NULL for NULL. */
UVA_EXTERN uva_self_t *uva_tpool_ctx_self(const uva_tpool_ctx_t *ctx);

/* Sets the text that goes with the task's failure (copied; the last call counts) and returns status, so a
 * task function can end with return uva_tpool_ctx_fail(ctx, UV_EINVAL, "bad input"). A text that cannot be
 * copied is replaced by uva_strerror(status). Returns status, or UV_EINVAL for a NULL ctx or text, or a
 * status that is not negative (nothing is set then). */
UVA_EXTERN int uva_tpool_ctx_fail(uva_tpool_ctx_t *ctx, int status, const char *text);

/* Completes a task whose function returned UVA_TPOOL_PENDING: status 0 with result (consumed; may be
 * NULL) or a negative error code (result freed). On the worker's thread, once. Returns 0, UV_EINVAL (NULL,
 * a status that is positive, or a task that is not pending) or UV_EPERM (another thread); on error result
 * stays the caller's. */
UVA_EXTERN int uva_tpool_ctx_done(uva_tpool_ctx_t *ctx, int status, uva_msg_t *result);

#ifdef __cplusplus
}
#endif
#endif /* UVACTOR_TPOOL_H */
