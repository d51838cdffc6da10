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
 * loop (its error event says why), UVA_EXIT_LINKED when a child it was linked to ended abnormally (see
 * UVA_ACTOR_LINK), and UVA_EXIT_NOPROC, which only a monitor reports (uvactor/supervise.h): the actor had
 * ended, or never was, when the monitor started. A program's own codes should be 0 or positive.
 *
 * Every actor has an id (uva_actor_id(), uva_self_id()): a number unique in the process and never reused, so
 * that any thread can name an actor whose handle it does not hold (to monitor it).
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

/* uvactor's own exit codes (a program's should be 0 or positive). UVA_EXIT_TERMINATED: the actor was
 * stopped by uva_actor_terminate() before it ended, whatever main returned or uva_self_exit() named.
 * UVA_EXIT_FAILED: the actor's thread could not set up its loop; main never ran, and the error event says
 * why. UVA_EXIT_NOPROC: never an actor's own; what a monitor reports for an actor that had ended, or never
 * was, when it started (supervise.h). UVA_EXIT_LINKED: a child the actor spawned with UVA_ACTOR_LINK ended
 * abnormally, and the actor does not trap exits. */
#define UVA_EXIT_TERMINATED (-1)
#define UVA_EXIT_FAILED (-2)
#define UVA_EXIT_NOPROC (-3)
#define UVA_EXIT_LINKED (-4)

/* uva_actor_options_t.flags: the actor is linked to its parent. When it ends abnormally (an exit code other
 * than 0, a failure, a terminate that did not come from the parent's own thread), the parent, if it is an
 * actor, ends too, with UVA_EXIT_LINKED, unless it traps exits (uva_self_trap_exits()): then it only gets the
 * exit event, as always. A parent that is not an actor (a plain main) is never ended by the library: it gets
 * the exit event. */
#define UVA_ACTOR_LINK 1u

/* uva_actor_options_t.flags: the actor runs on a thread made for it, which ends with it, rather than on a
 * thread kept from an actor that ended (see uva_actor_set_reuse()). For an actor that changes its thread in
 * ways a later actor must not inherit, or that needs what only a new thread has: its own thread-locals
 * (__thread, thread_local, pthread keys) at their initial values, CPU affinity, scheduling policy and
 * priority, alternate signal stack, locale (uselocale()) and floating-point environment as a new thread
 * made by the spawner would have them. */
#define UVA_ACTOR_NEW_THREAD 2u

/* uva_actor_options_t.spin_us: the actor's loop never spins (0 there means the default). */
#define UVA_SPIN_OFF (~0u)

/* The smallest stack an actor may ask for. uvactor and libuv use about 20 KiB of it (libuv's poll keeps
 * 12 KiB of events on the stack); the rest is the actor's own. Sanitized builds want 4 MiB or more:
 * ThreadSanitizer and AddressSanitizer keep megabytes of per-thread state in static TLS, which glibc takes
 * from the stack. */
#define UVA_ACTOR_STACK_MIN (64 * 1024)

/* The parent's handle to an actor (its fields: struct uva_actor_s). Caller-allocated: keep it valid, and
 * never copy or move it, until the exit event (or, for a parent that runs no loop, until uva_actor_join()
 * returned 0); then its memory is the caller's again, and the exit callback may free it. */
typedef struct uva_actor_s uva_actor_t;
/* The actor's view of itself, handed to main. Valid until the actor's thread ends: handles on the actor's
 * loop may keep it (in their data) and use it from their callbacks. */
typedef struct uva_self_s uva_self_t;

/* The actor's main function, on the actor's thread: set up handles on uva_self_loop(self) (start
 * uva_self_port(self) to hear the parent) and return; the loop runs after it. It may also do all the work
 * itself and return: with nothing on its loop, the actor then ends. Its return value is the exit code
 * unless uva_self_exit() or uva_self_fail() names another. */
typedef int (*uva_actor_main_cb)(uva_self_t *self);

/* The actor's thread has made its loop and is about to run main (not if it could not: see UVA_EXIT_FAILED).
 * The four events run on the parent's loop, in the order online, messages, error, exit. */
typedef void (*uva_actor_online_cb)(uva_actor_t *actor);
/* A message from the actor; msg is the callback's to free, keep or post on. */
typedef void (*uva_actor_message_cb)(uva_actor_t *actor, uva_msg_t *msg);
/* The actor reported an error; text is borrowed for the duration of the call. */
typedef void (*uva_actor_error_cb)(uva_actor_t *actor, const char *text);
/* The actor ended and its thread is joined; the handle's memory is the caller's again (the callback may
 * free it). Everything the actor posted, and its error, came before. */
typedef void (*uva_actor_exit_cb)(uva_actor_t *actor, int exit_code);

/* Options of uva_actor_spawn(). Zero-initialize it ({0} or designated initializers): every field's zero is
 * its default, and options itself may be NULL. Later versions add options in the reserved space, so the
 * struct's size stays and a program built against this version keeps working. Spawn copies what it needs:
 * the struct may go once spawn returns. name: the system shows its first 15 bytes as the thread's name,
 * uva_self_name() returns it whole. stack_size: libuv rounds it up to whole pages; 0 takes the system's
 * default (often 8 MiB). init: if the actor never takes it, it is freed, with what it carries, when the
 * actor ends. max_messages and max_bytes bound the actor's queue as uva_port_set_limits() does: beyond them
 * a post on uva_actor_port() fails with UV_EAGAIN (UV_E2BIG for one message over max_bytes by itself).
 * spin_us: at most 1000000, or UVA_SPIN_OFF. The callbacks run on the parent's loop; a parent without a
 * loop leaves them all NULL. flags: UVA_ACTOR_LINK, or 0. */
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
  unsigned int flags; /* UVA_ACTOR_LINK, UVA_ACTOR_NEW_THREAD, or 0 */
  void *reserved[7];  /* zero */
} uva_actor_options_t;

/* Private: what an actor handle holds after UVA_HANDLE_FIELDS (whose reserved_ keeps the actor's id in its
 * first 8 bytes: actors/spawn.c). */
#define UVA_ACTOR_PRIVATE_FIELDS                                              \
  uva_port_t port_;    /* data, to the actor */                               \
  uva_port_t control_; /* the actor's online and error events, and its end */ \
  struct uva__actor_shared_s *shared_;                                        \
  uva_actor_online_cb online_cb_;                                             \
  uva_actor_message_cb message_cb_;                                           \
  uva_actor_error_cb error_cb_;                                               \
  uva_actor_exit_cb exit_cb_;                                                 \
  char *error_;                                                               \
  int exit_code_;                                                             \
  struct uva__hold_s hold_; /* a loop-less actor's, on the list of the actor that spawned it */

/* An actor, seen from its parent. Public: data. Read-only: loop (the parent's loop its events run on, NULL
 * for a parent without one) and type (UVA_ACTOR). */
struct uva_actor_s {
  UVA_HANDLE_FIELDS
  UVA_ACTOR_PRIVATE_FIELDS
};

/* Starts an actor: a thread (new, or kept from an actor that ended: uva_actor_set_reuse()) running main_cb
 * with its own loop. loop is the parent's loop, run by the calling thread, on which the events are
 * delivered; NULL for a parent that runs no loop (then the callbacks must be NULL; use uva_actor_join() and
 * uva_port_receive_wait() on uva_actor_port()). options may be NULL. On success options->init is consumed.
 * Returns 0, UV_EINVAL (NULL actor or main_cb, a callback without a loop, a name of 64 bytes or more, a
 * stack_size under UVA_ACTOR_STACK_MIN, or a spin_us over 1000000 that is not UVA_SPIN_OFF, a stack_size
 * within 64 KiB of SIZE_MAX, or flags other than UVA_ACTOR_LINK and UVA_ACTOR_NEW_THREAD), UV_EAGAIN (no
 * thread could be made: the system's limit on threads, or a stack it cannot allocate), UV_ENOMEM, UV_EPERM
 * (loop is run by another thread), UV_ECANCELED (called on an
 * actor's thread in its teardown, from a callback its teardown runs: its end could not end the new actor)
 * or UVA_EFORKED (loop was inherited through fork()); on error init stays the caller's and nothing is left
 * behind (a loop that got its first port's wakeup from this call closes it on its next run, like any
 * closed libuv handle: run it once more before uv_loop_close()). */
UVA_EXTERN int uva_actor_spawn(uva_actor_t *actor, uv_loop_t *loop, uva_actor_main_cb main_cb,
                               const uva_actor_options_t *options);

/* The actor's id: unique in the process and never reused (a stale id names nothing, never another actor),
 * given at spawn; any thread can name the actor by it (uva_monitor_start()). The handle keeps it after the
 * exit, until it is spawned again. 0 for a handle never spawned, or whose first spawn failed (a failed spawn
 * changes nothing: a handle spawned before keeps its last id). Any thread. */
UVA_EXTERN uint64_t uva_actor_id(const uva_actor_t *actor);

/* The parent's port to the actor: post on it with uva_port_post() from any thread; messages queue until the
 * actor starts uva_self_port(). A loop-less parent receives the actor's messages from it with
 * uva_port_receive_wait(), which returns UV_EPIPE once the actor ended and everything was read. The parent
 * may close it (uva_port_close()): the actor's port then gets its close, as with any channel, and the exit
 * event still comes. Borrowed, valid until the actor's exit; it cannot be transferred (uva_msg_pack_port():
 * UV_EINVAL). NULL for an actor not spawned (a failed spawn included), and after its exit event or join. */
UVA_EXTERN uva_port_t *uva_actor_port(uva_actor_t *actor);

/* Asks the actor to stop, from any thread: its loop stops at its next turn, every handle on it is closed,
 * the messages queued to it are freed with what they carry (a moved buffer through its free function, a
 * port by closing it), and the parent gets exit with UVA_EXIT_TERMINATED (unless the actor ended first).
 * Before main ran, main is skipped (online still comes). Code busy outside the loop is not interrupted: it
 * should check uva_self_should_stop(). A wait of the library's the actor is blocked in
 * (uva_port_post_wait(), uva_port_receive_wait(), the broadcast waits, uva_actor_join()) returns
 * UV_ECANCELED, and so does every later one on its thread that would have to wait, whatever its timeout.
 * Returns 0, UV_EINVAL (NULL, or not spawned), UV_EALREADY (asked before, or already ended) or UVA_EFORKED (a
 * handle inherited through fork(): the actor has no thread in this process). An actor whose own parent ends
 * is terminated too: its parent's teardown asks it to stop before joining it; its exit callback still runs,
 * on that ending loop, with UVA_EXIT_TERMINATED, or with its own code if it ended first (one that only
 * listens to its parent ends by itself when the parent's side closes) (Node emits no exit for a worker's own
 * workers; C needs to know the handle's memory is free). An actor spawned without a loop by an actor that
 * ends without joining it is terminated and joined by that end (join it afterwards: UV_EALREADY).
 *
 * Teardown order (on terminate, uva_self_exit(), or when the loop runs out of work): the actor's ports
 * close first, each running its close callback; then every other handle is closed, without callbacks;
 * requests already running on the pool (uv_fs_*, uv_queue_work, uv_getaddrinfo) still complete and their
 * callbacks run after that. So state a request's callback uses must not be freed in a port's close
 * callback. A callback the teardown runs cannot start a port or member on the ending loop, or spawn an
 * actor (UV_ECANCELED). Last, the new ports and broadcast members that belong to the actor's thread (port.h:
 * the thread that used each last) are closed, as Node closes every port a worker holds: their peers see the
 * close; and the actors it spawned without a loop and did not join are terminated and joined (and the task
 * pools it made without a loop and did not join are closed cancelling and joined: see uva_tpool_init()). */
UVA_EXTERN int uva_actor_terminate(uva_actor_t *actor);

/* For a parent that runs no loop: waits for the actor to end by the wait rule (timeout_ms < 0: as long as
 * it takes; 0: UV_ETIMEDOUT if it still runs; > 0: up to that many milliseconds), joins its thread and
 * stores its exit code in *exit_code (may be NULL). Afterwards the handle's memory is the caller's. Such a
 * parent gets no error event: an error text the actor reported is dropped, and only the exit code says it
 * failed. A wait other than 0 first watches for the end spinning, for up to 50 us, before it sleeps (never
 * with one CPU; docs/actors.md, "Threads are reused"). Returns 0, UV_EINVAL (NULL or not spawned, or the
 * actor was spawned with a loop: its exit
 * callback joins it), UV_ETIMEDOUT (the actor is still running; join again later), UV_EALREADY (already
 * joined), UV_EBUSY (another thread is joining it now: one joins, the other is told), UV_ECANCELED (called on
 * an actor's thread that is ending; the actor it waited for is not joined, and that end joins it) or
 * UVA_EFORKED. */
UVA_EXTERN int uva_actor_join(uva_actor_t *actor, int64_t timeout_ms, int *exit_code);

/* Whether the actor keeps the parent's loop alive (it does until its exit, by default), as Node's
 * worker.ref() and unref(). Both work until the exit event: an unref'd actor's events come only while the
 * loop runs for something else, and a loop with no other work returns from uv_run() without them; to get
 * them, uva_actor_ref() it and run the loop again (uv_loop_close() says UV_EBUSY until the exit event ran).
 * Not counted: one uva_actor_ref() undoes any number of unrefs; the exit event comes once either way.
 * Thread: the parent's loop's. Returns 0, UV_EINVAL (NULL, spawned without a loop, or its exit event has
 * run), UV_EPERM (not the loop's thread) or UVA_EFORKED. */
UVA_EXTERN int uva_actor_ref(uva_actor_t *actor);
UVA_EXTERN int uva_actor_unref(uva_actor_t *actor);
/* 1 if the actor keeps its parent's loop alive, 0 if not (unref'd, spawned without a loop, ended, or asked
 * from another thread than the loop's); Node's worker.hasRef(). */
UVA_EXTERN int uva_actor_has_ref(const uva_actor_t *actor);

/* Inside the actor: these are for the actor's own thread (uva_self_should_stop() for any thread that has
 * self), and self is valid until that thread ends. The getters return NULL for a NULL self. */

/* The actor's own loop: start handles on it in main; they run after main returns. */
UVA_EXTERN uv_loop_t *uva_self_loop(uva_self_t *self);
/* The actor's port to its parent, new: start it to hear the parent, or read it without a loop
 * (uva_port_receive()); a post on it reaches the parent's message callback. Borrowed; it cannot be
 * transferred (uva_msg_pack_port(): UV_EINVAL). */
UVA_EXTERN uva_port_t *uva_self_port(uva_self_t *self);
/* Takes the init message (Node's workerData): the caller's from now; NULL if none, or taken before. */
UVA_EXTERN uva_msg_t *uva_self_init(uva_self_t *self);
/* The options' arg. */
UVA_EXTERN void *uva_self_arg(uva_self_t *self);
/* The options' name, whole, or "" if it had none. */
UVA_EXTERN const char *uva_self_name(uva_self_t *self);

/* The actor's own id, as its parent's uva_actor_id() says; 0 for a NULL self. */
UVA_EXTERN uint64_t uva_self_id(uva_self_t *self);

/* Whether the actor traps exits (on: nonzero), for the children it spawns linked (UVA_ACTOR_LINK): a child
 * that ends abnormally then ends the actor only if it does not trap them. Off by default; it can change at
 * any time and counts when a child's end is reported. Returns 0 or UV_EINVAL (NULL). */
UVA_EXTERN int uva_self_trap_exits(uva_self_t *self, int on);

/* 1 once the actor was asked to stop (terminate, uva_self_exit() or uva_self_fail()), else 0 (0 for NULL):
 * one atomic load, cheap enough for the inner loop of a long computation. Any thread that has self. */
UVA_EXTERN int uva_self_should_stop(uva_self_t *self);

/* Ends the actor with exit_code: its loop stops at its next turn (called from main, it never runs) and its
 * handles are closed, as on terminate; messages the actor posted before are still delivered, before the
 * exit event. A wait of the library's on its thread returns UV_ECANCELED from now on. The first call's code
 * counts, unless a terminate comes before the actor's thread ends (then UVA_EXIT_TERMINATED). Returns 0 or
 * UV_EINVAL (NULL). */
UVA_EXTERN int uva_self_exit(uva_self_t *self, int exit_code);

/* The most bytes of an error text that reach the parent; uva_self_fail() cuts a longer text there (before a
 * UTF-8 sequence, not inside one). */
#define UVA_FAIL_TEXT_MAX 4096

/* Reports an error to the parent (its error callback gets a copy of text, at most UVA_FAIL_TEXT_MAX bytes
 * of it) and ends the actor as uva_self_exit(self, exit_code) would. The parent sees the error after every
 * message the actor posted and before the exit; only the first error reaches it. Returns 0; UV_ENOMEM when
 * the text could not be sent (the actor still ends, and the parent still gets an error event); UV_EINVAL
 * for a NULL self or text, which does nothing. */
UVA_EXTERN int uva_self_fail(uva_self_t *self, int exit_code, const char *text);

/* uva_actor_set_reuse(): the default number of kept threads (the number of CPUs, at least 4), the most
 * threads that may be kept, and the longest time one may wait for an actor. */
#define UVA_REUSE_DEFAULT (~0u)
#define UVA_REUSE_MAX 1024
#define UVA_REUSE_IDLE_MS_MAX 3600000

/* Threads are reused: when an actor ends, its thread is kept, idle, for the next spawn that asks for the
 * same stack_size (any thread may spawn it), because making and joining a thread costs more than the rest
 * of a spawn. At most max threads are kept (UVA_REUSE_DEFAULT: the number of CPUs, at least 4, which is also
 * the setting before any call), each for at most idle_ms milliseconds without an actor (0: the default,
 * 1000), after which it ends; none is kept in a child after fork(), and those kept are ended and joined at
 * exit(). max 0 turns reuse off: every actor then runs on a thread made for it, as UVA_ACTOR_NEW_THREAD
 * asks for one actor. The new setting applies at once: threads kept beyond max end now (joined before the
 * call returns), and those kept wait by the new idle_ms. An actor on a kept thread gets what a new thread
 * would: its own name and the spawner's signal mask, a loop as empty as a new one (the last actor's, kept
 * only when it proves so, with its descriptors), uvactor's own state of the thread reset; the program's own
 * thread-locals keep what the last actor on that thread left in them (see UVA_ACTOR_NEW_THREAD and
 * docs/actors.md, "Threads are reused"). Thread-safe. Returns 0, or UV_EINVAL (max over UVA_REUSE_MAX and
 * not UVA_REUSE_DEFAULT, or idle_ms over UVA_REUSE_IDLE_MS_MAX; nothing changes). */
UVA_EXTERN int uva_actor_set_reuse(unsigned int max, unsigned int idle_ms);

/* The worker pool: libuv's one process-wide threadpool, which runs uv_fs_*, uv_getaddrinfo and uv_queue_work
 * for every loop in the process, every actor's included. */

/* Sets the pool's size (1..1024 threads) and starts it. Call once, early, before any loop uses the pool:
 * the first thing in main(), before the program starts threads (actors included), since the check looks at
 * the process's threads. Thread-safe: concurrent calls are serialized, and at most one succeeds. Returns 0,
 * UV_EINVAL (size 0 or over 1024; nothing changes), UV_EBUSY when the pool already runs (started by an
 * earlier call or by an earlier use of the pool: any uv_fs_* given a callback, uv_queue_work() or
 * uv_getaddrinfo() on any loop, a library's included; a uv_fs_* without one runs on the calling thread):
 * its size can no longer change; UV_ENOMEM, or what uv_loop_init() or uv_queue_work() returned, or
 * UVA_EFORKED (in a child forked while a thread of the parent was inside uva_pool_init(), and in that
 * child's children: its hold on the environment's lock or on libuv's start of the pool may last for ever
 * there). A forked child's pool is its own, not started until used: there the call sizes and starts it as
 * in a new process. Where the system does not say (no /proc), an earlier use cannot be seen: the call
 * returns 0 even if the pool already ran, with the size it had. */
UVA_EXTERN int uva_pool_init(unsigned int size);

/* The pool's size: what uva_pool_init() set; else what UV_THREADPOOL_SIZE says, read as libuv reads it
 * (0 or not a number makes 1; over 1024, or negative, makes 1024); else libuv's default, 4. Thread-safe. */
UVA_EXTERN unsigned int uva_pool_size(void);

#ifdef __cplusplus
}
#endif
#endif /* UVACTOR_ACTOR_H */
