/* uvactor recovery: monitors, names and supervisors (docs/supervision.md).
 *
 * Actors fail: they return an error code, call uva_self_fail(), are terminated, or cannot start. This header
 * is what a program builds on to notice and recover, Erlang/OTP's way, in C terms:
 *
 *   Monitors   any loop may watch any actor it can name by id (uva_actor_id()): its callback runs once, after
 *              the actor's end, with the exit code and error text. Links are an actor option (actor.h).
 *   Names      a process-wide registry: an actor registers a name, and any loop opens a new channel to
 *              whoever holds the name now. A restarted actor registers again, so callers reach the new one.
 *   Supervisors own child specifications and restart children by a strategy (one_for_one, one_for_all,
 *              rest_for_one), within an intensity (at most R restarts in P ms) and with a backoff, start them
 *              in order and stop them in reverse order. A supervisor may supervise supervisors: a tree.
 *
 * What C cannot do: a segfault, an abort() or a stack overflow in one actor ends the whole process, every
 * other actor with it; an actor busy in C code, or blocked in a system call, cannot be stopped from outside.
 * Supervision recovers from the failures an actor reports or can be stopped for. Isolation from crashes needs
 * separate processes (the remote transport): one actor system per process, restarted from outside.
 *
 * Handles are the caller's memory, known by their address (never copy or move one), with UVA_HANDLE_FIELDS
 * first; each belongs to the loop it was started on, and every call on it but the documented ones is made on
 * that loop's thread (UV_EPERM otherwise). A monitor, name or supervisor on an actor's loop is stopped by the
 * actor's teardown, without a callback (an open request gets its callback, with UV_ECANCELED); its memory
 * must stay valid until the actor ends.
 */
#ifndef UVACTOR_SUPERVISE_H
#define UVACTOR_SUPERVISE_H

#include "actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Monitors. Any loop may watch any actor of the process by its id (uva_actor_id(), uva_self_id()) and hears
 * once, after the actor's end, how it ended. */

/* A monitor (its fields: struct uva_monitor_s). Caller-allocated: keep it valid, never copy or move it, while
 * it is active (from uva_monitor_start() until its callback ran or uva_monitor_stop() returned). */
typedef struct uva_monitor_s uva_monitor_t;

/* The watched actor ended (exit_code as its parent's exit event says it) or had ended, or never was, when the
 * monitor started (UVA_EXIT_NOPROC). error_text is the text the actor gave uva_self_fail() (or the cause of
 * UVA_EXIT_FAILED), or NULL; borrowed for the call. The monitor is done: its memory is the caller's again,
 * and the callback may free it or start it again. */
typedef void (*uva_monitor_cb)(uva_monitor_t *monitor, int exit_code, const char *error_text);

/* Private: what a monitor holds after UVA_HANDLE_FIELDS. */
#define UVA_MONITOR_PRIVATE_FIELDS                                                       \
  uva_port_t signal_;  /* started on loop: its close is the actor's end */               \
  uva_port_t trigger_; /* the other end: the actor's record closes it */                 \
  uva_monitor_cb down_cb_;                                                               \
  struct uva__record_s *record_; /* what it watches; NULL for an actor that had ended */ \
  uva_monitor_t *next_;          /* in the record's list of monitors, under its lock */  \
  uva_monitor_t *prev_;

/* A monitor. Public: data. Read-only: loop (where its callback runs; NULL when it is not active) and type
 * (UVA_MONITOR). */
struct uva_monitor_s {
  UVA_HANDLE_FIELDS
  UVA_MONITOR_PRIVATE_FIELDS
};

/* Watches the actor actor_id (any actor of the process: uva_actor_id(), uva_self_id()). down_cb runs once,
 * on loop (run by the calling thread), after the actor ended: after its loop and handles were closed and its
 * names released, in no fixed order with its parent's exit event. An actor that has already ended, or an id
 * no actor has, gets the callback at once (on the loop's next turn) with UVA_EXIT_NOPROC. The monitor keeps
 * its loop alive until then, as an active libuv handle does. mon is new memory, or a monitor whose callback
 * ran or that was stopped; starting one that is active is not allowed. Returns 0, UV_EINVAL (NULL mon, loop
 * or down_cb), UV_EPERM (loop is run by another thread), UV_ENOMEM, UV_ECANCELED (called in its actor's
 * teardown) or UVA_EFORKED (loop was inherited through fork()); on error nothing was started. */
UVA_EXTERN int uva_monitor_start(uva_monitor_t *mon, uv_loop_t *loop, uint64_t actor_id,
                                 uva_monitor_cb down_cb);

/* Stops an active monitor: its callback never runs, even if the actor ended meanwhile; the memory is the
 * caller's on return. Thread: the monitor's loop's. Returns 0, UV_EINVAL (NULL, never started), UV_EALREADY
 * (its callback ran, or it was stopped), UV_EPERM (another thread) or UVA_EFORKED (started in the parent of
 * this process). */
UVA_EXTERN int uva_monitor_stop(uva_monitor_t *mon);

/* Actor proxies. An actor that runs elsewhere (on another node: uvactor/remote.h's remote actors) has an id
 * in this process too, so that monitors watch it as any actor: its proxy, made and ended by what knows of
 * the actor (the remote transport), not by the actor's thread. Ids of proxies and of actors never collide.
 */

/* A proxy (opaque): made by uva_actor_proxy_new(), freed by uva_actor_proxy_end(). */
typedef struct uva__record_s uva_actor_proxy_t;

/* A new proxy, with a new id, as if an actor had been spawned: monitors of its id wait for its end.
 * *proxyp gets it; end it once, always. Thread-safe. Returns 0, UV_EINVAL (NULL) or UV_ENOMEM. */
UVA_EXTERN int uva_actor_proxy_new(uva_actor_proxy_t **proxyp);

/* The proxy's id, for uva_monitor_start(); 0 for NULL. Thread-safe. */
UVA_EXTERN uint64_t uva_actor_proxy_id(const uva_actor_proxy_t *proxy);

/* The actor it stands for ended with exit_code (uvactor/remote.h's UVA_EXIT_DISCONNECTED when its node was
 * lost) and error_text (copied; NULL: none; without memory for the copy the monitors get no text): every
 * monitor of its id is told so, as for an actor's end, and the proxy is freed (consumed). NULL is ignored.
 * Thread-safe. */
UVA_EXTERN void uva_actor_proxy_end(uva_actor_proxy_t *proxy, int exit_code, const char *error_text);

/* Names. A process-wide registry: a loop registers a name, and any loop opens a new channel to whoever
 * holds the name now, so that a restarted actor, which registers it again, is reached by the same name. A
 * process made by fork() starts with an empty registry of its own, and the names, monitors and supervisors it
 * inherited refuse every call with UVA_EFORKED (their memory is the child's to free or reuse). */

/* The longest name, in bytes. */
#define UVA_NAME_MAX 255

/* A registered name (its fields: struct uva_name_s). Caller-allocated: keep it valid, never copy or move it,
 * while it is registered (until uva_name_unregister() returned, or its actor ended). */
typedef struct uva_name_s uva_name_t;
/* A request to open a name (its fields: struct uva_name_req_s), as libuv's requests are: caller memory,
 * kept valid and untouched until its callback ran. */
typedef struct uva_name_req_s uva_name_req_t;

/* Someone opened the name: accept the channel with uva_name_accept() during this callback, or refuse it by
 * not accepting (the opener gets UV_ECONNREFUSED). */
typedef void (*uva_name_accept_cb)(uva_name_t *name);

/* The open finished: status 0, and the port given to uva_name_open() is a new port whose peer the holder
 * accepted; or an error (below) and that port is closed, its memory the caller's. The request's memory is
 * the caller's again. */
typedef void (*uva_name_open_cb)(uva_name_req_t *req, int status);

/* Private: what a registration holds after UVA_HANDLE_FIELDS. */
#define UVA_NAME_PRIVATE_FIELDS                                                            \
  uva_port_t inbox_; /* started on loop: the open requests */                              \
  uva_port_t door_;  /* the other end: openers post on it, under the registry's lock */    \
  uva_name_accept_cb accept_cb_;                                                           \
  struct uva__name_pending_s *pending_; /* the request being accepted, during accept_cb */ \
  char *name_;                                                                             \
  uva_name_t *next_; /* in the registry, under its lock */

/* A registered name. Public: data. Read-only: loop (where accept_cb runs) and type (UVA_NAME). */
struct uva_name_s {
  UVA_HANDLE_FIELDS
  UVA_NAME_PRIVATE_FIELDS
};

/* Private: what an open request holds after UVA_HANDLE_FIELDS. */
#define UVA_NAME_REQ_PRIVATE_FIELDS                                             \
  uva_port_t reply_; /* started on loop: the holder's answer, then its close */ \
  uva_port_t *port_; /* the caller's, given on success */                       \
  uva_name_open_cb open_cb_;

/* A request to open a name. Public: data. Read-only: loop (where open_cb runs) and type (UVA_NAME_REQ). */
struct uva_name_req_s {
  UVA_HANDLE_FIELDS
  UVA_NAME_REQ_PRIVATE_FIELDS
};

/* Registers text (1 to UVA_NAME_MAX bytes, copied) for the loop run by the calling thread: opens of the name
 * from now on run accept_cb there, one at a time, in the order they came. The name is released by
 * uva_name_unregister(), or when the actor whose loop it is ends (its teardown, before its exit is reported,
 * so a restarted actor can register it again). It keeps its loop alive, as a listening socket does. Returns
 * 0, UV_EINVAL (NULL name or accept_cb, bad text), UV_EADDRINUSE (someone holds text), UV_EBUSY (name is
 * registered already, under text or another: unregister it first), UV_EPERM (loop is run
 * by another thread), UV_ENOMEM, UV_EMFILE, UV_ECANCELED (called in its actor's teardown) or UVA_EFORKED
 * (loop was inherited through fork()); on error nothing was registered. */
UVA_EXTERN int uva_name_register(uva_name_t *name, uv_loop_t *loop, const char *text,
                                 uva_name_accept_cb accept_cb);

/* During accept_cb: takes the channel the opener asked for. port becomes a new port (start it, or post,
 * transfer or close it as any new port) whose peer is the opener's, and the opener's callback gets 0. At most
 * once per callback. Returns 0, UV_EINVAL (NULL, not registered, or not inside accept_cb with a request to
 * take: none, or taken already), UV_EPERM (another thread) or UVA_EFORKED (registered in the parent of this
 * process). */
UVA_EXTERN int uva_name_accept(uva_name_t *name, uva_port_t *port);

/* Releases the name: requests queued to it are refused (UV_ECONNREFUSED) and accept_cb never runs again; the
 * memory is the caller's on return. Thread: the name's loop's. Returns 0, UV_EINVAL (NULL, not registered),
 * UV_EPERM or UVA_EFORKED (registered in the parent of this process). */
UVA_EXTERN int uva_name_unregister(uva_name_t *name);

/* Asks, from the loop run by the calling thread, for a new channel to whoever holds text now. open_cb runs
 * once, on loop, never before this returns: 0 once the holder accepted (port is then a new port: start it on
 * any loop, or use it without one); UV_ECONNREFUSED when nobody holds the name, or its holder did not accept,
 * or was released or ended before it did; UV_ECANCELED when the calling actor ends first. The lookup is
 * asynchronous so that names held by other processes can be answered the same way. The request keeps its loop
 * alive until then. Returns 0, UV_EINVAL (NULL req, loop, open_cb or port, bad text), UV_EPERM, UV_ENOMEM,
 * UV_EMFILE, UV_ECANCELED (called in its actor's teardown) or UVA_EFORKED (loop was inherited through
 * fork()); on error open_cb never runs and port is no port (its memory is the caller's). */
UVA_EXTERN int uva_name_open(uva_name_req_t *req, uv_loop_t *loop, const char *text, uva_name_open_cb open_cb,
                             uva_port_t *port);

/* As uva_name_open(), for a thread that runs no loop: waits up to timeout_ms milliseconds (UVA_WAIT_FOREVER:
 * no limit; 0: does not wait) for the holder to accept. Do not call it on the holder's own thread: its loop
 * could not run to accept. Returns 0 (port is a new port), UV_EINVAL, UV_ECONNREFUSED, UV_ETIMEDOUT (the
 * holder did not answer in time; if it accepts later, its port finds the channel closed), UV_ECANCELED (on an
 * actor's thread, the actor is ending) or UV_ENOMEM; on error port is no port (its memory is the
 * caller's). */
UVA_EXTERN int uva_name_open_wait(const char *text, int64_t timeout_ms, uva_port_t *port);

/* Supervisors. A supervisor owns child specifications, starts the children in order, restarts them by a
 * strategy within an intensity and with a backoff, and stops them in reverse order. A child may run a
 * supervisor of its own: a tree. */

/* A supervisor (its fields: struct uva_supervisor_s). Caller-allocated: keep it valid, never copy or move it,
 * from uva_supervisor_init() until its close callback ran (or its actor ended). */
typedef struct uva_supervisor_s uva_supervisor_t;

/* Which children a child's end restarts. */
typedef enum {
  UVA_ONE_FOR_ONE = 0, /* that child */
  UVA_ONE_FOR_ALL,     /* every child: the others are stopped first, in reverse order */
  UVA_REST_FOR_ONE     /* that child and those added after it: those are stopped first, in reverse order */
} uva_supervisor_strategy;

/* When a child's end calls for a restart. Abnormal: an exit code other than 0 (an error code, a failure,
 * UVA_EXIT_TERMINATED from anyone but the supervisor, UVA_EXIT_LINKED), or a spawn that failed. */
typedef enum {
  UVA_PERMANENT = 0, /* always */
  UVA_TRANSIENT,     /* after an abnormal end */
  UVA_TEMPORARY      /* never: the child is removed when it ends */
} uva_restart_type;

/* What happened, for the event callback. */
typedef enum {
  UVA_SUPERVISOR_STARTED = 1,  /* a child started for the first time */
  UVA_SUPERVISOR_RESTARTED,    /* a child started again; cause, exit_code and error say why */
  UVA_SUPERVISOR_EXITED,       /* a child ended by itself (or a spawn failed: exit_code is its error) */
  UVA_SUPERVISOR_STOPPED,      /* a child the supervisor stopped has ended */
  UVA_SUPERVISOR_STOP_TIMEOUT, /* a child was asked to stop shutdown_ms ago and has not ended: see below */
  UVA_SUPERVISOR_GAVE_UP       /* more restarts than the intensity allows: every child was stopped */
} uva_supervisor_event_type;

/* An event; every pointer is borrowed for the callback. */
typedef struct {
  uva_supervisor_event_type type;
  const char *child;     /* the child's id; NULL for GAVE_UP */
  uva_actor_t *actor;    /* STARTED, RESTARTED: the new instance (post on uva_actor_port() until it ends);
                            STOP_TIMEOUT: the one that does not stop; else NULL */
  uint64_t actor_id;     /* the instance the event is about */
  int exit_code;         /* EXITED, STOPPED: how it ended; RESTARTED, GAVE_UP: how the cause ended */
  const char *error;     /* the error text that goes with exit_code, or NULL */
  const char *cause;     /* RESTARTED, GAVE_UP: the id of the child whose end caused it */
  unsigned int restarts; /* RESTARTED: this child's restarts so far, this one included */
} uva_supervisor_event_t;

/* An event of the supervisor's, on its loop. The callback may call the supervisor's API (add, close) and,
 * on an actor, uva_self_exit() or uva_self_fail(). */
typedef void (*uva_supervisor_event_cb)(uva_supervisor_t *sup, const uva_supervisor_event_t *event);
/* The supervisor is closed: its memory is the caller's again. */
typedef void (*uva_supervisor_close_cb)(uva_supervisor_t *sup);

/* uva_supervisor_options_t.backoff_min_ms: restart at once, always. */
#define UVA_BACKOFF_OFF (~0u)
/* The most restarts an intensity may allow. */
#define UVA_INTENSITY_MAX 65536

/* Options of uva_supervisor_init(); every field's zero is its default.
 *
 * Intensity: a restart that would be the (intensity + 1)th within period_ms makes the supervisor give up: it
 * stops every child in reverse order and reports UVA_SUPERVISOR_GAVE_UP. Backoff: a child's first restart
 * after it ran at least backoff_max_ms (or its first ever) comes at once; each further one waits
 * backoff_min_ms, then twice that, and so on up to backoff_max_ms, give or take backoff_jitter percent, so
 * that a child failing at its start does not spin a core. */
typedef struct {
  uva_supervisor_strategy strategy;
  unsigned int intensity;           /* 1..UVA_INTENSITY_MAX; 0: 3 */
  unsigned int period_ms;           /* 0: 5000 */
  unsigned int backoff_min_ms;      /* 0: 10; UVA_BACKOFF_OFF: no backoff */
  unsigned int backoff_max_ms;      /* 0: 1000; one below backoff_min_ms counts as backoff_min_ms */
  unsigned int backoff_jitter;      /* 0..100 percent; 0: none */
  uva_supervisor_event_cb event_cb; /* may be NULL */
  void *reserved[4];                /* zero (a nonzero one is refused: UV_EINVAL) */
} uva_supervisor_options_t;

/* The longest child id, in bytes. */
#define UVA_CHILD_ID_MAX 63

/* A child specification, for uva_supervisor_add(): copied, with its options. */
typedef struct {
  const char *id; /* 1..UVA_CHILD_ID_MAX bytes, unique in the supervisor */
  uva_actor_main_cb main_cb;
  const uva_actor_options_t *options; /* may be NULL; as uva_actor_spawn() takes them, but init, error_cb,
                                         exit_cb and UVA_ACTOR_LINK are the supervisor's (they must be zero):
                                         pass what each instance needs through arg. message_cb and online_cb
                                         get the instance's handle, the supervisor's: do not free it */
  uva_restart_type restart;
  unsigned int shutdown_ms; /* how long a stop waits before STOP_TIMEOUT; 0: 5000 */
  void *reserved[4];        /* zero (a nonzero one is refused: UV_EINVAL) */
} uva_child_spec_t;

/* Private: what a supervisor holds after UVA_HANDLE_FIELDS. */
#define UVA_SUPERVISOR_PRIVATE_FIELDS struct uva__supervisor_s *impl_;

/* A supervisor. Public: data. Read-only: loop (where it runs its children and its callbacks) and type
 * (UVA_SUPERVISOR). */
struct uva_supervisor_s {
  UVA_HANDLE_FIELDS
  UVA_SUPERVISOR_PRIVATE_FIELDS
};

/* Makes a supervisor on loop, run by the calling thread (the supervisor's thread: an actor's, or main's). No
 * child runs before uva_supervisor_start(). options may be NULL. On an actor's loop, the supervisor ends with
 * the actor: its teardown terminates the children all at once (not in reverse order), with no event, and
 * frees the supervisor (a close asked before still gets its callback); for an ordered stop, close it first.
 * Returns 0, UV_EINVAL (NULL sup or loop, an option out of range, a nonzero reserved slot), UV_EPERM (loop
 * is run by another thread), UV_ENOMEM, UV_EMFILE, UV_ECANCELED (called in its actor's teardown) or
 * UVA_EFORKED (loop was inherited through fork()). */
UVA_EXTERN int uva_supervisor_init(uva_supervisor_t *sup, uv_loop_t *loop,
                                   const uva_supervisor_options_t *options);

/* Adds a child after the others (it starts after them and stops before them); once the supervisor is
 * started, it starts now. A child that cannot be spawned is handled as one that ended at once (EXITED with
 * the spawn's error, then its restart type decides). Thread: the supervisor's. Returns 0, UV_EINVAL (NULL, an
 * invalid spec: see uva_child_spec_t and uva_actor_spawn(); a nonzero reserved slot), UV_EEXIST (a child has
 * that id), UV_ECANCELED (closing, or gave up), UV_EPERM, UV_ENOMEM or UVA_EFORKED (made in the parent of
 * this process). */
UVA_EXTERN int uva_supervisor_add(uva_supervisor_t *sup, const uva_child_spec_t *spec);

/* Starts every child added, in order (STARTED events). Thread: the supervisor's. Returns 0, UV_EINVAL (NULL,
 * never initialized), UV_EALREADY (started before), UV_ECANCELED (closing, or gave up), UV_EPERM or
 * UVA_EFORKED. */
UVA_EXTERN int uva_supervisor_start(uva_supervisor_t *sup);

/* The running instance of child id (borrowed: valid until its end; post on uva_actor_port(), terminate it),
 * or NULL (no such child, or it is not running, or the supervisor was inherited through fork()). Thread: the
 * supervisor's. */
UVA_EXTERN uva_actor_t *uva_supervisor_child(uva_supervisor_t *sup, const char *id);

/* Closes the supervisor: no child is restarted from now on; the running ones are stopped in reverse order,
 * each as on any stop (uva_actor_terminate(), then up to its shutdown_ms, STOPPED events); then close_cb
 * (may be NULL) runs and the memory is the caller's. C cannot kill a thread: a child that does not stop
 * (busy in C code, blocked in a system call) gets STOP_TIMEOUT and is waited for, however long; a program
 * that cannot wait may abort() in the event callback and let something outside the process restart it.
 * Thread: the supervisor's. Returns 0, UV_EINVAL (NULL, never initialized), UV_EALREADY (closing), UV_EPERM
 * or UVA_EFORKED (made in the parent of this process). */
UVA_EXTERN int uva_supervisor_close(uva_supervisor_t *sup, uva_supervisor_close_cb close_cb);

#ifdef __cplusplus
}
#endif
#endif /* UVACTOR_SUPERVISE_H */
