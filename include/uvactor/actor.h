/* uvactor actors: OS threads that each own a libuv loop, and the worker pool they share.
 *
 * uva_actor_spawn() starts a thread that creates its own uv_loop_t, runs the actor's main function, then runs
 * that loop until nothing keeps it alive. The actor talks to its parent through a channel: the parent posts
 * on uva_actor_port(actor), the actor on uva_self_port(self). The parent sees, on its own loop and in this
 * order: online, the actor's messages, error (if the actor reported one), exit (with a code). Everything the
 * actor posted before it ended is delivered before exit.
 *
 * Exit codes: what main returns, or what the actor passes to uva_self_exit(). Negative codes are uvactor's:
 * UVA_EXIT_TERMINATED after uva_actor_terminate(), UVA_EXIT_FAILED when the actor thread could not set up its
 * loop (its error event says why). A program's own codes should be 0 or positive.
 *
 * C cannot interrupt a function that is busy, so terminate stops the actor's loop at its next turn; long
 * computations should check uva_self_should_stop() (one atomic load) and return.
 */
#ifndef UVACTOR_ACTOR_H
#define UVACTOR_ACTOR_H

#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UVA_EXIT_TERMINATED (-1)
#define UVA_EXIT_FAILED (-2)

/* uva_actor_options_t.spin_us: the actor's loop never spins (0 there means the default). */
#define UVA_SPIN_OFF (~0u)

/* The smallest stack an actor may ask for. uvactor and libuv use about 20 KiB of it (libuv's poll keeps 12
 * KiB of events on the stack); the rest is the actor's own, and sanitizers need more. */
#define UVA_ACTOR_STACK_MIN (64 * 1024)

typedef struct uva_actor_s uva_actor_t;
typedef struct uva_self_s uva_self_t;

/* The actor's main function, on the actor's thread: set up handles on uva_self_loop(self) (start
 * uva_self_port(self) to hear the parent) and return; the loop runs after it. Its return value is the exit
 * code unless uva_self_exit() names another. */
typedef int (*uva_actor_main_cb)(uva_self_t *self);

typedef void (*uva_actor_online_cb)(uva_actor_t *actor);
/* A message from the actor; msg is the callback's to free or keep. */
typedef void (*uva_actor_message_cb)(uva_actor_t *actor, uva_msg_t *msg);
/* The actor reported an error; text is borrowed for the duration of the call. */
typedef void (*uva_actor_error_cb)(uva_actor_t *actor, const char *text);
/* The actor ended and its thread is joined; the handle's memory is the caller's again. */
typedef void (*uva_actor_exit_cb)(uva_actor_t *actor, int exit_code);

/* Options of uva_actor_spawn(). Zero-initialize it ({0} or designated initializers): every field's zero is
 * its default. Later versions add options in the reserved space, so the struct's size stays and a program
 * built against this version keeps working. */
typedef struct {
  const char *name;    /* the actor's name, at most 63 bytes (copied; the system shows the first 15 as
                          the thread's name); may be NULL */
  size_t stack_size;   /* bytes for the actor thread's stack, at least UVA_ACTOR_STACK_MIN; 0: the
                          system default */
  uva_msg_t *init;     /* Node's workerData: consumed on success, uva_self_init() in the actor; may be NULL */
  void *arg;           /* handed to the actor as uva_self_arg(); the caller's */
  size_t max_messages; /* bound on messages waiting for the actor (uva_port_set_limits()); 0: none */
  size_t max_bytes;    /* bound on their bytes; 0: none */
  unsigned int spin_us;            /* the actor's loop spins this long for messages from its parent before it
                                      sleeps, once the actor starts uva_self_port() (uva_port_set_spin()); 0: the
                                      default, UVA_SPIN_DEFAULT_US; UVA_SPIN_OFF: never */
  uva_actor_online_cb online_cb;   /* all four optional; NULL ignores the event */
  uva_actor_message_cb message_cb; /* NULL: the actor's messages are freed */
  uva_actor_error_cb error_cb;
  uva_actor_exit_cb exit_cb;
  void *reserved[8]; /* zero */
} uva_actor_options_t;

/* Private: what an actor handle holds after UVA_HANDLE_FIELDS. */
#define UVA_ACTOR_PRIVATE_FIELDS                                              \
  uva_port_t port_;    /* data, to the actor */                               \
  uva_port_t control_; /* the actor's online and error events, and its end */ \
  struct uva__actor_shared_s *shared_;                                        \
  uva_actor_online_cb online_cb_;                                             \
  uva_actor_message_cb message_cb_;                                           \
  uva_actor_error_cb error_cb_;                                               \
  uva_actor_exit_cb exit_cb_;                                                 \
  char *error_;                                                               \
  int exit_code_;

/* An actor, seen from its parent. Public: data. Read-only: loop (the parent's loop its events run on, NULL
 * for a parent without one) and type (UVA_ACTOR). */
struct uva_actor_s {
  UVA_HANDLE_FIELDS
  UVA_ACTOR_PRIVATE_FIELDS
};

/* Starts an actor: a new thread running main with its own loop. loop is the parent's loop, run by the calling
 * thread, on which the events are delivered; NULL for a parent that runs no loop (then the callbacks must be
 * NULL; use uva_actor_join() and uva_port_receive_wait() on uva_actor_port()). options may be NULL. On
 * success options->init is consumed. Returns 0, UV_EINVAL (also for a name of 64 bytes or more, or a
 * stack_size under UVA_ACTOR_STACK_MIN), UV_EAGAIN (no thread could be made), UV_ENOMEM or
 * UV_EPERM (loop is run by another thread) or UV_EMFILE (no descriptor for a wakeup); on error init stays
 * the caller's and nothing is left behind (a loop that got its first port's wakeup from this call closes
 * it on its next run, like any closed libuv handle). */
UVA_EXTERN int uva_actor_spawn(uva_actor_t *actor, uv_loop_t *loop, uva_actor_main_cb main_cb,
                               const uva_actor_options_t *options);

/* The parent's port to the actor: post on it with uva_port_post() from any thread; with a loop-less parent,
 * receive from it with uva_port_receive_wait(). The parent may close it (uva_port_close()): the actor's
 * port then gets its close, as with any channel, and the exit event still comes. Borrowed, valid until the
 * actor's exit; it cannot be transferred. NULL for an actor not spawned. */
UVA_EXTERN uva_port_t *uva_actor_port(uva_actor_t *actor);

/* Asks the actor to stop, from any thread: its loop stops at its next turn, every handle on it is closed, the
 * messages queued to it are freed, and the parent gets exit with UVA_EXIT_TERMINATED (unless the actor ended
 * first). A wait of the library's the actor is blocked in (uva_port_post_wait(), uva_port_receive_wait(), the
 * broadcast waits, uva_actor_join()) returns UV_ECANCELED, and so does every later one on its thread.
 * Returns 0, UV_EINVAL, UV_EALREADY (asked before, or already ended) or UVA_EFORKED (a handle inherited
 * through fork()). An actor whose own parent ends is terminated too: its parent's teardown asks it to stop
 * before joining it; its exit callback still runs, on that ending loop, with UVA_EXIT_TERMINATED (Node emits
 * no exit for a worker's own workers; C needs to know the handle's memory is free).
 *
 * Teardown order (on terminate, uva_self_exit(), or when the loop runs out of work): the actor's ports close
 * first, each running its close callback; then every other handle is closed, without callbacks; requests
 * already running on the pool (uv_fs_*, uv_queue_work, uv_getaddrinfo) still complete and their callbacks
 * run after that. So state a request's callback uses must not be freed in a port's close callback. Last, the
 * ports and broadcast members the actor's thread made or took and never started, transferred or closed are
 * closed, as Node closes every port a worker holds: their peers see the close. */
UVA_EXTERN int uva_actor_terminate(uva_actor_t *actor);

/* For a parent that runs no loop: waits up to timeout_ms (UVA_WAIT_FOREVER: no limit; 0: does not wait) for
 * the actor to end, joins its thread and stores its exit code in *exit_code (may be NULL). Afterwards the
 * handle's memory is the caller's. Returns 0, UV_EINVAL (NULL, or the actor was spawned with a loop: its exit
 * callback joins it), UV_ETIMEDOUT (the actor is still running; join again later), UV_EALREADY (already
 * joined), UV_ECANCELED (called on an actor's thread that is ending; the actor it waited for is not joined)
 * or UVA_EFORKED. */
UVA_EXTERN int uva_actor_join(uva_actor_t *actor, int64_t timeout_ms, int *exit_code);

/* Whether the actor keeps the parent's loop alive (it does until its exit, by default), as Node's
 * worker.ref() and unref(). Both work until the exit event: an unref'd actor's events come only while the
 * loop runs for something else, and a loop with no other work returns from uv_run() without them; to get
 * them, uva_actor_ref() it and run the loop again (uv_loop_close() says UV_EBUSY until the exit event ran).
 * Thread: the parent's loop's. Returns 0, UV_EINVAL (NULL, spawned without a loop, or its exit event has
 * run) or UV_EPERM (not the loop's thread). */
UVA_EXTERN int uva_actor_ref(uva_actor_t *actor);
UVA_EXTERN int uva_actor_unref(uva_actor_t *actor);
/* 1 if the actor keeps its parent's loop alive, 0 if not (unref'd, spawned without a loop, or ended);
 * Node's worker.hasRef(). Thread: the parent's loop's. */
UVA_EXTERN int uva_actor_has_ref(const uva_actor_t *actor);

/* Inside the actor, on its thread; self is valid until the actor's thread ends. */

/* The actor's own loop. */
UVA_EXTERN uv_loop_t *uva_self_loop(uva_self_t *self);
/* The actor's port to its parent: new (start it to hear the parent); it cannot be transferred. Borrowed. */
UVA_EXTERN uva_port_t *uva_self_port(uva_self_t *self);
/* Takes the init message (Node's workerData): the caller's from now; NULL if none, or taken before. */
UVA_EXTERN uva_msg_t *uva_self_init(uva_self_t *self);
/* The options' arg. */
UVA_EXTERN void *uva_self_arg(uva_self_t *self);
/* The options' name, or "" (NULL for a NULL self, as are the other uva_self_* getters). */
UVA_EXTERN const char *uva_self_name(uva_self_t *self);

/* 1 once the actor was asked to stop (terminate, or uva_self_exit()): one atomic load, for busy code. Any
 * thread that has self. */
UVA_EXTERN int uva_self_should_stop(uva_self_t *self);

/* Ends the actor with exit_code: its loop stops at its next turn and its handles are closed, as on
 * terminate; a wait of the library's on its thread returns UV_ECANCELED from now on. The first call's code
 * counts. Returns 0 or UV_EINVAL. */
UVA_EXTERN int uva_self_exit(uva_self_t *self, int exit_code);

/* The most bytes of an error text that reach the parent; uva_self_fail() cuts a longer text there (before a
 * UTF-8 sequence, not inside one). */
#define UVA_FAIL_TEXT_MAX 4096

/* Reports an error to the parent (its error callback gets a copy of text, at most UVA_FAIL_TEXT_MAX bytes
 * of it) and ends the actor as uva_self_exit(self, exit_code) would. The parent sees the error before the
 * exit. Returns 0; UV_ENOMEM when the text could not be sent (the actor still ends, and the parent still
 * gets an error event); UV_EINVAL for a NULL self or text, which does nothing. */
UVA_EXTERN int uva_self_fail(uva_self_t *self, int exit_code, const char *text);

/* The worker pool: libuv's one process-wide threadpool, which runs uv_fs_*, uv_getaddrinfo and uv_queue_work
 * for every loop in the process, every actor's included. */

/* Sets the pool's size (1..1024 threads) and starts it. Call once, early, before any loop uses the pool.
 * Returns 0, UV_EINVAL, or UV_EBUSY when the pool already runs (started by an earlier call or by an earlier
 * use of the pool): its size can no longer change. */
UVA_EXTERN int uva_pool_init(unsigned int size);

/* The pool's size: what uva_pool_init() set, else what UV_THREADPOOL_SIZE says, else libuv's default (4). */
UVA_EXTERN unsigned int uva_pool_size(void);

#ifdef __cplusplus
}
#endif
#endif /* UVACTOR_ACTOR_H */
